#!/usr/bin/env bash
# A request of 1.5 MB with an undecodable value, sent with kafka-python to
# a real hello-server process.  The embedded broker checks no size, so the
# server reads it; the value cannot be decoded, so the caller is answered
# INVALID_ARGUMENT and the record must be dead-lettered.  It is larger than
# the runtime's producer writes (message.max.bytes, 1000000 bytes), so the
# dead letter must be written without it (or the runtime must allow it);
# retrying forever would hold the partition's committed offset, and every
# later record with the same key, behind it.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_python_kafka
need_built "$kbus_prog" "$hello_server"

start_broker
start hello-server "$hello_server"
timeout 120 "$python" "$(dirname "$0")/badinput.py" oversize "$BOOTSTRAP" \
        "$work/hello-server.log" || fail "see above"
note "ok"
