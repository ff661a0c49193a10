#!/usr/bin/env bash
# kbus topics create from the order pipeline's descriptor set, then
# kbus topics --describe: every request, event and dead-letter topic
# exists with its partitions, leader and offsets.  On the embedded broker
# (no CreateTopics) the command says so and auto-creates; a second run
# reports them all as existing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog"
start_broker --partitions 6 --topic=shop.v1.OrderService

kbus topics create -d "$pipeline_desc" --partitions 3 >"$work/create" 2>"$work/err" ||
        fail "topics create: $(cat "$work/err")"
cat "$work/create"
grep -q 'embedded broker has no CreateTopics' "$work/err" ||
        fail "the embedded broker's limit is not said: $(cat "$work/err")"
grep -q 'partitions and --replication cannot be applied' "$work/err" || fail "--partitions ignored silently"
want=(shop.v1.OrderService shop.v1.OrderService.DLT shop.v1.InventoryService
        shop.v1.PaymentService shop.v1.ShippingService
        shop.v1.OrderPlaced shop.v1.OrderPlaced.DLT shop.v1.StockReserved
        shop.v1.StockReserved.DLT shop.v1.PaymentCaptured shop.v1.OrderShipped.DLT)
for t in "${want[@]}"; do
        grep -Eq "^(created|exists) +$t " "$work/create" || fail "$t not in: $(cat "$work/create")"
done
grep -Eq '^exists +shop.v1.OrderService +6 partitions \(requests\)' "$work/create" ||
        fail "the existing topic is not reported as such"
grep -Eq '^created +shop.v1.OrderPlaced.DLT +4 partitions \(dead-lettered events' "$work/create" ||
        fail "a created dead-letter topic: $(cat "$work/create")"

# Describe: every topic, one line per partition.
kbus topics --describe >"$work/describe" 2>"$work/err" || fail "describe: $(cat "$work/err")"
for t in "${want[@]}"; do
        grep -Eq "^$t +0 +1 +1 +1 +0 +0\$" "$work/describe" || fail "$t partition 0 not described: $(cat "$work/describe")"
done
(($(grep -c '^shop.v1.OrderService ' "$work/describe") == 6)) || fail "shop.v1.OrderService has not 6 partitions"
kbus topics shop.v1.OrderPlaced >"$work/list" || fail "list"
grep -Eq '^shop.v1.OrderPlaced +4 +0$' "$work/list" || fail "list: $(cat "$work/list")"

# Again: everything exists now.
kbus topics create -d "$pipeline_desc" >"$work/again" 2>"$work/err" || fail "second create"
! grep -q '^created' "$work/again" || fail "created again: $(cat "$work/again")"

# Without --group the tables' changelogs are named, not created; with it,
# each table's changelog ("<group>.<table>.changelog"), which the embedded
# broker cannot compact, as the command says.
grep -q 'give --group to create their changelog topics' "$work/err" ||
        fail "no word about the tables' changelogs: $(cat "$work/err")"
kbus topics create -d "$pipeline_desc" --group orders >"$work/tables" 2>"$work/err" ||
        fail "create --group: $(cat "$work/err")"
grep -Eq '^created +orders\.orders\.changelog +4 partitions \(changelog of a state table, compacted; auto-created: the embedded broker does not compact\)' "$work/tables" ||
        fail "the orders table's changelog: $(cat "$work/tables")"
grep -Eq '^created +orders\.stock\.changelog ' "$work/tables" ||
        fail "the stock table's changelog: $(cat "$work/tables")"
! grep -Eq '^created +shop\.' "$work/tables" || fail "created again: $(cat "$work/tables")"

# An event declared compacted ((kbus.event).compacted) is made so; the
# others of the same file are plain event topics.
kbus topics create -d "$iot_desc" >"$work/iot" 2>"$work/err" ||
        fail "create from iot.proto: $(cat "$work/err")"
grep -Eq '^created +iot\.v1\.DeviceRegistration +4 partitions \(events, compacted; auto-created: the embedded broker does not compact\)' "$work/iot" ||
        fail "the registrations topic: $(cat "$work/iot")"
grep -Eq '^created +iot\.v1\.Reading +4 partitions \(events; auto-created\)' "$work/iot" ||
        fail "the readings topic: $(cat "$work/iot")"

expect_status 1 kbus topics no.such.topic
grep -q 'no topic no.such.topic' "$work/err" || fail "$(cat "$work/err")"
expect_status 2 kbus topics create
grep -q 'DESCRIPTOR_SET is required' "$work/err" || fail "$(cat "$work/err")"

stop_clean broker
note "kbus topics: all checks passed"
