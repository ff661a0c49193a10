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

# The JSON mapping.  json_test.desc is json_test.proto's descriptor set, as
# `kbus call` users write theirs; json_test.bin is json_test.txt encoded by
# protoc, the reference the test compares its own bytes with.
check_PROGRAMS += json_test
TESTS += json_test
json_test_SOURCES = tests/unit/json_test.c framework/json.c \
	framework/json_pool.c framework/alloc.c framework/log.c \
	framework/status.c
nodist_json_test_SOURCES = codegen/wkt/google/protobuf/descriptor.pb-c.c \
	codegen/wkt/kbus/options.pb-c.c \
	codegen/wkt/google/protobuf/timestamp.pb-c.c
json_test_CPPFLAGS = $(unit_test_cppflags) $(JANSSON_CFLAGS) \
	-I$(top_builddir)/codegen/wkt -DJSON_TEST_DIR='"tests/unit"'
json_test_LDADD = $(unit_test_ldadd) $(JANSSON_LIBS)
$(json_test_OBJECTS): tests/unit/json_test.stamp codegen/wkt.stamp
tests/unit/json_test.stamp: tests/unit/json_test.proto tests/unit/json_test.txt \
		framework/kbus/options.proto
	$(AM_V_GEN)$(MKDIR_P) tests/unit && \
	$(PROTOC) -I$(srcdir)/tests/unit -I$(top_srcdir)/framework -I$(PROTO_INCLUDE) \
		--descriptor_set_out=tests/unit/json_test.desc --include_imports \
		$(srcdir)/tests/unit/json_test.proto && \
	$(PROTOC) -I$(srcdir)/tests/unit -I$(top_srcdir)/framework -I$(PROTO_INCLUDE) \
		--encode=jt.v1.All $(srcdir)/tests/unit/json_test.proto \
		<$(srcdir)/tests/unit/json_test.txt >tests/unit/json_test.bin && \
	touch $@
CLEANFILES += tests/unit/json_test.stamp tests/unit/json_test.desc \
	tests/unit/json_test.bin
EXTRA_DIST += tests/unit/json_test.proto tests/unit/json_test.txt

# No call or include cycle among the library's modules: `nm` of its objects
# and the #include lines of framework/.
TESTS += tests/unit/cycles_test.sh
EXTRA_DIST += tests/unit/cycles_test.sh tests/unit/cycles.py
