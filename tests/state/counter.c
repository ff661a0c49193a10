/*
 * counter: the counting service of docs/STATE.md, as the state tests run
 * it.  It counts hello.v1.Greeted events by key (the greeted name) in a
 * kbus table, "counts", whose values are google.protobuf.Int64Value, and
 * publishes each new count as a Greeted event on TOPIC.counted (message =
 * the count) with the call, so the outbox is exercised too.
 *
 *   counter [-c CONFIG] TOPIC
 *   counter pub COUNT KEYS RATE TOPIC
 *
 * Consumer group "counter"; the broker from KBUS_BOOTSTRAP (or CONFIG,
 * where state_dir and checkpoint_interval_ms may be set).  Prints "ready"
 * on standard output once its group has joined and its partitions are
 * restored; SIGTERM or SIGINT stop it gracefully.
 *
 * pub publishes COUNT events, keys "k0".."k<KEYS-1>" in turn, RATE a
 * second (waiting for room when the producer is full), prints "published
 * N" every 1,000, flushes, and exits 0.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "google/protobuf/wrappers.pb-c.h"
#include "hello.kbus.h"

static const kbus_table_desc counts = {
    .name = "counts",
    .value = &google__protobuf__int64_value__descriptor,
};
static kbus_event_desc in, out;

static void on_greeted(kbus_call *call, const Hello__V1__Greeted *ev,
                       void *arg) {
        const ProtobufCMessage *old = NULL;
        Google__Protobuf__Int64Value v = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
        Hello__V1__Greeted counted = HELLO__V1__GREETED__INIT;
        char n[24];
        int rc = kbus_table_get(call, &counts, NULL, 0, &old);

        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, KBUS_INTERNAL, kbus_strerror(rc));
                return;
        }
        v.value =
            old ? ((const Google__Protobuf__Int64Value *)old)->value + 1 : 1;
        snprintf(n, sizeof(n), "%" PRId64, v.value);
        counted.name = ev->name;
        counted.message = n;
        if ((rc = kbus_table_put(call, &counts, NULL, 0, &v.base)) ||
            (rc = kbus_call_publish(call, &out, &counted.base))) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
                return;
        }
        kbus_call_ack(call);
}

static void say_ready(evutil_socket_t fd, short what, void *arg) {
        kbus_runtime *rt = arg;
        static bool said;
        if (!said && kbus_runtime_ready(rt)) {
                printf("ready\n");
                fflush(stdout);
                said = true;
        }
}

struct pub {
        kbus_runtime *rt;
        struct event *ev;
        long count, keys, rate, sent;
        int64_t start_ms;
        int rc;
};

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publishes what the rate allows by now, then comes back in 10 ms. */
static void pub_tick(evutil_socket_t fd, short what, void *arg) {
        struct pub *p = arg;
        long due = (long)((now_ms() - p->start_ms) * p->rate / 1000);
        struct timeval ten = {0, 10000};
        while (p->sent < p->count && p->sent < due) {
                Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
                char name[32];
                snprintf(name, sizeof(name), "k%ld", p->sent % p->keys);
                ev.name = name;
                ev.message = "+1";
                p->rc = kbus_publish(p->rt, &in, &ev.base);
                if (p->rc == KBUS_RESOURCE_EXHAUSTED)
                        break; /* full: the next tick tries again */
                if (p->rc) {
                        fprintf(stderr, "counter: publish: %s\n",
                                kbus_strerror(p->rc));
                        kbus_runtime_shutdown(p->rt);
                        return;
                }
                if (++p->sent % 1000 == 0) {
                        printf("published %ld\n", p->sent);
                        fflush(stdout);
                }
        }
        if (p->sent == p->count) {
                p->rc = kbus_runtime_flush(p->rt, 60000);
                kbus_runtime_shutdown(p->rt);
                return;
        }
        evtimer_add(p->ev, &ten);
}

static int cmd_pub(int argc, char **argv) {
        struct pub p = {0};
        char err[512];
        if (argc != 6) {
                fprintf(stderr, "usage: counter pub COUNT KEYS RATE TOPIC\n");
                return 2;
        }
        p.count = atol(argv[2]);
        p.keys = atol(argv[3]);
        p.rate = atol(argv[4]);
        if (p.count < 1 || p.keys < 1 || p.rate < 1) {
                fprintf(stderr, "counter: COUNT, KEYS and RATE must be > 0\n");
                return 2;
        }
        in = hello_v1_greeted__event;
        in.topic = argv[5];
        if (kbus_runtime_new_from_file(&p.rt, "counter-pub", NULL, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "counter: %s\n", err);
                return 1;
        }
        p.ev = evtimer_new(kbus_runtime_event_base(p.rt), pub_tick, &p);
        p.start_ms = now_ms();
        event_active(p.ev, EV_TIMEOUT, 0);
        if (!p.rc)
                kbus_runtime_run(p.rt);
        event_free(p.ev);
        kbus_runtime_free(p.rt);
        return p.rc || p.sent != p.count ? 1 : 0;
}

int main(int argc, char **argv) {
        const char *config = NULL;
        char err[512], out_topic[256];
        struct event *tick;
        struct timeval every = {0, 50000};
        kbus_runtime *rt;
        int opt, rc;

        if (argc > 1 && !strcmp(argv[1], "pub"))
                return cmd_pub(argc, argv);
        while ((opt = getopt(argc, argv, "c:h")) != -1) {
                if (opt == 'c') {
                        config = optarg;
                } else {
                        fprintf(stderr, "usage: counter [-c CONFIG] TOPIC\n");
                        return opt == 'h' ? 0 : 2;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "usage: counter [-c CONFIG] TOPIC\n");
                return 2;
        }
        if (kbus_runtime_new_from_file(&rt, "counter", config, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "counter: %s\n", err);
                return 1;
        }
        in = hello_v1_greeted__event;
        in.topic = argv[optind];
        out = hello_v1_greeted__event;
        snprintf(out_topic, sizeof(out_topic), "%s.counted", argv[optind]);
        out.topic = out_topic;
        rc = kbus_table_attach(rt, &counts, NULL);
        if (!rc)
                rc = kbus_subscribe(rt, &in, NULL, (kbus_fn)on_greeted, NULL);
        tick = event_new(kbus_runtime_event_base(rt), -1, EV_PERSIST, say_ready,
                         rt);
        event_add(tick, &every);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, "counter: %s\n", kbus_strerror(rc));
        event_free(tick);
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
