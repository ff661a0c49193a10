#!/usr/bin/python3
"""What a restart of the counter must read of its changelog.

  snap.py BOOTSTRAP CHANGELOG DIR PARTITIONS
  snap.py --to-v1 FILE

For each partition P of CHANGELOG prints one line "P COVERS END": the
changelog offset that the snapshot DIR/P.snap covers (what a restore reads
from), or -1 when there is no snapshot or it does not check out, and the
changelog's end offset.  A restore from the snapshot then reads exactly
END - COVERS records, when nothing writes to the changelog meanwhile.

The snapshot format is framework/table.c's: "KBUSSNP2", the group and the
table (each a 4-byte big-endian length and the bytes), the partition
(4 bytes), the offset it covers (8 bytes), the next offset and the highest
committed mark (8 bytes each), the applied batches (a 4-byte count of input
topics, each its name, a 4-byte count of spans of offsets [lo, hi) of
8 bytes each, a 4-byte count of outboxes, each its offset and its bytes),
the entries (an 8-byte count, each its key, its value and its changelog
offset), and a CRC-32 of everything before it (4 bytes) at the end.

--to-v1 rewrites FILE, a snapshot of that format, in the format before it
("KBUSSNP1", the applied batches listed one by one: a 4-byte count, each
its topic, its offset and its outbox, or a length of 0xffffffff for none),
as an older kbus wrote it.
"""
import os
import struct
import sys
import zlib

NONE = 0xFFFFFFFF


def covers(path, partition):
    try:
        with open(path, "rb") as f:
            b = f.read()
    except OSError:
        return -1
    if len(b) < 12 or b[:8] != b"KBUSSNP2":
        return -1
    if struct.unpack(">I", b[-4:])[0] != zlib.crc32(b[:-4]):
        return -1
    at = 8
    for _ in range(2):  # group, table
        (n,) = struct.unpack_from(">I", b, at)
        at += 4 + n
    (p,) = struct.unpack_from(">I", b, at)
    (c,) = struct.unpack_from(">q", b, at + 4)
    return c if p == partition else -1


class Reader:
    def __init__(self, b):
        self.b, self.at = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.at)
        self.at += struct.calcsize(fmt)
        return v[0]

    def blob(self):
        n = self.take(">I")
        if n == NONE:
            return None
        v = self.b[self.at:self.at + n]
        self.at += n
        return v


def blob(v):
    if v is None:
        return struct.pack(">I", NONE)
    return struct.pack(">I", len(v)) + v


def to_v1(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"KBUSSNP2" or struct.unpack(">I", b[-4:])[0] != zlib.crc32(b[:-4]):
        sys.exit("snap.py: %s is not a good snapshot of format 2" % path)
    r = Reader(b[:-4])
    r.at = 8
    head = blob(r.blob()) + blob(r.blob())
    head += struct.pack(">Iqqq", r.take(">I"), r.take(">q"), r.take(">q"),
                        r.take(">q"))
    applied = []
    for _ in range(r.take(">I")):
        topic = r.blob()
        offsets = []
        for _ in range(r.take(">I")):
            lo, hi = r.take(">q"), r.take(">q")
            offsets.extend(range(lo, hi))
        outboxes = {}
        for _ in range(r.take(">I")):
            off = r.take(">q")
            outboxes[off] = r.blob()
        applied.extend((topic, o, outboxes.get(o)) for o in offsets)
    rest = r.b[r.at:]  # the entries, as they were
    out = b"KBUSSNP1" + head + struct.pack(">I", len(applied))
    for topic, off, outbox in applied:
        out += blob(topic) + struct.pack(">q", off) + blob(outbox)
    out += rest
    out += struct.pack(">I", zlib.crc32(out))
    with open(path, "wb") as f:
        f.write(out)
    print("%s: %d applied batches" % (path, len(applied)))


def main():
    if sys.argv[1] == "--to-v1":
        to_v1(sys.argv[2])
        return
    from kafka import KafkaConsumer, TopicPartition

    bootstrap, changelog, snapdir, partitions = sys.argv[1:5]
    parts = [TopicPartition(changelog, p) for p in range(int(partitions))]
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                      enable_auto_commit=False, fetch_max_wait_ms=10)
    ends = c.end_offsets(parts)
    for tp in parts:
        print(tp.partition,
              covers(os.path.join(snapdir, "%d.snap" % tp.partition), tp.partition),
              ends[tp])
    c.close()


main()
