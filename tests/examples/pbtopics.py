"""What the examples' checkers share: every record of a topic, read with
kafka-python (an independent client), and a reader of protobuf's wire
format that needs no generated code."""

import collections
import time

from kafka import TopicPartition


def read(c, topic):
    """Every record of \\p topic, in offset order per partition."""
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
    out.sort(key=lambda m: (m.partition, m.offset))
    return out


def varint(b, i):
    """The varint at b[i:], and the index after it."""
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def fields(b):
    """The fields of a protobuf message: {number: [value, ...]}, varints
    as ints, length-delimited ones as bytes, fixed ones as their bytes."""
    out, i = collections.defaultdict(list), 0
    while i < len(b or b""):
        key, i = varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        out[num].append(v)
    return out


def one(f, num, default):
    """The last value of field \\p num in \\p f, or \\p default."""
    return f[num][-1] if f.get(num) else default
