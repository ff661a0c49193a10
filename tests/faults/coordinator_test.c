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
 *
 * Each test also shows that its fault was felt, from the subscriber's log:
 * its consumer's connection to the coordinator was refused, and the
 * assignment was kept (brief) or lost and given back (past the session
 * timeout).  Without that, a fault that never reached the runtime would
 * pass for one the runtime handled.
 */
#include "faults.h"

/* Partition leaders on brokers 1 and 2; the group's coordinator on 3, so
 * taking broker 3 down takes away the coordinator and nothing else. */
static void coordinated_by_3(const char *topic, const char *group) {
        make_topic(topic, 4, 0);
        for (int p = 0; p < 4; p++)
                assert_int_equal(rd_kafka_mock_partition_set_leader(
                                     cluster(), topic, p, 1 + p % 2),
                                 0);
        assert_int_equal(
            rd_kafka_mock_coordinator_set(cluster(), "group", group, 3), 0);
}

/* Lines of the subscriber's log saying its group's partitions were
 * assigned, or revoked or lost ("group G: N partitions assigned"). */
static int partitions_line(const char *group, const char *what) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "group %s: ", group);
        return log_tap_count("\"component\":\"consumer\"", prefix, what, NULL);
}

/* The subscriber's consumer (client id cd-sub) tried to reach the group
 * coordinator and was refused. */
static int coordinator_refused(void) {
        return log_tap_count("cd-sub#consumer", "GroupCoordinator",
                             "Connection refused", NULL);
}

static void coordinator_outage(const char *topic, const char *group,
                               double outage_s, bool past_session) {
        static struct stream s;
        kbus_runtime *pub, *sub;
        int handled_at_down, refused_at_down, assigned_at_down;
        int revoked_at_down, lost_at_down;

        stream_init(&s, topic, 16, 75);
        s.delay_ms = 20;
        log_tap_start();
        coordinated_by_3(topic, group);
        pub = fault_runtime("cd-pub", NULL, NULL);
        /* With the defaults: the runtime caps librdkafka's reconnect
         * backoff at 1 s in low-latency mode; at the default 10 s a 3 s
         * outage could outlast the 6 s session and cost the assignment
         * (one run in three did before the cap). */
        sub = fault_runtime("cd-sub", group, NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 1);
        run_for(1.5);
        note("coordinator down for %.0f s: published %d, handled %d", outage_s,
             s.published, s.handled);
        handled_at_down = s.handled;
        refused_at_down = coordinator_refused();
        assigned_at_down = partitions_line(group, "partitions assigned");
        revoked_at_down = partitions_line(group, "partitions revoked");
        lost_at_down = partitions_line(group, "partitions lost");
        assert_int_equal(kbus_broker_set_up(test_broker, 3, false), 0);
        run_for(outage_s);
        assert_int_equal(kbus_broker_set_up(test_broker, 3, true), 0);
        note("coordinator up: published %d, handled %d", s.published,
             s.handled);
        /* The outage reached the subscriber: its consumer could not
         * connect to the coordinator. */
        assert_true(coordinator_refused() > refused_at_down);
        /* Fetching does not need the coordinator: records were handled
         * while it was away. */
        assert_true(s.handled > handled_at_down);
        stream_check(&s, 30, past_session);
        note("assigned %d time(s), revoked %d, lost %d; the coordinator "
             "refused %d connection(s)",
             partitions_line(group, "partitions assigned"),
             partitions_line(group, "partitions revoked"),
             partitions_line(group, "partitions lost"), coordinator_refused());
        if (past_session) {
                /* The session timed out: the assignment was lost, the
                 * group formed again, and what had been handled since
                 * the last commit (every commit failed meanwhile) was
                 * handled again. */
                assert_true(partitions_line(group, "partitions lost") >
                            lost_at_down);
                assert_true(partitions_line(group, "partitions assigned") >
                            assigned_at_down);
                assert_true(s.duplicates > 0);
        } else {
                /* No rebalance: the assignment was neither revoked nor
                 * lost, nor made again. */
                assert_int_equal(partitions_line(group, "partitions assigned"),
                                 assigned_at_down);
                assert_int_equal(partitions_line(group, "partitions revoked"),
                                 revoked_at_down);
                assert_int_equal(partitions_line(group, "partitions lost"),
                                 lost_at_down);
        }
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
        log_tap_stop();
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
