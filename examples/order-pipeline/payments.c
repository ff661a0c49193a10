/*
 * payments: charges orders whose stock is reserved, through a simulated
 * card processor, and never twice.
 *
 *   payments [-c FILE] [-s STATE_DIR] [--transient-rate R] [--decline-rate R]
 *            [--latency-ms MS]
 *
 * On StockReserved it asks the processor to charge the order's amount.
 * The processor answers after a latency (a libevent timer: the loop never
 * sleeps) with one of three outcomes, drawn at random:
 *
 *  - captured: the charge goes into the ledger, then PaymentCaptured;
 *  - declined: the decline goes into the ledger, then PaymentFailed (the
 *    card token "tok_declined" is always declined);
 *  - unavailable, a transient failure: the event fails with UNAVAILABLE
 *    and the runtime delivers it again after a backoff (StockReserved's
 *    retry policy), later events of the same order waiting meanwhile.  On
 *    the policy's last attempt payments gives up instead, with
 *    PaymentFailed, so that the order still ends and its stock comes back.
 *
 * A StockReserved that is not a valid charge request (no order id, an
 * amount not above zero, no card) fails with INVALID_ARGUMENT, a permanent
 * status: the runtime moves it to shop.v1.StockReserved.DLT.
 *
 * The ledger is the journal (journal.h), keyed by order id, replayed at
 * start.  A charge counts as made when its ledger line is on disk; then
 * the outcome is published as part of handling the StockReserved, which
 * is acknowledged only once that event is delivered.  A StockReserved
 * that comes back (the outcome was not delivered, or the process died
 * first) finds the order settled and only publishes the outcome again.
 * (A real processor would take the order id as its idempotency key, so
 * that a crash between its answer and the ledger line could not charge
 * twice either; the simulated one is in this process and dies with it.)
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "journal.h"
#include "payments.kbus.h"
#include "pipeline.h"
#include "shop.kbus.h"
#include "table.h"

enum outcome { CAPTURED, DECLINED, GAVE_UP };

/* One settled order: what the ledger says about it. */
struct entry {
        char *order_id;
        enum outcome outcome;
        int64_t amount_cents;
        char *detail; /* charge id, or the reason it failed */
};

/* A charge the processor is working on. */
struct charge {
        kbus_call *call;
        struct event *timer;
        char *order_id;
        char *card;
        int64_t amount_cents;
        struct entry *entry; /* once settled, until durable */
};

static struct {
        kbus_runtime *rt;
        journal *jr;
        struct event_base *base;
        table *ledger;    /* order id -> struct entry */
        table *in_flight; /* order id -> struct charge */
        double transient_rate, decline_rate;
        long latency_ms;
        uint32_t max_attempts;
        /* Audit counters.  charges counts ledger lines, replayed ones
         * included, so a second charge of one order would show. */
        uint32_t charges, charged_orders, declines, gave_up;
        int64_t charged_cents;
        uint32_t transient_failures, redeliveries, malformed;
} svc;

static void entry_free(void *p) {
        struct entry *e = p;
        free(e->order_id);
        free(e->detail);
        free(e);
}

/* Records a settled order in memory and in the counters. */
static struct entry *settle(const char *order_id, enum outcome outcome,
                            int64_t amount, const char *detail) {
        struct entry *e = table_get(svc.ledger, order_id);
        if (outcome == CAPTURED) {
                svc.charges++;
                svc.charged_cents += amount;
                if (!e || e->outcome != CAPTURED)
                        svc.charged_orders++;
        } else if (outcome == DECLINED) {
                svc.declines++;
        } else {
                svc.gave_up++;
        }
        if (e) /* only a damaged ledger repeats an order: keep the first */
                return e;
        e = pipeline_xcalloc(1, sizeof(*e));
        e->order_id = pipeline_xstrdup(order_id);
        e->outcome = outcome;
        e->amount_cents = amount;
        e->detail = pipeline_xstrdup(detail);
        table_put(svc.ledger, e->order_id, e);
        return e;
}

/* ---- the ledger ------------------------------------------------------
 *
 *   C <order> <ms> <amount> <charge id>          captured
 *   D <order> <ms> <amount> <reason to the end>  declined
 *   G <order> <ms> <amount> <reason to the end>  gave up (processor down)
 */

static void replay(char *line, void *arg) {
        char *f[5];
        int n = journal_split(line, f, 5);
        enum outcome o;

        if (n < 5 || strlen(f[0]) != 1 || !strchr("CDG", f[0][0])) {
                kbus_log(KBUS_LOG_WARN, "ledger: ignoring a line it cannot "
                                        "read (starts with '%s')",
                         n > 0 ? f[0] : "");
                return;
        }
        o = f[0][0] == 'C' ? CAPTURED : f[0][0] == 'D' ? DECLINED : GAVE_UP;
        settle(f[1], o, strtoll(f[3], NULL, 10), f[4]);
}

/* ---- publishing ------------------------------------------------------ */

/* As part of handling \p call: its acknowledgement waits for the event's
 * delivery. */
static int publish_outcome(kbus_call *call, const struct entry *e) {
        if (e->outcome == CAPTURED) {
                Shop__V1__PaymentCaptured ev = SHOP__V1__PAYMENT_CAPTURED__INIT;
                ev.order_id = e->order_id;
                ev.charge_id = e->detail;
                ev.amount_cents = e->amount_cents;
                return shop_v1_payment_captured_publish_from(call, &ev);
        }
        Shop__V1__PaymentFailed ev = SHOP__V1__PAYMENT_FAILED__INIT;
        ev.order_id = e->order_id;
        ev.reason = e->detail;
        return shop_v1_payment_failed_publish_from(call, &ev);
}

/* An outcome that was not delivered fails the StockReserved with
 * UNAVAILABLE (the runtime does that); one that could not be queued (a
 * full producer queue) fails it here.  Either way it is retried, and the
 * retry finds the order in the ledger and only publishes. */
static void ack_or_retry(kbus_call *call, int publish_rc) {
        if (publish_rc)
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                               "cannot publish the payment's outcome");
        else
                kbus_call_ack(call);
}

/* ---- the simulated card processor ------------------------------------ */

static void charge_free(struct charge *c) {
        event_free(c->timer);
        free(c->order_id);
        free(c->card);
        free(c);
}

/* The ledger line is on disk: the order is settled for good. */
static void charge_durable(void *arg) {
        struct charge *c = arg;
        kbus_call *call = c->call;
        ack_or_retry(call, publish_outcome(call, c->entry));
        table_put(svc.in_flight, c->order_id, NULL);
        charge_free(c);
}

static void settle_and_journal(struct charge *c, enum outcome outcome,
                               const char *detail) {
        static const char tag[] = {'C', 'D', 'G'};
        c->entry = settle(c->order_id, outcome, c->amount_cents, detail);
        journal_append(svc.jr, charge_durable, c, "%c %s %" PRId64 " %" PRId64
                       " %s", tag[outcome], c->order_id, pipeline_now_ms(),
                       c->amount_cents, detail);
}

/* The processor answers. */
static void processor_answers(evutil_socket_t fd, short what, void *arg) {
        struct charge *c = arg;
        uint32_t attempt = kbus_call_attempt(c->call);
        char detail[64];
        double r = pipeline_random();

        if (r < svc.transient_rate) {
                svc.transient_failures++;
                if (attempt < svc.max_attempts) {
                        kbus_log(KBUS_LOG_DEBUG, "order %s: processor "
                                 "unavailable (attempt %" PRIu32 " of %"
                                 PRIu32 ")", c->order_id, attempt,
                                 svc.max_attempts);
                        kbus_call_fail(c->call, KBUS_UNAVAILABLE,
                                       "card processor unavailable");
                        table_put(svc.in_flight, c->order_id, NULL);
                        charge_free(c);
                        return;
                }
                snprintf(detail, sizeof(detail), "card processor unavailable "
                         "after %" PRIu32 " attempts", attempt);
                kbus_log(KBUS_LOG_WARN, "order %s: %s; giving up",
                         c->order_id, detail);
                settle_and_journal(c, GAVE_UP, detail);
                return;
        }
        if (!strcmp(c->card, "tok_declined") ||
            r < svc.transient_rate + svc.decline_rate) {
                settle_and_journal(c, DECLINED, "card declined");
                return;
        }
        pipeline_random_id(detail, sizeof(detail), "ch_");
        settle_and_journal(c, CAPTURED, detail);
}

static void on_stock_reserved(kbus_call *call,
                              const Shop__V1__StockReserved *ev, void *arg) {
        struct entry *e = table_get(svc.ledger, ev->order_id);
        struct charge *c;
        struct timeval tv;
        long ms;

        if (e) {
                /* Settled before: a redelivery, or a retry because the
                 * outcome was not delivered.  Publish it again. */
                svc.redeliveries++;
                ack_or_retry(call, publish_outcome(call, e));
                return;
        }
        if (!pipeline_token_ok(ev->order_id) || ev->amount_cents <= 0 ||
            !pipeline_token_ok(ev->card_token)) {
                svc.malformed++;
                kbus_log(KBUS_LOG_WARN, "malformed StockReserved at %s "
                         "[%d] offset %" PRId64 ": dead-lettered",
                         kbus_call_topic(call), (int)kbus_call_partition(call),
                         kbus_call_offset(call));
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "StockReserved needs an order_id, an "
                               "amount_cents above 0 and a card_token");
                return;
        }
        if (table_get(svc.in_flight, ev->order_id)) {
                /* Per-key ordering keeps a second delivery of one order
                 * waiting for the first; should it ever overlap, retry it
                 * rather than charge twice. */
                kbus_call_fail(call, KBUS_ABORTED,
                               "a charge for this order is in progress");
                return;
        }
        c = pipeline_xcalloc(1, sizeof(*c));
        c->call = call;
        c->order_id = pipeline_xstrdup(ev->order_id);
        c->card = pipeline_xstrdup(ev->card_token);
        c->amount_cents = ev->amount_cents;
        c->timer = evtimer_new(svc.base, processor_answers, c);
        if (!c->timer) {
                charge_free(c);
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "no timer");
                return;
        }
        table_put(svc.in_flight, c->order_id, c);
        /* Latency between half and one and a half times the setting. */
        ms = svc.latency_ms / 2 +
             (long)(pipeline_random() * (double)(svc.latency_ms + 1));
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
        evtimer_add(c->timer, &tv);
}

/* ---- PaymentService -------------------------------------------------- */

static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__PaymentsAudit a = SHOP__V1__PAYMENTS_AUDIT__INIT;
        a.charges = svc.charges;
        a.charged_orders = svc.charged_orders;
        a.charged_cents = svc.charged_cents;
        a.declines = svc.declines;
        a.gave_up = svc.gave_up;
        a.transient_failures = svc.transient_failures;
        a.redeliveries = svc.redeliveries;
        a.malformed = svc.malformed;
        shop_v1_payment_service_audit_reply(call, &a);
}

/* ---- start ----------------------------------------------------------- */

/* At exit, charges the processor has not answered are dropped unsettled:
 * their events were not acknowledged and will be delivered again. */
static void drop_in_flight(const char *key, void *value, void *arg) {
        if (value)
                charge_free(value);
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: payments [-c FILE] [-s STATE_DIR] [--transient-rate R] "
                "[--decline-rate R]\n"
                "                [--latency-ms MS]\n"
                "Charges orders on StockReserved through a simulated card "
                "processor, until\nSIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
                "  -s, --state-dir DIR      keep the charge ledger in DIR, "
                "so a restart never\n"
                "                           charges twice (default: memory "
                "only)\n"
                "  --transient-rate R       share of processor calls that "
                "fail for a while and are\n"
                "                           retried, 0 to 1 (default 0.03)\n"
                "  --decline-rate R         share of cards declined, 0 to 1 "
                "(default 0.02)\n"
                "  --latency-ms MS          processor latency, on average "
                "(default 5)\n"
                "  -h, --help               this help\n\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with "
                "`kbus broker`), KBUS_GROUP,\nKBUS_LOG_LEVEL.\n");
}

int main(int argc, char **argv) {
        static const shop_v1_payment_service_handlers handlers = {
            .audit = audit,
        };
        static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"state-dir", required_argument, NULL, 's'},
            {"transient-rate", required_argument, NULL, 'T'},
            {"decline-rate", required_argument, NULL, 'D'},
            {"latency-ms", required_argument, NULL, 'L'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL, *state_dir = NULL;
        char err[512];
        int opt, rc;

        pipeline_init("payments");
        svc.transient_rate = 0.03;
        svc.decline_rate = 0.02;
        svc.latency_ms = 5;
        while ((opt = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
                        break;
                case 's':
                        state_dir = optarg;
                        break;
                case 'T':
                        svc.transient_rate = pipeline_parse_double(
                            "--transient-rate", optarg, 0, 1);
                        break;
                case 'D':
                        svc.decline_rate = pipeline_parse_double(
                            "--decline-rate", optarg, 0, 1);
                        break;
                case 'L':
                        svc.latency_ms = pipeline_parse_long(
                            "--latency-ms", optarg, 0, 60000);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "payments: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (svc.transient_rate + svc.decline_rate > 1) {
                fprintf(stderr, "payments: --transient-rate plus "
                                "--decline-rate must not exceed 1\n");
                return 2;
        }
        /* The attempt on which to give up is the event's retry policy's
         * last; 0 there means the runtime's default, which is 5. */
        svc.max_attempts = shop_v1_stock_reserved__event.retry.max_attempts;
        if (svc.max_attempts == 0)
                svc.max_attempts = 5;

        if (kbus_runtime_new_from_file(&svc.rt, pipeline_prog, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                return 1;
        }
        svc.base = kbus_runtime_event_base(svc.rt);
        svc.ledger = table_new();
        svc.in_flight = table_new();
        if (journal_open(&svc.jr, svc.base, state_dir, "payments", replay,
                         NULL)) {
                kbus_runtime_free(svc.rt);
                return 1;
        }
        if (!state_dir)
                kbus_log(KBUS_LOG_WARN, "no --state-dir: the ledger is "
                                        "lost when this process stops");
        kbus_log(KBUS_LOG_INFO, "ledger: %" PRIu32 " charges, %" PRIu32
                 " declines, %" PRIu32 " given up", svc.charges,
                 svc.declines, svc.gave_up);

        rc = shop_v1_payment_service_serve(svc.rt, &handlers, NULL);
        if (!rc)
                rc = shop_v1_stock_reserved_subscribe(svc.rt, NULL,
                                                      on_stock_reserved, NULL);
        if (!rc)
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "payments: %s\n", kbus_strerror(rc));
        journal_free(svc.jr);
        table_foreach(svc.in_flight, drop_in_flight, NULL);
        kbus_runtime_free(svc.rt);
        table_free(svc.in_flight, NULL);
        table_free(svc.ledger, entry_free);
        return rc ? 1 : 0;
}
