/*
 * Fuzz target for what a kbus consumer decodes from untrusted records: the
 * kbus/1 headers (kbus__wire_read_headers) and the protobuf value.
 *
 * Input layout: header entries, each [name length: 1 byte][name][value
 * length: 1 byte][value], until a name length of 0; the rest is the
 * record's value.
 *
 * Built two ways: with clang's -fsanitize=fuzzer as a libFuzzer target
 * (`make fuzz`, for long runs), and with -DKBUS_FUZZ_STANDALONE as a
 * program that feeds a seeded stream of mutated inputs for a fixed time,
 * which `make check` runs so the target cannot rot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hello.pb-c.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
        size_t at = 0;
        kbus_wire_in in;
        char why[256], name[256];
        ProtobufCMessage *msg;

        while (at < size && data[at] != 0) {
                size_t nlen = data[at++], vlen;
                if (at + nlen >= size)
                        break;
                memcpy(name, data + at, nlen);
                name[nlen] = '\0';
                at += nlen;
                vlen = data[at++];
                if (at + vlen > size)
                        vlen = size - at;
                rd_kafka_header_add(hdrs, name, (ssize_t)nlen, data + at,
                                    (ssize_t)vlen);
                at += vlen;
        }
        if (at < size)
                at++; /* the terminating 0 */
        if (kbus__wire_read_headers(hdrs, &in, why, sizeof(why)) == 0) {
                /* What the runtime relies on after a successful read. */
                if (in.reply_partition < -1 || in.deadline_ms < 0 ||
                    (in.traceparent[0] &&
                     strlen(in.traceparent) != KBUS_TRACEPARENT_LEN) ||
                    (in.corr && in.corr_len == 0) || in.status > 16)
                        abort();
        } else if (!why[0]) {
                abort(); /* every rejection says why */
        }
        msg = protobuf_c_message_unpack(&hello__v1__hello_request__descriptor,
                                        NULL, size - at, data + at);
        if (msg)
                protobuf_c_message_free_unpacked(msg, NULL);
        rd_kafka_headers_destroy(hdrs);
        return 0;
}

#ifdef KBUS_FUZZ_STANDALONE
/* Seeds: well-formed requests, so mutations start near the interesting
 * paths. */
static size_t seed(uint8_t *buf, int which) {
        static const char *const headers[][2] = {
            {"kbus-method", "/hello.v1.Greeter/SayHello"},
            {"kafka_correlationId", "0123456789abcdef"},
            {"kafka_replyTopic", "hello.replies.1"},
            {"kafka_replyPartition", "\0\0\0\0"},
            {"kbus-deadline", "1790000000000"},
            {"traceparent",
             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            {"kbus-status", "14"},
            {"kbus-attempts", "3"},
        };
        size_t at = 0;
        for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
                size_t nlen, vlen;
                if ((which >> (i % 4)) & 1 && i > 2)
                        continue;
                nlen = strlen(headers[i][0]);
                vlen = i == 3 ? 4 : strlen(headers[i][1]);
                buf[at++] = (uint8_t)nlen;
                memcpy(buf + at, headers[i][0], nlen);
                at += nlen;
                buf[at++] = (uint8_t)vlen;
                memcpy(buf + at, headers[i][1], vlen);
                at += vlen;
        }
        buf[at++] = 0;
        memcpy(buf + at, "\x0a\x05world", 7);
        return at + 7;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 2.0;
        uint8_t buf[1024];
        long runs = 0;
        clock_t end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);

        if (argc > 1 &&
            (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
                printf("usage: wire_fuzz [SECONDS]\nFeeds mutated kbus "
                       "records to the header and value decoders.\n");
                return 0;
        }
        while (clock() < end) {
                size_t n = seed(buf, (int)(next() & 15));
                int edits = (int)(next() % 8);
                for (int e = 0; e < edits; e++) {
                        switch (next() % 4) {
                        case 0: /* flip a byte */
                                buf[next() % n] = (uint8_t)next();
                                break;
                        case 1: /* truncate */
                                n = 1 + next() % n;
                                break;
                        case 2: /* grow with random bytes */
                                while (n < sizeof(buf) && next() % 8)
                                        buf[n++] = (uint8_t)next();
                                break;
                        case 3: /* duplicate a span */
                                if (n > 8 && n < sizeof(buf) / 2) {
                                        size_t from = next() % (n / 2);
                                        memcpy(buf + n, buf + from, n / 2);
                                        n += n / 2;
                                }
                                break;
                        }
                }
                LLVMFuzzerTestOneInput(buf, n);
                runs++;
        }
        printf("wire_fuzz: %ld inputs, no failure\n", runs);
        return 0;
}
#endif
