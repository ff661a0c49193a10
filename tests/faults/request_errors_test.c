/*
 * The brokers answer Produce, Fetch and OffsetCommit requests with
 * retriable errors (rd_kafka_mock_push_request_errors: the next N requests
 * of that kind, from any client, fail with the errors given).
 *
 * librdkafka retries these; what kbus adds on top must not lose or
 * reorder anything because of them:
 *   - Produce: the idempotent producer (kbus's default) retries without
 *     duplicating or reordering; calls whose requests or replies hit the
 *     errors still succeed within their deadline;
 *   - Fetch: the consumer fetches again from where it was; nothing is
 *     skipped or handled twice;
 *   - OffsetCommit: a failed commit is made good by the next one (every
 *     auto.commit.interval.ms and on close); when the last commit before a
 *     close fails, the next member of the group starts from the last
 *     commit that succeeded, so records are redone, never lost.
 */
#include "faults.h"

static void push_errors(int16_t api, size_t n, ...) {
        rd_kafka_resp_err_t errs[16];
        va_list ap;
        assert_true(n <= 16);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                errs[i] = va_arg(ap, rd_kafka_resp_err_t);
        va_end(ap);
        rd_kafka_mock_push_request_errors_array(cluster(), api, n, errs);
}

/* ---- Produce ---- */

#define N_CALLS 200

static int calls_ok, calls_ended, calls_started;

static void greet(kbus_call *call, const Hello__V1__HelloRequest *req,
                  void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        reply.message = req->name;
        assert_int_equal(hello_v1_greeter_say_hello_reply(call, &reply), 0);
}

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        calls_ended++;
        if (status == KBUS_OK)
                calls_ok++;
        else
                note("call %d: %s: %s", (int)(intptr_t)arg,
                     kbus_status_name(status), message);
}

static bool calls_done(void *arg) {
        return calls_ended == calls_started;
}

static void test_produce_errors(void **state) {
        static const hello_v1_greeter_handlers handlers = {.say_hello = greet};
        static struct stream s;
        kbus_service_desc svc = hello_v1_greeter__service;
        kbus_runtime *pub, *sub, *srv, *cli;
        kbus_call_opts *opts;

        stream_init(&s, "pe.events", 16, 50);
        make_topic("pe.events", 4, 0);
        make_topic("pe.requests", 4, 0);
        make_topic("pe.replies", 1, 3);
        svc.topic = "pe.requests";
        /* kbus's default of one Produce request in flight per broker
         * matters here: the mock does not check an idempotent producer's
         * sequence numbers (only a transactional one's), so with requests
         * pipelined behind a failed one it would append the later batch,
         * and librdkafka, seeing it succeed, would take the failed batch
         * as written too (docs/RELIABILITY.md, section 10). */
        pub = fault_runtime("pe-pub", NULL, NULL);
        sub = fault_runtime("pe-sub", "pe-events", NULL);
        srv = fault_runtime("pe-server", "pe-server", NULL);
        cli =
            fault_runtime("pe-client", NULL, "reply_topic", "pe.replies", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(
            kbus_serve(srv, &svc, &handlers, sizeof(handlers), NULL), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        kbus_call_opts_set_timeout(opts, 15000);
        assert_int_equal(kbus_call_opts_set_topic(opts, "pe.requests"), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        assert_true(run_until(runtime_ready, srv, 30));

        stream_pump_start(&s, pub, 2);
        for (int round = 0; round < 4; round++) {
                run_for(0.5);
                push_errors(API_PRODUCE, 6,
                            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
                for (int i = 0; i < N_CALLS / 4; i++) {
                        Hello__V1__HelloRequest req =
                            HELLO__V1__HELLO_REQUEST__INIT;
                        req.name = "x";
                        assert_int_equal(hello_v1_greeter_say_hello(
                                             cli, &req, opts, on_reply,
                                             (void *)(intptr_t)calls_started),
                                         0);
                        calls_started++;
                }
        }
        stream_check(&s, 30, false);
        assert_true(run_until(calls_done, NULL, 20));
        note("calls %d, ok %d; server handled %llu, client resent %llu, "
             "replies late %llu, unknown %llu",
             calls_started, calls_ok,
             (unsigned long long)kbus_runtime_stat(srv,
                                                   KBUS_STAT_REQUESTS_HANDLED),
             (unsigned long long)kbus_runtime_stat(cli, KBUS_STAT_CALLS_RESENT),
             (unsigned long long)kbus_runtime_stat(cli, KBUS_STAT_REPLIES_LATE),
             (unsigned long long)kbus_runtime_stat(cli,
                                                   KBUS_STAT_REPLIES_UNKNOWN));
        assert_int_equal(calls_ok, calls_started);
        kbus_call_opts_free(opts);
        stream_fini(&s);
        fault_free(cli);
        fault_free(srv);
        fault_free(sub);
        fault_free(pub);
}

/* ---- Fetch ---- */

static void test_fetch_errors(void **state) {
        static struct stream s;
        kbus_runtime *pub, *sub;

        stream_init(&s, "fe.events", 16, 50);
        make_topic("fe.events", 4, 0);
        pub = fault_runtime("fe-pub", NULL, NULL);
        sub = fault_runtime("fe-sub", "fe-events", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 2);
        for (int round = 0; round < 4; round++) {
                run_for(0.5);
                push_errors(API_FETCH, 6,
                            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                            RD_KAFKA_RESP_ERR__TRANSPORT,
                            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
        }
        stream_check(&s, 30, false);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
}

/* ---- OffsetCommit ---- */

static bool stream_some_handled(void *arg) {
        return ((struct stream *)arg)->handled > 0;
}

static void test_offset_commit_errors(void **state) {
        static struct stream s, again;
        kbus_runtime *pub, *sub;
        int64_t committed[4], end[4], c_sum, e_sum;

        stream_init(&s, "ce.events", 16, 50);
        make_topic("ce.events", 4, 0);
        pub = fault_runtime("ce-pub", NULL, NULL);
        sub = fault_runtime("ce-sub", "ce-events", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        stream_pump_start(&s, pub, 2);
        /* Commits start once the group is assigned and handling. */
        assert_true(run_until(stream_some_handled, &s, 30));
        /* Commits fail for a while (the runtime commits every second). */
        for (int round = 0; round < 4; round++) {
                push_errors(API_OFFSET_COMMIT, 3,
                            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
                run_for(1);
        }
        stream_check(&s, 30, false);
        stream_fini(&s);

        /* Once the errors are used up (at most one per periodic commit),
         * a commit catches up with everything handled. */
        e_sum = end_offsets("ce.events", 4, end);
        for (int i = 0; i < 30; i++) {
                run_for(1);
                if (committed_offsets("ce-events", "ce.events", 4, NULL) ==
                    e_sum)
                        break;
        }
        fault_free(sub);
        c_sum = committed_offsets("ce-events", "ce.events", 4, committed);
        note("after a clean close: committed %lld of %lld", (long long)c_sum,
             (long long)e_sum);
        assert_int_equal(e_sum, stream_total(&s));
        for (int p = 0; p < 4; p++)
                assert_int_equal(committed[p], end[p]);

        /* Now the commits around the close fail too: the next member
         * starts from the last commit that succeeded and redoes the rest,
         * each key in order. */
        stream_init(&s, "ce.events", 16, 25);
        stream_init(&again, "ce.events", 16, 25);
        again.resume = true;
        /* No periodic commit: only the commits on close count. */
        sub = fault_runtime("ce-sub", "ce-events",
                            "consumer.auto.commit.interval.ms", "600000", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        /* Published with seq numbers 1..50 per key, after the first 100. */
        stream_pump_start(&s, pub, 4);
        stream_check(&s, 30, false);
        stream_fini(&s);
        push_errors(API_OFFSET_COMMIT, 16, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
        fault_free(sub);
        rd_kafka_mock_clear_request_errors(cluster(), API_OFFSET_COMMIT);
        c_sum = committed_offsets("ce-events", "ce.events", 4, committed);
        e_sum = end_offsets("ce.events", 4, end);
        note("after a close whose commits failed: committed %lld of %lld",
             (long long)c_sum, (long long)e_sum);
        /* The first round stays committed; the second was not. */
        assert_int_equal(c_sum, 800);
        assert_int_equal(e_sum, 800 + stream_total(&s));

        /* A new member redoes exactly what was not committed. */
        sub = fault_runtime("ce-sub", "ce-events", NULL);
        assert_int_equal(kbus_subscribe(sub, &again.desc, NULL,
                                        (kbus_fn)stream_on_event, &again),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        {
                int want = (int)(e_sum - c_sum);
                double end_at = now_s() + 20;
                while (again.handled < want && now_s() < end_at)
                        run_for(0.1);
                run_for(1); /* and nothing more */
                note("redone after restart: %d (uncommitted %d)", again.handled,
                     want);
                assert_int_equal(again.handled, want);
                assert_int_equal(again.violations, 0);
                assert_int_equal(again.duplicates, 0);
        }
        fault_free(sub);
        fault_free(pub);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            fault_test(test_produce_errors),
            fault_test(test_fetch_errors),
            fault_test(test_offset_commit_errors),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("request_errors", tests, NULL, NULL);
        harness_down();
        return rc;
}
