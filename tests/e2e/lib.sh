# Helpers of the end-to-end tests on top of tests/lib.sh; sourced, not
# run.  The services run on the example's configuration files, and keep
# their state in $state.

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

bin=$builddir/examples/order-pipeline
conf=$tests_srcdir/../examples/order-pipeline/config
e2e_broker=$builddir/tests/e2e/e2e-broker
state=$work/state

# Under a wrapper everything is slower: fewer orders, more time.
load_orders=400 load_rate=80 load_timeout=100
if ((slow > 1)); then
        load_orders=60 load_rate=10 load_timeout=400
fi

# The request and event topics, created before anyone subscribes.
pipeline_topics=(shop.v1.OrderService shop.v1.InventoryService
        shop.v1.PaymentService shop.v1.ShippingService shop.v1.OrderPlaced
        shop.v1.StockReserved shop.v1.StockRejected shop.v1.StockReleased
        shop.v1.PaymentCaptured shop.v1.PaymentFailed shop.v1.OrderShipped)

# start_payments: (re)starts payments on its state directory, with
# $payments_flags.
payments_flags=()
start_payments() {
        start payments "$bin/payments" -c "$conf/payments.conf" \
                -s "$state/payments" "${payments_flags[@]}"
}

# start_services: orders, inventory, payments, shipping and the gateway;
# sets GATEWAY to the gateway's URL.
start_services() {
        start orders "$bin/orders" -c "$conf/orders.conf" -s "$state/orders"
        start inventory "$bin/inventory" -c "$conf/inventory.conf" \
                -s "$state/inventory"
        start_payments
        start shipping "$bin/shipping" -c "$conf/shipping.conf" \
                -s "$state/shipping"
        start gateway "$bin/gateway" -c "$conf/gateway.conf" -p 0
        GATEWAY=$(first_line gateway)
        [[ $GATEWAY == http://127.0.0.1:* ]] || fail "gateway is not on loopback: $GATEWAY"
        note "gateway at $GATEWAY"
}

# wait_progress PLACED SECONDS: waits until order-load reports at least
# PLACED orders placed.
placed_at_least() {
        local placed
        running order-load || fail "order-load ended before $1 orders were placed"
        placed=$(sed -n 's/^progress .* placed=\([0-9]*\)\/.*/\1/p' \
                "$work/order-load.out" | tail -n 1)
        [[ -n $placed ]] && ((placed >= $1))
}
wait_progress() {
        wait_for "$2" "order-load placing $1 orders" placed_at_least "$1"
}

# start_load FLAGS...: starts order-load through the gateway, with
# $load_orders orders at $load_rate a second.
start_load() {
        start order-load "$bin/order-load" -c "$conf/order-load.conf" \
                --url "$GATEWAY" -n "$load_orders" -C 16 --rate "$load_rate" \
                --timeout "$load_timeout" --ready-timeout $((60 * slow)) "$@"
}

# finish_load: waits for order-load, shows its output, and checks its
# summary: lost=0 and exit status 0 (every order final, books balanced).
# order-load bounds its own run by --ready-timeout and --timeout; this
# bounds it again, a minute later.
finish_load() {
        local summary
        await order-load $((load_timeout / slow + 120))
        grep -v '^progress' "$work/order-load.out" || true
        summary=$(tail -n 1 "$work/order-load.out")
        [[ $summary == "orders placed="* ]] || fail "order-load printed no summary line"
        [[ $summary == *" lost=0 "* ]] || fail "orders were lost: $summary"
        ((status == 0)) || fail "order-load exited with status $status"
        SUMMARY=$summary
}

# ledger_check: reads payments' ledger file itself, independently of the
# service: no order may have two charge lines.
ledger_check() {
        local f=$state/payments/payments.journal report
        [[ -s $f ]] || fail "no ledger at $f"
        report=$(awk '$1 == "C" { n++; if (seen[$2]++) dup++ }
                END { printf "%d %d\n", n, dup }' "$f")
        read -r charges dups <<<"$report"
        ((dups == 0)) || fail "the ledger charges $dups orders twice"
        note "ledger: $charges charges, none twice"
}
