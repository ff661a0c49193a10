#!/usr/bin/env bash
# examples/stream-processing: readings go through sensor-sim -> enrich ->
# averager -> rules, four processes joined by events keyed by device, and
# the averages and alerts that come out do not depend on a crash.
#
# The same 6,000 readings (20 devices, 300 s of measurement time each,
# published over 9 s) go through the pipeline twice, each time on a fresh
# broker: once undisturbed, once with averager, the middle stage, killed
# with SIGKILL mid-stream and started again.  Both runs must produce the
# same averages per device and 10-second window (averager keeps its sums
# in a kbus window, restored after the crash) and the same alerts (rules
# keeps its runs in a table and ignores an average it has seen), with
# repeats allowed only if identical.  Then 50,000 readings through a
# producer queue of 1,000 messages: all must reach the topic.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_python_kafka
dir=$builddir/examples/stream-processing
need_built "$kbus_prog" "$dir/sensor-sim" "$dir/enrich" "$dir/averager" "$dir/rules"

devices=20 rounds=300
t0=1699999980000 # 2023-11-14T22:13:00Z, a window's start
# Every partition has readings up to round 299: with grace 5 s, windows up
# to 290 s close, 29 per device; the last stays open.
want_averages=$((devices * 29))

# A bad line in the site table is named by its file and line number.
printf '# devices\ndev-1 plant-north\ndev-2\n' >"$work/bad-sites.txt"
if run 10 "$dir/enrich" -s "$work/bad-sites.txt" 2>"$work/bad-sites.err"; then
        fail "enrich started with a bad site table"
fi
grep -q "bad-sites.txt:3: expected \"DEVICE SITE\"" "$work/bad-sites.err" ||
        fail "enrich did not name the bad line: $(cat "$work/bad-sites.err")"
printf 'dev-1 plant-north\ndev-2 roof\n' >"$work/sites.txt"

# averages_counted: distinct device windows rules has counted.
averages_counted() { grep -c '^AVERAGE ' "$work/rules.out" || true; }

# pipeline RUN [kill]: the whole pipeline on a fresh broker, the readings
# through it, and what came out into $work/RUN.results.
pipeline() {
        local run=$1 kill=${2:-} at
        start_broker
        start enrich "$dir/enrich" -s "$work/sites.txt"
        start averager "$dir/averager"
        start rules "$dir/rules" -v
        wait_for_line averager '^ready$' 60
        start sensor-sim "$dir/sensor-sim" -d "$devices" -n "$rounds" -i 30 -s "$t0"
        if [[ -n $kill ]]; then
                has_some() { (($(averages_counted) >= want_averages / 4)); }
                wait_for 60 "a quarter of the averages" has_some
                # Once it has committed, so that a restart does not simply
                # read everything again.
                wait_for 60 "averager's first commits" \
                        all_committed averager iot.v1.EnrichedReading
                crash averager
                at=$(averages_counted)
                running sensor-sim || fail "sensor-sim had ended before the crash"
                note "$run: averager killed after $at of $want_averages averages"
                start averager "$dir/averager"
        fi
        await sensor-sim 60
        ((status == 0)) || fail "sensor-sim exited with status $status"
        all_counted() { (($(averages_counted) >= want_averages)); }
        wait_for 120 "$want_averages averages counted by rules" all_counted
        # Every average is on its topic once rules has counted it; an alert
        # goes out once rules has written the state change that fired it,
        # after it printed it.
        alerts_out() {
                local printed
                timeout $((60 * slow)) "$python" "$(dirname "$0")/stream_check.py" \
                        "$BOOTSTRAP" >"$work/$run.results" 2>"$work/$run.check" ||
                        fail "$run: $(cat "$work/$run.check")"
                printed=$(grep '^ALERT ' "$work/rules.out" | sort -u | wc -l)
                (($(grep -c '^ALERT ' "$work/$run.results") == printed))
        }
        wait_for 60 "every alert rules printed on iot.v1.Alert" alerts_out
        note "$run: $(grep -c '^AVERAGE' "$work/$run.results") averages," \
                "$(grep -c '^ALERT' "$work/$run.results") alerts; $(tail -n 1 "$work/$run.check")"
        stop_clean rules averager enrich broker
}

pipeline undisturbed
pipeline crashed kill

n=$(grep -c '^AVERAGE' "$work/undisturbed.results")
((n == want_averages)) || fail "$n averages in the undisturbed run, want $want_averages"
grep -q '^ALERT ' "$work/undisturbed.results" || fail "no alert in the undisturbed run"
diff "$work/undisturbed.results" "$work/crashed.results" >"$work/diff.out" ||
        fail "the run with a crash differs from the undisturbed one: $(head -n 10 "$work/diff.out")"
# (averager's log holds both runs; the first restores nothing.)
grep -Eq 'table averages partition [0-9]+ restored: [1-9][0-9]* entries' "$work/averager.log" ||
        fail "the restarted averager restored no open window"

# The sites come from enrich's table; devices not in it are "unassigned".
grep -q "^AVERAGE dev-1 $t0 $((t0 + 10000)) plant-north " "$work/undisturbed.results" ||
        fail "dev-1's first average is not at plant-north"
grep -q '^ALERT dev-2 [0-9]* roof ' "$work/undisturbed.results" ||
        fail "no alert for dev-2 at roof"
grep -q '^ALERT dev-5 [0-9]* unassigned ' "$work/undisturbed.results" ||
        fail "dev-5 is not unassigned"

# A generator publishing far more readings than its producer's queue holds
# (1,000 messages here; 100,000 by default) waits for room instead of
# failing: every reading is delivered.
n_bulk=50000
start_broker
printf 'producer = [ "queue.buffering.max.messages=1000" ];\n' >"$work/small-queue.conf"
run 60 "$dir/sensor-sim" -c "$work/small-queue.conf" -d 50 -n $((n_bulk / 50)) \
        2>"$work/sensor-bulk.log" ||
        fail "sensor-sim with $n_bulk readings failed: $(grep -v "^{" "$work/sensor-bulk.log" | tail -3)"
summary=$(grep '^sensor-sim: .* readings published' "$work/sensor-bulk.log" || true)
note "$summary"
[[ $summary =~ ^sensor-sim:\ $n_bulk\ readings\ published,\ $n_bulk\ delivered,.*waited\ for\ room\ [1-9][0-9]*\ times ]] ||
        fail "sensor-sim did not deliver $n_bulk readings after waiting for room: [$summary]"
on_topic=$("$python" - "$BOOTSTRAP" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=None)
parts = [TopicPartition("iot.v1.Reading", p) for p in c.partitions_for_topic("iot.v1.Reading")]
ends, begins = c.end_offsets(parts), c.beginning_offsets(parts)
print(sum(ends[p] - begins[p] for p in parts))
PY
)
((on_topic == n_bulk)) || fail "$on_topic readings on iot.v1.Reading, want $n_bulk"
stop_clean broker
note "ok"
