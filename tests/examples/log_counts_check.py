#!/usr/bin/python3
"""Checks log-collector's counts per source and minute against the log files.

  log_counts_check.py BOOTSTRAP GRACE_MS RETAIN_MS SOURCE=FILE[,FILE...]...
                      [--wait SECONDS]

Each SOURCE ("HOST:FILE", as the shipper names it) is given with the files
that together hold its lines, oldest first (a rotated file before the one
that followed it).  From those files alone it works out what each minute
holds: each line's time (the timestamp it starts with, or the one of the
line before it), its level (the first word among its first 128 bytes that
names one), counted as errors (ERROR, FATAL), warnings (WARN) and lines.

Then it reads logs.v1.LogLine, partition by partition in offset order, and
works out, as docs/WINDOWS.md says windows work, which minutes must have
closed and which lines came too late to count: a line whose sequence number
its source has had already is a repeat and counts nowhere; a partition's
time is the highest logged time of its lines less GRACE_MS; a line whose
minute ended at or before that time is late: counted as an update while the
minute ended after that time less RETAIN_MS, refused (written, not counted)
otherwise.  A minute has closed once its partition's time reaches its end.

And checks logs.v1.ErrorCount, exactly:
  - for every source and closed minute, the newest revision's counts equal
    those of the files, less the refused lines;
  - no count for a minute still open, or for a minute without lines;
  - a count published more than once (at-least-once after a crash) is the
    same each time, with the same ce_id.
With --wait, reads again until all hold or SECONDS pass.  Prints a summary
line; exits 0 when everything holds.
"""
import collections
import datetime
import re
import sys
import time

from kafka import KafkaConsumer

from pbtopics import fields, one, read

MINUTE = 60000
ERROR, WARN = 5, 4  # logs.v1.Level
LEVEL_WORDS = {
    "trace": 1, "debug": 2, "info": 3, "notice": 3, "warn": 4, "warning": 4,
    "error": 5, "err": 5, "fatal": 6, "crit": 6, "critical": 6, "alert": 6,
    "emerg": 6, "panic": 6,
}
TIME = re.compile(rb"\[?(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)"
                  rb"(?:[.,](\d+))?([Zz]|[+-]\d\d(?::?\d\d)?)?(?![A-Za-z0-9])")


def line_time(line):
    m = TIME.match(line)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = int((m.group(7) or b"0")[:3].ljust(3, b"0"))
    zone = (m.group(8) or b"Z").decode()
    off = 0
    if zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        off = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
        off = -off if zone[0] == "-" else off
    t = datetime.datetime(y, mo, d, h, mi, min(s, 59), tzinfo=datetime.timezone.utc)
    ms = int(t.timestamp()) * 1000 + (999 if s == 60 else frac)
    return ms - off * 60000


def line_level(line):
    for m in re.finditer(rb"[A-Za-z]+", line):
        if m.start() >= 128:
            break
        level = LEVEL_WORDS.get(m.group().decode().lower())
        if level:
            return level
    return 0


def truth(sources):
    """Per (source, minute): [errors, warnings, lines], from the files."""
    counts = collections.defaultdict(lambda: [0, 0, 0])
    n_lines = collections.Counter()
    untimed = []
    for source, files in sources.items():
        last = None
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            for line in data.split(b"\n")[:-1]:
                t = line_time(line)
                last = t if t is not None else last
                if last is None:
                    untimed.append(path)  # counted by when it was read
                    continue
                c = counts[(source, last - last % MINUTE)]
                level = line_level(line)
                c[0] += level >= ERROR
                c[1] += level == WARN
                c[2] += 1
                n_lines[source] += 1
    return counts, n_lines, untimed


def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def windows(lines, grace, retain):
    """What the collector's window made of the lines on the topic: the
    partition of each source, each partition's time, the lines late but
    counted, and the refused ones (source, minute, level, continued)."""
    part_of, seen, clock = {}, {}, {}
    updates, refused = [], []
    for m in lines:
        f = fields(m.value)
        source = one(f, 1, b"").decode()
        seq = one(f, 2, 0)
        part_of[source] = m.partition
        if seq <= seen.get(source, 0):
            continue  # a repeat: not counted again
        seen[source] = seq
        t = signed(one(f, 10, 0)) or signed(one(f, 3, 0))
        start = t - t % MINUTE
        c = clock.get(m.partition)
        if c is not None and start + MINUTE <= c:
            entry = (source, start, one(f, 7, 0), bool(one(f, 9, 0)), seq)
            if start + MINUTE <= c - retain:
                refused.append(entry)
                continue
            updates.append(entry)
        clock[m.partition] = max(c if c is not None else t - grace, t - grace)
    return part_of, clock, updates, refused


def check(c, sources, grace, retain):
    want_all, n_lines, untimed = truth(sources)
    part_of, clock, updates, refused = windows(read(c, "logs.v1.LogLine"), grace, retain)
    problems = []
    if untimed:
        problems.append("lines without a time before them in %s: this check "
                        "cannot place them" % sorted(set(untimed)))
    for source, start, level, continued, _ in refused:
        if continued:
            continue
        w = want_all[(source, start)]
        w[0] -= level >= ERROR
        w[1] -= level == WARN
        w[2] -= 1
    closed, still_open = {}, 0
    for (source, start), w in want_all.items():
        if source not in part_of:
            problems.append("no line of %s on logs.v1.LogLine" % source)
            continue
        if w[2] == 0:
            continue
        if start + MINUTE <= clock[part_of[source]]:
            closed[(source, start)] = tuple(w)
        else:
            still_open += 1

    got, ids = {}, {}
    repeats = 0
    for m in read(c, "logs.v1.ErrorCount"):
        f = fields(m.value)
        k = (one(f, 1, b"").decode(), signed(one(f, 2, 0)))
        rev = one(f, 6, 0)
        v = (one(f, 3, 0), one(f, 4, 0), one(f, 5, 0))
        ce_id = dict(m.headers).get("ce_id")
        if (k, rev) in ids:
            repeats += 1
            if got[k][rev] != v or ids[(k, rev)] != ce_id:
                problems.append("%s@%d revision %d published twice: %s (%s) and %s (%s)" %
                                (k[0], k[1], rev, got[k][rev], ids[(k, rev)], v, ce_id))
        got.setdefault(k, {})[rev] = v
        ids[(k, rev)] = ce_id
    newest = {k: revs[max(revs)] for k, revs in got.items()}
    wrong = sorted((k[0], k[1], newest.get(k), w) for k, w in closed.items()
                   if newest.get(k) != w)
    extra = sorted(k for k in newest if k not in closed)
    if wrong:
        problems.append("%d minutes wrong or missing (source, minute, got, want "
                        "as errors, warnings, lines): %s" % (len(wrong), wrong[:4]))
    if extra:
        problems.append("%d counts of minutes still open or without lines: %s" %
                        (len(extra), extra[:4]))
    summary = ("sources=%d lines=%d minutes_closed=%d minutes_open=%d errors=%d "
               "warnings=%d late_counted=%d refused=%d published=%d "
               "revised=%d repeats=%d" %
               (len(sources), sum(n_lines.values()), len(closed), still_open,
                sum(w[0] for w in closed.values()), sum(w[1] for w in closed.values()),
                len(updates), len(refused), sum(len(r) for r in got.values()),
                sum(1 for r in got.values() if max(r) > 0), repeats))
    return problems, summary, refused


def main():
    args = sys.argv[1:]
    wait = 0
    if "--wait" in args:
        i = args.index("--wait")
        wait = float(args[i + 1])
        del args[i:i + 2]
    bootstrap, grace, retain = args[0], int(args[1]), int(args[2])
    sources = {}
    for a in args[3:]:
        source, _, files = a.partition("=")
        sources[source] = files.split(",")
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      fetch_max_wait_ms=10)
    end = time.time() + wait
    while True:
        problems, summary, refused = check(c, sources, grace, retain)
        if not problems or time.time() >= end:
            break
        time.sleep(1)
    print(summary)
    for source, start, _, _, seq in refused:
        print("  refused: %s line %d (minute %d)" % (source, seq, start))
    for p in problems:
        print("  " + p)
    sys.exit(1 if problems else 0)


main()
