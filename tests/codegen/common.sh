# Sourced by the codegen tests after tests/lib.sh: finds the tools, the
# plugin and the test protos.
#
# The harness runs tests from the top build directory; configure's values
# come from tests/codegen/env.sh, which make writes there.

env_sh=${KBUS_CODEGEN_ENV:-tests/codegen/env.sh}
if [ ! -f "$env_sh" ]; then
        echo "$0: $env_sh missing: run through make check" >&2
        exit 99
fi
. "$env_sh"

PROTOS=$abs_top_srcdir/tests/codegen/protos
ERRORS=$abs_top_srcdir/tests/codegen/errors
GOLDEN=$abs_top_srcdir/tests/codegen/golden
WKT_INCLUDE=$abs_top_builddir/codegen/wkt

# The .proto files with golden output, relative to $PROTOS.
GOLDEN_PROTOS="hello.proto shop/v1/common.proto shop/v1/orders.proto nopkg.proto cpackage.proto table.proto"

plugin_prog=$abs_top_builddir/protoc-gen-kbus$EXEEXT
if [ ! -x "$plugin_prog" ]; then
        echo "$0: $plugin_prog not built" >&2
        exit 99
fi
# protoc runs the plugin as one command: a script that runs it under the
# wrapper, if any.
PLUGIN=$work/protoc-gen-kbus
{
        echo '#!/usr/bin/env bash'
        printf 'exec'
        printf ' %q' "${wrap[@]}" "$plugin_prog"
        echo ' "$@"'
} >"$PLUGIN"
chmod +x "$PLUGIN"

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
