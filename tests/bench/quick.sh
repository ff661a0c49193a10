#!/bin/sh
# quick.sh: runs the benchmark once with --quick, every case for about a
# second, so that it keeps building and working between `make bench` runs.
# Its figures mean nothing; only that every case completes.
exec "${BENCH:-./tests/bench/kbus-bench}" --quick
