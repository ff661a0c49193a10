# examples/log-aggregation: log-shipper follows log files and publishes
# their lines; log-collector writes those of every file of every host into
# one stream.  See its README.md.

LOGS_GEN = \
	examples/log-aggregation/logs.pb-c.c examples/log-aggregation/logs.pb-c.h \
	examples/log-aggregation/logs.kbus.c examples/log-aggregation/logs.kbus.h
BUILT_SOURCES += $(LOGS_GEN)
CLEANFILES += $(LOGS_GEN) examples/log-aggregation/logs.kbus-stamp
EXTRA_DIST += examples/log-aggregation/logs.proto \
	examples/log-aggregation/README.md

logs_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/log-aggregation

noinst_PROGRAMS += examples/log-aggregation/log-shipper \
	examples/log-aggregation/log-collector
examples_log_aggregation_log_shipper_SOURCES = \
	examples/log-aggregation/log-shipper.c \
	examples/log-aggregation/follow.c examples/log-aggregation/follow.h \
	examples/log-aggregation/positions.c \
	examples/log-aggregation/positions.h \
	examples/log-aggregation/timestamp.c \
	examples/log-aggregation/timestamp.h
nodist_examples_log_aggregation_log_shipper_SOURCES = $(LOGS_GEN)
examples_log_aggregation_log_shipper_CPPFLAGS = $(logs_cppflags) \
	$(LIBEVENT_CFLAGS)
examples_log_aggregation_log_shipper_LDADD = libkbus.la $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS)
examples_log_aggregation_log_collector_SOURCES = \
	examples/log-aggregation/log-collector.c
nodist_examples_log_aggregation_log_collector_SOURCES = $(LOGS_GEN)
examples_log_aggregation_log_collector_CPPFLAGS = $(logs_cppflags) \
	$(examples_common_cppflags) $(LIBEVENT_CFLAGS)
examples_log_aggregation_log_collector_LDADD = examples/common/libtable.la \
	libkbus.la $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS)

# follow.c's unit test, beside it (cmocka): files in a temporary directory,
# rotated and truncated under it, with the clock in the test's hands.
check_PROGRAMS += examples/log-aggregation/follow_test
TESTS += examples/log-aggregation/follow_test
examples_log_aggregation_follow_test_SOURCES = \
	examples/log-aggregation/follow_test.c examples/log-aggregation/follow.c \
	examples/log-aggregation/follow.h
examples_log_aggregation_follow_test_CPPFLAGS = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS)
examples_log_aggregation_follow_test_LDADD = $(CMOCKA_LIBS)

# timestamp.c's unit test: the times log lines start with.
check_PROGRAMS += examples/log-aggregation/timestamp_test
TESTS += examples/log-aggregation/timestamp_test
examples_log_aggregation_timestamp_test_SOURCES = \
	examples/log-aggregation/timestamp_test.c \
	examples/log-aggregation/timestamp.c examples/log-aggregation/timestamp.h
examples_log_aggregation_timestamp_test_CPPFLAGS = $(AM_CPPFLAGS) \
	$(CMOCKA_CFLAGS)
examples_log_aggregation_timestamp_test_LDADD = $(CMOCKA_LIBS)
