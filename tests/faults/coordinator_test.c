/*
 * The group coordinator goes away, briefly and for longer than the
 * session timeout, while a subscriber handles a keyed stream.
 *
 * The promises checked: every event handled at least once, each key in
 * order.  A brief outage costs nothing but a delay: fetching goes on and
 * commits wait.  When the coordinator is gone longer than
 * session.timeout.ms (6 s in low-latency mode) the member's assignment is
 * lost: nothing can be committed then, so what was handled since the last
 * commit comes back once the group forms again, still in order.
 */
#include "faults.h"

/* Partition leaders on brokers 1 and 2; the group's coordinator on 3, so
 * taking broker 3 down takes away the coordinator and nothing else. */
static void coordinated_by_3(const char *topic, const char *group) {
        make_topic(topic, 4, 0);
        for (int p = 0; p < 4; p++)
                assert_int_equal(rd_kafka_mock_partition_set_leader(
                                     cluster(), topic, p, 1 + p % 2), 0);
        assert_int_equal(rd_kafka_mock_coordinator_set(cluster(), "group",
                                                       group, 3), 0);
}

static void coordinator_outage(const char *topic, const char *group,
                               double outage_s, bool dups_ok) {
        static struct stream s;
        kbus_runtime *pub, *sub;

        stream_init(&s, topic, 16, 75);
        s.delay_ms = 20;
        coordinated_by_3(topic, group);
        pub = fault_runtime("cd-pub", NULL, NULL);
        /* With the defaults: the runtime caps librdkafka's reconnect
         * backoff at 1 s in low-latency mode; at the default 10 s a 3 s
         * outage could outlast the 6 s session and cost the assignment
         * (one run in three did before the cap). */
        sub = fault_runtime("cd-sub", group, NULL);
        assert_int_equal(kbus_subscribe(sub, &s.desc, NULL,
                                        (kbus_fn)stream_on_event, &s), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 1);
        run_for(1.5);
        note("coordinator down for %.0f s: published %d, handled %d",
             outage_s, s.published, s.handled);
        assert_int_equal(rd_kafka_mock_broker_set_down(cluster(), 3), 0);
        run_for(outage_s);
        assert_int_equal(rd_kafka_mock_broker_set_up(cluster(), 3), 0);
        note("coordinator up: published %d, handled %d", s.published,
             s.handled);
        stream_check(&s, 30, dups_ok);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
}

/* Shorter than the session timeout: fetching goes on, commits wait, and
 * nothing is handled twice. */
static void test_coordinator_down_briefly(void **state) {
        coordinator_outage("cd1.events", "cd1-events", 3, false);
}

/* Longer than the session timeout: the assignment is lost and handled
 * records since the last commit are redone, in order, none lost. */
static void test_coordinator_down_past_session_timeout(void **state) {
        coordinator_outage("cd2.events", "cd2-events", 9, true);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            fault_test(test_coordinator_down_briefly),
            fault_test(test_coordinator_down_past_session_timeout),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("coordinator", tests, NULL, NULL);
        harness_down();
        return rc;
}
