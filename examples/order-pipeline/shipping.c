/*
 * shipping: ships paid orders, once each.
 *
 *   shipping [-c FILE]
 *
 * On PaymentCaptured it books a parcel (a tracking id) in the kbus table
 * "parcels" (key = order id, partition = the event's) and publishes
 * OrderShipped with the call: the parcel reaches the table's changelog,
 * and OrderShipped its topic, before the PaymentCaptured is acknowledged,
 * and neither is kept if the other fails.  A PaymentCaptured that comes
 * again (another delivery of the same event) finds the parcel booked and
 * only publishes OrderShipped again; one redelivered after a crash that
 * followed its changelog write is recognised by kbus and not handled at
 * all (its OrderShipped is sent again, with the same id).
 *
 * Run as many instances as the topics have partitions: each owns the
 * parcels of its partitions, and when one dies the survivors restore its
 * partitions from the changelog before they handle their next record.
 * Serves shop.v1.ShippingService (Audit, per partition) for order-load.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "shipping.kbus.h"
#include "shop.kbus.h"

static struct {
        kbus_runtime *rt;
        uint32_t redeliveries; /* this process's */
} svc;

/* As part of handling \p call: its acknowledgement waits for the event's
 * delivery. */
static int publish_shipped(kbus_call *call, const Shop__V1__Parcel *p) {
        Shop__V1__OrderShipped ev = SHOP__V1__ORDER_SHIPPED__INIT;
        ev.order_id = p->order_id;
        ev.tracking_id = p->tracking_id;
        return shop_v1_order_shipped_publish_from(call, &ev);
}

/* OrderShipped not delivered, or the parcel not written: the runtime
 * fails the PaymentCaptured with UNAVAILABLE.  Not queued (a full producer
 * queue): failed here.  Either way it is retried, on the table as it was. */
static void ack_or_retry(kbus_call *call, int rc) {
        if (rc)
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                               "cannot book the parcel or publish "
                               "OrderShipped");
        else
                kbus_call_ack(call);
}

static void on_payment_captured(kbus_call *call,
                                const Shop__V1__PaymentCaptured *ev,
                                void *arg) {
        Shop__V1__Parcel p = SHOP__V1__PARCEL__INIT;
        const Shop__V1__Parcel *booked;
        char tracking[40];
        int rc;

        if (!pipeline_token_ok(ev->order_id)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "PaymentCaptured without a valid order_id");
                return;
        }
        rc = shop_v1_parcel_get(call, NULL, 0, &booked);
        if (rc == 0) {
                svc.redeliveries++;
                ack_or_retry(call, publish_shipped(call, booked));
                return;
        }
        if (rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the parcels");
                return;
        }
        pipeline_random_id(tracking, sizeof(tracking), "trk-");
        p.order_id = ev->order_id;
        p.tracking_id = tracking;
        p.shipped_at_ms = pipeline_now_ms();
        rc = shop_v1_parcel_put(call, NULL, 0, &p);
        ack_or_retry(call, rc ? rc : publish_shipped(call, &p));
}

static int count_parcel(const void *key, size_t len, const Shop__V1__Parcel *p,
                        void *arg) {
        (*(uint32_t *)arg)++;
        return 0;
}

static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__ShippingAudit a = SHOP__V1__SHIPPING_AUDIT__INIT;
        int rc = shop_v1_parcel_scan(call, count_parcel, &a.shipments);
        if (rc) {
                kbus_call_fail(call, rc, "reading the parcels");
                return;
        }
        a.redeliveries = svc.redeliveries;
        a.partition = kbus_call_partition(call);
        shop_v1_shipping_service_audit_reply(call, &a);
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: shipping [-c FILE]\n"
                "Ships orders on PaymentCaptured, until SIGINT or SIGTERM.  "
                "Its parcels live in\nthe kbus table \"parcels\" "
                "(changelog topic shipping.parcels.changelog);\nrun several "
                "instances to share the partitions.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
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
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL;
        char err[512];
        int opt, rc;

        pipeline_init("shipping");
        while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
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
        rc = shop_v1_parcel_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_shipping_service_serve(svc.rt, &handlers, NULL);
        if (!rc)
                rc = shop_v1_payment_captured_subscribe(
                    svc.rt, NULL, on_payment_captured, NULL);
        if (!rc)
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "shipping: %s\n", kbus_strerror(rc));
        kbus_runtime_free(svc.rt);
        return rc ? 1 : 0;
}
