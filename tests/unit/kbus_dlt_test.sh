#!/usr/bin/env bash
# kbus_dlt_test.sh: `kbus dlt show` and `kbus dlt replay` against a real
# broker (`kbus broker`, loopback only), with kcat as the independent
# client that writes dead letters and reads what was replayed.
#
# Replay must send a dead letter back to its original topic with its key,
# value and original headers but none of the kafka_dlt-* ones, and must not
# replay it a second time.

set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_built "$kbus_prog"
# Without kcat nothing here can be checked independently of kbus: an
# error, not a skip, so that `kbus dlt` does not go untested unnoticed.
command -v kcat >/dev/null || { echo "kcat is not installed" >&2; exit 99; }

# kbus ARGS...: the tool, under the wrapper.
kbus() { run 60 "$kbus_prog" "$@"; }

dead_letter() { # KEY VALUE
        printf '%s:%s\n' "$1" "$2" |
                kcat -P -b "$BOOTSTRAP" -t orders.DLT -K: \
                        -H kafka_dlt-original-topic=orders \
                        -H kafka_dlt-exception-fqcn=kbus.HandlerError \
                        -H "kafka_dlt-exception-message=UNAVAILABLE: down" \
                        -H kbus-attempts=5 -H ce_type=shop.v1.OrderPlaced ||
                fail "kcat could not produce"
}

start_broker
dead_letter k1 v1

# ---- show ----
kbus dlt show -t orders.DLT >"$work/show" 2>"$work/err" ||
        fail "dlt show failed: $(cat "$work/err")"
(($(wc -l <"$work/show") == 1)) || fail "dlt show: want 1 line, got: $(cat "$work/show")"
for want in '"original_topic":"orders"' '"error":"kbus.HandlerError"' \
        '"reason":"UNAVAILABLE: down"' '"key":"k1"' '"attempts":"5"'; do
        grep -qF "$want" "$work/show" || fail "dlt show lacks $want: $(cat "$work/show")"
done

# ---- replay ----
kbus dlt replay -t orders.DLT 2>"$work/err" || fail "replay failed: $(cat "$work/err")"
grep -q "replayed 1 records" "$work/err" || fail "replay summary: $(cat "$work/err")"
kcat -C -b "$BOOTSTRAP" -t orders -o beginning -e -f '%k %s %h\n' >"$work/orders" 2>/dev/null ||
        fail "kcat could not consume"
(($(wc -l <"$work/orders") == 1)) || fail "orders: want 1 record, got: $(cat "$work/orders")"
grep -q '^k1 v1 ' "$work/orders" || fail "replayed record: $(cat "$work/orders")"
grep -q 'ce_type=shop.v1.OrderPlaced' "$work/orders" ||
        fail "original header lost: $(cat "$work/orders")"
! grep -q 'kafka_dlt-' "$work/orders" || fail "kafka_dlt headers kept: $(cat "$work/orders")"

# A second run has nothing new to replay.
kbus dlt replay -t orders.DLT 2>"$work/err" ||
        fail "second replay failed: $(cat "$work/err")"
grep -q "replayed 0 records" "$work/err" || fail "second replay: $(cat "$work/err")"

# A new dead letter is replayed, and only it.
dead_letter k2 v2
kbus dlt replay -t orders.DLT --dry-run >"$work/dry" 2>"$work/err" || fail "dry run failed"
grep -q '"replay_to":"orders"' "$work/dry" || fail "dry run output: $(cat "$work/dry")"
kbus dlt replay -t orders.DLT 2>"$work/err" || fail "third replay failed: $(cat "$work/err")"
grep -q "replayed 1 records" "$work/err" || fail "third replay: $(cat "$work/err")"
kcat -C -b "$BOOTSTRAP" -t orders -o beginning -e -f '%k\n' >"$work/orders" 2>/dev/null ||
        fail "kcat could not consume"
[[ $(sort "$work/orders" | tr '\n' ' ') == "k1 k2 " ]] ||
        fail "orders after replays: $(cat "$work/orders")"

# ---- usage errors ----
st=0
kbus dlt show >/dev/null 2>&1 || st=$?
((st == 2)) || fail "dlt show without --topic should exit 2"
st=0
kbus dlt frob -t x >/dev/null 2>&1 || st=$?
((st == 2)) || fail "unknown action should exit 2"
kbus dlt --help >"$work/help"
grep -q replay "$work/help" || fail "dlt --help"

stop_clean broker
note "kbus dlt: all checks passed"
