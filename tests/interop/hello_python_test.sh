#!/usr/bin/env bash
# A client written only from docs/WIRE.md, in Python with kafka-python,
# calls the C hello-server: SayHello answers "Hello, world!", an unknown
# method answers UNIMPLEMENTED, and a request with a malformed header is
# dead-lettered with Spring's kafka_dlt-* headers.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

need_python_kafka
need_built "$kbus_prog" "$hello_server"

start_broker
start hello-server "$hello_server"

timeout 90 "$python" "$(dirname "$0")/hello_call.py" "$BOOTSTRAP" world ||
        fail "the Python client did not get the expected replies"

# Both shut down cleanly on SIGTERM (status 0; under valgrind: no leaks).
stop_clean hello-server
stop_clean broker
note "ok"
