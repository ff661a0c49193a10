#!/usr/bin/env bash
# The gateway's HTTP contract: 503 with Retry-After while the orders
# service does not answer, then 201 and the order's JSON once it does, and
# a clear 4xx for each kind of bad request (bad JSON, missing fields, bad
# quantity, unknown product, unknown order, wrong method, unknown path).
# Every error is JSON, also for what the HTTP library would answer with an
# HTML page of its own: a body over 64 KiB (with a Content-Length, with
# Expect: 100-continue, or chunked), a request line or header field it
# cannot parse, a method it does not serve, an Expect it does not know.
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

# json_error: the last answer was JSON, {"error": ...}, not an HTML page.
json_error() {
        [[ $HEADERS == *"Content-Type: application/json"* ]] ||
                fail "HTTP $CODE is not JSON: $HEADERS $BODY"
        [[ $BODY == '{"error":'* ]] || fail "HTTP $CODE body is not a JSON error: $BODY"
}

# A body of N bytes: the good order, then blanks (still valid JSON).
padded() {
        { printf '%s' "$good"; head -c $(($1 - ${#good})) /dev/zero | tr '\0' ' '; } >"$work/padded"
}
# upload HEADER...: POSTs $work/padded to /orders with these headers.
upload() {
        local args=(-s -S -m 20 -X POST -D "$work/headers" -o "$work/body" -w '%{http_code}'
                -H 'Content-Type: application/json' --data-binary @"$work/padded")
        for h in "$@"; do args+=(-H "$h"); done
        CODE=$(curl "${args[@]}" "$GATEWAY/orders")
        BODY=$(cat "$work/body")
        HEADERS=$(tr -d '\r' <"$work/headers")
}

# 100 KiB, asking with Expect: 100-continue first: answered at once.
padded $((100 * 1024))
upload 'Expect: 100-continue'
expect 413 'larger than 64 KiB'
json_error
# Sent whole, without waiting: read, dropped, then answered.
upload 'Expect:'
expect 413 'larger than 64 KiB'
json_error
# Chunked, with and without Expect.
upload 'Transfer-Encoding: chunked'
expect 413 'larger than 64 KiB'
json_error
upload 'Transfer-Encoding: chunked' 'Expect:'
expect 413 'larger than 64 KiB'
json_error
# The limit is 64 KiB exactly; a chunked body within it is an order, and
# a client that waits for 100 Continue gets it.
padded $((64 * 1024))
upload 'Expect:'
expect 201 '"order_id"'
upload 'Transfer-Encoding: chunked' 'Expect: 100-continue'
expect 201 '"order_id"'
upload 'Expect: 100-continue'
expect 201 '"order_id"'
padded $((64 * 1024 + 1))
upload 'Expect:'
expect 413 'larger than 64 KiB'
json_error

# raw TEXT: sends TEXT (printf %b escapes) on a connection of its own, reads
# until the gateway closes it; sets CODE, BODY and HEADERS from the last
# answer on it.
raw() {
        local port=${GATEWAY##*:}
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        # A subshell: the gateway may close the connection before it read
        # everything, and the write's SIGPIPE must not end the test.
        (printf '%b' "$1" >&3) 2>/dev/null || true
        timeout 20 cat <&3 | tr -d '\r' >"$work/raw" || true
        exec 3<&-
        awk '/^HTTP\/1\.[01] [0-9][0-9][0-9] /{n++} END{print n+0}' "$work/raw" >"$work/raw.n"
        # The last answer: from its status line to the end.
        awk '/^HTTP\/1\.[01] [0-9][0-9][0-9] /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' \
                "$work/raw" >"$work/raw.last"
        CODE=$(head -n 1 "$work/raw.last" | cut -d' ' -f2)
        HEADERS=$(sed '/^$/q' "$work/raw.last")
        BODY=$(sed '1,/^$/d' "$work/raw.last")
}

raw 'BREW /orders HTTP/1.1\r\nHost: x\r\n\r\n'
expect 501 'method not supported'
json_error
raw 'hello\r\n\r\n'
expect 400 'malformed request line'
json_error
raw 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n'
expect 505 'HTTP version'
json_error
raw 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n'
expect 400 'malformed header field'
json_error
raw 'POST /orders HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}'
expect 417 '100-continue'
json_error
raw 'POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n{}'
expect 400 'Content-Length'
json_error
raw 'POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'
expect 400 'both Content-Length and Transfer-Encoding'
json_error
raw 'POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'
expect 501 'Transfer-Encoding'
json_error
raw 'POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
expect 400 'malformed chunked body'
json_error
raw "GET /healthz HTTP/1.1\\r\\nX-Big: $(head -c 20000 /dev/zero | tr '\0' a)\\r\\n\\r\\n"
expect 431 '16 KiB'
json_error
# Several requests on one connection, the last one closing it: each
# answered in turn, and a refused one ends the connection.
raw 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n[1,2]GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
expect 200 '"ok"'
(($(cat "$work/raw.n") == 3)) || fail "3 requests on one connection, $(cat "$work/raw.n") answers"
raw 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nBREW / HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
expect 501 'method not supported'
(($(cat "$work/raw.n") == 2)) || fail "a refused request must end its connection: $(cat "$work/raw.n") answers"
stop_all clean
note ok
