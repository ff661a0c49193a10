#!/usr/bin/env bash
# No call or include cycle among the library's modules (issue 9): layers
# call down, and a lower module reaches a higher one only through a
# function pointer it was handed.  cycles.py reads the symbols of the
# library's objects (`nm`) and the #include "..." lines of framework/, and
# prints any cycle it finds with what makes each of its edges.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[[ -x $python ]] || skip "$python is not installed"
need_tool nm

# libtool keeps the objects of the shared library in .libs, and those of a
# static-only build beside their .lo files.
shopt -s nullglob
objects=("$builddir"/framework/.libs/libkbus_core_la-*.o)
((${#objects[@]})) || objects=("$builddir"/framework/libkbus_core_la-*.o)
((${#objects[@]} >= 10)) ||
        fail "the library's objects were not found under $builddir/framework (build it first)"

status=0
"$python" "$tests_srcdir/unit/cycles.py" calls "${objects[@]}" || status=1
"$python" "$tests_srcdir/unit/cycles.py" includes "$tests_srcdir/../framework" ||
        status=1
((status == 0)) || fail "cycles among the library's modules: see above"
note "ok"
