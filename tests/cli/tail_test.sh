#!/usr/bin/env bash
# kbus tail of an event topic, a reply topic, a request topic and a
# dead-letter topic: every record, header and value agrees field by field
# with what kafka-python reads (binary headers decoded by their documented
# types); with the pipeline's descriptor set the values come out as JSON,
# a reply's by its request's correlation id; filters by key and header.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_python_kafka
need_built "$kbus_prog" "$bin/orders" "$bin/inventory"

start_broker --partitions 4 "${pipeline_topics[@]/#/--topic=}"
start orders "$bin/orders" -c "$conf/orders.conf"
start inventory "$bin/inventory" -c "$conf/inventory.conf"

# A call with a reply topic of our own, a key and an extra header.
order='{"requestId":"r-7","customerId":"c-7","cardToken":"tok",
  "items":[{"sku":"MS-PRO","quantity":3}]}'
placed() {
        kbus call -d "$pipeline_desc" --reply-topic cli.replies --key k-7 \
                -H x-test=yes --timeout 3000 shop.v1.OrderService.PlaceOrder \
                "$order" >"$work/placed" 2>"$work/err"
}
wait_for 60 "orders answering" placed
order_id=$(json_get "$work/placed" 'j["orderId"]')

# A poison event: inventory cannot decode it and dead-letters it, with
# the binary kafka_dlt-* headers.
"$python" - "$BOOTSTRAP" <<'PY' || fail "kafka-python could not produce"
import sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1])
p.send("shop.v1.OrderPlaced", key=b"poison", value=b"\xff\xff\xff",
       headers=[("ce_type", b"shop.v1.OrderPlaced"), ("ce_id", b"p-1")])
p.flush()
PY
dead_lettered() {
        kbus tail -n 1 shop.v1.OrderPlaced.DLT >"$work/dlt" 2>/dev/null && [[ -s $work/dlt ]]
}
wait_for 60 "the poison dead-lettered" dead_lettered

topics=(shop.v1.OrderPlaced shop.v1.OrderPlaced.DLT cli.replies shop.v1.OrderService)

# ---- every field, as kafka-python reads it ----
kbus tail "${topics[@]}" >"$work/raw" 2>"$work/err" || fail "tail: $(cat "$work/err")"
note "$(wc -l <"$work/raw") records"
"$python" "$records_py" "$BOOTSTRAP" "$work/raw" "${topics[@]}" >"$work/cmp" ||
        fail "kbus tail and kafka-python disagree"
note "$(cat "$work/cmp")"

# ---- values as JSON ----
kbus tail -d "$pipeline_desc" "${topics[@]}" >"$work/json" 2>"$work/err" ||
        fail "tail -d: $(cat "$work/err")"
"$python" - "$work/json" "$order_id" <<'PY' || fail "decoded values"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
order_id = sys.argv[2]
def one(pred, what):
    found = [r for r in recs if pred(r)]
    if not found:
        sys.exit("no %s in %s" % (what, recs))
    return found[0]
rep = one(lambda r: r["topic"] == "cli.replies", "reply")
corr = rep["headers"]["kafka_correlationId"]
# (an earlier attempt may have expired while the group formed)
req = one(lambda r: r["topic"] == "shop.v1.OrderService" and
          r["headers"]["kafka_correlationId"] == corr, "the reply's request")
assert req["type"] == "shop.v1.PlaceOrderRequest", req
assert req["value"]["items"] == [{"sku": "MS-PRO", "quantity": 3}], req
assert req["key"] == "k-7" and req["headers"]["x-test"] == "yes", req
assert req["headers"]["kbus-method"] == "/shop.v1.OrderService/PlaceOrder"
assert req["headers"]["kafka_replyPartition"] == 0, req
assert rep["type"] == "shop.v1.PlaceOrderReply", rep
assert rep["status"] == "OK" and rep["headers"]["kbus-status"] == 0, rep
assert rep["value"]["orderId"] == order_id, rep
ev = one(lambda r: r["topic"] == "shop.v1.OrderPlaced" and r["key"] == order_id, "event")
assert ev["type"] == "shop.v1.OrderPlaced", ev
assert ev["value"]["orderId"] == order_id and ev["value"]["totalCents"] == "11700", ev
assert ev["headers"]["ce_type"] == "shop.v1.OrderPlaced", ev
dlt = one(lambda r: r["topic"] == "shop.v1.OrderPlaced.DLT", "dead letter")
h = dlt["headers"]
assert h["kafka_dlt-original-topic"] == "shop.v1.OrderPlaced", h
assert isinstance(h["kafka_dlt-original-partition"], int), h
assert isinstance(h["kafka_dlt-original-offset"], int), h
assert isinstance(h["kafka_dlt-original-timestamp"], int), h
assert h["kafka_dlt-exception-fqcn"] == "kbus.DecodeError", h
assert dlt["type"] == "shop.v1.OrderPlaced" and "value_error" in dlt, dlt
assert dlt["value_base64"] == "////", dlt
print("values ok")
PY

# A reply read before its request (the reply topic listed first) is
# still decoded.
kbus tail -d "$pipeline_desc" cli.replies shop.v1.OrderService >"$work/json2" 2>&1 ||
        fail "tail: $(cat "$work/json2")"
grep -q '"type":"shop.v1.PlaceOrderReply"' "$work/json2" || fail "reply not decoded: $(cat "$work/json2")"

# ---- filters and limits ----
kbus tail --key k-7 shop.v1.OrderService shop.v1.OrderPlaced >"$work/f" 2>&1
(($(wc -l <"$work/f") >= 1)) && ! grep -qv '"key":"k-7"' "$work/f" || fail "--key: $(cat "$work/f")"
kbus tail -H ce_id=p-1 shop.v1.OrderPlaced shop.v1.OrderPlaced.DLT >"$work/f" 2>&1
(($(wc -l <"$work/f") >= 2)) && ! grep -qv '"ce_id":"p-1"' "$work/f" || fail "-H: $(cat "$work/f")"
kbus tail -n 1 -o end -f shop.v1.OrderPlaced >"$work/f" 2>&1 &
tail_pid=$!
"$python" - "$BOOTSTRAP" <<'PY'
import sys, time
from kafka import KafkaProducer
time.sleep(2)  # give the follower time to assign before the record
p = KafkaProducer(bootstrap_servers=sys.argv[1])
p.send("shop.v1.OrderPlaced", key=b"late", value=b"")
p.flush()
PY
wait "$tail_pid" || fail "tail -f ended with an error"
grep -q '"key":"late"' "$work/f" || fail "-o end -f: $(cat "$work/f")"

# ---- errors ----
expect_status 1 kbus tail no.such.topic
grep -q 'topic no.such.topic' "$work/err" || fail "unknown topic: $(cat "$work/err")"
expect_status 2 kbus tail -o yesterday shop.v1.OrderPlaced
grep -q "'yesterday' is not" "$work/err" || fail "bad -o: $(cat "$work/err")"

stop_clean inventory orders broker
note "kbus tail: all checks passed"
