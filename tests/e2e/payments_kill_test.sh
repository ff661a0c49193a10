#!/usr/bin/env bash
# payments is killed with SIGKILL in the middle of a run and restarted; it
# restores its ledger from the table's changelog.  Every order must still end final (lost=0), nobody may be
# charged twice (order-load's checks, and PaymentCaptured read here), and
# the stock must add up.  Malformed events sent along must end in the
# dead-letter topic.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog" "$bin"/{gateway,orders,inventory,payments,shipping,order-load}

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}"
payments_flags=(--transient-rate 0.05 --decline-rate 0.03 --latency-ms 10)
start_services

# 400 orders at 80 a second: the run lasts long enough to kill payments
# while orders are being charged.
start_load --poison 2
wait_progress $((load_orders * 3 / 10)) 60
note "killing payments with SIGKILL"
crash payments
sleep 1
note "restarting payments: it restores its ledger from the changelog"
start_payments

finish_load
note "$SUMMARY"
ledger_check
grep -q 'table ledger partition [0-9]* restored: ' "$work/payments.log" || fail "payments did not restore its ledger at restart"
note "payments at restart: $(grep -o '"msg":"table ledger partition [^"]*' "$work/payments.log" | tail -n 1 | cut -d'"' -f4)"

# The malformed StockReserved events went to the dead-letter topic.
if command -v kcat >/dev/null 2>&1; then
        n=0
        for _ in $(seq $((20 * slow))); do
                n=$(kcat -C -b "$BOOTSTRAP" -t shop.v1.StockReserved.DLT -o beginning \
                        -e -q -X fetch.wait.max.ms=10 -f '%k\n' 2>/dev/null | grep -c '^poison-' || true)
                ((n >= 2)) && break
                sleep 0.5
        done
        ((n >= 2)) || fail "shop.v1.StockReserved.DLT holds $n of the 2 malformed events"
        note "shop.v1.StockReserved.DLT holds the $n malformed events"
else
        note "kcat is not installed: dead-letter topic not read"
fi
stop_all clean
note ok
