#!/usr/bin/env bash
# User errors: protoc must fail with our message, which names the file,
# the service and method or the message and field.  Every error of a file
# is reported in one run.  The plugin itself exits 0 when it reports one,
# as the plugin protocol asks.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"

failed=0

# expect PROTO [protoc args...] <<EOF  expected lines  EOF
expect() {
        proto=$1
        shift
        cat > "$work/expected"
        if kbus_protoc "$work/out" "$ERRORS" --kbus_out="$work/out" "$@" \
                "$ERRORS/$proto" > "$work/log" 2>&1; then
                echo "FAIL: $proto: protoc succeeded"
                failed=1
                return
        fi
        while IFS= read -r line; do
                if ! grep -qF -- "$line" "$work/log"; then
                        echo "FAIL: $proto: missing message: $line"
                        echo "protoc said:"
                        cat "$work/log"
                        failed=1
                        return
                fi
        done < "$work/expected"
        if [ -n "$(find "$work/out" -name '*.kbus.*')" ]; then
                echo "FAIL: $proto: files generated despite errors"
                failed=1
        fi
        echo "ok: $proto"
}

expect streaming.proto <<'E'
--kbus_out: streaming.proto: service shop.v1.OrderService, method Watch: streaming methods are not supported by kbus
streaming.proto: service shop.v1.OrderService, method Upload: streaming methods are not supported by kbus
E

expect optional.proto <<'E'
optional.proto: message err.v1.Profile, field nickname: proto3 optional fields are not supported
optional.proto: message err.v1.Profile.Inner, field level: proto3 optional fields are not supported
E

expect keyfield.proto <<'E'
keyfield.proto: service err.v1.Store, method Missing: (kbus.method).key_field "nope" is not a field of err.v1.Req
keyfield.proto: service err.v1.Store, method Repeated: (kbus.method).key_field "tags" is a repeated field of err.v1.Req
keyfield.proto: service err.v1.Store, method Message: (kbus.method).key_field "parent" is a message field of err.v1.Req
keyfield.proto: service err.v1.Store, method Map: (kbus.method).key_field "labels" is a repeated field of err.v1.Req
keyfield.proto: service err.v1.Store, method Bool: (kbus.method).key_field "flag" is a bool field of err.v1.Req; a key must be a single string, bytes or integer field
keyfield.proto: service err.v1.Store, method Double: (kbus.method).key_field "weight" is a double field of err.v1.Req
keyfield.proto: service err.v1.Store, method Oneof: (kbus.method).key_field "b" is a member of a oneof of err.v1.Req
keyfield.proto: service err.v1.Store, method Empty: (kbus.method).key_field is empty
keyfield.proto: message err.v1.Changed: (kbus.event).key_field "ID" is not a field of err.v1.Changed
E
if grep -q "method Fine" "$work/log"; then
        echo "FAIL: keyfield.proto: a valid key_field was reported"
        failed=1
fi

expect options.proto <<'E'
options.proto: service err.v1.Slow: (kbus.service).topic "bad topic!" is not a valid Kafka topic name
options.proto: service err.v1.Slow, method Wait: (kbus.method).timeout_ms must not be negative (got -5)
options.proto: service err.v1.Slow, method Retry: retry.multiplier must be at least 1
options.proto: service err.v1.Slow, method Retry: retry.initial_backoff_ms (500) is larger than retry.max_backoff_ms (100)
options.proto: message err.v1.Tick: (kbus.event).topic "" is not a valid Kafka topic name
E

expect names.proto <<'E'
names.proto: service err.v1.Greeter, method Serve: generated C name err_v1_greeter_serve is also generated for service err.v1.Greeter
names.proto: service err.v1.Greeter, method Get_X: handler name get_x is also used by method GetX
names.proto: service err.v1.Typed, method Int: protoc-c names a struct member "int" after this method
E

# Table names become part of the changelog topic "<group>.<name>.changelog".
expect table.proto <<'E'
table.proto: message err.v1.Bad: (kbus.table).name "bad name!" is not a valid table name (1 to 237 of [a-zA-Z0-9._-]; it names the changelog topic "<group>.<name>.changelog")
table.proto: message err.v1.Empty: (kbus.table).name "" is not a valid table name
table.proto: message err.v1.TooLong: (kbus.table).name "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu" is not a valid table name
table.proto: message err.v1.Mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm: the name is too long for a table (at most 237 characters); set (kbus.table).name
table.proto: message err.v1.Second: table name "counts" is also the name of the table of message err.v1.First; set (kbus.table).name on one of them
table.proto: service err.v1.HTTPStats, method Get: generated C name err_v1_http_stats_get is also generated for message err.v1.HttpStats
E
if grep -q "message err.v1.Longest\|message err.v1.First:" "$work/log"; then
        echo "FAIL: table.proto: a valid table name was reported"
        failed=1
fi

expect streaming.proto --kbus_opt=bogus,other <<'E'
unknown parameter "bogus"
unknown parameter "other"
E

# The plugin's own exit status: feed it a CodeGeneratorRequest by hand.
kbus_protoc "$work/out" "$ERRORS" --include_imports \
        --descriptor_set_out="$work/set.pb" "$ERRORS/streaming.proto" &&
"$PROTOC" -I"$PROTO_INCLUDE" --decode=google.protobuf.FileDescriptorSet \
        google/protobuf/descriptor.proto < "$work/set.pb" > "$work/set.txt" &&
{
        echo 'file_to_generate: "streaming.proto"'
        sed 's/^file {/proto_file {/' "$work/set.txt"
} > "$work/req.txt" &&
"$PROTOC" -I"$PROTO_INCLUDE" \
        --encode=google.protobuf.compiler.CodeGeneratorRequest \
        google/protobuf/compiler/plugin.proto < "$work/req.txt" \
        > "$work/req.pb" || { echo "FAIL: cannot build a request"; exit 99; }
if ! "$PLUGIN" < "$work/req.pb" > "$work/resp.pb"; then
        echo "FAIL: the plugin exited non-zero on a user error"
        failed=1
elif ! "$PROTOC" -I"$PROTO_INCLUDE" \
        --decode=google.protobuf.compiler.CodeGeneratorResponse \
        google/protobuf/compiler/plugin.proto < "$work/resp.pb" |
        grep -q '^error: "streaming.proto: service shop.v1.OrderService, method Watch'; then
        echo "FAIL: the plugin's response carries no error"
        failed=1
else
        echo "ok: the plugin exits 0 and answers in CodeGeneratorResponse.error"
fi

exit $failed
