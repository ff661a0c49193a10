/*
 * Helpers shared by both sides of the benchmark: clocks, running the
 * shared loop, names, the messages every case sends, statistics and
 * resident memory.  Nothing here is measured; it only has to stay out of
 * the way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

uint8_t bench_body[BENCH_BODY_LEN];

double bench_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t bench_epoch_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The loop is left every few milliseconds to look at *done, so that a
 * case ends promptly; callbacks that set *done also break the loop. */
bool bench_run_until(bench_env *env, volatile bool *done, double seconds) {
        double end = bench_now() + seconds;
        struct timeval tick = {0, 5000};
        while (!*done && bench_now() < end) {
                event_base_loopexit(env->base, &tick);
                event_base_dispatch(env->base);
        }
        return *done;
}

void bench_run_for(bench_env *env, double seconds) {
        bool never = false;
        bench_run_until(env, &never, seconds);
}

const char *bench_name(bench_env *env, char *buf, size_t len,
                       const char *what) {
        snprintf(buf, len, "bench.%s.%s.%lu", what, env->run_id, ++env->seq);
        return buf;
}

void bench_topic(bench_env *env, const char *topic, int partitions) {
        /* Made up front: a topic that appears on first use is seen by a
         * consumer only after its next metadata refresh. */
        if (env->broker)
                kbus_broker_create_topic(env->broker, topic, partitions);
}

void bench_tick(Bench__V1__Tick *t, int64_t seq, char keybuf[16]) {
        bench__v1__tick__init(t);
        snprintf(keybuf, 16, "k%03d", (int)(seq % BENCH_KEYS));
        t->key = keybuf;
        t->seq = seq;
        t->body.data = bench_body;
        t->body.len = sizeof(bench_body);
}

void bench_ping(Bench__V1__Ping *p, int64_t seq, char keybuf[16]) {
        bench__v1__ping__init(p);
        snprintf(keybuf, 16, "k%03d", (int)(seq % BENCH_KEYS));
        p->key = keybuf;
        p->seq = seq;
        p->body.data = bench_body;
        p->body.len = sizeof(bench_body);
}

long bench_status_kb(const char *field) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        size_t n = strlen(field);
        long kb = -1;
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, field, n) && line[n] == ':') {
                        kb = strtol(line + n + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return kb;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_percentile(const double *v, size_t n, double p) {
        size_t rank;
        if (n == 0)
                return 0;
        /* Nearest rank: the smallest value with at least p% at or below. */
        rank = (size_t)((p / 100.0) * (double)n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > n)
                rank = n;
        return v[rank - 1];
}

void bench_log(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("bench: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}
