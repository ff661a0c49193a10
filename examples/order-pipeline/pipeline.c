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
        snprintf(out, size, "%s%02x%02x%02x%02x%02x%02x%02x%02x", prefix,
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
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
                fprintf(stderr, "%s: %s needs a whole number from %ld to %ld, "
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
                fprintf(stderr, "%s: %s needs a number from %g to %g, not "
                                "'%s'\n",
                        pipeline_prog, flag, min, max, s);
                exit(2);
        }
        return v;
}

static void *check(void *p) {
        if (!p) {
                fprintf(stderr, "%s: out of memory\n", pipeline_prog);
                exit(1);
        }
        return p;
}

void *pipeline_xmalloc(size_t size) { return check(malloc(size ? size : 1)); }

void *pipeline_xcalloc(size_t n, size_t size) {
        return check(calloc(n ? n : 1, size ? size : 1));
}

void *pipeline_xrealloc(void *p, size_t size) {
        return check(realloc(p, size ? size : 1));
}

char *pipeline_xstrdup(const char *s) { return check(strdup(s)); }
