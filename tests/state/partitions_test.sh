#!/usr/bin/env bash
# A changelog topic must have the input's partition count (docs/STATE.md,
# "Changelog topics").  Against `kbus broker --partitions 2`, whose input
# topic has 2 partitions, a changelog topic created on first use gets the
# embedded broker's default of 4: the counter refuses to start, with an
# error naming the topic and both counts.  Named on the broker's command
# line, the changelog gets 2 partitions too, and the counter counts
# exactly.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$tests_srcdir/state/state.sh"

need_python_kafka
need_built "$kbus_prog" "$counter"

start_broker --partitions 2 --topic "$topic"
status=0
run 60 "$counter" "$topic" >"$work/a.out" 2>"$work/a.log" || status=$?
((status == 1)) || fail "the counter started, or failed otherwise (status $status)"
grep -F "changelog topic $changelog has 4 partitions but input topic $topic has 2: they must be equal" \
        "$work/a.log" >/dev/null ||
        fail "no error naming the changelog topic and both partition counts"
note "refused: $(grep -o 'changelog topic [^"]*' "$work/a.log")"
stop_clean broker

start_broker --partitions 2 --topic "$topic" --topic "$changelog"
start a "$counter" "$topic"
wait_for_line a '^ready$' 60
run 60 "$counter" pub 1000 20 4000 "$topic" >/dev/null 2>"$work/pub.log" ||
        fail "the publisher failed"
exact_counts 1000 20
stop_clean a
note "ok"
