/*
 * Shared helpers of the fault-injection tests: one embedded cluster of
 * three brokers per test binary (so leaders and the group coordinator can
 * move or go down while the others stay up), runtimes that talk to it, a
 * keyed event stream whose handling is checked for loss and per-key order,
 * and loops that run until a condition holds or a time limit passes.
 *
 * Faults are injected through rdkafka_mock.h on the cluster that
 * kbus_broker_mock() returns.  The mock's broker ids are 1..3.
 */
#ifndef KBUS_TEST_FAULTS_H
#define KBUS_TEST_FAULTS_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <kbus/kbus.h>

#include "hello.kbus.h"
#include "log_tap.h"

/* Kafka protocol API keys the tests inject errors into. */
#define API_PRODUCE 0
#define API_FETCH 1
#define API_OFFSET_COMMIT 8
#define API_HEARTBEAT 12

#define N_BROKERS 3

static kbus_broker *test_broker;
static struct event_base *test_base;

static inline rd_kafka_mock_cluster_t *cluster(void) {
        return kbus_broker_mock(test_broker);
}

static inline double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A 10 ms heartbeat on the loop: the longest gap between two beats is
 * how long something blocked the loop thread. */
static struct event *heartbeat;
static double heartbeat_last, heartbeat_worst;

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg) {
        double t = now_s();
        if (heartbeat_last > 0 && t - heartbeat_last > heartbeat_worst)
                heartbeat_worst = t - heartbeat_last;
        heartbeat_last = t;
}

/* Resets the heartbeat record; returns the worst gap since the last
 * call, in seconds. */
static inline double loop_stall(void) {
        double w = heartbeat_worst;
        heartbeat_worst = 0;
        heartbeat_last = 0;
        return w;
}

static inline void harness_up(void) {
        struct timeval tv = {0, 10000};
        const char *wrap = getenv("KBUS_TEST_WRAP");
        char err[256];

        /* A hang (say, in a librdkafka destroy) fails the binary instead
         * of stalling `make check`: SIGALRM's default action ends it.  Far
         * above the 30-45 s a binary needs; more under valgrind. */
        alarm(wrap && *wrap ? 900 : 180);
        if (kbus_broker_new(&test_broker, N_BROKERS, err, sizeof(err))) {
                fprintf(stderr, "broker: %s\n", err);
                abort();
        }
        /* FAULTS_ONLY=test_name runs one test, when working on it. */
        if (getenv("FAULTS_ONLY"))
                cmocka_set_test_filter(getenv("FAULTS_ONLY"));
        test_base = event_base_new();
        heartbeat = event_new(test_base, -1, EV_PERSIST, heartbeat_cb, NULL);
        event_add(heartbeat, &tv);
}

static inline void harness_down(void) {
        event_free(heartbeat);
        event_base_free(test_base);
        kbus_broker_free(test_broker);
}

/* Creates \p topic with every partition replicated on all brokers, leader
 * of partition i on broker 1 + i % 3 unless \p leader names one.  Topics
 * are made before first use so the test knows where the leaders are. */
static inline void make_topic(const char *topic, int partitions, int leader) {
        assert_int_equal(
            rd_kafka_mock_topic_create(cluster(), topic, partitions, N_BROKERS),
            0);
        for (int p = 0; p < partitions; p++)
                assert_int_equal(rd_kafka_mock_partition_set_leader(
                                     cluster(), topic, p,
                                     leader > 0 ? leader : 1 + p % N_BROKERS),
                                 0);
}

/* Every runtime a test made, so a failed test's teardown can free what
 * the test did not (a runtime left running would keep consuming on the
 * shared loop during the next tests). */
static kbus_runtime *live_runtimes[16];

/* A runtime on the test cluster and the shared loop.  \p extra is a list
 * of key, value pairs ending with NULL, set after the defaults. */
static inline kbus_runtime *fault_runtime(const char *name, const char *group,
                                          ...) {
        kbus_config *conf;
        kbus_runtime *rt;
        char err[512];
        const char *k, *v;
        va_list ap;

        assert_int_equal(kbus_config_new(&conf), 0);
        assert_int_equal(kbus_config_set(conf, "bootstrap",
                                         kbus_broker_bootstrap(test_broker),
                                         err, sizeof(err)),
                         0);
        assert_int_equal(
            kbus_config_set(conf, "low_latency", "true", err, sizeof(err)), 0);
        assert_int_equal(kbus_config_set(conf, "name", name, err, sizeof(err)),
                         0);
        if (group)
                assert_int_equal(
                    kbus_config_set(conf, "group", group, err, sizeof(err)), 0);
        assert_int_equal(kbus_config_set(conf, "shutdown_grace_ms", "2000", err,
                                         sizeof(err)),
                         0);
        va_start(ap, group);
        while ((k = va_arg(ap, const char *))) {
                v = va_arg(ap, const char *);
                if (kbus_config_set(conf, k, v, err, sizeof(err))) {
                        fprintf(stderr, "config %s: %s\n", k, err);
                        fail();
                }
        }
        va_end(ap);
        if (kbus_runtime_new(&rt, &conf, test_base, err, sizeof(err))) {
                fprintf(stderr, "runtime: %s\n", err);
                fail();
        }
        for (int i = 0; i < 16; i++)
                if (!live_runtimes[i]) {
                        live_runtimes[i] = rt;
                        break;
                }
        return rt;
}

static void stream_drop_all(kbus_runtime *rt);

/* Frees a runtime made by fault_runtime(), forgetting the acks test
 * streams still owed for its records. */
static inline void fault_free(kbus_runtime *rt) {
        for (int i = 0; i < 16; i++)
                if (live_runtimes[i] == rt)
                        live_runtimes[i] = NULL;
        stream_drop_all(rt);
        kbus_runtime_free(rt);
}

/* Runs the loop until \p cond(arg) holds or \p seconds pass; returns
 * whether it held. */
static inline bool run_until(bool (*cond)(void *), void *arg, double seconds) {
        double end = now_s() + seconds;
        struct timeval tick = {0, 20000};
        while (!(cond && cond(arg)) && now_s() < end) {
                event_base_loopexit(test_base, &tick);
                event_base_dispatch(test_base);
        }
        return cond && cond(arg);
}

static inline void run_for(double seconds) {
        run_until(NULL, NULL, seconds);
}

/* For run_until: the runtime's groups have joined (the embedded broker's
 * first join takes about 3 s, longer on a loaded machine). */
static inline bool runtime_ready(void *rt) {
        return kbus_runtime_ready(rt);
}

/* One write per line, so that lines stay whole through the log tap. */
static inline void note(const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        fprintf(stderr, "# %s\n", line);
}

static int topic_count(const char *topic, int key, int seq);

/* ---- a keyed event stream ---- */

#define MAX_KEYS 16

struct stream;

/* An acknowledgement the subscriber gives later, as a handler that
 * calls another service would. */
struct delayed_ack {
        struct delayed_ack *next;
        struct stream *s;
        kbus_call *call;
        kbus_runtime *rt;
        int key;
        int32_t partition;
        int64_t offset;
        struct event *ev;
};
#define MAX_SEQ 2048
/* Partitions of a stream's topic, and offsets per partition, that
 * stream_commit_floor() can follow. */
#define MAX_PARTS 4
#define MAX_OFFSETS (MAX_KEYS * MAX_SEQ)

/*
 * Events are Greeted{name: "k<key>", message: "<seq>"}, seq counting from
 * 1 per key.  Use 16 keys: murmur2 puts "k0".."k15" on all four partitions
 * of a 4-partition topic (6, 5, 4 and 1 keys), "k0".."k7" only on two.  A handled event with seq > (highest seen for its key) + 1
 * means an earlier event of that key was skipped or comes later: an order
 * violation.  seq <= highest seen is a redelivery, allowed where the test
 * says so.  Redelivery restarts at an earlier record and moves forward
 * again, so the check also holds across consumers of one process.
 *
 * In order is not only the order handlers are entered in: a key's record
 * must also have ended before the key's next one enters a handler.  With
 * delay_ms > 0 the handler acknowledges later, so two records of one key
 * could be in handlers at once; that is counted as a violation too.  A
 * stream that acknowledges at once cannot show it: use a delay where the
 * test is about order.
 */
struct stream {
        kbus_event_desc desc;
        kbus_runtime *pub;
        int n_keys;
        int per_key;
        int published;          /* events handed to kbus_publish */
        int next_seq[MAX_KEYS]; /* next seq to publish per key */
        int highest[MAX_KEYS];  /* highest seq handled per key */
        unsigned char times[MAX_KEYS][MAX_SEQ + 1];
        int handled;    /* handler calls */
        int distinct;   /* events handled at least once */
        int duplicates; /* handler calls for an event seen before */
        int violations; /* order violations */
        char first_violation[128];
        bool resume;              /* each key may start past seq 1 */
        int delay_ms;             /* ack this much later (0: at once) */
        struct delayed_ack *acks; /* acks still to come */
        int n_acks;
        struct event *pump; /* publishes at a steady rate */
        int pump_batch;
        kbus_runtime *subs[4]; /* handler calls per subscribing runtime */
        int handled_by[4];
        int busy[MAX_KEYS];     /* records of the key in a handler now */
        int busy_seq[MAX_KEYS]; /* the last of them to enter */
        /* Offsets acknowledged, per partition, one bit each; and the
         * committed offsets stream_commit_floor() saw: no record below
         * them may be handled again. */
        unsigned char acked[MAX_PARTS][MAX_OFFSETS / 8];
        int64_t floor[MAX_PARTS];
        int redone_committed; /* records handled again below the floor */
};

static struct stream *live_streams[8];

static inline void stream_init(struct stream *s, const char *topic, int n_keys,
                               int per_key) {
        int free_slot = -1;
        for (int i = 0; i < 8; i++)
                if (live_streams[i] == s)
                        live_streams[i] = NULL;
        memset(s, 0, sizeof(*s));
        for (int i = 0; i < 8 && free_slot < 0; i++)
                if (!live_streams[i])
                        free_slot = i;
        assert_true(free_slot >= 0);
        live_streams[free_slot] = s;
        assert_true(n_keys <= MAX_KEYS && per_key <= MAX_SEQ);
        s->desc = hello_v1_greeted__event;
        s->desc.topic = topic;
        /* A short retry policy: the tests never fail handlers on purpose,
         * but a long backoff would hide a stall behind the time limit. */
        s->desc.retry.initial_backoff_ms = 20;
        s->desc.retry.max_backoff_ms = 200;
        s->n_keys = n_keys;
        s->per_key = per_key;
}

static inline int stream_total(const struct stream *s) {
        return s->n_keys * s->per_key;
}

/* Publishes the next event, keys round robin; false when all are out. */
static inline bool stream_publish_one(struct stream *s) {
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        char name[16], msg[16];
        int k = s->published % s->n_keys;
        int rc;
        if (s->published >= stream_total(s))
                return false;
        snprintf(name, sizeof(name), "k%d", k);
        snprintf(msg, sizeof(msg), "%d", s->next_seq[k] + 1);
        ev.name = name;
        ev.message = msg;
        rc = kbus_publish(s->pub, &s->desc, &ev.base);
        if (rc == KBUS_RESOURCE_EXHAUSTED)
                return true; /* queue full: try again on the next tick */
        assert_int_equal(rc, 0);
        s->next_seq[k]++;
        s->published++;
        return true;
}

static void stream_pump_cb(evutil_socket_t fd, short what, void *arg) {
        struct stream *s = arg;
        struct timeval tv = {0, 10000};
        for (int i = 0; i < s->pump_batch; i++)
                if (!stream_publish_one(s))
                        return;
        evtimer_add(s->pump, &tv);
}

/* Publishes \p batch events every 10 ms until all are out, so faults hit
 * a stream in motion. */
static inline void stream_pump_start(struct stream *s, kbus_runtime *pub,
                                     int batch) {
        s->pub = pub;
        s->pump_batch = batch;
        s->pump = evtimer_new(test_base, stream_pump_cb, s);
        stream_pump_cb(-1, 0, s);
}

static inline void stream_fini(struct stream *s) {
        if (s->pump)
                event_free(s->pump);
        s->pump = NULL;
}

/* The handler of a record of key \p k is over (acknowledged, or dropped
 * with its runtime). */
static void stream_key_free(struct stream *s, int k) {
        s->busy[k]--;
}

static void stream_acked(struct stream *s, int32_t partition, int64_t offset) {
        if (partition >= 0 && partition < MAX_PARTS && offset >= 0 &&
            offset < MAX_OFFSETS)
                s->acked[partition][offset / 8] |= 1 << offset % 8;
}

static void delayed_ack_unlink(struct delayed_ack *d) {
        struct delayed_ack **pp = &d->s->acks;
        while (*pp != d)
                pp = &(*pp)->next;
        *pp = d->next;
        d->s->n_acks--;
        stream_key_free(d->s, d->key);
        event_free(d->ev);
        free(d);
}

static void delayed_ack_cb(evutil_socket_t fd, short what, void *arg) {
        struct delayed_ack *d = arg;
        assert_int_equal(kbus_call_ack(d->call), 0);
        stream_acked(d->s, d->partition, d->offset);
        delayed_ack_unlink(d);
}

/* Forgets the acks \p rt still owes, before it is freed: its records end
 * unacknowledged, as if the process had stopped. */
static inline void stream_drop_acks(struct stream *s, kbus_runtime *rt) {
        struct delayed_ack *d = s->acks, *next;
        for (; d; d = next) {
                next = d->next;
                if (d->rt == rt)
                        delayed_ack_unlink(d);
        }
}

static void stream_drop_all(kbus_runtime *rt) {
        for (int i = 0; i < 8; i++)
                if (live_streams[i])
                        stream_drop_acks(live_streams[i], rt);
}

/* cmocka teardown of every test: stops pumps and frees the runtimes a
 * failed test left behind, newest first, and gives stderr back. */
static int faults_teardown(void **state) {
        log_tap_stop();
        for (int i = 0; i < 8; i++)
                if (live_streams[i])
                        stream_fini(live_streams[i]);
        /* While the streams are still known: freeing a runtime drops the
         * acks they owe it, whose timers would otherwise fire in the next
         * test with calls long freed. */
        for (int i = 15; i >= 0; i--)
                if (live_runtimes[i])
                        fault_free(live_runtimes[i]);
        for (int i = 0; i < 8; i++)
                live_streams[i] = NULL;
        return 0;
}

#define fault_test(f) cmocka_unit_test_teardown(f, faults_teardown)

static inline bool stream_no_acks_due(void *arg) {
        return ((struct stream *)arg)->n_acks == 0;
}

/* The subscriber: records the event, then acknowledges it now or after
 * delay_ms.  Use with kbus_subscribe(..., (kbus_fn)stream_on_event, s). */
static void stream_on_event(kbus_call *call, const Hello__V1__Greeted *ev,
                            void *arg) {
        struct stream *s = arg;
        int k = atoi(ev->name + 1), seq = atoi(ev->message);
        int32_t partition = kbus_call_partition(call);
        int64_t offset = kbus_call_offset(call);
        assert_true(k >= 0 && k < s->n_keys && seq >= 1 && seq <= s->per_key);
        s->handled++;
        for (int i = 0; i < 4; i++)
                if (!s->subs[i] || s->subs[i] == kbus_call_runtime(call)) {
                        s->subs[i] = kbus_call_runtime(call);
                        s->handled_by[i]++;
                        break;
                }
        if (s->times[k][seq]++)
                s->duplicates++;
        else
                s->distinct++;
        if (s->resume && !s->highest[k])
                s->highest[k] = seq - 1; /* the key's first record here */
        if (seq > s->highest[k] + 1) {
                if (!s->violations++)
                        snprintf(s->first_violation, sizeof(s->first_violation),
                                 "key k%d: seq %d after %d", k, seq,
                                 s->highest[k]);
        }
        if (seq > s->highest[k])
                s->highest[k] = seq;
        if (s->busy[k]++ > 0 && !s->violations++)
                snprintf(s->first_violation, sizeof(s->first_violation),
                         "key k%d: seq %d entered its handler while seq %d "
                         "was still in one",
                         k, seq, s->busy_seq[k]);
        s->busy_seq[k] = seq;
        if (partition >= 0 && partition < MAX_PARTS &&
            offset < s->floor[partition]) {
                s->redone_committed++;
                if (!s->violations++)
                        snprintf(s->first_violation, sizeof(s->first_violation),
                                 "key k%d: seq %d at [%d] offset %lld "
                                 "handled after offset %lld was committed",
                                 k, seq, (int)partition, (long long)offset,
                                 (long long)s->floor[partition]);
        }
        if (s->delay_ms > 0) {
                struct delayed_ack *d = calloc(1, sizeof(*d));
                struct timeval tv = {s->delay_ms / 1000,
                                     (s->delay_ms % 1000) * 1000};
                assert_non_null(d);
                d->s = s;
                d->call = call;
                d->rt = kbus_call_runtime(call);
                d->key = k;
                d->partition = partition;
                d->offset = offset;
                d->ev = evtimer_new(test_base, delayed_ack_cb, d);
                d->next = s->acks;
                s->acks = d;
                s->n_acks++;
                evtimer_add(d->ev, &tv);
                return;
        }
        assert_int_equal(kbus_call_ack(call), 0);
        stream_acked(s, partition, offset);
        stream_key_free(s, k);
}

static inline bool stream_all_handled(void *arg) {
        struct stream *s = arg;
        return s->distinct == stream_total(s);
}

/* Waits for every event to be handled, then checks order; \p dups_ok says
 * whether redeliveries are expected under this fault. */
static inline void stream_check(struct stream *s, double seconds,
                                bool dups_ok) {
        bool all = run_until(stream_all_handled, s, seconds);
        /* Let the last acks through, so the runtimes close cleanly. */
        run_until(stream_no_acks_due, s, 5);
        note("%s: published %d, handled %d (distinct %d, duplicates %d), "
             "order violations %d%s%s",
             s->desc.topic, s->published, s->handled, s->distinct,
             s->duplicates, s->violations, s->violations ? ": first " : "",
             s->first_violation);
        assert_int_equal(s->published, stream_total(s));
        if (!all)
                for (int k = 0; k < s->n_keys; k++)
                        for (int q = 1; q <= s->per_key; q++)
                                if (!s->times[k][q]) {
                                        note("first missing: k%d/%d, %d "
                                             "time(s) in the topic",
                                             k, q,
                                             topic_count(s->desc.topic, k, q));
                                        k = s->n_keys;
                                        break;
                                }
        assert_true(all);
        assert_int_equal(s->violations, 0);
        if (!dups_ok)
                assert_int_equal(s->duplicates, 0);
}

/* ---- offsets as the cluster sees them ---- */

static inline rd_kafka_t *plain_client(rd_kafka_type_t type,
                                       const char *group) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), err, sizeof(err));
        /* Quiet: connection errors while a broker is down are expected. */
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
        if (group)
                rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
        rk = rd_kafka_new(type, conf, err, sizeof(err));
        assert_non_null(rk);
        return rk;
}

/* The group's committed offset of each partition of \p topic (0 where it
 * has none) into \p out; returns their sum.  Asks the coordinator
 * directly, without joining the group. */
static inline int64_t committed_offsets(const char *group, const char *topic,
                                        int partitions, int64_t *out) {
        rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, group);
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(partitions);
        int64_t sum = 0;
        for (int p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(l, topic, p);
        assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
        for (int p = 0; p < partitions; p++) {
                int64_t o = l->elems[p].offset < 0 ? 0 : l->elems[p].offset;
                if (out)
                        out[p] = o;
                sum += o;
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
        return sum;
}

/*
 * For a stream on a topic of its own, read from the start: waits until the
 * group has committed, on every partition, at least the offset below which
 * the stream had acknowledged every record when called (up to \p seconds),
 * then takes the committed offsets as the stream's floor.  Committed work
 * is never redone, so from then on a record below the floor that enters a
 * handler again is an order violation (stream_check fails on it).  Call it
 * before a fault: what may be redone is then exactly what the group had not
 * committed when the fault came.  Returns whether the commit came in time.
 */
static inline bool stream_commit_floor(struct stream *s, const char *group,
                                       double seconds) {
        int64_t want[MAX_PARTS], got[MAX_PARTS];
        double end = now_s() + seconds;
        bool ok;
        for (int p = 0; p < MAX_PARTS; p++) {
                int64_t o = s->floor[p];
                while (o < MAX_OFFSETS && s->acked[p][o / 8] & 1 << o % 8)
                        o++;
                want[p] = o;
        }
        for (;;) {
                committed_offsets(group, s->desc.topic, MAX_PARTS, got);
                ok = true;
                for (int p = 0; p < MAX_PARTS; p++)
                        ok &= got[p] >= want[p];
                if (ok || now_s() > end)
                        break;
                run_for(0.1);
        }
        note("%s: acknowledged below %lld %lld %lld %lld; group %s has "
             "committed %lld %lld %lld %lld",
             s->desc.topic, (long long)want[0], (long long)want[1],
             (long long)want[2], (long long)want[3], group, (long long)got[0],
             (long long)got[1], (long long)got[2], (long long)got[3]);
        for (int p = 0; p < MAX_PARTS; p++)
                if (got[p] > s->floor[p])
                        s->floor[p] = got[p];
        return ok;
}

/* The end offset of each partition of \p topic; returns their sum. */
static inline int64_t end_offsets(const char *topic, int partitions,
                                  int64_t *out) {
        rd_kafka_t *rk = plain_client(RD_KAFKA_PRODUCER, NULL);
        int64_t sum = 0, lo, hi;
        for (int p = 0; p < partitions; p++) {
                assert_int_equal(rd_kafka_query_watermark_offsets(
                                     rk, topic, p, &lo, &hi, 10000),
                                 0);
                if (out)
                        out[p] = hi;
                sum += hi;
        }
        rd_kafka_destroy(rk);
        return sum;
}

/* Reads every record of \p topic from the beginning (until 2 s pass with
 * nothing new) and passes each one without an error to \p each. */
static inline void
topic_read(const char *topic,
           void (*each)(const rd_kafka_message_t *m, void *arg), void *arg) {
        rd_kafka_t *rk = plain_client(RD_KAFKA_CONSUMER, "faults-inspector");
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_partition_list_t *l;
        int parts, idle = 0;

        {
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
                assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, 10000), 0);
                parts = md->topics[0].partition_cnt;
                rd_kafka_metadata_destroy(md);
                rd_kafka_topic_destroy(rkt);
        }
        l = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (idle < 20) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m) {
                        idle++;
                        continue;
                }
                idle = 0;
                if (!m->err)
                        each(m, arg);
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

struct count_of {
        char name[16], msg[16];
        int n;
};

static void count_one(const rd_kafka_message_t *m, void *arg) {
        struct count_of *c = arg;
        Hello__V1__Greeted *ev =
            hello__v1__greeted__unpack(NULL, m->len, m->payload);
        if (!ev)
                return;
        if (!strcmp(ev->name, c->name) && !strcmp(ev->message, c->msg)) {
                note("  found at [%d] offset %lld", (int)m->partition,
                     (long long)m->offset);
                c->n++;
        }
        hello__v1__greeted__free_unpacked(ev, NULL);
}

/* How many records of \p topic hold Greeted{k<key>, <seq>}: tells a
 * record the producer lost from one the consumer skipped. */
static int topic_count(const char *topic, int key, int seq) {
        struct count_of c = {.n = 0};
        snprintf(c.name, sizeof(c.name), "k%d", key);
        snprintf(c.msg, sizeof(c.msg), "%d", seq);
        topic_read(topic, count_one, &c);
        return c.n;
}

#endif
