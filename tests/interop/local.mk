# Interoperability: plain Kafka clients (kafka-python, kcat) that know only
# docs/WIRE.md talk to the hello example on an embedded broker.  The scripts
# run from the top build directory and find their sources beside themselves.
interop_tests = \
	tests/interop/hello_python_test.sh \
	tests/interop/kcat_event_test.sh
TESTS += $(interop_tests)
EXTRA_DIST += $(interop_tests) \
	tests/interop/hello_call.py
