#!/usr/bin/env bash
# examples/stream-processing: devices registers the devices' sites, then
# readings go through sensor-sim -> enrich -> averager -> rules -> actions,
# five processes joined by events keyed by device, and what comes out does
# not depend on a crash.
#
# The same registrations and 6,300 readings (20 devices, 300 s of
# measurement time each; dev-7 restarts half-way and numbers its readings
# from 1 again; dev-6 sends every reading twice) go through the pipeline
# twice, each time on a fresh broker: once undisturbed, the readings
# published at once (a backlog, which enrich must hand on in order), once
# published over 9 s with averager, the middle stage, and one of two
# enrich instances killed with SIGKILL mid-stream; averager is started
# again, the other enrich takes over.  Both runs must produce the same averages
# per device and 10-second window (averager keeps its sums in a kbus
# window and the last reading of each device in a table, restored after
# the crash; a repeated reading is not counted), the same alerts (rules
# keeps its runs in a table and ignores an average it has seen), the same
# acknowledgements, one per alert (actions keeps what it acknowledged in a
# table), and the same one restart of dev-7, with repeats allowed only if
# identical.  Every average counts 10 readings.  The sites come from the
# registrations, through enrich's table; the surviving enrich knows the
# sites of the partitions it took over from its changelog.  Then actions
# is restarted and every alert replayed: none is acknowledged again.
# Last, 50,000 readings through a producer queue of 1,000 messages: all
# must reach the topic.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_python_kafka
dir=$builddir/examples/stream-processing
check=$(dirname "$0")/stream_check.py
need_built "$kbus_prog" "$dir/devices" "$dir/sensor-sim" "$dir/enrich" \
        "$dir/averager" "$dir/rules" "$dir/actions"

devices=20 rounds=300
t0=1699999980000 # 2023-11-14T22:13:00Z, a window's start
# Every partition has readings up to round 299: with grace 5 s, windows up
# to 290 s close, 29 per device; the last stays open.
want_averages=$((devices * 29))

# A bad line in the registrations is named by its file and line number,
# and nothing is published.
printf '# devices\ndev-1 plant-north\ndev-2\n' >"$work/bad-devices.txt"
if run 10 "$dir/devices" "$work/bad-devices.txt" 2>"$work/bad-devices.err"; then
        fail "devices published a bad registration file"
fi
grep -q "bad-devices.txt:3: expected \"DEVICE SITE\"" "$work/bad-devices.err" ||
        fail "devices did not name the bad line: $(cat "$work/bad-devices.err")"

# Every device but dev-5 is registered; dev-2 moves from the roof to
# plant-north (the later registration wins); dev-20 is registered, then
# unregistered.
sites=(plant-north plant-south warehouse roof)
{
        echo "dev-2 roof"
        for ((d = 1; d <= devices; d++)); do
                ((d == 5)) || echo "dev-$d ${sites[d % 4]}"
        done
        echo "dev-2 plant-north"
        echo "dev-20 -"
} >"$work/devices.txt"
n_registrations=$(wc -l <"$work/devices.txt")

# on_topic TOPIC: how many records TOPIC holds.
on_topic() {
        "$python" - "$BOOTSTRAP" "$1" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=None)
parts = [TopicPartition(sys.argv[2], p) for p in c.partitions_for_topic(sys.argv[2]) or []]
ends, begins = c.end_offsets(parts), c.beginning_offsets(parts)
print(sum(ends[p] - begins[p] for p in parts))
PY
}

# averages_counted: distinct device windows rules has counted.
averages_counted() { grep -c '^AVERAGE ' "$work/rules.out" || true; }

# pipeline RUN [kill]: the whole pipeline on a fresh broker, the
# registrations and readings through it, and what came out into
# $work/RUN.results.
pipeline() {
        local run=$1 kill=${2:-} at enrich=(enrich) interval=0
        start_broker
        run 30 "$dir/devices" "$work/devices.txt" 2>>"$work/devices.log" ||
                fail "$run: devices failed: $(tail -n 3 "$work/devices.log")"
        if [[ -n $kill ]]; then
                enrich+=(enrich-2)
                interval=30
        fi
        for e in "${enrich[@]}"; do
                start "$e" "$dir/enrich"
        done
        start averager "$dir/averager"
        start rules "$dir/rules" -v
        start actions "$dir/actions"
        wait_for_line averager '^ready$' 60
        # The registrations are in the sites table (and committed) before
        # the first reading.
        wait_for 60 "enrich's $n_registrations registrations" \
                all_committed enrich iot.v1.DeviceRegistration
        # Undisturbed, the readings go out at once, as a backlog; with a
        # crash, over 9 s, so that it comes mid-stream.
        start sensor-sim "$dir/sensor-sim" -d "$devices" -n "$rounds" \
                -i "$interval" -s "$t0" -r 7:150 -x 6
        if [[ -n $kill ]]; then
                has_some() { (($(averages_counted) >= want_averages / 4)); }
                wait_for 60 "a quarter of the averages" has_some
                # Once they have committed, so that a restart does not
                # simply read everything again.
                wait_for 60 "averager's first commits" \
                        all_committed averager iot.v1.EnrichedReading
                wait_for 60 "enrich's first commits" \
                        all_committed enrich iot.v1.Reading
                crash averager
                crash enrich-2
                at=$(averages_counted)
                running sensor-sim || fail "sensor-sim had ended before the crash"
                note "$run: averager and one enrich killed after $at of $want_averages averages"
                start averager "$dir/averager"
        fi
        await sensor-sim 60
        ((status == 0)) || fail "sensor-sim exited with status $status"
        all_counted() { (($(averages_counted) >= want_averages)); }
        wait_for 120 "$want_averages averages counted by rules" all_counted
        # Every average is on its topic once rules has counted it; an alert
        # goes out once rules has written the state change that fired it,
        # after it printed it; an acknowledgement likewise.
        all_out() {
                local printed
                timeout $((60 * slow)) "$python" "$check" "$BOOTSTRAP" \
                        >"$work/$run.results" 2>"$work/$run.check" ||
                        fail "$run: $(cat "$work/$run.check")"
                printed=$(grep '^ALERT ' "$work/rules.out" | sort -u | wc -l)
                (($(grep -c '^ALERT ' "$work/$run.results") == printed &&
                        $(grep -c '^ACK ' "$work/$run.results") == printed))
        }
        wait_for 60 "every alert rules printed, and its acknowledgement" all_out
        note "$run: $(grep -c '^AVERAGE' "$work/$run.results") averages," \
                "$(grep -c '^ALERT' "$work/$run.results") alerts," \
                "$(grep -c '^ACK' "$work/$run.results") acknowledgements," \
                "from $(on_topic iot.v1.EnrichedReading) enriched readings;" \
                "$(tail -n 1 "$work/$run.check")"
        if [[ -z $kill ]]; then
                replay_alerts
        fi
        stop_clean actions rules averager "${enrich[@]:0:1}" broker
}

# replay_alerts: actions restarted, then every alert sent again (and one
# with another ce_id): each is recognised as acknowledged already, from
# the table actions restored.
replay_alerts() {
        local n
        stop_clean actions
        start actions "$dir/actions"
        n=$(timeout $((60 * slow)) "$python" "$check" "$BOOTSTRAP" --replay-alerts) ||
                fail "could not replay the alerts"
        handled() { (($(grep -Ec '^(ACK|REPEAT) ' "$work/actions.out") >= n)); }
        wait_for 60 "actions to take the $n alerts sent again" handled
        (($(grep -c '^REPEAT ' "$work/actions.out") == n)) ||
                fail "alerts sent again were acknowledged again: $(grep '^ACK ' "$work/actions.out" | head -n 3)"
        "$python" "$check" "$BOOTSTRAP" ACK >"$work/replayed.results" 2>"$work/replayed.check" ||
                fail "after the replay: $(cat "$work/replayed.check")"
        diff <(grep '^ACK ' "$work/undisturbed.results") "$work/replayed.results" >/dev/null ||
                fail "the acknowledgements changed after the replay"
        note "$n alerts sent again to a restarted actions: none acknowledged again"
}

pipeline undisturbed
pipeline crashed kill

results=$work/undisturbed.results
n=$(grep -c '^AVERAGE' "$results")
((n == want_averages)) || fail "$n averages in the undisturbed run, want $want_averages"
grep -q '^ALERT ' "$results" || fail "no alert in the undisturbed run"
diff "$results" "$work/crashed.results" >"$work/diff.out" ||
        fail "the run with a crash differs from the undisturbed one: $(head -n 10 "$work/diff.out")"
# (averager's log holds both runs; the first restores nothing.  Its calls
# write two tables, whose entries are applied once both are read, after
# the line that counts them: the line's changelog records say more.)
grep -Eq 'table averages partition [0-9]+ restored: [0-9]+ entries, [1-9][0-9]* changelog records' "$work/averager.log" ||
        fail "the restarted averager restored no open window"
grep -Eq 'table sites partition [0-9]+ restored: [1-9][0-9]* entries' "$work/enrich.log" ||
        fail "the surviving enrich restored no site"

# Each window of each device counts its 10 readings: dev-6's second copies
# are not counted, and dev-7's readings after its restart are.
bad=$(awk '$1 == "AVERAGE" && $7 != 10' "$results")
[[ -z $bad ]] || fail "averages not of 10 readings: $(head -n 3 <<<"$bad")"
# dev-7's restart is said once: reading 1 after 149, measured at 150 s.
restarts=$(grep '^RESTART ' "$results" || true)
[[ $restarts == "RESTART dev-7 149 1 $((t0 + 149000)) 1 ${sites[7 % 4]}" ]] ||
        fail "want one restart of dev-7, got: [$restarts]"
grep -q '^RESTART dev-7 reading 1 after reading 149 (restart 1)$' "$work/averager.out" ||
        fail "averager did not say that dev-7 restarted"
# One acknowledgement per alert, of the same device and window.
diff <(awk '$1 == "ALERT" { print $2, $3 }' "$results") \
        <(awk '$1 == "ACK" { print $2, $3 }' "$results") >"$work/acks.diff" ||
        fail "alerts and acknowledgements differ: $(head -n 5 "$work/acks.diff")"

# The sites come from the registrations: the latest one of a device; a
# device never registered (dev-5) or unregistered (dev-20) is unassigned.
grep -q "^AVERAGE dev-1 $t0 $((t0 + 10000)) plant-south " "$results" ||
        fail "dev-1's first average is not at plant-south"
grep -q "^AVERAGE dev-2 $t0 $((t0 + 10000)) plant-north " "$results" ||
        fail "dev-2's first average is not at plant-north, its latest site"
grep -q '^ALERT dev-4 [0-9]* plant-north ' "$results" || fail "no alert for dev-4 at plant-north"
grep -q '^ALERT dev-5 [0-9]* unassigned ' "$results" || fail "dev-5 is not unassigned"
grep -q '^AVERAGE dev-20 [0-9]* [0-9]* unassigned ' "$results" || fail "dev-20 is not unassigned"
grep -Eq '^ACK dev-5 [0-9]+ unassigned [0-9.]+ dev-5/1$' "$results" ||
        fail "no acknowledgement of dev-5's first alert"

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
n=$(on_topic iot.v1.Reading)
((n == n_bulk)) || fail "$n readings on iot.v1.Reading, want $n_bulk"
stop_clean broker
note "ok"
