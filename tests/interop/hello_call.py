"""Calls the hello example's Greeter service the way docs/WIRE.md says,
with kafka-python and no kbus code: protobuf values encoded by hand, the
kbus/1 request headers written by hand, the reply matched by correlation id.

Usage: /usr/bin/python3 hello_call.py BOOTSTRAP [NAME]

Checks that SayHello answers status 0 with "Hello, NAME!", that an
unknown method answers status 12 (UNIMPLEMENTED), and that a request with a
malformed header lands, untouched, on the dead-letter topic with the
kafka_dlt-* headers.  Exits 0 on success, 1 with a message on any mismatch
or when no answer comes within 60 s.
"""

import logging
import os
import struct
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

SERVICE_TOPIC = "hello.v1.Greeter"
DEAD_LETTER_TOPIC = SERVICE_TOPIC + ".DLT"
SERVER_GROUP = "hello-server"   # the server's consumer group: its name
SAY_HELLO = "/hello.v1.Greeter/SayHello"
NO_SUCH_METHOD = "/hello.v1.Greeter/NoSuchMethod"
STATUS_OK = 0
STATUS_DEADLINE_EXCEEDED = 4
STATUS_UNIMPLEMENTED = 12

TOTAL_TIMEOUT_S = 60.0
RESEND_AFTER_S = 15.0   # a server still joining its group may miss nothing,
DEADLINE_MS = 10000     # but a request can expire before it gets there


class Failure(Exception):
    pass


def log(msg):
    print("hello_call: " + msg, flush=True)


# ---- protobuf wire format, by hand -------------------------------------

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


def string_field(number, text):
    data = text.encode("utf-8")
    return varint(number << 3 | 2) + varint(len(data)) + data


def read_varint(buf, pos):
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise Failure("truncated varint in reply value %r" % buf)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_fields(buf):
    """Returns {field number: last value} of a protobuf message; values of
    length-delimited fields as bytes, others as ints."""
    fields = {}
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = read_varint(buf, pos)
        elif wire_type == 1:
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire_type == 2:
            length, pos = read_varint(buf, pos)
            value = bytes(buf[pos:pos + length])
            if len(value) != length:
                raise Failure("truncated field %d in %r" % (number, buf))
            pos += length
        elif wire_type == 5:
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise Failure("bad wire type %d in %r" % (wire_type, buf))
        fields[number] = value
    return fields


# ---- kbus/1 ------------------------------------------------------------

def now_ms():
    return int(time.time() * 1000)


def new_traceparent():
    return "00-%s-%s-01" % (os.urandom(16).hex(), os.urandom(8).hex())


class Caller:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                      linger_ms=0)
        self.reply = TopicPartition("interop.reply." + os.urandom(6).hex(), 0)
        # Make sure the reply topic exists (brokers create topics on a
        # metadata request), then listen on it before the first request
        # goes out, so that no reply can be missed.
        deadline = time.time() + 20
        while not self.producer.partitions_for(self.reply.topic):
            if time.time() > deadline:
                raise Failure("reply topic %s was not created" % self.reply.topic)
            time.sleep(0.1)
        # The embedded broker answers an idle fetch only when
        # fetch.wait.max.ms has passed: keep it short.
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap,
                                      group_id=None,
                                      enable_auto_commit=False,
                                      auto_offset_reset="earliest",
                                      fetch_max_wait_ms=10)
        self.consumer.assign([self.reply])
        self.consumer.seek_to_end(self.reply)
        self.consumer.position(self.reply)
        log("listening for replies on %s partition %d"
            % (self.reply.topic, self.reply.partition))

    def close(self):
        self.consumer.close()
        self.producer.close(timeout=5)

    def send(self, method, value, traceparent):
        corr = os.urandom(16)
        headers = [
            ("kbus-method", method.encode("utf-8")),
            ("kafka_correlationId", corr),
            ("kafka_replyTopic", self.reply.topic.encode("utf-8")),
            ("kafka_replyPartition", struct.pack(">i", self.reply.partition)),
            ("kbus-deadline", str(now_ms() + DEADLINE_MS).encode("ascii")),
            ("traceparent", traceparent.encode("ascii")),
            ("content-type", b"application/protobuf"),
        ]
        self.producer.send(SERVICE_TOPIC, value=value, headers=headers).get(timeout=20)
        log("sent %s, correlation id %s" % (method, corr.hex()))
        return corr

    def call(self, method, value, give_up_at):
        """Sends a request and returns (headers, value) of its reply.
        Resends (with a new correlation id) when no answer comes within
        RESEND_AFTER_S or the server says the request expired."""
        traceparent = new_traceparent()
        pending = set()
        while True:
            now = time.time()
            if now > give_up_at:
                raise Failure("no reply to %s within %.0f s" % (method, TOTAL_TIMEOUT_S))
            pending.add(self.send(method, value, traceparent))
            resend_at = min(now + RESEND_AFTER_S, give_up_at)
            while time.time() < resend_at:
                for records in self.consumer.poll(timeout_ms=200).values():
                    for rec in records:
                        headers = {}
                        for name, val in rec.headers:
                            if name in headers:
                                raise Failure("reply repeats header %s" % name)
                            headers[name] = val
                        corr = headers.get("kafka_correlationId")
                        if corr not in pending:
                            log("dropping a reply for unknown correlation id %r" % corr)
                            continue
                        status = headers.get("kbus-status")
                        if status == str(STATUS_DEADLINE_EXCEEDED).encode():
                            log("request expired before the server took it; resending")
                            pending.discard(corr)
                            resend_at = 0
                            continue
                        check_trace(headers, traceparent)
                        return headers, rec.value or b""
            log("no reply yet to %s; resending" % method)


def check_dead_letter(caller, give_up_at):
    """Sends a SayHello request whose kbus-deadline is not decimal and
    finds it on the dead-letter topic, as docs/WIRE.md section 6 says."""
    corr = os.urandom(16)
    value = string_field(1, "poison")
    headers = [
        ("kbus-method", SAY_HELLO.encode()),
        ("kafka_correlationId", corr),
        ("kafka_replyTopic", caller.reply.topic.encode()),
        ("kafka_replyPartition", struct.pack(">i", caller.reply.partition)),
        ("kbus-deadline", b"soon"),
        ("content-type", b"application/protobuf"),
    ]
    meta = caller.producer.send(SERVICE_TOPIC, value=value, headers=headers).get(timeout=20)
    log("sent a request with kbus-deadline 'soon' to partition %d offset %d"
        % (meta.partition, meta.offset))

    # Asking for the dead-letter topic's partitions waits until it exists
    # (brokers that create topics on first use create it for us).
    while not caller.producer.partitions_for(DEAD_LETTER_TOPIC):
        if time.time() > give_up_at:
            raise Failure("no dead-letter topic %s within %.0f s"
                          % (DEAD_LETTER_TOPIC, TOTAL_TIMEOUT_S))
        time.sleep(0.2)
    parts = [TopicPartition(DEAD_LETTER_TOPIC, p)
             for p in sorted(caller.producer.partitions_for(DEAD_LETTER_TOPIC))]
    dlt = KafkaConsumer(bootstrap_servers=caller.bootstrap, group_id=None,
                        enable_auto_commit=False, auto_offset_reset="earliest",
                        fetch_max_wait_ms=10)
    try:
        dlt.assign(parts)
        dlt.seek_to_beginning(*parts)
        while time.time() < give_up_at:
            for records in dlt.poll(timeout_ms=200).values():
                for rec in records:
                    h = {}
                    for name, val in rec.headers:
                        h[name] = val          # the last occurrence counts
                    if h.get("kafka_correlationId") != corr:
                        continue
                    check_dead_letter_record(rec, h, value, headers, meta)
                    return
        raise Failure("the malformed request did not reach %s within %.0f s"
                      % (DEAD_LETTER_TOPIC, TOTAL_TIMEOUT_S))
    finally:
        dlt.close()


def check_dead_letter_record(rec, h, value, sent_headers, meta):
    def want(name, expected):
        if h.get(name) != expected:
            raise Failure("dead letter header %s is %r, want %r" % (name, h.get(name), expected))

    if (rec.value or b"") != value:
        raise Failure("dead letter value %r is not the original %r" % (rec.value, value))
    if rec.key is not None:
        raise Failure("dead letter key %r, want none (the original had none)" % rec.key)
    for name, val in sent_headers:
        want(name, val)                       # original headers kept
    want("kafka_dlt-original-topic", SERVICE_TOPIC.encode())
    want("kafka_dlt-original-partition", struct.pack(">i", meta.partition))
    want("kafka_dlt-original-offset", struct.pack(">q", meta.offset))
    ts = h.get("kafka_dlt-original-timestamp", b"")
    if len(ts) != 8 or abs(struct.unpack(">q", ts)[0] - now_ms()) > 3600 * 1000:
        raise Failure("kafka_dlt-original-timestamp %r is not 8-byte big-endian "
                      "epoch milliseconds of about now" % ts)
    want("kafka_dlt-original-consumer-group", SERVER_GROUP.encode())
    want("kafka_dlt-exception-fqcn", b"kbus.DecodeError")
    if not h.get("kafka_dlt-exception-message"):
        raise Failure("dead letter has no kafka_dlt-exception-message")
    if not h.get("kbus-attempts", b"").isdigit():
        raise Failure("kbus-attempts %r is not decimal" % h.get("kbus-attempts"))
    log("dead letter on %s: kbus.DecodeError, %r"
        % (DEAD_LETTER_TOPIC, h["kafka_dlt-exception-message"].decode("utf-8", "replace")))


def check_trace(headers, sent):
    tp = headers.get("traceparent")
    if tp is None:
        log("note: reply carries no traceparent")
        return
    parts = tp.decode("ascii", "replace").split("-")
    if len(parts) != 4 or parts[1] != sent.split("-")[1]:
        raise Failure("reply traceparent %r is not in the request's trace %s" % (tp, sent))


def status_of(headers):
    raw = headers.get("kbus-status")
    if raw is None:
        raise Failure("reply has no kbus-status header: %r" % headers)
    if not raw.isdigit():
        raise Failure("kbus-status %r is not decimal ASCII" % raw)
    return int(raw)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) == 3 else "world"
    logging.basicConfig(level=logging.ERROR)
    give_up_at = time.time() + TOTAL_TIMEOUT_S

    caller = Caller(bootstrap)
    try:
        # SayHello: HelloRequest{name} is field 1, length-delimited.
        request = string_field(1, name)
        if name == "world":
            assert request == bytes.fromhex("0a05776f726c64"), request.hex()
        headers, value = caller.call(SAY_HELLO, request, give_up_at)
        status = status_of(headers)
        if status != STATUS_OK:
            raise Failure("SayHello answered status %d (%r)"
                          % (status, headers.get("kbus-status-message")))
        message = decode_fields(value).get(1, b"").decode("utf-8")
        want = "Hello, %s!" % name
        if message != want:
            raise Failure("SayHello answered %r, want %r (value %s)"
                          % (message, want, value.hex()))
        log("SayHello(%r) -> status 0, %r" % (name, message))

        # An unknown method: UNIMPLEMENTED, empty value.
        headers, value = caller.call(NO_SUCH_METHOD, request, give_up_at)
        status = status_of(headers)
        if status != STATUS_UNIMPLEMENTED:
            raise Failure("NoSuchMethod answered status %d, want %d (UNIMPLEMENTED)"
                          % (status, STATUS_UNIMPLEMENTED))
        log("NoSuchMethod -> status 12, %r"
            % headers.get("kbus-status-message", b"").decode("utf-8", "replace"))

        # A malformed header: dead-lettered, never handled.
        check_dead_letter(caller, give_up_at)
    finally:
        caller.close()
    log("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("hello_call: FAIL: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)
