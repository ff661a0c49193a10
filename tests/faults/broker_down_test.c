/*
 * A broker goes down and comes back while calls and events flow.
 *
 * kbus_broker_set_up(..., false) closes the broker's connections and
 * refuses new ones, but does not move its partitions' leadership: the
 * partitions it leads (and the group it coordinates, if any) are
 * unreachable until it is up again.  The promises checked:
 *   - RPC: every call ends exactly once, with OK or, for calls caught by
 *     the outage, DEADLINE_EXCEEDED or UNAVAILABLE; none hangs past its
 *     deadline; calls made after recovery succeed;
 *   - events: every published event is handled at least once and each
 *     key's events are handled in order;
 *   - dead letters: with the dead-letter topic unreachable, a record that
 *     must be dead-lettered holds its key and its partition's committed
 *     offset while its dead letter's deliveries fail, and is dead-lettered
 *     exactly once when the topic is back;
 *   - events published while handling a record (kbus_call_publish): with
 *     their topic unreachable the record is not acknowledged and is handled
 *     again; once the broker is back every event arrives, in key order,
 *     copies of one event with one CloudEvents id.
 */
#include "faults.h"

/* ---- RPC ---- */

#define MAX_CALLS 4096

struct rpc_run {
        kbus_runtime *cli;
        kbus_service_desc svc;
        kbus_call_opts *opts;
        struct event *pump;
        int started;
        int ended;
        int ok, deadline, unavailable, other;
        int completions[MAX_CALLS];
        kbus_status status[MAX_CALLS];
        double started_at[MAX_CALLS];
        double timeout_s; /* of calls started now */
        double deadline_at[MAX_CALLS];
        double late; /* worst completion after the deadline, seconds */
        double broker_up_at;
        int ok_after_up; /* OK replies to calls started after broker_up_at */
        bool stop;
        int handled; /* handler runs, redeliveries included */
};

static struct rpc_run rpc;

static void greet(kbus_call *call, const Hello__V1__HelloRequest *req,
                  void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        rpc.handled++;
        reply.message = req->name;
        assert_int_equal(hello_v1_greeter_say_hello_reply(call, &reply), 0);
}

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        int i = (int)(intptr_t)arg;
        double took = now_s() - rpc.started_at[i];
        double over = now_s() - rpc.deadline_at[i];
        /* Exactly once: a second completion is the bug this test hunts. */
        assert_int_equal(rpc.completions[i], 0);
        rpc.completions[i]++;
        rpc.status[i] = status;
        rpc.ended++;
        if (over > rpc.late) {
                rpc.late = over;
                note("call %d: %s after %.2f s (loop stalled %.2f s)", i,
                     kbus_status_name(status), took, loop_stall());
        }
        switch (status) {
        case KBUS_OK:
                rpc.ok++;
                assert_non_null(reply);
                assert_int_equal(atoi(reply->message), i);
                if (rpc.broker_up_at > 0 &&
                    rpc.started_at[i] > rpc.broker_up_at)
                        rpc.ok_after_up++;
                break;
        case KBUS_DEADLINE_EXCEEDED:
                rpc.deadline++;
                break;
        case KBUS_UNAVAILABLE:
                rpc.unavailable++;
                break;
        default:
                rpc.other++;
                note("call %d: unexpected %s: %s", i, kbus_status_name(status),
                     message);
        }
}

static void start_call(void) {
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        char name[16];
        int i = rpc.started;
        assert_true(i < MAX_CALLS);
        snprintf(name, sizeof(name), "%d", i);
        req.name = name;
        rpc.started_at[i] = now_s();
        rpc.deadline_at[i] = rpc.started_at[i] + rpc.timeout_s;
        assert_int_equal(kbus_call_start(rpc.cli, &rpc.svc, &rpc.svc.methods[0],
                                         &req.base, rpc.opts, (kbus_fn)on_reply,
                                         (void *)(intptr_t)i),
                         0);
        rpc.started++;
}

static void rpc_pump_cb(evutil_socket_t fd, short what, void *arg) {
        struct timeval tv = {0, 20000};
        if (rpc.stop)
                return;
        start_call();
        evtimer_add(rpc.pump, &tv);
}

static bool all_ended(void *arg) {
        return rpc.ended == rpc.started;
}

static bool recovered(void *arg) {
        return rpc.ok_after_up >= 25;
}

static void test_broker_down_during_rpc(void **state) {
        kbus_runtime *srv, *cli;
        static const hello_v1_greeter_handlers handlers = {.say_hello = greet};
        double t0;

        memset(&rpc, 0, sizeof(rpc));
        make_topic("bd.requests", 4, 0);
        /* The reply topic's only partition is on the broker that goes
         * down, so replies are cut off too. */
        make_topic("bd.replies", 1, 2);
        rpc.svc = hello_v1_greeter__service;
        rpc.svc.topic = "bd.requests";
        srv = fault_runtime("bd-server", "bd-server", NULL);
        cli = rpc.cli =
            fault_runtime("bd-client", NULL, "reply_topic", "bd.replies", NULL);
        assert_int_equal(
            kbus_serve(srv, &rpc.svc, &handlers, sizeof(handlers), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        assert_int_equal(kbus_call_opts_new(&rpc.opts), 0);

        /* One call with a long deadline: once it is answered the server
         * has joined its group and the client reads its replies. */
        kbus_call_opts_set_timeout(rpc.opts, 20000);
        rpc.timeout_s = 20;
        start_call();
        assert_true(run_until(all_ended, NULL, 25));
        assert_int_equal(rpc.status[0], KBUS_OK);

        kbus_call_opts_set_timeout(rpc.opts, 2500);
        rpc.timeout_s = 2.5;
        rpc.pump = evtimer_new(test_base, rpc_pump_cb, NULL);
        rpc_pump_cb(-1, 0, NULL);
        run_for(1.5);
        note("broker 2 down after %d calls", rpc.started);
        assert_int_equal(kbus_broker_set_up(test_broker, 2, false), 0);
        run_for(3);
        assert_int_equal(kbus_broker_set_up(test_broker, 2, true), 0);
        rpc.broker_up_at = now_s();
        note("broker 2 up after %d calls", rpc.started);
        /* librdkafka reconnects with backoff (up to
         * reconnect.backoff.max.ms, 10 s): give it that long. */
        t0 = now_s();
        assert_true(run_until(recovered, NULL, 20));
        note("recovered %.1f s after the broker came back", now_s() - t0);
        rpc.stop = true;
        assert_true(run_until(all_ended, NULL, 10));
        note("calls %d: ok %d, deadline %d, unavailable %d, other %d; "
             "handler runs %d; worst overrun of a deadline %.2f s",
             rpc.started, rpc.ok, rpc.deadline, rpc.unavailable, rpc.other,
             rpc.handled, rpc.late);
        assert_int_equal(rpc.other, 0);
        assert_int_equal(rpc.ok + rpc.deadline + rpc.unavailable, rpc.started);
        /* The outage must have been felt, or the test showed nothing. */
        assert_true(rpc.deadline + rpc.unavailable > 0);
        /* A deadline timer fires on time, outage or not. */
        assert_true(rpc.late < 1.0);
        assert_int_equal(kbus_runtime_stat(cli, KBUS_STAT_CALLS_STARTED),
                         (uint64_t)rpc.started);
        assert_int_equal(kbus_runtime_stat(cli, KBUS_STAT_CALLS_OK) +
                             kbus_runtime_stat(cli, KBUS_STAT_CALLS_FAILED) +
                             kbus_runtime_stat(cli, KBUS_STAT_CALLS_TIMED_OUT),
                         (uint64_t)rpc.started);
        for (int i = 0; i < rpc.started; i++)
                assert_int_equal(rpc.completions[i], 1);
        event_free(rpc.pump);
        kbus_call_opts_free(rpc.opts);
        fault_free(cli);
        fault_free(srv);
}

/* ---- events ---- */

static void test_broker_down_during_events(void **state) {
        static struct stream s;
        kbus_runtime *pub, *sub;

        stream_init(&s, "bd.events", 16, 75);
        make_topic("bd.events", 4, 0);
        pub = fault_runtime("bd-pub", NULL, NULL);
        sub = fault_runtime("bd-sub", "bd-events", NULL);
        assert_int_equal(
            kbus_subscribe(sub, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        stream_pump_start(&s, pub, 2);
        run_for(1);
        note("broker 1 down: published %d, handled %d", s.published, s.handled);
        assert_int_equal(kbus_broker_set_up(test_broker, 1, false), 0);
        run_for(3);
        assert_int_equal(kbus_broker_set_up(test_broker, 1, true), 0);
        note("broker 1 up: published %d, handled %d", s.published, s.handled);
        stream_check(&s, 30, true);
        stream_fini(&s);
        fault_free(sub);
        fault_free(pub);
}

/* ---- the dead-letter topic down ---- */

static int dd_good_k0, dd_good_k3, dd_poison_runs;

static void on_dd(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        if (!strcmp(ev->message, "poison")) {
                dd_poison_runs++;
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, "poison");
                return;
        }
        if (!strcmp(ev->name, "k0"))
                dd_good_k0++;
        else
                dd_good_k3++;
        kbus_call_ack(call);
}

static void dd_publish(kbus_runtime *pub, const kbus_event_desc *desc,
                       const char *key, const char *message) {
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        ev.name = (char *)key;
        ev.message = (char *)message;
        assert_int_equal(kbus_publish(pub, desc, &ev.base), 0);
}

/* The poison has failed and the other key has flowed past it. */
static bool dd_stuck(void *arg) {
        (void)arg;
        return dd_poison_runs > 0 && dd_good_k3 == 11;
}

/* The runtime's lines saying a delivery to the dead-letter topic failed. */
static int dd_dlt_failures(void) {
        return log_tap_count("\"component\":\"dlq\"",
                             "dead letter to dd.events.DLT failed", NULL);
}

static bool dd_dlt_failed(void *arg) {
        (void)arg;
        return dd_dlt_failures() >= 1;
}

static bool dd_committed_k3(void *arg) {
        int64_t committed[4];
        committed_offsets("dd-events", "dd.events", 4, committed);
        return dd_good_k3 == 12 && committed[0] == 12;
}

static bool dd_done(void *arg) {
        kbus_runtime *sub = arg;
        return kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED) == 1 &&
               dd_good_k0 == 10;
}

static bool dd_committed_all(void *arg) {
        int64_t committed[4];
        committed_offsets("dd-events", "dd.events", 4, committed);
        return committed[0] == 12 && committed[1] == 11;
}

/* A permanent failure while the dead-letter topic's leader is down, for
 * longer than the subscriber's producer tries to deliver (its
 * message.timeout.ms is 1 s here): the dead letter's deliveries fail, and
 * the record's offset is not stored, so nothing from it on is committed;
 * later records of its key wait, other keys flow and are committed; once
 * the broker is back the dead letter is written (once), then the key
 * moves on and is committed. */
static void test_dead_letter_topic_down(void **state) {
        kbus_event_desc desc = hello_v1_greeted__event;
        kbus_runtime *pub, *sub;
        int64_t committed[4], end[4];

        dd_good_k0 = dd_good_k3 = dd_poison_runs = 0;
        log_tap_start();
        desc.topic = "dd.events";
        make_topic("dd.events", 4, 1);
        make_topic("dd.events.DLT", 4, 3);
        /* Only the dead-letter topic is on broker 3, not the group. */
        assert_int_equal(
            rd_kafka_mock_coordinator_set(cluster(), "group", "dd-events", 2),
            0);
        pub = fault_runtime("dd-pub", NULL, NULL);
        sub = fault_runtime("dd-sub", "dd-events",
                            "producer.message.timeout.ms", "1000", NULL);
        assert_int_equal(kbus_subscribe(sub, &desc, NULL, (kbus_fn)on_dd, NULL),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until(runtime_ready, sub, 30));
        assert_int_equal(kbus_broker_set_up(test_broker, 3, false), 0);
        /* k0 and k3 are on different partitions (murmur2: 1 and 0); the
         * poison is the first record of partition 1, offset 0. */
        for (int i = 0; i < 11; i++) {
                dd_publish(pub, &desc, "k0", i ? "fine" : "poison");
                dd_publish(pub, &desc, "k3", "fine");
        }
        /* However long the group takes to form. */
        assert_true(run_until(dd_stuck, NULL, 20));
        /* The dead letter's delivery really fails (after a second of
         * trying; the runtime tries again a second later). */
        assert_true(run_until(dd_dlt_failed, NULL, 20));
        /* A commit made after those failures: one more k3 record, handled
         * and committed.  Had the poison's offset been stored when its
         * dead letter failed, partition 1 would be committed with it. */
        dd_publish(pub, &desc, "k3", "fine");
        assert_true(run_until(dd_committed_k3, NULL, 20));
        committed_offsets("dd-events", "dd.events", 4, committed);
        note(
            "while the DLT is down: %d failed deliveries of the dead "
            "letter, dead-lettered %llu, poison runs %d, k0 handled %d, "
            "k3 handled %d, committed: partition 0 %lld, partition 1 %lld",
            dd_dlt_failures(),
            (unsigned long long)kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED),
            dd_poison_runs, dd_good_k0, dd_good_k3, (long long)committed[0],
            (long long)committed[1]);
        assert_int_equal(committed[1], 0); /* nothing from the poison on */
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 0);
        assert_int_equal(dd_poison_runs, 1); /* failed for good, not retried */
        assert_int_equal(dd_good_k0, 0);     /* behind the poison */
        assert_int_equal(dd_good_k3, 12);    /* another key flows */
        assert_int_equal(kbus_broker_set_up(test_broker, 3, true), 0);
        assert_true(run_until(dd_done, sub, 25));
        /* Once written, the poison's offset moves on and is committed. */
        assert_true(run_until(dd_committed_all, NULL, 20));
        end_offsets("dd.events.DLT", 4, end);
        note("after the DLT is back: %d failed deliveries, dead letters "
             "written %lld",
             dd_dlt_failures(), (long long)(end[0] + end[1] + end[2] + end[3]));
        assert_int_equal(end[0] + end[1] + end[2] + end[3], 1);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 1);
        fault_free(sub);
        fault_free(pub);
        log_tap_stop();
}

/* ---- events published while handling a record ---- */

static kbus_event_desc pf_out;
static int pf_relayed; /* relay handler runs */

/* Stream processing's step: each event in becomes an event out. */
static void pf_relay(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        pf_relayed++;
        assert_int_equal(kbus_call_publish(call, &pf_out, &ev->base), 0);
        assert_int_equal(kbus_call_ack(call), 0);
}

/* Every copy of one Greeted{k, seq} in pf.out must carry the same ce_id,
 * one of the record it was published for. */
struct ce_ids {
        char id[MAX_KEYS][64][64];
        int records;
};

static void check_ce_id(const rd_kafka_message_t *m, void *arg) {
        struct ce_ids *c = arg;
        Hello__V1__Greeted *ev =
            hello__v1__greeted__unpack(NULL, m->len, m->payload);
        rd_kafka_headers_t *h;
        const void *id;
        size_t id_len;
        int k, seq;
        char *slot;

        assert_non_null(ev);
        k = atoi(ev->name + 1);
        seq = atoi(ev->message);
        hello__v1__greeted__free_unpacked(ev, NULL);
        assert_true(k >= 0 && k < MAX_KEYS && seq >= 0 && seq < 64);
        assert_int_equal(rd_kafka_message_headers(m, &h), 0);
        assert_int_equal(rd_kafka_header_get_last(h, "ce_id", &id, &id_len), 0);
        assert_true(id_len > 6 && id_len < 64);
        assert_memory_equal(id, "pf.in-", 6);
        slot = c->id[k][seq];
        if (!slot[0])
                memcpy(slot, id, id_len);
        else
                assert_memory_equal(slot, id, id_len);
        c->records++;
}

static bool pf_retried(void *arg) {
        return kbus_runtime_stat(arg, KBUS_STAT_RETRIES) >= 8 &&
               pf_relayed >= 2 * 8;
}

static bool pf_committed_all(void *arg) {
        return committed_offsets("pf-relay", "pf.in", 4, NULL) == *(int *)arg;
}

/* The leader of the output topic is down longer than the producer keeps
 * trying (message.timeout.ms): the relay's events are not delivered, so
 * its records stay unacknowledged and are handled again with backoff.
 * Nothing is committed meanwhile; after the broker is back every event
 * reaches the sink in key order and every input offset is committed. */
static void test_published_events_topic_down(void **state) {
        static struct stream s;
        kbus_event_desc in = hello_v1_greeted__event;
        kbus_runtime *pub, *relay, *sink;
        int total;

        stream_init(&s, "pf.out", 8, 20);
        total = stream_total(&s);
        in.topic = "pf.in";
        in.retry = (kbus_retry_policy){.max_attempts = 100,
                                       .initial_backoff_ms = 100,
                                       .max_backoff_ms = 400};
        pf_out = s.desc;
        pf_relayed = 0;
        make_topic("pf.in", 4, 1);
        make_topic("pf.out", 4, 3);
        assert_int_equal(
            rd_kafka_mock_coordinator_set(cluster(), "group", "pf-relay", 2),
            0);
        assert_int_equal(
            rd_kafka_mock_coordinator_set(cluster(), "group", "pf-sink", 1), 0);
        pub = fault_runtime("pf-pub", NULL, NULL);
        relay = fault_runtime("pf-relay", "pf-relay",
                              "kafka.message.timeout.ms", "1500", NULL);
        sink = fault_runtime("pf-sink", "pf-sink", NULL);
        assert_int_equal(
            kbus_subscribe(relay, &in, NULL, (kbus_fn)pf_relay, NULL), 0);
        assert_int_equal(
            kbus_subscribe(sink, &s.desc, NULL, (kbus_fn)stream_on_event, &s),
            0);
        assert_int_equal(kbus_runtime_start(relay), 0);
        assert_int_equal(kbus_runtime_start(sink), 0);
        assert_true(run_until(runtime_ready, relay, 30));
        assert_true(run_until(runtime_ready, sink, 30));

        assert_int_equal(kbus_broker_set_up(test_broker, 3, false), 0);
        s.pub = pub;
        for (int i = 0; i < total; i++) {
                s.desc.topic = "pf.in"; /* the stream's events, sent in */
                assert_true(stream_publish_one(&s));
        }
        s.desc.topic = "pf.out";
        /* Each key's first event fails once the producer gives up on it
         * (1.5 s), then is handled again; the key's later events wait. */
        run_until(pf_retried, relay, 20);
        note("while pf.out is down: relay ran %d times for %d events, "
             "%llu retries, sink handled %d, committed %lld",
             pf_relayed, total,
             (unsigned long long)kbus_runtime_stat(relay, KBUS_STAT_RETRIES),
             s.handled,
             (long long)committed_offsets("pf-relay", "pf.in", 4, NULL));
        assert_true(pf_retried(relay));
        assert_true(pf_relayed < total);
        assert_int_equal(s.handled, 0);
        assert_int_equal(committed_offsets("pf-relay", "pf.in", 4, NULL), 0);

        assert_int_equal(kbus_broker_set_up(test_broker, 3, true), 0);
        stream_check(&s, 40, true);
        assert_true(run_until(pf_committed_all, &total, 15));
        assert_int_equal(kbus_runtime_stat(relay, KBUS_STAT_DEAD_LETTERED), 0);
        {
                static struct ce_ids ids;
                memset(&ids, 0, sizeof(ids));
                topic_read("pf.out", check_ce_id, &ids);
                note("pf.out holds %d records for %d events", ids.records,
                     total);
                assert_true(ids.records >= total);
        }
        fault_free(sink);
        fault_free(relay);
        fault_free(pub);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            fault_test(test_broker_down_during_rpc),
            fault_test(test_broker_down_during_events),
            fault_test(test_dead_letter_topic_down),
            fault_test(test_published_events_topic_down),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("broker_down", tests, NULL, NULL);
        harness_down();
        return rc;
}
