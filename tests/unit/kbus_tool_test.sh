#!/bin/bash
# kbus_tool_test.sh: the `kbus` command-line tool, run as a user runs it.
#
# Scripts and other tests start `kbus broker`, read the bootstrap list from
# its first line of output and stop it with SIGTERM, so that contract is
# what this checks: the list comes first, the brokers accept connections,
# SIGTERM ends the process with status 0 quickly, and usage errors exit 2.
# bash, for /dev/tcp.  The broker listens on loopback only and is stopped
# on every way out of this script.

set -u

KBUS=${KBUS:-./kbus}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kbus_tool_test.XXXXXX") || exit 99
pid=
failures=0

cleanup() {
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect_status WANT DESCRIPTION -- COMMAND...
expect_status() {
        local want=$1 what=$2 got
        shift 3
        "$@" >"$tmp/out" 2>"$tmp/err"
        got=$?
        if [ "$got" -ne "$want" ]; then
                fail "$what: exit $got, want $want; stderr: $(cat "$tmp/err")"
                return 1
        fi
        echo "ok: $what"
}

if [ ! -x "$KBUS" ]; then
        echo "kbus tool not found at $KBUS" >&2
        exit 99
fi

# ---- usage ----
expect_status 0 "kbus --help" -- "$KBUS" --help &&
        { grep -q broker "$tmp/out" || fail "--help does not mention broker"; }
expect_status 0 "kbus broker --help" -- "$KBUS" broker --help &&
        { grep -q -- --partitions "$tmp/out" ||
                fail "broker --help does not mention --partitions"; }
expect_status 0 "kbus version" -- "$KBUS" version &&
        { grep -Eq '[0-9]+\.[0-9]+\.[0-9]+' "$tmp/out" ||
                fail "version prints no version: $(cat "$tmp/out")"; }
expect_status 2 "kbus with no subcommand" -- "$KBUS"
expect_status 2 "unknown subcommand" -- "$KBUS" frobnicate &&
        { grep -q frobnicate "$tmp/err" || fail "error does not name it"; }
expect_status 2 "unknown broker flag" -- "$KBUS" broker --bogus
expect_status 2 "bad --brokers" -- "$KBUS" broker --brokers abc &&
        { grep -q -- --brokers "$tmp/err" ||
                fail "error does not name --brokers: $(cat "$tmp/err")"; }
expect_status 2 "bad --partitions" -- "$KBUS" broker --partitions 0 &&
        { grep -q -- --partitions "$tmp/err" ||
                fail "error does not name --partitions: $(cat "$tmp/err")"; }
expect_status 2 "--topic without a name" -- "$KBUS" broker --topic
expect_status 2 "bad topic name" -- "$KBUS" broker --topic "a b" &&
        { grep -q -- --topic "$tmp/err" || fail "error does not name --topic"; }

# ---- a running broker ----
"$KBUS" broker --brokers 2 --partitions 3 --topic orders --topic payments \
        >"$tmp/broker.out" 2>"$tmp/broker.err" &
pid=$!

# The first line must appear on its own, before the process ends: the
# tool flushes it, so a reader never waits for a buffer to fill.
bootstrap=
for _ in $(seq 100); do
        if IFS= read -r bootstrap <"$tmp/broker.out" && [ -n "$bootstrap" ]; then
                break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
done

if [ -z "$bootstrap" ]; then
        fail "no bootstrap line; stderr: $(cat "$tmp/broker.err")"
else
        echo "ok: bootstrap list: $bootstrap"
        if ! [[ $bootstrap =~ ^[^,:]+:[0-9]+(,[^,:]+:[0-9]+)*$ ]]; then
                fail "first line is not a host:port list: '$bootstrap'"
        fi
        IFS=, read -r -a addrs <<<"$bootstrap"
        [ "${#addrs[@]}" -eq 2 ] || fail "want 2 brokers, got '$bootstrap'"
        for addr in "${addrs[@]}"; do
                host=${addr%:*} port=${addr##*:}
                case $host in
                127.* | localhost | ::1) ;;
                *) fail "broker $addr does not listen on loopback" ;;
                esac
                if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
                        echo "ok: connected to $addr"
                else
                        fail "cannot connect to $addr"
                fi
        done

        # With kcat, check that --topic and --partitions took effect.
        if command -v kcat >/dev/null 2>&1; then
                if timeout 20 kcat -L -b "$bootstrap" -t orders \
                        >"$tmp/meta" 2>&1 &&
                        grep -q 'topic "orders" with 3 partitions' "$tmp/meta"; then
                        echo "ok: topic orders has 3 partitions"
                else
                        fail "kcat metadata: $(cat "$tmp/meta")"
                fi
        fi
fi

if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                fail "still running 5 s after SIGTERM"
        else
                wait "$pid"
                status=$?
                pid=
                if [ "$status" -eq 0 ]; then
                        echo "ok: SIGTERM stops the broker with status 0"
                else
                        fail "exit status $status after SIGTERM"
                fi
        fi
else
        fail "broker exited early; stderr: $(cat "$tmp/broker.err")"
fi

[ "$failures" -eq 0 ] || exit 1
exit 0
