# Helpers shared by the example tests; sourced, not run.
#
# The tests run from the top build directory (as `make check` runs them)
# and find the programs there.  Everything a test starts is stopped when
# it exits, and its logs are shown when it fails.  Everything listens on
# loopback only (the embedded broker does).

set -euo pipefail

builddir=${KBUS_BUILDDIR:-$PWD}
kbus_prog=$builddir/kbus

# Seconds a stopped program gets to exit cleanly.
stop_grace=10

work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-examples.XXXXXX")
pids=()
names=()

note() { printf '%s: %s\n' "${0##*/}" "$*"; }

fail() {
        echo "FAIL: ${0##*/}: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $*"
        exit 77
}

need_tool() {
        local tool
        for tool in "$@"; do
                command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
        done
}

need_built() {
        local prog
        for prog in "$@"; do
                [[ -x $prog ]] || fail "$prog was not built (run the tests from the build directory)"
        done
}

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

# stop_clean NAME: stops the newest program started as NAME and fails
# unless it exits with status 0, as kbus programs do after SIGTERM.
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
        local rc=$? i f
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                stop_index "$i"
        done
        if ((rc != 0 && rc != 77)); then
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

# start NAME COMMAND...: runs COMMAND in the background, stdout in
# $work/NAME.out, stderr in $work/NAME.log (appended, so that a program
# started twice keeps both runs' logs).
start() {
        local name=$1
        shift
        "$@" >"$work/$name.out" 2>>"$work/$name.log" &
        pids+=($!)
        names+=("$name")
}

# start_kbus NAME PROGRAM ARGS...: starts a kbus program against $BOOTSTRAP.
start_kbus() {
        local name=$1
        shift
        start "$name" env KBUS_BOOTSTRAP="$BOOTSTRAP" KBUS_LOW_LATENCY=1 "$@"
}

# pid_of NAME: the pid of the newest program started as NAME.
pid_of() {
        local i
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                [[ ${names[i]} == "$1" ]] && { echo "${pids[i]}"; return 0; }
        done
        fail "pid_of: nothing was started as $1"
}

# wait_for_line NAME REGEX SECONDS: waits until NAME's stdout has a line
# matching REGEX; fails if NAME exits first or time runs out.
wait_for_line() {
        local name=$1 re=$2 secs=$3 pid _
        pid=$(pid_of "$name")
        for _ in $(seq $((secs * 10))); do
                grep -Eq "$re" "$work/$name.out" 2>/dev/null && return 0
                kill -0 "$pid" 2>/dev/null || fail "$name exited before printing /$re/"
                sleep 0.1
        done
        fail "$name printed no line matching /$re/ within $secs s"
}

# Starts `kbus broker` and sets BOOTSTRAP from the first line it prints.
start_broker() {
        local _
        start broker "$kbus_prog" broker "$@"
        BOOTSTRAP=
        for _ in $(seq 200); do
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
