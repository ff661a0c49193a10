# The kbus tool on a bad day: call, tail, topics, groups, and -X/-c, each a
# shell test against `kbus broker` and the example services, with
# kafka-python as the independent reader.  The descriptor sets the tool
# reads are written by protoc at build time, as users write theirs.

tests/cli/descriptors.stamp: examples/hello/hello.proto \
		$(OP_PROTOS) examples/stream-processing/iot.proto \
		framework/kbus/options.proto
	$(AM_V_GEN)$(MKDIR_P) tests/cli && \
	$(PROTOC) -I$(srcdir)/examples/hello -I$(top_srcdir)/framework \
		-I$(PROTO_INCLUDE) --include_imports \
		--descriptor_set_out=tests/cli/hello.desc \
		$(srcdir)/examples/hello/hello.proto && \
	$(PROTOC) -I$(srcdir)/examples/order-pipeline -I$(top_srcdir)/framework \
		-I$(PROTO_INCLUDE) --include_imports \
		--descriptor_set_out=tests/cli/pipeline.desc \
		$(OP_PROTOS:%=$(srcdir)/%) && \
	$(PROTOC) -I$(srcdir)/examples/stream-processing \
		-I$(top_srcdir)/framework -I$(PROTO_INCLUDE) --include_imports \
		--descriptor_set_out=tests/cli/iot.desc \
		$(srcdir)/examples/stream-processing/iot.proto && \
	touch $@
BUILT_SOURCES += tests/cli/descriptors.stamp
CLEANFILES += tests/cli/descriptors.stamp tests/cli/hello.desc \
	tests/cli/pipeline.desc tests/cli/iot.desc

cli_tests = \
	tests/cli/call_test.sh \
	tests/cli/tail_test.sh \
	tests/cli/topics_test.sh \
	tests/cli/groups_test.sh \
	tests/cli/secrets_test.sh
TESTS += $(cli_tests)
EXTRA_DIST += $(cli_tests) tests/cli/lib.sh tests/cli/records.py
