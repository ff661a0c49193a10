# Helpers shared by the interoperability tests; sourced, not run.
#
# The tests run from the top build directory (as `make check` runs them),
# find the programs there, and find their own sources beside this file.
# Everything a test starts is stopped when it exits, and its logs are shown
# when it fails.  Servers listen on loopback only (the embedded broker does).
#
# KBUS_TEST_WRAP (set by `make check-valgrind`) is a command that every C
# program the tests start runs under, through libtool so that the real
# binary, not its wrapper script, is what runs under it.

set -euo pipefail

interop_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
builddir=${KBUS_BUILDDIR:-$PWD}
kbus_prog=$builddir/kbus
hello_server=$builddir/examples/hello/hello-server
hello_client=$builddir/examples/hello/hello-client
python=/usr/bin/python3

wrap=()
if [[ -n ${KBUS_TEST_WRAP:-} ]]; then
        read -r -a wrap <<<"$KBUS_TEST_WRAP"
        if [[ -x $builddir/libtool ]]; then
                wrap=("$builddir/libtool" --mode=execute "${wrap[@]}")
        fi
fi
# Seconds a stopped program gets to exit cleanly (more under a wrapper).
stop_grace=10
((${#wrap[@]} == 0)) || stop_grace=60

work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-interop.XXXXXX")
pids=()
names=()

note() { printf '%s: %s\n' "${0##*/}" "$*"; }

# stop_index I: stops process I with SIGTERM (SIGKILL after $stop_grace
# seconds) and sets stop_status to its exit status.
stop_index() {
        local pid=${pids[$1]} _
        stop_status=0
        [[ -n $pid ]] || return 0
        pids[$1]=
        if kill -TERM "$pid" 2>/dev/null; then
                for _ in $(seq $((stop_grace * 10))); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                        note "${names[$1]} ignored SIGTERM for $stop_grace s; killing it"
                        kill -KILL "$pid" 2>/dev/null || true
                fi
        fi
        wait "$pid" 2>/dev/null || stop_status=$?
}

# Stops what the test started, newest first.
stop_all() {
        local i
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                stop_index "$i"
        done
}

# stop_clean NAME: stops the program started as NAME and fails unless it
# exits with status 0, as kbus programs do on SIGTERM after a clean
# shutdown (and as they do not under valgrind when they leak).
stop_clean() {
        local i
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                if [[ ${names[i]} == "$1" && -n ${pids[i]} ]]; then
                        stop_index "$i"
                        ((stop_status == 0)) ||
                                fail "$1 exited with status $stop_status after SIGTERM"
                        return 0
                fi
        done
        fail "stop_clean: $1 is not running"
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
        start broker "${wrap[@]}" "$kbus_prog" broker
        BOOTSTRAP=
        for i in $(seq $((stop_grace * 20))); do
                if [[ -s $work/broker.out ]]; then
                        IFS= read -r BOOTSTRAP <"$work/broker.out" || true
                        [[ -n $BOOTSTRAP ]] && break
                fi
                kill -0 "${pids[-1]}" 2>/dev/null || fail "kbus broker exited"
                sleep 0.1
        done
        [[ -n $BOOTSTRAP ]] || fail "kbus broker printed no bootstrap list within $((stop_grace * 2)) s"
        [[ $BOOTSTRAP == 127.0.0.1:* || $BOOTSTRAP == localhost:* ]] ||
                fail "kbus broker is not on loopback: $BOOTSTRAP"
        note "embedded broker at $BOOTSTRAP"
}

# Starts hello-server against $BOOTSTRAP.
start_hello_server() {
        start hello-server env KBUS_BOOTSTRAP="$BOOTSTRAP" KBUS_LOW_LATENCY=1 \
                "${wrap[@]}" "$hello_server"
        sleep 0.2
        kill -0 "${pids[-1]}" 2>/dev/null || fail "hello-server exited at once"
}
