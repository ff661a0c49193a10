#!/usr/bin/env bash
# The order pipeline on an embedded broker, start to finish: starts
# `kbus broker`, the five services (orders, inventory, payments, shipping,
# gateway) and order-load, which places the orders through the gateway,
# prints progress, checks the books and ends with its summary line.  Every
# process it starts is stopped when it exits, whatever happens.
#
# Usage: run-demo.sh [-b BUILDDIR] [-n ORDERS] [-C IN_FLIGHT] [--rpc]
#                    [--transient-rate R] [--decline-rate R] [--keep]
#
# BUILDDIR is the top build directory (default: $KBUS_BUILDDIR, else
# ./build of the source tree if it has the programs, else the current
# directory).  The exit status is order-load's: 0 when every order ended
# final and the books balance.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(cd "$here/../.." && pwd)

usage() {
        sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

builddir=${KBUS_BUILDDIR:-}
orders=1000
in_flight=32
transient=0.03
decline=0.02
mode=(--url)
keep=
while (($#)); do
        case $1 in
        -b | --build) builddir=$2; shift 2 ;;
        -n | --orders) orders=$2; shift 2 ;;
        -C | --in-flight) in_flight=$2; shift 2 ;;
        --rpc) mode=(--rpc); shift ;;
        --transient-rate) transient=$2; shift 2 ;;
        --decline-rate) decline=$2; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "run-demo.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
        esac
done
if [[ -z $builddir ]]; then
        if [[ -x $srcroot/build/examples/order-pipeline/orders ]]; then
                builddir=$srcroot/build
        else
                builddir=$PWD
        fi
fi
bin=$builddir/examples/order-pipeline
kbus=$builddir/kbus
for prog in "$kbus" "$bin"/{gateway,orders,inventory,payments,shipping,order-load}; do
        if [[ ! -x $prog ]]; then
                echo "run-demo.sh: $prog was not built (give the build directory with -b)" >&2
                exit 1
        fi
done
conf=$here/config

work=$(mktemp -d "${TMPDIR:-/tmp}/order-pipeline.XXXXXX")
pids=()
names=()

# Stops everything, newest first: SIGTERM, then SIGKILL after 10 s.
stop_all() {
        local rc=$? i pid
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                pid=${pids[i]}
                kill -TERM "$pid" 2>/dev/null || continue
                for _ in $(seq 100); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                        echo "run-demo.sh: ${names[i]} ignored SIGTERM; killing it" >&2
                        kill -KILL "$pid" 2>/dev/null || true
                fi
                wait "$pid" 2>/dev/null || true
        done
        if ((rc != 0)); then
                local f
                for f in "$work"/*.log; do
                        [[ -s $f ]] || continue
                        echo "---- ${f##*/} (last 15 lines) ----" >&2
                        tail -n 15 "$f" >&2
                done
        fi
        if [[ -n $keep ]]; then
                echo "logs and journals kept in $work"
        else
                rm -rf "$work"
        fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '== %s\n' "$*"; }

# start NAME COMMAND...: stdout to NAME.out, stderr (JSON logs) to NAME.log
start() {
        local name=$1
        shift
        "$@" >"$work/$name.out" 2>"$work/$name.log" &
        pids+=($!)
        names+=("$name")
}

# first_line NAME: waits up to 20 s for NAME's first line of output.
first_line() {
        local name=$1 line= pid=${pids[-1]}
        for _ in $(seq 200); do
                if [[ -s $work/$name.out ]] && IFS= read -r line <"$work/$name.out" &&
                        [[ -n $line ]]; then
                        printf '%s\n' "$line"
                        return 0
                fi
                if ! kill -0 "$pid" 2>/dev/null; then
                        echo "run-demo.sh: $name exited" >&2
                        return 1
                fi
                sleep 0.1
        done
        echo "run-demo.sh: $name printed nothing within 20 s" >&2
        return 1
}

# Topics exist before anyone subscribes, so no consumer waits for a
# metadata refresh to find its topic.
topics=(shop.v1.OrderService shop.v1.InventoryService shop.v1.PaymentService
        shop.v1.ShippingService shop.v1.OrderPlaced shop.v1.StockReserved
        shop.v1.StockRejected shop.v1.StockReleased shop.v1.PaymentCaptured
        shop.v1.PaymentFailed shop.v1.OrderShipped)
say "starting the embedded broker: kbus broker"
start broker "$kbus" broker --partitions 4 "${topics[@]/#/--topic=}"
bootstrap=$(first_line broker)
echo "   bootstrap $bootstrap"
export KBUS_BOOTSTRAP=$bootstrap KBUS_LOW_LATENCY=1

say "starting orders, inventory, payments (transient failures $transient, declines $decline), shipping"
state=$work/state
start orders "$bin/orders" -c "$conf/orders.conf" -s "$state/orders"
start inventory "$bin/inventory" -c "$conf/inventory.conf" -s "$state/inventory"
start payments "$bin/payments" -c "$conf/payments.conf" -s "$state/payments" \
        --transient-rate "$transient" --decline-rate "$decline" --latency-ms 5
start shipping "$bin/shipping" -c "$conf/shipping.conf" -s "$state/shipping"
start gateway "$bin/gateway" -c "$conf/gateway.conf" -p 0
url=$(first_line gateway)
echo "   gateway at $url"
for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[i]}" 2>/dev/null; then
                echo "run-demo.sh: ${names[i]} exited at start" >&2
                exit 1
        fi
done

if [[ ${mode[0]} == --url ]]; then
        mode+=("$url")
fi
say "order-load: $orders orders, $in_flight in flight"
status=0
"$bin/order-load" -c "$conf/order-load.conf" "${mode[@]}" -n "$orders" \
        -C "$in_flight" --poison 3 2>"$work/order-load.log" || status=$?
say "stopping every process"
exit "$status"
