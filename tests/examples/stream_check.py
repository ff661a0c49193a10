#!/usr/bin/python3
"""Prints what the stream-processing example produced, one line each.

  stream_check.py BOOTSTRAP [KIND...]
  stream_check.py BOOTSTRAP --replay-alerts

Reads the output topics from the beginning and prints, sorted, one line
per device and window (per device and reading for restarts):
  ACK DEVICE WINDOW_START_MS SITE AVERAGE TICKET
  ALERT DEVICE WINDOW_START_MS SITE AVERAGE CONSECUTIVE RULE
  AVERAGE DEVICE WINDOW_START_MS WINDOW_END_MS SITE AVERAGE READINGS
  RESTART DEVICE LAST_SEQ SEQ TIME_MS RESTARTS SITE
KINDs (default: all four) limit what is read.  A record that comes more
than once (at-least-once delivery after a crash) must be identical, ce_id
included: a repeat that differs (an alert acknowledged twice, say) is
reported on stderr and makes the exit status 1.  The last line on stderr
counts the records.

--replay-alerts publishes every record of iot.v1.Alert again, as a
redelivery would (same partition, key, value and headers), and the first
one once more with another ce_id, as a replay of the topic by hand
would; it prints how many it published.
"""
import collections
import struct
import sys

from kafka import KafkaConsumer, KafkaProducer

from pbtopics import read, varint

TOPICS = {
    "ACK": "iot.v1.AlertAcknowledged",
    "ALERT": "iot.v1.Alert",
    "AVERAGE": "iot.v1.AverageReading",
    "RESTART": "iot.v1.DeviceRestarted",
}


def fields(b):
    out, i = {}, 0
    b = b or b""
    while i < len(b):
        key, i = varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
            if v >= 1 << 63:
                v -= 1 << 64
        elif wire == 1:
            v, i = struct.unpack("<d", b[i:i + 8])[0], i + 8
        elif wire == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n].decode(), i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        out[num] = v
    return out


def describe(kind, f):
    """The record's identity and its line."""
    if kind == "AVERAGE":
        return (f.get(1, ""), f.get(3, 0)), "AVERAGE %s %d %d %s %.6f %d" % (
            f.get(1, ""), f.get(3, 0), f.get(4, 0), f.get(2, ""),
            f.get(5, 0.0), f.get(6, 0))
    if kind == "ALERT":
        return (f.get(1, ""), f.get(3, 0)), "ALERT %s %d %s %.6f %d %s" % (
            f.get(1, ""), f.get(3, 0), f.get(2, ""), f.get(4, 0.0),
            f.get(5, 0), f.get(6, "").replace(" ", "_"))
    if kind == "ACK":
        return (f.get(1, ""), f.get(2, 0)), "ACK %s %d %s %.6f %s" % (
            f.get(1, ""), f.get(2, 0), f.get(3, ""), f.get(4, 0.0),
            f.get(5, ""))
    return (f.get(1, ""), f.get(4, 0), f.get(5, 0)), "RESTART %s %d %d %d %d %s" % (
        f.get(1, ""), f.get(3, 0), f.get(4, 0), f.get(5, 0), f.get(6, 0),
        f.get(2, ""))


def replay_alerts(bootstrap):
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                      enable_auto_commit=False, fetch_max_wait_ms=10)
    alerts = read(c, TOPICS["ALERT"])
    c.close()
    if not alerts:
        sys.exit("no alert to replay")
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for m in alerts:
        p.send(m.topic, value=m.value, key=m.key, headers=list(m.headers),
               partition=m.partition)
    m = alerts[0]
    headers = [(k, b"replayed-by-hand" if k == "ce_id" else v) for k, v in m.headers]
    p.send(m.topic, value=m.value, key=m.key, headers=headers, partition=m.partition)
    p.flush()
    p.close()
    print(len(alerts) + 1)


def main():
    if sys.argv[2:] == ["--replay-alerts"]:
        replay_alerts(sys.argv[1])
        return
    kinds = sys.argv[2:] or sorted(TOPICS)
    c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      fetch_max_wait_ms=10)
    lines, seen, counts = {}, {}, collections.Counter()
    status = 0
    for kind in kinds:
        for m in read(c, TOPICS[kind]):
            ident, line = describe(kind, fields(m.value))
            key = (kind,) + ident
            ce_id = dict(m.headers).get("ce_id")
            counts[kind] += 1
            if key in lines:
                counts[kind + "_repeats"] += 1
                if lines[key] != line or seen[key] != ce_id:
                    print("a repeat differs: %s (%s) and %s (%s)" %
                          (lines[key], seen[key], line, ce_id), file=sys.stderr)
                    status = 1
            lines[key], seen[key] = line, ce_id
    for key in sorted(lines):
        print(lines[key])
    print("records: %s" % dict(sorted(counts.items())), file=sys.stderr)
    sys.exit(status)


main()
