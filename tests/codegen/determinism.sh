#!/bin/sh
# Output is deterministic: two runs, with the files given in opposite
# orders, give identical bytes, and so does each file generated alone (a
# file's output depends on it and its imports only).
. "$(dirname "$0")/common.sh"

reversed=
for p in $GOLDEN_PROTOS; do
        reversed="$p $reversed"
done
cd "$PROTOS" || exit 99
kbus_protoc "$work/a" "$PROTOS" --kbus_out="$work/a" $GOLDEN_PROTOS &&
kbus_protoc "$work/b" "$PROTOS" --kbus_out="$work/b" $reversed ||
        { echo "FAIL: protoc failed"; exit 1; }
if ! diff -ru "$work/a" "$work/b"; then
        echo "FAIL: two runs differ"
        exit 1
fi
echo "ok: two runs are identical"

for p in $GOLDEN_PROTOS; do
        kbus_protoc "$work/c" "$PROTOS" --kbus_out="$work/c" "$p" ||
                { echo "FAIL: protoc failed on $p"; exit 1; }
done
if ! diff -ru "$work/a" "$work/c"; then
        echo "FAIL: files generated one by one differ from one run over all"
        exit 1
fi
echo "ok: files generated one by one are identical"
