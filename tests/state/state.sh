# Helpers of the state tests that restart a counter with a state
# directory; sourced after tests/lib.sh.

counter=$builddir/tests/state/counter
topic=count.events
changelog=counter.counts.changelog
snapdir=$work/state/counter/counts

# counter_conf FILE INTERVAL_MS: a counter configuration keeping its
# snapshots under $work/state, one every INTERVAL_MS when changed.
counter_conf() {
        cat >"$1" <<CONF
state_dir = "$work/state";
checkpoint_interval_ms = $2;
CONF
}

# log_lines NAME: how many lines NAME's log has now (a restarted program
# appends to it).
log_lines() {
        wc -l <"$work/$1.log"
}

# restores NAME FROM: the restores NAME logged after line FROM of its log,
# one line each, sorted by partition: "P ENTRIES READ OFFSET SNAPSHOT",
# SNAPSHOT 1 when it started after the local snapshot, else 0.
restores() {
        tail -n +$(($2 + 1)) "$work/$1.log" |
                grep -o 'table counts partition [0-9]* restored: [0-9]* entries, [0-9]* changelog records read from offset [0-9]*[^"]* in [0-9]* ms' |
                sed -E 's/table counts partition ([0-9]+) restored: ([0-9]+) entries, ([0-9]+) changelog records read from offset ([0-9]+)(.*) in [0-9]+ ms/\1 \2 \3 \4 \5/' |
                awk '{ print $1, $2, $3, $4, ($5 == "(after" ? 1 : 0) }' | sort -n
}

# snapshots: "P COVERS END" per changelog partition (tests/state/snap.py).
snapshots() {
        timeout $((60 * slow)) "$python" "$tests_srcdir/state/snap.py" \
                "$BOOTSTRAP" "$changelog" "$snapdir" 4
}

# all_snapshots: whether every partition has a snapshot file.
all_snapshots() {
        local p
        for p in 0 1 2 3; do
                [[ -s $snapdir/$p.snap ]] || return 1
        done
}

# exact_counts COUNT KEYS: fails unless the changelog's last value per key
# is what COUNT events over KEYS keys make, waiting up to 120 s for it.
exact_counts() {
        timeout $((180 * slow)) "$python" "$tests_srcdir/state/counts.py" \
                "$BOOTSTRAP" "$changelog" "$1" "$2" --wait $((120 * slow)) \
                >"$work/counts.out" 2>&1 ||
                fail "counts are not exact: $(cat "$work/counts.out")"
        note "counts: $(cat "$work/counts.out")"
}
