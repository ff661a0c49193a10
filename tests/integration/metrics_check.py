"""Fetches a kbus program's /metrics and checks every line of it.

    metrics_check.py PORT SECONDS

Waits (up to SECONDS) until the output has consumer lag and a handled
request, then parses the whole text with prometheus_client's parser (the
one Prometheus' Python client uses) and fails on:
  - anything the parser refuses, or a line it silently skips (every
    sample line must come back as a sample);
  - a HELP text that is empty or "(null)" (the parser accepts those);
  - a family without both HELP and TYPE, or a counter whose name does not
    end in _total;
  - label values that do not come back as written (escaping).
Prints "ok: N families, M samples" on success.
"""
import re
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf)|NaN)"
SAMPLE = re.compile(r"^%s(?:\{%s(?:,%s)*\})? %s(?: -?[0-9]+)?$"
                    % (NAME, LABEL, LABEL, VALUE))


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        if r.status != 200:
            raise SystemExit("FAIL: /metrics answered %d" % r.status)
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("text/plain"):
            raise SystemExit("FAIL: /metrics Content-Type %r" % ctype)
        return r.read().decode("utf-8")


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    want_group = sys.argv[3] if len(sys.argv) > 3 else None
    deadline = time.monotonic() + seconds
    while True:
        text = fetch(port)
        if ("kbus_consumer_lag{" in text and
                re.search(r"^kbus_requests_handled_total\{[^}]*\} [1-9]",
                          text, re.M)):
            break
        if time.monotonic() > deadline:
            raise SystemExit("FAIL: no consumer lag and no handled request "
                             "in /metrics after %g s:\n%s" % (seconds, text))
        time.sleep(0.2)

    problems = []
    if not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    lines = text.split("\n")[:-1]
    help_of, type_of, sample_lines = {}, {}, 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            problems.append("line %d is empty" % n)
            continue
        m = re.match(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$",
                     line)
        if m:
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            table = help_of if kind == "HELP" else type_of
            if name in table:
                problems.append("line %d: second %s for %s" % (n, kind, name))
            table[name] = rest
            continue
        if line.startswith("#"):
            problems.append("line %d is a comment kbus does not write: %r"
                            % (n, line))
            continue
        # The parser is lenient (it reads group="a"b" as "a"), so every
        # sample line is also held to the text format's grammar here.
        if not SAMPLE.match(line):
            problems.append("line %d is not a well-formed sample: %r"
                            % (n, line))
        sample_lines += 1

    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's only way to say "malformed"
        raise SystemExit("FAIL: the Prometheus parser refuses /metrics: %s"
                         "\n%s" % (e, text))
    samples = [s for f in families for s in f.samples]
    if len(samples) != sample_lines:
        problems.append("%d sample lines, but the parser read %d samples"
                        % (sample_lines, len(samples)))

    for f in families:
        doc = f.documentation
        if not doc or not doc.strip() or doc.strip() == "(null)":
            problems.append("HELP of %s is %r" % (f.name, doc))
        if f.type == "unknown":
            problems.append("%s has no TYPE" % f.name)
        if f.type == "counter" and not any(
                s.name == f.name + "_total" for s in f.samples):
            problems.append("counter %s has no %s_total sample"
                            % (f.name, f.name))
    for name, doc in help_of.items():
        if not doc.strip() or doc.strip() == "(null)":
            problems.append("# HELP %s %r" % (name, doc))
        if name not in type_of:
            problems.append("%s has HELP but no TYPE" % name)
    for name in type_of:
        if name not in help_of:
            problems.append("%s has TYPE but no HELP" % name)

    if want_group is not None:
        groups = {s.labels.get("group") for s in samples
                  if s.name == "kbus_consumer_lag"}
        if want_group not in groups:
            problems.append("consumer lag groups %r, not %r"
                            % (sorted(g for g in groups if g), want_group))

    if problems:
        print("/metrics as served:\n" + text, file=sys.stderr)
        for p in problems:
            print("FAIL: " + p, file=sys.stderr)
        sys.exit(1)
    print("ok: %d families, %d samples" % (len(families), len(samples)))


main()
