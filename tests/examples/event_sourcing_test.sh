#!/usr/bin/env bash
# examples/event-sourcing: the ledger's balances survive a restart because
# it rebuilds them from its event topic.  Deposits and withdrawals go in
# (one withdrawal refused with FAILED_PRECONDITION and not recorded), the
# ledger is stopped and started again, and after the replay it reports the
# same balances and versions, and goes on from them.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ledger=$builddir/examples/event-sourcing/ledger
client=$builddir/examples/event-sourcing/ledger-client
need_built "$kbus_prog" "$ledger" "$client"

# client ARGS...: runs ledger-client; its output is in $out, status in $st.
client() {
        st=0
        out=$(run 30 "$client" -t 10000 "$@" 2>>"$work/client.log") || st=$?
}

# A ledger that has just started serving may still be joining the request
# topic's consumer group; ask for an unknown account until it answers.
wait_served() {
        local _
        for _ in 1 2 3; do
                client balance nobody
                [[ $out == "NOT_FOUND nobody:"* ]] && return 0
                note "ledger not answering yet: $out"
        done
        fail "ledger did not answer GetBalance in 3 tries"
}

# expect WANT: fails unless the last client output is WANT.
expect() {
        [[ $out == "$1" ]] || fail "ledger-client printed [$out], want [$1]"
}

start_broker
start ledger "$ledger"
wait_for_line ledger '^ready: 0 events replayed' 20
wait_served

client deposit alice 1000 withdraw alice 300 deposit bob 500 \
        withdraw bob 200 deposit alice 50
((st == 0)) || fail "ledger-client failed: $out"
expect "OK alice 1000 1
OK alice 700 2
OK bob 500 1
OK bob 300 2
OK alice 750 3"

# Overdrafts are refused, and leave nothing in the log.
client withdraw bob 301
((st == 1)) || fail "overdraft: ledger-client exited $st, want 1"
[[ $out == "FAILED_PRECONDITION bob: insufficient funds"* ]] ||
        fail "overdraft: ledger-client printed [$out]"
client withdraw carol 1
[[ $out == "FAILED_PRECONDITION carol:"* ]] ||
        fail "withdrawal from a new account: ledger-client printed [$out]"

client balance alice balance bob
before=$out
expect "OK alice 750 3
OK bob 300 2"

# Restart: everything the ledger knows must come back from the topic.
stop_clean ledger
start ledger "$ledger"
wait_for_line ledger '^ready: ' 20
ready=$(grep '^ready: ' "$work/ledger.out")
[[ $ready == "ready: 5 events replayed, 2 accounts" ]] ||
        fail "after restart the ledger says [$ready], want 5 events, 2 accounts"
wait_served
client balance alice balance bob
[[ $out == "$before" ]] || fail "after replay: [$out], before restart: [$before]"

# And it goes on from the replayed state: versions continue, the balance
# still guards withdrawals.
client withdraw alice 750
expect "OK alice 0 4"
client withdraw alice 1
[[ $out == "FAILED_PRECONDITION alice:"* ]] ||
        fail "withdrawal from an empty account: ledger-client printed [$out]"

stop_clean ledger
stop_clean broker
note "ok"
