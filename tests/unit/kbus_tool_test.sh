#!/usr/bin/env bash
# kbus_tool_test.sh: the `kbus` command-line tool, run as a user runs it.
#
# Scripts and other tests start `kbus broker`, read the bootstrap list from
# its first line of output and stop it with SIGTERM, so that contract is
# what this checks: the list comes first, the brokers accept connections,
# SIGTERM ends the process with status 0 quickly, and usage errors exit 2.
# bash, for /dev/tcp.  The broker listens on loopback only and is stopped
# on every way out of this script.

set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_built "$kbus_prog"

# expect_status WANT DESCRIPTION -- ARGS...: runs `kbus ARGS...`, output
# in $work/out and $work/err.
expect_status() {
        local want=$1 what=$2 got=0
        shift 3
        run 30 "$kbus_prog" "$@" >"$work/out" 2>"$work/err" || got=$?
        ((got == want)) || fail "$what: exit $got, want $want; stderr: $(cat "$work/err")"
        note "ok: $what"
}

# ---- usage ----
expect_status 0 "kbus --help" -- --help
grep -q broker "$work/out" || fail "--help does not mention broker"
expect_status 0 "kbus broker --help" -- broker --help
grep -q -- --partitions "$work/out" || fail "broker --help does not mention --partitions"
expect_status 0 "kbus version" -- version
grep -Eq '[0-9]+\.[0-9]+\.[0-9]+' "$work/out" ||
        fail "version prints no version: $(cat "$work/out")"
expect_status 2 "kbus with no subcommand" --
expect_status 2 "unknown subcommand" -- frobnicate
grep -q frobnicate "$work/err" || fail "error does not name it"
expect_status 2 "unknown broker flag" -- broker --bogus
expect_status 2 "bad --brokers" -- broker --brokers abc
grep -q -- --brokers "$work/err" || fail "error does not name --brokers: $(cat "$work/err")"
expect_status 2 "bad --partitions" -- broker --partitions 0
grep -q -- --partitions "$work/err" ||
        fail "error does not name --partitions: $(cat "$work/err")"
expect_status 2 "--topic without a name" -- broker --topic
expect_status 2 "bad topic name" -- broker --topic "a b"
grep -q -- --topic "$work/err" || fail "error does not name --topic"
expect_status 2 "--ready-file without a name" -- broker --ready-file
expect_status 2 "--ready-file with an empty name" -- broker --ready-file ""
expect_status 1 "--ready-file in a missing directory" -- \
        broker --ready-file "$work/no/such/dir/ready"
grep -q -- "--ready-file $work/no/such/dir/ready" "$work/err" ||
        fail "error does not name the ready file: $(cat "$work/err")"

# ---- a running broker ----
start broker "$kbus_prog" broker --brokers 2 --partitions 3 --topic orders \
        --topic payments

# The first line must appear on its own, before the process ends: the
# tool flushes it, so a reader never waits for a buffer to fill.
bootstrap=$(first_line broker 10)
note "ok: bootstrap list: $bootstrap"
[[ $bootstrap =~ ^[^,:]+:[0-9]+(,[^,:]+:[0-9]+)*$ ]] ||
        fail "first line is not a host:port list: '$bootstrap'"
IFS=, read -r -a addrs <<<"$bootstrap"
((${#addrs[@]} == 2)) || fail "want 2 brokers, got '$bootstrap'"
for addr in "${addrs[@]}"; do
        host=${addr%:*} port=${addr##*:}
        case $host in
        127.* | localhost | ::1) ;;
        *) fail "broker $addr does not listen on loopback" ;;
        esac
        (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || fail "cannot connect to $addr"
        note "ok: connected to $addr"
done

# With kcat, check that --topic and --partitions took effect.
if command -v kcat >/dev/null 2>&1; then
        timeout 20 kcat -L -b "$bootstrap" -t orders >"$work/meta" 2>&1 &&
                grep -q 'topic "orders" with 3 partitions' "$work/meta" ||
                fail "kcat metadata: $(cat "$work/meta")"
        note "ok: topic orders has 3 partitions"
fi

running broker || fail "broker exited early"
kill -TERM "$(pid_of broker)"
await broker 5
((status == 0)) || fail "exit status $status after SIGTERM"
note "ok: SIGTERM stops the broker with status 0"

# ---- --ready-file: the README's way to wait for a broker ----
# A file an earlier run left behind must not pass for this broker's: it is
# removed at start, and the new one appears whole, once the broker
# listens (never empty or half written), with the same line as stdout.
echo "127.0.0.1:1" >"$work/ready"
start ready-broker "$kbus_prog" broker --ready-file "$work/ready"
ready_written() {
        [[ -f $work/ready && $(cat "$work/ready") != 127.0.0.1:1 ]]
}
# Each time the file is seen it must be complete: a line and its newline.
ready_complete() {
        if [[ -e $work/ready ]]; then
                [[ $(tail -c 1 "$work/ready" | od -An -c | tr -d ' ') == '\n' ]] ||
                        fail "ready file seen incomplete: '$(cat "$work/ready")'"
        fi
        ready_written
}
wait_for 10 "ready file written" ready_complete
ready=$(cat "$work/ready")
(($(wc -l <"$work/ready") == 1)) || fail "ready file is not one line: '$ready'"
[[ $ready == "$(first_line ready-broker 10)" ]] ||
        fail "ready file '$ready' differs from stdout '$(first_line ready-broker)'"
host=${ready%:*} port=${ready##*:}
(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || fail "cannot connect to $ready"
ls "$work" | grep -q 'ready\.tmp' && fail "temporary ready file left behind"
note "ok: ready file $ready, written once listening"
kill -TERM "$(pid_of ready-broker)"
await ready-broker 5
((status == 0)) || fail "exit status $status after SIGTERM"
[[ ! -e $work/ready ]] || fail "ready file left after the broker stopped"
note "ok: ready file removed at exit"
