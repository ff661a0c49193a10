#!/usr/bin/env bash
# quick.sh: runs the benchmark once with --quick, every case for about a
# second, so that it keeps building and working between `make bench` runs.
# Its figures mean nothing; only that every case completes.
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
run 600 "$bench" --quick --cases abcdf
timeout 600 "$bench" --quick --cases e
