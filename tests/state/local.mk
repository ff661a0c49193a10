# State tables on the embedded broker: processes counting events in a
# table, killed and restarted (docs/STATE.md).

check_PROGRAMS += tests/state/counter
tests_state_counter_SOURCES = tests/state/counter.c
nodist_tests_state_counter_SOURCES = $(HELLO_GEN)
tests_state_counter_CPPFLAGS = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	$(LIBEVENT_CFLAGS) -I$(top_builddir)/examples/hello
tests_state_counter_LDADD = libkbus.la libkbus-wkt.la $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS)

# Tables under faults, on the three-broker cluster of tests/faults/faults.h.
check_PROGRAMS += tests/state/table_faults_test
tests_state_table_faults_test_SOURCES = tests/state/table_faults_test.c
nodist_tests_state_table_faults_test_SOURCES = $(HELLO_GEN)
tests_state_table_faults_test_CPPFLAGS = $(faults_cppflags) \
	-I$(top_srcdir)/tests/faults
tests_state_table_faults_test_LDADD = $(faults_ldadd)
TESTS += tests/state/table_faults_test

state_tests = tests/state/count_kill_test.sh tests/state/checkpoint_test.sh \
	tests/state/snapshot_test.sh tests/state/partitions_test.sh
TESTS += $(state_tests)
EXTRA_DIST += $(state_tests) tests/state/counts.py \
	tests/state/snap.py tests/state/state.sh
