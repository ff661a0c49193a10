# Integration tests: real librdkafka clients against the embedded broker,
# one cmocka group per binary.

integration_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBEVENT_CFLAGS) -I$(top_builddir)/examples/hello
integration_ldadd = libkbus.la $(CMOCKA_LIBS) $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS)

integration_tests = tests/integration/rpc_test tests/integration/events_test \
	tests/integration/reliability_test tests/integration/room_test
check_PROGRAMS += $(integration_tests)
TESTS += $(integration_tests)
EXTRA_DIST += tests/integration/harness.h tests/integration/log_tap.h

tests_integration_rpc_test_SOURCES = tests/integration/rpc_test.c
nodist_tests_integration_rpc_test_SOURCES = $(HELLO_GEN)
tests_integration_rpc_test_CPPFLAGS = $(integration_cppflags) $(RDKAFKA_CFLAGS)
tests_integration_rpc_test_LDADD = $(integration_ldadd) $(RDKAFKA_LIBS)

tests_integration_events_test_SOURCES = tests/integration/events_test.c
nodist_tests_integration_events_test_SOURCES = $(HELLO_GEN)
tests_integration_events_test_CPPFLAGS = $(integration_cppflags) $(RDKAFKA_CFLAGS)
tests_integration_events_test_LDADD = $(integration_ldadd) $(RDKAFKA_LIBS)

tests_integration_reliability_test_SOURCES = tests/integration/reliability_test.c
nodist_tests_integration_reliability_test_SOURCES = $(HELLO_GEN)
tests_integration_reliability_test_CPPFLAGS = $(integration_cppflags) $(RDKAFKA_CFLAGS)
tests_integration_reliability_test_LDADD = $(integration_ldadd) $(RDKAFKA_LIBS)

tests_integration_room_test_SOURCES = tests/integration/room_test.c
nodist_tests_integration_room_test_SOURCES = $(HELLO_GEN)
tests_integration_room_test_CPPFLAGS = $(integration_cppflags) $(RDKAFKA_CFLAGS)
tests_integration_room_test_LDADD = $(integration_ldadd) $(RDKAFKA_LIBS)

# The whole /metrics text of a running program, through Prometheus'
# Python parser (python3-prometheus-client).
TESTS += tests/integration/metrics_test.sh
EXTRA_DIST += tests/integration/metrics_test.sh tests/integration/metrics_check.py

# A second SIGTERM ends a program at once, whatever is still in flight.
TESTS += tests/integration/second_signal_test.sh
EXTRA_DIST += tests/integration/second_signal_test.sh
