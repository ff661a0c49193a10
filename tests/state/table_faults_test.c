/*
 * State tables under faults, on the three-broker embedded cluster of
 * tests/faults/faults.h.  A counting handler keeps, per key, how many
 * events it saw in the table "counts" (a Greeted whose message is the
 * count).  The changelog of each test is led by broker 3, the input topic
 * by broker 1 and the group's coordinator is broker 2, so a fault on
 * broker 3 hits the changelog only.  After each fault every event is
 * handled and committed, and the changelog is read back: per key its
 * values must go 1, 2, 3, ... to exactly the number of events sent (a
 * value may repeat, when a write whose delivery failed was written after
 * all and the retry wrote it again; none may be skipped or go back).
 *   - changelog Produce requests answered with errors, retriable ones
 *     (librdkafka retries them) and a permanent one (the runtime stops by
 *     itself; started again, it counts every event once);
 *   - the changelog's broker down past the producer's message.timeout.ms
 *     while events are counted: changelog records wait it out;
 *   - the changelog's broker down while a table is being restored: the
 *     restore waits, and so do the partitions' events, and it completes
 *     once the broker is back;
 *   - a second member joins while the first is restoring a 50,000-record
 *     changelog: the first stops restoring the partitions it loses, and
 *     whoever owns each partition afterwards restores it completely;
 *   - a changelog topic with another partition count than the input: the
 *     runtime refuses to start, naming both counts;
 *   - a changelog whose first records the broker dropped: restored from
 *     the oldest record kept, and counted on from there.
 */
#include "faults.h"

static const kbus_table_desc counts = {
    .name = "counts",
    .value = &hello__v1__greeted__descriptor,
};

#define CHANGELOG_LEADER 3
#define INPUT_LEADER 1
#define COORDINATOR 2

/* Counting handler: get, add one, put. */
static void on_count(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        const ProtobufCMessage *old = NULL;
        Hello__V1__Greeted v = HELLO__V1__GREETED__INIT;
        char n[16];
        int rc = kbus_table_get(call, &counts, NULL, 0, &old);

        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, KBUS_INTERNAL, kbus_strerror(rc));
                return;
        }
        snprintf(n, sizeof(n), "%d",
                 old ? atoi(((const Hello__V1__Greeted *)old)->message) + 1
                     : 1);
        v.name = ev->name;
        v.message = n;
        if ((rc = kbus_table_put(call, &counts, NULL, 0, &v.base))) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
                return;
        }
        kbus_call_ack(call);
}

/* The topics and the group of one test. */
struct setup {
        char topic[64], group[64], changelog[128];
};

static void setup_make(struct setup *t, const char *name) {
        snprintf(t->topic, sizeof(t->topic), "%s.events", name);
        snprintf(t->group, sizeof(t->group), "%s", name);
        snprintf(t->changelog, sizeof(t->changelog), "%s.counts.changelog",
                 name);
        make_topic(t->topic, 4, INPUT_LEADER);
        make_topic(t->changelog, 4, CHANGELOG_LEADER);
        assert_int_equal(rd_kafka_mock_coordinator_set(cluster(), "group",
                                                       t->group, COORDINATOR),
                         0);
}

/* A stream of events over 16 keys for the counters: failed calls are
 * retried until the faults are over, never dead-lettered. */
static void counted_stream(struct stream *s, const struct setup *t,
                           int per_key) {
        stream_init(s, t->topic, MAX_KEYS, per_key);
        s->desc.retry.max_attempts = 1000;
}

/* Starts counting \p s's topic in \p rt (made, not started). */
static void count_in(kbus_runtime *rt, struct stream *s) {
        assert_int_equal(kbus_table_attach(rt, &counts, NULL), 0);
        assert_int_equal(
            kbus_subscribe(rt, &s->desc, NULL, (kbus_fn)on_count, NULL), 0);
        assert_int_equal(kbus_runtime_start(rt), 0);
}

/* ---- the changelog, read back ---- */

struct sequence {
        int last[MAX_KEYS];
        int skipped, backwards, repeated, records;
        char first_bad[160];
};

static void sequence_one(const rd_kafka_message_t *m, void *arg) {
        struct sequence *q = arg;
        Hello__V1__Greeted *v;
        int k, n;
        if (!m->key || m->key_len < 2 || !m->payload)
                return;
        k = atoi((const char *)m->key + 1);
        v = hello__v1__greeted__unpack(NULL, m->len, m->payload);
        assert_non_null(v);
        n = atoi(v->message);
        hello__v1__greeted__free_unpacked(v, NULL);
        assert_true(k >= 0 && k < MAX_KEYS);
        q->records++;
        if (n == q->last[k] + 1) {
                q->last[k] = n;
                return;
        }
        if (n == q->last[k]) {
                q->repeated++;
                return;
        }
        if (!q->first_bad[0])
                snprintf(q->first_bad, sizeof(q->first_bad),
                         "k%d: %d after %d at [%d] offset %lld", k, n,
                         q->last[k], (int)m->partition, (long long)m->offset);
        if (n > q->last[k])
                q->skipped++;
        else
                q->backwards++;
        q->last[k] = n;
}

/* Asserts that the changelog counts each key up to \p want[k] without a
 * gap or a step back. */
static void changelog_exact(const char *changelog, const int *want) {
        struct sequence q = {.records = 0};
        topic_read(changelog, sequence_one, &q);
        note("%s: %d records, %d repeated, %d skipped, %d backwards%s%s",
             changelog, q.records, q.repeated, q.skipped, q.backwards,
             q.first_bad[0] ? "; first: " : "", q.first_bad);
        assert_int_equal(q.skipped, 0);
        assert_int_equal(q.backwards, 0);
        for (int k = 0; k < MAX_KEYS; k++)
                if (q.last[k] != want[k])
                        fail_msg("k%d counted %d, sent %d", k, q.last[k],
                                 want[k]);
}

struct committed_all {
        struct stream *s;
        const char *group;
        double next; /* asks the cluster at most twice a second */
        bool done;
};

static bool all_committed(void *arg) {
        struct committed_all *c = arg;
        if (c->done || c->s->published < stream_total(c->s) ||
            now_s() < c->next)
                return c->done;
        c->next = now_s() + 0.5;
        c->done = committed_offsets(c->group, c->s->desc.topic, 4, NULL) ==
                  end_offsets(c->s->desc.topic, 4, NULL);
        return c->done;
}

/* Waits until every event of \p s is published, handled and committed
 * (the offset of a record is stored only after its changelog records are
 * delivered). */
static void wait_committed(struct stream *s, const char *group,
                           double seconds) {
        struct committed_all c = {s, group, 0, false};
        if (!run_until(all_committed, &c, seconds))
                fail_msg("%s: not all committed within %.0f s (%d of %d "
                         "published)",
                         s->desc.topic, seconds, s->published, stream_total(s));
}

static bool n_handled(void *arg) {
        kbus_runtime *rt = arg;
        return kbus_runtime_stat(rt, KBUS_STAT_EVENTS_HANDLED) >= 100;
}

/* ---- changelog Produce errors ---- */

static bool change_refused(void *arg) {
        return log_tap_count("a change of table counts was not written", NULL) >
               0;
}

static void test_changelog_produce_errors(void **state) {
        struct setup t;
        struct stream s;
        kbus_runtime *sub, *pub;
        int want[MAX_KEYS];
        size_t left = 1;

        log_tap_start();
        setup_make(&t, "tf-errors");
        counted_stream(&s, &t, 50);
        sub = fault_runtime("tf-errors", t.group, NULL);
        pub = fault_runtime("tf-errors-pub", NULL, NULL);
        count_in(sub, &s);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 1);
        assert_true(run_until(n_handled, sub, 30));
        /* Retriable errors, which librdkafka's idempotent producer retries
         * (the counts go on), then one it does not: a change applied in
         * the table is refused, so the runtime stops by itself. */
        assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(
                             cluster(), CHANGELOG_LEADER, API_PRODUCE, 5,
                             RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
                             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0,
                             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 0,
                             RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, 0,
                             RD_KAFKA_RESP_ERR_INVALID_RECORD, 0),
                         0);
        assert_true(run_until(change_refused, NULL, 60));
        assert_false(kbus_runtime_ready(sub));
        rd_kafka_mock_broker_error_stack_cnt(cluster(), CHANGELOG_LEADER,
                                             API_PRODUCE, &left);
        assert_int_equal(left, 0); /* every error was answered */
        /* Started again, as a supervisor would: the table is restored
         * from the changelog, the records after the last commit are
         * handled again, and each event is counted once. */
        fault_free(sub);
        sub = fault_runtime("tf-errors", t.group, NULL);
        count_in(sub, &s);
        wait_committed(&s, t.group, 90);
        for (int k = 0; k < MAX_KEYS; k++)
                want[k] = s.per_key;
        changelog_exact(t.changelog, want);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
        log_tap_stop();
}

/* ---- the changelog's broker down while writing ---- */

static void test_changelog_broker_down_during_writes(void **state) {
        struct setup t;
        struct stream s;
        kbus_runtime *sub, *pub;
        int want[MAX_KEYS];
        long long before, after;

        log_tap_start();
        setup_make(&t, "tf-down");
        counted_stream(&s, &t, 60);
        /* Events would be given up after 1 s; changelog records never
         * are. */
        sub = fault_runtime("tf-down", t.group, "producer.message.timeout.ms",
                            "1000", NULL);
        pub = fault_runtime("tf-down-pub", NULL, NULL);
        count_in(sub, &s);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 1);
        assert_true(run_until(n_handled, sub, 30));
        assert_int_equal(
            rd_kafka_mock_broker_set_down(cluster(), CHANGELOG_LEADER), 0);
        run_for(1.5);
        before = committed_offsets(t.group, t.topic, 4, NULL);
        run_for(1.5);
        after = committed_offsets(t.group, t.topic, 4, NULL);
        assert_int_equal(
            rd_kafka_mock_broker_set_up(cluster(), CHANGELOG_LEADER), 0);
        /* The outage was felt: nothing was committed while the changes
         * could not be written. */
        note("committed during the outage: %lld, then %lld", before, after);
        assert_true(before == after);
        wait_committed(&s, t.group, 60);
        for (int k = 0; k < MAX_KEYS; k++)
                want[k] = s.per_key;
        changelog_exact(t.changelog, want);
        /* Delayed, not failed: no change was refused, no call ran twice. */
        assert_int_equal(log_tap_count("was not written", NULL), 0);
        assert_true(kbus_runtime_ready(sub));
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
        log_tap_stop();
}

/* ---- a changelog written before the test ---- */

/* Writes \p per_key counts 1..per_key of each key k0..k15 to the
 * changelog, as kbus partitions them (murmur2 over 4), in batches of \p
 * batch records, each value's name \p pad bytes longer than the key;
 * returns how many records each partition got. */
static void changelog_fill(const char *changelog, int per_key, int batch,
                           int pad, int64_t *per_partition) {
        char batch_s[16], name[300];
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;

        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), err, sizeof(err));
        snprintf(batch_s, sizeof(batch_s), "%d", batch);
        rd_kafka_conf_set(conf, "batch.num.messages", batch_s, err,
                          sizeof(err));
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(rk);
        memset(per_partition, 0, 4 * sizeof(*per_partition));
        for (int n = 1; n <= per_key; n++)
                for (int k = 0; k < MAX_KEYS; k++) {
                        Hello__V1__Greeted v = HELLO__V1__GREETED__INIT;
                        char key[8], msg[16];
                        uint8_t buf[400];
                        size_t len;
                        int32_t p;
                        rd_kafka_resp_err_t e;
                        snprintf(key, sizeof(key), "k%d", k);
                        snprintf(msg, sizeof(msg), "%d", n);
                        snprintf(name, sizeof(name), "%s%*s", key, pad, "");
                        v.name = name;
                        v.message = msg;
                        len = hello__v1__greeted__pack(&v, buf);
                        p = rd_kafka_msg_partitioner_murmur2_random(
                            NULL, key, strlen(key), 4, NULL, NULL);
                        per_partition[p]++;
                        while ((e = rd_kafka_producev(
                                    rk, RD_KAFKA_V_TOPIC(changelog),
                                    RD_KAFKA_V_PARTITION(p),
                                    RD_KAFKA_V_KEY(key, strlen(key)),
                                    RD_KAFKA_V_VALUE(buf, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END)) ==
                               RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(rk, 10);
                        assert_int_equal(e, 0);
                }
        assert_int_equal(rd_kafka_flush(rk, 30000), 0);
        rd_kafka_destroy(rk);
}

/* Whether the log says partition \p p was restored whole: every one of
 * its \p records changelog records read from offset 0. */
static bool restored_whole(int p, int64_t records) {
        char what[96], how[96];
        snprintf(what, sizeof(what), "table counts partition %d restored: ", p);
        snprintf(how, sizeof(how),
                 " entries, %lld changelog records read from offset 0 in",
                 (long long)records);
        return log_tap_count(what, how, NULL) >= 1;
}

/* ---- a changelog whose first records the broker dropped ---- */

struct last_values {
        int last[MAX_KEYS];
        int records;
};

static void last_one(const rd_kafka_message_t *m, void *arg) {
        struct last_values *lv = arg;
        Hello__V1__Greeted *v;
        int k;
        if (!m->key || m->key_len < 2 || !m->payload)
                return;
        k = atoi((const char *)m->key + 1);
        v = hello__v1__greeted__unpack(NULL, m->len, m->payload);
        assert_non_null(v);
        assert_true(k >= 0 && k < MAX_KEYS);
        lv->last[k] = atoi(v->message);
        lv->records++;
        hello__v1__greeted__free_unpacked(v, NULL);
}

struct handled {
        kbus_runtime *rt;
        uint64_t want;
};

static bool all_handled(void *arg) {
        struct handled *h = arg;
        return kbus_runtime_stat(h->rt, KBUS_STAT_EVENTS_HANDLED) >= h->want;
}

/* The broker keeps at most 100,000 records or 5 MB of a partition
 * (BROKER.md): with 32,000 records of 230 bytes in a partition, offset 0
 * is gone.  The restore
 * asks for offset 0 first (cheaper than asking for the oldest), hears that
 * it is gone, and reads from the oldest record kept; the counts go on from
 * the last values, which were kept. */
static void test_changelog_start_dropped(void **state) {
        struct setup t;
        struct stream s;
        struct last_values lv = {{0}};
        kbus_runtime *sub, *pub;
        int64_t filled[4];
        int partial = 0;

        log_tap_start();
        setup_make(&t, "tf-dropped");
        changelog_fill(t.changelog, 8000, 1000, 200, filled);
        counted_stream(&s, &t, 5);
        sub = fault_runtime("tf-dropped", t.group, NULL);
        pub = fault_runtime("tf-dropped-pub", NULL, NULL);
        count_in(sub, &s);
        assert_true(run_until(runtime_ready, sub, 60));
        for (int p = 0; p < 4; p++) {
                char what[96];
                snprintf(what, sizeof(what),
                         "table counts partition %d restored: ", p);
                assert_true(log_tap_count(what, NULL) >= 1);
                partial += !restored_whole(p, filled[p]);
        }
        note("partitions restored from their oldest kept record: %d", partial);
        assert_true(partial >= 1); /* the case under test happened */
        stream_pump_start(&s, pub, 4);
        /* Handled first: before any event is written, "all committed" is
         * true of an empty topic. */
        {
                struct handled h = {sub, (uint64_t)stream_total(&s)};
                assert_true(run_until(all_handled, &h, 60));
        }
        wait_committed(&s, t.group, 60);
        topic_read(t.changelog, last_one, &lv);
        for (int k = 0; k < MAX_KEYS; k++)
                if (lv.last[k] != 8000 + s.per_key)
                        fail_msg("k%d counted %d, want %d", k, lv.last[k],
                                 8000 + s.per_key);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
        log_tap_stop();
}

/* ---- the changelog's broker down during a restore ---- */

static bool restoring_started(void *arg) {
        return log_tap_count("restoring table counts partition", NULL) >= 4;
}

static void test_changelog_broker_down_during_restore(void **state) {
        struct setup t;
        struct stream s;
        kbus_runtime *sub, *pub;
        int64_t filled[4];
        int want[MAX_KEYS];

        log_tap_start();
        setup_make(&t, "tf-restore-down");
        changelog_fill(t.changelog, 500, 100, 0, filled);
        counted_stream(&s, &t, 20);
        assert_int_equal(
            rd_kafka_mock_broker_set_down(cluster(), CHANGELOG_LEADER), 0);
        sub = fault_runtime("tf-restore-down", t.group, NULL);
        pub = fault_runtime("tf-restore-down-pub", NULL, NULL);
        count_in(sub, &s);
        /* The group joins; the restores begin and cannot finish. */
        assert_true(run_until(restoring_started, NULL, 30));
        run_for(2);
        assert_int_equal(log_tap_count("restored:", NULL), 0);
        assert_false(kbus_runtime_ready(sub));
        /* Events come meanwhile: they wait for their partition's table. */
        stream_pump_start(&s, pub, 4);
        run_for(2);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_EVENTS_HANDLED), 0);
        assert_int_equal(
            rd_kafka_mock_broker_set_up(cluster(), CHANGELOG_LEADER), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        for (int p = 0; p < 4; p++)
                if (!restored_whole(p, filled[p]))
                        fail_msg("partition %d was not restored whole (%lld "
                                 "records)",
                                 p, (long long)filled[p]);
        wait_committed(&s, t.group, 60);
        for (int k = 0; k < MAX_KEYS; k++)
                want[k] = 500 + s.per_key;
        changelog_exact(t.changelog, want);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
        log_tap_stop();
}

/* ---- a rebalance during a restore ---- */

static bool both_ready(void *arg) {
        kbus_runtime **rts = arg;
        return kbus_runtime_ready(rts[0]) && kbus_runtime_ready(rts[1]);
}

static void test_rebalance_during_restore(void **state) {
        struct setup t;
        struct stream s;
        kbus_runtime *rts[2], *pub;
        int64_t filled[4];
        int want[MAX_KEYS];
        const int per_key = 50000 / MAX_KEYS;

        log_tap_start();
        setup_make(&t, "tf-rebalance");
        changelog_fill(t.changelog, per_key, 100, 0, filled);
        counted_stream(&s, &t, 20);
        /* A restore of 50,000 records takes well under a second here;
         * small fetches from a slow broker make it last several. */
        assert_int_equal(
            rd_kafka_mock_broker_set_rtt(cluster(), CHANGELOG_LEADER, 40), 0);
        rts[0] =
            fault_runtime("tf-rebalance-a", t.group,
                          "consumer.max.partition.fetch.bytes", "4096", NULL);
        rts[1] =
            fault_runtime("tf-rebalance-b", t.group,
                          "consumer.max.partition.fetch.bytes", "4096", NULL);
        pub = fault_runtime("tf-rebalance-pub", NULL, NULL);
        count_in(rts[0], &s);
        assert_true(run_until(restoring_started, NULL, 30));
        /* b joins while a restores all four partitions: a loses them. */
        count_in(rts[1], &s);
        assert_true(run_until(both_ready, rts, 90));
        assert_int_equal(
            rd_kafka_mock_broker_set_rtt(cluster(), CHANGELOG_LEADER, 0), 0);
        note("restores stopped by the rebalance: %d",
             log_tap_count("revoked while restoring", NULL));
        assert_true(log_tap_count("revoked while restoring", NULL) >= 1);
        for (int p = 0; p < 4; p++)
                if (!restored_whole(p, filled[p]))
                        fail_msg("partition %d was not restored whole (%lld "
                                 "records)",
                                 p, (long long)filled[p]);
        assert_int_equal(kbus_table_size(rts[0], &counts) +
                             kbus_table_size(rts[1], &counts),
                         MAX_KEYS);
        stream_pump_start(&s, pub, 1);
        wait_committed(&s, t.group, 60);
        for (int k = 0; k < MAX_KEYS; k++)
                want[k] = per_key + s.per_key;
        changelog_exact(t.changelog, want);
        stream_fini(&s);
        fault_free(rts[1]);
        fault_free(rts[0]);
        fault_free(pub);
        log_tap_stop();
}

/* ---- a changelog topic of another partition count ---- */

static bool wrong_count_logged(void *arg) {
        return log_tap_count("changelog topic tf-wrong.counts.changelog has 2 "
                             "partitions but input topic tf.wrong.events has "
                             "4",
                             NULL) == 1;
}

static void test_changelog_wrong_partition_count(void **state) {
        struct stream s;
        kbus_runtime *sub;

        log_tap_start();
        make_topic("tf.wrong.events", 4, INPUT_LEADER);
        make_topic("tf-wrong.counts.changelog", 2, CHANGELOG_LEADER);
        stream_init(&s, "tf.wrong.events", MAX_KEYS, 1);
        sub = fault_runtime("tf-wrong", "tf-wrong", NULL);
        assert_int_equal(kbus_table_attach(sub, &counts, NULL), 0);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)on_count, NULL), 0);
        assert_int_equal(kbus_runtime_start(sub), KBUS_FAILED_PRECONDITION);
        /* The log tap reads the line in a thread of its own. */
        assert_true(run_until(wrong_count_logged, NULL, 5));
        fault_free(sub);
        log_tap_stop();
}

int main(void) {
        const struct CMUnitTest tests[] = {
            fault_test(test_changelog_wrong_partition_count),
            fault_test(test_changelog_produce_errors),
            fault_test(test_changelog_broker_down_during_writes),
            fault_test(test_changelog_broker_down_during_restore),
            fault_test(test_rebalance_during_restore),
            fault_test(test_changelog_start_dropped),
        };
        int rc;
        (void)stream_on_event; /* faults.h's subscriber: counting here */
        harness_up();
        rc = cmocka_run_group_tests_name("table_faults", tests, NULL, NULL);
        harness_down();
        return rc;
}
