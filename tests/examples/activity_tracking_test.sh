#!/usr/bin/env bash
# examples/activity-tracking: two front ends (web-sim) publish page views
# at once; page-counter's totals per page come out exact, both on its
# stdout and as the newest PageViewCount record of each page.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_tool kcat
dir=$builddir/examples/activity-tracking
need_built "$kbus_prog" "$dir/web-sim" "$dir/page-counter"

printf '%s\n' 'u1 /' 'u2 /' 'u1 /cart' 'u3 /' 'u2 /cart' >"$work/web-1.txt"
printf '%s\n' 'u4 /products/42' 'u4 /' 'u5 /products/42' 'u4 /checkout' \
        'u6 /products/42' 'u5 /' 'u7 /products/42' >"$work/web-2.txt"
want="/ 5
/cart 2
/checkout 1
/products/42 4"

start_broker
start page-counter "$dir/page-counter" -i 200
for fe in web-1 web-2; do
        start "$fe" "$dir/web-sim" -f "$fe" --stdin <"$work/$fe.txt"
done
for fe in web-1 web-2; do
        await "$fe" 30
        ((status == 0)) || fail "web-sim $fe exited with status $status"
done

# latest: each page's newest total printed by page-counter, sorted.
latest() {
        awk '$1 == "COUNT" { n[$2] = $3 } END { for (p in n) print p, n[p] }' \
                "$work/page-counter.out" | sort
}
got=
for _ in $(seq $((60 * slow))); do
        got=$(latest)
        [[ $got == "$want" ]] && break
        sleep 0.5
done
[[ $got == "$want" ]] || fail "page-counter's totals are [$got], want [$want]"

# The same pages on the topic.  A total printed has been queued, not yet
# delivered, and -e stops at the end of the topic: retry for up to 20 s
# (longer under a wrapper).
pages=$(cut -d' ' -f1 <<<"$want")
topic=
for _ in $(seq $((40 * slow))); do
        topic=$(kcat -C -b "$BOOTSTRAP" -t activity.v1.PageViewCount -o beginning -e -q \
                -X fetch.wait.max.ms=10 -f '%k\n' 2>>"$work/kcat.log" | sort -u)
        [[ $topic == "$pages" ]] && break
        sleep 0.5
done
[[ $topic == "$pages" ]] ||
        fail "pages on activity.v1.PageViewCount: [$topic], want [$pages]"

# A front end publishing far more views than its producer's queue holds
# (1,000 messages here; 100,000 by default) waits for room instead of
# failing: every view is delivered, and counted.  (Not many more: the
# embedded broker keeps at most 5 MB per partition, and the five pages
# share four partitions.)
n_bulk=20000
total=$((12 + n_bulk))
printf 'producer = [ "queue.buffering.max.messages=1000" ];\n' >"$work/small-queue.conf"
run 60 "$dir/web-sim" -c "$work/small-queue.conf" -f web-3 -n "$n_bulk" \
        2>"$work/web-3.log" || fail "web-sim -n $n_bulk failed: $(grep -v "^{" "$work/web-3.log" | tail -3)"
summary=$(grep '^web-sim: .* page views published' "$work/web-3.log" || true)
note "$summary"
[[ $summary =~ ^web-sim:\ $n_bulk\ page\ views\ published,\ $n_bulk\ delivered,.*waited\ for\ room\ [1-9][0-9]*\ times ]] ||
        fail "web-sim did not deliver $n_bulk views after waiting for room: [$summary]"
on_topic=$(kcat -C -b "$BOOTSTRAP" -t activity.v1.PageViewed -o beginning -e -q \
        -X fetch.wait.max.ms=10 -f '.\n' 2>>"$work/kcat.log" | wc -l)
((on_topic == total)) || fail "$on_topic views on activity.v1.PageViewed, want $total"
counted=0
for _ in $(seq $((120 * slow))); do
        counted=$(latest | awk '{ n += $2 } END { print n + 0 }')
        ((counted == total)) && break
        sleep 0.5
done
((counted == total)) || fail "page-counter counted $counted views, want $total"

stop_clean page-counter
stop_clean broker
note "ok"
