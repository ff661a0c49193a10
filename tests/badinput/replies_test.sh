#!/usr/bin/env bash
# Replies nobody asked for, written with kafka-python into the reply topic
# of a running client (reply-probe): unknown correlation ids, none, a short
# one, an empty one, two of them, a non-numeric and an out-of-range
# kbus-status, an undecodable value, and a second reply to a call already
# answered.  Each is dropped and counted (replies_unknown or
# replies_duplicate) with exactly one log line naming its offset, and the
# client's next call still succeeds.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

reply_probe=$builddir/tests/badinput/reply-probe

need_python_kafka
need_built "$kbus_prog" "$hello_server" "$reply_probe"

reply_topic=badinput.probe.replies
start_broker --topic "$reply_topic" --partitions 1
start hello-server "$hello_server"
start probe "$reply_probe" "$reply_topic" "$work/go"
probe_ready() {
        running probe || fail "reply-probe exited early"
        grep -q '^ready$' "$work/probe.out"
}
wait_for 60 "reply-probe's first call" probe_ready
timeout 60 "$python" "$(dirname "$0")/badinput.py" replies "$BOOTSTRAP" \
        "$reply_topic" "$work/sent.json" || fail "see above"
touch "$work/go"
await probe 60
cat "$work/probe.out"
((status == 0)) || fail "reply-probe exited with status $status"

"$python" - "$work/sent.json" "$work/probe.out" "$work/probe.log" <<'PY' ||
import json, re, sys
sent = json.load(open(sys.argv[1]))
stats = dict(line.split() for line in open(sys.argv[2]) if " " in line)
log = open(sys.argv[3], errors="replace").read().splitlines()
want = {"unknown": 0, "duplicate": 0}
for s in sent:
    want[s["kind"]] += 1
    lines = [l for l in log
             if re.search(r"dropping (malformed )?reply at offset %d:" % s["offset"], l)]
    if len(lines) != 1:
        sys.exit("%s (offset %d): %d log lines, want 1" % (s["name"], s["offset"], len(lines)))
    print("%s: %s" % (s["name"], json.loads(lines[0])["msg"]))
for kind in want:
    got = int(stats["replies_" + kind])
    if got != want[kind]:
        sys.exit("replies_%s is %d, want %d" % (kind, got, want[kind]))
if stats["calls_ok"] != "2" or stats["replies_late"] != "0":
    sys.exit("unexpected counters: %r" % stats)
PY
        fail "the bad replies were not dropped and counted as they should be"
stop_clean hello-server
note "ok"
