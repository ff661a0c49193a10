#!/usr/bin/env bash
# examples/stream-processing: readings go through sensor-sim -> enrich ->
# rules, three processes joined by keyed events, and exactly the expected
# alerts come out, with the site enrich added.  The readings of different
# devices are interleaved, so the rule's per-device run counts are right
# only if each device's readings reach rules in order.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_tool kcat
dir=$builddir/examples/stream-processing
need_built "$kbus_prog" "$dir/sensor-sim" "$dir/enrich" "$dir/rules"

# The readings, one round after another, every device once per round.
# With the rule "above 40 for 3 readings in a row":
#   dev-1: 45 46 47 | 30 | 41 42 43 44   two alerts, at seq 3 and 7
#   dev-2: 41 42 | 30 | 41 42 | 30       none: no run reaches 3
#   dev-edge: 40 x4                      none: 40 is not above 40
#   hot-1..hot-5: 50 x10                 one each, at seq 3
#   cool-1..cool-10: 20 x10              none
declare -A series=(
        [dev-1]="45 46 47 30 41 42 43 44"
        [dev-2]="41 42 30 41 42 30"
        [dev-edge]="40 40 40 40"
)
for i in 1 2 3 4 5; do series[hot-$i]="50 50 50 50 50 50 50 50 50 50"; done
for i in $(seq 10); do series[cool-$i]="20 20 20 20 20 20 20 20 20 20"; done
n_readings=0
for round in $(seq 0 9); do
        for dev in "${!series[@]}"; do
                read -r -a t <<<"${series[$dev]}"
                if ((round < ${#t[@]})); then
                        echo "$dev ${t[round]}"
                        n_readings=$((n_readings + 1))
                fi
        done
done >"$work/readings.txt"
want_alerts="dev-1 3
dev-1 7
hot-1 3
hot-2 3
hot-3 3
hot-4 3
hot-5 3"
n_alerts=7

printf 'dev-1 plant-north\nhot-1 roof\n' >"$work/sites.txt"

# A bad line in the site table is named by its file and line number.
printf '# devices\ndev-1 plant-north\ndev-2\n' >"$work/bad-sites.txt"
if run 10 "$dir/enrich" -s "$work/bad-sites.txt" 2>"$work/bad-sites.err"; then
        fail "enrich started with a bad site table"
fi
grep -q "bad-sites.txt:3: expected \"DEVICE SITE\"" "$work/bad-sites.err" ||
        fail "enrich did not name the bad line: $(cat "$work/bad-sites.err")"

start_broker
start enrich "$dir/enrich" -s "$work/sites.txt"
start rules "$dir/rules" -t 40 -n 3
# Both read their topics from the beginning (a new consumer group starts
# at the earliest offset), so the readings may go in at once.
run 30 "$dir/sensor-sim" --stdin <"$work/readings.txt" 2>>"$work/sensor-sim.log" ||
        fail "sensor-sim failed"
note "$n_readings readings published"

# Wait for the alerts on their topic.  -e stops at the end of the topic,
# which may come before the last alert: retry for up to 30 s
# (longer under a wrapper).
kcat_args=(-C -b "$BOOTSTRAP" -t iot.v1.Alert -o beginning -e -q
        -X fetch.wait.max.ms=10 -f '%k\n')
got=0
for _ in $(seq $((60 * slow))); do
        got=$(kcat "${kcat_args[@]}" -c "$n_alerts" 2>>"$work/kcat.log" | wc -l)
        ((got >= n_alerts)) && break
        sleep 0.5
done
((got >= n_alerts)) || fail "$got alerts on iot.v1.Alert within $((30 * slow)) s, want $n_alerts"

# Let rules finish the remaining readings (none of which should fire),
# then check there are exactly the expected alerts, no more.
n_enriched=0
for _ in $(seq $((40 * slow))); do
        n_enriched=$(kcat -C -b "$BOOTSTRAP" -t iot.v1.EnrichedReading -o beginning -e -q \
                -X fetch.wait.max.ms=10 -f '%k\n' 2>>"$work/kcat.log" | wc -l)
        ((n_enriched >= n_readings)) && break
        sleep 0.5
done
((n_enriched == n_readings)) ||
        fail "$n_enriched enriched readings, want $n_readings"
sleep $((2 * slow))
keys=$(kcat "${kcat_args[@]}" 2>>"$work/kcat.log" | sort)
printed=$(sed -n 's/^ALERT \([^ ]*\) .*seq=\([0-9]*\) .*/\1 \2/p' "$work/rules.out" | sort)
[[ $printed == "$want_alerts" ]] ||
        fail "rules printed alerts [$printed], want [$want_alerts]"
[[ $keys == "$(cut -d' ' -f1 <<<"$want_alerts")" ]] ||
        fail "alert keys on iot.v1.Alert: [$keys], want those of [$want_alerts]"

# The sites come from enrich's table; devices not in it are "unassigned".
grep -q '^ALERT dev-1 site=plant-north seq=3 ' "$work/rules.out" ||
        fail "no alert for dev-1 at plant-north"
grep -q '^ALERT hot-1 site=roof ' "$work/rules.out" ||
        fail "no alert for hot-1 at roof"
grep -q '^ALERT hot-2 site=unassigned ' "$work/rules.out" ||
        fail "hot-2 is not unassigned"

stop_clean rules
stop_clean enrich

# A generator publishing far more readings than its producer's queue holds
# (1,000 messages here; 100,000 by default) waits for room instead of
# failing: every reading is delivered.
n_bulk=50000
printf 'producer = [ "queue.buffering.max.messages=1000" ];\n' >"$work/small-queue.conf"
run 60 "$dir/sensor-sim" -c "$work/small-queue.conf" -d 50 -n $((n_bulk / 50)) \
        2>"$work/sensor-bulk.log" ||
        fail "sensor-sim with $n_bulk readings failed: $(grep -v "^{" "$work/sensor-bulk.log" | tail -3)"
summary=$(grep '^sensor-sim: .* readings published' "$work/sensor-bulk.log" || true)
note "$summary"
[[ $summary =~ ^sensor-sim:\ $n_bulk\ readings\ published,\ $n_bulk\ delivered,.*waited\ for\ room\ [1-9][0-9]*\ times ]] ||
        fail "sensor-sim did not deliver $n_bulk readings after waiting for room: [$summary]"
on_topic=$(kcat -C -b "$BOOTSTRAP" -t iot.v1.Reading -o beginning -e -q \
        -X fetch.wait.max.ms=10 -f '.\n' 2>>"$work/kcat.log" | wc -l)
((on_topic == n_readings + n_bulk)) ||
        fail "$on_topic readings on iot.v1.Reading, want $((n_readings + n_bulk))"

stop_clean broker
note "ok: $n_readings readings, $n_alerts alerts; $n_bulk more through a small queue"
