# libkbus, its installed files, and the kbus command-line tool.

lib_LTLIBRARIES += libkbus.la
kbusincludedir = $(includedir)/kbus
kbusinclude_HEADERS = framework/include/kbus/kbus.h framework/include/kbus/json.h

# The library's modules, lowest first (see framework/core.h).  They are
# built once, into a convenience library that the library's own unit tests
# link too, so a test can reach what libkbus does not export.
noinst_LTLIBRARIES += libkbus-core.la
libkbus_core_la_SOURCES = \
	framework/kbus_int.h framework/core.h \
	framework/alloc.c \
	framework/status.c \
	framework/log.c \
	framework/config.c \
	framework/hash.c framework/hash.h \
	framework/ring.c framework/ring.h \
	framework/wire.c framework/wire.h \
	framework/retry.c framework/retry.h \
	framework/offsets.c framework/offsets.h \
	framework/keys.c framework/keys.h \
	framework/replies.c framework/replies.h \
	framework/kafka.c framework/kafka.h \
	framework/broker.c \
	framework/room.c \
	framework/partition.c framework/partition.h \
	framework/dlq.c framework/dlq.h \
	framework/route.h \
	framework/record.c framework/record.h \
	framework/applied.c framework/applied.h \
	framework/table.c \
	framework/window.c \
	framework/server.c \
	framework/events.c \
	framework/consumer.c \
	framework/client.c \
	framework/aggregate.c \
	framework/ops.c \
	framework/runtime.c \
	framework/setup.c \
	framework/json.c framework/json_pool.c framework/json_int.h
# The JSON mapping decodes descriptor sets and kbus options with code
# generated into codegen/wkt; it is compiled in (and not exported) rather
# than linked from libkbus-wkt, so that libkbus installs on its own.
nodist_libkbus_core_la_SOURCES = codegen/wkt/google/protobuf/descriptor.pb-c.c \
	codegen/wkt/kbus/options.pb-c.c codegen/wkt/kbus/aggregate.pb-c.c
libkbus_core_la_CPPFLAGS = $(libkbus_la_CPPFLAGS)
libkbus_core_la_LIBADD = $(RDKAFKA_LIBS) $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) \
	$(LIBCONFIG_LIBS) $(JANSSON_LIBS)
$(libkbus_core_la_OBJECTS): codegen/wkt.stamp

libkbus_la_SOURCES =
libkbus_la_LIBADD = libkbus-core.la
libkbus_la_CPPFLAGS = $(AM_CPPFLAGS) $(RDKAFKA_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(LIBCONFIG_CFLAGS) $(JANSSON_CFLAGS) \
	-I$(top_builddir)/codegen/wkt -DKBUS_VERSION='"$(PACKAGE_VERSION)"'
libkbus_la_LDFLAGS = -version-info $(KBUS_LT_VERSION) -export-symbols-regex '^kbus_[^_]'

# The options for .proto files, installed where `pkg-config --variable=protodir kbus` says.
kbusprotodir = $(datadir)/kbus/proto/kbus
dist_kbusproto_DATA = framework/kbus/options.proto framework/kbus/aggregate.proto

pkgconfig_DATA = framework/kbus.pc

# Each module's unit test sits beside it (cmocka, one group per binary:
# cmocka 1.1.5 mixes up TAP plans with two), linked with the modules so it
# can reach what libkbus does not export.
framework_tests = framework/hash_test framework/ring_test \
	framework/offsets_test framework/keys_test framework/retry_test \
	framework/wire_test framework/kafka_test framework/dlq_test \
	framework/record_test framework/applied_test framework/table_test \
	framework/aggregate_test framework/window_test
check_PROGRAMS += $(framework_tests)
TESTS += $(framework_tests)
framework_test_cppflags = $(libkbus_la_CPPFLAGS) $(CMOCKA_CFLAGS)
framework_test_ldadd = libkbus-core.la $(CMOCKA_LIBS) $(RDKAFKA_LIBS) \
	$(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS)
framework_hash_test_SOURCES = framework/hash_test.c
framework_hash_test_CPPFLAGS = $(framework_test_cppflags)
framework_hash_test_LDADD = $(framework_test_ldadd)
framework_ring_test_SOURCES = framework/ring_test.c
framework_ring_test_CPPFLAGS = $(framework_test_cppflags)
framework_ring_test_LDADD = $(framework_test_ldadd)
framework_offsets_test_SOURCES = framework/offsets_test.c
framework_offsets_test_CPPFLAGS = $(framework_test_cppflags)
framework_offsets_test_LDADD = $(framework_test_ldadd)
framework_keys_test_SOURCES = framework/keys_test.c
framework_keys_test_CPPFLAGS = $(framework_test_cppflags)
framework_keys_test_LDADD = $(framework_test_ldadd)
framework_retry_test_SOURCES = framework/retry_test.c
framework_retry_test_CPPFLAGS = $(framework_test_cppflags)
framework_retry_test_LDADD = $(framework_test_ldadd)
framework_wire_test_SOURCES = framework/wire_test.c
framework_wire_test_CPPFLAGS = $(framework_test_cppflags)
framework_wire_test_LDADD = $(framework_test_ldadd)
framework_kafka_test_SOURCES = framework/kafka_test.c
framework_kafka_test_CPPFLAGS = $(framework_test_cppflags)
framework_kafka_test_LDADD = $(framework_test_ldadd)
framework_dlq_test_SOURCES = framework/dlq_test.c
framework_dlq_test_CPPFLAGS = $(framework_test_cppflags)
framework_dlq_test_LDADD = $(framework_test_ldadd)
framework_record_test_SOURCES = framework/record_test.c
nodist_framework_record_test_SOURCES = $(HELLO_GEN)
framework_record_test_CPPFLAGS = $(framework_test_cppflags) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/hello -I$(top_srcdir)/tests/integration
framework_record_test_LDADD = $(framework_test_ldadd)
framework_applied_test_SOURCES = framework/applied_test.c
framework_applied_test_CPPFLAGS = $(framework_test_cppflags)
framework_applied_test_LDADD = $(framework_test_ldadd)
framework_table_test_SOURCES = framework/table_test.c
nodist_framework_table_test_SOURCES = $(HELLO_GEN)
framework_table_test_CPPFLAGS = $(framework_test_cppflags) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/hello -I$(top_srcdir)/tests/integration
framework_table_test_LDADD = $(framework_test_ldadd)
framework_aggregate_test_SOURCES = framework/aggregate_test.c
nodist_framework_aggregate_test_SOURCES = $(HELLO_GEN)
framework_aggregate_test_CPPFLAGS = $(framework_test_cppflags) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/hello -I$(top_srcdir)/tests/integration
framework_aggregate_test_LDADD = $(framework_test_ldadd)

# window_test's messages: ticks and their sums.
WINDOW_TEST_GEN = framework/window_test.pb-c.c framework/window_test.pb-c.h \
	framework/window_test.kbus.c framework/window_test.kbus.h
BUILT_SOURCES += $(WINDOW_TEST_GEN)
CLEANFILES += $(WINDOW_TEST_GEN) framework/window_test.kbus-stamp
EXTRA_DIST += framework/window_test.proto
framework_window_test_SOURCES = framework/window_test.c
nodist_framework_window_test_SOURCES = $(WINDOW_TEST_GEN)
framework_window_test_CPPFLAGS = $(framework_test_cppflags) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/framework -I$(top_srcdir)/tests/integration
framework_window_test_LDADD = $(framework_test_ldadd)
