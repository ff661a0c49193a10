# Sourced by the codegen tests: finds the tools, the plugin and the test
# protos, and gives each test a scratch directory that is removed on exit.
#
# The harness runs tests from the top build directory; configure's values
# come from tests/codegen/env.sh, which make writes there.

set -u

: "${srcdir:=$(dirname "$0")/../..}"
env_sh=${KBUS_CODEGEN_ENV:-tests/codegen/env.sh}
if [ ! -f "$env_sh" ]; then
        echo "$0: $env_sh missing: run through make check" >&2
        exit 99
fi
. "$env_sh"

PLUGIN=$abs_top_builddir/protoc-gen-kbus$EXEEXT
PROTOS=$abs_top_srcdir/tests/codegen/protos
ERRORS=$abs_top_srcdir/tests/codegen/errors
GOLDEN=$abs_top_srcdir/tests/codegen/golden
WKT_INCLUDE=$abs_top_builddir/codegen/wkt

# The .proto files with golden output, relative to $PROTOS.
GOLDEN_PROTOS="hello.proto shop/v1/common.proto shop/v1/orders.proto nopkg.proto cpackage.proto"

if [ ! -x "$PLUGIN" ]; then
        echo "$0: $PLUGIN not built" >&2
        exit 99
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-codegen.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

# kbus_protoc OUTDIR PROTO_DIR [protoc args...]: protoc with the plugin and
# the include paths a user has (options.proto, google/protobuf, and
# protobuf-c.proto for cpackage.proto).
kbus_protoc() {
        out=$1
        dir=$2
        shift 2
        mkdir -p "$out" &&
        "$PROTOC" --plugin=protoc-gen-kbus="$PLUGIN" \
                -I"$dir" -I"$abs_top_srcdir/framework" -I"$PROTO_INCLUDE" \
                -I"$PROTOBUF_C_INCLUDEDIR" "$@"
}
