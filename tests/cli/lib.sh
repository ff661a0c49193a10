# Helpers of the kbus tool's tests on top of tests/e2e/lib.sh (which gives
# the order pipeline's programs and configuration); sourced, not run.

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

hello_desc=$builddir/tests/cli/hello.desc
pipeline_desc=$builddir/tests/cli/pipeline.desc
iot_desc=$builddir/tests/cli/iot.desc
records_py=$tests_srcdir/cli/records.py

[[ -s $hello_desc && -s $pipeline_desc && -s $iot_desc ]] ||
        fail "the descriptor sets were not built (run make in the build directory)"

# kbus ARGS...: the tool, under the wrapper, bounded in time.
kbus() { run 60 "$kbus_prog" "$@"; }

# json_get FILE EXPR: evaluates a Python expression on the JSON in FILE
# (bound to j) and prints the result.
json_get() {
        "$python" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_status WANT COMMAND...: runs the command, fails unless it exits
# with WANT; its stdout and stderr are left in $work/out and $work/err.
expect_status() {
        local want=$1 st=0
        shift
        "$@" >"$work/out" 2>"$work/err" || st=$?
        ((st == want)) || fail "$* exited $st, want $want: $(cat "$work/err")"
}
