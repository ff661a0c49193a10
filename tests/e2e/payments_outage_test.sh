#!/usr/bin/env bash
# The card processor is down for good (every call fails transiently).
# payments fails each StockReserved with UNAVAILABLE; the runtime retries
# it with backoff per StockReserved's retry policy (8 attempts); on the
# last attempt payments gives up with PaymentFailed, inventory releases
# the stock, and every order still ends final: PAYMENT_FAILED, nothing
# charged, nothing dead-lettered.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog" "$bin"/{gateway,orders,inventory,payments,shipping,order-load}

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}"
payments_flags=(--transient-rate 1 --decline-rate 0 --latency-ms 2)
start_services

load_orders=20 load_rate=0
start_load
finish_load
note "$SUMMARY"
[[ $SUMMARY == *" shipped=0 "* ]] || fail "orders shipped with the processor down: $SUMMARY"
grep -q '^check failures .* ok .*declined 0 and gave up 21;' "$work/order-load.out" ||
        fail "payments did not give up on every order (the 20 and the warm-up one)"
grep -q 'card processor unavailable after 8 attempts' "$work/payments.log" ||
        fail "payments did not give up after 8 attempts"
stop_all clean
note ok
