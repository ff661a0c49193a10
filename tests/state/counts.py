#!/usr/bin/python3
"""Reads a counter's changelog and says whether the counts are exact.

  counts.py BOOTSTRAP CHANGELOG COUNT KEYS [--wait SECONDS]

The last value per key of CHANGELOG (a google.protobuf.Int64Value: field 1,
varint) is each key's count.  ledger-sub pub sent COUNT events over KEYS
keys "k0".."k<KEYS-1>" in turn.  Exits 0 when every key's count is exactly
what was sent; with --wait, keeps reading until then or SECONDS pass.
Prints the total and the keys that differ.
"""
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def int64_value(b):
    if not b:
        return 0
    if b[0] != 0x08:
        raise ValueError("not an Int64Value: %r" % b)
    v, shift = 0, 0
    for c in b[1:]:
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            break
    return v


def main():
    bootstrap, changelog, count, keys = sys.argv[1:5]
    count, keys = int(count), int(keys)
    wait = float(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[5] == "--wait" else 0
    want = {"k%d" % k: count // keys + (1 if k < count % keys else 0) for k in range(keys)}
    # The embedded broker answers an idle fetch only when fetch.wait.max.ms
    # has passed: keep it short.
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      fetch_max_wait_ms=10, consumer_timeout_ms=1000)
    parts = [TopicPartition(changelog, p) for p in (c.partitions_for_topic(changelog) or [])]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    last, records = {}, 0
    end = time.time() + wait
    while True:
        for m in c:
            records += 1
            last[m.key.decode()] = int64_value(m.value) if m.value is not None else 0
        if all(last.get(k) == v for k, v in want.items()) or time.time() >= end:
            break
    wrong = {k: (last.get(k), v) for k, v in want.items() if last.get(k) != v}
    print("keys=%d total=%d changelog_records=%d wrong=%s" %
          (len(last), sum(last.values()), records, dict(list(wrong.items())[:10])))
    sys.exit(1 if wrong else 0)


main()
