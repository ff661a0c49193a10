# The benchmark: kbus against hand-written librdkafka on one embedded
# broker (docs/PERFORMANCE.md).  `make bench` runs it in full; `make check`
# runs it once with --quick so that it keeps building and working.

BENCH_GEN = tests/bench/bench.pb-c.c tests/bench/bench.pb-c.h \
	tests/bench/bench.kbus.c tests/bench/bench.kbus.h
BUILT_SOURCES += $(BENCH_GEN)
CLEANFILES += $(BENCH_GEN) tests/bench/bench.kbus-stamp
EXTRA_DIST += tests/bench/bench.proto tests/bench/quick.sh

check_PROGRAMS += tests/bench/kbus-bench
tests_bench_kbus_bench_SOURCES = \
	tests/bench/kbus-bench.c \
	tests/bench/bench.c tests/bench/bench.h \
	tests/bench/side_raw.c \
	tests/bench/side_kbus.c
nodist_tests_bench_kbus_bench_SOURCES = $(BENCH_GEN)
tests_bench_kbus_bench_CPPFLAGS = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	$(RDKAFKA_CFLAGS) $(LIBEVENT_CFLAGS) -I$(top_builddir)/tests/bench \
	-I$(srcdir)/tests/bench
tests_bench_kbus_bench_LDADD = libkbus.la libkbus-wkt.la $(RDKAFKA_LIBS) \
	$(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) -lm
# A real executable rather than a libtool wrapper script: the benchmark
# starts itself again for the memory cases (through /proc/self/exe), and
# perf and valgrind can be pointed straight at it.
tests_bench_kbus_bench_LDFLAGS = -no-install

TESTS += tests/bench/quick.sh

# Not part of `make check`: minutes long, and its figures mean something
# only on a quiet machine.
.PHONY: bench
bench: tests/bench/kbus-bench$(EXEEXT)
	tests/bench/kbus-bench$(EXEEXT) $(BENCH_FLAGS)
