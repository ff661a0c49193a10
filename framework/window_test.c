/*
 * Windows (framework/window.c) through runtimes on the embedded broker.
 * Ticks (key, event time, n) are summed per key in windows; every result
 * the emit callback gives is noted, and published with the call to a
 * topic that a second group reads back.
 *   - tumbling: each window is emitted once, when its partition's time less
 *     grace passes its end, with exactly the ticks of its interval,
 *     results of one close in order of key; a tick within grace counts; a
 *     tick beyond grace is late: counted (window_late) and dead-lettered;
 *     each partition has its own clock;
 *   - restore: a runtime of the same group started afterwards carries on
 *     with the open windows and the clock of the one before: nothing
 *     emitted twice, the open window complete, a late tick still late;
 *   - hopping with KBUS_WINDOW_LATE_UPDATE: each tick in size / advance
 *     windows; a late tick within retention updates its closed windows and
 *     emits them again with the next revision; one later than that is
 *     dead-lettered;
 *   - event time from ce_time (RFC 3339, offsets too): ticks written with
 *     their own ce_time by a plain producer; one without ce_time is
 *     dead-lettered;
 *   - kbus_window_attach refuses a bad description.
 * All ticks of a test but one carry keys of partition 0, so that one
 * clock orders them.
 */
#include <inttypes.h>

#include <librdkafka/rdkafka.h>

#include "core.h"
#include "harness.h"
#include "window_test.kbus.h"

#include <librdkafka/rdkafka_mock.h>

#define PARTITIONS 2
#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */
#define S(x) (T0 + (int64_t)((x)*1000))

/* One result, as emitted or as read back from the topic. */
struct result {
        char key[16];
        int64_t start; /* seconds from T0 */
        int64_t count, total;
        uint32_t revision;
};

static struct result emitted[64], read_back[64];
static int n_emitted, n_read, n_handled, n_failed;
static kbus_window *win;
static kbus_event_desc ticks_desc, sums_desc;

static int32_t partition_of(const char *key) {
        return rd_kafka_msg_partitioner_murmur2_random(NULL, key, strlen(key),
                                                       PARTITIONS, NULL, NULL);
}

/* The next key "<prefix><n>" that murmur2 puts in \p partition. */
static void key_in(char *out, const char *prefix, int32_t partition) {
        int n = 0;
        do
                snprintf(out, 16, "%s%d", prefix, n++);
        while (partition_of(out) != partition);
}

static int add_tick(ProtobufCMessage *value, const ProtobufCMessage *input,
                    void *arg) {
        Wtest__V1__Sum *sum = (Wtest__V1__Sum *)value;
        const Wtest__V1__Tick *t = (const Wtest__V1__Tick *)input;
        sum->count++;
        sum->total += t->n;
        return 0;
}

static int emit_sum(kbus_call *call, const void *key, size_t len, int64_t start,
                    int64_t end, const ProtobufCMessage *value,
                    uint32_t revision, void *arg) {
        const Wtest__V1__Sum *v = (const Wtest__V1__Sum *)value;
        Wtest__V1__Sum out = WTEST__V1__SUM__INIT;
        struct result *r = &emitted[n_emitted++];
        assert_true(n_emitted < 64);
        snprintf(r->key, sizeof(r->key), "%.*s", (int)len, (const char *)key);
        r->start = (start - T0) / 1000;
        r->count = v->count;
        r->total = v->total;
        r->revision = revision;
        out.key = r->key;
        out.start_ms = start;
        out.count = v->count;
        out.total = v->total;
        out.revision = revision;
        return kbus_call_publish(call, &sums_desc, &out.base);
}

static void on_tick(kbus_call *call, const Wtest__V1__Tick *t, void *arg) {
        int rc = kbus_window_add(call, win, &t->base, NULL);
        n_handled++;
        if (rc) {
                n_failed++;
                kbus_call_fail(call, rc, "windowing a tick");
                return;
        }
        kbus_call_ack(call);
}

static void on_sum(kbus_call *call, const Wtest__V1__Sum *v, void *arg) {
        struct result *r = &read_back[n_read++];
        assert_true(n_read < 64);
        snprintf(r->key, sizeof(r->key), "%s", v->key);
        r->start = (v->start_ms - T0) / 1000;
        r->count = v->count;
        r->total = v->total;
        r->revision = v->revision;
        kbus_call_ack(call);
}

/* Topics of one test: ticks and sums, and the window's changelog. */
static void topics(const char *name, const char *group, const char *window) {
        rd_kafka_mock_cluster_t *mock = kbus_broker_mock(test_broker);
        static char ticks[64], sums[64];
        char changelog[128];
        snprintf(ticks, sizeof(ticks), "%s.ticks", name);
        snprintf(sums, sizeof(sums), "%s.sums", name);
        snprintf(changelog, sizeof(changelog), "%s.%s.changelog", group,
                 window);
        assert_int_equal(rd_kafka_mock_topic_create(mock, ticks, PARTITIONS, 1),
                         0);
        assert_int_equal(rd_kafka_mock_topic_create(mock, sums, PARTITIONS, 1),
                         0);
        assert_int_equal(
            rd_kafka_mock_topic_create(mock, changelog, PARTITIONS, 1), 0);
        ticks_desc = wtest_v1_tick__event;
        ticks_desc.topic = ticks;
        ticks_desc.retry.max_attempts = 1; /* failures go straight to DLT */
        sums_desc = wtest_v1_sum__event;
        sums_desc.topic = sums;
        n_emitted = n_read = n_handled = n_failed = 0;
        memset(emitted, 0, sizeof(emitted));
        memset(read_back, 0, sizeof(read_back));
}

/* A runtime of \p group keeping window \p d and reading its sums in
 * another group. */
static kbus_runtime *windowed(const char *group, const kbus_window_desc *d) {
        kbus_runtime *rt = test_runtime(group, group);
        char sums_group[64];
        snprintf(sums_group, sizeof(sums_group), "%s-sums", group);
        assert_int_equal(kbus_window_attach(rt, d, NULL, &win), 0);
        assert_int_equal(
            kbus_subscribe(rt, &ticks_desc, NULL, (kbus_fn)on_tick, NULL), 0);
        assert_int_equal(
            kbus_subscribe(rt, &sums_desc, sums_group, (kbus_fn)on_sum, NULL),
            0);
        assert_int_equal(kbus_runtime_start(rt), 0);
        assert_true(run_until_ready(rt, 60));
        return rt;
}

static void tick(kbus_runtime *pub, const char *key, int64_t time_ms,
                 int64_t n) {
        Wtest__V1__Tick t = WTEST__V1__TICK__INIT;
        t.key = (char *)key;
        t.time_ms = time_ms;
        t.n = n;
        assert_int_equal(kbus_publish(pub, &ticks_desc, &t.base), 0);
}

/* Runs the loop until \p handled ticks have been handled, \p sums results
 * read back and \p dead ticks dead-lettered by \p rt. */
static void settle(kbus_runtime *rt, int handled, int sums, uint64_t dead) {
        double end = now_s() + 60;
        while ((n_handled < handled || n_read < sums ||
                kbus_runtime_stat(rt, KBUS_STAT_DEAD_LETTERED) < dead) &&
               now_s() < end)
                run_for(0.05);
        if (n_handled < handled || n_read < sums)
                fail_msg("%d ticks handled of %d, %d sums read of %d",
                         n_handled, handled, n_read, sums);
        /* Nothing more comes. */
        run_for(0.5);
        assert_int_equal(n_handled, handled);
        assert_int_equal(n_read, sums);
        assert_int_equal(kbus_runtime_stat(rt, KBUS_STAT_DEAD_LETTERED), dead);
}

static int result_cmp(const void *a, const void *b) {
        const struct result *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return (int)x->revision - (int)y->revision;
}

static bool same(const struct result *x, const struct result *y) {
        return !strcmp(x->key, y->key) && x->start == y->start &&
               x->count == y->count && x->total == y->total &&
               x->revision == y->revision;
}

/* emitted[] is \p want, in order when \p ordered, and read_back[] the
 * same results in any order. */
static void assert_results(const struct result *want, int n, bool ordered) {
        struct result w[64], e[64], r[64];
        assert_int_equal(n_emitted, n);
        memcpy(w, want, n * sizeof(*w));
        memcpy(e, emitted, n * sizeof(*e));
        memcpy(r, read_back, n * sizeof(*r));
        if (!ordered) {
                qsort(w, n, sizeof(*w), result_cmp);
                qsort(e, n, sizeof(*e), result_cmp);
        }
        qsort(r, n, sizeof(*r), result_cmp);
        for (int i = 0; i < n; i++)
                if (!same(&e[i], &w[i]))
                        fail_msg("result %d: %s@%" PRId64 " count %" PRId64
                                 " total %" PRId64 " rev %u, want %s@%" PRId64
                                 " count %" PRId64 " total %" PRId64 " rev %u",
                                 i, e[i].key, e[i].start, e[i].count,
                                 e[i].total, e[i].revision, w[i].key,
                                 w[i].start, w[i].count, w[i].total,
                                 w[i].revision);
        qsort(w, n, sizeof(*w), result_cmp);
        for (int i = 0; i < n; i++)
                if (!same(&r[i], &w[i]))
                        fail_msg("result %d read back: %s@%" PRId64
                                 " count %" PRId64 ", want %s@%" PRId64
                                 " count %" PRId64,
                                 i, r[i].key, r[i].start, r[i].count, w[i].key,
                                 w[i].start, w[i].count);
}

/* Where the result of \p key at \p start was emitted. */
static int emitted_at(const char *key, int64_t start) {
        for (int i = 0; i < n_emitted; i++)
                if (!strcmp(emitted[i].key, key) && emitted[i].start == start)
                        return i;
        return -1;
}

static void test_tumbling(void **state) {
        static const kbus_window_desc d = {
            .name = "sums",
            .value = &wtest__v1__sum__descriptor,
            .size_ms = 10000,
            .grace_ms = 2000,
            .time_field = "time_ms",
            .add = add_tick,
            .emit = emit_sum,
        };
        kbus_runtime *pub = test_runtime("window-test-pub", NULL);
        kbus_runtime *rt;
        char a[16], b[16], c[16], x[16];

        topics("wt1", "wt1", "sums");
        key_in(a, "a", 0);
        key_in(b, "b", 0);
        key_in(c, "c", 0);
        key_in(x, "x", 1);
        rt = windowed("wt1", &d);
        tick(pub, a, S(1), 1);
        tick(pub, b, S(2), 10);
        tick(pub, a, S(3), 2);
        tick(pub, c, S(9.5), 100);
        tick(pub, a, S(11), 4);   /* time 11 - grace 2 = 9: nothing closes */
        tick(pub, b, S(9), 20);   /* within grace: counts in [0, 10) */
        tick(pub, a, S(12.5), 8); /* 10.5: [0, 10) closes, a b c */
        tick(pub, b, S(8), 1000); /* late: dead-lettered */
        tick(pub, x, S(5), 1);    /* partition 1 has a clock of its own */
        tick(pub, x, S(30), 2);   /* 28: x's [0, 10) closes */
        tick(pub, a, S(25), 16);  /* 23: a's [10, 20) closes */
        settle(rt, 11, 5, 1);
        {
                struct result want[] = {
                    {"", 0, 2, 3, 0}, {"", 0, 2, 30, 0},  {"", 0, 1, 100, 0},
                    {"", 0, 1, 1, 0}, {"", 10, 2, 12, 0},
                };
                const char *keys[] = {a, b, c, x, a};
                for (int i = 0; i < 5; i++)
                        snprintf(want[i].key, 16, "%s", keys[i]);
                assert_results(want, 5, false);
                /* One close emits in order of key; partition 0's in order
                 * of time. */
                assert_true(emitted_at(a, 0) < emitted_at(b, 0));
                assert_true(emitted_at(b, 0) < emitted_at(c, 0));
                assert_true(emitted_at(c, 0) < emitted_at(a, 10));
        }
        assert_int_equal(n_failed, 1);
        assert_int_equal(kbus_runtime_stat(rt, KBUS_STAT_WINDOW_LATE), 1);
        kbus_runtime_free(rt);
        kbus_runtime_free(pub);
}

static void test_restore(void **state) {
        static const kbus_window_desc d = {
            .name = "sums",
            .value = &wtest__v1__sum__descriptor,
            .size_ms = 10000,
            .grace_ms = 2000,
            .time_field = "time_ms",
            .add = add_tick,
            .emit = emit_sum,
        };
        kbus_runtime *pub = test_runtime("window-test-pub", NULL);
        kbus_runtime *rt;
        struct result want[3];
        char a[16], b[16];

        topics("wt2", "wt2", "sums");
        key_in(a, "a", 0);
        key_in(b, "b", 0);
        rt = windowed("wt2", &d);
        tick(pub, a, S(1), 1);
        tick(pub, a, S(2), 2);
        tick(pub, b, S(3), 4);
        tick(pub, a, S(12.5), 8); /* [0, 10) closes: a 3, b 4 */
        tick(pub, a, S(13), 16);  /* [10, 20) open */
        settle(rt, 5, 2, 0);
        kbus_runtime_free(rt);

        /* Another runtime of the group: the clock and the open window
         * come back from the changelog. */
        n_handled = n_failed = 0;
        rt = windowed("wt2", &d);
        tick(pub, a, S(9), 32);  /* late: [0, 10) closed before */
        tick(pub, a, S(14), 64); /* joins 12.5 and 13 */
        tick(pub, a, S(25), 1);  /* 23: [10, 20) closes */
        settle(rt, 3, 3, 1);
        want[0] = (struct result){"", 0, 2, 3, 0};
        want[1] = (struct result){"", 0, 1, 4, 0};
        want[2] = (struct result){"", 10, 3, 88, 0};
        snprintf(want[0].key, 16, "%s", a);
        snprintf(want[1].key, 16, "%s", b);
        snprintf(want[2].key, 16, "%s", a);
        assert_results(want, 3, true);
        assert_int_equal(n_failed, 1);
        assert_int_equal(kbus_runtime_stat(rt, KBUS_STAT_WINDOW_LATE), 1);
        kbus_runtime_free(rt);
        kbus_runtime_free(pub);
}

static void test_hopping_update(void **state) {
        static const kbus_window_desc d = {
            .name = "hops",
            .value = &wtest__v1__sum__descriptor,
            .size_ms = 10000,
            .advance_ms = 5000,
            .time_field = "time_ms",
            .late = KBUS_WINDOW_LATE_UPDATE,
            .retain_ms = 10000,
            .add = add_tick,
            .emit = emit_sum,
        };
        kbus_runtime *pub = test_runtime("window-test-pub", NULL);
        kbus_runtime *rt;
        struct result want[6] = {
            {"", -5, 1, 1, 0}, /* a@6 closes [-5, 5) */
            {"", 0, 2, 3, 0},  /* a@11 closes [0, 10) */
            {"", -5, 2, 5, 1}, /* a@3, late: both its windows again */
            {"", 0, 3, 7, 1},  {"", 5, 2, 10, 0}, /* a@25 closes [5, 15) */
            {"", 10, 1, 8, 0},                    /* and [10, 20) */
        };
        char a[16];

        topics("wt3", "wt3", "hops");
        key_in(a, "a", 0);
        for (int i = 0; i < 6; i++)
                snprintf(want[i].key, 16, "%s", a);
        rt = windowed("wt3", &d);
        tick(pub, a, S(1), 1);
        tick(pub, a, S(6), 2);
        tick(pub, a, S(11), 8);
        tick(pub, a, S(3), 4);   /* late, within retention: applied */
        tick(pub, a, S(25), 16); /* 25: [5, 15) and [10, 20) close */
        tick(pub, a, S(4), 32);  /* [-5, 5) is past retention: refused */
        settle(rt, 6, 6, 1);
        assert_results(want, 6, true);
        assert_int_equal(n_failed, 1);
        assert_int_equal(kbus_runtime_stat(rt, KBUS_STAT_WINDOW_LATE), 2);
        kbus_runtime_free(rt);
        kbus_runtime_free(pub);
}

/* A tick of key \p key written by a plain producer, with ce_time \p when
 * (NULL: none). */
static void raw_tick(rd_kafka_t *rk, const char *key, const char *when) {
        Wtest__V1__Tick t = WTEST__V1__TICK__INIT;
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        uint8_t buf[64];
        size_t len;
        t.key = (char *)key;
        t.n = 1;
        len = protobuf_c_message_pack(&t.base, buf);
        if (when)
                rd_kafka_header_add(h, "ce_time", -1, when, -1);
        rd_kafka_header_add(h, "ce_type", -1, "wtest.v1.Tick", -1);
        assert_int_equal(
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(ticks_desc.topic),
                              RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(buf, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END),
            0);
}

static void test_ce_time(void **state) {
        static const kbus_window_desc d = {
            .name = "by_ce_time",
            .value = &wtest__v1__sum__descriptor,
            .size_ms = 60000,
            .add = add_tick,
            .emit = emit_sum,
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256], a[16];
        kbus_runtime *rt;
        rd_kafka_t *rk;

        topics("wt4", "wt4", "by_ce_time");
        key_in(a, "a", 0);
        assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                           kbus_broker_bootstrap(test_broker),
                                           err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(conf, "partitioner",
                                           "murmur2_random", err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(rk);
        rt = windowed("wt4", &d);
        raw_tick(rk, a, "2023-11-14T22:13:20.000Z");
        raw_tick(rk, a, "2023-11-14T23:13:59.999+01:00"); /* 22:13:59.999Z */
        raw_tick(rk, a, NULL);                   /* no time: dead-lettered */
        raw_tick(rk, a, "yesterday");            /* a bad one: dead-lettered */
        raw_tick(rk, a, "2023-11-14t22:14:20z"); /* closes [0, 60) */
        assert_int_equal(rd_kafka_flush(rk, 10000), 0);
        settle(rt, 5, 1, 2);
        {
                /* The minute from 22:13:00, 20 s before T0. */
                struct result want = {"", -20, 2, 2, 0};
                snprintf(want.key, 16, "%s", a);
                assert_results(&want, 1, true);
        }
        assert_int_equal(n_failed, 2);
        assert_int_equal(kbus_runtime_stat(rt, KBUS_STAT_WINDOW_LATE), 0);
        kbus_runtime_free(rt);
        rd_kafka_destroy(rk);
}

static void test_attach_refuses(void **state) {
        kbus_window_desc good = {
            .name = "ok",
            .value = &wtest__v1__sum__descriptor,
            .size_ms = 2000,
            .add = add_tick,
            .emit = emit_sum,
        };
        kbus_runtime *rt = test_runtime("window-test-attach", NULL);
        kbus_window_desc d;
        kbus_window *w = NULL;

#define REFUSED(field, v)                                                      \
        do {                                                                   \
                d = good;                                                      \
                d.field = v;                                                   \
                assert_int_equal(kbus_window_attach(rt, &d, NULL, &w),         \
                                 KBUS_INVALID_ARGUMENT);                       \
                assert_null(w);                                                \
        } while (0)
        REFUSED(name, NULL);
        REFUSED(value, NULL);
        REFUSED(size_ms, 0);
        REFUSED(advance_ms, -1);
        REFUSED(advance_ms, 3000);
        REFUSED(advance_ms, 1); /* 1000 windows per record at most */
        REFUSED(grace_ms, -1);
        REFUSED(retain_ms, -1);
        REFUSED(late, (kbus_window_late)7);
        REFUSED(add, NULL);
        REFUSED(emit, NULL);
        REFUSED(name, "bad name");
#undef REFUSED
        assert_int_equal(kbus_window_attach(rt, &good, NULL, &w), 0);
        assert_non_null(w);
        /* A second window of that name is a second table of that name. */
        assert_int_equal(kbus_window_attach(rt, &good, NULL, &w),
                         KBUS_ALREADY_EXISTS);
        kbus_runtime_free(rt);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_attach_refuses),
            cmocka_unit_test(test_tumbling),
            cmocka_unit_test(test_restore),
            cmocka_unit_test(test_hopping_update),
            cmocka_unit_test(test_ce_time),
        };
        int rc;
        /* WINDOW_TEST=test_restore runs one test. */
        if (getenv("WINDOW_TEST"))
                cmocka_set_test_filter(getenv("WINDOW_TEST"));
        harness_up();
        rc = cmocka_run_group_tests(tests, NULL, NULL);
        harness_down();
        return rc;
}
