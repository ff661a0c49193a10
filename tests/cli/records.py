#!/usr/bin/python3
"""Reads topics with kafka-python and compares them with `kbus tail`.

    records.py BOOTSTRAP TAIL_OUTPUT TOPIC...

Every record of the TOPICs is read from the beginning to the end the
topics have now, written as `kbus tail` writes it (without a descriptor
set) from docs/WIRE.md alone: binary headers by their documented types,
the value as base64.  Then each line of TAIL_OUTPUT must be one of those
records with every field equal, and every record must be in it.  Exits 1
naming the first difference.
"""
import base64
import json
import sys

from kafka import KafkaConsumer, TopicPartition

INT32_BE = {"kafka_replyPartition", "kafka_dlt-original-partition"}
INT64_BE = {"kafka_dlt-original-offset", "kafka_dlt-original-timestamp"}
DECIMAL = {"kbus-deadline", "kbus-status", "kbus-attempts"}
STATUS = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
          "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
          "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
          "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
          "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]


def text_or_bytes(v):
    try:
        s = v.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(v).decode()}
    if any(ord(c) < 0x20 and c not in "\t\n" for c in s):
        return {"base64": base64.b64encode(v).decode()}
    return s


def header_value(name, v):
    if v is None:
        return None
    if name in INT32_BE and len(v) == 4:
        return int.from_bytes(v, "big", signed=True)
    if name in INT64_BE and len(v) == 8:
        return int.from_bytes(v, "big", signed=True)
    if name in DECIMAL and 0 < len(v) <= 18 and v.isdigit():
        return int(v)
    if name == "kafka_correlationId":
        return v.hex()
    return text_or_bytes(v)


def record(m):
    out = {"topic": m.topic, "partition": m.partition, "offset": m.offset,
           "timestamp": m.timestamp}
    if m.key is None:
        out["key"] = None
    else:
        k = text_or_bytes(m.key)
        if isinstance(k, str):
            out["key"] = k
        else:
            out["key_base64"] = k["base64"]
    headers = {}
    for name, v in m.headers:
        val = header_value(name, v)
        if name in headers:
            if not isinstance(headers[name], list):
                headers[name] = [headers[name]]
            headers[name].append(val)
        else:
            headers[name] = val
    out["headers"] = headers
    st = headers.get("kbus-status")
    if isinstance(st, int) and st < len(STATUS):
        out["status"] = STATUS[st]
    out["value_base64"] = (None if m.value is None
                           else base64.b64encode(m.value).decode())
    return out


def read_all(bootstrap, topics):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      group_id=None, consumer_timeout_ms=10000,
                      api_version_auto_timeout_ms=10000)
    parts = [TopicPartition(t, p) for t in topics
             for p in sorted(c.partitions_for_topic(t) or ())]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    ends = c.end_offsets(parts)
    got = {}
    while any(c.position(tp) < ends[tp] for tp in parts):
        batch = c.poll(timeout_ms=1000)
        for msgs in batch.values():
            for m in msgs:
                got[(m.topic, m.partition, m.offset)] = record(m)
    c.close()
    return got


def main():
    bootstrap, tail_out, topics = sys.argv[1], sys.argv[2], sys.argv[3:]
    want = read_all(bootstrap, topics)
    seen = set()
    with open(tail_out) as f:
        for line in f:
            got = json.loads(line)
            at = (got["topic"], got["partition"], got["offset"])
            if at not in want:
                sys.exit("kbus tail printed a record kafka-python did not "
                         "read: %s" % (at,))
            for field, v in want[at].items():
                if got.get(field) != v:
                    sys.exit("%s %s: kbus tail says %r, kafka-python %r" %
                             (at, field, got.get(field), v))
            extra = set(got) - set(want[at])
            if extra:
                sys.exit("%s: unexpected fields %s" % (at, sorted(extra)))
            seen.add(at)
    missing = set(want) - seen
    if missing:
        sys.exit("kbus tail missed %d records, e.g. %s" %
                 (len(missing), sorted(missing)[0]))
    print("%d records agree field by field" % len(seen))


main()
