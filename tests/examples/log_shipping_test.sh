#!/usr/bin/env bash
# examples/log-aggregation under faults.  A writer appends numbered lines
# to two files; log-shipper follows both into log-collector's merged
# stream while, mid-stream:
#   - the shipper is killed with SIGKILL and started again after a.log was
#     rotated by renaming: it must finish the renamed file from its saved
#     position before it reads the new one;
#   - the collector is killed with SIGKILL and started again;
#   - b.log is rotated by copy and truncation (copytruncate) after a burst
#     of lines, so that some are read from the copy;
#   - the broker goes down for a few seconds (kbus broker, SIGUSR1 and
#     SIGUSR2): the shipper pauses with a bounded number of lines in
#     flight; it is killed with its lines in flight and started again,
#     then stopped with SIGTERM (lines still in flight) and started again;
#     then a.log is rotated again, renamed while the shipper is running
#     and paused, so with unread lines in the old file.
# Every line must arrive exactly once in the merged stream, in order per
# file and numbered 1..n per file across the rotations; lines sent again
# after the crash must be marked as such (the collector reports unmarked
# repeats); no gap may be reported; both programs stop cleanly at the end.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

dir=$builddir/examples/log-aggregation
need_built "$kbus_prog" "$dir/log-shipper" "$dir/log-collector"

n=4000        # lines per file
in_flight=200 # the shipper's bound
logs=$work/logs
out=$work/merged.log
positions=$work/shipper.positions
mkdir -p "$logs"

start_broker --partitions 4 --topic logs.v1.LogLine
start collector "$dir/log-collector" -o "$out"
wait_for 60 "the collector's group joined" grep -q '^log-collector: ready$' "$work/collector.log"

shipper_args=(-H testhost -p "$positions" -n "$in_flight" --poll-ms 100
        --rotate-wait-ms 500 --grace-ms 1000 -X reconnect.backoff.max.ms=500
        "$logs/a.log" "$logs/b.log")
start shipper "$dir/log-shipper" "${shipper_args[@]}"

# The text of line I of file F, as the writer writes it: every 7th line is
# an error, the others are info.
line_of() {
        local level=INFO
        (($2 % 7 == 0)) && level=ERROR
        printf '2024-05-01T12:00:00.000Z %s %s line %d\n' "$level" "$1" "$2"
}

# Writes lines 1..n to both files, about 200 a second each, and reports
# its progress in $work/written.  Lines 1451-1500 of b.log come as fast as
# bash can write them, right before its copytruncate.  a.log is renamed at
# line 600, and again when $work/rotate-a appears.
rotate_a() {
        rm "$work/rotate-a"
        mv "$logs/a.log.1" "$logs/a.log.2"
        mv "$logs/a.log" "$logs/a.log.1"
        echo "$1" >"$work/rotated-a"
}
writer() {
        local i
        for ((i = 1; i <= n; i++)); do
                line_of a "$i" >>"$logs/a.log"
                line_of b "$i" >>"$logs/b.log"
                if ((i == 600)); then
                        mv "$logs/a.log" "$logs/a.log.1"
                elif ((i == 1500)); then
                        cp "$logs/b.log" "$logs/b.log.1"
                        : >"$logs/b.log"
                elif [[ -e $work/rotate-a ]]; then
                        rotate_a "$i"
                fi
                if ((i % 10 == 0 && !(i > 1450 && i <= 1500))); then
                        sleep 0.05
                        echo "$i" >"$work/written.tmp"
                        mv "$work/written.tmp" "$work/written"
                fi
        done
        # A slow run may reach the end before the second rename is asked for.
        for ((i = 0; i < 600 * slow; i++)); do
                if [[ -e $work/rotated-a ]]; then
                        return
                elif [[ -e $work/rotate-a ]]; then
                        rotate_a "$n"
                        return
                fi
                sleep 0.1
        done
}
writer &
names+=(writer)
pids+=("$!")

written() { cat "$work/written" 2>/dev/null || echo 0; }
at_least() { (($(written) >= $1)); }

# 1. The shipper dies with lines in flight; a.log is renamed meanwhile.
wait_for 60 "the writer reached line 500" at_least 500
crash shipper
note "shipper killed at line $(written) of the writer"
wait_for 60 "the writer reached line 700" at_least 700
start shipper "$dir/log-shipper" "${shipper_args[@]}"
note "shipper started again at line $(written) of the writer"

# 2. The collector dies while writing.
wait_for 60 "the writer reached line 1000" at_least 1000
crash collector
note "collector killed at line $(written) of the writer, $(wc -l <"$out") lines collected"
start collector "$dir/log-collector" -o "$out"

# 3. The broker goes away for about 4 s, after the copytruncate rotation;
# the writer renames a.log again meanwhile.
wait_for 60 "the writer reached line 2000" at_least 2000
kill -USR1 "$(pid_of broker)"
note "broker down at line $(written) of the writer"
paused() { (($(grep -c 'reading paused' "$work/shipper.log") >= $1)); }
wait_for 10 "the shipper paused" paused 1
# Bounded: each file's reservation stays within two bounds of its saved
# position, whatever the writer adds meanwhile.
sleep 1
bounded() {
        awk -v max=$((2 * in_flight)) 'NR > 1 && $2 - $1 >= max { bad = 1 } END { exit bad }' \
                "$positions" || fail "the shipper kept reading while the broker was down: $(cat "$positions")"
}
bounded
# Killed with its lines in flight, started again: still bounded, and
# what was in flight goes out again.
crash shipper
note "shipper killed during the outage"
resumed() { (($(grep -c 'marked resent$' "$work/shipper.log") > $1)); }
before=$(grep -c 'marked resent$' "$work/shipper.log" || true)
start shipper "$dir/log-shipper" "${shipper_args[@]}"
# Lines were in flight: the new one sends them again, marked.
wait_for 10 "the restarted shipper announced its resends" resumed "$before"
wait_for 10 "the shipper paused again" paused 2
bounded
# Stopped with SIGTERM with lines in flight: it waits --grace-ms for them,
# keeps its position before them, says how many go out again, exits 0.
stop_clean shipper
grep -Eq '^log-shipper: stopped: 2 files, [0-9]+ lines read, 0 shipped, [1-9][0-9]* to send again at the next start' \
        "$work/shipper.log" || fail "the shipper stopped during the outage did not say what goes out again"
start shipper "$dir/log-shipper" "${shipper_args[@]}"
wait_for 10 "the shipper paused a third time" paused 3
touch "$work/rotate-a"
wait_for 10 "the shipper saw a.log renamed" grep -q 'a.log: rotated: a new file' "$work/shipper.log"
note "a.log renamed at line $(cat "$work/rotated-a") of the writer"
kill -USR2 "$(pid_of broker)"
note "broker up at line $(written) of the writer"
wait_for 30 "the shipper's deliveries resumed" grep -q 'deliveries resumed' "$work/shipper.log"

await writer 120
((status == 0)) || fail "the writer failed"
total=$((2 * n))
# Until every line is there; a gap reported fails at once, and so does a
# stream that stops growing for 20 s short of the total.
last_count=-1 last_change=$SECONDS
collected() {
        local count
        ! grep -q 'missing' "$work/collector.log" ||
                fail "the collector reported a gap: $(grep missing "$work/collector.log" | head -n 2)"
        count=$(wc -l <"$out")
        if ((count != last_count)); then
                last_count=$count last_change=$SECONDS
        elif ((SECONDS - last_change > 20 * slow)); then
                fail "the merged stream stopped at $count lines of $total"
        fi
        ((count >= total))
}
wait_for 120 "the collector wrote $total lines" collected
sleep 1 # a line too many would show now
got=$(wc -l <"$out")
((got == total)) || fail "the merged stream has $got lines, want $total"

# Every line of each file once, in order, numbered 1..n.
for f in a b; do
        src="testhost:$logs/$f.log"
        for ((i = 1; i <= n; i++)); do line_of "$f" "$i"; done >"$work/$f.want"
        awk -v s="$src" '$1 == s { print $2 }' "$out" >"$work/$f.seqs"
        seq "$n" | cmp -s - "$work/$f.seqs" ||
                fail "$f.log: sequence numbers are not 1..$n in order ($(seq "$n" | diff - "$work/$f.seqs" | head -n 4 | tr '\n' ' '))"
        awk -v s="$src" '$1 == s' "$out" | cut -d' ' -f4- >"$work/$f.got"
        cmp -s "$work/$f.want" "$work/$f.got" ||
                fail "$f.log: the lines are not all there in order ($(diff "$work/$f.want" "$work/$f.got" | head -n 4 | tr '\n' ' '))"
        errors=$(awk -v s="$src" '$1 == s && $3 == "ERROR"' "$out" | wc -l)
        ((errors == n / 7)) || fail "$f.log: $errors lines at level ERROR, want $((n / 7))"
done
! grep -q 'missing' "$work/collector.log" ||
        fail "the collector reported a gap: $(grep missing "$work/collector.log" | head -n 2)"
! grep -q 'not marked resent:' "$work/collector.log" ||
        fail "lines came again unmarked: $(grep 'not marked resent:' "$work/collector.log" | head -n 2)"
grep -q 'a.log: rotated while the shipper was stopped: the rest of .*a.log.1 is read first' \
        "$work/shipper.log" || fail "the restarted shipper did not finish the renamed a.log"
grep -q 'a.log: rotated: a new file' "$work/shipper.log" || fail "the shipper saw no rotation of a.log"
grep -q 'b.log: truncated; its lines after byte [0-9]* are read from the copy' "$work/shipper.log" ||
        fail "the shipper did not read the end of b.log from its copy"

stop_clean shipper
grep '^log-shipper: stopped' "$work/shipper.log" | tail -n 1 |
        grep -Eq '^log-shipper: stopped: 2 files, [0-9]+ lines read, [0-9]+ shipped, 0 to send again' ||
        fail "the shipper's last summary is missing or shows unsent lines"
stop_clean collector
grep -Eq '^log-collector: stopped: [0-9]+ lines written, 2 sources seen, [0-9]+ repeats dropped \(0 not marked resent\), 0 gaps$' \
        "$work/collector.log" || fail "the collector's summary is missing or wrong"
note "shipper: $(grep -E '^log-shipper: (resuming|stopped)' "$work/shipper.log" | tr '\n' ' ')"
note "collector: $(grep -E '^log-collector: stopped' "$work/collector.log" | tr '\n' ' ')"
stop_clean broker
note "ok: $total lines, each once and in order, through two renames, a copytruncate, three kills, a stop and an outage"
