#!/usr/bin/env bash
# Output is deterministic: two runs, with the files given in opposite
# orders, give identical bytes, and so does each file generated alone (a
# file's output depends on it and its imports only).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"

reversed=
for p in $GOLDEN_PROTOS; do
        reversed="$p $reversed"
done
cd "$PROTOS" || exit 99
kbus_protoc "$work/a" "$PROTOS" --kbus_out="$work/a" $GOLDEN_PROTOS &&
kbus_protoc "$work/b" "$PROTOS" --kbus_out="$work/b" $reversed ||
        fail "protoc failed"
if ! diff -ru "$work/a" "$work/b"; then
        fail "two runs differ"
fi
echo "ok: two runs are identical"

for p in $GOLDEN_PROTOS; do
        kbus_protoc "$work/c" "$PROTOS" --kbus_out="$work/c" "$p" ||
                fail "protoc failed on $p"
done
if ! diff -ru "$work/a" "$work/c"; then
        fail "files generated one by one differ from one run over all"
fi
echo "ok: files generated one by one are identical"
