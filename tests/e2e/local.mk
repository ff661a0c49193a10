# End-to-end tests of the order pipeline: shell scripts that start a broker,
# the five services and order-load as separate processes on loopback, break
# something mid-run (SIGKILL a service, move partition leaders), and check
# that every order still ends final and the books balance.  They run from
# the top build directory and stop everything they start.

check_PROGRAMS += tests/e2e/e2e-broker
tests_e2e_e2e_broker_SOURCES = tests/e2e/e2e-broker.c
tests_e2e_e2e_broker_CPPFLAGS = $(AM_CPPFLAGS) $(RDKAFKA_CFLAGS)
tests_e2e_e2e_broker_LDADD = libkbus.la $(RDKAFKA_LIBS) -lpthread

e2e_tests = \
	tests/e2e/gateway_test.sh \
	tests/e2e/payments_kill_test.sh \
	tests/e2e/payments_outage_test.sh \
	tests/e2e/leader_move_test.sh
TESTS += $(e2e_tests)
# Several instances of every service, killed or added mid-run.  Not in
# TESTS yet: a partition revoked by a rebalance lets its calls in flight
# complete afterwards, and their table writes can reach the changelog after
# the next owner restored it (orders acknowledged but lost there).  Run
# them with make check TESTS="$(e2e_scale_tests)" until that is fixed.
e2e_scale_tests = \
	tests/e2e/scale_kill_test.sh \
	tests/e2e/scale_up_test.sh
EXTRA_DIST += $(e2e_tests) $(e2e_scale_tests) tests/e2e/lib.sh
