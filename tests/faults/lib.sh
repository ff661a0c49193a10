# Helpers of the process-level fault and bad-input tests; sourced, not run.
#
# The tests run from the top build directory (as `make check` runs them),
# find the programs there and their own sources beside themselves.  Every
# process a test starts is stopped when the test exits, whatever the exit;
# logs of a failed test are shown.  The embedded broker listens on
# loopback only.  KBUS_TEST_WRAP (set by `make check-valgrind`) prefixes
# the kbus programs started here.

set -euo pipefail

faults_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
builddir=${KBUS_BUILDDIR:-$PWD}
kbus_prog=$builddir/kbus
ledger_sub=$builddir/tests/faults/ledger-sub
hello_server=$builddir/examples/hello/hello-server
python=/usr/bin/python3
wrap=${KBUS_TEST_WRAP:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-faults.XXXXXX")
pids=()
names=()

note() { printf '%s: %s\n' "${0##*/}" "$*"; }

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $*"
        exit 77
}

# Stops what the test started, newest first: SIGTERM, then SIGKILL for
# anything still running 15 s later.
stop_all() {
        local i pid
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                pid=${pids[i]}
                [[ -n $pid ]] || continue
                kill -TERM "$pid" 2>/dev/null || continue
                for _ in $(seq 150); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                        note "${names[i]} ignored SIGTERM for 15 s; killing it"
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
                        echo "---- ${f##*/} (last 25 lines) ----"
                        tail -n 25 "$f"
                done
        fi
        rm -rf "$work"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need_python_kafka() {
        [[ -x $python ]] || skip "$python is not installed"
        "$python" -c 'import kafka' 2>/dev/null ||
                skip "kafka-python is not installed (Debian: python3-kafka)"
}

need_built() {
        local prog
        for prog in "$@"; do
                [[ -x $prog ]] || fail "$prog was not built (run the tests from the build directory)"
        done
}

# start NAME COMMAND...: runs COMMAND in the background, stderr in
# $work/NAME.log, stdout in $work/NAME.out; its pid in $last_pid.
start() {
        local name=$1
        shift
        "$@" >"$work/$name.out" 2>"$work/$name.log" &
        last_pid=$!
        pids+=("$last_pid")
        names+=("$name")
}

# forget PID: the test has stopped it itself.
forget() {
        local i
        for i in "${!pids[@]}"; do
                [[ ${pids[i]} == "$1" ]] && pids[i]=
        done
        return 0
}

# stop_clean PID NAME: SIGTERM, then the process must exit with status 0
# within 30 s: a clean shutdown (and, under KBUS_TEST_WRAP or a sanitizer,
# no memory errors or leaks, which turn the status non-zero).
stop_clean() {
        local pid=$1 name=$2 rc=0
        kill -TERM "$pid" 2>/dev/null || fail "$name is not running"
        timeout 30 tail --pid="$pid" -f /dev/null ||
                fail "$name still running 30 s after SIGTERM"
        wait "$pid" || rc=$?
        forget "$pid"
        ((rc == 0)) || fail "$name exited with status $rc after SIGTERM"
}

# Starts `kbus broker ARGS...` and sets BOOTSTRAP from its first line.
start_broker() {
        local i
        start broker "$kbus_prog" broker "$@"
        BOOTSTRAP=
        for i in $(seq 200); do
                if [[ -s $work/broker.out ]]; then
                        IFS= read -r BOOTSTRAP <"$work/broker.out" || true
                        [[ -n $BOOTSTRAP ]] && break
                fi
                kill -0 "$last_pid" 2>/dev/null || fail "kbus broker exited"
                sleep 0.1
        done
        [[ -n $BOOTSTRAP ]] || fail "kbus broker printed no bootstrap list within 20 s"
        [[ $BOOTSTRAP == 127.0.0.1:* ]] || fail "kbus broker is not on loopback: $BOOTSTRAP"
        export KBUS_BOOTSTRAP=$BOOTSTRAP KBUS_LOW_LATENCY=1
        note "embedded broker at $BOOTSTRAP"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until
# it succeeds; fails the test after SECONDS.
wait_for() {
        local seconds=$1 what=$2 i
        shift 2
        for ((i = 0; i < seconds * 5; i++)); do
                "$@" && return 0
                sleep 0.2
        done
        fail "$what: not within $seconds s"
}

lines_of() {
        [[ -f $1 ]] && wc -l <"$1" || echo 0
}
