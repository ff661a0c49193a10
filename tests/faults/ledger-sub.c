/*
 * ledger-sub: a subscriber that keeps a durable ledger of what it handled,
 * and the publisher that feeds it; the processes of the crash tests.
 *
 *   ledger-sub pub COUNT KEYS [TOPIC]
 *   ledger-sub sub LEDGER [-d DELAY_MS] [TOPIC]
 *
 * pub publishes COUNT hello.v1.Greeted events, keys "k0".."k<KEYS-1>" in
 * turn, each key's messages numbered "1", "2", ... in order, then flushes
 * and exits 0.
 *
 * sub subscribes in consumer group "ledger".  Each event is handled by
 * appending one line to LEDGER,
 *
 *   PID KEY SEQ PARTITION OFFSET UNIX_MS
 *
 * and calling fsync() before acknowledging it, so that a record whose
 * offset may have been committed is in the ledger even if the process is
 * killed right after.  With -d the line is written (and the record
 * acknowledged) DELAY_MS after the handler started, as a handler waiting on
 * another service would.  SIGTERM or SIGINT shut it down gracefully.
 *
 * Both take the broker from KBUS_BOOTSTRAP; TOPIC defaults to
 * "ledger.events".
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hello.kbus.h"

static kbus_event_desc desc;
static int ledger_fd = -1;
static int delay_ms;

/* A record whose line and acknowledgement wait for a timer. */
struct pending {
        struct pending *prev, *next;
        kbus_call *call;
        char *key, *seq;
        struct event *ev;
};
static struct pending *pendings;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the ledger line and makes it durable, then acknowledges: the
 * offset can only be stored (and committed) after the line is on disk. */
static void record(kbus_call *call, const char *key, const char *seq) {
        char line[256];
        int n = snprintf(line, sizeof(line),
                         "%ld %s %s %" PRId32 " %" PRId64 " %" PRId64 "\n",
                         (long)getpid(), key, seq, kbus_call_partition(call),
                         kbus_call_offset(call), now_ms());
        if (write(ledger_fd, line, (size_t)n) != n || fsync(ledger_fd)) {
                /* Not recorded: fail it, so it is retried, not lost. */
                perror("ledger-sub: ledger");
                kbus_call_fail(call, KBUS_UNAVAILABLE, "cannot write ledger");
                return;
        }
        kbus_call_ack(call);
}

static void pending_free(struct pending *p) {
        if (p->prev)
                p->prev->next = p->next;
        else
                pendings = p->next;
        if (p->next)
                p->next->prev = p->prev;
        event_free(p->ev);
        free(p->key);
        free(p->seq);
        free(p);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
        struct pending *p = arg;
        record(p->call, p->key, p->seq);
        pending_free(p);
}

static void on_greeted(kbus_call *call, const Hello__V1__Greeted *ev,
                       void *arg) {
        kbus_runtime *rt = arg;
        struct pending *p;
        struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

        if (delay_ms <= 0) {
                record(call, ev->name, ev->message);
                return;
        }
        p = calloc(1, sizeof(*p));
        if (!p || !(p->key = strdup(ev->name)) ||
            !(p->seq = strdup(ev->message)) ||
            !(p->ev = evtimer_new(kbus_runtime_event_base(rt), on_timer, p))) {
                if (p) {
                        free(p->key);
                        free(p->seq);
                        free(p);
                }
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        p->call = call;
        p->next = pendings;
        if (pendings)
                pendings->prev = p;
        pendings = p;
        evtimer_add(p->ev, &tv);
}

static kbus_runtime *runtime(const char *name, const char *grace) {
        kbus_config *conf;
        kbus_runtime *rt;
        char err[512];
        if (kbus_config_new(&conf) ||
            kbus_config_set(conf, "name", name, err, sizeof(err)) ||
            kbus_config_set(conf, "group", "ledger", err, sizeof(err)) ||
            kbus_config_set(conf, "shutdown_grace_ms", grace, err,
                            sizeof(err)) ||
            kbus_runtime_new(&rt, &conf, NULL, err, sizeof(err))) {
                fprintf(stderr, "ledger-sub: %s\n", err);
                exit(1);
        }
        return rt;
}

static int cmd_pub(long count, long keys) {
        /* A long grace: kbus_runtime_free flushes the producer for that
         * long, and every event must be written before we exit 0. */
        kbus_runtime *rt = runtime("ledger-pub", "60000");
        long *next = calloc((size_t)keys, sizeof(*next));
        int rc = 0;

        if (!next)
                return 1;
        for (long i = 0; i < count && !rc; i++) {
                Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
                char name[32], msg[32];
                long k = i % keys;
                snprintf(name, sizeof(name), "k%ld", k);
                snprintf(msg, sizeof(msg), "%ld", ++next[k]);
                ev.name = name;
                ev.message = msg;
                while ((rc = kbus_publish(rt, &desc, &ev.base)) ==
                       KBUS_RESOURCE_EXHAUSTED)
                        event_base_loop(kbus_runtime_event_base(rt),
                                        EVLOOP_ONCE | EVLOOP_NONBLOCK);
        }
        if (rc)
                fprintf(stderr, "ledger-sub: publish: %s\n", kbus_strerror(rc));
        free(next);
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}

static int cmd_sub(const char *ledger) {
        kbus_runtime *rt = runtime("ledger-sub", "10000");
        int rc;

        ledger_fd =
            open(ledger, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (ledger_fd < 0) {
                perror(ledger);
                return 1;
        }
        rc = kbus_subscribe(rt, &desc, NULL, (kbus_fn)on_greeted, rt);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, "ledger-sub: %s\n", kbus_strerror(rc));
        /* Past the grace period: records still waiting are abandoned
         * (redelivered to the next member); free our timers first, since
         * the runtime's event_base goes with it. */
        while (pendings)
                pending_free(pendings);
        kbus_runtime_free(rt);
        close(ledger_fd);
        return rc ? 1 : 0;
}

static void usage(void) {
        fprintf(stderr, "usage: ledger-sub pub COUNT KEYS [TOPIC]\n"
                        "       ledger-sub sub LEDGER [-d DELAY_MS] [TOPIC]\n");
        exit(2);
}

int main(int argc, char **argv) {
        desc = hello_v1_greeted__event;
        desc.topic = "ledger.events";
        if (argc >= 4 && !strcmp(argv[1], "pub")) {
                long count = atol(argv[2]), keys = atol(argv[3]);
                if (count <= 0 || keys <= 0)
                        usage();
                if (argc > 4)
                        desc.topic = argv[4];
                return cmd_pub(count, keys);
        }
        if (argc >= 3 && !strcmp(argv[1], "sub")) {
                for (int i = 3; i < argc; i++) {
                        if (!strcmp(argv[i], "-d") && i + 1 < argc)
                                delay_ms = atoi(argv[++i]);
                        else if (argv[i][0] != '-')
                                desc.topic = argv[i];
                        else
                                usage();
                }
                return cmd_sub(argv[2]);
        }
        usage();
        return 2;
}
