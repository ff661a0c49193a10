#!/usr/bin/env bash
# examples/event-sourcing: the ledger's accounts are event-sourced
# aggregates (docs/AGGREGATES.md).
#  1. By hand: deposits, withdrawals, an overdraft refused; the same
#     commands sent again (same ids) are answered as the first time and
#     change nothing, a refusal included; a transfer, and one to an
#     account never opened whose money comes back; an audit with each
#     event's time, cause and correlation id.
#  2. Two clients run transfers, deposits and withdrawals at once over 8
#     accounts, and send a tenth of the answered commands again; the ledger
#     is killed with SIGKILL mid-run and restarted, and the clients send
#     what was not answered again, same ids.  Then (ledger_check.py): the
#     money is conserved, no balance is negative, every account is what
#     the acknowledged operations make it, each history holds each of them
#     once, and a replay from scratch gives what the ledger loads from its
#     latest snapshot.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ledger=$builddir/examples/event-sourcing/ledger
client=$builddir/examples/event-sourcing/ledger-client
need_built "$kbus_prog" "$ledger" "$client"
[[ -x $python ]] || skip "$python is not installed"

# client ARGS...: runs ledger-client; its output is in $out, status in $st.
client() {
        st=0
        out=$(run 60 "$client" -t 10000 "$@" 2>>"$work/client.log") || st=$?
}

# expect WANT: fails unless the last client output is WANT.
expect() {
        [[ $out == "$1" ]] || fail "ledger-client printed [$out], want [$1]"
}

# each VERB ACCOUNT...: runs ledger-client VERB ACCOUNT for each, in one
# run.
each() {
        local verb=$1 a args=()
        shift
        for a; do
                args+=("$verb" "$a")
        done
        client "${args[@]}"
}

# settled ACCOUNT...: whether no money of theirs is in transit.
settled() {
        each balance "$@"
        [[ $out != *in-transit* ]]
}

start_broker
start ledger "$ledger"
wait_for_line ledger '^ready$' 30

# ---- 1. by hand ----
client -i h deposit alice 1000 withdraw alice 300 deposit bob 500 \
        withdraw bob 200 deposit alice 50
((st == 0)) || fail "ledger-client failed: $out"
hand="OK alice 1000 1
OK alice 700 2
OK bob 500 1
OK bob 300 2
OK alice 750 3"
expect "$hand"

# The same ids again: the same answers, nothing applied twice.
client -i h deposit alice 1000 withdraw alice 300 deposit bob 500 \
        withdraw bob 200 deposit alice 50
expect "$hand"

# An overdraft is refused; its id stays refused even once the money is
# there.
client -i o withdraw bob 301
((st == 1)) || fail "overdraft: ledger-client exited $st, want 1"
expect "FAILED_PRECONDITION bob: insufficient funds: balance 300, asked for 301"
client -i d deposit bob 1000
expect "OK bob 1300 3"
client -i o withdraw bob 301
expect "FAILED_PRECONDITION bob: insufficient funds: balance 300, asked for 301"
client balance bob
expect "OK bob 1300 3"

# Transfers: to bob, and to an account never opened (the money returns).
client -i t transfer alice bob 100 transfer alice nobody 50
[[ $out == "OK alice 650 4 in-transit 100"* ]] ||
        fail "transfer: ledger-client printed [$out]"
wait_for 30 "transfers settled" settled alice bob
client balance alice balance bob balance nobody
expect "OK alice 650 7
OK bob 1400 4
NOT_FOUND nobody: no such account"
client audit alice
audit=$out
note "audit alice:"$'\n'"$audit"
grep -Eq '^v1 [0-9-]{10}T[0-9:.]{12}Z deposited 1000; balance=1000 cause=h-1 correlation=h-1$' <<<"$audit" ||
        fail "audit: no deposit with time, cause and correlation id"
grep -Eq '^v[67] .* got 50 back: transfer t-2 refused \(no account nobody\); balance=6[05]0 cause=t-2/settle correlation=t-2$' <<<"$audit" ||
        fail "audit: the refused transfer's money did not come back"
grep -q '^replayed alice: balance=650 in-transit=0 version=7$' <<<"$audit" ||
        fail "audit: the replay does not end where the ledger is"

# ---- 2. two clients, SIGKILL and restart ----
accounts=8 seed=10000
seed_ops=()
for ((k = 0; k < accounts; k++)); do
        seed_ops+=(deposit "a$k" "$seed")
done
client -i seed "${seed_ops[@]}"
((st == 0)) || fail "seeding failed: $out"

ops=1500
for c in c1 c2; do
        start "$c" "$client" run -n "$ops" -j 4 -a "$accounts" -s "${c#c}" \
                -i "$c" -o "$work/$c.ops" -t $((2000 * slow)) -T $((100 * slow))
done
wait_for_line c1 '^ready$' 30
wait_for_line c2 '^ready$' 30
wait_for 60 "c1 at 300 operations" \
        eval '[[ $(wc -l <"$work/c1.ops") -ge 300 ]]'
crash ledger
note "ledger killed after $(wc -l <"$work/c1.ops") + $(wc -l <"$work/c2.ops") operations"
start ledger "$ledger"
wait_for_line ledger '^ready$' 60
for c in c1 c2; do
        await "$c" 150
        ((status == 0)) || fail "$c failed: $(cat "$work/$c.out")"
        note "$c: $(tail -n 1 "$work/$c.out")"
        grep -q ' mismatches=0 unknown=0 ' "$work/$c.out" ||
                fail "$c: $(tail -n 1 "$work/$c.out")"
done

accts=()
for ((k = 0; k < accounts; k++)); do
        accts+=("a$k")
done
# Every transfer settles; if one does not, ledger_check.py says which
# account still has money in transit, with whatever else is wrong.
for ((i = 0; i < 300 * slow; i++)); do
        settled "${accts[@]}" && break
        sleep 0.2
done
each balance "${accts[@]}"
printf '%s\n' "$out" >"$work/balances"
each audit "${accts[@]}"
printf '%s\n' "$out" >"$work/audits"
timeout $((60 * slow)) "$python" "$tests_srcdir/examples/ledger_check.py" \
        "$accounts" "$seed" "$work/balances" "$work/audits" \
        "$work/c1.ops" "$work/c2.ops" >"$work/check.out" ||
        fail "$(cat "$work/check.out")"
note "check: $(cat "$work/check.out")"
for g in 0 1 2 3; do
        client balance "ghost$g"
        [[ $out == "NOT_FOUND ghost$g:"* ]] || fail "ghost$g was opened: $out"
done
note "copies answered from the accounts' memory: $(grep -c 'answered as then' "$work/ledger.log" || true); known by their sequence number: $(grep -c ': a copy' "$work/ledger.log" || true)"
stop_clean ledger
stop_clean broker
note "ok"
