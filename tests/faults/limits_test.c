/*
 * Back-pressure, retry backoff and graceful shutdown.
 *
 *   - A client with client_max_in_flight calls pending refuses the next
 *     with RESOURCE_EXHAUSTED, and takes calls again once some end.
 *   - A producer whose queue is full (the brokers are down and
 *     queue.buffering.max.messages is small) refuses publishes and calls
 *     with RESOURCE_EXHAUSTED instead of growing without bound; what it
 *     accepted is delivered and handled once the brokers are back.
 *   - A handler's retriable failure is retried with exponential backoff,
 *     jitter and a cap, its key waiting while the partition's other keys
 *     flow.
 *   - kbus_runtime_shutdown() stops fetching, lets records in handlers
 *     finish within shutdown_grace_ms and commits what finished; a record
 *     still in a handler when the grace period ends is not committed, so
 *     the next member of the group handles it (and, offsets being stored
 *     in order, the records after it in its partition): exactly what was
 *     not committed comes back, and nothing is lost.
 */
#include "faults.h"

static int ended;

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        ended++;
}

static bool calls_ended(void *arg) {
        return ended >= *(int *)arg;
}

static int call(kbus_runtime *cli, kbus_call_opts *opts) {
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        req.name = "x";
        return hello_v1_greeter_say_hello(cli, &req, opts, on_reply, NULL);
}

/* ---- calls pending ---- */

static void test_client_max_in_flight(void **state) {
        kbus_runtime *cli = fault_runtime("mif-client", NULL,
                                          "client_max_in_flight", "5", NULL);
        kbus_call_opts *opts;
        int want = 5;

        ended = 0;
        make_topic("mif.requests", 4, 0);
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        /* Nobody serves this topic: the calls wait for their deadline. */
        assert_int_equal(kbus_call_opts_set_topic(opts, "mif.requests"), 0);
        kbus_call_opts_set_timeout(opts, 1000);
        for (int i = 0; i < 5; i++)
                assert_int_equal(call(cli, opts), 0);
        assert_int_equal(call(cli, opts), KBUS_RESOURCE_EXHAUSTED);
        assert_int_equal(kbus_runtime_stat(cli, KBUS_STAT_CALLS_STARTED), 5);
        assert_true(run_until(calls_ended, &want, 10));
        assert_int_equal(kbus_runtime_stat(cli, KBUS_STAT_CALLS_TIMED_OUT), 5);
        assert_int_equal(call(cli, opts), 0); /* room again */
        kbus_call_opts_free(opts);
        fault_free(cli);
}

/* ---- a full producer queue ---- */

static void test_producer_queue_full(void **state) {
        static struct stream s;
        kbus_runtime *pub, *sub;
        kbus_call_opts *opts;
        int accepted = 0, refused_at = -1, rc;

        stream_init(&s, "qf.events", 16, 100);
        make_topic("qf.events", 4, 2);
        pub =
            fault_runtime("qf-pub", NULL,
                          "producer.queue.buffering.max.messages", "50", NULL);
        sub = fault_runtime("qf-sub", "qf-events", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        s.pub = pub;
        assert_true(run_until(runtime_ready, sub, 30));

        /* Every partition's leader is down: nothing leaves the queue. */
        assert_int_equal(kbus_broker_set_up(test_broker, 2, false), 0);
        run_for(0.5);
        for (int i = 0; i < 200 && refused_at < 0; i++) {
                int before = s.published;
                stream_publish_one(&s); /* counts only what was accepted */
                if (s.published == before)
                        refused_at = i;
        }
        accepted = s.published;
        note("the producer refused event %d after accepting %d", refused_at,
             accepted);
        assert_true(refused_at >= 0 && accepted <= 50);
        /* A call needs the producer too. */
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        assert_int_equal(kbus_call_opts_set_topic(opts, "qf.events"), 0);
        rc = call(pub, opts);
        kbus_call_opts_free(opts);
        assert_int_equal(rc, KBUS_RESOURCE_EXHAUSTED);

        assert_int_equal(kbus_broker_set_up(test_broker, 2, true), 0);
        /* Everything accepted is delivered and handled, then the rest. */
        stream_pump_start(&s, pub, 4);
        stream_check(&s, 40, false);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
}

/* ---- graceful shutdown ---- */

struct holder {
        struct stream *s;
        kbus_call *held; /* the record kept past the grace period */
        int held_offset;
        int held_partition;
};

static struct holder holder;

/* Holds the first record of key k0 for good; the rest are acknowledged
 * after s->delay_ms, so some are in handlers when shutdown begins. */
static void on_hold(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        if (!holder.held && !strcmp(ev->name, "k0")) {
                holder.held = call;
                holder.held_partition = kbus_call_partition(call);
                holder.held_offset = (int)kbus_call_offset(call);
                holder.s->handled++;
                return;
        }
        stream_on_event(call, ev, holder.s);
}

static void test_shutdown_grace(void **state) {
        static struct stream s, again;
        kbus_runtime *pub, *sub;
        int64_t committed[4], end[4];

        stream_init(&s, "sg.events", 16, 20);
        s.delay_ms = 300;
        stream_init(&again, "sg.events", 16, 20);
        again.resume = true;
        memset(&holder, 0, sizeof(holder));
        holder.s = &s;
        make_topic("sg.events", 4, 0);
        pub = fault_runtime("sg-pub", NULL, NULL);
        sub = fault_runtime("sg-sub", "sg-events", "shutdown_grace_ms", "1500",
                            NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)on_hold, &s), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        stream_pump_start(&s, pub, 16);
        /* Until everything was published and handlers are busy. */
        while (s.published < stream_total(&s) || s.handled < 40)
                run_for(0.05);
        assert_non_null(holder.held);
        note("shutting down with %d acks due and one record held", s.n_acks);
        kbus_runtime_shutdown(sub);
        run_for(2.5); /* past the grace period */
        note("after the grace period: %d acks due", s.n_acks);
        fault_free(sub);
        committed_offsets("sg-events", "sg.events", 4, committed);
        end_offsets("sg.events", 4, end);
        for (int p = 0; p < 4; p++) {
                note("partition %d: committed %lld of %lld", p,
                     (long long)committed[p], (long long)end[p]);
                if (p == holder.held_partition)
                        assert_int_equal(committed[p], holder.held_offset);
        }

        /* The next member gets the held record and whatever came after it
         * in its partition, and nothing from the other partitions except
         * what was never fetched before the shutdown. */
        sub = fault_runtime("sg-sub", "sg-events", NULL);
        assert_int_equal(kbus_subscribe(sub, &again.desc, NULL,
                                        (kbus_fn)stream_on_event, &again),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        {
                int64_t want = 0;
                double until = now_s() + 20;
                for (int p = 0; p < 4; p++)
                        want += end[p] - committed[p];
                while (again.handled < want && now_s() < until)
                        run_for(0.1);
                run_for(1);
                note("redelivered %d (uncommitted %lld)", again.handled,
                     (long long)want);
                assert_int_equal(again.handled, want);
                assert_true(again.times[0][1] == 1); /* the held record */
                assert_int_equal(again.violations, 0);
        }
        /* Nothing lost over both lives. */
        for (int k = 0; k < 16; k++)
                for (int q = 1; q <= 20; q++)
                        assert_true(s.times[k][q] || again.times[k][q] ||
                                    (k == 0 && q == 1));
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
}

/* ---- retry backoff ---- */

/* Attempts of the flaky record (key k0), and the records of key k1, which
 * murmur2 puts on the same partition. */
static double attempt_at[8];
static int attempts, k1_handled, k1_when_k0_done = -1;

static void on_flaky(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        if (!strcmp(ev->name, "k0")) {
                attempt_at[attempts++] = now_s();
                assert_int_equal(kbus_call_attempt(call), (uint32_t)attempts);
                if (attempts < 6) {
                        kbus_call_fail(call, KBUS_UNAVAILABLE, "not yet");
                        return;
                }
                k1_when_k0_done = k1_handled;
        } else {
                k1_handled++;
        }
        kbus_call_ack(call);
}

/* Exponential backoff from initial_backoff_ms, times multiplier, capped at
 * max_backoff_ms, each delay scaled by a random factor in [0.5, 1]; the
 * record's key waits, other keys of its partition flow meanwhile. */
static void test_retry_backoff(void **state) {
        static const double base[] = {0.1, 0.2, 0.4, 0.4, 0.4};
        kbus_event_desc desc = hello_v1_greeted__event;
        kbus_runtime *pub, *sub;
        bool jittered = false;

        desc.topic = "rt.events";
        desc.retry.max_attempts = 6;
        desc.retry.initial_backoff_ms = 100;
        desc.retry.max_backoff_ms = 400;
        desc.retry.multiplier = 2;
        make_topic("rt.events", 4, 0);
        pub = fault_runtime("rt-pub", NULL, NULL);
        sub = fault_runtime("rt-sub", "rt-events", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &desc, NULL, (kbus_fn)on_flaky, NULL), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        for (int i = 0; i < 21; i++) {
                Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
                ev.name = i ? "k1" : "k0";
                ev.message = "m";
                assert_int_equal(kbus_publish(pub, &desc, &ev.base), 0);
        }
        for (int i = 0; i < 400 && attempts < 6; i++)
                run_for(0.05);
        assert_int_equal(attempts, 6);
        for (int i = 0; i < 5; i++) {
                double d = attempt_at[i + 1] - attempt_at[i];
                note("retry %d after %.3f s (base %.1f s)", i + 1, d, base[i]);
                assert_true(d >= 0.5 * base[i] - 0.005);
                assert_true(d <= base[i] + 0.06);
                if (i >= 3 && (d - (attempt_at[3] - attempt_at[2]) > 0.002 ||
                               d - (attempt_at[3] - attempt_at[2]) < -0.002))
                        jittered = true;
        }
        assert_true(jittered);
        /* k1's records did not wait for k0's retries. */
        note("k1 records handled before k0 succeeded: %d of 20",
             k1_when_k0_done);
        assert_int_equal(k1_when_k0_done, 20);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_RETRIES), 5);
        fault_free(sub);
        fault_free(pub);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            fault_test(test_client_max_in_flight),
            fault_test(test_producer_queue_full),
            fault_test(test_shutdown_grace),
            fault_test(test_retry_backoff),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("limits", tests, NULL, NULL);
        harness_down();
        return rc;
}
