#!/usr/bin/env bash
# The whole /metrics output of a running kbus program (hello-server with its
# own embedded broker, after a few calls) read by Prometheus' Python
# parser: every line well formed, every family with a HELP text that says
# something and a TYPE, label values escaped (the consumer group's name
# holds a quote and a backslash).  See metrics_check.py.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[[ -x $python ]] || skip "$python is not installed"
"$python" -c 'import prometheus_client.parser' 2>/dev/null ||
        skip "prometheus_client is not installed (Debian: python3-prometheus-client)"
need_built "$hello_server" "$builddir/examples/hello/hello-client"

# In libconfig, "a\"b\\c" is a"b\c.
cat >"$work/server.conf" <<'CONF'
http = "127.0.0.1:0";
group = "hello \"quoted\" \\ group";
CONF
unset KBUS_BOOTSTRAP KBUS_GROUP
start hello-server "$hello_server" -c "$work/server.conf"

# Its log says where its embedded broker and its endpoint listen.
log_field() {
        sed -nE "s|.*$1.*|\\1|p" "$work/hello-server.log" | head -n 1
}
has_endpoint() { [[ -n $(log_field '/metrics on 127\.0\.0\.1 port ([0-9]+)') ]]; }
wait_for 30 "hello-server serving /metrics" has_endpoint
port=$(log_field '/metrics on 127\.0\.0\.1 port ([0-9]+)')
has_broker() { [[ -n $(log_field 'bootstrap ([0-9.:,]+) \(embedded\)') ]]; }
wait_for 30 "hello-server's embedded broker" has_broker
bootstrap=$(log_field 'bootstrap ([0-9.:,]+) \(embedded\)')
note "metrics on port $port, broker $bootstrap"

KBUS_BOOTSTRAP=$bootstrap KBUS_LOW_LATENCY=1 run 60 \
        "$builddir/examples/hello/hello-client" -n 3 -t 45000 metrics \
        >"$work/client.out" || fail "hello-client failed"

timeout $((60 * slow)) "$python" "$(dirname "$0")/metrics_check.py" \
        "$port" $((30 * slow)) 'hello "quoted" \ group' || fail "see above"
stop_clean hello-server
note "ok"
