#!/usr/bin/env bash
# examples/activity-tracking: page views per page and minute of event time,
# in kbus windows, and each minute's top ten pages, exact across a crash.
#
# Two page-counters share the group and top-pages ranks.  Two front ends
# publish 20,000 views whose simulated clocks cover ten minutes, out of
# order by up to 3 s: web-1 15,000 at 1,500 a second, during which one
# counter and top-pages are killed with SIGKILL and started again; then
# web-2 the last 5,000 at once, through a producer queue of 1,000 (so it
# must wait for room).  Then one view comes far too late for its minute.
# activity_check.py works out from the views on the topic what must have
# come out, and it must be exactly that: one count per page and closed
# minute, equal to the views sent in it; none for a minute still open;
# each minute's ranking; the late view dead-lettered, and counted in
# window_late on /metrics.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_python_kafka
need_tool curl
dir=$builddir/examples/activity-tracking
need_built "$kbus_prog" "$dir/web-sim" "$dir/page-counter" "$dir/top-pages"

views=20000
grace=10000
t0=1699999980000 # 2023-11-14T22:13:00Z, a minute's start

printf 'http = "127.0.0.1:0";\n' >"$work/counter.conf"
printf 'producer = [ "queue.buffering.max.messages=1000" ];\n' >"$work/small-queue.conf"

start_broker
start a "$dir/page-counter" -c "$work/counter.conf" -g "$grace"
start b "$dir/page-counter" -c "$work/counter.conf" -g "$grace"
start top "$dir/top-pages"
for p in a b top; do wait_for_line "$p" '^ready$' 60; done

# minutes_out: how many minute counts the counters have printed so far.
minutes_out() { cat "$work/a.out" "$work/b.out" | grep -c '^MINUTE' || true; }

began=$(date +%s.%N)
start web-1 "$dir/web-sim" -f web-1 -n $((views * 3 / 4)) -r 1500 \
        -m $((views / 10)) -s "$t0" -j 3000

# Mid-stream: once some minutes have closed and both groups have committed
# (so that a restart does not simply read everything again), a and
# top-pages die and come back.
has_minutes() { (($(minutes_out) >= 40)); }
wait_for 60 "40 minute counts printed" has_minutes
wait_for 60 "page-counter's first commits" all_committed page-counter activity.v1.PageViewed
wait_for 60 "top-pages' first commits" all_committed top-pages activity.v1.PageViewsPerMinute
a_lines=$(wc -l <"$work/a.log")
crash a
crash top
killed_at=$(minutes_out)
running web-1 || fail "web-1 had ended before the crash"
note "a and top-pages killed after $killed_at minute counts"
start a "$dir/page-counter" -c "$work/counter.conf" -g "$grace"
start top "$dir/top-pages"
await web-1 60
((status == 0)) || fail "web-1 exited with status $status"

# The last quarter at once, through a small producer queue.
run 60 "$dir/web-sim" -c "$work/small-queue.conf" -f web-2 -n $((views / 4)) \
        -m $((views / 10)) -s $((t0 + 450000)) -j 3000 2>"$work/web-2.log" ||
        fail "web-2 failed: $(grep -v '^{' "$work/web-2.log" | tail -3)"
summary=$(grep '^web-sim: .* page views published' "$work/web-2.log" || true)
note "$summary"
[[ $summary =~ ^web-sim:\ $((views / 4))\ page\ views\ published,\ $((views / 4))\ delivered,.*waited\ for\ room\ [1-9][0-9]*\ times ]] ||
        fail "web-2 did not deliver $((views / 4)) views after waiting for room: [$summary]"
wait_for_line a '^ready$' 60

# A view of the first minute, long closed in every partition.
echo "late-user /products/3 $((t0 + 30000))" |
        run 30 "$dir/web-sim" -f web-late --stdin 2>>"$work/web-late.log" ||
        fail "web-sim --stdin failed"

timeout $((240 * slow)) "$python" "$(dirname "$0")/activity_check.py" "$BOOTSTRAP" \
        "$grace" --wait $((180 * slow)) >"$work/check.out" 2>&1 ||
        fail "the windows are not what was sent: $(cat "$work/check.out")"
secs=$(echo "$(date +%s.%N) - $began" | bc)
note "$(head -n 1 "$work/check.out") (in ${secs%.*} s)"
grep -q ' late=1 ' "$work/check.out" || fail "the late view was not late: $(cat "$work/check.out")"

# The crashed counter's partitions were restored from the changelog,
# entries and all, by whichever counter took them.
restores=$(tail -n +$((a_lines + 1)) "$work/a.log" | cat - "$work/b.log" |
        grep -Eo 'table views_per_minute partition [0-9]+ restored: [1-9][0-9]* entries, [0-9]+ changelog records' || true)
[[ -n $restores ]] || fail "no partition restored with its open windows after the crash"
note "restored after the crash: $(tail -n 2 <<<"$restores" | tr '\n' ';')"

# window_late on /metrics: the late view, counted once by whichever counter
# owns its page.
late_metric() {
        local port
        port=$(sed -nE 's|.*/metrics on 127\.0\.0\.1 port ([0-9]+).*|\1|p' "$work/$1.log" | tail -n 1)
        [[ -n $port ]] || fail "$1 logged no /metrics port"
        curl -sf "http://127.0.0.1:$port/metrics" |
                awk '/^kbus_window_late_total/ { n += $NF } END { print n + 0 }'
}
late=$(($(late_metric a) + $(late_metric b)))
((late == 1)) || fail "kbus_window_late_total is $late over both counters, want 1"

stop_clean a b top broker
note "ok"
