# The fuzz target for header and value decoding.  `make check` runs it
# standalone (seeded mutations for a few seconds); `make fuzz` builds the
# libFuzzer version with clang for long runs (see docs/RELIABILITY.md).

wire_fuzz_sources = tests/fuzz/wire_fuzz.c framework/wire.c \
	framework/alloc.c framework/log.c framework/status.c
check_PROGRAMS += tests/fuzz/wire_fuzz
TESTS += tests/fuzz/wire_fuzz
tests_fuzz_wire_fuzz_SOURCES = $(wire_fuzz_sources)
nodist_tests_fuzz_wire_fuzz_SOURCES = examples/hello/hello.pb-c.c \
	examples/hello/hello.pb-c.h
tests_fuzz_wire_fuzz_CPPFLAGS = $(libkbus_la_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/hello -DKBUS_FUZZ_STANDALONE
tests_fuzz_wire_fuzz_LDADD = $(RDKAFKA_LIBS) $(PROTOBUF_C_LIBS)

FUZZ_CC = clang
FUZZ_SECONDS = 60
fuzz: $(HELLO_GEN)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined \
		$(libkbus_la_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
		-I$(top_builddir)/examples/hello -D_GNU_SOURCE \
		$(addprefix $(srcdir)/,$(wire_fuzz_sources)) \
		examples/hello/hello.pb-c.c \
		$(RDKAFKA_LIBS) $(PROTOBUF_C_LIBS) -o wire_fuzz_libfuzzer
	$(MKDIR_P) fuzz-corpus
	./wire_fuzz_libfuzzer -max_total_time=$(FUZZ_SECONDS) fuzz-corpus
.PHONY: fuzz
CLEANFILES += wire_fuzz_libfuzzer
