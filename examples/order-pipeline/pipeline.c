/*
 * Helpers shared by the order pipeline's programs: see pipeline.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pipeline.h"

const char *pipeline_prog = "order-pipeline";

static uint64_t rng_state;

/* Fills \p buf from the kernel; ids made from it must not repeat across
 * processes or restarts, which a time-seeded generator cannot promise. */
static void random_bytes(void *buf, size_t n) {
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t got = getrandom(p, n, 0);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "%s: getrandom: %s\n", pipeline_prog,
                                strerror(errno));
                        exit(1);
                }
                p += got;
                n -= (size_t)got;
        }
}

void pipeline_init(const char *prog) {
        pipeline_prog = prog;
        kbus_log_set_component(prog);
        random_bytes(&rng_state, sizeof(rng_state));
        rng_state |= 1;
}

int64_t pipeline_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double pipeline_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void pipeline_random_id(char *out, size_t size, const char *prefix) {
        uint8_t b[8];
        random_bytes(b, sizeof(b));
        snprintf(out, size, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix, b[0],
                 b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

/* xorshift64*: the simulated card processor and the load generator draw
 * many numbers; they need speed, not secrecy. */
double pipeline_random(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (double)((rng_state * 2685821657736338717ULL) >> 11) /
               9007199254740992.0;
}

bool pipeline_token_ok(const char *s) {
        size_t n = 0;
        for (; s[n]; n++) {
                char c = s[n];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || strchr("._:@-", c)))
                        return false;
        }
        return n >= 1 && n <= 64;
}

long pipeline_parse_long(const char *flag, const char *s, long min, long max) {
        char *end;
        long v;
        errno = 0;
        v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno || v < min || v > max) {
                fprintf(stderr,
                        "%s: %s needs a whole number from %ld to %ld, "
                        "not '%s'\n",
                        pipeline_prog, flag, min, max, s);
                exit(2);
        }
        return v;
}

double pipeline_parse_double(const char *flag, const char *s, double min,
                             double max) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (*s == '\0' || *end != '\0' || errno || !isfinite(v) || v < min ||
            v > max) {
                fprintf(stderr,
                        "%s: %s needs a number from %g to %g, not "
                        "'%s'\n",
                        pipeline_prog, flag, min, max, s);
                exit(2);
        }
        return v;
}

int pipeline_local_key(kbus_call *call, const kbus_table_desc *t,
                       const char *base, char *out, size_t size) {
        for (int n = 0; n < 1024; n++) {
                const ProtobufCMessage *v;
                int len = snprintf(out, size, "%s/%d", base, n);
                if (len < 0 || (size_t)len >= size)
                        return KBUS_OUT_OF_RANGE;
                if (kbus_table_get(call, t, out, (size_t)len, &v) !=
                    KBUS_INVALID_ARGUMENT)
                        return 0;
        }
        return KBUS_OUT_OF_RANGE;
}

/* Kafka's murmur2 (seed 0x9747b28c), written from its description: four
 * bytes at a time, little-endian, then the tail, then the final mix. */
static uint32_t murmur2(const uint8_t *data, size_t len) {
        const uint32_t m = 0x5bd1e995;
        uint32_t h = 0x9747b28c ^ (uint32_t)len;
        size_t i = 0;
        for (; i + 4 <= len; i += 4) {
                uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
                             (uint32_t)data[i + 2] << 16 |
                             (uint32_t)data[i + 3] << 24;
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
        }
        switch (len - i) {
        case 3:
                h ^= (uint32_t)data[i + 2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t)data[i + 1] << 8;
                /* fall through */
        case 1:
                h ^= data[i];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

int32_t pipeline_partition_of(const char *key, int32_t partitions) {
        uint32_t h = murmur2((const uint8_t *)key, strlen(key));
        return (int32_t)((h & 0x7fffffff) % (uint32_t)partitions);
}

static void *check(void *p) {
        if (!p) {
                fprintf(stderr, "%s: out of memory\n", pipeline_prog);
                exit(1);
        }
        return p;
}

void *pipeline_xmalloc(size_t size) {
        return check(malloc(size ? size : 1));
}

void *pipeline_xcalloc(size_t n, size_t size) {
        return check(calloc(n ? n : 1, size ? size : 1));
}

void *pipeline_xrealloc(void *p, size_t size) {
        return check(realloc(p, size ? size : 1));
}

char *pipeline_xstrdup(const char *s) {
        return check(strdup(s));
}
