/*
 * The "raw" side of the benchmark: the same work as kbus, written by hand
 * on librdkafka the way a careful C programmer would, so that the ratio
 * shows what kbus costs and not what a clumsy baseline wastes.
 *
 * It uses exactly the librdkafka properties kbus uses in low-latency mode
 * (framework/runtime.c, kbus__kafka_conf), puts the same kbus/1 headers on
 * every record (docs/WIRE.md), packs the same protobuf messages, and runs
 * on the same event_base with the same bridge: librdkafka writes to a pipe
 * when a queue becomes non-empty, and each wake-up drains the pipe and
 * then the queue.  Where a careful programmer would do better than the
 * obvious code it does: values are packed into a stack buffer and copied
 * by librdkafka, pending calls live in a preallocated pool with a
 * hash on the correlation id, and their deadline timers share one libevent
 * common timeout, since every call has the same timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event_struct.h>

#include "bench.h"
#include "google/protobuf/wrappers.pb-c.h"

#define RAW_TYPE "bench.v1.Tick"
#define RAW_METHOD "/bench.v1.Echo/Call"
#define RAW_TP_LEN 55

/* ---- random ids: xoshiro256**, seeded once from the OS ---- */

static uint64_t rng[4];

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rand64(void) {
        uint64_t r, t;
        if (!(rng[0] | rng[1] | rng[2] | rng[3]))
                if (getrandom(rng, sizeof(rng), 0) != (ssize_t)sizeof(rng))
                        rng[0] = (uint64_t)bench_epoch_ms() | 1;
        r = rotl(rng[1] * 5, 7) * 9;
        t = rng[1] << 17;
        rng[2] ^= rng[0];
        rng[3] ^= rng[1];
        rng[1] ^= rng[2];
        rng[0] ^= rng[3];
        rng[2] ^= t;
        rng[3] = rotl(rng[3], 45);
        return r;
}

static void rand_bytes(uint8_t *b, size_t n) {
        while (n > 0) {
                uint64_t r = rand64();
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

/* A W3C traceparent: a child span of \p parent (55 bytes, or NULL for a
 * new trace). */
static void traceparent(char out[RAW_TP_LEN + 1], const char *parent) {
        uint8_t ids[24];
        rand_bytes(ids, sizeof(ids));
        if (parent) {
                memcpy(out, parent, RAW_TP_LEN);
                hex(out + 36, ids, 8);
        } else {
                memcpy(out, "00-", 3);
                hex(out + 3, ids, 16);
                out[35] = '-';
                hex(out + 36, ids + 16, 8);
                memcpy(out + 52, "-01", 3);
        }
        out[RAW_TP_LEN] = '\0';
}

/* ce_id: a version 4 UUID. */
static void uuid4(char out[37]) {
        uint8_t b[16];
        char h[32];
        rand_bytes(b, sizeof(b));
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        hex(h, b, 16);
        memcpy(out, h, 8);
        out[8] = '-';
        memcpy(out + 9, h + 8, 4);
        out[13] = '-';
        memcpy(out + 14, h + 12, 4);
        out[18] = '-';
        memcpy(out + 19, h + 16, 4);
        out[23] = '-';
        memcpy(out + 24, h + 20, 12);
        out[36] = '\0';
}

/* ce_time, RFC 3339 with milliseconds.  The date part changes once a
 * second, so it is formatted once a second. */
static size_t rfc3339_now(char out[32]) {
        static time_t cached_sec = -1;
        static char cached[24];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (ts.tv_sec != cached_sec) {
                struct tm tm;
                gmtime_r(&ts.tv_sec, &tm);
                strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
                cached_sec = ts.tv_sec;
        }
        return (size_t)snprintf(out, 32, "%s.%03ldZ", cached,
                                ts.tv_nsec / 1000000);
}

/* ---- configuration ---- */

static void conf_set(rd_kafka_conf_t *conf, const char *name,
                     const char *value) {
        char err[256];
        if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "bench: raw: %s=%s: %s\n", name, value, err);
                abort();
        }
}

/* What kbus sets in low-latency mode, nothing more and nothing less (see
 * kbus__kafka_conf in framework/runtime.c), plus the --producer options. */
static rd_kafka_conf_t *raw_conf(bench_env *env, bool consumer,
                                 const char *client_id) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        conf_set(conf, "bootstrap.servers", env->bootstrap);
        conf_set(conf, "client.id", client_id);
        conf_set(conf, "socket.nagle.disable", "true");
        if (consumer) {
                conf_set(conf, "enable.auto.offset.store", "false");
                conf_set(conf, "auto.offset.reset", "earliest");
                conf_set(conf, "allow.auto.create.topics", "true");
                conf_set(conf, "enable.partition.eof", "false");
                conf_set(conf, "fetch.wait.max.ms", "5");
                conf_set(conf, "fetch.error.backoff.ms", "10");
                conf_set(conf, "session.timeout.ms", "6000");
                conf_set(conf, "heartbeat.interval.ms", "500");
                conf_set(conf, "topic.metadata.refresh.interval.ms", "1000");
        } else {
                conf_set(conf, "partitioner", "murmur2_random");
                conf_set(conf, "enable.idempotence", "true");
                conf_set(conf, "max.in.flight.requests.per.connection", "1");
                conf_set(conf, "linger.ms", "1");
                conf_set(conf, "topic.metadata.refresh.interval.ms", "1000");
                for (int i = 0; i < env->opts.n_producer_props; i++) {
                        const char *prop = env->opts.producer_props[i];
                        const char *eq = strchr(prop, '=');
                        char name[256];
                        snprintf(name, sizeof(name), "%.*s", (int)(eq - prop),
                                 prop);
                        conf_set(conf, name, eq + 1);
                }
        }
        return conf;
}

static rd_kafka_t *raw_new(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
        char err[512];
        rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "bench: raw: rd_kafka_new: %s\n", err);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

/* ---- the bridge from a librdkafka queue into the loop ---- */

typedef struct raw_bridge {
        rd_kafka_queue_t *queue;
        int fds[2];
        struct event *ev;
        void (*drain)(void *arg);
        void *arg;
} raw_bridge;

static void bridge_wake(evutil_socket_t fd, short what, void *arg) {
        raw_bridge *b = arg;
        char buf[64];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        b->drain(b->arg);
}

static int bridge_init(raw_bridge *b, bench_env *env, rd_kafka_queue_t *q,
                       void (*drain)(void *), void *arg) {
        b->queue = q;
        b->drain = drain;
        b->arg = arg;
        if (pipe2(b->fds, O_NONBLOCK | O_CLOEXEC) == -1)
                return -1;
        b->ev = event_new(env->base, b->fds[0], EV_READ | EV_PERSIST,
                          bridge_wake, b);
        if (!b->ev || event_add(b->ev, NULL) == -1)
                return -1;
        rd_kafka_queue_io_event_enable(q, b->fds[1], "1", 1);
        /* Events queued before the fd was set would wake nobody. */
        event_active(b->ev, EV_READ, 0);
        return 0;
}

static void bridge_fini(raw_bridge *b) {
        if (b->queue) {
                rd_kafka_queue_io_event_enable(b->queue, -1, NULL, 0);
                rd_kafka_queue_destroy(b->queue);
                b->queue = NULL;
        }
        if (b->ev) {
                event_free(b->ev);
                b->ev = NULL;
        }
        for (int i = 0; i < 2; i++)
                if (b->fds[i] >= 0) {
                        close(b->fds[i]);
                        b->fds[i] = -1;
                }
}

static void producer_drain(void *arg) {
        while (rd_kafka_poll(arg, 0) > 0)
                ;
}

/* ---- events out: (a), and filling topics for (b) and (f) ---- */

typedef struct raw_pub {
        bench_env *env;
        long delivered, failed, want;
        bool done;
} raw_pub;

static void pub_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        raw_pub *p = opaque;
        if (m->err)
                p->failed++;
        if (++p->delivered == p->want) {
                p->done = true;
                event_base_loopbreak(p->env->base);
        }
}

/* One event with kbus's headers, in kbus's order. */
static rd_kafka_resp_err_t produce_event(rd_kafka_t *rk, const char *topic,
                                         int64_t seq, long keys) {
        Bench__V1__Tick t;
        char key[16], id[37], when[32], tp[RAW_TP_LEN + 1];
        uint8_t buf[256];
        size_t len, when_len;

        bench_tick_keyed(&t, seq, keys, key);
        len = bench__v1__tick__pack(&t, buf);
        uuid4(id);
        when_len = rfc3339_now(when);
        traceparent(tp, NULL);
        return rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(buf, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("ce_specversion", "1.0", 3),
            RD_KAFKA_V_HEADER("ce_id", id, 36),
            RD_KAFKA_V_HEADER("ce_source", "/bench-pub", 10),
            RD_KAFKA_V_HEADER("ce_type", RAW_TYPE, sizeof(RAW_TYPE) - 1),
            RD_KAFKA_V_HEADER("ce_time", when, (ssize_t)when_len),
            RD_KAFKA_V_HEADER("content-type", "application/protobuf", 20),
            RD_KAFKA_V_HEADER("traceparent", tp, RAW_TP_LEN), RD_KAFKA_V_END);
}

/* Produces n events, serving delivery reports every 1,000 as kbus's side
 * does, and waits for the last report.  Returns the seconds it took, or
 * -1. */
static double produce_events(bench_env *env, rd_kafka_t *rk, raw_pub *p,
                             const char *topic, long first, long n, long keys) {
        double t0 = bench_now();
        p->want = p->delivered + n;
        p->done = false;
        for (long i = 0; i < n; i++) {
                rd_kafka_resp_err_t err;
                while ((err = produce_event(rk, topic, first + i, keys)) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        event_base_loop(env->base, EVLOOP_ONCE);
                if (err) {
                        fprintf(stderr, "bench: raw: produce: %s\n",
                                rd_kafka_err2str(err));
                        return -1;
                }
                if (i % 1000 == 999)
                        event_base_loop(env->base, EVLOOP_NONBLOCK);
        }
        if (!bench_run_until(env, &p->done, 60) || p->failed) {
                fprintf(stderr, "bench: raw: %ld of %ld events not delivered\n",
                        p->want - p->delivered + p->failed, n);
                return -1;
        }
        return bench_now() - t0;
}

static rd_kafka_t *pub_new(bench_env *env, raw_pub *p, raw_bridge *b) {
        rd_kafka_conf_t *conf = raw_conf(env, false, "bench-pub");
        rd_kafka_t *rk;
        rd_kafka_conf_set_dr_msg_cb(conf, pub_dr);
        rd_kafka_conf_set_opaque(conf, p);
        if (!(rk = raw_new(RD_KAFKA_PRODUCER, conf)))
                return NULL;
        b->fds[0] = b->fds[1] = -1;
        if (bridge_init(b, env, rd_kafka_queue_get_main(rk), producer_drain,
                        rk)) {
                bridge_fini(b);
                rd_kafka_destroy(rk);
                return NULL;
        }
        return rk;
}

static void pub_free(rd_kafka_t *rk, raw_bridge *b) {
        bridge_fini(b);
        rd_kafka_destroy(rk);
}

int bench_raw_fill_keyed(bench_env *env, const char *topic, long first, long n,
                         long keys) {
        raw_pub p = {.env = env};
        raw_bridge b;
        rd_kafka_t *rk = pub_new(env, &p, &b);
        double t;
        if (!rk)
                return -1;
        t = produce_events(env, rk, &p, topic, first, n, keys);
        pub_free(rk, &b);
        return t < 0 ? -1 : 0;
}

int bench_raw_fill(bench_env *env, const char *topic, long first, long n) {
        return bench_raw_fill_keyed(env, topic, first, n, BENCH_KEYS);
}

static double raw_publish(bench_env *env, const char *topic, long n) {
        raw_pub p = {.env = env};
        raw_bridge b;
        rd_kafka_t *rk = pub_new(env, &p, &b);
        double t;
        if (!rk)
                return -1;
        /* Warm up: metadata for the topic, connections. */
        if (produce_events(env, rk, &p, topic, 0, 100, BENCH_KEYS) < 0) {
                pub_free(rk, &b);
                return -1;
        }
        /* From the first produce until the last delivery report. */
        t = produce_events(env, rk, &p, topic, 100, n, BENCH_KEYS);
        pub_free(rk, &b);
        return t < 0 ? -1 : (double)n / t;
}

/* ---- events in: (b) ---- */

typedef struct raw_sub {
        bench_env *env;
        rd_kafka_t *rk;
        raw_bridge b;
        long want, got, bad;
        int64_t seq_sum;
        double t_first, t_last;
        bool done;
} raw_sub;

/* The typed handler a hand-written consumer would call. */
static void on_tick(raw_sub *s, const Bench__V1__Tick *t) {
        s->seq_sum += t->seq;
        if (++s->got == 1)
                s->t_first = bench_now();
        if (s->got == s->want) {
                s->t_last = bench_now();
                s->done = true;
                event_base_loopbreak(s->env->base);
        }
}

static void sub_record(raw_sub *s, const rd_kafka_message_t *m) {
        rd_kafka_headers_t *h;
        const void *type;
        size_t type_len;
        Bench__V1__Tick *t;

        /* Several event types may share a topic, so a careful consumer
         * looks at ce_type before decoding. */
        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, "ce_type", &type, &type_len) ||
            type_len != sizeof(RAW_TYPE) - 1 ||
            memcmp(type, RAW_TYPE, type_len)) {
                s->bad++;
        } else if (!(t = bench__v1__tick__unpack(NULL, m->len, m->payload))) {
                s->bad++;
        } else {
                on_tick(s, t);
                bench__v1__tick__free_unpacked(t, NULL);
        }
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
}

static void sub_drain(void *arg) {
        raw_sub *s = arg;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(s->rk, 0))) {
                if (!m->err)
                        sub_record(s, m);
                rd_kafka_message_destroy(m);
        }
}

static double raw_subscribe(bench_env *env, const char *topic,
                            const char *group, long n) {
        raw_sub s = {.env = env, .want = n};
        rd_kafka_conf_t *conf = raw_conf(env, true, "bench-sub");
        rd_kafka_topic_partition_list_t *l;
        double rate = -1;

        conf_set(conf, "group.id", group);
        s.b.fds[0] = s.b.fds[1] = -1;
        if (!(s.rk = raw_new(RD_KAFKA_CONSUMER, conf)))
                return -1;
        rd_kafka_poll_set_consumer(s.rk);
        if (bridge_init(&s.b, env, rd_kafka_queue_get_consumer(s.rk), sub_drain,
                        &s))
                goto out;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(s.rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (!bench_run_until(env, &s.done, 60)) {
                fprintf(stderr, "bench: raw: %ld of %ld records consumed\n",
                        s.got, n);
                goto out;
        }
        if (s.bad)
                fprintf(stderr, "bench: raw: %ld bad records\n", s.bad);
        rate = (double)(n - 1) / (s.t_last - s.t_first);
out:
        rd_kafka_consumer_close(s.rk);
        bridge_fini(&s.b);
        rd_kafka_destroy(s.rk);
        return rate;
}

/* ---- request/reply: (c), (d), (e) ---- */

/* A call waiting for its reply.  Slots are reused only when both the
 * reply (or deadline) and the request's delivery report have come. */
typedef struct raw_slot {
        struct event timer;
        struct raw_rpc *r;
        uint8_t id[16];
        int32_t next; /* hash chain while waiting, free list otherwise */
        bool waiting;
        bool dr_pending;
        bool timer_ready;
} raw_slot;

#define RAW_SLOTS 16384 /* calls in flight at most, like kbus's 10,000 */
#define RAW_BUCKETS 32768

typedef struct raw_rpc {
        bench_env *env;
        bench_rpc_done_fn done;
        void *arg;
        char req_topic[256];
        char reply_topic[256];
        size_t reply_topic_len;
        /* server */
        rd_kafka_t *srv_c, *srv_p;
        raw_bridge srv_cb, srv_pb;
        long srv_dropped;
        /* client */
        rd_kafka_t *cli_p, *cli_c;
        raw_bridge cli_pb, cli_cb;
        raw_slot *slots;
        int32_t *buckets;
        int32_t free_head;
        const struct timeval *deadline_tv; /* a libevent common timeout */
        long cli_dropped;
        /* warm-up */
        bool warm_done;
} raw_rpc;

static size_t bucket_of(const uint8_t *id) {
        uint64_t h;
        memcpy(&h, id, sizeof(h)); /* random ids: any 8 bytes will do */
        return (size_t)(h & (RAW_BUCKETS - 1));
}

static raw_slot *slot_find(raw_rpc *r, const uint8_t *id) {
        for (int32_t i = r->buckets[bucket_of(id)]; i >= 0;
             i = r->slots[i].next)
                if (!memcmp(r->slots[i].id, id, 16))
                        return &r->slots[i];
        return NULL;
}

static void slot_unlink(raw_rpc *r, raw_slot *s) {
        int32_t idx = (int32_t)(s - r->slots);
        int32_t *pp = &r->buckets[bucket_of(s->id)];
        while (*pp != idx)
                pp = &r->slots[*pp].next;
        *pp = s->next;
}

static void slot_release(raw_rpc *r, raw_slot *s) {
        s->next = r->free_head;
        r->free_head = (int32_t)(s - r->slots);
}

/* Ends a waiting call with \p ok. */
static void call_end(raw_rpc *r, raw_slot *s, bool ok) {
        slot_unlink(r, s);
        s->waiting = false;
        evtimer_del(&s->timer);
        if (!s->dr_pending)
                slot_release(r, s);
        r->done(r->arg, ok);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
        raw_slot *s = arg;
        if (s->waiting)
                call_end(s->r, s, false);
}

static void cli_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        raw_rpc *r = opaque;
        raw_slot *s = m->_private;
        s->dr_pending = false;
        if (s->waiting) {
                if (m->err)
                        /* Fail now rather than at the deadline. */
                        call_end(r, s, false);
        } else {
                slot_release(r, s);
        }
}

static void cli_reply(raw_rpc *r, const rd_kafka_message_t *m) {
        rd_kafka_headers_t *h;
        const void *corr, *status;
        size_t corr_len, status_len;
        Bench__V1__Pong *pong;
        raw_slot *s;

        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, "kafka_correlationId", &corr,
                                     &corr_len) ||
            corr_len != 16 || !(s = slot_find(r, corr)) || !s->waiting) {
                r->cli_dropped++; /* unknown, late or a duplicate */
                return;
        }
        if (rd_kafka_header_get_last(h, "kbus-status", &status, &status_len) ||
            status_len != 1 || *(const char *)status != '0') {
                call_end(r, s, false);
                return;
        }
        pong = bench__v1__pong__unpack(NULL, m->len, m->payload);
        call_end(r, s, pong != NULL);
        if (pong)
                bench__v1__pong__free_unpacked(pong, NULL);
}

static void cli_drain(void *arg) {
        raw_rpc *r = arg;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(r->cli_c, 0))) {
                if (!m->err)
                        cli_reply(r, m);
                rd_kafka_message_destroy(m);
        }
}

static int raw_rpc_call(void *h, int64_t seq) {
        raw_rpc *r = h;
        Bench__V1__Ping ping;
        char key[16], deadline[24], tp[RAW_TP_LEN + 1];
        uint8_t buf[256], part[4] = {0, 0, 0, 0};
        size_t len;
        int dlen;
        raw_slot *s;
        rd_kafka_resp_err_t err;

        if (r->free_head < 0)
                return -1;
        s = &r->slots[r->free_head];
        r->free_head = s->next;
        rand_bytes(s->id, sizeof(s->id));
        if (!s->timer_ready) {
                evtimer_assign(&s->timer, r->env->base, on_deadline, s);
                s->r = r;
                s->timer_ready = true;
        }
        bench_ping(&ping, seq, key);
        len = bench__v1__ping__pack(&ping, buf);
        dlen = snprintf(deadline, sizeof(deadline), "%" PRId64,
                        bench_epoch_ms() + BENCH_TIMEOUT_MS);
        traceparent(tp, NULL);
        err = rd_kafka_producev(
            r->cli_p, RD_KAFKA_V_TOPIC(r->req_topic),
            RD_KAFKA_V_VALUE(buf, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("kbus-method", RAW_METHOD,
                              sizeof(RAW_METHOD) - 1),
            RD_KAFKA_V_HEADER("kafka_correlationId", s->id, 16),
            RD_KAFKA_V_HEADER("kafka_replyTopic", r->reply_topic,
                              (ssize_t)r->reply_topic_len),
            RD_KAFKA_V_HEADER("kafka_replyPartition", part, 4),
            RD_KAFKA_V_HEADER("kbus-deadline", deadline, dlen),
            RD_KAFKA_V_HEADER("traceparent", tp, RAW_TP_LEN),
            RD_KAFKA_V_HEADER("content-type", "application/protobuf", 20),
            RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);
        if (err) {
                slot_release(r, s);
                return -1;
        }
        s->next = r->buckets[bucket_of(s->id)];
        r->buckets[bucket_of(s->id)] = (int32_t)(s - r->slots);
        s->waiting = true;
        s->dr_pending = true;
        evtimer_add(&s->timer, r->deadline_tv);
        return 0;
}

/* The server: answer each request, and store its offset once the reply is
 * written (at-least-once, as kbus does). */
static void srv_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        rd_kafka_message_t *req = m->_private;
        rd_kafka_offset_store(req->rkt, req->partition, req->offset);
        rd_kafka_message_destroy(req);
}

static bool parse_decimal(const char *s, size_t n, int64_t *out) {
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

/* Takes ownership of \p m. */
static void srv_request(raw_rpc *r, rd_kafka_message_t *m) {
        rd_kafka_headers_t *h;
        const char *name, *method = NULL, *rtopic = NULL, *tpin = NULL;
        const uint8_t *corr = NULL, *rpart = NULL;
        const void *val;
        size_t size, method_len = 0, corr_len = 0, rtopic_len = 0;
        int64_t deadline = 0;
        char topic[256], tp[RAW_TP_LEN + 1];
        uint8_t buf[256];
        Bench__V1__Ping *ping;
        Bench__V1__Pong pong;
        size_t len;
        int32_t partition;

        /* One pass over the headers. */
        if (rd_kafka_message_headers(m, &h))
                goto drop;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size);
             i++) {
                if (!strcmp(name, "kbus-method")) {
                        method = val;
                        method_len = size;
                } else if (!strcmp(name, "kafka_correlationId")) {
                        corr = val;
                        corr_len = size;
                } else if (!strcmp(name, "kafka_replyTopic")) {
                        rtopic = val;
                        rtopic_len = size;
                } else if (!strcmp(name, "kafka_replyPartition")) {
                        rpart = size == 4 ? val : NULL;
                } else if (!strcmp(name, "kbus-deadline")) {
                        if (!parse_decimal(val, size, &deadline))
                                goto drop;
                } else if (!strcmp(name, "traceparent")) {
                        tpin = size == RAW_TP_LEN ? val : NULL;
                }
        }
        if (!method || method_len != sizeof(RAW_METHOD) - 1 ||
            memcmp(method, RAW_METHOD, method_len) || !corr || !rtopic ||
            rtopic_len >= sizeof(topic) || !rpart || (rpart[0] & 0x80))
                goto drop;
        if (deadline && deadline <= bench_epoch_ms())
                goto drop; /* the caller has given up */
        if (!(ping = bench__v1__ping__unpack(NULL, m->len, m->payload)))
                goto drop;
        bench__v1__pong__init(&pong);
        pong.seq = ping->seq;
        pong.body = ping->body;
        len = bench__v1__pong__pack(&pong, buf);
        bench__v1__ping__free_unpacked(ping, NULL);

        memcpy(topic, rtopic, rtopic_len);
        topic[rtopic_len] = '\0';
        partition =
            (int32_t)((uint32_t)rpart[0] << 24 | (uint32_t)rpart[1] << 16 |
                      (uint32_t)rpart[2] << 8 | rpart[3]);
        traceparent(tp, tpin);
        if (rd_kafka_producev(r->srv_p, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE(buf, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADER("kafka_correlationId", corr,
                                                (ssize_t)corr_len),
                              RD_KAFKA_V_HEADER("kbus-status", "0", 1),
                              RD_KAFKA_V_HEADER("traceparent", tp, RAW_TP_LEN),
                              RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END) == 0)
                return; /* srv_dr stores the offset */
drop:
        r->srv_dropped++;
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
        rd_kafka_message_destroy(m);
}

static void srv_drain(void *arg) {
        raw_rpc *r = arg;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(r->srv_c, 0))) {
                if (m->err)
                        rd_kafka_message_destroy(m);
                else
                        srv_request(r, m);
        }
}

static void warm_done(void *arg, bool ok) {
        raw_rpc *r = arg;
        r->warm_done = true;
        event_base_loopbreak(r->env->base);
}

static void raw_rpc_close(void *h) {
        raw_rpc *r = h;
        if (!r)
                return;
        if (r->cli_p) {
                rd_kafka_flush(r->cli_p, 5000);
                bridge_fini(&r->cli_pb);
                rd_kafka_destroy(r->cli_p);
        }
        if (r->srv_p) {
                rd_kafka_flush(r->srv_p, 5000);
                /* Serve the last delivery reports: they free requests. */
                rd_kafka_poll(r->srv_p, 0);
                bridge_fini(&r->srv_pb);
                rd_kafka_destroy(r->srv_p);
        }
        if (r->cli_c) {
                rd_kafka_consumer_close(r->cli_c);
                bridge_fini(&r->cli_cb);
                rd_kafka_destroy(r->cli_c);
        }
        if (r->srv_c) {
                rd_kafka_consumer_close(r->srv_c);
                bridge_fini(&r->srv_cb);
                rd_kafka_destroy(r->srv_c);
        }
        if (r->slots)
                for (int i = 0; i < RAW_SLOTS; i++)
                        if (r->slots[i].timer_ready)
                                evtimer_del(&r->slots[i].timer);
        free(r->slots);
        free(r->buckets);
        free(r);
}

static void *raw_rpc_open(bench_env *env, const char *tag,
                          const char *req_topic, const char *reply_topic,
                          bench_rpc_done_fn done, void *arg) {
        raw_rpc *r = calloc(1, sizeof(*r));
        rd_kafka_conf_t *conf;
        rd_kafka_topic_partition_list_t *l;
        struct timeval tv = {BENCH_TIMEOUT_MS / 1000, 0};
        char group[300];
        int64_t lo, hi;

        if (!r)
                return NULL;
        r->env = env;
        r->srv_cb.fds[0] = r->srv_cb.fds[1] = -1;
        r->srv_pb.fds[0] = r->srv_pb.fds[1] = -1;
        r->cli_cb.fds[0] = r->cli_cb.fds[1] = -1;
        r->cli_pb.fds[0] = r->cli_pb.fds[1] = -1;
        snprintf(r->req_topic, sizeof(r->req_topic), "%s", req_topic);
        snprintf(r->reply_topic, sizeof(r->reply_topic), "%s", reply_topic);
        r->reply_topic_len = strlen(r->reply_topic);
        r->slots = calloc(RAW_SLOTS, sizeof(*r->slots));
        r->buckets = malloc(RAW_BUCKETS * sizeof(*r->buckets));
        if (!r->slots || !r->buckets)
                goto fail;
        memset(r->buckets, 0xff, RAW_BUCKETS * sizeof(*r->buckets));
        r->free_head = -1;
        for (int i = RAW_SLOTS - 1; i >= 0; i--)
                slot_release(r, &r->slots[i]);
        r->deadline_tv = event_base_init_common_timeout(env->base, &tv);

        /* Server: a consumer group on the request topic, and a producer. */
        conf = raw_conf(env, true, "bench-srv");
        snprintf(group, sizeof(group), "bench-srv-%s", tag);
        conf_set(conf, "group.id", group);
        if (!(r->srv_c = raw_new(RD_KAFKA_CONSUMER, conf)))
                goto fail;
        rd_kafka_poll_set_consumer(r->srv_c);
        if (bridge_init(&r->srv_cb, env, rd_kafka_queue_get_consumer(r->srv_c),
                        srv_drain, r))
                goto fail;
        conf = raw_conf(env, false, "bench-srv");
        rd_kafka_conf_set_dr_msg_cb(conf, srv_dr);
        rd_kafka_conf_set_opaque(conf, r);
        if (!(r->srv_p = raw_new(RD_KAFKA_PRODUCER, conf)) ||
            bridge_init(&r->srv_pb, env, rd_kafka_queue_get_main(r->srv_p),
                        producer_drain, r->srv_p))
                goto fail;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, req_topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(r->srv_c, l);
        rd_kafka_topic_partition_list_destroy(l);

        /* Client: a producer, and a consumer assigned (no group) to its
         * reply partition from its current end, before any request. */
        conf = raw_conf(env, false, "bench-cli");
        rd_kafka_conf_set_dr_msg_cb(conf, cli_dr);
        rd_kafka_conf_set_opaque(conf, r);
        if (!(r->cli_p = raw_new(RD_KAFKA_PRODUCER, conf)) ||
            bridge_init(&r->cli_pb, env, rd_kafka_queue_get_main(r->cli_p),
                        producer_drain, r->cli_p))
                goto fail;
        conf = raw_conf(env, true, "bench-cli");
        conf_set(conf, "enable.auto.commit", "false");
        conf_set(conf, "group.id", reply_topic);
        if (!(r->cli_c = raw_new(RD_KAFKA_CONSUMER, conf)))
                goto fail;
        rd_kafka_poll_set_consumer(r->cli_c);
        if (bridge_init(&r->cli_cb, env, rd_kafka_queue_get_consumer(r->cli_c),
                        cli_drain, r))
                goto fail;
        if (rd_kafka_query_watermark_offsets(r->cli_c, reply_topic, 0, &lo, &hi,
                                             10000))
                hi = RD_KAFKA_OFFSET_BEGINNING;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, reply_topic, 0)->offset = hi;
        rd_kafka_assign(r->cli_c, l);
        rd_kafka_topic_partition_list_destroy(l);

        /* Ready once a first call has gone round: the group has joined. */
        r->done = warm_done;
        r->arg = r;
        if (raw_rpc_call(r, 0) || !bench_run_until(env, &r->warm_done, 30)) {
                fprintf(stderr, "bench: raw: the echo server never answered\n");
                goto fail;
        }
        r->done = done;
        r->arg = arg;
        return r;
fail:
        raw_rpc_close(r);
        return NULL;
}

/* ---- a table by hand: (g) and (h) ---- */

/* The map a careful programmer writes for a count per key: chained, one
 * allocation per entry with its key inside, FNV-1a, doubled when it holds
 * as many entries as buckets. */
typedef struct raw_entry {
        struct raw_entry *next;
        uint64_t hash;
        int64_t count;
        size_t key_len;
        char key[];
} raw_entry;

typedef struct raw_map {
        raw_entry **buckets;
        size_t mask, n; /* mask: buckets - 1, 0 before the first insert */
} raw_map;

static uint64_t fnv1a(const void *p, size_t n) {
        const uint8_t *b = p;
        uint64_t h = 0xcbf29ce484222325u;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 0x100000001b3u;
        return h;
}

static int map_grow(raw_map *m) {
        size_t nb = m->buckets ? 2 * (m->mask + 1) : 64;
        raw_entry **b = calloc(nb, sizeof(*b));
        if (!b)
                return -1;
        for (size_t i = 0; m->buckets && i <= m->mask; i++)
                for (raw_entry *e = m->buckets[i], *next; e; e = next) {
                        next = e->next;
                        e->next = b[e->hash & (nb - 1)];
                        b[e->hash & (nb - 1)] = e;
                }
        free(m->buckets);
        m->buckets = b;
        m->mask = nb - 1;
        return 0;
}

/* The entry of the key, made with a count of 0 if it is new; NULL when
 * out of memory. */
static raw_entry *map_get(raw_map *m, const void *key, size_t len) {
        uint64_t h = fnv1a(key, len);
        raw_entry *e;
        if (m->buckets)
                for (e = m->buckets[h & m->mask]; e; e = e->next)
                        if (e->hash == h && e->key_len == len &&
                            !memcmp(e->key, key, len))
                                return e;
        if ((!m->buckets || m->n > m->mask) && map_grow(m))
                return NULL;
        if (!(e = malloc(sizeof(*e) + len)))
                return NULL;
        e->hash = h;
        e->count = 0;
        e->key_len = len;
        memcpy(e->key, key, len);
        e->next = m->buckets[h & m->mask];
        m->buckets[h & m->mask] = e;
        m->n++;
        return e;
}

static void map_delete(raw_map *m, const void *key, size_t len) {
        uint64_t h = fnv1a(key, len);
        raw_entry **pp;
        if (!m->buckets)
                return;
        for (pp = &m->buckets[h & m->mask]; *pp; pp = &(*pp)->next)
                if ((*pp)->hash == h && (*pp)->key_len == len &&
                    !memcmp((*pp)->key, key, len)) {
                        raw_entry *e = *pp;
                        *pp = e->next;
                        free(e);
                        m->n--;
                        return;
                }
}

static void map_free(raw_map *m) {
        for (size_t i = 0; m->buckets && i <= m->mask; i++)
                for (raw_entry *e = m->buckets[i], *next; e; e = next) {
                        next = e->next;
                        free(e);
                }
        free(m->buckets);
        memset(m, 0, sizeof(*m));
}

/* (g): a counting service.  Each event's count is changed in the map at
 * once and written to the changelog (partition = the event's); the event
 * is kept until that record's delivery report, which stores its offset.
 * The changelog's partitions are written in order (idempotent producer),
 * so offsets are stored in order too. */
typedef struct raw_tbl {
        bench_env *env;
        rd_kafka_t *c, *p;
        raw_bridge cb, pb;
        const char *changelog;
        raw_map map;
        long want, got, finished, bad, failed;
        double t_first, t_last;
        bool warm, done;
} raw_tbl;

static void tbl_finished(raw_tbl *t) {
        if (++t->finished == t->want) {
                t->t_last = bench_now();
                t->done = true;
                event_base_loopbreak(t->env->base);
        }
}

static void tbl_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        raw_tbl *t = opaque;
        rd_kafka_message_t *in = m->_private;
        if (!in) { /* the warm-up */
                t->warm = true;
                event_base_loopbreak(t->env->base);
                return;
        }
        if (m->err)
                t->failed++; /* a real program would retry it; we stop */
        else
                rd_kafka_offset_store(in->rkt, in->partition, in->offset);
        rd_kafka_message_destroy(in);
        tbl_finished(t);
}

/* Takes \p m. */
static void tbl_record(raw_tbl *t, rd_kafka_message_t *m) {
        Google__Protobuf__Int64Value v = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
        rd_kafka_headers_t *h;
        const void *type;
        size_t type_len, len;
        Bench__V1__Tick *tick;
        raw_entry *e;
        uint8_t buf[16];

        if (++t->got == 1)
                t->t_first = bench_now();
        /* As in (b): look at ce_type, then decode the event. */
        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, "ce_type", &type, &type_len) ||
            type_len != sizeof(RAW_TYPE) - 1 ||
            memcmp(type, RAW_TYPE, type_len) ||
            !(tick = bench__v1__tick__unpack(NULL, m->len, m->payload)))
                goto bad;
        bench__v1__tick__free_unpacked(tick, NULL);
        if (!m->key || !(e = map_get(&t->map, m->key, m->key_len)))
                goto bad;
        v.value = ++e->count;
        len = google__protobuf__int64_value__pack(&v, buf);
        if (rd_kafka_producev(t->p, RD_KAFKA_V_TOPIC(t->changelog),
                              RD_KAFKA_V_PARTITION(m->partition),
                              RD_KAFKA_V_KEY(m->key, m->key_len),
                              RD_KAFKA_V_VALUE(buf, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END)) {
                t->failed++;
                rd_kafka_message_destroy(m);
                tbl_finished(t);
        }
        return; /* tbl_dr stores the offset */
bad:
        t->bad++;
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
        rd_kafka_message_destroy(m);
        tbl_finished(t);
}

static void tbl_drain(void *arg) {
        raw_tbl *t = arg;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(t->c, 0))) {
                if (m->err)
                        rd_kafka_message_destroy(m);
                else
                        tbl_record(t, m);
        }
}

static double raw_table_update(bench_env *env, const char *topic,
                               const char *group, const char *changelog,
                               const char *fence_topic, long n) {
        raw_tbl t = {.env = env, .want = n, .changelog = changelog};
        rd_kafka_conf_t *conf;
        rd_kafka_topic_partition_list_t *l;
        double rate = -1;

        t.cb.fds[0] = t.cb.fds[1] = t.pb.fds[0] = t.pb.fds[1] = -1;
        conf = raw_conf(env, false, "bench-table");
        rd_kafka_conf_set_dr_msg_cb(conf, tbl_dr);
        rd_kafka_conf_set_opaque(conf, &t);
        if (!(t.p = raw_new(RD_KAFKA_PRODUCER, conf)) ||
            bridge_init(&t.pb, env, rd_kafka_queue_get_main(t.p),
                        producer_drain, t.p))
                goto out;
        conf = raw_conf(env, true, "bench-table");
        conf_set(conf, "group.id", group);
        if (!(t.c = raw_new(RD_KAFKA_CONSUMER, conf)))
                goto out;
        rd_kafka_poll_set_consumer(t.c);
        if (bridge_init(&t.cb, env, rd_kafka_queue_get_consumer(t.c), tbl_drain,
                        &t))
                goto out;
        /* Warm up as kbus is warm after its group join: the connection,
         * the idempotent producer's id, the changelog's metadata. */
        if (rd_kafka_producev(t.p, RD_KAFKA_V_TOPIC(changelog),
                              RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("", 0),
                              RD_KAFKA_V_END) ||
            !bench_run_until(env, &t.warm, 30)) {
                fprintf(stderr, "bench: raw: changelog warm-up failed\n");
                goto out;
        }
        /* The partitions are assigned rather than joined as a group: the
         * join is not timed on either side, and takes the embedded broker
         * 3 s. */
        l = rd_kafka_topic_partition_list_new(BENCH_TABLE_PARTITIONS);
        for (int i = 0; i < BENCH_TABLE_PARTITIONS; i++)
                rd_kafka_topic_partition_list_add(l, topic, i);
        rd_kafka_assign(t.c, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (!bench_run_until(env, &t.done, 60)) {
                fprintf(stderr,
                        "bench: raw: %ld of %ld records counted, %ld "
                        "written\n",
                        t.got, n, t.finished);
                goto out;
        }
        if (t.bad || t.failed ||
            t.map.n != (size_t)(n < BENCH_KEYS ? n : BENCH_KEYS)) {
                fprintf(stderr,
                        "bench: raw: %ld bad records, %ld writes "
                        "failed, %zu keys\n",
                        t.bad, t.failed, t.map.n);
                goto out;
        }
        rate = (double)(n - 1) / (t.t_last - t.t_first);
out:
        if (t.c) {
                rd_kafka_consumer_close(t.c);
                bridge_fini(&t.cb);
                rd_kafka_destroy(t.c);
        }
        if (t.p) {
                rd_kafka_flush(t.p, 5000);
                bridge_fini(&t.pb);
                rd_kafka_destroy(t.p);
        }
        map_free(&t.map);
        (void)fence_topic; /* the raw side knows when it is done */
        return rate;
}

/* (h): the counting service's start, rebuilding its map from the
 * changelog: from offset 0 to the end, each record's value decoded into
 * its key's count, a tombstone deleting it. */
typedef struct raw_rst {
        bench_env *env;
        rd_kafka_t *c;
        raw_bridge cb;
        raw_map map;
        long records, bad;
        double t_end;
        bool done;
} raw_rst;

static void rst_record(raw_rst *r, const rd_kafka_message_t *m) {
        Google__Protobuf__Int64Value *v;
        raw_entry *e;
        r->records++;
        if (!m->payload) {
                map_delete(&r->map, m->key, m->key_len);
                return;
        }
        if (!(v = google__protobuf__int64_value__unpack(NULL, m->len,
                                                        m->payload))) {
                r->bad++;
                return;
        }
        if ((e = map_get(&r->map, m->key, m->key_len)))
                e->count = v->value;
        else
                r->bad++;
        google__protobuf__int64_value__free_unpacked(v, NULL);
}

static void rst_drain(void *arg) {
        raw_rst *r = arg;
        rd_kafka_message_t *m;
        while (!r->done && (m = rd_kafka_consumer_poll(r->c, 0))) {
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        r->t_end = bench_now();
                        r->done = true;
                        event_base_loopbreak(r->env->base);
                } else if (!m->err) {
                        rst_record(r, m);
                }
                rd_kafka_message_destroy(m);
        }
}

static double raw_table_restore(bench_env *env, bench_restore *br) {
        raw_rst r = {.env = env};
        rd_kafka_conf_t *conf = raw_conf(env, true, "bench-restore");
        rd_kafka_topic_partition_list_t *l;
        char group[300];
        double rate = -1, t0, heap;

        /* As kbus's restore consumer: no group joined, nothing
         * committed, the end of the partition is the signal. */
        snprintf(group, sizeof(group), "%s.raw-restore", br->group);
        conf_set(conf, "group.id", group);
        conf_set(conf, "enable.auto.commit", "false");
        conf_set(conf, "enable.partition.eof", "true");
        r.cb.fds[0] = r.cb.fds[1] = -1;
        if (!(r.c = raw_new(RD_KAFKA_CONSUMER, conf)))
                return -1;
        rd_kafka_poll_set_consumer(r.c);
        if (bridge_init(&r.cb, env, rd_kafka_queue_get_consumer(r.c), rst_drain,
                        &r))
                goto out;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, br->changelog, 0)->offset = 0;
        t0 = bench_now();
        rd_kafka_assign(r.c, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (!bench_run_until(env, &r.done, 60)) {
                fprintf(stderr,
                        "bench: raw: %ld changelog records read, "
                        "no end\n",
                        r.records);
                goto out;
        }
        if (r.bad || r.records != br->entries ||
            r.map.n != (size_t)br->entries) {
                fprintf(stderr,
                        "bench: raw: %ld changelog records read (%ld "
                        "bad), %zu entries; expected %ld\n",
                        r.records, r.bad, r.map.n, br->entries);
                goto out;
        }
        rate = (double)r.records / (r.t_end - t0);
        /* The map's own bytes: what freeing it gives back. */
        rd_kafka_assign(r.c, NULL);
        heap = bench_heap_bytes();
        map_free(&r.map);
        br->bytes_restored = br->bytes_steady =
            (heap - bench_heap_bytes()) / (double)br->entries -
            (double)br->value_len;
out:
        rd_kafka_consumer_close(r.c);
        bridge_fini(&r.cb);
        rd_kafka_destroy(r.c);
        map_free(&r.map);
        return rate;
}

const bench_side bench_side_raw = {
    .name = "raw",
    .publish = raw_publish,
    .subscribe = raw_subscribe,
    .rpc_open = raw_rpc_open,
    .rpc_call = raw_rpc_call,
    .rpc_close = raw_rpc_close,
    .table_update = raw_table_update,
    .table_restore = raw_table_restore,
};
