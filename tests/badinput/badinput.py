"""Sends malformed records to real kbus processes with kafka-python, and
checks that each one is dead-lettered or dropped and counted, with one log
line, and that the process keeps serving.

Usage: /usr/bin/python3 badinput.py requests BOOTSTRAP SERVER_LOG
       /usr/bin/python3 badinput.py events BOOTSTRAP SUB_LOG LEDGER
       /usr/bin/python3 badinput.py replies BOOTSTRAP REPLY_TOPIC OUT
       /usr/bin/python3 badinput.py oversize BOOTSTRAP SERVER_LOG

requests: bad requests to hello-server (topic hello.v1.Greeter), then a
good call.  events: bad events to ledger-sub (topic ledger.events, group
ledger), then a good one.  replies: replies nobody asked for, sent to the
reply topic of a running client (reply-probe), and one duplicate of a reply
it already had; writes what it sent to OUT for the shell test to compare
with the client's counters.  oversize: a request larger than the runtime's
producer may write (message.max.bytes, 1000000 bytes by default), which
therefore cannot be dead-lettered as it is.

Exits 0 when every check holds, 1 with a message at the first that does
not.  The records are keyed "bad-<case>" so their dead letters (which keep
the key) can be told apart.
"""

import json
import logging
import os
import random
import re
import struct
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

SERVICE = "hello.v1.Greeter"
SAY_HELLO = b"/hello.v1.Greeter/SayHello"
EVENTS = "ledger.events"
WAIT_S = 30.0


class Failure(Exception):
    pass


def log(msg):
    print("badinput: " + msg, flush=True)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string_field(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def random_bytes(n):
    """Seeded, so a failure can be reproduced; the first byte is a field
    tag with wire type 7, which no protobuf parser accepts, so the value
    is certainly not a message."""
    rng = random.Random(20240601)
    return b"\x0f" + bytes(rng.randrange(256) for _ in range(n - 1))


def deadline(ms_from_now):
    return str(int(time.time() * 1000) + ms_from_now).encode()


class Client:
    def __init__(self, bootstrap, reply_topic=None):
        self.bootstrap = bootstrap
        self.producer = KafkaProducer(bootstrap_servers=bootstrap,
                                      max_request_size=16 * 1024 * 1024)
        self.reply = None
        if reply_topic:
            self.reply = TopicPartition(reply_topic, 0)
            self.producer.partitions_for(reply_topic)  # creates it
            self.replies = KafkaConsumer(bootstrap_servers=bootstrap,
                                         enable_auto_commit=False)
            self.replies.assign([self.reply])
            self.replies.seek_to_end(self.reply)
            self.replies.position(self.reply)  # listening before sending

    def send(self, topic, value, key, headers, partition=None):
        meta = self.producer.send(topic, value=value, key=key,
                                  headers=headers,
                                  partition=partition).get(timeout=WAIT_S)
        return meta.partition, meta.offset

    def reply_headers(self, cid):
        return [("kafka_correlationId", cid),
                ("kafka_replyTopic", self.reply.topic.encode()),
                ("kafka_replyPartition", struct.pack(">i", 0))]

    def collect_replies(self, want, seconds):
        """Reads replies until every correlation id in want has one, then
        for one more second; returns {cid: [headers dict, ...]}."""
        got = {}
        end = time.time() + seconds
        settle = None
        while time.time() < end:
            for records in self.replies.poll(timeout_ms=200).values():
                for r in records:
                    h = dict(r.headers)
                    got.setdefault(h.get("kafka_correlationId"), []).append(h)
            if settle is None and all(c in got for c in want):
                settle = time.time() + 1.0
                end = min(end, settle)
        return got

    def close(self):
        self.producer.close()
        if self.reply:
            self.replies.close(autocommit=False)


def read_all(bootstrap, topic, want_keys, seconds, done=None):
    """Reads topic from the beginning until a record with each key in
    want_keys was seen (or done(found) holds); returns {key: [record,
    ...]}."""
    if done is None:
        def done(found):
            return all(k in found for k in want_keys)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap,
                             enable_auto_commit=False,
                             auto_offset_reset="earliest")
    found = {}
    end = time.time() + seconds
    try:
        parts = None
        while not parts and time.time() < end:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        if not parts:
            raise Failure("no topic %s within %.0f s" % (topic, seconds))
        consumer.assign([TopicPartition(topic, p) for p in parts])
        consumer.seek_to_beginning()
        while time.time() < end and not done(found):
            for records in consumer.poll(timeout_ms=200).values():
                for r in records:
                    found.setdefault(r.key, []).append(r)
    finally:
        consumer.close(autocommit=False)
    return found


def last_header(headers, name):
    value = None
    for n, v in headers:
        if n == name:
            value = v
    return value


def log_lines(path, pattern):
    with open(path, errors="replace") as f:
        return [line for line in f if re.search(pattern, line)]


def check_dead_letters(bootstrap, topic, sent, log_path, group):
    """sent: {key: (partition, offset, value, fqcn, message regex)}.
    Checks one dead letter per key with Spring's headers, the original
    value and headers, and one dead-letter log line per record."""
    dlt = read_all(bootstrap, topic + ".DLT", list(sent), WAIT_S)
    for key, (part, off, value, fqcn, why) in sent.items():
        records = dlt.get(key)
        if not records:
            raise Failure("%s: no dead letter on %s.DLT" % (key, topic))
        if len(records) != 1:
            raise Failure("%s: %d dead letters" % (key, len(records)))
        r = records[0]
        h = r.headers
        want = {
            "kafka_dlt-original-topic": topic.encode(),
            "kafka_dlt-original-partition": struct.pack(">i", part),
            "kafka_dlt-original-offset": struct.pack(">q", off),
            "kafka_dlt-original-consumer-group": group.encode(),
            "kafka_dlt-exception-fqcn": fqcn.encode(),
        }
        for name, v in want.items():
            if last_header(h, name) != v:
                raise Failure("%s: %s is %r, want %r"
                              % (key, name, last_header(h, name), v))
        message = (last_header(h, "kafka_dlt-exception-message") or b"")
        if not re.search(why, message.decode(errors="replace")):
            raise Failure("%s: exception message %r does not match %r"
                          % (key, message, why))
        if (r.value or b"") != value:
            raise Failure("%s: dead letter value differs from the original "
                          "(%d bytes, want %d)"
                          % (key, len(r.value or b""), len(value)))
        if last_header(h, "kafka_dlt-original-timestamp") is None or \
                last_header(h, "kbus-attempts") is None:
            raise Failure("%s: timestamp or attempts header missing" % key)
        lines = log_lines(log_path, r'"component":"dlq".*%s \[%d\] offset '
                          r'%d ' % (re.escape(topic), part, off))
        if len(lines) != 1:
            raise Failure("%s: %d dead-letter log lines for %s [%d] offset "
                          "%d, want 1" % (key, len(lines), topic, part, off))
        log("%s: dead-lettered as %s: %s" % (key.decode(), fqcn,
                                              message.decode()))
    return dlt


# ---- requests ----------------------------------------------------------

def requests(bootstrap, server_log):
    cl = Client(bootstrap, "badinput.replies." + os.urandom(4).hex())
    try:
        # key: (value, headers, dead-letter fqcn or None, message regex,
        #       expected reply status or None)
        good = string_field(1, b"bad")
        cases = {}

        def case(name, value, headers, fqcn, why, status):
            cases[b"bad-" + name.encode()] = (value, headers, fqcn, why,
                                              status)

        def std(cid, extra=(), method=True, dl=True):
            h = [("kbus-method", SAY_HELLO)] if method else []
            h += cl.reply_headers(cid)
            if dl:
                h.append(("kbus-deadline", deadline(60000)))
            return h + list(extra)

        cids = {n: os.urandom(16) for n in
                ("random", "truncated", "good", "nodecimal", "part3",
                 "dupmethod", "nomethod", "expired")}
        case("random", random_bytes(64), std(cids["random"]),
             "kbus.DecodeError", "not a valid hello.v1.HelloRequest", 3)
        case("truncated", string_field(1, b"world")[:-2],
             std(cids["truncated"]), "kbus.DecodeError",
             "not a valid hello.v1.HelloRequest", 3)
        case("nodecimal", good,
             std(cids["nodecimal"], [("kbus-deadline", b"tomorrow")],
                 dl=False),
             "kbus.DecodeError", "kbus-deadline is not decimal", None)
        case("part3", good,
             [("kbus-method", SAY_HELLO),
              ("kafka_correlationId", cids["part3"]),
              ("kafka_replyTopic", cl.reply.topic.encode()),
              ("kafka_replyPartition", b"\x00\x00\x00")],
             "kbus.DecodeError", "kafka_replyPartition must be a 4-byte", None)
        case("emptycid", good,
             [("kbus-method", SAY_HELLO), ("kafka_correlationId", b""),
              ("kafka_replyTopic", cl.reply.topic.encode()),
              ("kafka_replyPartition", struct.pack(">i", 0))],
             "kbus.DecodeError", "empty kafka_correlationId", None)
        case("dupmethod", good,
             std(cids["dupmethod"], [("kbus-method", SAY_HELLO)]),
             "kbus.DecodeError", "kbus-method appears more than once", None)
        case("nomethod", good, std(cids["nomethod"], method=False),
             "kbus.DecodeError", "without kbus-method", None)
        case("oneway-unknown", good,
             [("kbus-method", b"/hello.v1.Greeter/NoSuchMethod")],
             "kbus.UnknownMethod", "unknown method", None)
        # Expired: neither run nor answered nor dead-lettered; one log line.
        expired = [("kbus-method", SAY_HELLO)] + \
            cl.reply_headers(cids["expired"]) + \
            [("kbus-deadline", str(int(time.time() * 1000) - 1000).encode())]
        before_expired = len(log_lines(server_log, "skipping expired"))

        sent = {}
        for key, (value, headers, fqcn, why, status) in cases.items():
            part, off = cl.send(SERVICE, value, key, headers)
            if fqcn:
                sent[key] = (part, off, value, fqcn, why)
        cl.send(SERVICE, good, b"bad-expired", expired)
        cl.producer.flush()
        log("sent %d malformed requests and an expired one" % len(cases))

        check_dead_letters(bootstrap, SERVICE, sent, server_log,
                           "hello-server")

        # The service still serves: a good call after all that.
        cl.send(SERVICE, string_field(1, b"world"), None,
                [("kbus-method", SAY_HELLO)] + cl.reply_headers(cids["good"])
                + [("kbus-deadline", deadline(20000))])
        want_status = {cids[n]: s for n, s in
                       (("random", b"3"), ("truncated", b"3"),
                        ("good", b"0"))}
        got = cl.collect_replies(list(want_status), WAIT_S)
        for cid, status in want_status.items():
            replies = got.get(cid, [])
            if len(replies) != 1 or replies[0].get("kbus-status") != status:
                raise Failure("reply for %s: %r, want one with status %s"
                              % (cid.hex(), replies, status.decode()))
        for name in ("nodecimal", "part3", "dupmethod", "nomethod",
                     "expired"):
            if cids[name] in got:
                raise Failure("%s was answered: %r" % (name, got[cids[name]]))
        log("replies: INVALID_ARGUMENT to undecodable values, none to "
            "malformed headers or the expired request, OK to the good call")
        n = len(log_lines(server_log, "skipping expired")) - before_expired
        if n != 1:
            raise Failure("%d 'skipping expired' log lines, want 1" % n)
    finally:
        cl.close()


# ---- oversize ----------------------------------------------------------

def oversize(bootstrap, server_log):
    """A request of 1.5 MB: more than the runtime's producer writes
    (message.max.bytes 1000000), though the embedded broker, which checks
    no size, took it.  A real broker refuses it at 1 MB by default, but a
    value just under the broker's limit plus the dead-letter headers still
    exceeds the producer's: dead-lettering must not depend on it fitting."""
    cl = Client(bootstrap, "badinput.replies." + os.urandom(4).hex())
    try:
        value = random_bytes(1500 * 1000)
        cid = os.urandom(16)
        key = b"bad-oversize"
        part, off = cl.send(SERVICE, value, key,
                            [("kbus-method", SAY_HELLO)] +
                            cl.reply_headers(cid) +
                            [("kbus-deadline", deadline(60000))])
        log("sent %d bytes to partition %d offset %d" % (len(value), part,
                                                         off))
        got = cl.collect_replies([cid], WAIT_S)
        if [h.get("kbus-status") for h in got.get(cid, [])] != [b"3"]:
            raise Failure("reply: %r, want one with status 3" % got.get(cid))
        log("the caller was answered INVALID_ARGUMENT")
        dlt = read_all(bootstrap, SERVICE + ".DLT", [key], WAIT_S)
        if key not in dlt:
            lines = log_lines(server_log, r"cannot dead-letter %s \[%d\] "
                              r"offset %d " % (SERVICE, part, off))
            raise Failure("no dead letter within %.0f s; the server logged "
                          "%d failed attempts to write it, e.g. %s"
                          % (WAIT_S, len(lines),
                             lines[-1].strip() if lines else "-"))
        r = dlt[key][0]
        if last_header(r.headers, "kafka_dlt-original-offset") != \
                struct.pack(">q", off):
            raise Failure("dead letter of another record")
        # Either the whole value, or none and its size in
        # kbus-dlt-value-dropped.
        if r.value and r.value != value:
            raise Failure("dead letter holds a part of the value")
        if not r.value and last_header(r.headers, "kbus-dlt-value-dropped") \
                != str(len(value)).encode():
            raise Failure("value dropped, but kbus-dlt-value-dropped is %r"
                          % last_header(r.headers, "kbus-dlt-value-dropped"))
        log("dead-lettered (%d bytes of value kept)" % len(r.value or b""))
        # And the partition moves on: its committed offset passes the
        # record (the runtime commits every second).
        tp = TopicPartition(SERVICE, part)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap,
                                 group_id="hello-server",
                                 enable_auto_commit=False)
        try:
            end = time.time() + 15
            committed = None
            while time.time() < end:
                committed = consumer.committed(tp)
                if committed is not None and committed > off:
                    break
                time.sleep(0.5)
        finally:
            consumer.close(autocommit=False)
        if committed is None or committed <= off:
            raise Failure("partition %d is committed up to %r, not past the "
                          "record at offset %d" % (part, committed, off))
        log("partition %d committed up to %d" % (part, committed))

        # A decodable request of the same size: hello-server's handler
        # cannot publish its Greeted event (as large), kbus_publish() says
        # OUT_OF_RANGE at once, and the handler fails the call with it:
        # answered 11, promptly, since retrying cannot help.
        cid = os.urandom(16)
        started = time.time()
        cl.send(SERVICE, string_field(1, b"n" * (1500 * 1000)),
                b"bad-oversize-valid",
                [("kbus-method", SAY_HELLO)] + cl.reply_headers(cid) +
                [("kbus-deadline", deadline(60000))])
        got = cl.collect_replies([cid], WAIT_S)
        statuses = [h.get("kbus-status") for h in got.get(cid, [])]
        if statuses != [b"11"]:
            raise Failure("decodable oversize request: replies %r, want one "
                          "with status 11 (OUT_OF_RANGE)" % statuses)
        log("decodable oversize request answered OUT_OF_RANGE in %.1f s"
            % (time.time() - started))
    finally:
        cl.close()


# ---- events ------------------------------------------------------------

def events(bootstrap, sub_log, ledger):
    cl = Client(bootstrap)
    try:
        def greeted(name):
            return string_field(1, name) + string_field(2, b"1")
        good = greeted(b"k-good")
        ce = [("ce_specversion", b"1.0"), ("ce_id", b"x"),
              ("ce_source", b"/badinput"),
              ("content-type", b"application/protobuf")]
        typed = ce + [("ce_type", b"hello.v1.Greeted")]
        cases = {
            b"bad-random": (random_bytes(64), typed, "kbus.DecodeError",
                            "not a valid hello.v1.Greeted"),
            b"bad-truncated": (good[:-1], typed, "kbus.DecodeError",
                               "not a valid hello.v1.Greeted"),
            b"bad-type": (greeted(b"bad-type"), ce + [("ce_type", b"other.v1.Thing")],
                          "kbus.UnknownEventType", "other.v1.Thing"),
            b"bad-duptrace": (greeted(b"bad-duptrace"), typed + [
                ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-"
                                b"00f067aa0ba902b7-01")] * 2,
                "kbus.DecodeError", "traceparent appears more than once"),
            b"bad-deadline": (greeted(b"bad-deadline"),
                              typed + [("kbus-deadline", b"-5")],
                              "kbus.DecodeError", "kbus-deadline"),
        }
        sent = {}
        for key, (value, headers, fqcn, why) in cases.items():
            part, off = cl.send(EVENTS, value, key, headers)
            sent[key] = (part, off, value, fqcn, why)
        # No headers at all: a plain Kafka producer's event is handled
        # (a missing ce_type means the type subscribed to on the topic).
        cl.send(EVENTS, greeted(b"k-plain"), b"k-plain", [])
        cl.producer.flush()
        log("sent %d malformed events and one without headers"
            % len(cases))
        check_dead_letters(bootstrap, EVENTS, sent, sub_log, "ledger")

        # Still handling: a good event after all that.
        cl.send(EVENTS, good, b"k-good", typed)
        end = time.time() + WAIT_S
        keys = set()
        while time.time() < end and not {"k-good", "k-plain"} <= keys:
            with open(ledger) as f:
                keys = {line.split()[1] for line in f if line.strip()}
            time.sleep(0.2)
        if not {"k-good", "k-plain"} <= keys:
            raise Failure("the good events were not handled; ledger keys: "
                          "%s" % sorted(keys))
        bad = {k.decode() for k in cases} & keys
        if bad:
            raise Failure("malformed events were handled: %s" % sorted(bad))
        log("the event without headers and the good one were handled")
    finally:
        cl.close()


# ---- replies -----------------------------------------------------------

def replies(bootstrap, reply_topic, out):
    cl = Client(bootstrap)
    try:
        # The probe's first call: its request is on the service's topic,
        # so its correlation id can be replied to a second time.
        def probe_request(found):
            return [last_header(r.headers, "kafka_correlationId")
                    for r in found.get(None, [])
                    if last_header(r.headers, "kafka_replyTopic") ==
                    reply_topic.encode()]

        found = read_all(bootstrap, SERVICE, [], WAIT_S, probe_request)
        first = (probe_request(found) or [None])[0]
        if first is None:
            raise Failure("cannot find the probe's first request")
        value = string_field(1, b"Hello, nobody!")
        cases = [
            ("unknown-ok", [("kafka_correlationId", os.urandom(16)),
                            ("kbus-status", b"0")], value, "unknown"),
            ("unknown-error", [("kafka_correlationId", os.urandom(16)),
                               ("kbus-status", b"14"),
                               ("kbus-status-message", b"down")], b"",
             "unknown"),
            ("no-cid", [("kbus-status", b"0")], value, "unknown"),
            ("short-cid", [("kafka_correlationId", b"abc"),
                           ("kbus-status", b"0")], value, "unknown"),
            ("empty-cid", [("kafka_correlationId", b""),
                           ("kbus-status", b"0")], value, "unknown"),
            ("bad-status", [("kafka_correlationId", os.urandom(16)),
                            ("kbus-status", b"OK")], value, "unknown"),
            ("status-99", [("kafka_correlationId", os.urandom(16)),
                           ("kbus-status", b"99")], value, "unknown"),
            ("dup-cid", [("kafka_correlationId", os.urandom(16)),
                         ("kafka_correlationId", os.urandom(16)),
                         ("kbus-status", b"0")], value, "unknown"),
            ("garbage-value", [("kafka_correlationId", os.urandom(16)),
                               ("kbus-status", b"0")], random_bytes(32),
             "unknown"),
            ("duplicate", [("kafka_correlationId", first),
                           ("kbus-status", b"0")], value, "duplicate"),
        ]
        sent = []
        for name, headers, v, kind in cases:
            part, off = cl.send(reply_topic, v, None, headers, partition=0)
            sent.append({"name": name, "offset": off, "kind": kind})
        cl.producer.flush()
        with open(out, "w") as f:
            json.dump(sent, f)
        log("sent %d replies nobody waits for" % len(sent))
    finally:
        cl.close()


def main(argv):
    logging.basicConfig(level=logging.ERROR)
    try:
        if len(argv) == 4 and argv[1] == "requests":
            requests(argv[2], argv[3])
        elif len(argv) == 5 and argv[1] == "events":
            events(argv[2], argv[3], argv[4])
        elif len(argv) == 5 and argv[1] == "replies":
            replies(argv[2], argv[3], argv[4])
        elif len(argv) == 4 and argv[1] == "oversize":
            oversize(argv[2], argv[3])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
