/*
 * The "kbus" side of the benchmark: the same work as side_raw.c, written
 * as a kbus user writes it, with the stubs protoc-gen-kbus made from
 * bench.proto and runtimes on the shared event_base.
 *
 * Every round uses fresh topics, and a generated stub's topic is fixed in
 * its descriptor, so publishing and subscribing go through a copy of the
 * generated descriptor with the topic changed and call kbus_publish() and
 * kbus_subscribe() the way the generated bench_v1_tick_publish() and
 * bench_v1_tick_subscribe() do; calls use the generated stub with a topic
 * in kbus_call_opts.  Both are the same code path as the stubs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event_struct.h>

#include "bench.h"
#include "bench.kbus.h"
#include "google/protobuf/wrappers.pb-c.h"

/* A runtime; \p log_level for its log, and a short session for a group
 * that its members leave and join again at once (see restore_runtime). */
static kbus_runtime *runtime_at(bench_env *env, const char *name,
                                const char *group, const char *reply_topic,
                                const char *log_level, bool short_session) {
        kbus_config *conf;
        kbus_runtime *rt;
        char err[512], in_flight[32];
        long calls = env->opts.mem_calls > 10000 ? env->opts.mem_calls : 10000;

        snprintf(in_flight, sizeof(in_flight), "%ld", calls + 1024);
        if (kbus_config_new(&conf))
                return NULL;
        if (kbus_config_set(conf, "bootstrap", env->bootstrap, err,
                            sizeof(err)) ||
            kbus_config_set(conf, "low_latency", "true", err, sizeof(err)) ||
            kbus_config_set(conf, "name", name, err, sizeof(err)) ||
            kbus_config_set(conf, "log_level", log_level, err, sizeof(err)) ||
            kbus_config_set(conf, "client_max_in_flight", in_flight, err,
                            sizeof(err)) ||
            (group &&
             kbus_config_set(conf, "group", group, err, sizeof(err))) ||
            (short_session &&
             kbus_config_set(conf, "consumer.session.timeout.ms", "4000", err,
                             sizeof(err))) ||
            (reply_topic && kbus_config_set(conf, "reply_topic", reply_topic,
                                            err, sizeof(err)))) {
                fprintf(stderr, "bench: kbus: config: %s\n", err);
                kbus_config_free(conf);
                return NULL;
        }
        for (int i = 0; i < env->opts.n_producer_props; i++) {
                const char *prop = env->opts.producer_props[i];
                const char *eq = strchr(prop, '=');
                char key[256];
                snprintf(key, sizeof(key), "producer.%.*s", (int)(eq - prop),
                         prop);
                if (kbus_config_set(conf, key, eq + 1, err, sizeof(err))) {
                        fprintf(stderr, "bench: kbus: config: %s\n", err);
                        kbus_config_free(conf);
                        return NULL;
                }
        }
        if (kbus_runtime_new(&rt, &conf, env->base, err, sizeof(err))) {
                fprintf(stderr, "bench: kbus: runtime: %s\n", err);
                kbus_config_free(conf);
                return NULL;
        }
        return rt;
}

static kbus_runtime *runtime(bench_env *env, const char *name,
                             const char *group, const char *reply_topic) {
        return runtime_at(env, name, group, reply_topic, "warn", false);
}

/* A runtime of case (h)'s group.  One member leaves it and the next joins
 * it a moment later; the embedded broker then waits session.timeout.ms
 * less one second before it assigns the partition (5 s with kbus's
 * 6,000 ms), which is not measured but would make every round longer. */
static kbus_runtime *restore_runtime(bench_env *env, const char *group,
                                     const char *log_level) {
        return runtime_at(env, "bench-restore", group, NULL, log_level, true);
}

/* ---- (a) publish ---- */

/* Publishes n events, running the loop every 1,000 as the raw side does;
 * a full producer queue (RESOURCE_EXHAUSTED) waits for room. */
static int publish_events(bench_env *env, kbus_runtime *rt,
                          const kbus_event_desc *ev, long first, long n) {
        for (long i = 0; i < n; i++) {
                Bench__V1__Tick t;
                char key[16];
                int rc;
                bench_tick(&t, first + i, key);
                while ((rc = kbus_publish(rt, ev, &t.base)) ==
                       KBUS_RESOURCE_EXHAUSTED)
                        event_base_loop(env->base, EVLOOP_ONCE);
                if (rc) {
                        fprintf(stderr, "bench: kbus: publish: %s\n",
                                kbus_strerror(rc));
                        return -1;
                }
                if (i % 1000 == 999)
                        event_base_loop(env->base, EVLOOP_NONBLOCK);
        }
        return 0;
}

/* The fence: a one-way call completes when the producer reports its
 * delivery.  Sent after the events, it is written in the last produce
 * request to the broker, whose responses come back in order, so its report
 * comes with or after those of every event before it. */
typedef struct fence {
        bench_env *env;
        kbus_status status;
        bool done;
} fence;

static void on_fence(kbus_status status, const char *message,
                     const Bench__V1__Pong *reply, void *arg) {
        fence *f = arg;
        f->status = status;
        f->done = true;
        event_base_loopbreak(f->env->base);
}

static int fence_wait(bench_env *env, kbus_runtime *rt, const char *topic) {
        fence f = {.env = env};
        kbus_call_opts *opts;
        Bench__V1__Tick t;
        char key[16];
        int rc;

        if (kbus_call_opts_new(&opts))
                return -1;
        kbus_call_opts_set_topic(opts, topic);
        bench_tick(&t, -1, key);
        rc = bench_v1_echo_mark(rt, &t, opts, on_fence, &f);
        kbus_call_opts_free(opts);
        if (rc || !bench_run_until(env, &f.done, 60) || f.status != KBUS_OK) {
                fprintf(stderr, "bench: kbus: events not delivered: %s\n",
                        kbus_strerror(rc ? rc : (int)f.status));
                return -1;
        }
        return 0;
}

static double kbus_side_publish(bench_env *env, const char *topic, long n) {
        kbus_event_desc ev = bench_v1_tick__event;
        kbus_runtime *rt = runtime(env, "bench-pub", NULL, NULL);
        double t0, t = -1;

        if (!rt)
                return -1;
        ev.topic = topic;
        /* Warm up: metadata for the topic, connections, the idempotent
         * producer's id. */
        if (publish_events(env, rt, &ev, 0, 100) || fence_wait(env, rt, topic))
                goto out;
        /* From the first publish until the last delivery report. */
        t0 = bench_now();
        if (!publish_events(env, rt, &ev, 100, n) &&
            !fence_wait(env, rt, topic))
                t = bench_now() - t0;
out:
        kbus_runtime_free(rt);
        return t < 0 ? -1 : (double)n / t;
}

/* ---- (b) subscribe ---- */

typedef struct kbus_sub {
        bench_env *env;
        long want, got;
        int64_t seq_sum;
        double t_first, t_last;
        bool done;
} kbus_sub;

static void on_tick(kbus_call *call, const Bench__V1__Tick *t, void *arg) {
        kbus_sub *s = arg;
        s->seq_sum += t->seq;
        if (++s->got == 1)
                s->t_first = bench_now();
        if (s->got == s->want) {
                s->t_last = bench_now();
                s->done = true;
                event_base_loopbreak(s->env->base);
        }
        kbus_call_ack(call);
}

static double kbus_side_subscribe(bench_env *env, const char *topic,
                                  const char *group, long n) {
        kbus_event_desc ev = bench_v1_tick__event;
        kbus_sub s = {.env = env, .want = n};
        kbus_runtime *rt = runtime(env, "bench-sub", group, NULL);
        double rate = -1;

        if (!rt)
                return -1;
        ev.topic = topic;
        if (kbus_subscribe(rt, &ev, group, (kbus_fn)on_tick, &s) ||
            kbus_runtime_start(rt))
                goto out;
        if (!bench_run_until(env, &s.done, 60)) {
                fprintf(stderr, "bench: kbus: %ld of %ld records consumed\n",
                        s.got, n);
                goto out;
        }
        rate = (double)(n - 1) / (s.t_last - s.t_first);
out:
        kbus_runtime_free(rt);
        return rate;
}

/* ---- (c), (d), (e) request/reply ---- */

typedef struct kbus_rpc {
        bench_env *env;
        kbus_runtime *srv, *cli;
        kbus_service_desc svc; /* the generated one, on our topic */
        kbus_call_opts *opts;
        bench_rpc_done_fn done;
        void *arg;
        bool warm_done;
} kbus_rpc;

static void on_call(kbus_call *call, const Bench__V1__Ping *req, void *arg) {
        Bench__V1__Pong pong = BENCH__V1__PONG__INIT;
        pong.seq = req->seq;
        pong.body = req->body;
        bench_v1_echo_call_reply(call, &pong);
}

static const bench_v1_echo_handlers echo_handlers = {.call = on_call};

static void on_reply(kbus_status status, const char *message,
                     const Bench__V1__Pong *reply, void *arg) {
        kbus_rpc *k = arg;
        k->done(k->arg, status == KBUS_OK && reply);
}

static int kbus_rpc_call(void *h, int64_t seq) {
        kbus_rpc *k = h;
        Bench__V1__Ping ping;
        char key[16];
        bench_ping(&ping, seq, key);
        return bench_v1_echo_call(k->cli, &ping, k->opts, on_reply, k);
}

static void warm_done(void *arg, bool ok) {
        kbus_rpc *k = arg;
        k->warm_done = true;
        event_base_loopbreak(k->env->base);
}

static void ignore_done(void *arg, bool ok) {
}

static void kbus_rpc_close(void *h) {
        kbus_rpc *k = h;
        if (!k)
                return;
        /* Calls still pending end CANCELLED in kbus_runtime_free(). */
        k->done = ignore_done;
        kbus_runtime_free(k->cli);
        kbus_runtime_free(k->srv);
        kbus_call_opts_free(k->opts);
        free(k);
}

static void *kbus_rpc_open(bench_env *env, const char *tag,
                           const char *req_topic, const char *reply_topic,
                           bench_rpc_done_fn done, void *arg) {
        kbus_rpc *k = calloc(1, sizeof(*k));
        char group[300];

        if (!k)
                return NULL;
        k->env = env;
        k->svc = bench_v1_echo__service;
        k->svc.topic = req_topic;
        snprintf(group, sizeof(group), "bench-srv-%s", tag);
        if (!(k->srv = runtime(env, "bench-srv", group, NULL)) ||
            !(k->cli = runtime(env, "bench-cli", NULL, reply_topic)) ||
            kbus_call_opts_new(&k->opts) ||
            kbus_call_opts_set_topic(k->opts, req_topic))
                goto fail;
        kbus_call_opts_set_timeout(k->opts, BENCH_TIMEOUT_MS);
        if (kbus_serve(k->srv, &k->svc, &echo_handlers, sizeof(echo_handlers),
                       NULL) ||
            kbus_runtime_start(k->srv) || kbus_runtime_start(k->cli))
                goto fail;
        k->done = warm_done;
        k->arg = k;
        if (kbus_rpc_call(k, 0) || !bench_run_until(env, &k->warm_done, 30)) {
                fprintf(stderr,
                        "bench: kbus: the echo server never answered\n");
                goto fail;
        }
        k->done = done;
        k->arg = arg;
        return k;
fail:
        kbus_rpc_close(k);
        return NULL;
}

/* ---- (f) handlers that finish 5 ms later ---- */

/* One record in its handler: the timer stands for a call to another
 * service. */
typedef struct slow_call {
        struct event timer;
        kbus_call *call;
        struct kbus_slow *s;
        struct slow_call *prev, *next;
} slow_call;

typedef struct kbus_slow {
        bench_env *env;
        long want, got;
        double t_first, t_last, t_end;
        bool done;
        double secs;
        slow_call *pending; /* to cancel when a run is cut short */
} kbus_slow;

static void slow_unlink(slow_call *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                c->s->pending = c->next;
        if (c->next)
                c->next->prev = c->prev;
}

static void slow_finish(evutil_socket_t fd, short what, void *arg) {
        slow_call *c = arg;
        kbus_slow *s = c->s;
        kbus_call_ack(c->call);
        slow_unlink(c);
        free(c);
        if (s->done)
                return;
        s->got++;
        s->t_last = bench_now();
        if (s->got == s->want || s->t_last >= s->t_end) {
                s->done = true;
                event_base_loopbreak(s->env->base);
        }
}

static void on_slow_tick(kbus_call *call, const Bench__V1__Tick *t, void *arg) {
        kbus_slow *s = arg;
        slow_call *c = malloc(sizeof(*c));
        struct timeval five_ms = {0, 5000};
        if (!c) {
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        if (s->t_first == 0) {
                s->t_first = bench_now();
                s->t_end = s->t_first + s->secs;
        }
        c->call = call;
        c->s = s;
        c->prev = NULL;
        c->next = s->pending;
        if (s->pending)
                s->pending->prev = c;
        s->pending = c;
        evtimer_assign(&c->timer, s->env->base, slow_finish, c);
        evtimer_add(&c->timer, &five_ms);
}

double bench_kbus_ordered(bench_env *env, const char *topic, const char *group,
                          long n, double secs, kbus_ordering ordering,
                          int max_in_flight) {
        kbus_event_desc ev = bench_v1_tick__event;
        kbus_slow s = {.env = env, .want = n, .secs = secs};
        kbus_runtime *rt = runtime(env, "bench-ordered", group, NULL);
        double rate = -1;

        if (!rt)
                return -1;
        ev.topic = topic;
        if (kbus_runtime_set_ordering(rt, topic, ordering, max_in_flight) ||
            kbus_subscribe(rt, &ev, group, (kbus_fn)on_slow_tick, &s) ||
            kbus_runtime_start(rt))
                goto out;
        if (!bench_run_until(env, &s.done, secs + 30) || s.got < 2) {
                fprintf(stderr, "bench: kbus: %ld of %ld slow records done\n",
                        s.got, n);
                goto out;
        }
        rate = (double)s.got / (s.t_last - s.t_first);
out:
        /* Records still in handlers are let go with the runtime. */
        while (s.pending) {
                slow_call *c = s.pending;
                evtimer_del(&c->timer);
                slow_unlink(c);
                free(c);
        }
        kbus_runtime_free(rt);
        return rate;
}

/* ---- (g), (h) a table ---- */

/* The table of the counting service of docs/STATE.md
 * (tests/state/counter.c): a count per key. */
static const kbus_table_desc counts_table = {
    .name = "counts",
    .value = &google__protobuf__int64_value__descriptor,
};

typedef struct kbus_tbl {
        bench_env *env;
        long want, got, failed;
        double t_first;
        bool read_only; /* a query: read the count, write nothing */
        bool done;
} kbus_tbl;

/* Reads the event's count, adds one, writes it: the changelog record goes
 * out when the call is acknowledged, and the event's offset is stored
 * once it is delivered. */
static void on_count(kbus_call *call, const Bench__V1__Tick *t, void *arg) {
        kbus_tbl *s = arg;
        const ProtobufCMessage *old = NULL;
        Google__Protobuf__Int64Value v = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
        int rc = kbus_table_get(call, &counts_table, NULL, 0, &old);

        if (rc && rc != KBUS_NOT_FOUND) {
                s->failed++;
                kbus_call_fail(call, KBUS_INTERNAL, kbus_strerror(rc));
                return;
        }
        v.value =
            old ? ((const Google__Protobuf__Int64Value *)old)->value + 1 : 1;
        if (!s->read_only &&
            (rc = kbus_table_put(call, &counts_table, NULL, 0, &v.base))) {
                s->failed++;
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
                return;
        }
        if (++s->got == 1)
                s->t_first = bench_now();
        if (s->got == s->want) {
                s->done = true;
                event_base_loopbreak(s->env->base);
        }
        kbus_call_ack(call);
}

/* Runs the loop until \p rt is ready (its group joined, its tables
 * restored) or \p secs pass. */
static bool wait_ready(bench_env *env, kbus_runtime *rt, double secs) {
        double end = bench_now() + secs;
        struct timeval tick = {0, 2000};
        while (!kbus_runtime_ready(rt) && bench_now() < end) {
                event_base_loopexit(env->base, &tick);
                event_base_dispatch(env->base);
        }
        return kbus_runtime_ready(rt);
}

/* What a handler's failure or a retry would hide in a figure. */
static bool table_clean(kbus_runtime *rt, const kbus_tbl *s) {
        uint64_t retries = kbus_runtime_stat(rt, KBUS_STAT_RETRIES);
        uint64_t dead = kbus_runtime_stat(rt, KBUS_STAT_DEAD_LETTERED);
        if (!s->failed && !retries && !dead)
                return true;
        fprintf(stderr,
                "bench: kbus: %ld table calls failed, %" PRIu64
                " retries, %" PRIu64 " dead letters\n",
                s->failed, retries, dead);
        return false;
}

static double kbus_side_table_update(bench_env *env, const char *topic,
                                     const char *group, const char *changelog,
                                     const char *fence_topic, long n) {
        kbus_event_desc ev = bench_v1_tick__event;
        kbus_tbl s = {.env = env, .want = n};
        kbus_runtime *rt = runtime(env, "bench-table", group, NULL);
        double rate = -1;

        if (!rt)
                return -1;
        ev.topic = topic;
        /* kbus names the changelog itself; the caller made the topic. */
        (void)changelog;
        if ((env->opts.table_max_in_flight &&
             kbus_runtime_set_ordering(rt, topic, KBUS_ORDER_KEY,
                                       env->opts.table_max_in_flight)) ||
            kbus_table_attach(rt, &counts_table, NULL) ||
            kbus_subscribe(rt, &ev, group, (kbus_fn)on_count, &s) ||
            kbus_runtime_start(rt) ||
            /* The producer's connection and id, during the join. */
            fence_wait(env, rt, fence_topic))
                goto out;
        if (!bench_run_until(env, &s.done, 60)) {
                fprintf(stderr, "bench: kbus: %ld of %ld records counted\n",
                        s.got, n);
                goto out;
        }
        /* Every write is out: the fence's delivery report comes after
         * theirs, and each record's offset is stored in its own. */
        if (fence_wait(env, rt, fence_topic) || !table_clean(rt, &s))
                goto out;
        rate = (double)(n - 1) / (bench_now() - s.t_first);
out:
        kbus_runtime_free(rt);
        return rate;
}

/* A little time for librdkafka to let go of what a restore fetched
 * before the heap is measured. */
#define SETTLE_SECS 0.3

/* Events written and handled at a time while filling a changelog. */
#define FILL_STEP 5000

int bench_kbus_table_fill(bench_env *env, bench_restore *r) {
        kbus_event_desc ev = bench_v1_tick__event;
        kbus_tbl s = {.env = env};
        Google__Protobuf__Int64Value one = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
        kbus_runtime *rt = restore_runtime(env, r->group, "warn");
        double heap, end;
        int rc = -1;

        if (!rt)
                return -1;
        one.value = 1;
        r->value_len = google__protobuf__int64_value__get_packed_size(&one);
        ev.topic = r->topic;
        /* Room for a whole step: a partition paused for lack of it waits
         * up to a second for librdkafka to fetch again. */
        if (kbus_table_attach(rt, &counts_table, NULL) ||
            kbus_runtime_set_ordering(rt, r->topic, KBUS_ORDER_KEY,
                                      FILL_STEP) ||
            kbus_subscribe(rt, &ev, r->group, (kbus_fn)on_count, &s))
                goto out;
        /* What a table runtime takes from its start to its readiness with
         * nothing to restore, measured as the restores measure it: the
         * restores' figures count the rest. */
        heap = bench_heap_bytes();
        if (kbus_runtime_start(rt) || !wait_ready(env, rt, 60)) {
                fprintf(stderr, "bench: kbus: the table never got ready\n");
                goto out;
        }
        bench_run_for(env, SETTLE_SECS);
        r->kbus_fixed = bench_heap_bytes() - heap;
        /* One event per key, each written once: 1 in every entry.  In
         * steps, each handled before the next is written: the broker keeps
         * 5 MB of a partition, about 12,000 of these events. */
        end = bench_now() + 60;
        for (long first = 0; first < r->entries; first += FILL_STEP) {
                long n = r->entries - first < FILL_STEP ? r->entries - first
                                                        : FILL_STEP;
                /* The loop runs while the events are written. */
                s.want = first + n;
                s.done = false;
                if (bench_raw_fill_keyed(env, r->topic, first, n, r->entries))
                        goto out;
                if (!bench_run_until(env, &s.done, end - bench_now())) {
                        fprintf(stderr,
                                "bench: kbus: %ld of %ld entries "
                                "written\n",
                                s.got, r->entries);
                        goto out;
                }
        }
        if (fence_wait(env, rt, r->fence_topic) || !table_clean(rt, &s))
                goto out;
        rc = 0;
out:
        kbus_runtime_free(rt);
        return rc;
}

/* kbus says when a restore ends, and how long it took, in a log line;
 * the library's log goes to a file meanwhile, read here. */
typedef struct restore_log {
        long entries;
        int64_t records, ms;
        bool found;
} restore_log;

static void read_restore_log(FILE *f, restore_log *out) {
        char line[4096];
        rewind(f);
        while (fgets(line, sizeof(line), f)) {
                const char *p = strstr(line, " restored: ");
                const char *in = p ? strstr(p, " in ") : NULL;
                int64_t from;
                if (p && in &&
                    sscanf(p,
                           " restored: %ld entries, %" SCNd64
                           " changelog records read from offset %" SCNd64,
                           &out->entries, &out->records, &from) == 3 &&
                    sscanf(in, " in %" SCNd64 " ms", &out->ms) == 1) {
                        out->found = true;
                        continue;
                }
                /* Anything but the library's info lines is worth seeing. */
                if (!strstr(line, "\"level\":\"info\"") &&
                    !strstr(line, "\"level\":\"debug\""))
                        fputs(line, stderr);
        }
}

static double kbus_side_table_restore(bench_env *env, bench_restore *r) {
        kbus_event_desc ev = bench_v1_tick__event;
        kbus_tbl s = {.env = env, .want = 1, .read_only = true};
        restore_log rl = {0};
        FILE *log = tmpfile();
        kbus_runtime *rt = NULL;
        double heap0, heap1, heap2, rate = -1;
        size_t size;
        int saved = -1;
        bool log_read = false;

        if (!log)
                return -1;
        ev.topic = r->topic;
        fflush(stderr);
        if ((saved = dup(2)) < 0 || dup2(fileno(log), 2) < 0)
                goto out;
        if (!(rt = restore_runtime(env, r->group, "info")) ||
            kbus_table_attach(rt, &counts_table, NULL) ||
            kbus_subscribe(rt, &ev, r->group, (kbus_fn)on_count, &s))
                goto out;
        heap0 = bench_heap_bytes();
        if (kbus_runtime_start(rt) || !wait_ready(env, rt, 60)) {
                fprintf(stderr, "bench: kbus: the table was never restored\n");
                goto out;
        }
        bench_run_for(env, SETTLE_SECS);
        heap1 = bench_heap_bytes();
        size = kbus_table_size(rt, &counts_table);
        /* A first record (a query: it writes nothing, so that the
         * changelog stays as it is for the next rounds): the partition's
         * committed offset is known then, and what kbus keeps to recognise
         * the records before it, should they come again, can go. */
        {
                Bench__V1__Tick t;
                char key[16];
                bench_tick_keyed(&t, r->entries, r->entries + 1, key);
                if (kbus_publish(rt, &ev, &t.base) ||
                    !bench_run_until(env, &s.done, 60) ||
                    fence_wait(env, rt, r->fence_topic) || !table_clean(rt, &s))
                        goto out;
        }
        bench_run_for(env, SETTLE_SECS);
        heap2 = bench_heap_bytes();
        kbus_runtime_free(rt);
        rt = NULL;
        fflush(stderr);
        dup2(saved, 2);
        read_restore_log(log, &rl);
        log_read = true;
        if (!rl.found || rl.entries != r->entries || rl.records != r->entries ||
            size != (size_t)r->entries) {
                fprintf(stderr,
                        "bench: kbus: restored %ld entries (%zu in "
                        "the table) from %" PRId64 " records; "
                        "expected %ld\n",
                        rl.entries, size, rl.records, r->entries);
                goto out;
        }
        /* Milliseconds: a restore of 50,000 records takes hundreds. */
        rate = (double)rl.records / ((double)(rl.ms ? rl.ms : 1) / 1000);
        r->bytes_restored =
            (heap1 - heap0 - r->kbus_fixed) / (double)r->entries -
            (double)r->value_len;
        r->bytes_steady = (heap2 - heap0 - r->kbus_fixed) / (double)r->entries -
                          (double)r->value_len;
out:
        kbus_runtime_free(rt);
        if (saved >= 0) {
                fflush(stderr);
                dup2(saved, 2);
                close(saved);
                if (!log_read) /* say what went wrong */
                        read_restore_log(log, &rl);
        }
        fclose(log);
        return rate;
}

const bench_side bench_side_kbus = {
    .name = "kbus",
    .publish = kbus_side_publish,
    .subscribe = kbus_side_subscribe,
    .rpc_open = kbus_rpc_open,
    .rpc_call = kbus_rpc_call,
    .rpc_close = kbus_rpc_close,
    .table_update = kbus_side_table_update,
    .table_restore = kbus_side_table_restore,
};
