#!/usr/bin/env bash
# kbus call against hello and the order pipeline's OrderService: JSON in
# and out by the proto3 mapping (nested and repeated fields, an enum, int64
# as strings), a non-OK status, a timeout, a bad method name, a request
# that does not fit the message (the error names the field's path), and
# repeated calls with a latency summary.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_python_kafka
need_built "$kbus_prog" "$hello_server" "$bin/orders"

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}" --topic=hello.v1.Greeter
start hello-server "$hello_server"
start orders "$bin/orders" -c "$conf/orders.conf"

# The first call waits for the servers' groups to form.
called() { kbus call -d "$hello_desc" --timeout 2000 hello.v1.Greeter.SayHello '{"name":"Ann"}' >"$work/out" 2>"$work/err"; }
wait_for 60 "hello-server answering" called
[[ $(json_get "$work/out" 'j["message"]') == "Hello, Ann!" ]] || fail "SayHello: $(cat "$work/out")"

# Nested and repeated fields in, int64 out as a string.
order='{"requestId":"r-1","customer_id":"c-9","cardToken":"tok_visa",
  "items":[{"sku":"KB-65","quantity":2},{"sku":"CB-USBC","quantity":"1"}]}'
placed() { kbus call -d "$pipeline_desc" /shop.v1.OrderService/PlaceOrder "$order" --timeout 3000 >"$work/placed" 2>"$work/err"; }
wait_for 60 "orders answering" placed
[[ $(json_get "$work/placed" 'j["totalCents"]') == 18700 ]] || fail "PlaceOrder: $(cat "$work/placed")"
grep -q '"totalCents": "18700"' "$work/placed" || fail "int64 not written as a string: $(cat "$work/placed")"
order_id=$(json_get "$work/placed" 'j["orderId"]')

# The order back: an enum by name, repeated messages, int64 strings; the
# request given on standard input.
echo "{\"orderId\":\"$order_id\"}" | kbus call -d "$pipeline_desc" --compact \
        shop.v1.OrderService.GetOrder >"$work/order" 2>"$work/err" || fail "GetOrder: $(cat "$work/err")"
note "GetOrder: $(cat "$work/order")"
[[ $(json_get "$work/order" 'j["state"]') == ORDER_STATE_* ]] || fail "state not an enum name"
[[ $(json_get "$work/order" 'j["items"][1]["sku"]') == CB-USBC ]] || fail "items"
[[ $(json_get "$work/order" 'j["items"][0]["unitPriceCents"]') == 8900 ]] || fail "unitPriceCents"
[[ $(json_get "$work/order" 'type(j["totalCents"]).__name__') == str ]] || fail "totalCents not a string"
[[ $(json_get "$work/order" 'j["customerId"]') == c-9 ]] || fail "customerId"

# A non-OK status: STATUS: message on stderr, exit 1, nothing on stdout.
expect_status 1 kbus call -d "$pipeline_desc" shop.v1.OrderService.GetOrder '{"orderId":"o-none"}'
grep -q '^NOT_FOUND: ' "$work/err" || fail "status line: $(cat "$work/err")"
[[ ! -s $work/out ]] || fail "output on a failed call: $(cat "$work/out")"

# A timeout: nobody serves PaymentService here.
expect_status 1 kbus call -d "$pipeline_desc" --timeout 800 shop.v1.PaymentService.Audit '{}'
grep -q '^DEADLINE_EXCEEDED: no reply within 800 ms' "$work/err" || fail "timeout: $(cat "$work/err")"

# A bad method name lists the methods there are; exit 2.
expect_status 2 kbus call -d "$pipeline_desc" shop.v1.OrderService.PlaceOrdr '{}'
grep -q "no method 'shop.v1.OrderService.PlaceOrdr'" "$work/err" || fail "bad method: $(cat "$work/err")"
grep -q '/shop.v1.OrderService/PlaceOrder' "$work/err" || fail "no method list: $(cat "$work/err")"

# A request that does not fit: the field's path; bad JSON: line and column.
expect_status 2 kbus call -d "$pipeline_desc" shop.v1.OrderService.PlaceOrder \
        '{"items":[{"sku":"a","quantity":1},{"sku":"b","quantity":"two"}]}'
grep -qF 'items[1].quantity: expected an integer, got "two"' "$work/err" || fail "path: $(cat "$work/err")"
expect_status 2 kbus call -d "$pipeline_desc" shop.v1.OrderService.PlaceOrder '{"colour":1}'
grep -qF 'colour: unknown field' "$work/err" || fail "unknown field: $(cat "$work/err")"
expect_status 2 kbus call -d "$pipeline_desc" shop.v1.OrderService.PlaceOrder '{"items":[}'
grep -qF 'bad JSON at line 1, column' "$work/err" || fail "bad JSON: $(cat "$work/err")"

# Repeated calls: a summary, every call answered.
kbus call -d "$hello_desc" -n 40 -C 4 hello.v1.Greeter.SayHello '{"name":"x"}' >"$work/sum" 2>"$work/err" ||
        fail "repeated calls: $(cat "$work/err")"
note "$(cat "$work/sum")"
grep -Eq '^calls=40 ok=40 failed=0 timed_out=0 p50_ms=[0-9.]+ p99_ms=[0-9.]+ max_ms=[0-9.]+ calls_per_s=[0-9.]+$' "$work/sum" ||
        fail "summary: $(cat "$work/sum")"

stop_clean orders hello-server broker
note "kbus call: all checks passed"
