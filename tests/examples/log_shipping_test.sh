#!/usr/bin/env bash
# examples/log-aggregation under faults.  A writer appends numbered,
# timestamped lines to two files; log-shipper follows both into the merged
# stream of two log-collectors of one group, which share its output file
# and count the lines of each file per minute of their timestamps, while,
# mid-stream:
#   - the shipper is killed with SIGKILL and started again after a.log was
#     rotated by renaming: it must finish the renamed file from its saved
#     position before it reads the new one;
#   - the collector counting a.log is killed with SIGKILL and started
#     again: its sources, their open minutes included, go to the other;
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
# The counts per file and minute on logs.v1.ErrorCount must be those of the
# files (log_counts_check.py), with three late lines appended at the end:
# one counted as an update of its closed minute, two too late, written and
# not counted.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

dir=$builddir/examples/log-aggregation
need_built "$kbus_prog" "$dir/log-shipper" "$dir/log-collector"

n=4000        # lines per file
in_flight=200 # the shipper's bound
grace=10000   # the collectors' grace period, ms of logged time
retain=180000 # how long they keep a closed minute for late lines
logs=$work/logs
out=$work/merged.log
positions=$work/shipper.positions
mkdir -p "$logs"

need_python_kafka
start_broker --partitions 4 --topic logs.v1.LogLine
collector_args=(-o "$out" -g "$grace" -r "$retain")
start collector-1 "$dir/log-collector" "${collector_args[@]}"
start collector-2 "$dir/log-collector" "${collector_args[@]}"
for c in collector-1 collector-2; do
        wait_for 60 "$c joined the group" grep -q '^log-collector: ready$' "$work/$c.log"
done

shipper_args=(-H testhost -p "$positions" -n "$in_flight" --poll-ms 100
        --rotate-wait-ms 500 --grace-ms 1000 -X reconnect.backoff.max.ms=500
        "$logs/a.log" "$logs/b.log")
start shipper "$dir/log-shipper" "${shipper_args[@]}"

# The text of line I of file F, as the writer writes it: logged 100 ms
# after line I-1 from 2024-05-01T12:00:00Z, so that the n lines cover six
# minutes and a bit; every 7th line an error, every other 11th a warning.
line_of() {
        local level=INFO ms=$(($2 * 100))
        if (($2 % 7 == 0)); then
                level=ERROR
        elif (($2 % 11 == 0)); then
                level=WARN
        fi
        printf '2024-05-01T12:%02d:%02d.%03dZ %s %s line %d\n' $((ms / 60000)) \
                $((ms / 1000 % 60)) $((ms % 1000)) "$level" "$1" "$2"
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

# 2. The collector counting a.log dies while writing, with a.log's second
# minute open (the first has closed, so it says which collector it is).
wait_for 60 "the writer reached line 1000" at_least 1000
counts_a() { grep -l "^log-collector: minute 2024-05-01T12:00Z testhost:$logs/a.log: " \
        "$work"/collector-[12].log 2>/dev/null | head -n 1; }
wait_for 30 "the first minute of a.log counted" counts_a
victim=$(basename "$(counts_a)" .log)
other=collector-1
[[ $victim == collector-1 ]] && other=collector-2
victim_lines=$(wc -l <"$work/$victim.log")
other_lines=$(wc -l <"$work/$other.log")
crash "$victim"
note "$victim killed at line $(written) of the writer, $(wc -l <"$out") lines collected"
start "$victim" "$dir/log-collector" "${collector_args[@]}"

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
# Late lines, after a.log's line n (logged at 12:06:40, so its partition's
# time is 12:06:30 by then): one of 12:05, whose minute closed at 12:06:10
# and is kept, counted as an update of it; one of 12:00 and a line without
# a time of its own after it (a stack trace's: it takes that time), past
# the time a closed minute is kept: written, not counted.
late_lines=('2024-05-01T12:05:30.000Z ERROR a late line, counted'
        '2024-05-01T12:00:30.000Z ERROR a line too late to count'
        '    at the stack of the line too late')
printf '%s\n' "${late_lines[@]}" >>"$logs/a.log"
total=$((2 * n + ${#late_lines[@]}))
# Until every line is there; a gap reported fails at once, and so does a
# stream that stops growing for 20 s short of the total.
last_count=-1 last_change=$SECONDS
collected() {
        local count
        ! cat "$work"/collector-[12].log | grep -q 'missing' ||
                fail "a collector reported a gap: $(cat "$work"/collector-[12].log | grep missing | head -n 2)"
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

# Every line of each file once, in order, numbered 1..m.
for f in a b; do
        src="testhost:$logs/$f.log"
        {
                for ((i = 1; i <= n; i++)); do line_of "$f" "$i"; done
                [[ $f == b ]] || printf '%s\n' "${late_lines[@]}"
        } >"$work/$f.want"
        m=$(wc -l <"$work/$f.want")
        awk -v s="$src" '$1 == s { print $2 }' "$out" >"$work/$f.seqs"
        seq "$m" | cmp -s - "$work/$f.seqs" ||
                fail "$f.log: sequence numbers are not 1..$m in order ($(seq "$m" | diff - "$work/$f.seqs" | head -n 4 | tr '\n' ' '))"
        awk -v s="$src" '$1 == s' "$out" | cut -d' ' -f4- >"$work/$f.got"
        cmp -s "$work/$f.want" "$work/$f.got" ||
                fail "$f.log: the lines are not all there in order ($(diff "$work/$f.want" "$work/$f.got" | head -n 4 | tr '\n' ' '))"
        errors=$(awk -v s="$src" '$1 == s && $3 == "ERROR"' "$out" | wc -l)
        want=$(awk '$2 == "ERROR"' "$work/$f.want" | wc -l)
        ((errors == want)) || fail "$f.log: $errors lines at level ERROR, want $want"
done
collector_logs=$(cat "$work"/collector-[12].log)
! grep -q 'missing' <<<"$collector_logs" ||
        fail "a collector reported a gap: $(grep missing <<<"$collector_logs" | head -n 2)"
! grep -q 'not marked resent:' <<<"$collector_logs" ||
        fail "lines came again unmarked: $(grep 'not marked resent:' <<<"$collector_logs" | head -n 2)"

# The counts per file and minute, against the files (a.log and b.log with
# their rotated predecessors, oldest first).
timeout $((150 * slow)) "$python" "$(dirname "$0")/log_counts_check.py" "$BOOTSTRAP" \
        "$grace" "$retain" "testhost:$logs/a.log=$logs/a.log.2,$logs/a.log.1,$logs/a.log" \
        "testhost:$logs/b.log=$logs/b.log.1,$logs/b.log" --wait $((60 * slow)) \
        >"$work/counts.out" 2>&1 || fail "the counts per minute are not those of the files: $(cat "$work/counts.out")"
note "counts: $(head -n 1 "$work/counts.out")"
for seq in $((n + 2)) $((n + 3)); do
        grep -q "^  refused: testhost:$logs/a.log line $seq " "$work/counts.out" ||
                fail "line $seq of a.log was not too late: $(cat "$work/counts.out")"
        grep -q "a.log: line $seq of minute 2024-05-01T12:00Z came after the minute was closed and let go: written, not counted" \
                <<<"$collector_logs" || fail "no collector said that line $seq of a.log was not counted"
done
grep -q ' refused=2 ' "$work/counts.out" || fail "other lines were refused: $(cat "$work/counts.out")"
grep -Eq "^log-collector: minute 2024-05-01T12:05Z testhost:$logs/a.log: [0-9]+ errors, .* \(again: a late line changed it\)$" \
        <<<"$collector_logs" || fail "the late line of 12:05 did not update its minute"
# The killed collector's windows were restored from their changelog
# wherever a.log went after the crash.  (The entries the log line counts
# are those of the table alone: calls that wrote both tables are applied
# once both are restored, just after.)
restores=$({ tail -n +$((victim_lines + 1)) "$work/$victim.log"; tail -n +$((other_lines + 1)) "$work/$other.log"; } |
        grep -Eo 'table errors_per_minute partition [0-9]+ restored: [0-9]+ entries, [1-9][0-9]* changelog records' || true)
[[ -n $restores ]] || fail "no window partition was restored from its changelog after the crash"
grep -q 'a.log: rotated while the shipper was stopped: the rest of .*a.log.1 is read first' \
        "$work/shipper.log" || fail "the restarted shipper did not finish the renamed a.log"
grep -q 'a.log: rotated: a new file' "$work/shipper.log" || fail "the shipper saw no rotation of a.log"
grep -q 'b.log: truncated; its lines after byte [0-9]* are read from the copy' "$work/shipper.log" ||
        fail "the shipper did not read the end of b.log from its copy"

stop_clean shipper
grep '^log-shipper: stopped' "$work/shipper.log" | tail -n 1 |
        grep -Eq '^log-shipper: stopped: 2 files, [0-9]+ lines read, [0-9]+ shipped, 0 to send again' ||
        fail "the shipper's last summary is missing or shows unsent lines"
stop_clean collector-1 collector-2
not_counted=0
summary_re='^log-collector: stopped: [0-9]+ lines written, [0-9]+ sources? seen, [0-9]+ repeats dropped \(0 not marked resent\), 0 gaps; [0-9]+ minutes counted, [0-9]+ updated by late lines, ([0-9]+) lines not counted$'
for c in collector-1 collector-2; do
        summary=$(grep '^log-collector: stopped' "$work/$c.log" | tail -n 1)
        [[ $summary =~ $summary_re ]] || fail "$c's summary is missing or wrong: [$summary]"
        not_counted=$((not_counted + BASH_REMATCH[1]))
        note "$c: $summary"
done
((not_counted == 2)) || fail "the collectors did not count $not_counted lines, want 2"
note "shipper: $(grep -E '^log-shipper: (resuming|stopped)' "$work/shipper.log" | tr '\n' ' ')"
note "restored after the crash: $(tail -n 2 <<<"$restores" | tr '\n' ';')"
stop_clean broker
note "ok: $total lines, each once and in order, counted per minute, through two renames, a copytruncate, three kills, a stop and an outage"
