#!/usr/bin/env bash
# A local snapshot that does not check out is never trusted (docs/STATE.md,
# "Checkpoints").  A counter counts events and stops cleanly, leaving a
# snapshot per partition.  Then partition 0's is cut to half its length,
# one byte in the middle of partition 1's is flipped, and partition 2's is
# replaced by partition 3's (whole and with a good checksum, but made for
# another partition).  Restarted, the counter discards the three with a
# warning naming each file and why, rebuilds those partitions from the
# start of the changelog, restores partition 3 from its snapshot, and
# counts the next events exactly; the next clean stop writes good
# snapshots again.  Then partition 0's is rewritten in the format of an
# older kbus: discarded with a warning that says so, that partition
# rebuilt, the others restored from theirs, the counts exact.  Last, the
# counter restarts with the same state directory on a new broker: its
# snapshots cover offsets the new changelog does not have, so they are
# discarded too, and the new events are counted from zero, none taken for
# one handled before.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$tests_srcdir/state/state.sh"

need_python_kafka
need_built "$kbus_prog" "$counter"

keys=200

counter_conf "$work/counter.conf" 1000
start_broker --partitions 4 --topic "$topic"
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60
run 60 "$counter" pub 4000 "$keys" 4000 "$topic" >/dev/null 2>"$work/pub.log" ||
        fail "the publisher failed"
exact_counts 4000 "$keys"
stop_clean a
all_snapshots || fail "a clean stop left no snapshot of some partition"

size=$(stat -c %s "$snapdir/0.snap")
truncate -s $((size / 2)) "$snapdir/0.snap"
size=$(stat -c %s "$snapdir/1.snap")
byte=$(od -An -tu1 -j $((size / 2)) -N1 "$snapdir/1.snap")
printf "$(printf '\\%03o' $((byte ^ 0x20)))" |
        dd of="$snapdir/1.snap" bs=1 seek=$((size / 2)) conv=notrunc status=none
cp "$snapdir/3.snap" "$snapdir/2.snap"
snapshots >"$work/snap.before"
note "partition, covered, end: $(tr '\n' ';' <"$work/snap.before")"

from=$(log_lines a)
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60
restores a "$from" >"$work/restores"
note "restores (partition entries read offset snapshot): $(tr '\n' ';' <"$work/restores")"
(($(wc -l <"$work/restores") == 4)) || fail "not 4 restores after the restart"

# warned P WHY: the warning that partition P's snapshot was discarded.
warned() {
        tail -n +$((from + 1)) "$work/a.log" | grep -F "snapshot $snapdir/$1.snap discarded ($2): table counts partition $1 is rebuilt from the changelog" >/dev/null ||
                fail "no warning that the snapshot of partition $1 was discarded ($2)"
}
warned 0 "checksum does not match (corrupt or truncated)"
warned 1 "checksum does not match (corrupt or truncated)"
warned 2 "made for another group, table or partition"
discarded=$(tail -n +$((from + 1)) "$work/a.log" | grep -c 'discarded' || true)
((discarded == 3)) || fail "$discarded snapshots discarded, not 3"
while read -r p covered end; do
        read -r _ entries nread offset snap < <(awk -v p="$p" '$1 == p' "$work/restores")
        if ((p < 3)); then
                ((snap == 0 && offset == 0 && nread == end)) ||
                        fail "partition $p was not rebuilt from the whole changelog ($end records)"
        else
                ((snap == 1 && offset == covered && nread == end - covered)) ||
                        fail "partition 3 was not restored from its snapshot"
        fi
done <"$work/snap.before"

run 60 "$counter" pub 2000 "$keys" 4000 "$topic" >/dev/null 2>>"$work/pub.log" ||
        fail "the publisher failed"
exact_counts 6000 "$keys"
stop_clean a
snapshots >"$work/snap.after"
awk '$2 != $3 { exit 1 }' "$work/snap.after" ||
        fail "the snapshots written at the stop do not cover the changelog: $(tr '\n' ';' <"$work/snap.after")"

# A snapshot an older kbus wrote (format 1, its applied batches listed one
# by one), whole and with a good checksum: discarded with a warning that
# says so, and its partition rebuilt from the changelog; the others are
# restored from theirs.
"$python" "$tests_srcdir/state/snap.py" --to-v1 "$snapdir/0.snap" >>"$work/pub.log" ||
        fail "cannot rewrite the snapshot of partition 0 in format 1"
from=$(log_lines a)
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60
warned 0 "written by another version of kbus"
discarded=$(tail -n +$((from + 1)) "$work/a.log" | grep -c 'discarded' || true)
((discarded == 1)) || fail "$discarded snapshots discarded, not 1"
restores a "$from" >"$work/restores"
note "after an old snapshot: $(tr '\n' ';' <"$work/restores")"
while read -r p _ end; do
        read -r _ _ nread offset snap < <(awk -v p="$p" '$1 == p' "$work/restores")
        if ((p == 0)); then
                ((snap == 0 && offset == 0 && nread == end)) ||
                        fail "partition 0 was not rebuilt from the whole changelog ($end records)"
        else
                ((snap == 1 && nread == 0)) ||
                        fail "partition $p was not restored from its snapshot alone"
        fi
done <"$work/snap.after"
run 60 "$counter" pub 1000 "$keys" 4000 "$topic" >/dev/null 2>>"$work/pub.log" ||
        fail "the publisher failed"
exact_counts 7000 "$keys"
stop_clean a
snapshots >"$work/snap.after"

# Snapshots of another changelog: a new embedded broker, the same state
# directory.  Every snapshot covers an offset the new, empty changelog does
# not have, and names input records (offsets 0, 1, ... of the old input
# topic) that the new topic's records must not be taken for.  Each is
# discarded; the counts start again from the new changelog.
stop_clean broker
start_broker --partitions 4 --topic "$topic"
from=$(log_lines a)
start a "$counter" -c "$work/counter.conf" "$topic"
wait_for_line a '^ready$' 60
while read -r p covered _; do
        warned "$p" "it covers changelog offset $covered, which $changelog [$p] does not have"
done <"$work/snap.after"
restores a "$from" >"$work/restores"
note "with a new broker: $(tr '\n' ';' <"$work/restores")"
awk '$2 != 0 || $3 != 0 || $4 != 0 || $5 != 0 { bad = 1 } END { exit bad || NR != 4 }' "$work/restores" ||
        fail "the partitions were not rebuilt from the new, empty changelog"
run 60 "$counter" pub 1000 "$keys" 4000 "$topic" >/dev/null 2>>"$work/pub.log" ||
        fail "the publisher failed"
exact_counts 1000 "$keys"
stop_clean a
note "ok"
