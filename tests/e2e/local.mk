# End-to-end tests of the order pipeline: shell scripts that start a broker,
# the five services and order-load as separate processes on loopback, break
# something mid-run (SIGKILL a service, move partition leaders, add or kill
# instances of every service), and check that every order still ends final
# and the books balance.  They run from the top build directory and stop
# everything they start.

check_PROGRAMS += tests/e2e/e2e-broker
tests_e2e_e2e_broker_SOURCES = tests/e2e/e2e-broker.c
tests_e2e_e2e_broker_CPPFLAGS = $(AM_CPPFLAGS) $(RDKAFKA_CFLAGS)
tests_e2e_e2e_broker_LDADD = libkbus.la $(RDKAFKA_LIBS) -lpthread

e2e_tests = \
	tests/e2e/gateway_test.sh \
	tests/e2e/payments_kill_test.sh \
	tests/e2e/payments_outage_test.sh \
	tests/e2e/leader_move_test.sh \
	tests/e2e/scale_kill_test.sh \
	tests/e2e/scale_up_test.sh
TESTS += $(e2e_tests)
EXTRA_DIST += $(e2e_tests) tests/e2e/lib.sh
