# Helpers of the end-to-end tests; sourced, not run.
#
# The tests run from the top build directory (as `make check` runs them)
# and find the programs there, the example's configuration files in the
# source tree beside this file.  Everything a test starts is stopped when
# it exits; its logs are shown when it fails, and kept when KBUS_E2E_KEEP
# is set.  Servers listen on loopback.

set -euo pipefail

e2e_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
builddir=${KBUS_BUILDDIR:-$PWD}
bin=$builddir/examples/order-pipeline
conf=$e2e_srcdir/../../examples/order-pipeline/config
kbus_prog=$builddir/kbus
e2e_broker=$builddir/tests/e2e/e2e-broker

# KBUS_TEST_WRAP (set by `make check-valgrind`) is a command every C
# program runs under, through libtool so that the real binary, not its
# wrapper script, runs under it.  Everything is slower then: fewer orders,
# more time.
wrap=()
if [[ -n ${KBUS_TEST_WRAP:-} ]]; then
        read -r -a wrap <<<"$KBUS_TEST_WRAP"
        if [[ -x $builddir/libtool ]]; then
                wrap=("$builddir/libtool" --mode=execute "${wrap[@]}")
        fi
fi
stop_grace=10
load_orders=400 load_rate=80 load_timeout=100 slow=1
if ((${#wrap[@]})); then
        stop_grace=60 load_orders=60 load_rate=10 load_timeout=400 slow=5
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-e2e.XXXXXX")
state=$work/state
declare -A pid_of=()
started=()

note() { printf '%s: %s\n' "${0##*/}" "$*"; }

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

# Stops what the test started, newest first: SIGTERM, then SIGKILL for
# anything still running $stop_grace seconds later.  Records each exit
# status in status_of.
declare -A status_of=()
stop_all() {
        local i name pid rc
        for ((i = ${#started[@]} - 1; i >= 0; i--)); do
                name=${started[i]}
                pid=${pid_of[$name]:-}
                [[ -n $pid ]] || continue
                if kill -TERM "$pid" 2>/dev/null; then
                        for _ in $(seq $((stop_grace * 10))); do
                                kill -0 "$pid" 2>/dev/null || break
                                sleep 0.1
                        done
                        if kill -0 "$pid" 2>/dev/null; then
                                note "$name ignored SIGTERM for $stop_grace s; killing it"
                                kill -KILL "$pid" 2>/dev/null || true
                        fi
                fi
                rc=0
                wait "$pid" 2>/dev/null || rc=$?
                status_of[$name]=$rc
                pid_of[$name]=
        done
}

# stop_checked: stops everything and fails unless each program left with
# status 0 on SIGTERM, as a clean shutdown should (a sanitizer or valgrind
# finding makes it non-zero).
stop_checked() {
        local name bad=
        stop_all
        for name in "${!status_of[@]}"; do
                if [[ ${status_of[$name]} != 0 ]]; then
                        bad+=" $name(${status_of[$name]})"
                fi
        done
        [[ -z $bad ]] || fail "not stopped cleanly on SIGTERM:$bad"
        note "every process stopped cleanly"
}

on_exit() {
        local rc=$? f
        stop_all
        if ((rc != 0 && rc != 77)); then
                for f in "$work"/*.log "$work"/*.out; do
                        [[ -s $f ]] || continue
                        echo "---- ${f##*/} (last 25 lines) ----"
                        tail -n 25 "$f"
                done
        fi
        if [[ -n ${KBUS_E2E_KEEP:-} ]]; then
                echo "logs and state kept in $work"
        else
                rm -rf "$work"
        fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Fails unless the programs were built.
need_built() {
        local prog
        for prog in "$@"; do
                [[ -x $prog ]] || fail "$prog was not built (run the tests from the build directory)"
        done
}

# start NAME COMMAND...: runs COMMAND in the background; its standard
# output goes to $work/NAME.out, its standard error to $work/NAME.log
# (appended, so a restarted service keeps one log).
start() {
        local name=$1
        shift
        "${wrap[@]}" "$@" >>"$work/$name.out" 2>>"$work/$name.log" &
        pid_of[$name]=$!
        started+=("$name")
}

# first_line NAME: prints NAME's first line of output, waiting up to 20 s.
first_line() {
        local name=$1 line=
        for _ in $(seq 200); do
                if [[ -s $work/$name.out ]] && IFS= read -r line <"$work/$name.out" &&
                        [[ -n $line ]]; then
                        printf '%s\n' "$line"
                        return 0
                fi
                kill -0 "${pid_of[$name]}" 2>/dev/null || fail "$name exited at start"
                sleep 0.1
        done
        fail "$name printed nothing within 20 s"
}

# The request and event topics, created before anyone subscribes.
pipeline_topics=(shop.v1.OrderService shop.v1.InventoryService
        shop.v1.PaymentService shop.v1.ShippingService shop.v1.OrderPlaced
        shop.v1.StockReserved shop.v1.StockRejected shop.v1.StockReleased
        shop.v1.PaymentCaptured shop.v1.PaymentFailed shop.v1.OrderShipped)

# use_broker NAME: reads NAME's bootstrap list and points every program
# started afterwards at it.
use_broker() {
        BOOTSTRAP=$(first_line "$1")
        [[ $BOOTSTRAP == 127.0.0.1:* ]] || fail "the broker is not on loopback: $BOOTSTRAP"
        export KBUS_BOOTSTRAP=$BOOTSTRAP KBUS_LOW_LATENCY=1
        note "broker at $BOOTSTRAP"
}

# start_payments [FLAGS...]: (re)starts payments on its state directory.
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
wait_progress() {
        local want=$1 seconds=$2 placed
        for _ in $(seq $((seconds * 10))); do
                placed=$(sed -n 's/^progress .* placed=\([0-9]*\)\/.*/\1/p' \
                        "$work/order-load.out" 2>/dev/null | tail -n 1)
                if [[ -n $placed ]] && ((placed >= want)); then
                        return 0
                fi
                kill -0 "${pid_of[order-load]}" 2>/dev/null || fail "order-load ended before $want orders were placed"
                sleep 0.1
        done
        fail "order-load did not place $want orders within $seconds s"
}

# start_load FLAGS...: starts order-load through the gateway, with
# $load_orders orders at $load_rate a second.
start_load() {
        start order-load "$bin/order-load" -c "$conf/order-load.conf" \
                --url "$GATEWAY" -n "$load_orders" -C 16 --rate "$load_rate" \
                --timeout "$load_timeout" --ready-timeout $((60 * slow)) "$@"
}

# finish_load: waits for order-load (it bounds its own time; this bounds
# it again), shows its output, and checks its summary: lost=0 and exit
# status 0 (every order final, books balanced).
finish_load() {
        local pid=${pid_of[order-load]} rc=0 summary limit
        limit=$((load_timeout + 60 * slow + 60))
        for _ in $(seq $((limit * 10))); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
                fail "order-load still running after $limit s"
        fi
        wait "$pid" || rc=$?
        pid_of[order-load]=
        grep -v '^progress' "$work/order-load.out" || true
        summary=$(tail -n 1 "$work/order-load.out")
        [[ $summary == "orders placed="* ]] || fail "order-load printed no summary line"
        [[ $summary == *" lost=0 "* ]] || fail "orders were lost: $summary"
        ((rc == 0)) || fail "order-load exited with status $rc"
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
