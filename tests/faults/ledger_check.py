"""Reads offsets from the broker and checks a ledger-sub ledger: what the
crash test needs besides the processes themselves.

Usage: /usr/bin/python3 ledger_check.py offsets BOOTSTRAP TOPIC GROUP OUT
       /usr/bin/python3 ledger_check.py complete LEDGER OFFSETS
       /usr/bin/python3 ledger_check.py check LEDGER BEFORE AFTER KEYS COMMIT_S

offsets writes {"end": {partition: offset}, "committed": {...}} as JSON to
OUT: the topic's end offsets and the group's committed offsets (asked of
the coordinator without joining the group).

complete exits 0 once the ledger holds every offset below the end offsets
in OFFSETS, 1 otherwise.

check applies the crash test's rules to a ledger written by two lives of
the subscriber, the first killed with SIGKILL: BEFORE holds the offsets
read right after the kill (what the second life starts from), AFTER those
read at the end.  Exits 0 when all hold, 1 with a message otherwise.
"""

import json
import logging
import sys
import time


class Failure(Exception):
    pass


def log(msg):
    print("ledger_check: " + msg, flush=True)


def read_offsets(bootstrap, topic, group, out):
    from kafka import KafkaConsumer, TopicPartition

    deadline = time.time() + 30
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        parts = None
        while not parts and time.time() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        if not parts:
            raise Failure("topic %s has no partitions" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        end = consumer.end_offsets(tps)
        result = {"end": {}, "committed": {}}
        for tp in tps:
            result["end"][str(tp.partition)] = end[tp]
            committed = consumer.committed(tp)
            result["committed"][str(tp.partition)] = committed or 0
    finally:
        consumer.close(autocommit=False)
    with open(out, "w") as f:
        json.dump(result, f)


def read_ledger(path):
    """Returns the ledger's lines as dicts, in file order."""
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 6:
                raise Failure("%s:%d: malformed line %r" % (path, n, line))
            pid, key, seq, part, off, ms = parts
            rows.append({"pid": int(pid), "key": key, "seq": int(seq),
                         "part": part, "off": int(off), "ms": int(ms)})
    return rows


def complete(ledger, offsets_path):
    with open(offsets_path) as f:
        end = json.load(f)["end"]
    try:
        rows = read_ledger(ledger)
    except FileNotFoundError:
        return 1
    seen = {(r["part"], r["off"]) for r in rows}
    for part, e in end.items():
        for off in range(e):
            if (part, off) not in seen:
                return 1
    return 0


def check(ledger, before_path, after_path, n_keys, commit_s):
    with open(before_path) as f:
        before = json.load(f)
    with open(after_path) as f:
        after = json.load(f)
    rows = read_ledger(ledger)
    lives = []
    for r in rows:
        if not lives or lives[-1] != r["pid"]:
            if r["pid"] in lives:
                raise Failure("process %d wrote again after %d"
                              % (r["pid"], lives[-1]))
            lives.append(r["pid"])
    if len(lives) != 2:
        raise Failure("expected two lives of the subscriber in the ledger, "
                      "found %d" % len(lives))
    first = [r for r in rows if r["pid"] == lives[0]]
    second = [r for r in rows if r["pid"] == lives[1]]
    committed = before["committed"]
    end = after["end"]
    total = sum(end.values())
    log("%d records; first life handled %d, second %d; committed at the "
        "kill: %s" % (total, len(first), len(second), committed))

    # 1. Every record handled at least once.
    seen = {(r["part"], r["off"]) for r in rows}
    missing = [(p, o) for p, e in end.items() for o in range(e)
               if (p, o) not in seen]
    if missing:
        raise Failure("%d records never handled, e.g. partition %s offset "
                      "%d" % (len(missing), missing[0][0], missing[0][1]))

    # 2. Within each life, no record twice and each key in order with no
    #    gap: the first life starts every key at 1, the second continues
    #    each key from somewhere at or before where the first stopped.
    last_of_first = {}
    for life, name in ((first, "first"), (second, "second")):
        pairs = [(r["part"], r["off"]) for r in life]
        if len(pairs) != len(set(pairs)):
            raise Failure("the %s life handled a record twice" % name)
        prev = {}
        for r in life:
            k = r["key"]
            if k in prev:
                if r["seq"] != prev[k] + 1:
                    raise Failure("%s life: key %s went from %d to %d"
                                  % (name, k, prev[k], r["seq"]))
            elif life is first and r["seq"] != 1:
                raise Failure("first life: key %s started at %d"
                              % (k, r["seq"]))
            elif life is second and r["seq"] > last_of_first.get(k, 0) + 1:
                raise Failure("second life: key %s resumed at %d, but the "
                              "first life stopped at %d: records skipped"
                              % (k, r["seq"], last_of_first.get(k, 0)))
            prev[k] = r["seq"]
        if life is first:
            last_of_first = prev

    # 3. The second life starts exactly at the committed offsets: it never
    #    goes back past a commit, and what lies below one was handled by
    #    the first life (committed means handled).
    for r in second:
        if r["off"] < committed[r["part"]]:
            raise Failure("second life handled partition %s offset %d, "
                          "below the committed %d"
                          % (r["part"], r["off"], committed[r["part"]]))
    done_first = {(r["part"], r["off"]) for r in first}
    for p, c in committed.items():
        for o in range(c):
            if (p, o) not in done_first:
                raise Failure("partition %s offset %d is committed but the "
                              "first life never handled it" % (p, o))

    # 4. Duplicates are only what the first life handled after its last
    #    commit: the runtime commits stored offsets every commit_s
    #    seconds, so they were all handled shortly before the kill.
    done_second = {(r["part"], r["off"]) for r in second}
    dups = [r for r in first if (r["part"], r["off"]) in done_second]
    kill_ms = max(r["ms"] for r in first)
    oldest = min((r["ms"] for r in dups), default=kill_ms)
    log("%d records handled twice; the oldest %.2f s before the kill"
        % (len(dups), (kill_ms - oldest) / 1000.0))
    # One interval between commits, plus one for the commit in flight and
    # the time a record of a slow key can hold back the stored offset.
    if (kill_ms - oldest) / 1000.0 > 2 * commit_s + 1.0:
        raise Failure("a record handled %.2f s before the kill was handled "
                      "again: more than the commit interval (%.1f s) "
                      "explains" % ((kill_ms - oldest) / 1000.0, commit_s))
    keys = {r["key"] for r in rows}
    if len(keys) != n_keys:
        raise Failure("expected %d keys in the ledger, found %d"
                      % (n_keys, len(keys)))


def main(argv):
    logging.basicConfig(level=logging.ERROR)
    try:
        if len(argv) == 6 and argv[1] == "offsets":
            read_offsets(argv[2], argv[3], argv[4], argv[5])
            return 0
        if len(argv) == 4 and argv[1] == "complete":
            return complete(argv[2], argv[3])
        if len(argv) == 7 and argv[1] == "check":
            check(argv[2], argv[3], argv[4], int(argv[5]), float(argv[6]))
            log("ok")
            return 0
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
