#!/usr/bin/env bash
# The gateway's HTTP contract: 503 with Retry-After while the orders
# service does not answer, then 201 and the order's JSON once it does, and
# a clear 4xx for each kind of bad request (bad JSON, missing fields, bad
# quantity, unknown product, unknown order, wrong method, unknown path).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_tool curl
need_built "$kbus_prog" "$bin"/{gateway,orders}

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}"
start gateway "$bin/gateway" -c "$conf/gateway.conf" -p 0 --timeout-ms 1000
GATEWAY=$(first_line gateway)

# request METHOD PATH [BODY [HEADER]]: sets CODE, BODY and HEADERS.
request() {
        local args=(-s -S -m 20 -X "$1" -D "$work/headers" -o "$work/body" -w '%{http_code}')
        [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
        [[ $# -ge 4 ]] && args+=(-H "$4")
        CODE=$(curl "${args[@]}" "$GATEWAY$2")
        BODY=$(cat "$work/body")
        HEADERS=$(tr -d '\r' <"$work/headers")
}

# expect CODE TEXT: the last answer had this status and a body holding TEXT.
expect() {
        [[ $CODE == "$1" ]] || fail "got HTTP $CODE, want $1: $BODY"
        [[ $BODY == *"$2"* ]] || fail "HTTP $CODE body lacks '$2': $BODY"
        note "HTTP $CODE $BODY"
}

good='{"customer_id": "c-1", "card_token": "tok_visa", "items": [{"sku": "KB-65", "quantity": 2}]}'

# No orders service yet: the call reaches its deadline.
request POST /orders "$good"
expect 503 '"error"'
[[ $HEADERS == *"Retry-After: 1"* ]] || fail "a 503 without Retry-After"
request GET /orders/o-nobody
expect 503 'DEADLINE_EXCEEDED'

start orders "$bin/orders" -c "$conf/orders.conf"
# The orders service's group join takes seconds: wait for an answer.
for _ in $(seq $((60 * slow))); do
        request GET /orders/o-nobody
        [[ $CODE == 503 ]] || break
done
expect 404 "no order 'o-nobody'"

request POST /orders "$good" 'Idempotency-Key: test-key-1'
expect 201 '"order_id"'
id=$(sed -n 's/.*"order_id":"\([^"]*\)".*/\1/p' <<<"$BODY")
[[ $HEADERS == *"Location: /orders/$id"* ]] || fail "no Location header for $id"
[[ $BODY == *'"total_cents":17800'* ]] || fail "2 x KB-65 should cost 17800 cents: $BODY"
# The same key again: the same order, not a second one.
request POST /orders "$good" 'Idempotency-Key: test-key-1'
expect 201 "\"order_id\":\"$id\""
request GET "/orders/$id"
expect 200 "\"order_id\":\"$id\""
[[ $BODY == *'"state":"PLACED"'* ]] || fail "a new order with no inventory service should be PLACED: $BODY"

request POST /orders '{"customer_id": "c-1", "items": ['
expect 400 'not JSON'
request POST /orders '[1, 2]'
expect 400 'JSON object'
request POST /orders '{"items": [{"sku": "KB-65", "quantity": 1}]}'
expect 400 'customer_id'
request POST /orders '{"customer_id": "c-1", "items": []}'
expect 400 'items must be an array'
request POST /orders '{"customer_id": "c-1", "items": [{"sku": "KB-65", "quantity": 0}]}'
expect 400 'items[0].quantity must be a whole number from 1 to 100'
request POST /orders '{"customer_id": "c-1", "items": [{"sku": "KB-65", "quantity": 1.5}]}'
expect 400 'quantity'
request POST /orders '{"customer_id": "c-1", "items": [{"sku": "KB-65", "quantity": 101}]}'
expect 400 'quantity'
request POST /orders '{"customer_id": "c-1", "items": [{"sku": "NOPE-1", "quantity": 1}]}'
expect 422 "unknown product 'NOPE-1'"
request POST /orders '{"customer_id": "c-1", "items": [{"sku": "KB-65", "quantity": 1}, {"sku": "KB-65", "quantity": 1}]}'
expect 400 'listed twice'
request GET '/orders/bad%20id'
expect 400 'order id'
request DELETE "/orders/$id"
expect 405 'method not allowed'
request GET /nowhere
expect 404 'no such path'
request GET /healthz
expect 200 '"ok"'
stop_all clean
note ok
