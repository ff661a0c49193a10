#!/bin/sh
# Output is deterministic: two runs, with the files given in opposite
# orders, give identical bytes.
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
