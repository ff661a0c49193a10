# Fault injection: the runtime on a three-broker embedded cluster whose
# brokers, leaders, coordinator and requests fail on cue (rdkafka_mock.h),
# one cmocka group per binary; and a subscriber process killed with
# SIGKILL mid stream, then restarted.

faults_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(RDKAFKA_CFLAGS) -I$(top_builddir)/examples/hello \
	-I$(top_srcdir)/tests/integration
faults_ldadd = libkbus.la $(CMOCKA_LIBS) $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) \
	$(RDKAFKA_LIBS)

faults_tests = tests/faults/broker_down_test tests/faults/leader_test \
	tests/faults/request_errors_test tests/faults/coordinator_test \
	tests/faults/rebalance_test tests/faults/limits_test
check_PROGRAMS += $(faults_tests) tests/faults/ledger-sub
TESTS += $(faults_tests) tests/faults/sigkill_test.sh
EXTRA_DIST += tests/faults/faults.h \
	tests/faults/ledger_check.py tests/faults/sigkill_test.sh

tests_faults_broker_down_test_SOURCES = tests/faults/broker_down_test.c
nodist_tests_faults_broker_down_test_SOURCES = $(HELLO_GEN)
tests_faults_broker_down_test_CPPFLAGS = $(faults_cppflags)
tests_faults_broker_down_test_LDADD = $(faults_ldadd)

tests_faults_leader_test_SOURCES = tests/faults/leader_test.c
nodist_tests_faults_leader_test_SOURCES = $(HELLO_GEN)
tests_faults_leader_test_CPPFLAGS = $(faults_cppflags)
tests_faults_leader_test_LDADD = $(faults_ldadd)

tests_faults_request_errors_test_SOURCES = tests/faults/request_errors_test.c
nodist_tests_faults_request_errors_test_SOURCES = $(HELLO_GEN)
tests_faults_request_errors_test_CPPFLAGS = $(faults_cppflags)
tests_faults_request_errors_test_LDADD = $(faults_ldadd)

tests_faults_coordinator_test_SOURCES = tests/faults/coordinator_test.c
nodist_tests_faults_coordinator_test_SOURCES = $(HELLO_GEN)
tests_faults_coordinator_test_CPPFLAGS = $(faults_cppflags)
tests_faults_coordinator_test_LDADD = $(faults_ldadd)

tests_faults_rebalance_test_SOURCES = tests/faults/rebalance_test.c
nodist_tests_faults_rebalance_test_SOURCES = $(HELLO_GEN)
tests_faults_rebalance_test_CPPFLAGS = $(faults_cppflags)
tests_faults_rebalance_test_LDADD = $(faults_ldadd)

tests_faults_ledger_sub_SOURCES = tests/faults/ledger-sub.c
nodist_tests_faults_ledger_sub_SOURCES = $(HELLO_GEN)
tests_faults_ledger_sub_CPPFLAGS = $(faults_cppflags)
tests_faults_ledger_sub_LDADD = $(faults_ldadd)

tests_faults_limits_test_SOURCES = tests/faults/limits_test.c
nodist_tests_faults_limits_test_SOURCES = $(HELLO_GEN)
tests_faults_limits_test_CPPFLAGS = $(faults_cppflags)
tests_faults_limits_test_LDADD = $(faults_ldadd)
