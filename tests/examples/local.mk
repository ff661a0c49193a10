# Tests of the examples of Kafka uses other than messaging, one per example:
# shell scripts that start `kbus broker` and the example's programs on
# loopback, drive them, and check the outcome.  They run from the top build
# directory and find their sources beside themselves.
examples_tests = \
	tests/examples/event_sourcing_test.sh \
	tests/examples/stream_processing_test.sh \
	tests/examples/activity_tracking_test.sh \
	tests/examples/log_aggregation_test.sh \
	tests/examples/log_shipping_test.sh
TESTS += $(examples_tests)
EXTRA_DIST += $(examples_tests) tests/examples/ledger_check.py \
	tests/examples/activity_check.py tests/examples/stream_check.py \
	tests/examples/log_counts_check.py tests/examples/pbtopics.py
