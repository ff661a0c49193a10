/*
 * Partition leaders move while calls and events flow.
 *
 * rd_kafka_mock_partition_set_leader hands a partition to another broker
 * (or to none, with -1); clients learn it from NOT_LEADER_FOR_PARTITION
 * errors and a metadata refresh.  A leader move is routine in a real
 * cluster (rolling restarts, preferred-leader elections), so the promise
 * is stronger than under an outage: every call succeeds, every event is
 * handled exactly once, in order per key.  A partition left without a
 * leader for a while only delays its records.
 */
#include "faults.h"

static void move_leaders(const char *topic, int partitions, int round) {
        for (int p = 0; p < partitions; p++)
                assert_int_equal(
                    rd_kafka_mock_partition_set_leader(
                        cluster(), topic, p, 1 + (p + round) % N_BROKERS),
                    0);
}

/* ---- events ---- */

static void test_leader_moves_during_events(void **state) {
        static struct stream s;
        kbus_runtime *pub, *sub;

        stream_init(&s, "lm.events", 16, 75);
        make_topic("lm.events", 4, 0);
        pub = fault_runtime("lm-pub", NULL, NULL);
        sub = fault_runtime("lm-sub", "lm-events", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 2);
        for (int round = 1; round <= 4; round++) {
                run_for(0.7);
                note("leaders move (round %d): published %d, handled %d", round,
                     s.published, s.handled);
                move_leaders("lm.events", 4, round);
        }
        /* Partition 0 without a leader for 2 s: its records wait, the
         * other partitions keep flowing. */
        assert_int_equal(
            rd_kafka_mock_partition_set_leader(cluster(), "lm.events", 0, -1),
            0);
        run_for(2);
        assert_int_equal(
            rd_kafka_mock_partition_set_leader(cluster(), "lm.events", 0, 3),
            0);
        note("partition 0 has a leader again: published %d, handled %d",
             s.published, s.handled);
        stream_check(&s, 30, false);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
}

/* ---- RPC ---- */

#define N_CALLS 300

struct rpc_run {
        kbus_runtime *cli;
        kbus_service_desc svc;
        kbus_call_opts *opts;
        int started, ended, ok;
        int completions[N_CALLS];
        kbus_status status[N_CALLS];
};

static struct rpc_run rpc;

static void greet(kbus_call *call, const Hello__V1__HelloRequest *req,
                  void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        reply.message = req->name;
        assert_int_equal(hello_v1_greeter_say_hello_reply(call, &reply), 0);
}

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        int i = (int)(intptr_t)arg;
        assert_int_equal(rpc.completions[i]++, 0);
        rpc.status[i] = status;
        rpc.ended++;
        if (status == KBUS_OK) {
                rpc.ok++;
                assert_int_equal(atoi(reply->message), i);
        } else {
                note("call %d: %s: %s", i, kbus_status_name(status), message);
        }
}

static void start_call(void) {
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        char name[16];
        int i = rpc.started;
        snprintf(name, sizeof(name), "%d", i);
        req.name = name;
        assert_int_equal(kbus_call_start(rpc.cli, &rpc.svc, &rpc.svc.methods[0],
                                         &req.base, rpc.opts, (kbus_fn)on_reply,
                                         (void *)(intptr_t)i),
                         0);
        rpc.started++;
}

static bool all_ended(void *arg) {
        return rpc.ended == rpc.started;
}

static void test_leader_moves_during_rpc(void **state) {
        static const hello_v1_greeter_handlers handlers = {.say_hello = greet};
        kbus_runtime *srv, *cli;

        memset(&rpc, 0, sizeof(rpc));
        make_topic("lm.requests", 4, 0);
        make_topic("lm.replies", 1, 1);
        rpc.svc = hello_v1_greeter__service;
        rpc.svc.topic = "lm.requests";
        srv = fault_runtime("lm-server", "lm-server", NULL);
        cli = rpc.cli =
            fault_runtime("lm-client", NULL, "reply_topic", "lm.replies", NULL);
        assert_int_equal(
            kbus_serve(srv, &rpc.svc, &handlers, sizeof(handlers), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        assert_int_equal(kbus_call_opts_new(&rpc.opts), 0);
        kbus_call_opts_set_timeout(rpc.opts, 15000);
        start_call(); /* answered once the server has joined */
        assert_true(run_until(all_ended, NULL, 20));

        for (int round = 1; round <= 5; round++) {
                for (int i = 0; i < 50; i++)
                        start_call();
                run_for(0.3);
                note("leaders move (round %d): %d calls, %d answered", round,
                     rpc.started, rpc.ended);
                move_leaders("lm.requests", 4, round);
                move_leaders("lm.replies", 1, round);
        }
        assert_true(run_until(all_ended, NULL, 20));
        note("calls %d, ok %d", rpc.started, rpc.ok);
        assert_int_equal(rpc.ok, rpc.started);
        kbus_call_opts_free(rpc.opts);
        fault_free(cli);
        fault_free(srv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            fault_test(test_leader_moves_during_events),
            fault_test(test_leader_moves_during_rpc),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("leader", tests, NULL, NULL);
        harness_down();
        return rc;
}
