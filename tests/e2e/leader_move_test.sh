#!/usr/bin/env bash
# The leaders of every partition of the orders topics (the OrderService
# request topic and the OrderPlaced event topic) move to another broker of
# a three-broker cluster, three times, in the middle of a run.  Producers
# and consumers must follow the leaders: every order ends final (lost=0)
# and the books balance.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$e2e_broker" "$bin"/{gateway,orders,inventory,payments,shipping,order-load}

moved=(shop.v1.OrderService shop.v1.OrderPlaced)
others=()
for t in "${pipeline_topics[@]}"; do
        [[ " ${moved[*]} " == *" $t "* ]] || others+=("--topic=$t")
done
start broker "$e2e_broker" --brokers 3 --partitions 4 \
        "${moved[@]/#/--move=}" "${others[@]}"
use_broker broker
payments_flags=(--transient-rate 0.03 --decline-rate 0.02 --latency-ms 5)
start_services

start_load
# leaders TOPIC: "partition:leader ..." as the cluster's metadata says.
leaders() {
        kcat -L -b "$BOOTSTRAP" -t "$1" 2>/dev/null |
                sed -n 's/^ *partition \([0-9]*\), leader \([0-9]*\),.*/\1:\2/p' |
                sort | tr '\n' ' '
}
have_kcat=
command -v kcat >/dev/null 2>&1 && have_kcat=yes

# Three moves 1.5 s apart, while the orders are being placed.
move_gap=1.5
((slow == 1)) || move_gap=$((2 * slow))
wait_progress $((load_orders / 5)) 60
for move in 1 2 3; do
        before=${have_kcat:+$(leaders shop.v1.OrderService)}
        note "moving the leaders of ${moved[*]} (move $move)"
        kill -USR1 "$(pid_of broker)"
        sleep "$move_gap"
        if [[ -n $have_kcat ]]; then
                after=$(leaders shop.v1.OrderService)
                note "shop.v1.OrderService leaders: $before-> $after"
                [[ -n $after && $after != "$before" ]] ||
                        fail "the leaders of shop.v1.OrderService did not move"
        fi
done

finish_load
note "$SUMMARY"
ledger_check
grep -q 'move 3: leaders' "$work/broker.log" || fail "the broker did not move the leaders three times"
stop_all clean
note ok
