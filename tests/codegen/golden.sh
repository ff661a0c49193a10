#!/usr/bin/env bash
# Golden files: protoc-gen-kbus output for tests/codegen/protos must match
# tests/codegen/golden byte for byte (the same relative paths).  After an
# intended change, refresh them with `make update-golden` and review the
# diff before committing.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"

cd "$PROTOS" || exit 99
kbus_protoc "$work/out" "$PROTOS" --kbus_out="$work/out" $GOLDEN_PROTOS ||
        fail "protoc failed"

if [ "${KBUS_UPDATE_GOLDEN:-0}" = 1 ]; then
        find "$GOLDEN" -name '*.kbus.[ch]' -exec rm -f {} + &&
        cp -R "$work/out/." "$GOLDEN/" || exit 1
        (cd "$GOLDEN" && find . -type f | sort | sed 's|^\./|updated tests/codegen/golden/|')
        exit 0
fi

if ! diff -ru "$GOLDEN" "$work/out"; then
        echo "FAIL: generated code differs from tests/codegen/golden (diff above:"
        echo "      - golden, + generated); after an intended change run"
        echo "      make update-golden"
        exit 1
fi
echo "ok: $(cd "$work/out" && find . -type f | wc -l) generated files match tests/codegen/golden"
