/*
 * Handler outcomes on the embedded broker: retriable failures are retried
 * with backoff while later records of the same key wait; permanent
 * failures and undecodable values are dead-lettered with Spring's
 * kafka_dlt-* headers and the original value; records with different keys
 * run concurrently while each key stays in order.
 */
#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "hello.kbus.h"

static kbus_event_desc *event_on(const char *topic) {
        static kbus_event_desc descs[16];
        static int n;
        kbus_event_desc *d;
        assert_true(n < 16);
        d = &descs[n++];
        *d = hello_v1_greeted__event;
        d->topic = topic;
        d->retry.initial_backoff_ms = 20;
        d->retry.max_backoff_ms = 100;
        d->retry.max_attempts = 4;
        return d;
}

static void publish(kbus_runtime *pub, const kbus_event_desc *d,
                    const char *name, const char *message) {
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        ev.name = (char *)name;
        ev.message = (char *)message;
        assert_int_equal(kbus_publish(pub, d, &ev.base), 0);
}

/* ---- retries keep per-key order ---- */

struct log {
        char seen[64][32];
        int n;
        int fail_first; /* fail this many attempts of message "flaky" */
        int attempts_of_flaky;
};

static void on_retry_event(kbus_call *call, const Hello__V1__Greeted *ev,
                           void *arg) {
        struct log *l = arg;
        if (!strcmp(ev->message, "flaky") &&
            l->attempts_of_flaky++ < l->fail_first) {
                assert_int_equal(kbus_call_attempt(call),
                                 (uint32_t)l->attempts_of_flaky);
                kbus_call_fail(call, KBUS_UNAVAILABLE, "dependency down");
                return;
        }
        snprintf(l->seen[l->n++], 32, "%s/%s", ev->name, ev->message);
        kbus_call_ack(call);
}

static void test_retry_keeps_key_order(void **state) {
        kbus_event_desc *d = event_on("retry.greeted");
        kbus_runtime *pub = test_runtime("retry-pub", NULL);
        kbus_runtime *sub = test_runtime("retry-sub", "retry");
        static struct log l = {.fail_first = 2};
        bool done = false;

        assert_int_equal(
            kbus_subscribe(sub, d, NULL, (kbus_fn)on_retry_event, &l), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        publish(pub, d, "A", "flaky");
        publish(pub, d, "A", "second");
        publish(pub, d, "A", "third");
        for (int i = 0; i < 300 && l.n < 3; i++)
                run_for(0.05);
        done = l.n == 3;
        assert_true(done);
        assert_string_equal(l.seen[0], "A/flaky");
        assert_string_equal(l.seen[1], "A/second");
        assert_string_equal(l.seen[2], "A/third");
        assert_int_equal(l.attempts_of_flaky, 3);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_RETRIES), 2);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 0);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* ---- dead letters ---- */

static void on_reject(kbus_call *call, const Hello__V1__Greeted *ev,
                      void *arg) {
        int *n = arg;
        (*n)++;
        if (!strcmp(ev->message, "poison"))
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION,
                               "no such customer");
        else if (!strcmp(ev->message, "always-down"))
                kbus_call_fail(call, KBUS_UNAVAILABLE, "still down");
        else
                kbus_call_ack(call);
}

/* Reads \p n records of \p topic with a plain librdkafka consumer. */
static int read_topic(const char *topic, rd_kafka_message_t **out, int n,
                      rd_kafka_t **rkp) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *l;
        int got = 0;
        double end = now_s() + 20;

        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), err, sizeof(err));
        rd_kafka_conf_set(conf, "group.id", "dlt-reader", err, sizeof(err));
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", err, sizeof(err));
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        assert_non_null(rk);
        l = rd_kafka_topic_partition_list_new(4);
        for (int p = 0; p < 4; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (got < n && now_s() < end) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                out[got++] = m;
        }
        /* The messages must be destroyed before the handle: the caller
         * does both. */
        rd_kafka_consumer_close(rk);
        *rkp = rk;
        return got;
}

static const char *header(rd_kafka_message_t *m, const char *name,
                          size_t *size) {
        rd_kafka_headers_t *h;
        const void *v = NULL;
        assert_int_equal(rd_kafka_message_headers(m, &h), 0);
        if (rd_kafka_header_get_last(h, name, &v, size))
                return NULL;
        return v;
}

static uint64_t be(const char *v, size_t n) {
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
                x = x << 8 | (uint8_t)v[i];
        return x;
}

static void test_dead_letters(void **state) {
        kbus_event_desc *d = event_on("dlt.greeted");
        kbus_runtime *pub = test_runtime("dlt-pub", NULL);
        kbus_runtime *sub = test_runtime("dlt-sub", "dlt-group");
        rd_kafka_message_t *dl[3];
        rd_kafka_t *reader;
        int handled = 0, n_dlt;
        size_t sz;
        const char *v;
        bool seen_poison = false, seen_garbage = false, seen_down = false;

        assert_int_equal(
            kbus_subscribe(sub, d, NULL, (kbus_fn)on_reject, &handled), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        publish(pub, d, "P", "poison");
        publish(pub, d, "D", "always-down");
        publish(pub, d, "ok", "fine");
        {
                /* Bytes that are no Greeted at all, from a plain producer. */
                char err[256];
                rd_kafka_conf_t *conf = rd_kafka_conf_new();
                rd_kafka_t *rk;
                rd_kafka_conf_set(conf, "bootstrap.servers",
                                  kbus_broker_bootstrap(test_broker), err,
                                  sizeof(err));
                rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
                assert_int_equal(
                    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("dlt.greeted"),
                                      RD_KAFKA_V_KEY("G", 1),
                                      RD_KAFKA_V_VALUE("\xff\xff\xff", 3),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END),
                    0);
                rd_kafka_flush(rk, 5000);
                rd_kafka_destroy(rk);
        }
        for (int i = 0;
             i < 300 && kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED) < 3;
             i++)
                run_for(0.05);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 3);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DECODE_ERRORS), 1);

        n_dlt = read_topic("dlt.greeted.DLT", dl, 3, &reader);
        assert_int_equal(n_dlt, 3);
        for (int i = 0; i < n_dlt; i++) {
                rd_kafka_message_t *m = dl[i];
                char fqcn[64], msg[256];
                v = header(m, "kafka_dlt-original-topic", &sz);
                assert_non_null(v);
                assert_memory_equal(v, "dlt.greeted", sz);
                v = header(m, "kafka_dlt-original-partition", &sz);
                assert_int_equal(sz, 4);
                assert_true(be(v, 4) < 4);
                v = header(m, "kafka_dlt-original-offset", &sz);
                assert_int_equal(sz, 8);
                v = header(m, "kafka_dlt-original-timestamp", &sz);
                assert_int_equal(sz, 8);
                v = header(m, "kafka_dlt-original-consumer-group", &sz);
                assert_memory_equal(v, "dlt-group", sz);
                v = header(m, "kafka_dlt-exception-fqcn", &sz);
                snprintf(fqcn, sizeof(fqcn), "%.*s", (int)sz, v);
                v = header(m, "kafka_dlt-exception-message", &sz);
                snprintf(msg, sizeof(msg), "%.*s", (int)sz, v);
                assert_non_null(header(m, "kbus-attempts", &sz));
                if (m->key_len == 1 && !memcmp(m->key, "P", 1)) {
                        seen_poison = true;
                        assert_string_equal(fqcn, "kbus.HandlerError");
                        assert_non_null(strstr(msg, "FAILED_PRECONDITION"));
                        /* the original CloudEvents headers are kept */
                        assert_non_null(header(m, "ce_type", &sz));
                } else if (m->key_len == 1 && !memcmp(m->key, "D", 1)) {
                        seen_down = true;
                        assert_string_equal(fqcn, "kbus.HandlerError");
                        assert_non_null(strstr(msg, "attempt 4"));
                        v = header(m, "kbus-attempts", &sz);
                        assert_memory_equal(v, "4", sz);
                } else if (m->key_len == 1 && !memcmp(m->key, "G", 1)) {
                        seen_garbage = true;
                        assert_string_equal(fqcn, "kbus.DecodeError");
                        assert_int_equal(m->len, 3);
                        assert_memory_equal(m->payload, "\xff\xff\xff", 3);
                }
        }
        for (int i = 0; i < n_dlt; i++)
                rd_kafka_message_destroy(dl[i]);
        rd_kafka_destroy(reader);
        assert_true(seen_poison && seen_down && seen_garbage);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* ---- keys run concurrently, each in order ---- */

struct slow {
        kbus_runtime *rt;
        int last[20]; /* last sequence number seen per key */
        int in_order;
        int done;
        int in_handler, max_in_handler;
        int key_busy[20]; /* records of the key in the handler now */
        int overlaps;     /* a record entered while its key was busy */
};
struct pending_ack {
        kbus_call *call;
        struct slow *s;
        int key;
        struct event *ev;
};

static void ack_later(evutil_socket_t fd, short what, void *arg) {
        struct pending_ack *p = arg;
        p->s->in_handler--;
        p->s->key_busy[p->key]--;
        p->s->done++;
        kbus_call_ack(p->call);
        event_free(p->ev);
        free(p);
}

static void on_slow(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        struct slow *s = arg;
        int key = atoi(ev->name + 1), seq = atoi(ev->message);
        struct pending_ack *p = calloc(1, sizeof(*p));
        struct timeval tv = {0, 50000};
        assert_true(key >= 0 && key < 20);
        if (seq == s->last[key] + 1)
                s->in_order++;
        s->last[key] = seq;
        /* Entering in order is not enough: the key's previous record must
         * also have ended, since it is acknowledged only 50 ms later. */
        if (s->key_busy[key]++ > 0)
                s->overlaps++;
        if (++s->in_handler > s->max_in_handler)
                s->max_in_handler = s->in_handler;
        p->call = call;
        p->s = s;
        p->key = key;
        p->ev = evtimer_new(test_base, ack_later, p);
        evtimer_add(p->ev, &tv);
}

static void test_keys_concurrent_and_ordered(void **state) {
        kbus_event_desc *d = event_on("keys.greeted");
        kbus_runtime *pub = test_runtime("keys-pub", NULL);
        kbus_runtime *sub = test_runtime("keys-sub", "keys");
        static struct slow s;
        double start;

        for (int k = 0; k < 20; k++)
                s.last[k] = 0;
        assert_int_equal(
            kbus_runtime_set_ordering(sub, "keys.greeted", KBUS_ORDER_KEY, 100),
            0);
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_slow, &s), 0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        /* Join the group first, so that only the handling is timed. */
        assert_true(run_until_ready(sub, 30));
        start = now_s();
        for (int seq = 1; seq <= 5; seq++)
                for (int k = 0; k < 20; k++) {
                        char name[8], msg[8];
                        snprintf(name, sizeof(name), "k%d", k);
                        snprintf(msg, sizeof(msg), "%d", seq);
                        publish(pub, d, name, msg);
                }
        for (int i = 0; i < 400 && s.done < 100; i++)
                run_for(0.02);
        assert_int_equal(s.done, 100);
        assert_int_equal(s.in_order, 100);
        /* One record of a key in its handler at a time. */
        assert_int_equal(s.overlaps, 0);
        /* One at a time would take 100 x 50 ms = 5 s; by key, 5 rounds
         * (0.25 s): the margin is for a loaded machine. */
        assert_true(now_s() - start < 4.5);
        assert_true(s.max_in_handler > 4);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* ---- dead-lettering turned off ---- */

static void on_no_dlt(kbus_call *call, const Hello__V1__Greeted *ev,
                      void *arg) {
        struct log *l = arg;
        snprintf(l->seen[l->n++], 32, "%s/%s", ev->name, ev->message);
        if (!strcmp(ev->message, "poison"))
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION,
                               "no such customer");
        else
                kbus_call_ack(call);
}

/* KBUS_NO_DEAD_LETTER: a permanent failure is logged and skipped, nothing
 * is written to the dead-letter topic, and the key moves on. */
static void test_no_dead_letter_skips(void **state) {
        kbus_event_desc *d = event_on("nodlt.greeted");
        kbus_runtime *pub = test_runtime("nodlt-pub", NULL);
        kbus_runtime *sub = test_runtime("nodlt-sub", "nodlt");
        static struct log l;

        d->flags |= KBUS_NO_DEAD_LETTER;
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_no_dlt, &l),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        publish(pub, d, "A", "poison");
        publish(pub, d, "A", "after");
        for (int i = 0; i < 300 && l.n < 2; i++)
                run_for(0.05);
        run_for(0.5); /* a dead letter, were one sent, would be counted */
        assert_int_equal(l.n, 2);
        assert_string_equal(l.seen[0], "A/poison");
        assert_string_equal(l.seen[1], "A/after");
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 0);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_RETRIES), 0);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* ---- a retriable failure while shutting down ---- */

static kbus_call *shut_held;

static void on_shut(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        struct log *l = arg;
        snprintf(l->seen[l->n++], 32, "%s/%s", ev->name, ev->message);
        if (!strcmp(ev->message, "flaky") && !shut_held)
                shut_held = call; /* failed by the test, during shutdown */
        else
                kbus_call_ack(call);
}

/* A handler that fails with a retriable status once shutdown has begun
 * has no time for a retry: its record is left unstored, not
 * dead-lettered, and so are the records waiting behind its key, so the
 * runtime closes at once rather than at the end of its grace period.  The
 * next member of the group handles them all, in order. */
static void test_retriable_failure_at_shutdown(void **state) {
        kbus_event_desc *d = event_on("shut.greeted");
        kbus_runtime *pub = test_runtime("shut-pub", NULL);
        kbus_runtime *sub = test_runtime("shut-sub", "shut");
        static struct log l1, l2;
        struct timeval cap = {5, 0};
        double t0, took;

        shut_held = NULL;
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_shut, &l1),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        publish(pub, d, "A", "flaky");
        publish(pub, d, "A", "after");
        for (int i = 0; i < 300 && !shut_held; i++)
                run_for(0.05);
        assert_non_null(shut_held);
        run_for(0.3); /* "after" is fetched and waits behind key A */
        assert_int_equal(l1.n, 1);

        kbus_runtime_shutdown(sub); /* grace: 10 s */
        t0 = now_s();
        assert_int_equal(
            kbus_call_fail(shut_held, KBUS_UNAVAILABLE, "dependency down"), 0);
        event_base_loopexit(test_base, &cap);
        event_base_dispatch(test_base); /* until the runtime has closed */
        took = now_s() - t0;
        assert_true(took < 5); /* not the grace period */
        assert_int_equal(l1.n, 1);
        assert_int_equal(kbus_runtime_stat(sub, KBUS_STAT_DEAD_LETTERED), 0);
        kbus_runtime_free(sub);

        sub = test_runtime("shut-sub2", "shut");
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_shut, &l2),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        for (int i = 0; i < 1200 && l2.n < 2; i++)
                run_for(0.05);
        assert_int_equal(l2.n, 2);
        assert_string_equal(l2.seen[0], "A/flaky");
        assert_string_equal(l2.seen[1], "A/after");
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

/* ---- idempotent methods ---- */

static int greet_calls;
static int fail_first_greets;

static void greet(kbus_call *call, const Hello__V1__HelloRequest *req,
                  void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        if (greet_calls++ < fail_first_greets) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, "warming up");
                return;
        }
        reply.message = "hi";
        hello_v1_greeter_say_hello_reply(call, &reply);
}

static const hello_v1_greeter_handlers greet_handlers = {.say_hello = greet};

/* Greeter with SayHello marked idempotent, served on its own topic; the
 * server does not retry by itself, so the client's resend is what runs. */
static kbus_method_desc idem_method;
static kbus_service_desc idem_svc;

static void idem_setup(const char *topic) {
        idem_method = hello_v1_greeter__service.methods[0];
        idem_method.flags |= KBUS_METHOD_IDEMPOTENT;
        idem_method.retry.max_attempts = 1;
        idem_svc = hello_v1_greeter__service;
        idem_svc.methods = &idem_method;
        idem_svc.topic = topic;
}

static void produce_request(rd_kafka_t *rk, const char *topic,
                            const char *reply_topic) {
        char deadline[24];
        snprintf(deadline, sizeof(deadline), "%lld",
                 (long long)time(NULL) * 1000 + 30000);
        assert_int_equal(
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_VALUE("\x0a\x03"
                                 "bob",
                                 5),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER("kbus-method", "/hello.v1.Greeter/SayHello",
                                  -1),
                RD_KAFKA_V_HEADER("kafka_correlationId", "same-id-16-bytes",
                                  16),
                RD_KAFKA_V_HEADER("kafka_replyTopic", reply_topic, -1),
                RD_KAFKA_V_HEADER("kafka_replyPartition", "\0\0\0\0", 4),
                RD_KAFKA_V_HEADER("kbus-deadline", deadline, -1),
                RD_KAFKA_V_END),
            0);
}

/* The same request delivered twice runs the handler once; both get the
 * same reply. */
static void test_idempotent_duplicate_from_cache(void **state) {
        kbus_runtime *srv = test_runtime("idem-server", "idem-server");
        rd_kafka_message_t *replies[2];
        rd_kafka_t *rk, *reader;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256];

        greet_calls = 0;
        fail_first_greets = 0;
        idem_setup("idem.requests");
        assert_int_equal(kbus_serve(srv, &idem_svc, &greet_handlers,
                                    sizeof(greet_handlers), NULL),
                         0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), err, sizeof(err));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        produce_request(rk, "idem.requests", "idem.replies");
        produce_request(rk, "idem.requests", "idem.replies");
        rd_kafka_flush(rk, 5000);
        rd_kafka_destroy(rk);
        for (int i = 0;
             i < 300 && kbus_runtime_stat(srv, KBUS_STAT_REPLIES_CACHED) < 1;
             i++)
                run_for(0.05);
        run_for(0.3);
        assert_int_equal(greet_calls, 1);
        assert_int_equal(kbus_runtime_stat(srv, KBUS_STAT_REPLIES_CACHED), 1);
        kbus_runtime_free(srv);
        /* Both replies are there, with the same value. */
        assert_int_equal(read_topic("idem.replies", replies, 2, &reader), 2);
        assert_int_equal(replies[0]->len, replies[1]->len);
        assert_memory_equal(replies[0]->payload, replies[1]->payload,
                            replies[0]->len);
        rd_kafka_message_destroy(replies[0]);
        rd_kafka_message_destroy(replies[1]);
        rd_kafka_destroy(reader);
}

struct idem_result {
        kbus_status status;
        bool done;
};

static void on_idem(kbus_status status, const char *message,
                    const Hello__V1__HelloReply *reply, void *arg) {
        struct idem_result *r = arg;
        r->status = status;
        r->done = true;
}

/* A retriable failure of an idempotent call is resent by the client with
 * the same correlation id, and the server runs the handler again. */
static void test_idempotent_client_resend(void **state) {
        kbus_runtime *srv = test_runtime("resend-server", "resend-server");
        kbus_runtime *cli = test_runtime("resend-client", NULL);
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        struct idem_result r = {0};
        kbus_call_opts *opts;

        greet_calls = 0;
        fail_first_greets = 2;
        idem_setup("resend.requests");
        assert_int_equal(kbus_serve(srv, &idem_svc, &greet_handlers,
                                    sizeof(greet_handlers), NULL),
                         0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        kbus_call_opts_set_timeout(opts, 20000);
        req.name = "again";
        assert_int_equal(kbus_call_start(cli, &idem_svc, &idem_method,
                                         &req.base, opts, (kbus_fn)on_idem, &r),
                         0);
        kbus_call_opts_free(opts);
        assert_true(run_until(&r.done, 25));
        assert_int_equal(r.status, KBUS_OK);
        assert_int_equal(greet_calls, 3);
        assert_int_equal(kbus_runtime_stat(cli, KBUS_STAT_CALLS_RESENT), 2);
        kbus_runtime_free(cli);
        kbus_runtime_free(srv);
}

/* ---- a duplicate while the first is running ---- */

static kbus_call *held_call;

static void greet_later(kbus_call *call, const Hello__V1__HelloRequest *req,
                        void *arg) {
        greet_calls++;
        held_call = call; /* answered by the test, later */
}

/* A duplicate of an idempotent request that arrives while the first is
 * still in its handler is dropped (counted), not run: the caller gets
 * exactly one reply, the first one's. */
static void test_idempotent_duplicate_while_running(void **state) {
        static const hello_v1_greeter_handlers h = {.say_hello = greet_later};
        kbus_runtime *srv = test_runtime("dup-server", "dup-server");
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int64_t lo, hi;
        char err[256];

        greet_calls = 0;
        held_call = NULL;
        idem_setup("dup.requests");
        assert_int_equal(kbus_serve(srv, &idem_svc, &h, sizeof(h), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), err, sizeof(err));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(rk);
        produce_request(rk, "dup.requests", "dup.replies");
        produce_request(rk, "dup.requests", "dup.replies");
        rd_kafka_flush(rk, 5000);
        for (int i = 0;
             i < 300 && kbus_runtime_stat(srv, KBUS_STAT_REPLIES_CACHED) < 1;
             i++)
                run_for(0.05);
        assert_int_equal(greet_calls, 1);
        assert_int_equal(kbus_runtime_stat(srv, KBUS_STAT_REPLIES_CACHED), 1);
        assert_non_null(held_call);
        reply.message = "late hi";
        assert_int_equal(hello_v1_greeter_say_hello_reply(held_call, &reply),
                         0);
        run_for(1);
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, "dup.replies", 0,
                                                          &lo, &hi, 5000),
                         0);
        assert_int_equal(hi - lo, 1);
        assert_int_equal(greet_calls, 1);
        rd_kafka_destroy(rk);
        kbus_runtime_free(srv);
}

/* ---- server retries stop at the caller's deadline ---- */

static int64_t past_deadline_ms; /* worst start after the call's deadline */

static void greet_always_down(kbus_call *call,
                              const Hello__V1__HelloRequest *req, void *arg) {
        struct timespec ts;
        int64_t now_ms;
        clock_gettime(CLOCK_REALTIME, &ts);
        now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        greet_calls++;
        if (now_ms - kbus_call_deadline(call) > past_deadline_ms)
                past_deadline_ms = now_ms - kbus_call_deadline(call);
        kbus_call_fail(call, KBUS_UNAVAILABLE, "always down");
}

/* A request whose handler keeps failing with a retriable status is retried
 * by the server only while the caller still waits: the caller hears
 * UNAVAILABLE (or DEADLINE_EXCEEDED) by its deadline, and nothing runs
 * after it. */
static void test_server_retries_bounded_by_deadline(void **state) {
        static const hello_v1_greeter_handlers h = {.say_hello =
                                                        greet_always_down};
        kbus_runtime *srv = test_runtime("bound-server", "bound-server");
        kbus_runtime *cli = test_runtime("bound-client", NULL);
        kbus_method_desc m = hello_v1_greeter__service.methods[0];
        kbus_service_desc svc = hello_v1_greeter__service;
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        struct idem_result r = {0};
        kbus_call_opts *opts;
        double started;

        m.retry = (kbus_retry_policy){.max_attempts = 1000,
                                      .initial_backoff_ms = 100,
                                      .max_backoff_ms = 200};
        svc.methods = &m;
        svc.topic = "bound.requests";
        greet_calls = 0;
        past_deadline_ms = INT64_MIN;
        assert_int_equal(kbus_serve(srv, &svc, &h, sizeof(h), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        /* The server joins its group before the clock starts. */
        assert_true(run_until_ready(srv, 30));
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        kbus_call_opts_set_timeout(opts, 2000);
        req.name = "nobody";
        started = now_s();
        assert_int_equal(kbus_call_start(cli, &svc, &m, &req.base, opts,
                                         (kbus_fn)on_idem, &r),
                         0);
        kbus_call_opts_free(opts);
        assert_true(run_until(&r.done, 10));
        assert_true(r.status == KBUS_UNAVAILABLE ||
                    r.status == KBUS_DEADLINE_EXCEEDED);
        /* About its 2 s deadline, not the 10 s limit; the margin is for a
         * first call, which starts the client's reply consumer. */
        assert_true(now_s() - started <= 3.5);
        run_for(1.5); /* nothing more runs for a caller who is gone */
        assert_true(greet_calls > 1);       /* it was retried */
        assert_true(past_deadline_ms <= 0); /* no attempt after it */
        kbus_runtime_free(cli);
        kbus_runtime_free(srv);
}

/* ---- a reply too large to be written ---- */

static int huge_reply_rc;

static void greet_huge(kbus_call *call, const Hello__V1__HelloRequest *req,
                       void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        size_t n = 1500000; /* over the producer's 1000000-byte limit */
        char *text = malloc(n + 1);
        assert_non_null(text);
        memset(text, 'x', n);
        text[n] = '\0';
        reply.message = text;
        huge_reply_rc = hello_v1_greeter_say_hello_reply(call, &reply);
        free(text);
}

/* The caller hears OUT_OF_RANGE at once instead of waiting for its
 * deadline, and the handler learns it too. */
static void test_reply_too_large(void **state) {
        static const hello_v1_greeter_handlers h = {.say_hello = greet_huge};
        kbus_runtime *srv = test_runtime("huge-server", "huge-server");
        kbus_runtime *cli = test_runtime("huge-client", NULL);
        kbus_service_desc svc = hello_v1_greeter__service;
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        struct idem_result r = {0};
        kbus_call_opts *opts;
        double started;

        svc.topic = "huge.requests";
        assert_int_equal(kbus_serve(srv, &svc, &h, sizeof(h), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        assert_true(run_until_ready(srv, 30));
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        kbus_call_opts_set_timeout(opts, 20000);
        req.name = "big";
        started = now_s();
        assert_int_equal(kbus_call_start(cli, &svc, &svc.methods[0], &req.base,
                                         opts, (kbus_fn)on_idem, &r),
                         0);
        kbus_call_opts_free(opts);
        assert_true(run_until(&r.done, 25));
        assert_int_equal(r.status, KBUS_OUT_OF_RANGE);
        assert_int_equal(huge_reply_rc, KBUS_OUT_OF_RANGE);
        assert_true(now_s() - started < 10); /* not the 20 s deadline */
        kbus_runtime_free(cli);
        kbus_runtime_free(srv);
}

/* ---- events published while handling a request ---- */

static kbus_event_desc *pubrpc_ev;
static int pubrpc_late_rc;
static char pubrpc_ids[2][64]; /* the ce_id each request's event must have */
static int pubrpc_n;

/* Publishes a Greeted for each request, then replies, or fails "bad". */
static void pub_greet(kbus_call *call, const Hello__V1__HelloRequest *req,
                      void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        ev.name = req->name;
        ev.message = "greeted";
        assert_true(pubrpc_n < 2);
        snprintf(pubrpc_ids[pubrpc_n++], sizeof(pubrpc_ids[0]), "%s-%d-%lld-0",
                 kbus_call_topic(call), (int)kbus_call_partition(call),
                 (long long)kbus_call_offset(call));
        assert_int_equal(kbus_call_publish(call, pubrpc_ev, &ev.base), 0);
        if (!strcmp(req->name, "bad")) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT, "bad name");
        } else {
                reply.message = "hi";
                assert_int_equal(hello_v1_greeter_say_hello_reply(call, &reply),
                                 0);
        }
        /* Completed: too late to publish as part of it. */
        pubrpc_late_rc = kbus_call_publish(call, pubrpc_ev, &ev.base);
}

struct pubrpc_result {
        kbus_status status;
        bool done;
        int64_t events_then; /* events in the topic when the reply came */
};

static rd_kafka_t *pubrpc_probe;

static void on_pubrpc(kbus_status status, const char *message,
                      const Hello__V1__HelloReply *reply, void *arg) {
        struct pubrpc_result *r = arg;
        int64_t lo, hi;
        r->events_then = 0;
        for (int p = 0; p < 4; p++) {
                assert_int_equal(
                    rd_kafka_query_watermark_offsets(
                        pubrpc_probe, "pubrpc.events", p, &lo, &hi, 5000),
                    0);
                r->events_then += hi;
        }
        r->status = status;
        r->done = true;
}

/* A handler publishes, then replies or fails: both outcomes reach the
 * caller, the events are in their topic by then, a publish after the
 * outcome is refused, and each event's ce_id names the request record it
 * was published for.  (That the outcome waits for the delivery, and is a
 * retry when it fails, is shown by tests/faults/broker_down_test, where
 * the events' topic is down.) */
static void test_publish_from_request(void **state) {
        kbus_runtime *srv = test_runtime("pubrpc-server", "pubrpc-server");
        kbus_runtime *cli = test_runtime("pubrpc-client", NULL);
        static const hello_v1_greeter_handlers h = {.say_hello = pub_greet};
        kbus_service_desc svc = hello_v1_greeter__service;
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        struct pubrpc_result ok = {0}, bad = {0};
        kbus_call_opts *opts;
        rd_kafka_message_t *events[2];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *reader;
        char err[256];

        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(test_broker), err, sizeof(err));
        pubrpc_probe = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(pubrpc_probe);
        pubrpc_ev = event_on("pubrpc.events");
        pubrpc_n = 0;
        svc.topic = "pubrpc.requests";
        assert_int_equal(kbus_serve(srv, &svc, &h, sizeof(h), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        /* Generous: the group join and the events topic's first metadata
         * both come before the first reply. */
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        kbus_call_opts_set_timeout(opts, 15000);
        req.name = "ann";
        assert_int_equal(kbus_call_start(cli, &svc, &svc.methods[0], &req.base,
                                         opts, (kbus_fn)on_pubrpc, &ok),
                         0);
        assert_true(run_until(&ok.done, 20));
        req.name = "bad";
        assert_int_equal(kbus_call_start(cli, &svc, &svc.methods[0], &req.base,
                                         opts, (kbus_fn)on_pubrpc, &bad),
                         0);
        assert_true(run_until(&bad.done, 20));
        kbus_call_opts_free(opts);
        assert_int_equal(ok.status, KBUS_OK);
        assert_int_equal(ok.events_then, 1);
        assert_int_equal(bad.status, KBUS_INVALID_ARGUMENT);
        assert_int_equal(bad.events_then, 2);
        assert_int_equal(pubrpc_late_rc, KBUS_INVALID_ARGUMENT);
        kbus_runtime_free(cli);
        kbus_runtime_free(srv);
        rd_kafka_destroy(pubrpc_probe);

        assert_int_equal(read_topic("pubrpc.events", events, 2, &reader), 2);
        for (int i = 0; i < 2; i++) {
                /* The event of the request named in its value. */
                Hello__V1__Greeted *ev = hello__v1__greeted__unpack(
                    NULL, events[i]->len, events[i]->payload);
                const char *want = pubrpc_ids[!strcmp(ev->name, "bad")];
                size_t n;
                const char *id = header(events[i], "ce_id", &n);
                assert_non_null(id);
                assert_int_equal(n, strlen(want));
                assert_memory_equal(id, want, n);
                hello__v1__greeted__free_unpacked(ev, NULL);
                rd_kafka_message_destroy(events[i]);
        }
        rd_kafka_destroy(reader);
}

/* ---- one record stuck: later ones are bounded by max_uncommitted ---- */

struct stuck {
        kbus_call *held; /* the record kept in its handler */
        int handled;     /* the others, acknowledged at once */
};

static void on_stuck(kbus_call *call, const Hello__V1__Greeted *ev, void *arg) {
        struct stuck *st = arg;
        if (!strcmp(ev->message, "hold")) {
                st->held = call;
                return;
        }
        st->handled++;
        kbus_call_ack(call);
}

/* A record stays in its handler: records of other keys after it go on, up
 * to max_uncommitted from it, then the partition waits; once it ends, the
 * rest follow. */
static void test_max_uncommitted(void **state) {
        kbus_event_desc *d = event_on("unc.greeted");
        kbus_runtime *pub = test_runtime("unc-pub", NULL);
        kbus_runtime *sub =
            test_runtime_with("unc-sub", "unc", "max_uncommitted", "20");
        static struct stuck st;
        char name[16];

        assert_int_equal(
            kbus_broker_create_topic(test_broker, "unc.greeted", 1), 0);
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_stuck, &st),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        publish(pub, d, "A", "hold");
        for (int i = 0; i < 100; i++) {
                snprintf(name, sizeof(name), "k%d", i);
                publish(pub, d, name, "go");
        }
        for (int i = 0; i < 1500 && st.handled < 19; i++)
                run_for(0.02);
        run_for(1); /* time for more, were more let through */
        assert_non_null(st.held);
        /* The held record and 19 after it: 20 uncommitted. */
        assert_int_equal(st.handled, 19);
        kbus_call_ack(st.held);
        for (int i = 0; i < 500 && st.handled < 100; i++)
                run_for(0.02);
        assert_int_equal(st.handled, 100);
        kbus_runtime_free(sub);
        kbus_runtime_free(pub);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_retry_keeps_key_order),
            cmocka_unit_test(test_dead_letters),
            cmocka_unit_test(test_keys_concurrent_and_ordered),
            cmocka_unit_test(test_idempotent_duplicate_from_cache),
            cmocka_unit_test(test_idempotent_client_resend),
            cmocka_unit_test(test_publish_from_request),
            cmocka_unit_test(test_no_dead_letter_skips),
            cmocka_unit_test(test_idempotent_duplicate_while_running),
            cmocka_unit_test(test_server_retries_bounded_by_deadline),
            cmocka_unit_test(test_reply_too_large),
            cmocka_unit_test(test_retriable_failure_at_shutdown),
            cmocka_unit_test(test_max_uncommitted),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("reliability", tests, NULL, NULL);
        harness_down();
        return rc;
}
