#!/usr/bin/env bash
# quick.sh: runs the benchmark once with --quick, every case for about a
# second, so that it keeps building and working between `make bench` runs.
# Its figures mean nothing; only that every case completes.  The state
# table cases (g, h) take longer than the others: each of their kbus
# runtimes joins a consumer group, which the embedded broker holds for 3 s.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

bench=${BENCH:-$builddir/tests/bench/kbus-bench}
need_built "$bench"
if ((${#wrap[@]} == 0)); then
        run 600 "$bench" --quick
        exit 0
fi
# The memory case (e) runs each side in a child that executes
# /proc/self/exe again, which under a wrapper is the wrapper itself, not
# the benchmark.  So every other case runs under the wrapper, and e on its
# own without it.
run 600 "$bench" --quick --cases abcdfgh
timeout 600 "$bench" --quick --cases e
