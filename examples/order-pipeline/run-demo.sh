#!/usr/bin/env bash
# The order pipeline on an embedded broker, start to finish: starts
# `kbus broker`, INSTANCES instances of each of the five services (orders,
# inventory, payments, shipping, gateway) and order-load, which places the
# orders through the gateways, prints progress, checks the books and ends
# with its summary line.  Mid-run it SIGKILLs one instance of a stateful
# service (KILL: orders, inventory, payments, shipping, random, or none),
# never restarts it, and says when the survivors have taken its partitions
# over.  Every process it starts is stopped when it exits, whatever happens.
#
# Usage: run-demo.sh [-b BUILDDIR] [-n ORDERS] [-C IN_FLIGHT] [--rpc]
#                    [-i INSTANCES] [--kill SERVICE] [--transient-rate R]
#                    [--decline-rate R] [--keep]
#
# BUILDDIR is the top build directory (default: $KBUS_BUILDDIR, else
# ./build of the source tree if it has the programs, else the current
# directory).  INSTANCES defaults to 2, KILL to random (none when there
# is one instance).  The exit status is order-load's: 0 when every order
# ended final and the books balance.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcroot=$(cd "$here/../.." && pwd)

usage() {
        sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

builddir=${KBUS_BUILDDIR:-}
orders=1000
in_flight=32
transient=0.03
decline=0.02
mode=(--url)
keep=
instances=2
victim=random
while (($#)); do
        case $1 in
        -b | --build) builddir=$2; shift 2 ;;
        -n | --orders) orders=$2; shift 2 ;;
        -C | --in-flight) in_flight=$2; shift 2 ;;
        --rpc) mode=(--rpc); shift ;;
        -i | --instances) instances=$2; shift 2 ;;
        --kill) victim=$2; shift 2 ;;
        --transient-rate) transient=$2; shift 2 ;;
        --decline-rate) decline=$2; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "run-demo.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
        esac
done
if ! [[ $instances =~ ^[1-8]$ ]]; then
        echo "run-demo.sh: --instances needs 1 to 8, not '$instances'" >&2
        exit 2
fi
case $victim in
orders | inventory | payments | shipping | none) ;;
random) victim=(orders inventory payments shipping)
        victim=${victim[RANDOM % 4]} ;;
*) echo "run-demo.sh: --kill needs orders, inventory, payments, shipping, random or none" >&2
        exit 2 ;;
esac
((instances > 1)) || victim=none
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
                echo "logs kept in $work"
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
# metadata refresh to find its topic.  shop.v1.StockCommand and
# shop.v1.StockOutcome are inventory's own (the hop that re-keys an
# order's lines by product); the services create their tables' changelog
# topics themselves.
topics=(shop.v1.OrderService shop.v1.InventoryService shop.v1.PaymentService
        shop.v1.ShippingService shop.v1.OrderPlaced shop.v1.StockReserved
        shop.v1.StockRejected shop.v1.StockReleased shop.v1.PaymentCaptured
        shop.v1.PaymentFailed shop.v1.OrderShipped shop.v1.StockCommand
        shop.v1.StockOutcome)
say "starting the embedded broker: kbus broker"
start broker "$kbus" broker --partitions 4 "${topics[@]/#/--topic=}"
bootstrap=$(first_line broker)
echo "   bootstrap $bootstrap"
export KBUS_BOOTSTRAP=$bootstrap KBUS_LOW_LATENCY=1

say "starting $instances instance(s) each of orders, inventory, payments (transient failures $transient, declines $decline), shipping, gateway"
urls=()
for ((n = 1; n <= instances; n++)); do
        start orders-$n "$bin/orders" -c "$conf/orders.conf"
        start inventory-$n "$bin/inventory" -c "$conf/inventory.conf"
        start payments-$n "$bin/payments" -c "$conf/payments.conf" \
                --transient-rate "$transient" --decline-rate "$decline" --latency-ms 5
        start shipping-$n "$bin/shipping" -c "$conf/shipping.conf"
        start gateway-$n "$bin/gateway" -c "$conf/gateway.conf" -p 0
        urls+=("$(first_line gateway-$n)")
done
url=$(IFS=,; echo "${urls[*]}")
echo "   gateways at $url"
for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[i]}" 2>/dev/null; then
                echo "run-demo.sh: ${names[i]} exited at start" >&2
                exit 1
        fi
done

# restores NAME: the restore lines NAME has logged so far.
restores() {
        grep -h '"component":"table".*restored: ' "$work/$1.log" 2>/dev/null || true
}

# kill_one SERVICE: once a third of the orders are placed, SIGKILLs
# SERVICE-1 (never restarted) and waits for the survivors to log the
# restores of the partitions they take over: the partitions move after
# the group drops the dead member (session.timeout.ms, 6 s with
# low_latency), and each survivor rebuilds their tables from the
# changelogs before handling their next record.
kill_one() {
        local service=$1 dead=$1-1 placed=0 t0 t1 n pid before=() line entries ms parts
        for _ in $(seq 600); do
                placed=$(sed -n 's/^progress .* placed=\([0-9]*\)\/.*/\1/p' \
                        "$work/order-load.out" 2>/dev/null | tail -n 1)
                ((${placed:-0} >= orders / 3)) && break
                kill -0 "$load_pid" 2>/dev/null || return 0
                sleep 0.1
        done
        for ((n = 2; n <= instances; n++)); do
                before[n]=$(restores "$service-$n" | wc -l)
        done
        t0=$(date +%s%N)
        pid=$(pid_of "$dead")
        disown "$pid" 2>/dev/null || true # no "Killed" notice from bash
        kill -KILL "$pid"
        for _ in $(seq 300); do
                sleep 0.1
                entries=0 ms=0 parts=0
                for ((n = 2; n <= instances; n++)); do
                        while IFS= read -r line; do
                                [[ $line =~ partition\ ([0-9]+)\ restored:\ ([0-9]+)\ entries.*\ in\ ([0-9]+)\ ms ]] || continue
                                entries=$((entries + BASH_REMATCH[2]))
                                ((BASH_REMATCH[3] <= ms)) || ms=${BASH_REMATCH[3]}
                                parts=$((parts + 1))
                        done < <(restores "$service-$n" | tail -n +$((before[n] + 1)))
                done
                # every table of the 4 partitions, in some survivor
                if ((parts >= 4 * $(tables_of "$service"))); then
                        t1=$(date +%s%N)
                        echo "killed $dead with SIGKILL at placed=$placed (not restarted); the survivor$( ((instances > 2)) && echo s) restored its partitions: $entries entries, longest restore $ms ms; serving them $(( (t1 - t0) / 1000000 )) ms after the kill"
                        return 0
                fi
        done
        echo "killed $dead with SIGKILL at placed=$placed (not restarted); no restore seen within 30 s"
}
tables_of() {
        case $1 in
        orders) echo 3 ;;
        inventory) echo 4 ;;
        *) echo 1 ;;
        esac
}
pid_of() {
        local i
        for i in "${!names[@]}"; do
                [[ ${names[i]} == "$1" ]] && { echo "${pids[i]}"; return; }
        done
}

if [[ ${mode[0]} == --url ]]; then
        mode+=("$url")
fi
plan=
[[ $victim == none ]] || plan="; one $victim instance is killed mid-run"
say "order-load: $orders orders, $in_flight in flight$plan"
"$bin/order-load" -c "$conf/order-load.conf" "${mode[@]}" -n "$orders" \
        -C "$in_flight" --poison 3 >"$work/order-load.out" 2>"$work/order-load.log" &
load_pid=$!
pids+=("$load_pid")
names+=(order-load)
tail -n +1 -f --pid="$load_pid" "$work/order-load.out" &
tail_pid=$!
[[ $victim == none ]] || kill_one "$victim"
status=0
wait "$load_pid" || status=$?
wait "$tail_pid" 2>/dev/null || true
say "stopping every process"
exit "$status"
