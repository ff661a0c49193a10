/*
 * shipping: ships paid orders, once each.
 *
 *   shipping [-c FILE] [-s STATE_DIR]
 *
 * On PaymentCaptured it books a parcel (a tracking id), journals it
 * (journal.h) and publishes OrderShipped as part of handling the
 * PaymentCaptured, which is acknowledged only once OrderShipped is
 * delivered.  A PaymentCaptured that comes back (OrderShipped was not
 * delivered, or the process died first) finds the parcel booked and only
 * publishes OrderShipped again.  Serves shop.v1.ShippingService (Audit)
 * for order-load's checks.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "pipeline.h"
#include "shipping.kbus.h"
#include "shop.kbus.h"
#include "table.h"

struct shipment {
        char *order_id;
        char *tracking_id;
};

static struct {
        kbus_runtime *rt;
        journal *jr;
        table *shipments; /* order id -> struct shipment */
        uint32_t redeliveries;
} svc;

static struct shipment *shipment_new(const char *order_id,
                                     const char *tracking_id) {
        struct shipment *s = pipeline_xcalloc(1, sizeof(*s));
        s->order_id = pipeline_xstrdup(order_id);
        s->tracking_id = pipeline_xstrdup(tracking_id);
        table_put(svc.shipments, s->order_id, s);
        return s;
}

static void shipment_free(void *p) {
        struct shipment *s = p;
        free(s->order_id);
        free(s->tracking_id);
        free(s);
}

/* The journal:  S <order> <ms> <tracking id> */
static void replay(char *line, void *arg) {
        char *f[4];
        int n = journal_split(line, f, 4);
        if (n == 4 && !strcmp(f[0], "S") && !table_get(svc.shipments, f[1])) {
                shipment_new(f[1], f[3]);
                return;
        }
        kbus_log(KBUS_LOG_WARN, "journal: ignoring a line it cannot use "
                                "(starts with '%s')", n > 0 ? f[0] : "");
}

/* As part of handling \p call: its acknowledgement waits for the event's
 * delivery. */
static int publish_shipped(kbus_call *call, const struct shipment *s) {
        Shop__V1__OrderShipped ev = SHOP__V1__ORDER_SHIPPED__INIT;
        ev.order_id = s->order_id;
        ev.tracking_id = s->tracking_id;
        return shop_v1_order_shipped_publish_from(call, &ev);
}

struct step {
        kbus_call *call;
        struct shipment *s;
};

/* OrderShipped not delivered: the runtime fails the PaymentCaptured with
 * UNAVAILABLE.  Not queued (a full producer queue): failed here.  Either
 * way it is retried, finds the parcel booked and only publishes. */
static void ack_or_retry(kbus_call *call, int publish_rc) {
        if (publish_rc)
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                               "cannot publish OrderShipped");
        else
                kbus_call_ack(call);
}

static void shipment_durable(void *arg) {
        struct step *st = arg;
        ack_or_retry(st->call, publish_shipped(st->call, st->s));
        free(st);
}

static void on_payment_captured(kbus_call *call,
                                const Shop__V1__PaymentCaptured *ev,
                                void *arg) {
        struct shipment *s = table_get(svc.shipments, ev->order_id);
        struct step *st;
        char tracking[40];

        if (s) {
                svc.redeliveries++;
                ack_or_retry(call, publish_shipped(call, s));
                return;
        }
        if (!pipeline_token_ok(ev->order_id)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "PaymentCaptured without a valid order_id");
                return;
        }
        pipeline_random_id(tracking, sizeof(tracking), "trk-");
        s = shipment_new(ev->order_id, tracking);
        st = pipeline_xmalloc(sizeof(*st));
        st->call = call;
        st->s = s;
        journal_append(svc.jr, shipment_durable, st, "S %s %" PRId64 " %s",
                       s->order_id, pipeline_now_ms(), s->tracking_id);
}

static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__ShippingAudit a = SHOP__V1__SHIPPING_AUDIT__INIT;
        a.shipments = (uint32_t)table_count(svc.shipments);
        a.redeliveries = svc.redeliveries;
        shop_v1_shipping_service_audit_reply(call, &a);
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: shipping [-c FILE] [-s STATE_DIR]\n"
                "Ships orders on PaymentCaptured, until SIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
                "  -s, --state-dir DIR      keep the shipment journal in DIR, "
                "so a restart never\n"
                "                           ships twice (default: memory "
                "only)\n"
                "  -h, --help               this help\n\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with "
                "`kbus broker`), KBUS_GROUP,\nKBUS_LOG_LEVEL.\n");
}

int main(int argc, char **argv) {
        static const shop_v1_shipping_service_handlers handlers = {
            .audit = audit,
        };
        static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"state-dir", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL, *state_dir = NULL;
        char err[512];
        int opt, rc;

        pipeline_init("shipping");
        while ((opt = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
                        break;
                case 's':
                        state_dir = optarg;
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
                fprintf(stderr, "shipping: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (kbus_runtime_new_from_file(&svc.rt, pipeline_prog, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                return 1;
        }
        svc.shipments = table_new();
        if (journal_open(&svc.jr, kbus_runtime_event_base(svc.rt), state_dir,
                         "shipping", replay, NULL)) {
                kbus_runtime_free(svc.rt);
                return 1;
        }
        if (!state_dir)
                kbus_log(KBUS_LOG_WARN, "no --state-dir: shipments are "
                                        "lost when this process stops");
        kbus_log(KBUS_LOG_INFO, "%zu shipments from the journal",
                 table_count(svc.shipments));

        rc = shop_v1_shipping_service_serve(svc.rt, &handlers, NULL);
        if (!rc)
                rc = shop_v1_payment_captured_subscribe(
                    svc.rt, NULL, on_payment_captured, NULL);
        if (!rc)
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "shipping: %s\n", kbus_strerror(rc));
        journal_free(svc.jr);
        kbus_runtime_free(svc.rt);
        table_free(svc.shipments, shipment_free);
        return rc ? 1 : 0;
}
