# Helpers of the shell tests; sourced, not run.  The test sets its own
# shell options first (set -euo pipefail, or set -u for tests that count
# their failures).
#
# The tests run from the top build directory (as `make check` runs them)
# and find the programs there, their own files beside themselves.  Every
# program a test starts with `start` is stopped when the test exits,
# whatever the exit, and a failed test shows the end of every log.  Brokers
# must listen on loopback only: use_broker checks.
#
# KBUS_TEST_WRAP (set by `make check-valgrind`) is a command that every C
# program a test starts runs under: `start` and `run` put it in front,
# through libtool so that the real binary runs under it rather than its
# libtool wrapper script.  Programs are many times slower then, so every
# wait here is $slow times longer; the properties checked stay the same.

tests_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
builddir=${KBUS_BUILDDIR:-$PWD}
kbus_prog=$builddir/kbus
hello_server=$builddir/examples/hello/hello-server
# Debian's python3 (with python3-kafka), not whichever is first on PATH.
python=/usr/bin/python3

wrap=()
if [[ -n ${KBUS_TEST_WRAP:-} ]]; then
        read -r -a wrap <<<"$KBUS_TEST_WRAP"
        if [[ -x $builddir/libtool ]]; then
                wrap=("$builddir/libtool" --mode=execute "${wrap[@]}")
        fi
fi
# slow: how many times longer every wait is; stop_grace: seconds a
# program gets to exit after SIGTERM before SIGKILL.
slow=1 stop_grace=15
if ((${#wrap[@]})); then
        slow=5 stop_grace=60
fi

test_name=${0##*/}
test_name=${test_name%.sh}
work=$(mktemp -d "${TMPDIR:-/tmp}/kbus-$test_name.XXXXXX")
# The programs started, in order: a name and a pid each (empty once
# stopped).  A name may be started again; the newest one counts.
names=()
pids=()
unclean=

# A test reads no input, and what it starts reads none unless given some
# (start NAME PROGRAM... <FILE).
exec </dev/null

note() { printf '%s: %s\n' "$test_name" "$*"; }
if ((${#wrap[@]})); then
        note "programs run under: ${wrap[*]}"
fi

fail() {
        echo "FAIL: $test_name: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $test_name: $*"
        exit 77
}

# need_tool TOOL...: skips the test unless the optional tools are installed.
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

# need_built PROGRAM...: fails unless the programs were built; they are
# part of the tree, not optional.
need_built() {
        local prog
        for prog in "$@"; do
                [[ -x $prog ]] || fail "$prog was not built (run the tests from the build directory)"
        done
}

# start NAME PROGRAM ARGS...: runs a C program under the wrapper in the
# background.  Its stdout goes to $work/NAME.out, afresh each time it is
# started; its stderr to $work/NAME.log, appended, so that a program
# started again keeps one log.
start() {
        local name=$1
        shift
        "${wrap[@]}" "$@" <&0 >"$work/$name.out" 2>>"$work/$name.log" &
        names+=("$name")
        pids+=("$!")
}

# run SECONDS PROGRAM ARGS...: runs a C program under the wrapper in the
# foreground, killed after SECONDS.
run() {
        local seconds=$1
        shift
        timeout $((seconds * slow)) "${wrap[@]}" "$@"
}

# index_of NAME: sets idx to the index of the newest program started as
# NAME.
index_of() {
        for ((idx = ${#names[@]} - 1; idx >= 0; idx--)); do
                [[ ${names[idx]} == "$1" ]] && return 0
        done
        fail "nothing was started as $1"
}

# pid_of NAME: prints its pid, nothing once it has been stopped.
pid_of() {
        index_of "$1"
        echo "${pids[idx]}"
}

# running NAME: whether it is still running.
running() {
        index_of "$1"
        [[ -n ${pids[idx]} ]] && kill -0 "${pids[idx]}" 2>/dev/null
}

# stop_index I: stops program I with SIGTERM, SIGKILL after $stop_grace
# seconds, and sets status to its exit status.
stop_index() {
        local pid=${pids[$1]} _
        status=0
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
        wait "$pid" 2>/dev/null || status=$?
}

# stop_clean NAME...: stops each and fails unless it exits with status 0,
# as kbus programs do after SIGTERM; a wrapper's finding (a leak, an
# invalid read) makes the status non-zero.
stop_clean() {
        local name
        for name in "$@"; do
                index_of "$name"
                [[ -n ${pids[idx]} ]] || fail "$name was already stopped"
                stop_index "$idx"
                ((status == 0)) || fail "$name exited with status $status after SIGTERM"
        done
}

# stop_all: stops everything still running, newest first, naming in
# $unclean those that did not exit with status 0; with "clean", fails
# unless all did.
stop_all() {
        local i
        unclean=
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                [[ -n ${pids[i]} ]] || continue
                stop_index "$i"
                ((status == 0)) || unclean+=" ${names[i]}($status)"
        done
        if [[ ${1:-} == clean ]]; then
                [[ -z $unclean ]] || fail "not stopped cleanly on SIGTERM:$unclean"
                note "every process stopped cleanly"
        fi
}

# crash NAME: kills it with SIGKILL, as a crash would.
crash() {
        local pid
        index_of "$1"
        pid=${pids[idx]}
        [[ -n $pid ]] || fail "$1 was already stopped"
        pids[idx]=
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
}

# await NAME SECONDS: waits for NAME to end by itself and sets status to
# its exit status; fails if it is still running after SECONDS.
await() {
        local pid _
        index_of "$1"
        pid=${pids[idx]}
        [[ -n $pid ]] || fail "$1 was already stopped"
        for _ in $(seq $(($2 * slow * 10))); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
                fail "$1 still running after $(($2 * slow)) s"
        fi
        pids[idx]=
        status=0
        wait "$pid" || status=$?
}

# At exit, whatever the exit: stops everything, shows the logs of a failed
# test, and removes $work unless KBUS_TEST_KEEP is set.
on_exit() {
        local rc=$? f
        stop_all
        # Every program a test leaves running must also exit cleanly: under
        # a wrapper or a sanitizer that is where a leak or a bad read shows.
        if ((rc == 0)) && [[ -n $unclean ]]; then
                note "FAIL: not stopped cleanly on SIGTERM:$unclean"
                rc=1
        fi
        if ((rc != 0 && rc != 77)); then
                for f in "$work"/*.log "$work"/*.out; do
                        [[ -s $f ]] || continue
                        echo "---- ${f##*/} (last 30 lines) ----"
                        tail -n 30 "$f"
                done
        fi
        if [[ -n ${KBUS_TEST_KEEP:-} ]]; then
                echo "logs kept in $work"
        else
                rm -rf "$work"
        fi
        exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until
# it succeeds; fails the test after SECONDS.
wait_for() {
        local seconds=$(($1 * slow)) what=$2 i
        shift 2
        for ((i = 0; i < seconds * 5; i++)); do
                "$@" && return 0
                sleep 0.2
        done
        fail "$what: not within $seconds s"
}

# wait_for_line NAME REGEX SECONDS: waits until NAME's stdout has a line
# matching REGEX; fails if NAME ends first or time runs out.
wait_for_line() {
        local name=$1 re=$2 seconds=$(($3 * slow)) _
        for _ in $(seq $((seconds * 10))); do
                grep -Eq "$re" "$work/$name.out" 2>/dev/null && return 0
                running "$name" || fail "$name ended before printing /$re/"
                sleep 0.1
        done
        fail "$name printed no line matching /$re/ within $seconds s"
}

# first_line NAME [SECONDS]: prints NAME's first line of output, waiting
# for it up to SECONDS (20).
first_line() {
        local name=$1 seconds=$((${2:-20} * slow)) line= _
        for _ in $(seq $((seconds * 10))); do
                if [[ -s $work/$name.out ]] && IFS= read -r line <"$work/$name.out" &&
                        [[ -n $line ]]; then
                        printf '%s\n' "$line"
                        return 0
                fi
                running "$name" || fail "$name ended at start"
                sleep 0.1
        done
        fail "$name printed nothing within $seconds s"
}

# use_broker NAME: reads the bootstrap list that broker NAME prints first,
# checks that every broker is on loopback, and points the programs started
# afterwards at it (KBUS_BOOTSTRAP, in low-latency mode).
use_broker() {
        local addrs addr
        BOOTSTRAP=$(first_line "$1")
        IFS=, read -r -a addrs <<<"$BOOTSTRAP"
        for addr in "${addrs[@]}"; do
                [[ $addr =~ ^127\.[0-9.]+:[0-9]+$ ]] ||
                        fail "$1 is not on loopback: $BOOTSTRAP"
        done
        export KBUS_BOOTSTRAP=$BOOTSTRAP KBUS_LOW_LATENCY=1
        note "broker at $BOOTSTRAP"
}

# start_broker [ARGS...]: starts `kbus broker ARGS...` as "broker" and
# uses it.
start_broker() {
        start broker "$kbus_prog" broker "$@"
        use_broker broker
}

# all_committed GROUP TOPIC: whether consumer group GROUP has committed an
# offset past 0 in every partition of TOPIC (`kbus groups`).  A test that
# kills a consumer to show that its state survives waits for this first:
# a consumer killed before its first commit has its whole input again,
# and would rebuild even state it kept in memory.
all_committed() {
        "$kbus_prog" groups "$1" -t "$2" 2>/dev/null |
                awk -v t="$2" '$1 == t { n++; if ($3 !~ /^[0-9]+$/ || $3 == 0) bad = 1 }
                        END { exit !(n > 0 && !bad) }'
}
