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

# kbus_log(), the programs' log call, against the library's own format.
check_PROGRAMS += log_test
TESTS += log_test
log_test_SOURCES = tests/unit/log_test.c framework/log.c framework/alloc.c \
	framework/status.c
log_test_CPPFLAGS = $(unit_test_cppflags) $(JANSSON_CFLAGS)
log_test_LDADD = $(unit_test_ldadd) $(JANSSON_LIBS)

# kbus_runtime_new_from_file(): it makes real runtimes (embedded broker),
# so it links the library.
check_PROGRAMS += setup_test
TESTS += setup_test
setup_test_SOURCES = tests/unit/setup_test.c
setup_test_CPPFLAGS = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS)
setup_test_LDADD = libkbus.la $(CMOCKA_LIBS)
