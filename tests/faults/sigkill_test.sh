#!/usr/bin/env bash
# A subscriber killed with SIGKILL mid stream, then restarted, loses
# nothing and redoes only what it handled after its last commit.
#
# ledger-sub appends every event it handles to a ledger and fsyncs before
# acknowledging.  2000 keyed events are published to an embedded broker;
# the subscriber (20 ms per event, keys in parallel) is killed with SIGKILL
# a third of the way through, the group's committed offsets are read, and
# a second subscriber process finishes the stream.  ledger_check.py then
# checks: every record handled; each key in order within each life, and
# the second life resuming each key at or before where the first stopped;
# the second life starting exactly at the committed offsets; and every
# record handled twice having been handled within the last commit
# intervals before the kill (the runtime commits stored offsets every
# second).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

here=$(dirname "$0")
ledger_sub=$builddir/tests/faults/ledger-sub

need_python_kafka
need_built "$kbus_prog" "$ledger_sub"

count=2000
keys=16
topic=ledger.events
ledger=$work/ledger.txt

start_broker --topic "$topic"

run 60 "$ledger_sub" pub "$count" "$keys" "$topic" \
        2>"$work/pub.log" || fail "the publisher failed"
timeout 30 "$python" "$here/ledger_check.py" offsets "$BOOTSTRAP" \
        "$topic" ledger "$work/published.json" || fail "cannot read offsets"
grep -q "\"end\": {\"0\": [0-9]*, \"1\": [0-9]*, \"2\": [0-9]*, \"3\": [0-9]*}" \
        "$work/published.json" || fail "unexpected offsets: $(cat "$work/published.json")"
total=$("$python" -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["end"].values()))' "$work/published.json")
((total == count)) || fail "$total of $count events were written"
note "$count events published"

# First life: killed a third of the way through.
start sub1 "$ledger_sub" sub "$ledger" -d 20 "$topic"
handled() { [[ -f $ledger ]] && wc -l <"$ledger" || echo 0; }
has_third() { (($(handled) >= count / 3)); }
wait_for 60 "the first subscriber handling a third of the stream" has_third
crash sub1
note "first subscriber killed after $(handled) records"
timeout 30 "$python" "$here/ledger_check.py" offsets "$BOOTSTRAP" \
        "$topic" ledger "$work/before.json" || fail "cannot read offsets"
note "committed at the kill: $(cat "$work/before.json")"

# Second life: the group waits out the dead member's session (6 s in
# low-latency mode), then the new member finishes the stream.
start sub2 "$ledger_sub" sub "$ledger" -d 20 "$topic"
is_complete() {
        running sub2 || fail "the second subscriber exited"
        "$python" "$here/ledger_check.py" complete "$ledger" \
                "$work/published.json"
}
wait_for 90 "the second subscriber finishing the stream" is_complete
stop_clean sub2

timeout 30 "$python" "$here/ledger_check.py" offsets "$BOOTSTRAP" \
        "$topic" ledger "$work/after.json" || fail "cannot read offsets"
"$python" "$here/ledger_check.py" check "$ledger" \
        "$work/before.json" "$work/after.json" "$keys" 1 ||
        fail "the ledger breaks the crash rules"
# A graceful stop commits everything handled.
"$python" - "$work/after.json" <<'PY' || fail "the graceful stop did not commit everything"
import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(0 if o["committed"] == o["end"] else 1)
PY
note "ok"
