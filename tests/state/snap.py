#!/usr/bin/python3
"""What a restart of the counter must read of its changelog.

  snap.py BOOTSTRAP CHANGELOG DIR PARTITIONS

For each partition P of CHANGELOG prints one line "P COVERS END": the
changelog offset that the snapshot DIR/P.snap covers (what a restore reads
from), or -1 when there is no snapshot or it does not check out, and the
changelog's end offset.  A restore from the snapshot then reads exactly
END - COVERS records, when nothing writes to the changelog meanwhile.

The snapshot format is framework/table.c's: "KBUSSNP1", the group and the
table (each a 4-byte big-endian length and the bytes), the partition
(4 bytes), the offset it covers (8 bytes), ..., and a CRC-32 of everything
before it (4 bytes) at the end.
"""
import os
import struct
import sys
import zlib

from kafka import KafkaConsumer, TopicPartition


def covers(path, partition):
    try:
        with open(path, "rb") as f:
            b = f.read()
    except OSError:
        return -1
    if len(b) < 12 or b[:8] != b"KBUSSNP1":
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


def main():
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
