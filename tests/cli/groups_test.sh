#!/usr/bin/env bash
# kbus groups: the lag of hello-server's group grows while it is stopped
# and requests keep coming, and returns to 0 once it is back.  The
# embedded broker has no ListGroups/DescribeGroups: listing groups fails
# saying so, and a named group shows offsets and lag without members.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog" "$hello_server"
start_broker --topic=hello.v1.Greeter
start hello-server "$hello_server"

called() { kbus call -d "$hello_desc" --timeout 2000 hello.v1.Greeter.SayHello '{"name":"g"}' >/dev/null 2>&1; }
wait_for 60 "hello-server answering" called

# lag_is N: the group's total lag on hello.v1.Greeter is N.
lag() { kbus groups hello-server -t hello.v1.Greeter 2>/dev/null | sed -n 's/^total lag \([0-9]*\) .*/\1/p'; }
lag_is() { [[ $(lag) == "$1" ]]; }
wait_for 30 "lag 0 while serving" lag_is 0

stop_clean hello-server
for i in 1 2 3; do
        kbus call -d "$hello_desc" --oneway hello.v1.Greeter.SayHello "{\"name\":\"n$i\"}" ||
                fail "one-way call $i"
done
kbus groups hello-server -t hello.v1.Greeter >"$work/groups" 2>"$work/err" || fail "groups: $(cat "$work/err")"
cat "$work/groups"
grep -q '^total lag 3 over 4 partitions$' "$work/groups" || fail "lag while stopped: $(cat "$work/groups")"
grep -q 'no DescribeGroups: members and assignments are not shown' "$work/err" ||
        fail "the embedded broker's limit is not said: $(cat "$work/err")"

start hello-server "$hello_server"
wait_for 60 "lag back to 0" lag_is 0
note "lag back to 0"

# Without -t: every topic the group has offsets in.
kbus groups hello-server >"$work/all" 2>/dev/null || fail "groups without -t"
grep -q '^hello.v1.Greeter ' "$work/all" || fail "all topics: $(cat "$work/all")"

expect_status 1 kbus groups
grep -q 'cannot list groups (it has no ListGroups)' "$work/err" || fail "$(cat "$work/err")"
expect_status 1 kbus groups hello-server -t no.such.topic
grep -q 'no topic no.such.topic' "$work/err" || fail "$(cat "$work/err")"

stop_clean hello-server broker
note "kbus groups: all checks passed"
