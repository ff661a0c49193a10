#!/usr/bin/env bash
# Two instances of a counting service in one group, 20,000 keyed events;
# one instance is killed with SIGKILL mid-stream and never restarted.  The
# survivor restores the dead one's table partitions from the changelog and
# the final counts are exactly what was sent, per key: no event lost, none
# counted twice (docs/STATE.md, "The guarantee").
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

here=$(dirname "$0")
counter=$builddir/tests/state/counter

need_python_kafka
need_built "$kbus_prog" "$counter"

count=20000
keys=200
topic=count.events
changelog=counter.counts.changelog

start_broker --partitions 4 --topic "$topic"
start a "$counter" "$topic"
start b "$counter" "$topic"
wait_for_line a '^ready$' 60
wait_for_line b '^ready$' 60

# 20,000 events at 2,000 a second: a is killed a third of the way.
start pub "$counter" pub "$count" "$keys" 2000 "$topic"
wait_for_line pub "^published $((count / 3 / 1000 * 1000))\$" 60
crash a
note "instance a killed after $(tail -n 1 "$work/pub.out")"
await pub 120
((status == 0)) || fail "the publisher failed"

timeout $((240 * slow)) "$python" "$here/counts.py" "$BOOTSTRAP" "$changelog" \
        "$count" "$keys" --wait $((180 * slow)) >"$work/counts.final" 2>&1 ||
        fail "counts are not exact: $(cat "$work/counts.final")"
note "final: $(cat "$work/counts.final")"
grep -Eq 'table counts partition [0-9]+ restored: [1-9][0-9]* entries' "$work/b.log" ||
        fail "the survivor restored no partition of the dead instance"
note "survivor: $(grep -o 'table counts partition [0-9]* restored[^"]*' "$work/b.log" | tail -n 2 | tr '\n' ' ')"
stop_clean b
note "ok"
