#!/usr/bin/env bash
# quick.sh: runs the benchmark once with --quick, every case for about a
# second, so that it keeps building and working between `make bench` runs.
# Its figures mean nothing; only that every case completes.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

bench=${BENCH:-$builddir/tests/bench/kbus-bench}
need_built "$bench"
run 600 "$bench" --quick
