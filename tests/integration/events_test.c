/*
 * Events on the embedded broker: every subscribing group gets each event
 * once, with the CloudEvents type it was published as; a subscriber that
 * stops and restarts resumes after its last acknowledged record, losing
 * nothing and redoing nothing it had acknowledged.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "harness.h"
#include "hello.kbus.h"

#define N_EVENTS 200

/* Each test publishes to a topic of its own. */
static kbus_event_desc *event_on(const char *topic) {
        static kbus_event_desc descs[16];
        static int n;
        kbus_event_desc *d;
        assert_true(n < 16);
        d = &descs[n++];
        *d = hello_v1_greeted__event;
        d->topic = topic;
        return d;
}

struct seen {
        int count[N_EVENTS];
        int total;
        int hold_from; /* events numbered >= this are held, not acked */
        kbus_call *held[N_EVENTS];
        int n_held;
};

static int number_of(const Hello__V1__Greeted *ev) {
        int i = atoi(ev->name + 1); /* names are "e<number>" */
        assert_true(i >= 0 && i < N_EVENTS);
        return i;
}

static void on_greeted(kbus_call *call, const Hello__V1__Greeted *ev,
                       void *arg) {
        struct seen *s = arg;
        int i = number_of(ev);
        s->count[i]++;
        s->total++;
        assert_string_equal(kbus_call_method(call), "hello.v1.Greeted");
        if (s->hold_from && i >= s->hold_from) {
                s->held[s->n_held++] = call;
                return;
        }
        assert_int_equal(kbus_call_ack(call), 0);
}

static void publish_range(kbus_runtime *pub, const kbus_event_desc *d, int from,
                          int to) {
        for (int i = from; i < to; i++) {
                Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
                char name[16], msg[32];
                snprintf(name, sizeof(name), "e%d", i);
                snprintf(msg, sizeof(msg), "Hello, %s!", name);
                ev.name = name;
                ev.message = msg;
                assert_int_equal(kbus_publish(pub, d, &ev.base), 0);
        }
}

static bool wait_total(struct seen *s, int want, double seconds) {
        double end = now_s() + seconds;
        while (s->total < want && now_s() < end)
                run_for(0.05);
        return s->total >= want;
}

static void test_each_group_once(void **state) {
        kbus_event_desc *d = event_on("groups.greeted");
        kbus_runtime *pub = test_runtime("groups-pub", NULL);
        kbus_runtime *a = test_runtime("groups-a", "group-a");
        kbus_runtime *b = test_runtime("groups-b", "group-b");
        static struct seen sa, sb;

        assert_int_equal(kbus_subscribe(a, d, NULL, (kbus_fn)on_greeted, &sa),
                         0);
        assert_int_equal(kbus_subscribe(b, d, NULL, (kbus_fn)on_greeted, &sb),
                         0);
        assert_int_equal(kbus_runtime_start(a), 0);
        assert_int_equal(kbus_runtime_start(b), 0);
        publish_range(pub, d, 0, N_EVENTS);
        assert_true(wait_total(&sa, N_EVENTS, 30));
        assert_true(wait_total(&sb, N_EVENTS, 30));
        run_for(0.5);
        for (int i = 0; i < N_EVENTS; i++) {
                assert_int_equal(sa.count[i], 1);
                assert_int_equal(sb.count[i], 1);
        }
        assert_int_equal(kbus_runtime_stat(pub, KBUS_STAT_EVENTS_PUBLISHED),
                         N_EVENTS);
        kbus_runtime_free(a);
        kbus_runtime_free(b);
        kbus_runtime_free(pub);
}

static void test_resume_after_restart(void **state) {
        kbus_event_desc *d = event_on("resume.greeted");
        kbus_runtime *pub = test_runtime("resume-pub", NULL);
        kbus_runtime *sub;
        static struct seen first, second;

        /* No periodic commit in the test's time: what the second life
         * sees depends on the commit made when the first one stops. */
        sub = test_runtime_with("resume-sub", "resume",
                                "consumer.auto.commit.interval.ms", "600000");

        /* The first life acknowledges e0..e29 and is still working on
         * e30..e49 when it stops. */
        first.hold_from = 30;
        assert_int_equal(
            kbus_subscribe(sub, d, NULL, (kbus_fn)on_greeted, &first), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        publish_range(pub, d, 0, 50);
        assert_true(wait_total(&first, 50, 30));
        assert_int_equal(first.n_held, 20);
        kbus_runtime_free(sub);

        publish_range(pub, d, 50, 100);
        sub = test_runtime("resume-sub", "resume");
        assert_int_equal(
            kbus_subscribe(sub, d, NULL, (kbus_fn)on_greeted, &second), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(wait_total(&second, 70, 30));
        run_for(1);
        for (int i = 0; i < 30; i++)
                assert_int_equal(second.count[i], 0); /* acked: not redone */
        for (int i = 30; i < 100; i++)
                assert_int_equal(second.count[i], 1); /* nothing lost */
        assert_int_equal(second.total, 70);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* A runtime on a broker of its own, which the test may take down; \p key
 * is set to \p value in its configuration. */
static kbus_runtime *own_broker_runtime(kbus_broker **own, const char *key,
                                        const char *value) {
        kbus_config *conf;
        kbus_runtime *rt;
        char err[256];
        assert_int_equal(kbus_broker_new(own, 1, err, sizeof(err)), 0);
        assert_int_equal(kbus_config_new(&conf), 0);
        assert_int_equal(kbus_config_set(conf, "bootstrap",
                                         kbus_broker_bootstrap(*own), err,
                                         sizeof(err)),
                         0);
        assert_int_equal(
            kbus_config_set(conf, "low_latency", "true", err, sizeof(err)), 0);
        assert_int_equal(kbus_config_set(conf, key, value, err, sizeof(err)),
                         0);
        assert_int_equal(
            kbus_runtime_new(&rt, &conf, test_base, err, sizeof(err)), 0);
        return rt;
}

/* Regression: kbus_runtime_free used to wait forever in the consumer's
 * close when the broker had gone first (say, both got SIGTERM). */
/* A member that gets no partition (two members, one partition) has still
 * joined: it is ready, and so is the one that got it; a runtime shutting
 * down is not. */
static void test_ready_without_partitions(void **state) {
        kbus_event_desc *d = event_on("ready.greeted");
        kbus_runtime *a = test_runtime("ready-a", "ready");
        kbus_runtime *b = test_runtime("ready-b", "ready");
        static struct seen sa, sb;

        assert_int_equal(
            kbus_broker_create_topic(test_broker, "ready.greeted", 1), 0);
        assert_int_equal(kbus_subscribe(a, d, NULL, (kbus_fn)on_greeted, &sa),
                         0);
        assert_int_equal(kbus_subscribe(b, d, NULL, (kbus_fn)on_greeted, &sb),
                         0);
        assert_false(kbus_runtime_ready(a)); /* not started */
        assert_int_equal(kbus_runtime_start(a), 0);
        assert_int_equal(kbus_runtime_start(b), 0);
        assert_true(run_until_ready(a, 30));
        assert_true(run_until_ready(b, 30));
        kbus_runtime_shutdown(a);
        assert_false(kbus_runtime_ready(a));
        kbus_runtime_free(a);
        kbus_runtime_free(b);
}

static void test_free_after_broker_gone(void **state) {
        kbus_event_desc *d = event_on("gone.greeted");
        kbus_broker *own;
        kbus_runtime *sub =
            own_broker_runtime(&own, "shutdown_grace_ms", "2000");
        static struct seen s;
        double start;

        assert_int_equal(
            kbus_subscribe(sub, d, "gone", (kbus_fn)on_greeted, &s), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until_ready(sub, 30));
        kbus_broker_free(own);
        start = now_s();
        kbus_runtime_free(sub);
        assert_true(now_s() - start < 8.0);
}

/* ---- publishers that must know the outcome ---- */

struct outcomes {
        int ok, unavailable, other;
        char last_message[128];
};

static void on_delivery(kbus_status status, const char *message, void *arg) {
        struct outcomes *o = arg;
        if (status == KBUS_OK)
                o->ok++;
        else if (status == KBUS_UNAVAILABLE)
                o->unavailable++;
        else
                o->other++;
        if (message)
                snprintf(o->last_message, sizeof(o->last_message), "%s",
                         message);
}

/* kbus_publish_confirmed reports each event's outcome once: OK when it is
 * written, UNAVAILABLE (with the reason) when the broker stays away past
 * message.timeout.ms; kbus_runtime_flush runs those callbacks without the
 * loop; too large an event is refused at once.  Undelivered events, with
 * or without a callback, are counted. */
static void test_publish_confirmed(void **state) {
        kbus_event_desc *d = event_on("confirm.greeted");
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        static struct outcomes o;
        kbus_broker *own;
        kbus_runtime *pub =
            own_broker_runtime(&own, "kafka.message.timeout.ms", "1500");
        char *big;

        ev.name = "k";
        ev.message = "hello";
        assert_int_equal(kbus_publish_confirmed(pub, d, &ev.base, NULL, NULL),
                         KBUS_INVALID_ARGUMENT);
        for (int i = 0; i < 50; i++)
                assert_int_equal(
                    kbus_publish_confirmed(pub, d, &ev.base, on_delivery, &o),
                    0);
        assert_int_equal(kbus_runtime_flush(pub, 15000), 0);
        assert_int_equal(o.ok, 50);
        assert_int_equal(o.unavailable + o.other, 0);

        big = malloc(1500001);
        assert_non_null(big);
        memset(big, 'x', 1500000);
        big[1500000] = '\0';
        ev.message = big;
        assert_int_equal(
            kbus_publish_confirmed(pub, d, &ev.base, on_delivery, &o),
            KBUS_OUT_OF_RANGE);
        free(big);
        ev.message = "hello";

        assert_int_equal(
            rd_kafka_mock_broker_set_down(kbus_broker_mock(own), 1), 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(
                    kbus_publish_confirmed(pub, d, &ev.base, on_delivery, &o),
                    0);
        assert_int_equal(kbus_publish(pub, d, &ev.base), 0);
        assert_int_equal(kbus_runtime_flush(pub, 15000), 0);
        assert_int_equal(o.ok, 50);
        assert_int_equal(o.unavailable, 5);
        assert_int_equal(o.other, 0);
        assert_true(strstr(o.last_message, "timed out") != NULL);
        assert_int_equal(kbus_runtime_stat(pub, KBUS_STAT_EVENTS_UNDELIVERED),
                         6);
        assert_int_equal(rd_kafka_mock_broker_set_up(kbus_broker_mock(own), 1),
                         0);
        kbus_runtime_free(pub);
        kbus_broker_free(own);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_each_group_once),
            cmocka_unit_test(test_resume_after_restart),
            cmocka_unit_test(test_ready_without_partitions),
            cmocka_unit_test(test_free_after_broker_gone),
            cmocka_unit_test(test_publish_confirmed),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("events", tests, NULL, NULL);
        harness_down();
        return rc;
}
