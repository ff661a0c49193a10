/*
 * payments: charges orders whose stock is reserved, through a simulated
 * card processor, and never twice.
 *
 *   payments [-c FILE] [--transient-rate R] [--decline-rate R]
 *            [--latency-ms MS]
 *
 * On StockReserved it asks the processor to charge the order's amount.
 * The processor answers after a latency (a libevent timer: the loop never
 * sleeps) with one of three outcomes, drawn from the order id and the
 * attempt's number (see processor_answers()), so that it is idempotent by
 * order id:
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
 * The ledger is the kbus table "ledger" (key = order id), split like
 * StockReserved: each instance holds the orders of its partitions.  The
 * settled order is put into it, and the outcome published, with the call:
 * both reach Kafka (the table's changelog, the event's topic) before the
 * StockReserved is acknowledged, or neither counts.  A StockReserved that
 * comes again finds the order settled and only publishes the outcome
 * again; one redelivered after a crash that followed the changelog write
 * (the instance died before its offset was committed) is recognised by
 * kbus and not handled at all, whichever instance receives it: nobody is
 * charged twice.  (A real processor would also take the order id as its
 * idempotency key, so that a crash between its answer and the changelog
 * write could not charge twice either; the simulated one is in this
 * process and dies with it.)
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "payments.kbus.h"
#include "pipeline.h"
#include "shop.kbus.h"
#include "table.h"

#define OUT(x) SHOP__V1__PAYMENT__OUTCOME__OUTCOME_##x

/* A charge the processor is working on. */
struct charge {
        kbus_call *call;
        struct event *timer;
        char *order_id;
        char *card;
        int64_t amount_cents;
};

static struct {
        kbus_runtime *rt;
        struct event_base *base;
        table *in_flight; /* order id -> struct charge */
        double transient_rate, decline_rate;
        long latency_ms;
        uint32_t max_attempts;
        /* this process's counters, for Audit */
        uint32_t transient_failures, redeliveries, malformed;
} svc;

/* ---- publishing ------------------------------------------------------ */

/* As part of handling \p call: its acknowledgement waits for the event's
 * delivery. */
static int publish_outcome(kbus_call *call, const Shop__V1__Payment *e) {
        if (e->outcome == OUT(CAPTURED)) {
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

/* An outcome that was not delivered, or a ledger entry not written, fails
 * the StockReserved with UNAVAILABLE (the runtime does that); one that
 * could not be queued (a full producer queue) fails it here.  Either way
 * it is retried on the ledger as it was. */
static void ack_or_retry(kbus_call *call, int rc) {
        if (rc)
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                               "cannot record or publish the payment's "
                               "outcome");
        else
                kbus_call_ack(call);
}

/* ---- the simulated card processor ------------------------------------ */

static void charge_free(struct charge *c) {
        table_put(svc.in_flight, c->order_id, NULL);
        event_free(c->timer);
        free(c->order_id);
        free(c->card);
        free(c);
}

/* Settles the order: into the ledger and out as an event, with the call. */
static void settle(struct charge *c, Shop__V1__Payment__Outcome outcome,
                   const char *detail) {
        Shop__V1__Payment e = SHOP__V1__PAYMENT__INIT;
        kbus_call *call = c->call;
        int rc;

        e.order_id = c->order_id;
        e.outcome = outcome;
        e.amount_cents = c->amount_cents;
        e.detail = (char *)detail;
        e.at_ms = pipeline_now_ms();
        e.attempts = kbus_call_attempt(call);
        rc = shop_v1_payment_put(call, NULL, 0, &e);
        if (!rc)
                rc = publish_outcome(call, &e);
        charge_free(c);
        ack_or_retry(call, rc);
}

/* FNV-1a over the order id and \p salt. */
static uint64_t order_hash(const char *order_id, uint32_t salt) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char *p = order_id; *p; p++)
                h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
        for (int i = 0; i < 4; i++)
                h = (h ^ ((salt >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
        return h;
}

/* The processor answers.  It is idempotent by order id, as a real one is
 * given the order id as its idempotency key: its answer to an attempt is a
 * function of the order id and the attempt's number, and a capture's
 * charge id one of the order id.  So when an instance dies after the
 * processor charged but before the ledger entry reached the changelog, the
 * StockReserved handled again (by whichever instance) gets the same answer
 * and the same charge id: the order is charged once, and a PaymentCaptured
 * sent twice is the same event twice. */
static void processor_answers(evutil_socket_t fd, short what, void *arg) {
        struct charge *c = arg;
        uint32_t attempt = kbus_call_attempt(c->call);
        char detail[64];
        double r = (double)(order_hash(c->order_id, attempt) >> 11) /
                   9007199254740992.0;
        double d =
            (double)(order_hash(c->order_id, 0) >> 11) / 9007199254740992.0;

        if (r < svc.transient_rate) {
                svc.transient_failures++;
                if (attempt < svc.max_attempts) {
                        kbus_log(KBUS_LOG_DEBUG,
                                 "order %s: processor "
                                 "unavailable (attempt %" PRIu32 " of %" PRIu32
                                 ")",
                                 c->order_id, attempt, svc.max_attempts);
                        kbus_call *call = c->call;
                        charge_free(c);
                        kbus_call_fail(call, KBUS_UNAVAILABLE,
                                       "card processor unavailable");
                        return;
                }
                snprintf(detail, sizeof(detail),
                         "card processor unavailable "
                         "after %" PRIu32 " attempts",
                         attempt);
                kbus_log(KBUS_LOG_WARN, "order %s: %s; giving up", c->order_id,
                         detail);
                settle(c, OUT(GAVE_UP), detail);
                return;
        }
        if (!strcmp(c->card, "tok_declined") || d < svc.decline_rate) {
                settle(c, OUT(DECLINED), "card declined");
                return;
        }
        snprintf(detail, sizeof(detail), "ch_%016" PRIx64,
                 order_hash(c->order_id, 0xc4a56e));
        settle(c, OUT(CAPTURED), detail);
}

static void on_stock_reserved(kbus_call *call,
                              const Shop__V1__StockReserved *ev, void *arg) {
        const Shop__V1__Payment *e;
        struct charge *c;
        struct timeval tv;
        long ms;
        int rc;

        if (!pipeline_token_ok(ev->order_id) || ev->amount_cents <= 0 ||
            !pipeline_token_ok(ev->card_token)) {
                svc.malformed++;
                kbus_log(KBUS_LOG_WARN,
                         "malformed StockReserved at %s "
                         "[%d] offset %" PRId64 ": dead-lettered",
                         kbus_call_topic(call), (int)kbus_call_partition(call),
                         kbus_call_offset(call));
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "StockReserved needs an order_id, an "
                               "amount_cents above 0 and a card_token");
                return;
        }
        rc = shop_v1_payment_get(call, NULL, 0, &e);
        if (rc == 0) {
                /* Settled before: another delivery of the event.  Publish
                 * the outcome again; downstream drops the repeat. */
                svc.redeliveries++;
                ack_or_retry(call, publish_outcome(call, e));
                return;
        }
        if (rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the ledger");
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
        table_put(svc.in_flight, c->order_id, c);
        if (!c->timer) {
                charge_free(c);
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "no timer");
                return;
        }
        /* Latency between half and one and a half times the setting. */
        ms = svc.latency_ms / 2 +
             (long)(pipeline_random() * (double)(svc.latency_ms + 1));
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
        evtimer_add(c->timer, &tv);
}

/* ---- PaymentService -------------------------------------------------- */

static int count_payment(const void *key, size_t len,
                         const Shop__V1__Payment *e, void *arg) {
        Shop__V1__PaymentsAudit *a = arg;
        switch (e->outcome) {
        case OUT(CAPTURED):
                a->charges++;
                a->charged_orders++;
                a->charged_cents += e->amount_cents;
                break;
        case OUT(DECLINED):
                a->declines++;
                break;
        case OUT(GAVE_UP):
                a->gave_up++;
                break;
        default:
                break;
        }
        return 0;
}

/* The ledger of the request's partition.  Each order has one entry, so
 * charges equals charged_orders here by construction; a second charge of
 * one order would show downstream, as a PaymentCaptured with another
 * charge id (orders counts those). */
static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__PaymentsAudit a = SHOP__V1__PAYMENTS_AUDIT__INIT;
        int rc = shop_v1_payment_scan(call, count_payment, &a);
        if (rc) {
                kbus_call_fail(call, rc, "reading the ledger");
                return;
        }
        a.transient_failures = svc.transient_failures;
        a.redeliveries = svc.redeliveries;
        a.malformed = svc.malformed;
        a.partition = kbus_call_partition(call);
        shop_v1_payment_service_audit_reply(call, &a);
}

/* ---- start ----------------------------------------------------------- */

/* At exit, charges the processor has not answered are dropped unsettled:
 * their events were not acknowledged and will be delivered again. */
static void drop_in_flight(const char *key, void *value, void *arg) {
        struct charge *c = value;
        if (!c)
                return;
        event_free(c->timer);
        free(c->order_id);
        free(c->card);
        free(c);
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: payments [-c FILE] [--transient-rate R] "
                "[--decline-rate R]\n"
                "                [--latency-ms MS]\n"
                "Charges orders on StockReserved through a simulated card "
                "processor, until\nSIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
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
            {"transient-rate", required_argument, NULL, 'T'},
            {"decline-rate", required_argument, NULL, 'D'},
            {"latency-ms", required_argument, NULL, 'L'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL;
        char err[512];
        int opt, rc;

        pipeline_init("payments");
        svc.transient_rate = 0.03;
        svc.decline_rate = 0.02;
        svc.latency_ms = 5;
        while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
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
                        svc.latency_ms = pipeline_parse_long("--latency-ms",
                                                             optarg, 0, 60000);
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
        svc.in_flight = table_new();
        rc = shop_v1_payment_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_payment_service_serve(svc.rt, &handlers, NULL);
        if (!rc)
                rc = shop_v1_stock_reserved_subscribe(svc.rt, NULL,
                                                      on_stock_reserved, NULL);
        if (!rc)
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "payments: %s\n", kbus_strerror(rc));
        table_foreach(svc.in_flight, drop_in_flight, NULL);
        kbus_runtime_free(svc.rt);
        table_free(svc.in_flight, NULL);
        return rc ? 1 : 0;
}
