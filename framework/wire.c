/*
 * The kbus/1 wire format; see wire.h.  Reading: one pass over the record's headers with a
 * switch on the first letter keeps the per-record cost to a few compares;
 * a repeated or malformed kbus header is an error, because guessing which
 * copy is right would make two readers disagree.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "wire.h"

/* Whether the header name of \p len bytes is \p want, a literal: the
 * lengths first, so most names cost one compare, and the bytes with a
 * memcmp of known size, which the compiler expands in place. */
#define NAME_IS(want)                                                          \
        (len == sizeof(want) - 1 && !memcmp(name, want, sizeof(want) - 1))

/* Parses decimal ASCII of exactly \p n bytes into *out (non-negative). */
static bool parse_decimal(const void *val, size_t n, int64_t *out) {
        const char *s = val;
        int64_t v = 0;
        if (n == 0 || n > 18)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return true;
}

/* Lower-case hex digits, as W3C Trace Context requires. */
static bool is_hex(unsigned char c) {
        return (unsigned)(c - '0') < 10 || (unsigned)(c - 'a') < 6;
}

/* The top bit of each of the 8 bytes at \p s that is not a lower-case hex
 * digit, in a few instructions for all eight: this runs for every record
 * that carries a traceparent.  For a byte b below 0x80, b + (0x80 - lo)
 * has its top bit set exactly when b >= lo, and b + (0x7f - hi) exactly
 * when b > hi; the sums stay within the byte.  A byte with its top bit set
 * is never a digit (and may carry into the next byte's sums, which then do
 * not matter). */
static inline __attribute__((always_inline)) uint64_t not_hex8(const char *s) {
        const uint64_t ones = 0x0101010101010101u, top = ones * 0x80;
        uint64_t x, digit, lower;
        memcpy(&x, s, 8);
        digit = (x + ones * (0x80 - '0')) & ~(x + ones * (0x7f - '9'));
        lower = (x + ones * (0x80 - 'a')) & ~(x + ones * (0x7f - 'f'));
        return (x | ~(digit | lower)) & top;
}

/* "00-" 32 hex "-" 16 hex "-" 2 hex: the trace id and the parent id eight
 * characters at a time, the version and the flags one by one. */
static bool valid_traceparent(const char *s, size_t n) {
        return n == KBUS_TRACEPARENT_LEN && s[2] == '-' && s[35] == '-' &&
               s[52] == '-' && is_hex(s[0]) && is_hex(s[1]) && is_hex(s[53]) &&
               is_hex(s[54]) &&
               !(not_hex8(s + 3) | not_hex8(s + 11) | not_hex8(s + 19) |
                 not_hex8(s + 27) | not_hex8(s + 36) | not_hex8(s + 44));
}

#define SEEN(bit)                                                              \
        do {                                                                   \
                if (seen & (bit))                                              \
                        goto dup;                                              \
                seen |= (bit);                                                 \
        } while (0)

int kbus__wire_read(const rd_kafka_message_t *msg, kbus_wire_in *in, char *why,
                    size_t whylen) {
        rd_kafka_headers_t *hdrs = NULL;
        if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
                hdrs = NULL;
        return kbus__wire_read_headers(hdrs, in, why, whylen);
}

/* Copies \p len bytes at \p v (NULL: none) to *at, moves *at past them,
 * and returns where they are now. */
static const void *moved(const void *v, size_t len, char **at) {
        if (!v)
                return NULL;
        memcpy(*at, v, len);
        *at += len;
        return *at - len;
}

int kbus__wire_keep(kbus_wire_in *in, char *buf, size_t buflen, char **heap) {
        size_t total = (in->method ? in->method_len : 0) +
                       (in->corr ? in->corr_len : 0) +
                       (in->reply_topic ? in->reply_topic_len : 0) +
                       (in->status_message ? in->status_message_len : 0) +
                       (in->ce_type ? in->ce_type_len : 0);
        char *at = buf;
        if (total > buflen && !(at = *heap = kbus__malloc(total)))
                return KBUS_RESOURCE_EXHAUSTED;
        in->method = moved(in->method, in->method_len, &at);
        in->corr = moved(in->corr, in->corr_len, &at);
        in->reply_topic = moved(in->reply_topic, in->reply_topic_len, &at);
        in->status_message =
            moved(in->status_message, in->status_message_len, &at);
        in->ce_type = moved(in->ce_type, in->ce_type_len, &at);
        return 0;
}

int kbus__wire_read_headers(const rd_kafka_headers_t *hdrs, kbus_wire_in *in,
                            char *why, size_t whylen) {
        const char *name = NULL;
        const void *val;
        size_t size, len;
        unsigned seen = 0;
        int64_t num;

        memset(in, 0, sizeof(*in));
        in->reply_partition = -1;
        in->status = -1;
        if (!hdrs)
                return 0;
        for (size_t i = 0;
             !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
                if (!val)
                        val = "";
                len = strlen(name);
                switch (name[0]) {
                case 'k':
                        if (NAME_IS(KBUS_H_METHOD)) {
                                SEEN(1u << 0);
                                in->method = val;
                                in->method_len = size;
                        } else if (NAME_IS(KBUS_H_CORRELATION)) {
                                SEEN(1u << 1);
                                if (size == 0)
                                        return kbus__err(
                                            why, whylen, KBUS_INVALID_ARGUMENT,
                                            "empty %s", KBUS_H_CORRELATION);
                                in->corr = val;
                                in->corr_len = size;
                        } else if (NAME_IS(KBUS_H_REPLY_TOPIC)) {
                                SEEN(1u << 2);
                                if (size == 0 || size > 249)
                                        return kbus__err(
                                            why, whylen, KBUS_INVALID_ARGUMENT,
                                            "bad %s length %zu",
                                            KBUS_H_REPLY_TOPIC, size);
                                in->reply_topic = val;
                                in->reply_topic_len = size;
                        } else if (NAME_IS(KBUS_H_REPLY_PARTITION)) {
                                const uint8_t *b = val;
                                SEEN(1u << 3);
                                if (size != 4 || (b[0] & 0x80))
                                        return kbus__err(
                                            why, whylen, KBUS_INVALID_ARGUMENT,
                                            "%s must be a 4-byte big-endian "
                                            "non-negative int32, got %zu bytes",
                                            KBUS_H_REPLY_PARTITION, size);
                                in->reply_partition =
                                    (int32_t)((uint32_t)b[0] << 24 |
                                              (uint32_t)b[1] << 16 |
                                              (uint32_t)b[2] << 8 | b[3]);
                        } else if (NAME_IS(KBUS_H_DEADLINE)) {
                                SEEN(1u << 4);
                                if (!parse_decimal(val, size, &num))
                                        return kbus__err(
                                            why, whylen, KBUS_INVALID_ARGUMENT,
                                            "%s is not decimal epoch "
                                            "milliseconds",
                                            KBUS_H_DEADLINE);
                                in->deadline_ms = num;
                        } else if (NAME_IS(KBUS_H_STATUS)) {
                                SEEN(1u << 5);
                                if (!parse_decimal(val, size, &num) || num > 16)
                                        return kbus__err(
                                            why, whylen, KBUS_INVALID_ARGUMENT,
                                            "%s is not a status code 0-16",
                                            KBUS_H_STATUS);
                                in->status = (int)num;
                        } else if (NAME_IS(KBUS_H_STATUS_MESSAGE)) {
                                in->status_message = val;
                                in->status_message_len = size;
                        } else if (NAME_IS(KBUS_H_ATTEMPTS)) {
                                /* Several attempts headers are normal on a
                                 * record that was dead-lettered and replayed;
                                 * the last one counts. */
                                if (parse_decimal(val, size, &num) &&
                                    num < UINT32_MAX)
                                        in->attempts = (uint32_t)num;
                        }
                        break;
                case 't':
                        if (NAME_IS(KBUS_H_TRACEPARENT)) {
                                SEEN(1u << 6);
                                if (valid_traceparent(val, size)) {
                                        memcpy(in->traceparent, val, size);
                                        in->traceparent[size] = '\0';
                                }
                        }
                        break;
                case 'c':
                        if (NAME_IS(KBUS_H_CE_TYPE)) {
                                in->ce_type = val;
                                in->ce_type_len = size;
                        }
                        break;
                }
        }
        return 0;
dup:
        return kbus__err(why, whylen, KBUS_INVALID_ARGUMENT,
                         "header %s appears more than once", name);
}

/* xoshiro256** : fast, good enough for ids and jitter; not for secrets. */
static uint64_t rng_state[4];
static bool rng_seeded;

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

uint64_t kbus__random_u64(void) {
        uint64_t *s = rng_state, result, t;
        if (!rng_seeded) {
                if (getrandom(rng_state, sizeof(rng_state), 0) !=
                    (ssize_t)sizeof(rng_state))
                        rng_state[0] = (uint64_t)kbus__now_ms() | 1;
                rng_seeded = true;
        }
        result = rotl(s[1] * 5, 7) * 9;
        t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

void kbus__random_bytes(void *buf, size_t n) {
        uint8_t *b = buf;
        while (n > 0) {
                uint64_t r = kbus__random_u64();
                size_t k = n < 8 ? n : 8;
                memcpy(b, &r, k);
                b += k;
                n -= k;
        }
}

static void hex(char *out, const uint8_t *in, size_t n) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
}

void kbus__trace_child(const char *parent, char out[KBUS_TRACEPARENT_LEN + 1]) {
        uint8_t ids[24];
        kbus__random_bytes(ids, sizeof(ids));
        /* A parent is "" or was checked by kbus__wire_read_headers. */
        if (parent && parent[0]) {
                /* Same trace, new span id, same flags. */
                memcpy(out, parent, KBUS_TRACEPARENT_LEN + 1);
                hex(out + 36, ids, 8);
                return;
        }
        memcpy(out, "00-", 3);
        hex(out + 3, ids, 16);
        out[35] = '-';
        hex(out + 36, ids + 16, 8);
        memcpy(out + 52, "-01", 4);
}

void kbus__be32(uint8_t out[4], uint32_t v) {
        out[0] = (uint8_t)(v >> 24);
        out[1] = (uint8_t)(v >> 16);
        out[2] = (uint8_t)(v >> 8);
        out[3] = (uint8_t)v;
}

void kbus__be64(uint8_t out[8], uint64_t v) {
        kbus__be32(out, (uint32_t)(v >> 32));
        kbus__be32(out + 4, (uint32_t)v);
}

/* ---- writing ---- */

static void add_be32(rd_kafka_headers_t *h, const char *name, uint32_t v) {
        uint8_t b[4];
        kbus__be32(b, v);
        rd_kafka_header_add(h, name, -1, b, 4);
}

static void add_be64(rd_kafka_headers_t *h, const char *name, uint64_t v) {
        uint8_t b[8];
        kbus__be64(b, v);
        rd_kafka_header_add(h, name, -1, b, 8);
}

static void add_decimal(rd_kafka_headers_t *h, const char *name, int64_t v) {
        char s[24];
        rd_kafka_header_add(h, name, -1, s,
                            snprintf(s, sizeof(s), "%" PRId64, v));
}

rd_kafka_headers_t *kbus__wire_request(const char *method_path,
                                       const uint8_t *corr, size_t corr_len,
                                       const char *reply_topic,
                                       int32_t reply_partition,
                                       int64_t deadline_ms,
                                       const char *traceparent) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(8);
        rd_kafka_header_add(h, KBUS_H_METHOD, -1, method_path, -1);
        rd_kafka_header_add(h, KBUS_H_CORRELATION, -1, corr, (ssize_t)corr_len);
        if (reply_topic) {
                rd_kafka_header_add(h, KBUS_H_REPLY_TOPIC, -1, reply_topic, -1);
                add_be32(h, KBUS_H_REPLY_PARTITION, (uint32_t)reply_partition);
        }
        if (deadline_ms > 0) /* none: no header, which means no deadline */
                add_decimal(h, KBUS_H_DEADLINE, deadline_ms);
        rd_kafka_header_add(h, KBUS_H_TRACEPARENT, -1, traceparent, -1);
        rd_kafka_header_add(h, KBUS_H_CONTENT_TYPE, -1, KBUS_CONTENT_TYPE, -1);
        return h;
}

rd_kafka_headers_t *kbus__wire_reply(const uint8_t *corr, size_t corr_len,
                                     int status, const char *message,
                                     const char *traceparent) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(4);
        rd_kafka_header_add(h, KBUS_H_CORRELATION, -1, corr, (ssize_t)corr_len);
        add_decimal(h, KBUS_H_STATUS, status);
        if (status != KBUS_OK && message)
                rd_kafka_header_add(h, KBUS_H_STATUS_MESSAGE, -1, message, -1);
        rd_kafka_header_add(h, KBUS_H_TRACEPARENT, -1, traceparent, -1);
        return h;
}

/* RFC 3339 UTC time with milliseconds.  The date and seconds are formatted
 * once per second; only the milliseconds change between events. */
static void rfc3339_now(char out[32]) {
        static _Thread_local time_t cached_sec = -1;
        static _Thread_local char cached[24]; /* "YYYY-MM-DDTHH:MM:SS" */
        struct timespec ts;
        long ms;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (ts.tv_sec != cached_sec) {
                struct tm tm;
                gmtime_r(&ts.tv_sec, &tm);
                strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
                cached_sec = ts.tv_sec;
        }
        ms = ts.tv_nsec / 1000000;
        memcpy(out, cached, 19);
        out[19] = '.';
        out[20] = (char)('0' + ms / 100);
        out[21] = (char)('0' + ms / 10 % 10);
        out[22] = (char)('0' + ms % 10);
        out[23] = 'Z';
        out[24] = '\0';
}

/* Reads \p n digits at *\p s as a decimal number, moving *\p s past them;
 * -1 if one is not a digit or the text ends first. */
static int digits(const char **s, const char *end, int n) {
        int v = 0;
        for (; n > 0; n--, (*s)++) {
                if (*s >= end || **s < '0' || **s > '9')
                        return -1;
                v = v * 10 + (**s - '0');
        }
        return v;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (the civil
 * calendar algorithm of Howard Hinnant's "chrono-compatible low-level date
 * algorithms"). */
static int64_t days_from_civil(int64_t y, int m, int d) {
        int64_t era, yoe, doy, doe;
        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int kbus__wire_time_parse(const char *s, size_t len, int64_t *ms) {
        static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
        const char *end = s + len;
        int y, mo, d, h, mi, sec, frac = 0, scale = 100, off = 0;

        if ((y = digits(&s, end, 4)) < 0 || s >= end || *s++ != '-' ||
            (mo = digits(&s, end, 2)) < 1 || mo > 12 || s >= end ||
            *s++ != '-' || (d = digits(&s, end, 2)) < 1 || d > mdays[mo - 1] ||
            s >= end || (*s != 'T' && *s != 't' && *s != ' '))
                return -1;
        if (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
                return -1;
        s++;
        /* Seconds up to 60: a leap second counts as the next one. */
        if ((h = digits(&s, end, 2)) < 0 || h > 23 || s >= end || *s++ != ':' ||
            (mi = digits(&s, end, 2)) < 0 || mi > 59 || s >= end ||
            *s++ != ':' || (sec = digits(&s, end, 2)) < 0 || sec > 60)
                return -1;
        if (s < end && *s == '.') {
                if (++s >= end || *s < '0' || *s > '9')
                        return -1;
                for (; s < end && *s >= '0' && *s <= '9'; s++, scale /= 10)
                        frac += (*s - '0') * scale;
        }
        if (s < end && (*s == 'Z' || *s == 'z')) {
                s++;
        } else if (s < end && (*s == '+' || *s == '-')) {
                int sign = *s++ == '-' ? -1 : 1, oh, om;
                if ((oh = digits(&s, end, 2)) < 0 || oh > 23 || s >= end ||
                    *s++ != ':' || (om = digits(&s, end, 2)) < 0 || om > 59)
                        return -1;
                off = sign * (oh * 60 + om);
        } else {
                return -1;
        }
        if (s != end)
                return -1;
        *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60000 +
              (int64_t)sec * 1000 + frac;
        return 0;
}

rd_kafka_headers_t *kbus__wire_event(const char *id, const char *source,
                                     const char *type,
                                     const char *traceparent) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(8);
        char when[32];
        rfc3339_now(when);
        rd_kafka_header_add(h, KBUS_H_CE_SPECVERSION, -1, "1.0", 3);
        rd_kafka_header_add(h, KBUS_H_CE_ID, -1, id, -1);
        rd_kafka_header_add(h, KBUS_H_CE_SOURCE, -1, source, -1);
        rd_kafka_header_add(h, KBUS_H_CE_TYPE, -1, type, -1);
        rd_kafka_header_add(h, KBUS_H_CE_TIME, -1, when, -1);
        rd_kafka_header_add(h, KBUS_H_CONTENT_TYPE, -1, KBUS_CONTENT_TYPE, -1);
        rd_kafka_header_add(h, KBUS_H_TRACEPARENT, -1, traceparent, -1);
        return h;
}

/* Spring's kafka_dlt-* headers, so Spring tooling can read kbus's dead
 * letters, and kbus-attempts. */
void kbus__wire_dead_letter(rd_kafka_headers_t *h, const kbus_wire_dlt *d) {
        rd_kafka_header_add(h, KBUS_H_DLT_TOPIC, -1, d->topic, -1);
        add_be32(h, KBUS_H_DLT_PARTITION, (uint32_t)d->partition);
        add_be64(h, KBUS_H_DLT_OFFSET, (uint64_t)d->offset);
        add_be64(h, KBUS_H_DLT_TIMESTAMP, (uint64_t)d->timestamp);
        rd_kafka_header_add(h, KBUS_H_DLT_GROUP, -1, d->group, -1);
        rd_kafka_header_add(h, KBUS_H_DLT_FQCN, -1, d->error_class, -1);
        rd_kafka_header_add(h, KBUS_H_DLT_MESSAGE, -1,
                            d->error_message ? d->error_message : "", -1);
        add_decimal(h, KBUS_H_ATTEMPTS, d->attempts);
        if (d->value_dropped >= 0)
                add_decimal(h, KBUS_H_DLT_VALUE_DROPPED, d->value_dropped);
}

/* Hex by table: this runs once per event. */
void kbus__uuid4(char out[37]) {
        static const char digits[] = "0123456789abcdef";
        uint8_t b[16];
        char *o = out;
        kbus__random_bytes(b, sizeof(b));
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *o++ = '-';
                *o++ = digits[b[i] >> 4];
                *o++ = digits[b[i] & 15];
        }
        *o = '\0';
}
