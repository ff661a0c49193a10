#!/usr/bin/env bash
# Restart from a local checkpoint (docs/STATE.md, "Checkpoints").  A
# counter with a state directory and a 200 ms checkpoint interval counts
# events (1,000 a second) and is killed with SIGKILL mid-stream, once
# every partition has a snapshot; the rest of the events are sent while
# it is down.  Restarted,
# it reads each partition's snapshot and then only the changelog's tail:
# exactly the records after the offset the snapshot covers, a small part
# of what was written, and the counts are exact (the records the group
# delivers again are recognised from the snapshot and the tail, not
# counted twice).  Then a SIGTERM stop writes a snapshot of everything, and
# the next start reads no changelog record at all.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$tests_srcdir/state/state.sh"

need_python_kafka
need_built "$kbus_prog" "$counter"

count=12000
keys=200

counter_conf "$work/counter.conf" 200
start_broker --partitions 4 --topic "$topic"
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60

start pub "$counter" pub "$count" "$keys" 1000 "$topic"
wait_for_line pub '^published 6000$' 60
wait_for 30 "a snapshot of every partition" all_snapshots
crash a
note "a killed after $(tail -n 1 "$work/pub.out"), snapshots written"
await pub 120
((status == 0)) || fail "the publisher failed"

# Nothing writes to the changelog until a is back: what it must read is
# known now.
snapshots >"$work/snap.before"
note "partition, covered, end: $(tr '\n' ';' <"$work/snap.before")"
written=$(awk '{ s += $3 } END { print s }' "$work/snap.before")
tail_len=$(awk '$2 < 0 { bad = 1 } { s += $3 - $2 } END { print bad ? -1 : s }' "$work/snap.before")
((tail_len >= 0)) || fail "a partition has no valid snapshot"

from=$(log_lines a)
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60
restores a "$from" >"$work/restores"
note "restores (partition entries read offset snapshot): $(tr '\n' ';' <"$work/restores")"
(($(wc -l <"$work/restores") == 4)) || fail "not 4 restores after the restart"
read_total=0
while read -r p covered end; do
        read -r _ _ nread offset snap < <(awk -v p="$p" '$1 == p' "$work/restores")
        ((snap == 1)) || fail "partition $p was not restored from its snapshot"
        ((offset == covered)) ||
                fail "partition $p read from offset $offset, its snapshot covers up to $covered"
        ((nread == end - covered)) ||
                fail "partition $p read $nread changelog records, the tail after its snapshot is $((end - covered))"
        read_total=$((read_total + nread))
done <"$work/snap.before"
note "read $read_total of $written changelog records ($tail_len after the snapshots)"
# Snapshots come every 200 ms: the tail is a small part of the changelog
# (under a slow wrapper a larger one).
((read_total * (slow > 1 ? 2 : 4) < written)) ||
        fail "the restart read $read_total of $written changelog records: not only the tail"
exact_counts "$count" "$keys"

# A clean stop leaves a snapshot of everything: the next start reads
# nothing from the changelog.
stop_clean a
from=$(log_lines a)
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60
restores a "$from" >"$work/restores"
note "after SIGTERM: $(tr '\n' ';' <"$work/restores")"
(($(wc -l <"$work/restores") == 4)) || fail "not 4 restores after the second restart"
awk '$5 != 1 || $3 != 0 { exit 1 }' "$work/restores" ||
        fail "a start after a clean stop read changelog records, or no snapshot"
stop_clean a
exact_counts "$count" "$keys"
note "ok"
