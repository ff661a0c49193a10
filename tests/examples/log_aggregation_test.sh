#!/usr/bin/env bash
# examples/log-aggregation: three processes ship their logs at the same
# time; log-collector's single output holds every line exactly once, and
# the lines of each source in the order that source wrote them.  A shipper
# whose broker is gone says how many lines it could not ship and exits 1.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

dir=$builddir/examples/log-aggregation
need_built "$kbus_prog" "$dir/log-shipper" "$dir/log-collector"

sources=(web-1 web-2 db)
n=200
for src in "${sources[@]}"; do
        for i in $(seq "$n"); do
                echo "$src says hello for the ${i}th time"
        done >"$work/$src.txt"
done

start_broker
start log-collector "$dir/log-collector"
for src in "${sources[@]}"; do
        start "shipper-$src" "$dir/log-shipper" -s "$src" <"$work/$src.txt"
done
for src in "${sources[@]}"; do
        await "shipper-$src" 30
        ((status == 0)) || fail "log-shipper -s $src exited with status $status"
        grep -q "^log-shipper: $n lines shipped\$" "$work/shipper-$src.log" ||
                fail "log-shipper -s $src did not report $n lines shipped"
done

# Nothing listens at port 1 of loopback: every line times out (after 2 s
# here) and is reported, none is claimed shipped.
printf 'producer = ["message.timeout.ms=2000"];\n' >"$work/nowhere.conf"
printf 'one\ntwo\nthree\n' >"$work/lost.txt"
KBUS_BOOTSTRAP=127.0.0.1:1 start shipper-nowhere "$dir/log-shipper" \
        -c "$work/nowhere.conf" -s nowhere <"$work/lost.txt"
await shipper-nowhere 30
((status == 1)) || fail "log-shipper with no broker exited with status $status, want 1"
grep -q '^log-shipper: 0 lines shipped, 3 not shipped' "$work/shipper-nowhere.log" ||
        fail "log-shipper with no broker did not report 3 lines not shipped"

total=$((n * ${#sources[@]}))
got=0
for _ in $(seq $((60 * slow))); do
        got=$(wc -l <"$work/log-collector.out")
        ((got >= total)) && break
        sleep 0.5
done
((got == total)) || fail "log-collector wrote $got lines, want $total"

# Per source: exactly its lines, numbered 1..n, in order.
for src in "${sources[@]}"; do
        awk -v s="$src" '$1 == s { $1 = ""; $2 = ""; sub(/^  /, ""); print }' \
                "$work/log-collector.out" >"$work/$src.got"
        cmp -s "$work/$src.txt" "$work/$src.got" ||
                fail "the lines of $src are not all there in order (diff: $(diff "$work/$src.txt" "$work/$src.got" | head -n 5))"
        seqs=$(awk -v s="$src" '$1 == s { print $2 }' "$work/log-collector.out")
        [[ $seqs == "$(seq "$n")" ]] || fail "sequence numbers of $src are not 1..$n in order"
done
! grep -q 'lines missing' "$work/log-collector.log" ||
        fail "log-collector reported missing lines"

stop_clean log-collector
stop_clean broker
note "ok: $total lines from ${#sources[@]} sources"
