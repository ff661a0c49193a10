/*
 * reply-probe: a client whose reply topic the bad-reply test writes to.
 *
 *   reply-probe REPLY_TOPIC GO_FILE
 *
 * Calls hello.v1.Greeter/SayHello once, prints "ready" when it is answered
 * (its reply consumer is then surely reading REPLY_TOPIC), waits until
 * GO_FILE exists (the test has written its bad replies by then), calls
 * again, and prints its reply counters as "NAME VALUE" lines.  The second
 * reply lands behind the bad ones in the one reply partition, so by the
 * time it is handled every bad one has been read.  Exits 0 when both calls
 * succeeded, 1 otherwise, 2 on a usage error.  The broker comes from
 * KBUS_BOOTSTRAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "hello.kbus.h"

static kbus_runtime *rt;
static const char *go_file;
static struct event *poll_ev;
static int calls_ok, calls_done;

static void call(void);

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        calls_done++;
        if (status == KBUS_OK) {
                calls_ok++;
        } else {
                fprintf(stderr, "reply-probe: call %d: %s: %s\n", calls_done,
                        kbus_status_name(status), message);
        }
        if (calls_done == 1) {
                struct timeval tv = {0, 100000};
                printf("ready\n");
                fflush(stdout);
                evtimer_add(poll_ev, &tv);
        } else {
                kbus_runtime_shutdown(rt);
        }
}

/* A test program may poll: waiting for the test's file is all it does. */
static void on_poll(evutil_socket_t fd, short what, void *arg) {
        struct timeval tv = {0, 100000};
        if (access(go_file, F_OK) == 0)
                call();
        else
                evtimer_add(poll_ev, &tv);
}

static void call(void) {
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        kbus_call_opts *opts;
        int rc;
        req.name = "probe";
        if (kbus_call_opts_new(&opts))
                exit(1);
        kbus_call_opts_set_timeout(opts, 30000);
        rc = hello_v1_greeter_say_hello(rt, &req, opts, on_reply, NULL);
        kbus_call_opts_free(opts);
        if (rc) {
                fprintf(stderr, "reply-probe: %s\n", kbus_strerror(rc));
                exit(1);
        }
}

int main(int argc, char **argv) {
        static const kbus_stat shown[] = {
            KBUS_STAT_REPLIES_UNKNOWN, KBUS_STAT_REPLIES_DUPLICATE,
            KBUS_STAT_REPLIES_LATE,    KBUS_STAT_CALLS_OK,
            KBUS_STAT_CALLS_FAILED,    KBUS_STAT_CALLS_TIMED_OUT,
        };
        kbus_config *conf;
        char err[512];
        int rc;

        if (argc != 3) {
                fprintf(stderr, "usage: reply-probe REPLY_TOPIC GO_FILE\n");
                return 2;
        }
        go_file = argv[2];
        if (kbus_config_new(&conf) ||
            kbus_config_set(conf, "name", "reply-probe", err, sizeof(err)) ||
            kbus_config_set(conf, "reply_topic", argv[1], err, sizeof(err)) ||
            kbus_runtime_new(&rt, &conf, NULL, err, sizeof(err))) {
                fprintf(stderr, "reply-probe: %s\n", err);
                return 1;
        }
        poll_ev = evtimer_new(kbus_runtime_event_base(rt), on_poll, NULL);
        call();
        rc = kbus_runtime_run(rt);
        for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
                printf("%s %llu\n", kbus_stat_name(shown[i]),
                       (unsigned long long)kbus_runtime_stat(rt, shown[i]));
        event_free(poll_ev);
        kbus_runtime_free(rt);
        return rc || calls_ok != 2 ? 1 : 0;
}
