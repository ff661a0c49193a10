#!/usr/bin/env bash
# Three instances of every stateful service (orders, inventory, payments,
# shipping), all in their groups; while 1,000 orders flow, one instance of
# each is killed with SIGKILL, each at a different moment, and never
# restarted.  The survivors take the dead instances' partitions over and
# restore their tables from the changelogs: every order must still end
# final (lost=0), and every book check of order-load must pass (charges,
# no double charge, stock never negative and fully accounted,
# compensation, shipments).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog" "$bin"/{gateway,orders,inventory,payments,shipping,order-load}

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}"
payments_flags=(--transient-rate 0.03 --decline-rate 0.02 --latency-ms 5)
services=(orders inventory payments shipping)
for n in 1 2 3; do
        for s in "${services[@]}"; do
                start_service "$s" "$s-$n"
        done
done
start gateway "$bin/gateway" -c "$conf/gateway.conf" -p 0
GATEWAY=$(first_line gateway)

load_orders=1000 load_rate=100
((slow == 1)) || load_orders=100
start_load --poison 2

# One instance of each service, at 20, 35, 50 and 65 % of the orders
# placed: the later kills hit groups still rebalancing from the earlier.
at=20
for s in "${services[@]}"; do
        wait_progress $((load_orders * at / 100)) $((60 * slow))
        note "killing $s-2 with SIGKILL at $at % of the orders placed"
        crash "$s-2"
        at=$((at + 15))
done

finish_load
note "$SUMMARY"
ledger_check
for s in "${services[@]}"; do
        grep -hq 'restored: ' "$work/$s-1.log" "$work/$s-3.log" ||
                fail "no survivor of $s restored a partition"
        note "$s: $(grep -h 'restored: [1-9]' "$work/$s-1.log" "$work/$s-3.log" | wc -l) partition restores with entries in the survivors"
done
stop_all clean
note ok
