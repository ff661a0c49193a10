/*
 * Publishers that wait for room (kbus_runtime_when_room), on the embedded
 * broker with a tiny producer queue: a generator that publishes far more
 * events than the queue holds, going on from the callback each time it is
 * refused, gets every event delivered exactly once and in order per key;
 * each wake-up finds the room promised (half the queue free, or, when the
 * queue is full by bytes, at least one message's worth); calls refused for
 * client_max_in_flight wait the same way; a waiter is told CANCELLED when
 * the runtime shuts down or is freed, and never called twice.
 */
#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "hello.kbus.h"

#define KEYS 16
#define MAX_EVENTS 20000

/* How many times longer every wait is: programs under valgrind
 * (KBUS_TEST_WRAP) are many times slower. */
static double slow(void) {
        const char *wrap = getenv("KBUS_TEST_WRAP");
        return wrap && *wrap ? 5 : 1;
}

/* Each test publishes to a topic of its own. */
static kbus_event_desc *event_on(const char *topic) {
        static kbus_event_desc descs[8];
        static int n;
        kbus_event_desc *d;
        assert_true(n < 8);
        d = &descs[n++];
        *d = hello_v1_greeted__event;
        d->topic = topic;
        assert_int_equal(kbus_broker_create_topic(test_broker, topic, 4), 0);
        return d;
}

/* ---- the subscriber: exactly once, in order per key ---- */

struct seen {
        unsigned char count[MAX_EVENTS];
        int next_seq[KEYS]; /* the sequence number each key expects next */
        int total, out_of_order;
};

/* Event i has key "k<i % KEYS>" and carries "<i>"; within its key it is
 * number i / KEYS. */
static void on_greeted(kbus_call *call, const Hello__V1__Greeted *ev,
                       void *arg) {
        struct seen *s = arg;
        int i = atoi(ev->message), key = atoi(ev->name + 1);
        assert_true(i >= 0 && i < MAX_EVENTS && key == i % KEYS);
        if (s->count[i]++ == 0)
                s->total++;
        if (i / KEYS != s->next_seq[key]) {
                if (s->out_of_order++ < 5)
                        print_message("key k%d: event %d (number %d) came when "
                                      "number %d was due\n",
                                      key, i, i / KEYS, s->next_seq[key]);
        } else {
                s->next_seq[key]++;
        }
        assert_int_equal(kbus_call_ack(call), 0);
}

static kbus_runtime *subscriber(const char *name, const kbus_event_desc *d,
                                struct seen *s) {
        kbus_runtime *sub = test_runtime_kv(name, name, NULL);
        assert_int_equal(kbus_subscribe(sub, d, NULL, (kbus_fn)on_greeted, s),
                         0);
        assert_int_equal(kbus_runtime_start(sub), 0);
        assert_true(run_until_ready(sub, 30));
        return sub;
}

/* ---- the generator ---- */

struct gen {
        kbus_runtime *rt;
        const kbus_event_desc *d;
        int next, count;
        size_t pad;       /* bytes of padding in each event's text */
        int min_per_wake; /* publishes each wake-up must manage */
        int wakes, refusals, cancelled;
        int empty_wakes; /* woken, but the first publish was refused */
        int short_wakes; /* woken, but refused before min_per_wake */
        int errors;
        bool done;
};

static int publish_one(struct gen *g) {
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        char name[16], msg[1100];
        snprintf(name, sizeof(name), "k%d", g->next % KEYS);
        snprintf(msg, sizeof(msg), "%d %*s", g->next, (int)g->pad, "");
        ev.name = name;
        ev.message = msg;
        return kbus_publish(g->rt, g->d, &ev.base);
}

/* Publishes until done or refused; when refused, asks for room and goes on
 * from here once there is some.  The first wake-up starts it. */
static void produce(kbus_status status, void *arg) {
        struct gen *g = arg;
        int here = 0;
        if (status != KBUS_OK) {
                g->cancelled++;
                return;
        }
        g->wakes++;
        while (g->next < g->count) {
                int rc = publish_one(g);
                if (rc == KBUS_RESOURCE_EXHAUSTED) {
                        g->refusals++;
                        if (here == 0)
                                g->empty_wakes++;
                        else if (here < g->min_per_wake)
                                g->short_wakes++;
                        assert_int_equal(
                            kbus_runtime_when_room(g->rt, produce, g), 0);
                        return;
                }
                if (rc) {
                        print_message("publish: %s\n", kbus_strerror(rc));
                        g->errors++;
                        g->done = true;
                        return;
                }
                g->next++;
                here++;
        }
        g->done = true;
}

static void run_generator(struct gen *g, int count, struct seen *s) {
        g->count = count;
        assert_int_equal(kbus_runtime_when_room(g->rt, produce, g), 0);
        assert_int_equal(g->wakes, 0); /* never inside the call */
        assert_true(run_until(&g->done, 60 * slow()));
        print_message("%d events: %d wake-ups, %d refusals, %d empty, %d "
                      "short\n",
                      g->next, g->wakes, g->refusals, g->empty_wakes,
                      g->short_wakes);
        assert_int_equal(g->errors, 0);
        assert_int_equal(g->next, count);
        /* Far more than the queue holds: it was refused, and waited. */
        assert_true(g->refusals > 10);
        assert_int_equal(g->empty_wakes, 0);
        assert_int_equal(g->short_wakes, 0);
        for (double end = now_s() + 60 * slow();
             s->total < count && now_s() < end;)
                run_for(0.05);
        run_for(0.5); /* a duplicate would come now */
        assert_int_equal(s->total, count);
        for (int i = 0; i < count; i++)
                if (s->count[i] != 1) {
                        print_message("event %d seen %d times\n", i,
                                      s->count[i]);
                        fail();
                }
        assert_int_equal(s->out_of_order, 0);
        assert_int_equal(kbus_runtime_stat(g->rt, KBUS_STAT_EVENTS_PUBLISHED),
                         count);
        assert_int_equal(kbus_runtime_stat(g->rt, KBUS_STAT_EVENTS_UNDELIVERED),
                         0);
        assert_int_equal(g->cancelled, 0);
}

/* A queue of 100 messages, 20,000 events: each wake-up finds at least half
 * the queue free (the low-water mark), never a full one. */
static void test_generator_waits_for_room(void **state) {
        static const char *const kv[] = {
            "producer.queue.buffering.max.messages", "100", NULL};
        static struct seen s;
        static struct gen g;
        kbus_event_desc *d = event_on("room.count");
        kbus_runtime *sub = subscriber("room-count-sub", d, &s);

        g.rt = test_runtime_kv("room-count-pub", NULL, kv);
        g.d = d;
        g.min_per_wake = 50;
        run_generator(&g, MAX_EVENTS, &s);
        kbus_runtime_free(g.rt);
        kbus_runtime_free(sub);
}

/* A queue full by bytes long before it is full by count (1 KB, events of
 * about 300 bytes): a wake-up still finds room for one, so a generator
 * does not spin between refusals. */
static void test_queue_full_by_bytes(void **state) {
        static const char *const kv[] = {"producer.queue.buffering.max.kbytes",
                                         "1", NULL};
        static struct seen s;
        static struct gen g;
        kbus_event_desc *d = event_on("room.bytes");
        kbus_runtime *sub = subscriber("room-bytes-sub", d, &s);

        g.rt = test_runtime_kv("room-bytes-pub", NULL, kv);
        g.d = d;
        g.pad = 300;
        g.min_per_wake = 1;
        run_generator(&g, 2000, &s);
        kbus_runtime_free(g.rt);
        kbus_runtime_free(sub);
}

/* ---- calls refused for client_max_in_flight ---- */

static void say_hello(kbus_call *call, const Hello__V1__HelloRequest *req,
                      void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        reply.message = req->name;
        assert_int_equal(hello_v1_greeter_say_hello_reply(call, &reply), 0);
}

struct caller {
        kbus_runtime *rt;
        kbus_call_opts *opts;
        int next, count, ok, failed;
        int wakes, refusals, empty_wakes;
};

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        struct caller *c = arg;
        if (status == KBUS_OK)
                c->ok++;
        else
                c->failed++;
}

static void call_more(kbus_status status, void *arg) {
        struct caller *c = arg;
        int here = 0;
        assert_int_equal(status, KBUS_OK);
        c->wakes++;
        while (c->next < c->count) {
                Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
                char name[16];
                int rc;
                snprintf(name, sizeof(name), "c%d", c->next);
                req.name = name;
                rc = hello_v1_greeter_say_hello(c->rt, &req, c->opts, on_reply,
                                                c);
                if (rc == KBUS_RESOURCE_EXHAUSTED) {
                        c->refusals++;
                        if (here == 0)
                                c->empty_wakes++;
                        assert_int_equal(
                            kbus_runtime_when_room(c->rt, call_more, c), 0);
                        return;
                }
                assert_int_equal(rc, 0);
                c->next++;
                here++;
        }
}

static void test_calls_wait_for_room(void **state) {
        static const char *const kv[] = {"client_max_in_flight", "8", NULL};
        static kbus_service_desc svc;
        static const hello_v1_greeter_handlers handlers = {.say_hello =
                                                               say_hello};
        static struct caller c;
        kbus_runtime *srv = test_runtime_kv("room-srv", "room-srv", NULL);

        svc = hello_v1_greeter__service;
        svc.topic = "room.calls";
        assert_int_equal(kbus_broker_create_topic(test_broker, svc.topic, 4),
                         0);
        assert_int_equal(
            kbus_serve(srv, &svc, &handlers, sizeof(handlers), NULL), 0);
        assert_int_equal(kbus_runtime_start(srv), 0);
        assert_true(run_until_ready(srv, 30));

        c.rt = test_runtime_kv("room-caller", NULL, kv);
        assert_int_equal(kbus_call_opts_new(&c.opts), 0);
        assert_int_equal(kbus_call_opts_set_topic(c.opts, svc.topic), 0);
        kbus_call_opts_set_timeout(c.opts, 30000);
        assert_int_equal(kbus_client_prepare(c.rt, &svc), 0);
        assert_int_equal(kbus_runtime_start(c.rt), 0);
        assert_true(run_until_ready(c.rt, 30));
        c.count = 1000;
        assert_int_equal(kbus_runtime_when_room(c.rt, call_more, &c), 0);
        for (double end = now_s() + 60 * slow();
             c.ok + c.failed < c.count && now_s() < end;)
                run_for(0.05);
        print_message("%d calls: %d wake-ups, %d refusals\n", c.count, c.wakes,
                      c.refusals);
        assert_int_equal(c.ok, c.count);
        assert_int_equal(c.failed, 0);
        assert_true(c.refusals > 10);
        assert_int_equal(c.empty_wakes, 0);
        kbus_call_opts_free(c.opts);
        kbus_runtime_free(c.rt);
        kbus_runtime_free(srv);
}

/* ---- shutting down ---- */

static void count_status(kbus_status status, void *arg) {
        int *counts = arg; /* [0]: OK, [1]: CANCELLED, [2]: other */
        counts[status == KBUS_OK ? 0 : status == KBUS_CANCELLED ? 1 : 2]++;
}

static void test_cancelled_on_shutdown_and_free(void **state) {
        static const char *const kv[] = {
            "producer.queue.buffering.max.messages", "10", NULL};
        static struct gen g;
        kbus_event_desc *d = event_on("room.cancel");
        kbus_runtime *rt = test_runtime_kv("room-cancel", NULL, kv);
        int a[3] = {0}, b[3] = {0}, c[3] = {0}, rc;

        assert_int_equal(kbus_runtime_when_room(rt, NULL, NULL),
                         KBUS_INVALID_ARGUMENT);
        /* Full, with the loop not running: no report can make room. */
        g.rt = rt;
        g.d = d;
        while ((rc = publish_one(&g)) == 0)
                g.next++;
        assert_int_equal(rc, KBUS_RESOURCE_EXHAUSTED);
        assert_int_equal(g.next, 10);
        assert_int_equal(kbus_runtime_when_room(rt, count_status, a), 0);
        assert_int_equal(kbus_runtime_when_room(rt, count_status, b), 0);
        assert_int_equal(a[0] + a[1] + a[2], 0);
        /* Shutdown tells the waiters on the next turn of the loop. */
        kbus_runtime_shutdown(rt);
        assert_int_equal(kbus_runtime_when_room(rt, count_status, c),
                         KBUS_FAILED_PRECONDITION);
        run_for(0.2);
        assert_int_equal(a[1], 1);
        assert_int_equal(b[1], 1);
        assert_int_equal(a[0] + a[2] + b[0] + b[2], 0);
        kbus_runtime_free(rt);
        assert_int_equal(a[1] + b[1], 2); /* once only */

        /* Freed before the loop ran again: told by kbus_runtime_free(). */
        rt = test_runtime_kv("room-cancel-2", NULL, kv);
        g.rt = rt;
        while (publish_one(&g) == 0)
                ;
        assert_int_equal(kbus_runtime_when_room(rt, count_status, c), 0);
        kbus_runtime_free(rt);
        assert_int_equal(c[1], 1);
        assert_int_equal(c[0] + c[2], 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_generator_waits_for_room),
            cmocka_unit_test(test_queue_full_by_bytes),
            cmocka_unit_test(test_calls_wait_for_room),
            cmocka_unit_test(test_cancelled_on_shutdown_and_free),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests_name("room", tests, NULL, NULL);
        harness_down();
        return rc;
}
