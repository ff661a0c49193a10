#!/usr/bin/python3
"""Checks the activity-tracking example's windows against what was sent.

  activity_check.py BOOTSTRAP GRACE_MS [--wait SECONDS]

Reads every view on activity.v1.PageViewed and works out, partition by
partition in offset order, what page-counter must have made of them, the
way docs/WINDOWS.md says windows work: a partition's time is the highest
event time of its views less GRACE_MS; a view whose minute ended at or
before that time when it came is late (dead-lettered); the others count in
their page's minute, and a minute closes once the partition's time reaches
its end.  Then it checks, exactly:
  - activity.v1.PageViewsPerMinute: one count per page and closed minute,
    equal to the views sent in it (a repeat, which at-least-once delivery
    allows after a crash, must carry the same count and ce_id); no count
    for a minute still open;
  - activity.v1.TopPages: the newest ranking of each minute is the ten most
    viewed pages of its closed counts (views, then page name);
  - activity.v1.PageViewed.DLT: exactly the late views.
With --wait, reads again until all hold or SECONDS pass.  Prints a summary
line; exits 0 when everything holds.
"""
import collections
import sys
import time

from kafka import KafkaConsumer

from pbtopics import fields, one, read

MINUTE = 60000


def expected(views, grace):
    counts = collections.Counter()
    late = []
    closed = {}
    for m in views:
        f = fields(m.value)
        page, t = one(f, 1, b"").decode(), one(f, 4, 0)
        start = t - t % MINUTE
        c = closed.get(m.partition)
        if c is not None and start + MINUTE <= c:
            late.append((page, t))
        else:
            counts[(page, start)] += 1
        closed[m.partition] = max(c if c is not None else t - grace, t - grace)
    # A minute is closed once its partition's time reaches its end; each
    # page lives in one partition.
    part_of = {}
    for m in views:
        part_of[one(fields(m.value), 1, b"").decode()] = m.partition
    done = {k: v for k, v in counts.items() if k[1] + MINUTE <= closed[part_of[k[0]]]}
    return done, sorted(late), len(counts) - len(done)


def check(c, grace):
    views = read(c, "activity.v1.PageViewed")
    want, want_late, still_open = expected(views, grace)
    problems = []

    got, ids = {}, {}
    repeats = 0
    for m in read(c, "activity.v1.PageViewsPerMinute"):
        f = fields(m.value)
        k = (one(f, 2, b"").decode(), one(f, 1, 0))
        n = one(f, 3, 0)
        ce_id = dict(m.headers).get("ce_id")
        if k in got:
            repeats += 1
            if got[k] != n or ids[k] != ce_id:
                problems.append("%s@%d emitted twice: %d (%s) and %d (%s)" %
                                (k[0], k[1], got[k], ids[k], n, ce_id))
        got[k], ids[k] = n, ce_id
    wrong = sorted((k, got.get(k), v) for k, v in want.items() if got.get(k) != v)
    extra = sorted(k for k in got if k not in want)
    if wrong:
        problems.append("%d counts wrong or missing (page, minute, got, want): %s" %
                        (len(wrong), wrong[:5]))
    if extra:
        problems.append("%d counts of minutes that must still be open or had "
                        "no views: %s" % (len(extra), extra[:5]))

    tops = {}
    for m in read(c, "activity.v1.TopPages"):
        f = fields(m.value)
        ranking = []
        for p in f.get(2, []):
            pf = fields(p)
            ranking.append((one(pf, 1, b"").decode(), one(pf, 2, 0)))
        tops[one(f, 1, 0)] = ranking
    by_minute = collections.defaultdict(list)
    for (page, minute), n in want.items():
        by_minute[minute].append((page, n))
    for minute, pages in by_minute.items():
        top = sorted(pages, key=lambda pn: (-pn[1], pn[0]))[:10]
        if tops.get(minute) != top:
            problems.append("top pages of minute %d: %s, want %s" %
                            (minute, tops.get(minute), top))
            break
    extra_tops = sorted(m for m in tops if m not in by_minute)
    if extra_tops:
        problems.append("rankings of minutes with no closed count: %s" % extra_tops[:5])

    dead = sorted((one(fields(m.value), 1, b"").decode(), one(fields(m.value), 4, 0))
                  for m in read(c, "activity.v1.PageViewed.DLT"))
    if dead != want_late:
        problems.append("dead-lettered views %s, want the late ones %s" %
                        (dead[:5], want_late[:5]))

    summary = ("views=%d minutes_closed=%d minutes_open=%d counted=%d late=%d "
               "repeats=%d rankings=%d" %
               (len(views), len(want), still_open, sum(want.values()), len(want_late),
                repeats, len(tops)))
    return problems, summary


def main():
    bootstrap, grace = sys.argv[1], int(sys.argv[2])
    wait = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--wait" else 0
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      fetch_max_wait_ms=10)
    end = time.time() + wait
    while True:
        problems, summary = check(c, grace)
        if not problems or time.time() >= end:
            break
        time.sleep(1)
    print(summary)
    for p in problems:
        print("  " + p)
    sys.exit(1 if problems else 0)


main()
