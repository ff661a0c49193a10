#!/bin/bash
# kbus_dlt_test.sh: `kbus dlt show` and `kbus dlt replay` against a real
# broker (`kbus broker`, loopback only), with kcat as the independent
# client that writes dead letters and reads what was replayed.
#
# Replay must send a dead letter back to its original topic with its key,
# value and original headers but none of the kafka_dlt-* ones, and must not
# replay it a second time.

set -u

KBUS=${KBUS:-./kbus}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kbus_dlt_test.XXXXXX") || exit 99
pid=
failures=0

cleanup() {
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

command -v kcat >/dev/null || { echo "kcat is not installed" >&2; exit 99; }

"$KBUS" broker >"$tmp/broker.out" 2>"$tmp/broker.err" &
pid=$!
boot=
for _ in $(seq 100); do
        IFS= read -r boot <"$tmp/broker.out" 2>/dev/null && [ -n "$boot" ] && break
        sleep 0.1
done
[ -n "$boot" ] || { echo "broker printed no bootstrap list" >&2; exit 1; }
export KBUS_BOOTSTRAP=$boot KBUS_LOW_LATENCY=1

dead_letter() { # KEY VALUE
        printf '%s:%s\n' "$1" "$2" |
                kcat -P -b "$boot" -t orders.DLT -K: \
                        -H kafka_dlt-original-topic=orders \
                        -H kafka_dlt-exception-fqcn=kbus.HandlerError \
                        -H "kafka_dlt-exception-message=UNAVAILABLE: down" \
                        -H kbus-attempts=5 -H ce_type=shop.v1.OrderPlaced ||
                fail "kcat could not produce"
}

dead_letter k1 v1

# ---- show ----
"$KBUS" dlt show -t orders.DLT >"$tmp/show" 2>"$tmp/err" ||
        fail "dlt show failed: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/show")" -eq 1 ] || fail "dlt show: want 1 line, got: $(cat "$tmp/show")"
for want in '"original_topic":"orders"' '"error":"kbus.HandlerError"' \
        '"reason":"UNAVAILABLE: down"' '"key":"k1"' '"attempts":"5"'; do
        grep -qF "$want" "$tmp/show" || fail "dlt show lacks $want: $(cat "$tmp/show")"
done

# ---- replay ----
"$KBUS" dlt replay -t orders.DLT 2>"$tmp/err" || fail "replay failed: $(cat "$tmp/err")"
grep -q "replayed 1 records" "$tmp/err" || fail "replay summary: $(cat "$tmp/err")"
kcat -C -b "$boot" -t orders -o beginning -e -f '%k %s %h\n' >"$tmp/orders" 2>/dev/null
[ "$(wc -l <"$tmp/orders")" -eq 1 ] || fail "orders: want 1 record, got: $(cat "$tmp/orders")"
grep -q '^k1 v1 ' "$tmp/orders" || fail "replayed record: $(cat "$tmp/orders")"
grep -q 'ce_type=shop.v1.OrderPlaced' "$tmp/orders" || fail "original header lost: $(cat "$tmp/orders")"
grep -q 'kafka_dlt-' "$tmp/orders" && fail "kafka_dlt headers kept: $(cat "$tmp/orders")"

# A second run has nothing new to replay.
"$KBUS" dlt replay -t orders.DLT 2>"$tmp/err" || fail "second replay failed: $(cat "$tmp/err")"
grep -q "replayed 0 records" "$tmp/err" || fail "second replay: $(cat "$tmp/err")"

# A new dead letter is replayed, and only it.
dead_letter k2 v2
"$KBUS" dlt replay -t orders.DLT --dry-run >"$tmp/dry" 2>"$tmp/err" || fail "dry run failed"
grep -q '"replay_to":"orders"' "$tmp/dry" || fail "dry run output: $(cat "$tmp/dry")"
"$KBUS" dlt replay -t orders.DLT 2>"$tmp/err" || fail "third replay failed: $(cat "$tmp/err")"
grep -q "replayed 1 records" "$tmp/err" || fail "third replay: $(cat "$tmp/err")"
kcat -C -b "$boot" -t orders -o beginning -e -f '%k\n' >"$tmp/orders" 2>/dev/null
[ "$(sort "$tmp/orders" | tr '\n' ' ')" = "k1 k2 " ] || fail "orders after replays: $(cat "$tmp/orders")"

# ---- usage errors ----
"$KBUS" dlt show >/dev/null 2>&1; [ $? -eq 2 ] || fail "dlt show without --topic should exit 2"
"$KBUS" dlt frob -t x >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown action should exit 2"
"$KBUS" dlt --help | grep -q replay || fail "dlt --help"

[ "$failures" -eq 0 ] && echo "kbus dlt: all checks passed"
exit $((failures > 0))
