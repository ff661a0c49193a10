#!/usr/bin/env bash
# -X reaches librdkafka: a property with a wrong value fails with
# librdkafka's own message, before any work.  A SASL password given with
# -X or in a -c file never appears in any output, log or error message of
# any command, with -X debug=all too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_built "$kbus_prog"
start_broker --topic=t1

# A wrong value: librdkafka's message, exit 2.
for cmd in "topics" "tail t1" "groups g" "dlt show -t t1" \
        "call -d $hello_desc hello.v1.Greeter.SayHello {}"; do
        # shellcheck disable=SC2086
        expect_status 2 kbus $cmd -X acks=banana
        grep -q 'librdkafka property acks: Invalid value' "$work/err" ||
                fail "kbus $cmd: $(cat "$work/err")"
done
expect_status 2 kbus topics -X no.such.property=1
grep -q 'No such configuration property: "no.such.property"' "$work/err" || fail "$(cat "$work/err")"
# A property that does apply changes what librdkafka does: its debug log.
kbus topics -X debug=metadata >/dev/null 2>"$work/err" || fail "-X debug"
grep -q 'METADATA' "$work/err" || fail "-X debug=metadata had no effect"

secret=S3cr3t-pw-4711
sasl=(-X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN -X sasl.username=u)
cat >"$work/kbus.conf" <<CONF
bootstrap = "$BOOTSTRAP";
kafka = ["security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN",
         "sasl.username=u", "sasl.password=$secret"];
CONF

# Each command fails (the embedded broker has no SASL), with every debug
# context on; nothing it writes may hold the password.
check() {
        local name=$1
        shift
        run 60 "$kbus_prog" "$@" >"$work/$name.stdout" 2>"$work/$name.stderr" || true
        [[ -s $work/$name.stderr ]] || fail "$name wrote no log at all"
        ! grep -l "$secret" "$work/$name.stdout" "$work/$name.stderr" ||
                fail "$name printed the password"
}
check topics-x topics "${sasl[@]}" -X "sasl.password=$secret" -X debug=all
check topics-c topics -c "$work/kbus.conf" -X debug=all
check tail-c tail -c "$work/kbus.conf" -X debug=all t1
# A mistyped secret property: named, its value not shown.
check bad-x topics -X "sasl.passwrd=$secret"
grep -q 'sasl.passwrd' "$work/bad-x.stderr" || fail "$(cat "$work/bad-x.stderr")"
check bad-arg topics -X "sasl.password:$secret"
grep -q "without '='" "$work/bad-arg.stderr" || fail "$(cat "$work/bad-arg.stderr")"
grep -q 'sasl.password = \[redacted\]' "$work/topics-x.stderr" ||
        fail "librdkafka's debug log did not show the configuration at all"

stop_clean broker
note "no command printed the password"
