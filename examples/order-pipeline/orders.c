/*
 * orders: takes orders and follows each one to its end.
 *
 *   orders [-c FILE]
 *
 * Serves shop.v1.OrderService (PlaceOrder, GetOrder, Audit).  PlaceOrder
 * prices the order from the catalog, keeps it in the kbus table "orders",
 * publishes OrderPlaced and answers with the new order's id, all as one
 * outcome: the answer goes out once the order is on the table's changelog
 * and OrderPlaced on its topic.  The order's state then follows the events
 * of the other services:
 *
 *   PLACED -> STOCK_RESERVED -> PAID -> SHIPPED
 *          \-> REJECTED      \-> PAYMENT_FAILED (+ stock released)
 *
 * State lives in three tables of the group "orders", split like its input
 * topics (the OrderService request topic and six event topics, all keyed
 * by order id but PlaceOrder, keyed by request_id):
 *
 *  - "orders": the order as placed, key = order id.  PlaceOrder picks an
 *    order id that falls into the partition of its own request, so the
 *    order, its request and every later event of it share a partition;
 *  - "requests": request_id -> order id, so a resent request answers with
 *    the order it placed the first time;
 *  - "steps": one entry per event an order received ("<id>/paid/<n>"...),
 *    each written by the handler of the one topic that carries it.
 *
 * Why steps and not one entry per order: kbus handles the records of one
 * key one at a time within a topic, but the six topics run side by side,
 * so two of them updating one entry could each overwrite the other's
 * change.  An entry per step has one writer.  An order's state is the
 * furthest step it has (the events come from different topics, so this
 * service may read PaymentCaptured before the StockReserved that caused
 * it), and a step that came again changes nothing.
 *
 * GetOrder is keyed by order id: the instance that owns the order's
 * partition answers it.  Run as many instances as there are partitions;
 * when one dies, the others restore its partitions from the changelogs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "orders.kbus.h"
#include "pipeline.h"
#include "shop.kbus.h"

#define MAX_ITEMS 20
#define MAX_QUANTITY 100
#define MAX_PRODUCTS 64

typedef Shop__V1__OrderState order_state;
#define ST(x) SHOP__V1__ORDER_STATE__ORDER_STATE_##x

static struct { kbus_runtime *rt; } svc;

/* ---- steps ------------------------------------------------------------ */

/* The steps an order can take, each learnt from one event topic.  The
 * stock's release is kept as a step of its own, PLACED in the table. */
enum step { RESERVED, REJECTED, PAID, FAILED, SHIPPED, RELEASED, N_STEPS };

static const struct {
        const char *name; /* in the step's key */
        order_state state;
        int rank; /* how far along the happy path */
} steps[N_STEPS] = {
    [RESERVED] = {"reserved", ST(STOCK_RESERVED), 2},
    [REJECTED] = {"rejected", ST(REJECTED), 2},
    [PAID] = {"paid", ST(PAID), 3},
    [FAILED] = {"failed", ST(PAYMENT_FAILED), 3},
    [SHIPPED] = {"shipped", ST(SHIPPED), 4},
    [RELEASED] = {"released", ST(PLACED), 0},
};

static int step_key(kbus_call *call, const char *order_id, enum step st,
                    char *key, size_t size) {
        char base[128];
        snprintf(base, sizeof(base), "%s/%s", order_id, steps[st].name);
        return pipeline_local_key(call, &shop_v1_order_step__table, base, key,
                                  size);
}

/* An order as its steps make it. */
struct view {
        const Shop__V1__OrderEntry *entry;
        const Shop__V1__OrderStep *step[N_STEPS];
        order_state state;
        bool released, final;
        int64_t final_at_ms;
};

/* Reads order \p id and its steps, as \p call sees them. */
static int view_read(kbus_call *call, const char *id, struct view *v) {
        char key[160];
        int rank = 1, rc;

        memset(v, 0, sizeof(*v));
        rc = shop_v1_order_entry_get(call, id, strlen(id), &v->entry);
        if (rc)
                return rc;
        v->state = ST(PLACED);
        for (int st = 0; st < N_STEPS; st++) {
                if ((rc = step_key(call, id, st, key, sizeof(key))))
                        return rc;
                rc = shop_v1_order_step_get(call, key, strlen(key),
                                            &v->step[st]);
                if (rc && rc != KBUS_NOT_FOUND)
                        return rc;
                if (v->step[st] && steps[st].rank > rank) {
                        rank = steps[st].rank;
                        v->state = steps[st].state;
                }
        }
        v->released = v->step[RELEASED] != NULL;
        if (v->state == ST(SHIPPED)) {
                v->final = true;
                v->final_at_ms = v->step[SHIPPED]->at_ms;
        } else if (v->state == ST(REJECTED)) {
                v->final = true;
                v->final_at_ms = v->step[REJECTED]->at_ms;
        } else if (v->state == ST(PAYMENT_FAILED) && v->released) {
                int64_t f = v->step[FAILED]->at_ms;
                int64_t r = v->step[RELEASED]->at_ms;
                v->final = true;
                v->final_at_ms = f > r ? f : r;
        }
        return 0;
}

/* ---- OrderService ---------------------------------------------------- */

static void reply_placed(kbus_call *call, const Shop__V1__Order *o) {
        Shop__V1__PlaceOrderReply reply = SHOP__V1__PLACE_ORDER_REPLY__INIT;
        reply.order_id = o->order_id;
        reply.total_cents = o->total_cents;
        shop_v1_order_service_place_order_reply(call, &reply);
}

static int publish_placed(kbus_call *call, const Shop__V1__OrderEntry *e) {
        Shop__V1__OrderPlaced ev = SHOP__V1__ORDER_PLACED__INIT;
        ev.order_id = e->order->order_id;
        ev.customer_id = e->order->customer_id;
        ev.card_token = e->card_token;
        ev.items = e->order->items;
        ev.n_items = e->order->n_items;
        ev.total_cents = e->order->total_cents;
        ev.placed_at_ms = e->order->placed_at_ms;
        return shop_v1_order_placed_publish_from(call, &ev);
}

/* A new order id that falls into the partition of \p call's request, and
 * is not taken there. */
static int new_order_id(kbus_call *call, char *id, size_t size) {
        for (int i = 0; i < 1024; i++) {
                const Shop__V1__OrderEntry *e;
                int rc;
                pipeline_random_id(id, size, "o-");
                rc = shop_v1_order_entry_get(call, id, strlen(id), &e);
                if (rc == KBUS_NOT_FOUND)
                        return 0;
                if (rc != 0 && rc != KBUS_INVALID_ARGUMENT)
                        return rc;
        }
        return KBUS_RESOURCE_EXHAUSTED;
}

static void place_order(kbus_call *call, const Shop__V1__PlaceOrderRequest *req,
                        void *arg) {
        Shop__V1__LineItem items[MAX_ITEMS], *ptrs[MAX_ITEMS];
        Shop__V1__Order o = SHOP__V1__ORDER__INIT;
        Shop__V1__OrderEntry e = SHOP__V1__ORDER_ENTRY__INIT;
        Shop__V1__PlacedRequest pr = SHOP__V1__PLACED_REQUEST__INIT;
        const Shop__V1__PlacedRequest *seen;
        const Shop__V1__OrderEntry *known;
        const char *card = req->card_token[0] ? req->card_token : "tok_visa";
        char id[32], why[160];
        int rc;

        if (req->request_id[0] && !pipeline_token_ok(req->request_id)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "request_id must be 1-64 characters of "
                               "A-Z a-z 0-9 . _ : @ -");
                return;
        }
        /* Seen before (resent, or retried by the runtime): answer with the
         * order it placed.  That call's writes were applied only once its
         * OrderPlaced was delivered, so there is nothing left to send. */
        if (req->request_id[0]) {
                rc = shop_v1_placed_request_get(call, NULL, 0, &seen);
                if (rc == 0) {
                        rc = shop_v1_order_entry_get(call, seen->order_id,
                                                     strlen(seen->order_id),
                                                     &known);
                        if (rc == 0) {
                                reply_placed(call, known->order);
                                return;
                        }
                }
                if (rc != KBUS_NOT_FOUND) {
                        kbus_call_fail(call, KBUS_UNAVAILABLE,
                                       "cannot read the requests table");
                        return;
                }
        }
        if (!pipeline_token_ok(req->customer_id)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "customer_id must be 1-64 characters of "
                               "A-Z a-z 0-9 . _ : @ -");
                return;
        }
        if (!pipeline_token_ok(card)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "card_token must be 1-64 characters of "
                               "A-Z a-z 0-9 . _ : @ -");
                return;
        }
        if (req->n_items == 0 || req->n_items > MAX_ITEMS) {
                snprintf(why, sizeof(why),
                         "an order has 1 to %d items, not %zu", MAX_ITEMS,
                         req->n_items);
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT, why);
                return;
        }
        for (size_t i = 0; i < req->n_items; i++) {
                const Shop__V1__LineItem *li = req->items[i];
                const struct product *p = catalog_find(li->sku);
                if (!p) {
                        snprintf(why, sizeof(why), "unknown product '%.64s'",
                                 li->sku);
                        kbus_call_fail(call, KBUS_NOT_FOUND, why);
                        return;
                }
                if (li->quantity < 1 || li->quantity > MAX_QUANTITY) {
                        snprintf(why, sizeof(why),
                                 "quantity of %s must be 1 "
                                 "to %d, not %" PRIu32,
                                 li->sku, MAX_QUANTITY, li->quantity);
                        kbus_call_fail(call, KBUS_INVALID_ARGUMENT, why);
                        return;
                }
                for (size_t k = 0; k < i; k++) {
                        if (!strcmp(items[k].sku, li->sku)) {
                                snprintf(why, sizeof(why),
                                         "product %s is "
                                         "listed twice",
                                         li->sku);
                                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                                               why);
                                return;
                        }
                }
                shop__v1__line_item__init(&items[i]);
                items[i].sku = (char *)p->sku;
                items[i].quantity = li->quantity;
                items[i].unit_price_cents = p->price_cents;
                ptrs[i] = &items[i];
                o.total_cents += li->quantity * p->price_cents;
        }

        if ((rc = new_order_id(call, id, sizeof(id)))) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, "no order id free");
                return;
        }
        o.order_id = id;
        o.state = ST(PLACED);
        o.customer_id = req->customer_id;
        o.items = ptrs;
        o.n_items = req->n_items;
        o.placed_at_ms = pipeline_now_ms();
        e.order = &o;
        e.request_id = req->request_id;
        e.card_token = (char *)card;
        pr.order_id = id;
        rc = shop_v1_order_entry_put(call, id, strlen(id), &e);
        if (!rc && req->request_id[0])
                rc = shop_v1_placed_request_put(call, NULL, 0, &pr);
        /* The reply waits for OrderPlaced's delivery and the changelog's, so
         * no caller hears OK for an order the pipeline never heard of.  If
         * either is not delivered, the request fails with UNAVAILABLE and is
         * retried, the writes dropped. */
        if (!rc)
                rc = publish_placed(call, &e);
        if (rc) {
                kbus_call_fail(call, KBUS_UNAVAILABLE,
                               "cannot record the order or publish "
                               "OrderPlaced");
                return;
        }
        kbus_log(KBUS_LOG_DEBUG, "order %s placed: %" PRId64 " cents", id,
                 o.total_cents);
        reply_placed(call, &o);
}

static void get_order(kbus_call *call, const Shop__V1__GetOrderRequest *req,
                      void *arg) {
        Shop__V1__Order reply;
        struct view v;
        char why[120];
        int rc;

        if (!pipeline_token_ok(req->order_id)) {
                snprintf(why, sizeof(why), "no order '%.64s'", req->order_id);
                kbus_call_fail(call, KBUS_NOT_FOUND, why);
                return;
        }
        rc = view_read(call, req->order_id, &v);
        if (rc == KBUS_NOT_FOUND || rc == KBUS_INVALID_ARGUMENT) {
                snprintf(why, sizeof(why), "no order '%.64s'", req->order_id);
                kbus_call_fail(call, KBUS_NOT_FOUND, why);
                return;
        }
        if (rc) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, "cannot read the order");
                return;
        }
        reply = *v.entry->order;
        reply.state = v.state;
        reply.final = v.final;
        reply.final_at_ms = v.final_at_ms;
        reply.stock_released = v.released;
        if (v.step[PAID])
                reply.charge_id = v.step[PAID]->detail;
        if (v.step[SHIPPED])
                reply.tracking_id = v.step[SHIPPED]->detail;
        if (v.step[REJECTED])
                reply.reason = v.step[REJECTED]->detail;
        else if (v.step[FAILED])
                reply.reason = v.step[FAILED]->detail;
        shop_v1_order_service_get_order_reply(call, &reply);
}

struct tally {
        kbus_call *call;
        Shop__V1__OrdersAudit *audit;
        int64_t shipped_units[MAX_PRODUCTS];
        int rc;
};

static int count_order(const void *key, size_t len,
                       const Shop__V1__OrderEntry *e, void *arg) {
        struct tally *t = arg;
        Shop__V1__OrdersAudit *a = t->audit;
        const Shop__V1__Order *o = e->order;
        struct view v;

        if ((t->rc = view_read(t->call, o->order_id, &v)))
                return 1;
        a->orders++;
        switch (v.state) {
        case ST(PLACED):
                a->placed++;
                break;
        case ST(STOCK_RESERVED):
                a->stock_reserved++;
                break;
        case ST(PAID):
                a->paid++;
                a->paid_cents += o->total_cents;
                break;
        case ST(SHIPPED):
                a->shipped++;
                a->paid_cents += o->total_cents;
                for (size_t i = 0; i < o->n_items; i++) {
                        int p = catalog_index(o->items[i]->sku);
                        if (p >= 0)
                                t->shipped_units[p] += o->items[i]->quantity;
                }
                break;
        case ST(REJECTED):
                a->rejected++;
                break;
        case ST(PAYMENT_FAILED):
                a->payment_failed++;
                break;
        default:
                break;
        }
        if (v.state == ST(PAYMENT_FAILED) && v.released)
                a->stock_released++;
        if (v.step[PAID] && v.step[PAID]->other_charge_id[0])
                a->double_charged++;
        return 0;
}

/* The books of the request's partition. */
static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__OrdersAudit a = SHOP__V1__ORDERS_AUDIT__INIT;
        Shop__V1__SkuUnits units[MAX_PRODUCTS], *ptrs[MAX_PRODUCTS];
        struct tally t = {.call = call, .audit = &a};

        shop_v1_order_entry_scan(call, count_order, &t);
        if (t.rc) {
                kbus_call_fail(call, KBUS_UNAVAILABLE,
                               "cannot read the orders");
                return;
        }
        for (size_t i = 0; i < catalog_size; i++) {
                shop__v1__sku_units__init(&units[i]);
                units[i].sku = (char *)catalog[i].sku;
                units[i].units = t.shipped_units[i];
                ptrs[i] = &units[i];
        }
        a.shipped_units = ptrs;
        a.n_shipped_units = catalog_size;
        a.partition = kbus_call_partition(call);
        shop_v1_order_service_audit_reply(call, &a);
}

/* ---- events ---------------------------------------------------------- */

/* Records step \p st of order \p id, learnt from \p call's event. */
static void on_step(kbus_call *call, const char *id, enum step st,
                    const char *detail) {
        Shop__V1__OrderStep next = SHOP__V1__ORDER_STEP__INIT;
        const Shop__V1__OrderEntry *e;
        const Shop__V1__OrderStep *had;
        char key[160], why[120];
        int rc;

        /* Every event names an order placed here before OrderPlaced went
         * out: an unknown one is not ours to fix, so it goes to the
         * dead-letter topic. */
        rc = pipeline_token_ok(id) ? shop_v1_order_entry_get(call, NULL, 0, &e)
                                   : KBUS_NOT_FOUND;
        if (rc == KBUS_NOT_FOUND || rc == KBUS_INVALID_ARGUMENT) {
                snprintf(why, sizeof(why), "no order '%.64s'", id);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if (!rc && !(rc = step_key(call, id, st, key, sizeof(key))))
                rc = shop_v1_order_step_get(call, key, strlen(key), &had);
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, "cannot read the order");
                return;
        }
        if (rc == 0) {
                /* Came again.  A capture with another charge id means the
                 * order was charged twice: keep it for Audit. */
                if (st == PAID && strcmp(had->detail, detail) &&
                    !had->other_charge_id[0]) {
                        next = *had;
                        next.other_charge_id = (char *)detail;
                        kbus_log(KBUS_LOG_ERROR,
                                 "order %s captured twice: "
                                 "%s and %s",
                                 id, had->detail, detail);
                        if (shop_v1_order_step_put(call, key, strlen(key),
                                                   &next)) {
                                kbus_call_fail(call, KBUS_UNAVAILABLE,
                                               "cannot record the step");
                                return;
                        }
                }
                kbus_call_ack(call);
                return;
        }
        next.order_id = (char *)id;
        next.state = steps[st].state;
        next.detail = (char *)detail;
        next.at_ms = pipeline_now_ms();
        if (shop_v1_order_step_put(call, key, strlen(key), &next)) {
                kbus_call_fail(call, KBUS_UNAVAILABLE,
                               "cannot record the step");
                return;
        }
        kbus_log(KBUS_LOG_DEBUG, "order %s: %s", id, steps[st].name);
        kbus_call_ack(call);
}

static void on_stock_reserved(kbus_call *call,
                              const Shop__V1__StockReserved *ev, void *arg) {
        on_step(call, ev->order_id, RESERVED, "");
}

static void on_stock_rejected(kbus_call *call,
                              const Shop__V1__StockRejected *ev, void *arg) {
        on_step(call, ev->order_id, REJECTED, ev->reason);
}

static void on_payment_captured(kbus_call *call,
                                const Shop__V1__PaymentCaptured *ev,
                                void *arg) {
        on_step(call, ev->order_id, PAID, ev->charge_id);
}

static void on_payment_failed(kbus_call *call,
                              const Shop__V1__PaymentFailed *ev, void *arg) {
        on_step(call, ev->order_id, FAILED, ev->reason);
}

static void on_order_shipped(kbus_call *call, const Shop__V1__OrderShipped *ev,
                             void *arg) {
        on_step(call, ev->order_id, SHIPPED, ev->tracking_id);
}

static void on_stock_released(kbus_call *call,
                              const Shop__V1__StockReleased *ev, void *arg) {
        on_step(call, ev->order_id, RELEASED, "");
}

/* ---- start ----------------------------------------------------------- */

static void usage(FILE *out) {
        fprintf(out,
                "usage: orders [-c FILE]\n"
                "Serves shop.v1.OrderService and follows each order's state "
                "through the pipeline's\nevents until SIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
                "  -h, --help               this help\n\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with "
                "`kbus broker`), KBUS_GROUP,\nKBUS_LOG_LEVEL.\n");
}

int main(int argc, char **argv) {
        static const shop_v1_order_service_handlers handlers = {
            .place_order = place_order,
            .get_order = get_order,
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

        pipeline_init("orders");
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
                fprintf(stderr, "orders: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (kbus_runtime_new_from_file(&svc.rt, pipeline_prog, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                return 1;
        }
        rc = shop_v1_order_entry_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_placed_request_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_order_step_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_order_service_serve(svc.rt, &handlers, NULL);
        if (!rc)
                rc = shop_v1_stock_reserved_subscribe(svc.rt, NULL,
                                                      on_stock_reserved, NULL);
        if (!rc)
                rc = shop_v1_stock_rejected_subscribe(svc.rt, NULL,
                                                      on_stock_rejected, NULL);
        if (!rc)
                rc = shop_v1_stock_released_subscribe(svc.rt, NULL,
                                                      on_stock_released, NULL);
        if (!rc)
                rc = shop_v1_payment_captured_subscribe(
                    svc.rt, NULL, on_payment_captured, NULL);
        if (!rc)
                rc = shop_v1_payment_failed_subscribe(svc.rt, NULL,
                                                      on_payment_failed, NULL);
        if (!rc)
                rc = shop_v1_order_shipped_subscribe(svc.rt, NULL,
                                                     on_order_shipped, NULL);
        if (!rc)
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "orders: %s\n", kbus_strerror(rc));
        kbus_runtime_free(svc.rt);
        return rc ? 1 : 0;
}
