# Helpers shared by the interoperability tests; sourced, not run.
#
# The tests run from the top build directory (as `make check` runs them),
# find the programs there, and find their own sources beside this file.
# Everything a test starts is stopped when it exits, and its logs are shown
# when it fails.  Servers listen on loopback only (the embedded broker does).

set -euo pipefail

interop_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
builddir=${KBUS_BUILDDIR:-$PWD}
kbus_prog=$builddir/kbus
hello_server=$builddir/examples/hello/hello-server
hello_client=$builddir/examples/hello/hello-client
python=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-interop.XXXXXX")
pids=()
names=()

note() { printf '%s: %s\n' "${0##*/}" "$*"; }

# Stops what the test started, newest first: SIGTERM, then SIGKILL for
# anything still running 10 s later.
stop_all() {
        local i pid
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                pid=${pids[i]}
                kill -TERM "$pid" 2>/dev/null || continue
                for _ in $(seq 100); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                        note "${names[i]} ignored SIGTERM for 10 s; killing it"
                        kill -KILL "$pid" 2>/dev/null || true
                fi
                wait "$pid" 2>/dev/null || true
        done
        pids=()
        names=()
}

on_exit() {
        local rc=$?
        stop_all
        if ((rc != 0 && rc != 77)); then
                local f
                for f in "$work"/*.log; do
                        [[ -s $f ]] || continue
                        echo "---- ${f##*/} (last 30 lines) ----"
                        tail -n 30 "$f"
                done
        fi
        rm -rf "$work"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $*"
        exit 77
}

# Exits with SKIP unless the external tools named are installed.
need_tool() {
        local tool
        for tool in "$@"; do
                command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
        done
}

need_python_kafka() {
        [[ -x $python ]] || skip "$python is not installed"
        "$python" -c 'import kafka' 2>/dev/null ||
                skip "kafka-python is not installed (Debian: python3-kafka)"
}

# Fails unless the programs named were built.
need_built() {
        local prog
        for prog in "$@"; do
                [[ -x $prog ]] || fail "$prog was not built (run the tests from the build directory)"
        done
}

# start NAME COMMAND...: runs COMMAND in the background, output in
# $work/NAME.log (stderr) and $work/NAME.out (stdout).
start() {
        local name=$1
        shift
        "$@" >"$work/$name.out" 2>"$work/$name.log" &
        pids+=($!)
        names+=("$name")
}

# Starts `kbus broker` and sets BOOTSTRAP from the first line it prints.
start_broker() {
        local i
        start broker "$kbus_prog" broker
        BOOTSTRAP=
        for i in $(seq 200); do
                if [[ -s $work/broker.out ]]; then
                        IFS= read -r BOOTSTRAP <"$work/broker.out" || true
                        [[ -n $BOOTSTRAP ]] && break
                fi
                kill -0 "${pids[-1]}" 2>/dev/null || fail "kbus broker exited"
                sleep 0.1
        done
        [[ -n $BOOTSTRAP ]] || fail "kbus broker printed no bootstrap list within 20 s"
        [[ $BOOTSTRAP == 127.0.0.1:* || $BOOTSTRAP == localhost:* ]] ||
                fail "kbus broker is not on loopback: $BOOTSTRAP"
        note "embedded broker at $BOOTSTRAP"
}

# Starts hello-server against $BOOTSTRAP.
start_hello_server() {
        start hello-server env KBUS_BOOTSTRAP="$BOOTSTRAP" KBUS_LOW_LATENCY=1 \
                "$hello_server"
        sleep 0.2
        kill -0 "${pids[-1]}" 2>/dev/null || fail "hello-server exited at once"
}
