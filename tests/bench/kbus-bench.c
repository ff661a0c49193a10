/*
 * kbus-bench: kbus against hand-written librdkafka, case by case, on one
 * embedded broker in this process (docs/PERFORMANCE.md).
 *
 * Each case runs both sides several rounds, alternating which goes first,
 * and prints the medians as one line on stdout:
 *
 *   bench NAME kbus=X raw=Y unit=U ratio=R
 *
 * where the ratio is kbus/raw for throughputs and raw/kbus for latencies
 * and memory, so that higher is always better; then a summary line with
 * the geometric mean of the ratios and the targets of issues 5 and 10
 * (state tables: cases g and h).  Progress
 * goes to stderr.  Ratios rather than absolute figures are the point:
 * both sides share one noisy machine and one broker within one run.
 *
 * The memory cases run each side in a child process of its own (this
 * program started again with --child), so that neither side's heap, nor
 * the broker's, counts against the other.
 *
 * Every step of a case (one side of one round) runs under a watchdog
 * (bench_watch in bench.c): a step that does not end within its bound,
 * wherever it is stuck, ends the program with exit status 3 and a line
 * naming the case, round and side; SIGTERM and SIGINT end it at once the
 * same way.  The bounds are far above what a step takes (seconds) and
 * above the waits inside it, so that those report first what they waited
 * for.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- results ---- */

typedef struct result {
        char name[32];
        double kbus, raw, ratio;
        const char *unit;
} result;

static result results[24];
static int n_results;
/* Run one side only ("kbus" or "raw"), for profiling. */
static const char *only;
static bool failed;

static const char *fmt_value(char *buf, size_t len, double v,
                             const char *unit) {
        if (isnan(v))
                snprintf(buf, len, "-");
        else if (!strcmp(unit, "MB") || !strcmp(unit, "percent"))
                snprintf(buf, len, "%.2f", v);
        else if (!strcmp(unit, "B"))
                snprintf(buf, len, "%.1f", v);
        else
                snprintf(buf, len, "%.0f", v);
        return buf;
}

/* Prints a case's line.  higher_better: the unit is a throughput, so the
 * ratio is kbus/raw; otherwise raw/kbus. */
static void report_ratio(const char *name, double kbus, double raw,
                         const char *unit, double ratio) {
        result *r = &results[n_results++];
        char kb[32], rb[32], rt[32];
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->kbus = kbus;
        r->raw = raw;
        r->unit = unit;
        r->ratio = ratio;
        if (isnan(r->ratio))
                snprintf(rt, sizeof(rt), "-");
        else
                snprintf(rt, sizeof(rt), "%.3f", r->ratio);
        printf("bench %s kbus=%s raw=%s unit=%s ratio=%s\n", name,
               fmt_value(kb, sizeof(kb), kbus, unit),
               fmt_value(rb, sizeof(rb), raw, unit), unit, rt);
        fflush(stdout);
}

static void report(const char *name, double kbus, double raw, const char *unit,
                   bool higher_better) {
        double ratio = higher_better ? kbus / raw : raw / kbus;
        if (isnan(kbus) || isnan(raw) || kbus <= 0 || raw <= 0)
                ratio = NAN;
        report_ratio(name, kbus, raw, unit, ratio);
}

static const result *find_result(const char *name) {
        for (int i = 0; i < n_results; i++)
                if (!strcmp(results[i].name, name))
                        return &results[i];
        return NULL;
}

/* ---- bounds ---- */

/* Seconds a step may take before the watchdog ends the program.  Each is
 * above the sum of the bounded waits inside the step (60 s for a round's
 * records or delivery reports, 30 s for a group to form, the 10 s
 * shutdown grace of a kbus runtime) plus its teardown. */
#define STEP_SECS 180
#define RPC_OPEN_SECS 120
/* A step of (g) or (h) waits for a group, then for the records, then for
 * the last writes (60 s each at most), and writing (h)'s changelog waits
 * as long again for its events. */
#define TABLE_STEP_SECS (2 * STEP_SECS)

/* ---- rounds ---- */

static const bench_side *const sides[2] = {&bench_side_kbus, &bench_side_raw};

static bool side_skipped(int s) {
        return only && strcmp(only, sides[s]->name);
}

/* Which side goes first alternates round by round, so that neither side
 * always runs on a broker the other has just warmed or loaded. */
static int side_at(int round, int i) {
        return round % 2 ? 1 - i : i;
}

static double median_or_nan(double *v, size_t n) {
        return n ? bench_median(v, n) : NAN;
}

/* ---- (a) publish ---- */

static void case_publish(bench_env *env) {
        int rounds = env->opts.rounds;
        double v[2][64];
        size_t n[2] = {0, 0};
        char topic[200];

        for (int round = 0; round < rounds; round++)
                for (int i = 0; i < 2; i++) {
                        int s = side_at(round, i);
                        double rate;
                        if (side_skipped(s))
                                continue;
                        bench_watch(STEP_SECS,
                                    "case a (publish), round %d, "
                                    "%s side",
                                    round + 1, sides[s]->name);
                        bench_name(env, topic, sizeof(topic), "publish");
                        bench_topic(env, topic, BENCH_PARTITIONS);
                        rate =
                            sides[s]->publish(env, topic, env->opts.pub_count);
                        if (rate < 0) {
                                failed = true;
                                continue;
                        }
                        bench_log("publish round %d %s: %.0f events/s",
                                  round + 1, sides[s]->name, rate);
                        v[s][n[s]++] = rate;
                }
        report("publish", median_or_nan(v[0], n[0]), median_or_nan(v[1], n[1]),
               "msg/s", true);
}

/* ---- (b) subscribe ---- */

/* More partitions than elsewhere, so that a round can hold more records
 * within the broker's 5 MB per partition and last long enough to time. */
#define SUB_PARTITIONS 8

static void case_subscribe(bench_env *env) {
        int rounds = env->opts.rounds;
        long count = env->opts.sub_count;
        double v[2][64];
        size_t n[2] = {0, 0};
        char topic[200], group[200];

        for (int round = 0; round < rounds; round++)
                for (int i = 0; i < 2; i++) {
                        int s = side_at(round, i);
                        double rate, t0, t1;
                        if (side_skipped(s))
                                continue;
                        /* A fresh topic, filled before the consumer
                         * starts, and a fresh group reading it from the
                         * start. */
                        bench_watch(STEP_SECS,
                                    "case b (subscribe), round "
                                    "%d, %s side",
                                    round + 1, sides[s]->name);
                        bench_name(env, topic, sizeof(topic), "subscribe");
                        bench_name(env, group, sizeof(group), "group");
                        bench_topic(env, topic, SUB_PARTITIONS);
                        t0 = bench_now();
                        if (bench_raw_fill(env, topic, 0, count)) {
                                failed = true;
                                continue;
                        }
                        t1 = bench_now();
                        rate = sides[s]->subscribe(env, topic, group, count);
                        if (rate < 0) {
                                failed = true;
                                continue;
                        }
                        /* The rest of the subscriber's time is the group
                         * join (3 s on the embedded broker) and the close:
                         * said, so that a slow one shows. */
                        bench_log("subscribe round %d %s: %.0f records/s "
                                  "(filled in %.1f s; join, records and "
                                  "close in %.1f s)",
                                  round + 1, sides[s]->name, rate, t1 - t0,
                                  bench_now() - t1);
                        v[s][n[s]++] = rate;
                }
        report("subscribe", median_or_nan(v[0], n[0]),
               median_or_nan(v[1], n[1]), "msg/s", true);
}

/* ---- (c), (d) request/reply ---- */

/* Keeps `depth` calls in flight until the window closes, then lets the
 * last ones finish.  Latencies are recorded one call at a time (depth 1)
 * and kept over all rounds: a round gives a couple of hundred calls, too
 * few for a p99 of its own; throughput counts the calls completed inside
 * the window. */
typedef struct driver {
        bench_env *env;
        const bench_side *side;
        void *h;
        int depth;
        double w0, w1; /* measuring window */
        double t_call; /* depth 1: when the running call started */
        double *lat;   /* seconds, calls started inside a window */
        size_t n_lat, cap_lat;
        long in_window, in_flight, failures;
        int64_t seq;
        bool stopping, finished;
} driver;

static void driver_start(driver *d) {
        d->t_call = bench_now();
        if (d->side->rpc_call(d->h, ++d->seq)) {
                d->failures++;
                d->stopping = true;
                return;
        }
        d->in_flight++;
}

static void driver_done(void *arg, bool ok) {
        driver *d = arg;
        double now = bench_now();
        d->in_flight--;
        if (!ok)
                d->failures++;
        if (d->depth == 1 && d->t_call >= d->w0 && d->n_lat < d->cap_lat)
                d->lat[d->n_lat++] = now - d->t_call;
        if (now >= d->w0 && now <= d->w1)
                d->in_window++;
        if (now >= d->w1)
                d->stopping = true;
        if (!d->stopping)
                driver_start(d);
        if (d->stopping && d->in_flight == 0) {
                d->finished = true;
                event_base_loopbreak(d->env->base);
        }
}

/* One run: warm-up, then `secs` measured.  Returns calls per second. */
static double driver_run(driver *d, int depth, double warm, double secs) {
        d->depth = depth;
        d->in_window = d->failures = 0;
        d->stopping = d->finished = false;
        d->w0 = bench_now() + warm;
        d->w1 = d->w0 + secs;
        for (int i = 0; i < depth && !d->stopping; i++)
                driver_start(d);
        if (!bench_run_until(d->env, &d->finished, warm + secs + 60) ||
            d->failures) {
                bench_log("%s: %ld calls failed, %ld still in flight",
                          d->side->name, d->failures, d->in_flight);
                failed = true;
                return -1;
        }
        return (double)d->in_window / secs;
}

static void *rpc_open(bench_env *env, const bench_side *side, driver *d) {
        char tag[200], req[200], reply[200];
        bench_name(env, tag, sizeof(tag), side->name);
        bench_name(env, req, sizeof(req), "requests");
        bench_name(env, reply, sizeof(reply), "replies");
        bench_topic(env, req, BENCH_PARTITIONS);
        bench_topic(env, reply, 1);
        return side->rpc_open(env, tag, req, reply, driver_done, d);
}

static void case_rpc(bench_env *env, bool latency, bool tput) {
        int rounds = env->opts.rounds;
        driver d[2];
        double t64[2][64], t1k[2][64], *tmp = malloc(1000000 * sizeof(double));
        size_t n64[2] = {0, 0}, n1k[2] = {0, 0};

        /* Both pairs stay up for all rounds: a server's first group join
         * takes the embedded broker 3 s. */
        for (int s = 0; s < 2; s++) {
                memset(&d[s], 0, sizeof(d[s]));
                d[s].env = env;
                d[s].side = sides[s];
                d[s].cap_lat = 1000000;
                d[s].lat = malloc(d[s].cap_lat * sizeof(double));
                if (side_skipped(s))
                        continue;
                bench_log("rpc: starting the %s echo pair", sides[s]->name);
                bench_watch(RPC_OPEN_SECS,
                            "case c/d (request/reply), "
                            "starting the %s echo pair",
                            sides[s]->name);
                if (!d[s].lat || !(d[s].h = rpc_open(env, sides[s], &d[s]))) {
                        failed = true;
                        goto out;
                }
        }
        for (int round = 0; round < rounds; round++)
                for (int i = 0; i < 2; i++) {
                        int s = side_at(round, i);
                        double r;
                        if (side_skipped(s))
                                continue;
                        size_t first = d[s].n_lat;
                        /* Up to three driver runs of warm-up + window +
                         * 60 s each. */
                        bench_watch((unsigned)(3 * 61 + env->opts.lat_secs +
                                               2 * env->opts.tput_secs) +
                                        60,
                                    "case c/d (request/reply), round %d, %s "
                                    "side",
                                    round + 1, sides[s]->name);
                        if (latency && tmp &&
                            driver_run(&d[s], 1, 0.2, env->opts.lat_secs) >=
                                0) {
                                size_t n = d[s].n_lat - first;
                                memcpy(tmp, d[s].lat + first,
                                       n * sizeof(double));
                                bench_median(tmp, n); /* sorts */
                                bench_log("rpc round %d %s: %zu calls one at "
                                          "a time, p50 %.0f us, p99 %.0f us",
                                          round + 1, sides[s]->name, n,
                                          bench_percentile(tmp, n, 50) * 1e6,
                                          bench_percentile(tmp, n, 99) * 1e6);
                        }
                        if (tput &&
                            (r = driver_run(&d[s], 64, 0.3,
                                            env->opts.tput_secs)) >= 0) {
                                bench_log("rpc round %d %s: %.0f calls/s "
                                          "with 64 in flight",
                                          round + 1, sides[s]->name, r);
                                t64[s][n64[s]++] = r;
                        }
                        if (tput &&
                            (r = driver_run(&d[s], 1024, 0.3,
                                            env->opts.tput_secs)) >= 0) {
                                bench_log("rpc round %d %s: %.0f calls/s "
                                          "with 1024 in flight",
                                          round + 1, sides[s]->name, r);
                                t1k[s][n1k[s]++] = r;
                        }
                }
        if (latency) {
                double p50[2], p99[2];
                for (int s = 0; s < 2; s++) {
                        size_t n = d[s].n_lat;
                        bench_median(d[s].lat, n); /* sorts */
                        p50[s] =
                            n ? bench_percentile(d[s].lat, n, 50) * 1e6 : NAN;
                        p99[s] =
                            n ? bench_percentile(d[s].lat, n, 99) * 1e6 : NAN;
                }
                report("rpc_p50", p50[0], p50[1], "us", false);
                report("rpc_p99", p99[0], p99[1], "us", false);
        }
        if (tput) {
                report("rpc_inflight64", median_or_nan(t64[0], n64[0]),
                       median_or_nan(t64[1], n64[1]), "call/s", true);
                report("rpc_inflight1024", median_or_nan(t1k[0], n1k[0]),
                       median_or_nan(t1k[1], n1k[1]), "call/s", true);
        }
out:
        for (int s = 0; s < 2; s++) {
                bench_watch(STEP_SECS,
                            "case c/d (request/reply), closing "
                            "the %s echo pair",
                            sides[s]->name);
                if (d[s].h)
                        sides[s]->rpc_close(d[s].h);
                free(d[s].lat);
        }
        free(tmp);
}

/* ---- (e) memory, in child processes ---- */

typedef struct child {
        pid_t pid;
        int fd;
        char out[8192];
        size_t len;
        int status;
} child;

static int child_start(child *c, char *const argv[]) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == -1)
                return -1;
        c->len = 0;
        c->pid = fork();
        if (c->pid == -1) {
                close(fds[0]);
                close(fds[1]);
                return -1;
        }
        if (c->pid == 0) {
                /* Only async-signal-safe calls between fork and exec: the
                 * parent has threads (librdkafka's, the broker's).  A child
                 * must not outlive its parent (and its broker). */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(fds[1], 1);
                execv("/proc/self/exe", argv);
                _exit(127);
        }
        bench_watch_child(c->pid, true);
        close(fds[1]);
        c->fd = fds[0];
        return 0;
}

static void child_finish(child *c) {
        ssize_t n;
        while (c->len < sizeof(c->out) - 1 &&
               ((n = read(c->fd, c->out + c->len,
                          sizeof(c->out) - 1 - c->len)) > 0 ||
                (n == -1 && errno == EINTR)))
                if (n > 0)
                        c->len += (size_t)n;
        while (c->len > 0 && c->out[c->len - 1] == '\n')
                c->len--;
        c->out[c->len] = '\0';
        close(c->fd);
        while (waitpid(c->pid, &c->status, 0) == -1 && errno == EINTR)
                ;
        bench_watch_child(c->pid, false);
}

/* The number after "key=" in a child's output; NAN if absent. */
static double child_value(const child *c, const char *key) {
        char pat[64];
        const char *p;
        snprintf(pat, sizeof(pat), " %s=", key);
        p = strstr(c->out, pat);
        return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static void case_memory(bench_env *env) {
        static const char *const kinds[2] = {"mem", "soak"};
        child ch[2][2]; /* [kind][side] */
        char args[2][2][6][200];
        char calls[32], secs[32], rate[32];
        bool started[2][2] = {{false, false}, {false, false}};

        snprintf(calls, sizeof(calls), "%ld", env->opts.mem_calls);
        snprintf(secs, sizeof(secs), "%g", env->opts.soak_secs);
        snprintf(rate, sizeof(rate), "%g", env->opts.soak_rate);
        bench_log("memory: %ld calls in flight, and a %g s soak at %g "
                  "calls/s, each side in a process of its own",
                  env->opts.mem_calls, env->opts.soak_secs,
                  env->opts.soak_rate);
        /* The two sides of a kind at once: memory does not depend on
         * sharing the CPU, and the soak's rate is kept by the clock.  The
         * soak starts after the burst of 10,000 calls has ended, which
         * would otherwise show in its samples. */
        for (int k = 0; k < 2; k++) {
                /* The children bound their own waits: 120 s for the
                 * calls, the soak's warm-up and length, then 60 s. */
                bench_watch(
                    (unsigned)(k ? 10 + env->opts.soak_secs + 60 : 120) +
                        STEP_SECS,
                    "case e (memory), the %s children", kinds[k]);
                for (int s = 0; s < 2; s++) {
                        char(*a)[200] = args[k][s];
                        char *argv[24 + 2 * BENCH_MAX_PROPS];
                        int n = 0;
                        if (side_skipped(s))
                                continue;
                        snprintf(a[0], 200, "--child=%s", kinds[k]);
                        snprintf(a[1], 200, "--side=%s", sides[s]->name);
                        snprintf(a[2], 200, "--bootstrap=%s", env->bootstrap);
                        bench_name(env, a[3], 200, sides[s]->name);
                        bench_name(env, a[4], 200, "requests");
                        bench_name(env, a[5], 200, "replies");
                        bench_topic(env, a[4], BENCH_PARTITIONS);
                        bench_topic(env, a[5], 1);
                        argv[n++] = "kbus-bench";
                        argv[n++] = a[0];
                        argv[n++] = a[1];
                        argv[n++] = a[2];
                        argv[n++] = "--tag";
                        argv[n++] = a[3];
                        argv[n++] = "--req";
                        argv[n++] = a[4];
                        argv[n++] = "--reply";
                        argv[n++] = a[5];
                        argv[n++] = "--mem-calls";
                        argv[n++] = calls;
                        argv[n++] = "--soak-secs";
                        argv[n++] = secs;
                        argv[n++] = "--soak-rate";
                        argv[n++] = rate;
                        if (env->opts.quick)
                                argv[n++] = "--quick";
                        for (int i = 0; i < env->opts.n_producer_props; i++) {
                                argv[n++] = "--producer";
                                argv[n++] = (char *)env->opts.producer_props[i];
                        }
                        argv[n] = NULL;
                        if (child_start(&ch[k][s], argv)) {
                                bench_log("cannot start a child: %s",
                                          strerror(errno));
                                failed = true;
                                continue;
                        }
                        started[k][s] = true;
                }
                for (int s = 0; s < 2; s++)
                        if (started[k][s]) {
                                child_finish(&ch[k][s]);
                                if (!WIFEXITED(ch[k][s].status) ||
                                    WEXITSTATUS(ch[k][s].status)) {
                                        bench_log("%s child of %s failed: %s",
                                                  kinds[k], sides[s]->name,
                                                  ch[k][s].out);
                                        failed = true;
                                        started[k][s] = false;
                                } else {
                                        bench_log("%s child of %s: %s",
                                                  kinds[k], sides[s]->name,
                                                  ch[k][s].out);
                                }
                        }
        }
        {
                double hwm[2], growth[2];
                for (int s = 0; s < 2; s++) {
                        hwm[s] = started[0][s]
                                     ? child_value(&ch[0][s], "hwm_kb") / 1024
                                     : NAN;
                        growth[s] = started[1][s]
                                        ? child_value(&ch[1][s], "growth_pct")
                                        : NAN;
                }
                report("mem_10k_inflight", hwm[0], hwm[1], "MB", false);
                /* Growth can be zero or negative, so the ratio compares
                 * growth factors: (100 + raw) / (100 + kbus). */
                report_ratio("soak_rss_growth", growth[0], growth[1], "percent",
                             (100 + growth[1]) / (100 + growth[0]));
        }
}

/* ---- the children ---- */

typedef struct child_state {
        bench_env *env;
        const bench_side *side;
        void *h;
        long want, done, failures, issued;
        bool all_done, stopping;
        double t0;
        double *samples;
        size_t n_samples, cap_samples;
        struct event *tick, *sample;
} child_state;

static void child_done(void *arg, bool ok) {
        child_state *c = arg;
        if (!ok)
                c->failures++;
        if (++c->done == c->want) {
                c->all_done = true;
                event_base_loopbreak(c->env->base);
        }
}

/* 10,000 calls at once; the high-water mark of resident memory is the
 * figure. */
static int child_mem(child_state *c) {
        long base_kb = bench_status_kb("VmRSS");
        c->want = c->env->opts.mem_calls;
        for (long i = 0; i < c->want; i++)
                if (c->side->rpc_call(c->h, i)) {
                        fprintf(stderr, "bench: child: call %ld refused\n", i);
                        return 1;
                }
        if (!bench_run_until(c->env, &c->all_done, 120)) {
                fprintf(stderr, "bench: child: %ld of %ld answered\n", c->done,
                        c->want);
                return 1;
        }
        printf("mem hwm_kb=%ld base_kb=%ld rss_kb=%ld failures=%ld\n",
               bench_status_kb("VmHWM"), base_kb, bench_status_kb("VmRSS"),
               c->failures);
        return c->failures ? 1 : 0;
}

static void soak_tick(evutil_socket_t fd, short what, void *arg) {
        child_state *c = arg;
        long due = (long)((bench_now() - c->t0) * c->env->opts.soak_rate);
        while (!c->stopping && c->issued < due) {
                if (c->side->rpc_call(c->h, c->issued)) {
                        c->failures++;
                        c->stopping = true;
                        break;
                }
                c->issued++;
                c->want++;
        }
}

static void soak_sample(evutil_socket_t fd, short what, void *arg) {
        child_state *c = arg;
        if (c->n_samples < c->cap_samples)
                c->samples[c->n_samples++] = (double)bench_status_kb("VmRSS");
}

static double mean(const double *v, size_t n) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
                s += v[i];
        return n ? s / (double)n : NAN;
}

/* Calls at a steady rate; resident memory sampled every few seconds after
 * a warm-up; growth is the mean of the last third of the samples over the
 * mean of the first third.  The warm-up is long enough for what fills up
 * once and then stays (kbus keeps the last 8,192 ended calls to recognise
 * late replies; malloc's arenas settle) not to count as growth. */
static int child_soak(child_state *c) {
        double secs = c->env->opts.soak_secs;
        double warm = c->env->opts.quick ? 1 : 10;
        double every = secs / 30 < 0.5 ? 0.5 : secs / 30 > 2 ? 2 : secs / 30;
        struct timeval tick = {0, 10000}, sample;
        size_t third;
        double first, last;

        sample.tv_sec = (time_t)every;
        sample.tv_usec = (suseconds_t)((every - (double)sample.tv_sec) * 1e6);
        c->cap_samples = (size_t)(secs / every) + 4;
        c->samples = calloc(c->cap_samples, sizeof(double));
        c->tick = event_new(c->env->base, -1, EV_PERSIST, soak_tick, c);
        c->sample = event_new(c->env->base, -1, EV_PERSIST, soak_sample, c);
        if (!c->samples || !c->tick || !c->sample)
                return 1;
        c->want = 0;
        c->done = 0;
        c->t0 = bench_now();
        evtimer_add(c->tick, &tick);
        bench_run_for(c->env, warm);
        evtimer_add(c->sample, &sample);
        bench_run_for(c->env, secs);
        event_del(c->tick);
        event_del(c->sample);
        c->stopping = true;
        c->all_done = false;
        if (c->done < c->want)
                bench_run_until(c->env, &c->all_done, 60);
        if (c->n_samples < 3 || c->done < c->want) {
                fprintf(stderr,
                        "bench: child: soak: %zu samples, %ld of %ld "
                        "answered\n",
                        c->n_samples, c->done, c->want);
                return 1;
        }
        third = c->n_samples / 3;
        first = mean(c->samples, third);
        last = mean(c->samples + c->n_samples - third, third);
        printf("soak growth_pct=%.3f first_kb=%.0f last_kb=%.0f calls=%ld "
               "failures=%ld samples_kb=",
               (last / first - 1) * 100, first, last, c->issued, c->failures);
        for (size_t i = 0; i < c->n_samples; i++)
                printf("%s%.0f", i ? "," : "", c->samples[i]);
        printf("\n");
        event_free(c->tick);
        event_free(c->sample);
        free(c->samples);
        return c->failures ? 1 : 0;
}

static int run_child(bench_env *env, const char *kind, const char *side,
                     const char *tag, const char *req, const char *reply) {
        child_state c = {.env = env};
        int rc;
        c.side = !strcmp(side, "kbus") ? &bench_side_kbus : &bench_side_raw;
        if (!tag || !req || !reply || !env->bootstrap) {
                fprintf(stderr, "bench: child: missing arguments\n");
                return 2;
        }
        c.h = c.side->rpc_open(env, tag, req, reply, child_done, &c);
        if (!c.h)
                return 1;
        rc = !strcmp(kind, "mem") ? child_mem(&c) : child_soak(&c);
        fflush(stdout);
        c.side->rpc_close(c.h);
        return rc;
}

/* ---- (f) handlers that finish later ---- */

static void case_ordered(bench_env *env) {
        double key[64], part[64];
        size_t n = 0;
        char topic[200], group[200];

        if (only && strcmp(only, "kbus"))
                return;
        for (int round = 0; round < env->opts.order_rounds; round++) {
                double k, p;
                bench_watch(2 * STEP_SECS, "case f (ordered), round %d",
                            round + 1);
                bench_name(env, topic, sizeof(topic), "ordered-key");
                bench_name(env, group, sizeof(group), "group");
                bench_topic(env, topic, BENCH_PARTITIONS);
                if (bench_raw_fill(env, topic, 0, env->opts.order_key_count))
                        goto fail;
                k = bench_kbus_ordered(
                    env, topic, group, env->opts.order_key_count,
                    env->opts.order_secs, KBUS_ORDER_KEY, env->opts.order_max);
                bench_name(env, topic, sizeof(topic), "ordered-partition");
                bench_name(env, group, sizeof(group), "group");
                bench_topic(env, topic, BENCH_PARTITIONS);
                if (k < 0 ||
                    bench_raw_fill(env, topic, 0, env->opts.order_part_count))
                        goto fail;
                p = bench_kbus_ordered(
                    env, topic, group, env->opts.order_part_count,
                    env->opts.order_secs, KBUS_ORDER_PARTITION, 1);
                if (p < 0)
                        goto fail;
                bench_log("ordered round %d: per key %.0f records/s, one at a "
                          "time %.0f records/s",
                          round + 1, k, p);
                key[n] = k;
                part[n++] = p;
        }
        report("ordered_5ms", median_or_nan(key, n), median_or_nan(part, n),
               "msg/s", true);
        return;
fail:
        failed = true;
        report("ordered_5ms", NAN, NAN, "msg/s", true);
}

/* ---- (g) table_update ---- */

static void case_table_update(bench_env *env) {
        int rounds = env->opts.rounds;
        long count = env->opts.table_count;
        double v[2][64];
        size_t n[2] = {0, 0};
        char topic[200], group[200], changelog[300], fence[200];

        for (int round = 0; round < rounds; round++)
                for (int i = 0; i < 2; i++) {
                        int s = side_at(round, i);
                        double rate, t0, t1;
                        if (side_skipped(s))
                                continue;
                        /* As (b): a fresh topic filled before the side
                         * starts, read from the start; and a fresh
                         * changelog with the same partitions. */
                        bench_watch(TABLE_STEP_SECS,
                                    "case g (table_update), "
                                    "round %d, %s side",
                                    round + 1, sides[s]->name);
                        bench_name(env, topic, sizeof(topic), "table");
                        bench_name(env, group, sizeof(group), "group");
                        bench_name(env, fence, sizeof(fence), "fence");
                        /* kbus's name for the table's changelog. */
                        snprintf(changelog, sizeof(changelog),
                                 "%s.counts.changelog", group);
                        bench_topic(env, topic, BENCH_TABLE_PARTITIONS);
                        bench_topic(env, changelog, BENCH_TABLE_PARTITIONS);
                        bench_topic(env, fence, 1);
                        t0 = bench_now();
                        if (bench_raw_fill(env, topic, 0, count)) {
                                failed = true;
                                continue;
                        }
                        t1 = bench_now();
                        rate = sides[s]->table_update(env, topic, group,
                                                      changelog, fence, count);
                        if (rate < 0) {
                                failed = true;
                                continue;
                        }
                        bench_log("table_update round %d %s: %.0f records/s "
                                  "(filled in %.1f s; start, records and "
                                  "close in %.1f s)",
                                  round + 1, sides[s]->name, rate, t1 - t0,
                                  bench_now() - t1);
                        v[s][n[s]++] = rate;
                }
        report("table_update", median_or_nan(v[0], n[0]),
               median_or_nan(v[1], n[1]), "msg/s", true);
}

/* ---- (h) table_restore, and memory per entry ---- */

static void case_table_restore(bench_env *env) {
        int rounds = env->opts.rounds;
        double v[2][64], restored[2][64], steady[2][64];
        size_t n[2] = {0, 0};
        char topic[200], group[200], changelog[300], fence[200];
        bench_restore r = {
            .topic = topic,
            .group = group,
            .changelog = changelog,
            .fence_topic = fence,
            .entries = env->opts.restore_entries,
        };
        double t0 = bench_now();

        /* One changelog for every round of both sides, written by kbus
         * (its records carry kbus's headers) into a partition of its own. */
        bench_watch(TABLE_STEP_SECS,
                    "case h (table_restore), writing the changelog");
        bench_name(env, topic, sizeof(topic), "restore");
        bench_name(env, group, sizeof(group), "group");
        bench_name(env, fence, sizeof(fence), "fence");
        snprintf(changelog, sizeof(changelog), "%s.counts.changelog", group);
        bench_topic(env, topic, 1);
        bench_topic(env, changelog, 1);
        bench_topic(env, fence, 1);
        if (bench_kbus_table_fill(env, &r)) {
                failed = true;
                goto out;
        }
        bench_log("table_restore: %ld entries written in %.1f s; a table "
                  "runtime takes %.0f kB of heap without them",
                  r.entries, bench_now() - t0, r.kbus_fixed / 1024);
        for (int round = 0; round < rounds; round++)
                for (int i = 0; i < 2; i++) {
                        int s = side_at(round, i);
                        double rate, t1;
                        if (side_skipped(s))
                                continue;
                        bench_watch(TABLE_STEP_SECS,
                                    "case h (table_restore), "
                                    "round %d, %s side",
                                    round + 1, sides[s]->name);
                        t1 = bench_now();
                        rate = sides[s]->table_restore(env, &r);
                        if (rate < 0) {
                                failed = true;
                                continue;
                        }
                        /* kbus's round also joins the group and handles
                         * a first record after the restore. */
                        bench_log("table_restore round %d %s: %.0f records/s "
                                  "(the round took %.1f s); %.1f bytes an "
                                  "entry beyond its value after the restore, "
                                  "%.1f after a first record",
                                  round + 1, sides[s]->name, rate,
                                  bench_now() - t1, r.bytes_restored,
                                  r.bytes_steady);
                        v[s][n[s]] = rate;
                        restored[s][n[s]] = r.bytes_restored;
                        steady[s][n[s]++] = r.bytes_steady;
                }
out:
        report("table_restore", median_or_nan(v[0], n[0]),
               median_or_nan(v[1], n[1]), "msg/s", true);
        report("table_entry_bytes", median_or_nan(steady[0], n[0]),
               median_or_nan(steady[1], n[1]), "B", false);
        report("table_entry_bytes_restored", median_or_nan(restored[0], n[0]),
               median_or_nan(restored[1], n[1]), "B", false);
}

/* ---- summary ---- */

static void summary(void) {
        struct {
                const char *name, *label;
                double min_ratio;
        } const targets[] = {
            {"publish", "a", 0.90},
            {"subscribe", "b", 0.85},
            {"rpc_p50", "c-p50", 0.85},
            {"rpc_p99", "c-p99", 0.75},
            {"rpc_inflight64", "d-64", 0.90},
            {"rpc_inflight1024", "d-1024", 0.90},
            {"ordered_5ms", "f", 20},
            {"table_update", "g", 0.85},
            {"table_restore", "h", 0.80},
        };
        char pass[256] = "", fail[256] = "";
        double log_sum = 0;
        int n = 0;
        const result *r;

        /* Not in the mean: (f)'s ratio is kbus against kbus, and a table
         * entry's bytes compare kbus's generic table with a map made for
         * one type of value. */
        for (int i = 0; i < n_results; i++)
                if (!isnan(results[i].ratio) &&
                    strcmp(results[i].name, "ordered_5ms") &&
                    strncmp(results[i].name, "table_entry_bytes", 17)) {
                        log_sum += log(results[i].ratio);
                        n++;
                }
        for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
                if (!(r = find_result(targets[i].name)) || isnan(r->ratio))
                        continue;
                strcat(r->ratio >= targets[i].min_ratio ? pass : fail, ",");
                strcat(r->ratio >= targets[i].min_ratio ? pass : fail,
                       targets[i].label);
        }
        /* (e) is absolute for kbus: 64 MB with 10,000 calls in flight, and
         * under 10 % growth over the soak. */
        if ((r = find_result("mem_10k_inflight")) && !isnan(r->kbus)) {
                strcat(r->kbus <= 64 ? pass : fail, ",");
                strcat(r->kbus <= 64 ? pass : fail, "e-mem");
        }
        if ((r = find_result("soak_rss_growth")) && !isnan(r->kbus)) {
                strcat(r->kbus < 10 ? pass : fail, ",");
                strcat(r->kbus < 10 ? pass : fail, "e-soak");
        }
        printf("bench summary ratios=%d geomean=%.3f pass=%s fail=%s%s\n", n,
               n ? exp(log_sum / n) : NAN, pass[0] ? pass + 1 : "-",
               fail[0] ? fail + 1 : "-", failed ? " errors=yes" : "");
        fflush(stdout);
}

/* The figures only mean something next to the machine and its load. */
static void log_machine(void) {
        char model[256] = "?", load[64] = "?", line[512];
        FILE *f = fopen("/proc/cpuinfo", "r");
        while (f && fgets(line, sizeof(line), f))
                if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                        snprintf(model, sizeof(model), "%s",
                                 strchr(line, ':') + 2);
                        model[strcspn(model, "\n")] = '\0';
                        break;
                }
        if (f)
                fclose(f);
        if ((f = fopen("/proc/loadavg", "r"))) {
                if (fgets(load, sizeof(load), f))
                        load[strcspn(load, "\n")] = '\0';
                fclose(f);
        }
        bench_log("machine: %ld CPUs, %s, load average %s",
                  sysconf(_SC_NPROCESSORS_ONLN), model, load);
}

/* ---- options ---- */

static void usage(FILE *out) {
        fprintf(
            out,
            "usage: kbus-bench [OPTION]...\n"
            "Measures kbus against hand-written librdkafka on one embedded "
            "broker and\n"
            "prints one line per case:  bench NAME kbus=X raw=Y unit=U "
            "ratio=R\n"
            "(ratio > 1: kbus is better), then a summary line.  Progress on "
            "stderr.\n"
            "\n"
            "Cases: a publish, b subscribe, c request/reply latency one call "
            "at a time,\n"
            "d request/reply throughput with 64 and 1024 calls in flight, e "
            "memory with\n"
            "many calls in flight and over a soak, f handlers that finish 5 ms "
            "later\n"
            "with per-key ordering against one at a time per partition, g a "
            "state table\n"
            "updated by every event, h restoring a table partition from its "
            "changelog\n"
            "(and the bytes a table entry takes).\n"
            "\n"
            "  --cases LETTERS       cases to run (abcdefgh)\n"
            "  --rounds N            kbus/raw alternations per case (5)\n"
            "  --quick               every case for about a second (for make "
            "check)\n"
            "  --only kbus|raw       run one side only, e.g. under a profiler\n"
            "  --pub-count N         (a) events per round (50000)\n"
            "  --sub-count N         (b) records per round, over 8 partitions "
            "(60000)\n"
            "  --lat-secs S          (c) seconds of calls per round (1.5)\n"
            "  --tput-secs S         (d) seconds per depth per round (1)\n"
            "  --mem-calls N         (e) calls in flight at once (10000)\n"
            "  --soak-secs S         (e) soak duration, after a 10 s warm-up "
            "(60)\n"
            "  --soak-rate R         (e) calls per second during the soak "
            "(1000)\n"
            "  --order-rounds N      (f) rounds (2)\n"
            "  --order-count N       (f) records with per-key ordering "
            "(30000)\n"
            "  --order-part-count N  (f) records one at a time (1600)\n"
            "  --order-max N         (f) records in handlers per partition "
            "(1000)\n"
            "  --order-secs S        (f) longest measurement of each ordering "
            "(2)\n"
            "  --table-count N       (g) events per round, over 8 partitions "
            "(60000)\n"
            "  --table-max-in-flight N  (g) kbus's records in handlers per "
            "partition\n"
            "                        (kbus's default, 64)\n"
            "  --restore-entries N   (h) entries of the restored partition "
            "(50000)\n"
            "  --producer NAME=VALUE a librdkafka property for both sides' "
            "producers,\n"
            "                        e.g. max.in.flight=1; repeatable (up to "
            "8)\n"
            "  -h, --help            this help\n"
            "\n"
            "Keep counts within the embedded broker's limit of 100,000 records "
            "or 5 MB\n"
            "per partition (a record here is about 400 bytes; topics have 4 "
            "partitions,\n"
            "8 for (b)): beyond it the broker drops the oldest records of a "
            "round.\n");
}

enum {
        OPT_CASES = 256,
        OPT_ROUNDS,
        OPT_QUICK,
        OPT_ONLY,
        OPT_PUB,
        OPT_SUB,
        OPT_LAT,
        OPT_TPUT,
        OPT_MEM,
        OPT_SOAK,
        OPT_RATE,
        OPT_ORD_ROUNDS,
        OPT_ORD_COUNT,
        OPT_ORD_PART,
        OPT_ORD_MAX,
        OPT_ORD_SECS,
        OPT_CHILD,
        OPT_PRODUCER,
        OPT_SIDE,
        OPT_TABLE_COUNT,
        OPT_RESTORE_ENTRIES,
        OPT_TABLE_MAX,
        OPT_BOOTSTRAP,
        OPT_TAG,
        OPT_REQ,
        OPT_REPLY,
};

static const struct option long_opts[] = {
    {"cases", required_argument, NULL, OPT_CASES},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"only", required_argument, NULL, OPT_ONLY},
    {"pub-count", required_argument, NULL, OPT_PUB},
    {"sub-count", required_argument, NULL, OPT_SUB},
    {"lat-secs", required_argument, NULL, OPT_LAT},
    {"tput-secs", required_argument, NULL, OPT_TPUT},
    {"mem-calls", required_argument, NULL, OPT_MEM},
    {"soak-secs", required_argument, NULL, OPT_SOAK},
    {"soak-rate", required_argument, NULL, OPT_RATE},
    {"order-rounds", required_argument, NULL, OPT_ORD_ROUNDS},
    {"order-count", required_argument, NULL, OPT_ORD_COUNT},
    {"order-part-count", required_argument, NULL, OPT_ORD_PART},
    {"order-max", required_argument, NULL, OPT_ORD_MAX},
    {"order-secs", required_argument, NULL, OPT_ORD_SECS},
    {"table-count", required_argument, NULL, OPT_TABLE_COUNT},
    {"restore-entries", required_argument, NULL, OPT_RESTORE_ENTRIES},
    {"table-max-in-flight", required_argument, NULL, OPT_TABLE_MAX},
    {"producer", required_argument, NULL, OPT_PRODUCER},
    /* internal: a memory case's child process */
    {"child", required_argument, NULL, OPT_CHILD},
    {"side", required_argument, NULL, OPT_SIDE},
    {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
    {"tag", required_argument, NULL, OPT_TAG},
    {"req", required_argument, NULL, OPT_REQ},
    {"reply", required_argument, NULL, OPT_REPLY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool parse_num(const char *s, double min, double *out) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || v < min)
                return false;
        *out = v;
        return true;
}

int main(int argc, char **argv) {
        bench_env env = {0};
        bench_opts *o = &env.opts;
        const char *child = NULL, *side = "kbus", *tag = NULL, *req = NULL,
                   *reply = NULL;
        double t_start = bench_now(), v;
        char err[256];
        int c, idx = 0, rc = 0;

        *o = (bench_opts){
            .rounds = 5,
            .order_rounds = 2,
            .pub_count = 50000,
            .sub_count = 60000,
            .lat_secs = 1.5,
            .tput_secs = 1,
            .mem_calls = 10000,
            .soak_secs = 60,
            .soak_rate = 1000,
            .order_key_count = 30000,
            .order_part_count = 1600,
            .order_max = 1000,
            .order_secs = 2,
            .table_count = 60000,
            .restore_entries = 50000,
            .cases = "abcdefgh",
        };
        /* --quick first, so that explicit options after it still win. */
        for (int i = 1; i < argc; i++)
                if (!strcmp(argv[i], "--quick")) {
                        o->quick = true;
                        o->rounds = 1;
                        o->order_rounds = 1;
                        o->pub_count = 20000;
                        o->sub_count = 20000;
                        o->lat_secs = 1;
                        o->tput_secs = 0.5;
                        o->soak_secs = 4;
                        o->mem_calls = 2000;
                        o->order_key_count = 5000;
                        o->order_part_count = 200;
                        o->order_secs = 1;
                        o->table_count = 4000;
                        o->restore_entries = 5000;
                }
        while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
                const char *a = optarg;
                bool ok = true;
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_CASES:
                        o->cases = a;
                        ok = strspn(a, "abcdefgh") == strlen(a);
                        break;
                case OPT_QUICK:
                        break;
                case OPT_ONLY:
                        only = a;
                        ok = !strcmp(a, "kbus") || !strcmp(a, "raw");
                        break;
#define NUM(field, min)                                                        \
        ok = parse_num(a, (min), &v);                                          \
        if (ok)                                                                \
                o->field = v;                                                  \
        break
                case OPT_ROUNDS:
                        NUM(rounds, 1);
                case OPT_PUB:
                        NUM(pub_count, 1);
                case OPT_SUB:
                        NUM(sub_count, 2);
                case OPT_LAT:
                        NUM(lat_secs, 0.1);
                case OPT_TPUT:
                        NUM(tput_secs, 0.1);
                case OPT_MEM:
                        NUM(mem_calls, 1);
                case OPT_SOAK:
                        NUM(soak_secs, 1);
                case OPT_RATE:
                        NUM(soak_rate, 1);
                case OPT_ORD_ROUNDS:
                        NUM(order_rounds, 1);
                case OPT_ORD_COUNT:
                        NUM(order_key_count, 1);
                case OPT_ORD_PART:
                        NUM(order_part_count, 1);
                case OPT_ORD_MAX:
                        NUM(order_max, 1);
                case OPT_ORD_SECS:
                        NUM(order_secs, 0.1);
                case OPT_TABLE_COUNT:
                        NUM(table_count, 2);
                case OPT_RESTORE_ENTRIES:
                        NUM(restore_entries, 1);
                case OPT_TABLE_MAX:
                        NUM(table_max_in_flight, 1);
#undef NUM
                case OPT_PRODUCER:
                        ok = strchr(a, '=') && a[0] != '=' &&
                             o->n_producer_props < BENCH_MAX_PROPS;
                        if (ok)
                                o->producer_props[o->n_producer_props++] = a;
                        break;
                case OPT_CHILD:
                        child = a;
                        ok = !strcmp(a, "mem") || !strcmp(a, "soak");
                        break;
                case OPT_SIDE:
                        side = a;
                        ok = !strcmp(a, "kbus") || !strcmp(a, "raw");
                        break;
                case OPT_BOOTSTRAP:
                        env.bootstrap = a;
                        break;
                case OPT_TAG:
                        tag = a;
                        break;
                case OPT_REQ:
                        req = a;
                        break;
                case OPT_REPLY:
                        reply = a;
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
                if (!ok) {
                        fprintf(stderr, "kbus-bench: bad value '%s' for --%s\n",
                                a, long_opts[idx].name);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "kbus-bench: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        for (size_t i = 0; i < sizeof(bench_body); i++)
                bench_body[i] = (uint8_t)(i * 7 + 1);
        signal(SIGPIPE, SIG_IGN);
        bench_watch_init();

        env.base = event_base_new();
        if (!env.base) {
                fprintf(stderr, "kbus-bench: cannot create an event_base\n");
                return 1;
        }
        if (child) {
                /* The parent's watchdog bounds the child. */
                bench_watch(0, "%s child of the %s side", child, side);
                rc = run_child(&env, child, side, tag, req, reply);
                event_base_free(env.base);
                return rc;
        }

        snprintf(env.run_id, sizeof(env.run_id), "%ld", (long)getpid());
        bench_watch(STEP_SECS, "starting the embedded broker");
        if (kbus_broker_new(&env.broker, 1, err, sizeof(err))) {
                fprintf(stderr, "kbus-bench: embedded broker: %s\n", err);
                event_base_free(env.base);
                return 1;
        }
        env.bootstrap = kbus_broker_bootstrap(env.broker);
        log_machine();
        bench_log("embedded broker at %s; cases %s, %d rounds%s", env.bootstrap,
                  o->cases, o->rounds, o->quick ? " (quick)" : "");
        for (int i = 0; i < o->n_producer_props; i++)
                bench_log("both sides' producers: %s", o->producer_props[i]);

        for (const char *k = "abcefgh"; *k; k++) {
                double t0 = bench_now();
                bool c = strchr(o->cases, 'c'), d = strchr(o->cases, 'd');
                if (*k == 'c' ? !c && !d : !strchr(o->cases, *k))
                        continue;
                switch (*k) {
                case 'a':
                        case_publish(&env);
                        break;
                case 'b':
                        case_subscribe(&env);
                        break;
                case 'c':
                        case_rpc(&env, c, d);
                        break;
                case 'e':
                        case_memory(&env);
                        break;
                case 'f':
                        case_ordered(&env);
                        break;
                case 'g':
                        case_table_update(&env);
                        break;
                case 'h':
                        case_table_restore(&env);
                        break;
                }
                bench_log("case %s took %.1f s",
                          *k == 'c' ? "c/d" : (char[]){*k, 0},
                          bench_now() - t0);
        }
        summary();

        bench_watch(STEP_SECS, "stopping the embedded broker");
        kbus_broker_free(env.broker);
        event_base_free(env.base);
        bench_watch(0, "done");
        log_machine();
        bench_log("done in %.0f s", bench_now() - t_start);
        return failed ? 1 : 0;
}
