#!/usr/bin/env bash
# Scale out while orders flow: one instance of every stateful service at
# first, then a second and a third of each, one service after the other.
# Each new instance joins its group, takes partitions over and restores
# their tables from the changelogs before it handles their records: every
# order must end final (lost=0) and every book check of order-load pass.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog" "$bin"/{gateway,orders,inventory,payments,shipping,order-load}

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}"
payments_flags=(--transient-rate 0.03 --decline-rate 0.02 --latency-ms 5)
services=(orders inventory payments shipping)
start_services

load_orders=1000 load_rate=100
((slow == 1)) || load_orders=100
start_load

at=15
for n in 2 3; do
        for s in "${services[@]}"; do
                wait_progress $((load_orders * at / 100)) $((60 * slow))
                note "starting $s-$n at $at % of the orders placed"
                start_service "$s" "$s-$n"
                at=$((at + 8))
        done
done

finish_load
note "$SUMMARY"
ledger_check
for s in "${services[@]}"; do
        grep -q 'partitions assigned' "$work/$s-3.log" ||
                fail "$s-3 was never given partitions"
done
stop_all clean
note ok
