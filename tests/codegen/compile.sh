#!/usr/bin/env bash
# Generated code compiles warning-free as strict C11 against kbus.h, the
# protoc-c output and libkbus-wkt's headers (from the build tree), for
# protos using every feature the generator supports.  Then api_test.c,
# linked with the generated code, libkbus-wkt and a stand-in for the libkbus
# functions the stubs call, checks the descriptors and trampolines.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"

STRICT="-std=c11 -Wall -Wextra -Wpedantic -Werror"
INCLUDES="-I$work/gen -I$abs_top_srcdir/framework/include -I$WKT_INCLUDE $PROTOBUF_C_CFLAGS"
# protoc-c 1.4 output for methods named like C keywords needs these (the
# plugin warns about each; see docs/CODEGEN.md).
PBC_WORKAROUND="-Dregister=register_ -Ddefault=default_ -Dswitch=switch_"

cd "$PROTOS" || exit 99
kbus_protoc "$work/gen" "$PROTOS" --c_out="$work/gen" --kbus_out="$work/gen" \
        $GOLDEN_PROTOS 2> "$work/protoc.log" ||
        fail "protoc failed"

failed=0
objs=
for p in $GOLDEN_PROTOS; do
        base=${p%.proto}
        obj=$work/$(echo "$base" | tr / _)
        # shellcheck disable=SC2086
        if $CC $STRICT $INCLUDES -c "$work/gen/$base.kbus.c" \
                -o "$obj.kbus.o"; then
                echo "ok: $base.kbus.c compiles with $STRICT"
        else
                echo "FAIL: $base.kbus.c does not compile with $STRICT"
                failed=1
        fi
        # protoc-c's own output, for linking; not ours to hold to -Werror.
        # shellcheck disable=SC2086
        $CC -std=c11 $PBC_WORKAROUND $INCLUDES -c "$work/gen/$base.pb-c.c" \
                -o "$obj.pb-c.o" || failed=1
        objs="$objs $obj.kbus.o $obj.pb-c.o"
done
[ $failed = 0 ] || exit 1

# Every generated header at once, in one translation unit: no clashes.
for p in $GOLDEN_PROTOS; do
        echo "#include \"${p%.proto}.kbus.h\""
done > "$work/all.c"
echo "int main(void) { return 0; }" >> "$work/all.c"
# shellcheck disable=SC2086
if ! $CC $STRICT $INCLUDES -c "$work/all.c" -o "$work/all.o"; then
        fail "the generated headers do not compile together"
fi
echo "ok: all generated headers compile together"

# The headers also serve C++ (extern "C", keyword-safe member names), when
# a C++ compiler is around; configure does not look for one.
cxx=$(command -v c++ || command -v g++ || true)
if [ -n "$cxx" ]; then
        cp "$work/all.c" "$work/all.cc"
        # shellcheck disable=SC2086
        if ! "$cxx" -std=c++11 -Wall -Wextra -Werror $INCLUDES \
                -fsyntax-only "$work/all.cc"; then
                fail "the generated headers do not compile as C++"
        fi
        echo "ok: all generated headers compile as C++11"
fi

# shellcheck disable=SC2086
$CC $STRICT $INCLUDES -c "$abs_top_srcdir/tests/codegen/api_test.c" \
        -o "$work/api_test.o" || fail "api_test.c"
# shellcheck disable=SC2086
# The build's CFLAGS and LDFLAGS too: under `make check-asan` libkbus-wkt
# is built with the sanitizers, and so must the program linking it be.
# shellcheck disable=SC2086
"$abs_top_builddir/libtool" --mode=link --quiet $CC $CFLAGS $LDFLAGS \
        -o "$work/api_test" "$work/api_test.o" $objs "$abs_top_builddir/libkbus-wkt.la" \
        $PROTOBUF_C_LIBS || fail "linking api_test"
run 60 "$work/api_test" || fail "api_test"
