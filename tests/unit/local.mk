# Unit tests: one cmocka group per binary (cmocka 1.1.5 mixes up TAP plans
# with two), each built straight from the module sources it tests, so a unit
# test does not wait for the whole library to build.

unit_test_cppflags = $(libkbus_la_CPPFLAGS) $(CMOCKA_CFLAGS)
unit_test_ldadd = $(CMOCKA_LIBS) $(LIBCONFIG_LIBS) $(PROTOBUF_C_LIBS) -lm

check_PROGRAMS += config_test
TESTS += config_test
config_test_SOURCES = tests/unit/config_test.c framework/config.c \
	framework/alloc.c framework/log.c framework/status.c
config_test_CPPFLAGS = $(unit_test_cppflags)
config_test_LDADD = $(unit_test_ldadd)

# The kbus tool, run as a user would: it needs the tool (and so libkbus)
# built, which `make check` does first.
TESTS += tests/unit/kbus_tool_test.sh
EXTRA_DIST += tests/unit/kbus_tool_test.sh

TESTS += tests/unit/kbus_dlt_test.sh
EXTRA_DIST += tests/unit/kbus_dlt_test.sh
