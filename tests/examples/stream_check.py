#!/usr/bin/python3
"""Prints what the stream-processing example produced, one line each.

  stream_check.py BOOTSTRAP

Reads iot.v1.AverageReading and iot.v1.Alert from the beginning and prints,
sorted, one line per device and window:
  AVERAGE DEVICE WINDOW_START_MS WINDOW_END_MS SITE AVERAGE READINGS
  ALERT DEVICE WINDOW_START_MS SITE AVERAGE CONSECUTIVE RULE
A record that comes more than once (at-least-once delivery after a crash)
must be identical, ce_id included: a repeat that differs is reported on
stderr and makes the exit status 1.  The last line on stderr counts them.
"""
import collections
import struct
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def varint(b, i):
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


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


def read(c, topic):
    parts = [TopicPartition(topic, p) for p in (c.partitions_for_topic(topic) or [])]
    if not parts:
        return []
    c.assign(parts)
    c.seek_to_beginning(*parts)
    ends = c.end_offsets(parts)
    out = []
    deadline = time.time() + 30
    while any(c.position(p) < ends[p] for p in parts) and time.time() < deadline:
        for recs in c.poll(timeout_ms=200).values():
            out.extend(recs)
    return out


def main():
    c = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      fetch_max_wait_ms=10)
    lines, seen, counts = {}, {}, collections.Counter()
    status = 0
    for topic, kind in (("iot.v1.AverageReading", "AVERAGE"), ("iot.v1.Alert", "ALERT")):
        for m in read(c, topic):
            f = fields(m.value)
            if kind == "AVERAGE":
                key = (kind, f.get(1, ""), f.get(3, 0))
                line = "AVERAGE %s %d %d %s %.6f %d" % (
                    f.get(1, ""), f.get(3, 0), f.get(4, 0), f.get(2, ""),
                    f.get(5, 0.0), f.get(6, 0))
            else:
                key = (kind, f.get(1, ""), f.get(3, 0))
                line = "ALERT %s %d %s %.6f %d %s" % (
                    f.get(1, ""), f.get(3, 0), f.get(2, ""), f.get(4, 0.0),
                    f.get(5, 0), f.get(6, "").replace(" ", "_"))
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
