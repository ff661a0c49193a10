# Helpers of the end-to-end tests on top of tests/lib.sh; sourced, not
# run.  The services run on the example's configuration files and keep
# their state in kbus tables (changelog topics on the test's broker).

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

bin=$builddir/examples/order-pipeline
conf=$tests_srcdir/../examples/order-pipeline/config
e2e_broker=$builddir/tests/e2e/e2e-broker

# Under a wrapper everything is slower: fewer orders, more time.
load_orders=400 load_rate=80 load_timeout=100
if ((slow > 1)); then
        load_orders=60 load_rate=10 load_timeout=400
fi

# The request and event topics, created before anyone subscribes.
pipeline_topics=(shop.v1.OrderService shop.v1.InventoryService
        shop.v1.PaymentService shop.v1.ShippingService shop.v1.OrderPlaced
        shop.v1.StockReserved shop.v1.StockRejected shop.v1.StockReleased
        shop.v1.PaymentCaptured shop.v1.PaymentFailed shop.v1.OrderShipped
        shop.v1.StockCommand shop.v1.StockOutcome)

# start_service SERVICE [NAME]: starts one instance of a stateful service
# (orders, inventory, payments with $payments_flags, shipping) as NAME
# (default SERVICE).  Instances of one service share its consumer group.
payments_flags=()
start_service() {
        local flags=()
        [[ $1 == payments ]] && flags=("${payments_flags[@]}")
        start "${2:-$1}" "$bin/$1" -c "$conf/$1.conf" "${flags[@]}"
}
start_payments() { start_service payments; }

# start_services: orders, inventory, payments, shipping and the gateway;
# sets GATEWAY to the gateway's URL.
start_services() {
        start_service orders
        start_service inventory
        start_payments
        start_service shipping
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

# ledger_check: reads shop.v1.PaymentCaptured itself, independently of the
# services: no order may have been captured with two charge ids (the same
# event sent again carries the same one).
ledger_check() {
        local report charges dups
        command -v kcat >/dev/null 2>&1 || { note "kcat is not installed: PaymentCaptured not read"; return 0; }
        # A PaymentCaptured's value starts with its order_id (field 1) and
        # charge_id (field 2), each after a tag and a length byte.
        report=$(kcat -C -b "$BOOTSTRAP" -t shop.v1.PaymentCaptured -o beginning -e -q \
                -X fetch.wait.max.ms=10 -f '%s\n' 2>/dev/null |
                LC_ALL=C grep -ao 'o-[0-9a-f]\{16\}..ch_[0-9a-f]\{16\}' |
                LC_ALL=C sed 's/^\(o-[0-9a-f]*\)..\(ch_[0-9a-f]*\)$/\1 \2/' | sort -u |
                awk '{ n++; if (seen[$1]++) dup++ } END { printf "%d %d\n", n, dup }') || true
        read -r charges dups <<<"$report"
        ((charges > 0)) || fail "no PaymentCaptured read back"
        ((dups == 0)) || fail "$dups orders were captured with two charge ids"
        note "PaymentCaptured: $charges orders charged, none with two charge ids"
}
