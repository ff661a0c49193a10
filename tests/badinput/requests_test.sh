#!/usr/bin/env bash
# Malformed requests sent with kafka-python to a real hello-server process:
# random bytes, a truncated protobuf, a non-numeric kbus-deadline, a 3-byte
# kafka_replyPartition, an empty kafka_correlationId, kbus-method twice or
# not at all, an unknown one-way method, an expired deadline.  Each is
# dead-lettered to hello.v1.Greeter.DLT with Spring's headers and the right
# kafka_dlt-exception-fqcn, with one log line (the expired one is skipped
# with one log line instead); undecodable values are also answered
# INVALID_ARGUMENT, malformed headers not at all; and a good call after
# them is answered.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_python_kafka
need_built "$kbus_prog" "$hello_server"

start_broker
start hello-server "$hello_server"
timeout 120 "$python" "$(dirname "$0")/badinput.py" requests "$BOOTSTRAP" \
        "$work/hello-server.log" || fail "see above"
stop_clean hello-server
note "ok"
