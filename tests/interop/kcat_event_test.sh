#!/usr/bin/env bash
# kcat, a plain Kafka client, reads the Greeted event hello-server publishes
# after a call, and finds what docs/WIRE.md promises: key = the name,
# CloudEvents binary-mode headers, and a protobuf value.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

hello_client=$builddir/examples/hello/hello-client

need_tool kcat
need_built "$kbus_prog" "$hello_server" "$hello_client"

start_broker
start hello-server "$hello_server"

# One call.  A server still joining its consumer group can let the first
# call reach its deadline, so try a few times.
called=
for attempt in 1 2 3; do
        if run 60 "$hello_client" -t 20000 world \
                >"$work/client.out" 2>>"$work/client.log"; then
                called=yes
                break
        fi
        note "hello-client attempt $attempt failed"
done
[[ -n $called ]] || fail "hello-client world failed 3 times"
note "hello-client said: $(head -n 1 "$work/client.out")"
grep -q 'Hello, world!' "$work/client.out" ||
        fail "hello-client did not print 'Hello, world!'"

# Read the first event.  -e stops at the end of the topic, which can come
# before the event is written: retry for up to 30 s
# (longer under a wrapper).
kcat_args=(-b "$BOOTSTRAP" -t hello.v1.Greeted -o beginning -c 1 -e -q
        -X fetch.wait.max.ms=10)
record=
for _ in $(seq $((60 * slow))); do
        record=$(kcat -C "${kcat_args[@]}" -f 'key=%k\nheaders=%h\n' 2>>"$work/kcat.log" || true)
        [[ -n $record ]] && break
        sleep 0.5
done
[[ -n $record ]] || fail "no record on topic hello.v1.Greeted within $((30 * slow)) s"
printf '%s\n' "$record"

key=$(sed -n 's/^key=//p' <<<"$record")
headers=$(sed -n 's/^headers=//p' <<<"$record")
[[ $key == world ]] || fail "event key is '$key', want 'world'"

# kcat prints headers as name=value,name=value (binary values cut at the
# first zero byte; every header checked here is text).
declare -A h=()
IFS=, read -r -a pairs <<<"$headers"
for pair in "${pairs[@]}"; do
        h[${pair%%=*}]=${pair#*=}
done
expect() {
        [[ -v h[$1] ]] || fail "event has no $1 header (headers: $headers)"
        if (($# > 1)) && [[ ${h[$1]} != "$2" ]]; then
                fail "event header $1 is '${h[$1]}', want '$2'"
        fi
        [[ -n ${h[$1]} ]] || fail "event header $1 is empty"
}
expect ce_specversion 1.0
expect ce_type hello.v1.Greeted
expect content-type application/protobuf
expect ce_id
expect ce_source
expect ce_time
[[ ${h[ce_time]} =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$ ]] ||
        fail "ce_time '${h[ce_time]}' is not RFC 3339"

# The value: Greeted{name: "world", message: "Hello, world!"}.
value=$(kcat -C "${kcat_args[@]}" -f '%s' 2>>"$work/kcat.log" | od -An -v -tx1 | tr -s ' \n' ' ')
want=' 0a 05 77 6f 72 6c 64 12 0d 48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 '
[[ $value == "$want" ]] || fail "event value is [$value], want [$want]"

# Both shut down cleanly on SIGTERM (status 0; under valgrind: no leaks).
stop_clean hello-server
stop_clean broker
note "ok"
