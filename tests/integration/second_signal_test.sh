#!/usr/bin/env bash
# A second SIGTERM stops a program at once (issue 9, defect 1).
#
# hello-client makes a call with a 30 s deadline to a service nobody
# serves.  The first SIGTERM begins a graceful shutdown, which would wait
# up to shutdown_grace_ms (10 s) for that call; the second must end the
# process promptly: the call is cancelled, the producer is not flushed and
# the reply consumer is closed without waiting.  The bug was a loop that
# went on until the grace period ended.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

client=$builddir/examples/hello/hello-client
need_built "$kbus_prog" "$client"

start broker "$kbus_prog" broker --ready-file "$work/broker.addr"
wait_for 20 "broker ready file" test -s "$work/broker.addr"
bootstrap=$(cat "$work/broker.addr")
[[ $bootstrap =~ ^127\.[0-9.]+:[0-9]+$ ]] || fail "broker not on loopback: $bootstrap"
export KBUS_BOOTSTRAP=$bootstrap KBUS_LOW_LATENCY=1
unset KBUS_GROUP

# The operations endpoint answers only while the loop runs, that is once
# the client is inside kbus_runtime_run() with its signal handlers set: a
# signal sent earlier would kill it by the default action, and prove
# nothing.
cat >"$work/client.conf" <<'CONF'
http = "127.0.0.1:0";
shutdown_grace_ms = 10000;
CONF
start client "$client" -c "$work/client.conf" -t 30000 nobody-answers
log_port() {
        sed -nE 's|.*/metrics on 127\.0\.0\.1 port ([0-9]+).*|\1|p' \
                "$work/client.log" | head -n 1
}
has_port() { [[ -n $(log_port) ]]; }
wait_for 20 "client's operations endpoint" has_port
port=$(log_port)
healthy() {
        (
                exec 3<>"/dev/tcp/127.0.0.1/$port" &&
                        printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 &&
                        head -n 1 <&3 | grep -q ' 200 '
        ) 2>/dev/null
}
wait_for 20 "client's loop running (/healthz)" healthy

pid=$(pid_of client)
kill -TERM "$pid"
shutting_down() { grep -q 'shutting down' "$work/client.log"; }
wait_for 10 "client logs the first signal" shutting_down
# The call is still pending: the first signal alone waits for it.
running client || fail "client ended on the first signal; nothing left to test"

t0=$(date +%s%N)
kill -TERM "$pid"
await client 15
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
note "exited $elapsed_ms ms after the second SIGTERM, status $status"
grep -q 'second signal' "$work/client.log" ||
        fail "client did not log the second signal"
((elapsed_ms < 3000 * slow)) ||
        fail "client took $elapsed_ms ms to exit after the second SIGTERM (grace 10000 ms)"
# The pending call is cancelled, so hello-client reports a failure (1);
# a status above 128 would be a death by signal.
((status == 1)) || fail "client exit status $status, want 1 (its call cancelled)"
grep -q 'CANCELLED' "$work/client.log" ||
        fail "the pending call did not end CANCELLED"
stop_clean broker
note "ok"
