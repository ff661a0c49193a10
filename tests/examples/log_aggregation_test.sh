#!/usr/bin/env bash
# examples/log-aggregation, the plain contract (the faults are in
# log_shipping_test.sh):
#   - three shippers (hosts web-1, web-2, db) ship their files at once
#     with --once; each reports every line shipped and exits 0; the
#     collector's merged stream holds every line once, each file's in
#     order, numbered 1..n, with the level each line names;
#   - a second --once run ships only what was appended since;
#   - a line a collector wrote just before it died, before its table
#     change was stored, is not written again when it comes again;
#   - a line longer than 16 KiB comes in pieces, bytes that are not UTF-8
#     as '?';
#   - with no broker to reach: --once with a 2 s message timeout reports
#     the line not delivered and exits 1; following, SIGTERM waits
#     --grace-ms, saves the position and says how many lines go out again,
#     exit 0; pointed at the broker, the next run ships them marked resent;
#   - a damaged position file, and a shipper with no broker configured,
#     are refused with a clear message.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

dir=$builddir/examples/log-aggregation
shipper=$dir/log-shipper
collector=$dir/log-collector
need_built "$kbus_prog" "$shipper" "$collector"
out=$work/merged.log
logs=$work/logs # the files shipped
mkdir -p "$logs"

"$shipper" --help | grep -q 'tail -F' || fail "log-shipper --help says nothing of following"
"$collector" --help | grep -q 'SOURCE SEQ LEVEL TEXT' || fail "log-collector --help does not show the output"
if env -u KBUS_BOOTSTRAP "$shipper" -p "$work/p" "$logs/x.log" 2>"$work/err"; then
        fail "log-shipper without a broker exited 0"
fi
grep -q 'no broker: give -b' "$work/err" || fail "log-shipper without a broker: $(cat "$work/err")"
printf '# log-shipper positions 1: SEQ SENT DEV INODE FP_LEN FP OFFSET FILE\n1 2 3\n' >"$work/bad.pos"
if "$shipper" -b 127.0.0.1:1 -p "$work/bad.pos" "$logs/x.log" 2>"$work/err"; then
        fail "log-shipper took a damaged position file"
fi
grep -q "bad.pos:2: expected" "$work/err" || fail "the damaged position file is not named: $(cat "$work/err")"

# The text of line I of a file: every 5th is an error, every 7th has no
# level.
line_of() {
        local level=INFO
        (($2 % 5 == 0)) && level=ERROR
        (($2 % 7 == 0)) && level=
        printf '%s %s hello for the %dth time\n' "$level" "$1" "$2"
}
hosts=(web-1 web-2 db)
n=300
for h in "${hosts[@]}"; do
        for ((i = 1; i <= n; i++)); do line_of "$h" "$i"; done >"$logs/$h.log"
done

start_broker --partitions 4 --topic logs.v1.LogLine
start collector "$collector" -o "$out"
wait_for 60 "the collector's group joined" grep -q '^log-collector: ready$' "$work/collector.log"

for h in "${hosts[@]}"; do
        start "shipper-$h" "$shipper" -H "$h" -p "$work/$h.pos" --once "$logs/$h.log"
done
for h in "${hosts[@]}"; do
        await "shipper-$h" 30
        ((status == 0)) || fail "log-shipper -H $h exited with status $status"
        grep -q "^log-shipper: done: 1 file, $n lines read, $n shipped, 0 to send again" \
                "$work/shipper-$h.log" || fail "log-shipper -H $h did not report $n lines shipped"
done
# Appended lines: the next run ships those only.
for ((i = n + 1; i <= n + 20; i++)); do line_of web-1 "$i" >>"$logs/web-1.log"; done
start shipper-web-1 "$shipper" -H web-1 -p "$work/web-1.pos" --once "$logs/web-1.log"
await shipper-web-1 30
((status == 0)) || fail "the second run of log-shipper -H web-1 exited with status $status"
grep -q "^log-shipper: done: 1 file, 20 lines read, 20 shipped" "$work/shipper-web-1.log" ||
        fail "the second run of log-shipper -H web-1 did not ship the 20 new lines only"
! grep -q 'marked resent' "$work/shipper-web-1.log" ||
        fail "after a clean stop, the next run took lines for resends"

total=$((3 * n + 20))
wait_for 60 "the collector wrote $total lines" bash -c "(( \$(wc -l <'$out') >= $total ))"
for h in "${hosts[@]}"; do
        src="$h:$logs/$h.log"
        m=$n
        [[ $h == web-1 ]] && m=$((n + 20))
        for ((i = 1; i <= m; i++)); do line_of "$h" "$i"; done >"$work/$h.want"
        awk -v s="$src" '$1 == s' "$out" >"$work/$h.got"
        cut -d' ' -f4- "$work/$h.got" | cmp -s "$work/$h.want" - ||
                fail "the lines of $h are not all there in order"
        cut -d' ' -f2 "$work/$h.got" | cmp -s <(seq "$m") - ||
                fail "the sequence numbers of $h are not 1..$m in order"
        # The level column says what the line says.
        awk '{ t = $4; if (t != "INFO" && t != "ERROR") t = "-"; if (t != $3) bad = 1 }
             END { exit bad }' "$work/$h.got" || fail "the levels of $h are not the lines' levels"
done
grep -q ' ERROR ERROR ' "$out" || fail "no line at level ERROR"

# A collector that died after writing a line and before its table change
# was stored: the line is in the output, the table does not have it, and
# the group delivers it again.  Made here by hand: the collector stopped,
# line n+1 of web-2 written into the output as the collector writes it,
# then shipped with line n+2.  It must be found there, not written twice.
stop_clean collector
line_of web-2 $((n + 1)) >>"$logs/web-2.log"
line_of web-2 $((n + 2)) >>"$logs/web-2.log"
printf 'web-2:%s %d - %s\n' "$logs/web-2.log" $((n + 1)) "$(line_of web-2 $((n + 1)))" >>"$out"
start collector "$collector" -o "$out"
start shipper-web-2 "$shipper" -H web-2 -p "$work/web-2.pos" --once "$logs/web-2.log"
await shipper-web-2 30
((status == 0)) || fail "the second run of log-shipper -H web-2 exited with status $status"
wait_for 60 "line $((n + 2)) of web-2 arrived" grep -q "^web-2:.* $((n + 2)) INFO " "$out"
for seq in $((n + 1)) $((n + 2)); do
        count=$(awk -v s="web-2:$logs/web-2.log" -v q="$seq" '$1 == s && $2 == q' "$out" | wc -l)
        ((count == 1)) || fail "line $seq of web-2 is in the output $count times"
done
grep -q "web-2.log: lines up to $((n + 1)) are in the output already" "$work/collector.log" ||
        fail "the restarted collector did not say it found line $((n + 1)) of web-2 in its output"

# A long line and bytes that are not UTF-8.
head -c 40000 /dev/zero | tr '\0' x >"$logs/odd.log"
printf '\nbad \377\376 bytes\n' >>"$logs/odd.log"
start shipper-odd "$shipper" -H odd -p "$work/odd.pos" --once "$logs/odd.log"
await shipper-odd 30
((status == 0)) || fail "log-shipper of the odd file exited with status $status"
wait_for 30 "the odd lines arrived" grep -aq '^odd:.* 4 - bad ?? bytes$' "$out"
grep -a '^odd:' "$out" | awk '{ print $2, length($4) }' | head -n 3 | tr '\n' ' ' |
        grep -qx '1 16384 2 16384 3 7232 ' || fail "the long line did not come in pieces of 16 KiB"

# No broker at port 1 of loopback.  --once gives up after the message
# timeout, says so, exits 1, and keeps its position.
printf 'one\ntwo\nthree\n' >"$logs/lost.log"
start shipper-lost "$shipper" -b 127.0.0.1:1 -H lost -p "$work/lost.pos" --once \
        -X message.timeout.ms=2000 "$logs/lost.log"
await shipper-lost 30
((status == 1)) || fail "log-shipper --once with no broker exited with status $status, want 1"
grep -q 'lost.log: line 1 was not delivered' "$work/shipper-lost.log" ||
        fail "log-shipper with no broker did not say line 1 was not delivered"
grep -q '^1 ' <(tail -n 1 "$work/lost.pos") || fail "the position moved past lines not delivered: $(cat "$work/lost.pos")"
# Following: SIGTERM waits --grace-ms for the three, then saves and says.
start shipper-lost "$shipper" -b 127.0.0.1:1 -H lost -p "$work/lost.pos" --grace-ms 500 \
        -n 3 "$logs/lost.log"
# Three lines on their way and no room for more.
wait_for 10 "the shipper sent the three lines" grep -q 'reading paused' "$work/shipper-lost.log"
stop_clean shipper-lost
grep -q '^log-shipper: stopped: 1 file, 3 lines read, 0 shipped, 3 to send again at the next start' \
        "$work/shipper-lost.log" || fail "the stopped shipper's summary is wrong"
# With the broker: the three go out, marked as possibly sent before.
start shipper-lost "$shipper" -H lost -p "$work/lost.pos" --once "$logs/lost.log"
await shipper-lost 30
((status == 0)) || fail "log-shipper with the broker back exited with status $status"
grep -q 'lost.log: resuming at line 1; lines 1-3 may have been sent before' \
        "$work/shipper-lost.log" || fail "the three lines were not announced as resent"
wait_for 30 "the three lines arrived" grep -q '^lost:.* 3 - three$' "$out"

! grep -q 'missing' "$work/collector.log" || fail "the collector reported a gap"
stop_clean collector
grep -q '0 repeats dropped (0 not marked resent), 0 gaps; ' "$work/collector.log" ||
        fail "the collector's summary is wrong: $(grep stopped "$work/collector.log")"
stop_clean broker
note "ok: $((total + 9)) lines from 5 files"
