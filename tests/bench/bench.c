/*
 * Helpers shared by both sides of the benchmark: clocks, running the
 * shared loop, names, the messages every case sends, statistics and
 * resident memory.  Nothing here is measured; it only has to stay out of
 * the way.
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void bench_tick_keyed(Bench__V1__Tick *t, int64_t seq, long keys,
                      char keybuf[16]) {
        bench_tick(t, seq, keybuf);
        snprintf(keybuf, 16, "k%03d", (int)(seq % keys));
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

double bench_heap_bytes(void) {
        /* glibc sums every arena; large blocks are mmapped and counted
         * apart (a table's bucket array is one of them). */
        struct mallinfo2 mi = mallinfo2();
        return (double)mi.uordblks + (double)mi.hblkhd;
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

/* ---- the watchdog ---- */

/* Two buffers, so that the handler never reads one being written: the
 * step's name is written into the idle one, then `watch_cur` flips. */
static char watch_name[2][256];
static volatile sig_atomic_t watch_cur, watch_len[2];
static volatile sig_atomic_t watch_secs;
static volatile pid_t watch_children[8];
/* Where the watchdog writes: a copy of the standard error it started
 * with, so that its last words are seen even while a case sends the
 * library's log (fd 2) elsewhere for a while. */
static int watch_fd = 2;

static void say(const char *s, size_t n) {
        while (n > 0) {
                ssize_t w = write(watch_fd, s, n);
                if (w <= 0)
                        return;
                s += w;
                n -= (size_t)w;
        }
}

static void say_str(const char *s) {
        say(s, strlen(s));
}

static void on_watch_signal(int sig) {
        int cur = watch_cur;
        char num[16];
        int n = 0;
        unsigned v = (unsigned)watch_secs;

        for (int i = 0; i < 8; i++)
                if (watch_children[i] > 0)
                        kill(watch_children[i], SIGKILL);
        say_str("kbus-bench: ");
        say(watch_name[cur], (size_t)watch_len[cur]);
        if (sig == SIGALRM) {
                say_str(": did not end within ");
                do
                        num[sizeof(num) - 1 - n++] = (char)('0' + v % 10);
                while ((v /= 10) && n < (int)sizeof(num));
                say(num + sizeof(num) - n, (size_t)n);
                say_str(" s; giving up\n");
                _exit(3);
        }
        say_str(sig == SIGTERM ? ": interrupted by SIGTERM\n"
                               : ": interrupted by SIGINT\n");
        _exit(128 + sig);
}

void bench_watch_init(void) {
        struct sigaction sa, old;
        int fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
        if (fd >= 0)
                watch_fd = fd;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_watch_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        /* A program started in the background keeps SIGINT ignored. */
        if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
                sigaction(SIGINT, &sa, NULL);
        bench_watch(0, "start-up");
}

void bench_watch(unsigned seconds, const char *fmt, ...) {
        static int scale;
        int next = !watch_cur;
        va_list ap;
        int n;

        if (!scale) {
                const char *wrap = getenv("KBUS_TEST_WRAP");
                scale = wrap && *wrap ? 5 : 1;
        }
        va_start(ap, fmt);
        n = vsnprintf(watch_name[next], sizeof(watch_name[next]), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if (n >= (int)sizeof(watch_name[next]))
                n = (int)sizeof(watch_name[next]) - 1;
        watch_len[next] = n;
        watch_cur = next;
        watch_secs = (sig_atomic_t)(seconds * scale);
        alarm(seconds * scale);
}

void bench_watch_child(pid_t pid, bool add) {
        for (int i = 0; i < 8; i++)
                if (add ? watch_children[i] <= 0 : watch_children[i] == pid) {
                        watch_children[i] = add ? pid : 0;
                        return;
                }
}
