/*
 * The record engine (framework/record.c), on the embedded broker: the
 * regressions of the defects found by trying to break its guarantees.
 *   - a record whose admission runs out of memory is kept, not skipped:
 *     it is handled later and no offset is stored past it before;
 *   - a record waiting to retry when its partition is revoked is let go:
 *     the old owner never tries it again (the test looks at the engine's
 *     partition from inside the handler), so attempts never interleave
 *     and it is dead-lettered once;
 *   - an event whose retry comes after its deadline is dead-lettered with
 *     its reason, not finished silently;
 *   - records finished just before the loop stopped are committed when
 *     the runtime closes (offsets are stored once per wake-up).
 */
#include <librdkafka/rdkafka.h>

#include "core.h"
#include "harness.h"
#include "hello.kbus.h"

#include <librdkafka/rdkafka_mock.h>

static kbus_event_desc *event_on(const char *topic, uint32_t max_attempts,
                                 uint32_t backoff_ms) {
        static kbus_event_desc descs[8];
        static int n;
        kbus_event_desc *d;
        assert_true(n < 8);
        d = &descs[n++];
        *d = hello_v1_greeted__event;
        d->topic = topic;
        d->retry.max_attempts = max_attempts;
        d->retry.initial_backoff_ms = backoff_ms;
        d->retry.max_backoff_ms = backoff_ms;
        d->retry.multiplier = 1.0;
        return d;
}

static void publish(kbus_runtime *pub, const kbus_event_desc *d,
                    const char *name, const char *message) {
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        ev.name = (char *)name;
        ev.message = (char *)message;
        assert_int_equal(kbus_publish(pub, d, &ev.base), 0);
}

/* The offset the group committed for partition 0 of \p topic. */
static int64_t committed(const char *group, const char *topic) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *l;
        int64_t off;
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        assert_non_null(rk);
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0);
        assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
        off = l->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
        return off;
}

/* ---- admission out of memory ---- */

struct seen {
        int count[16];
        int total;
        bool stored_past_gap; /* an offset was committed past a record not
                               * yet handled */
};

static void on_numbered(kbus_call *call, const Hello__V1__Greeted *ev,
                        void *arg) {
        struct seen *s = arg;
        int i = atoi(ev->message);
        assert_true(i >= 0 && i < 16);
        s->count[i]++;
        s->total++;
        kbus_call_ack(call);
}

static void test_admission_out_of_memory_keeps_the_record(void **state) {
        kbus_event_desc *d = event_on("record.oom", 1, 10);
        kbus_runtime *pub = test_runtime("record-oom-pub", NULL);
        kbus_runtime *sub = test_runtime("record-oom-sub", NULL);
        struct seen s = {0};
        char msg[8];

        rd_kafka_mock_topic_create(kbus_broker_mock(test_broker), "record.oom",
                                   1, 1);
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_numbered, &s),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until_ready(sub, 30));
        /* The first record's call cannot be allocated, once.  (It is the
         * only one allocated: later records reuse the memory of the calls
         * that ended before them.) */
        kbus__alloc_fail_size(sizeof(kbus_call), 0);
        for (int i = 0; i < 10; i++) {
                snprintf(msg, sizeof(msg), "%d", i);
                publish(pub, d, "k", msg);
        }
        for (int i = 0; i < 300 && s.total < 10; i++)
                run_for(0.05);
        kbus__alloc_fail_size(0, -1);
        assert_int_equal(s.total, 10);
        for (int i = 0; i < 10; i++)
                assert_int_equal(s.count[i], 1);
        kbus_runtime_free(sub); /* commits on close */
        assert_int_equal(committed("record-oom-sub", "record.oom"), 10);
        kbus_runtime_free(pub);
}

/* ---- revocation during a retry backoff ---- */

struct attempts {
        uint32_t seq[64]; /* the attempt numbers the handler saw, in order */
        int n;
        int after_revoke; /* attempts started for a partition not ours */
};

static void on_always_fails(kbus_call *call, const Hello__V1__Greeted *ev,
                            void *arg) {
        struct attempts *a = arg;
        if (a->n < 64)
                a->seq[a->n++] = kbus_call_attempt(call);
        if (call->part->revoked)
                a->after_revoke++;
        kbus_call_fail(call, KBUS_UNAVAILABLE, "dependency down");
}

static void test_revoked_during_backoff_is_let_go(void **state) {
        kbus_event_desc *d = event_on("record.revoke", 2, 4000);
        kbus_runtime *pub = test_runtime("record-revoke-pub", NULL);
        kbus_runtime *sub = test_runtime("record-revoke-sub", NULL);
        rd_kafka_mock_cluster_t *mock = kbus_broker_mock(test_broker);
        struct attempts a = {0};
        double end;

        rd_kafka_mock_topic_create(mock, "record.revoke", 1, 1);
        assert_int_equal(
            kbus_subscribe(sub, d, NULL, (kbus_fn)on_always_fails, &a), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until_ready(sub, 30));
        publish(pub, d, "k", "poison");
        for (int i = 0; i < 600 && a.n < 1; i++)
                run_for(0.05);
        assert_int_equal(a.n, 1);
        /* Attempt 1 failed; its retry waits 2-4 s.  Make the group
         * rebalance now: the next heartbeats say so, and the consumer
         * rejoins, revoking its partition first. */
        rd_kafka_mock_push_request_errors(
            mock, 12 /* Heartbeat */, 1,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
        /* The new owner (this process again) handles it from attempt 1 and
         * dead-letters it after attempt 2. */
        end = now_s() + 60;
        while (kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED) < 1 &&
               now_s() < end)
                run_for(0.05);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 1);
        /* The old owner's timer would fire within 4 s of the revoke. */
        run_for(4.5);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 1);
        /* No attempt started while the partition was not ours, and the
         * attempts form runs 1, 2, ...: one owner at a time. */
        assert_int_equal(a.after_revoke, 0);
        assert_true(a.n >= 3);
        assert_int_equal(a.seq[0], 1);
        for (int i = 1; i < a.n; i++)
                assert_true(a.seq[i] == 1 || a.seq[i] == a.seq[i - 1] + 1);
        assert_int_equal(a.seq[a.n - 1], 2);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* ---- a retry that fires after the deadline ---- */

static void test_late_retry_of_an_event_is_dead_lettered(void **state) {
        kbus_event_desc *d = event_on("record.late", 3, 300);
        kbus_runtime *sub = test_runtime("record-late-sub", NULL);
        rd_kafka_mock_cluster_t *mock = kbus_broker_mock(test_broker);
        struct attempts a = {0};
        char deadline[24], err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *raw;
        int64_t due;
        double end;

        rd_kafka_mock_topic_create(mock, "record.late", 1, 1);
        assert_int_equal(
            kbus_subscribe(sub, d, NULL, (kbus_fn)on_always_fails, &a), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until_ready(sub, 30));
        /* An event carrying kbus-deadline 2 s from now: attempt 1 fails at
         * once, and its retry (150-300 ms later) is scheduled within the
         * deadline.  Then the loop is kept from running past the deadline,
         * as a slow handler elsewhere would, so the timer fires late. */
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), NULL, 0);
        raw = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(raw);
        {
                Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
                uint8_t buf[64];
                size_t len;
                ev.name = "k";
                ev.message = "late";
                len = protobuf_c_message_pack(&ev.base, buf);
                due = kbus__now_ms() + 2000;
                snprintf(deadline, sizeof(deadline), "%lld", (long long)due);
                assert_int_equal(
                    rd_kafka_producev(
                        raw, RD_KAFKA_V_TOPIC("record.late"),
                        RD_KAFKA_V_VALUE(buf, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADER("ce_type", "hello.v1.Greeted", -1),
                        RD_KAFKA_V_HEADER("kbus-deadline", deadline, -1),
                        RD_KAFKA_V_END),
                    0);
                assert_int_equal(rd_kafka_flush(raw, 10000), 0);
        }
        for (int i = 0; i < 600 && a.n < 1; i++)
                run_for(0.01);
        assert_int_equal(a.n, 1);
        assert_true(kbus__now_ms() < due - 500);
        usleep((useconds_t)(due + 100 - kbus__now_ms()) * 1000);
        end = now_s() + 30;
        while (kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED) < 1 &&
               now_s() < end)
                run_for(0.05);
        assert_int_equal(a.n, 1); /* not run again after its deadline */
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 1);
        rd_kafka_destroy(raw);
        kbus_runtime_free(sub);
}

/* ---- offsets stored before the close commits ---- */

struct stop_after {
        int want, got;
};

static void on_counted(kbus_call *call, const Hello__V1__Greeted *ev,
                       void *arg) {
        struct stop_after *s = arg;
        kbus_call_ack(call);
        /* Leave the loop at once, as a program that is done may: what runs
         * after this callback in the same wake-up does not run. */
        if (++s->got == s->want)
                event_base_loopbreak(test_base);
}

static void test_close_commits_records_finished_last(void **state) {
        kbus_event_desc *d = event_on("record.close", 1, 10);
        kbus_runtime *pub = test_runtime("record-close-pub", NULL);
        kbus_runtime *sub = test_runtime("record-close-sub", NULL);
        struct stop_after s = {.want = 5};
        double end;

        rd_kafka_mock_topic_create(kbus_broker_mock(test_broker),
                                   "record.close", 1, 1);
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_counted, &s),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until_ready(sub, 30));
        for (int i = 0; i < 5; i++)
                publish(pub, d, "k", "m");
        end = now_s() + 30;
        while (s.got < s.want && now_s() < end)
                event_base_loop(test_base, EVLOOP_ONCE);
        assert_int_equal(s.got, 5);
        kbus_runtime_free(sub); /* commits on close */
        assert_int_equal(committed("record-close-sub", "record.close"), 5);
        kbus_runtime_free(pub);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_admission_out_of_memory_keeps_the_record),
            cmocka_unit_test(test_revoked_during_backoff_is_let_go),
            cmocka_unit_test(test_late_retry_of_an_event_is_dead_lettered),
            cmocka_unit_test(test_close_commits_records_finished_last),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests(tests, NULL, NULL);
        harness_down();
        return rc;
}
