#!/usr/bin/env bash
# Malformed events sent with kafka-python to a real subscriber process
# (ledger-sub): random bytes, a truncated protobuf, an unknown ce_type, a
# repeated traceparent, a malformed kbus-deadline.  Each is dead-lettered
# to ledger.events.DLT with the right kafka_dlt-exception-fqcn and one log
# line, none reaches the handler; an event without any header is handled,
# and so is a good event sent after them.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ledger_sub=$builddir/tests/faults/ledger-sub

need_python_kafka
need_built "$kbus_prog" "$ledger_sub"

start_broker --topic ledger.events
start ledger-sub "$ledger_sub" sub "$work/ledger.txt" ledger.events
touch "$work/ledger.txt"
timeout 120 "$python" "$(dirname "$0")/badinput.py" events "$BOOTSTRAP" \
        "$work/ledger-sub.log" "$work/ledger.txt" || fail "see above"
stop_clean ledger-sub
note "ok"
