/*
 * orders: takes orders and follows each one to its end.
 *
 *   orders [-c FILE] [-s STATE_DIR]
 *
 * Serves shop.v1.OrderService (PlaceOrder, GetOrder, Audit).  PlaceOrder
 * prices the order from the catalog, journals it, publishes OrderPlaced
 * and answers with the new order's id once OrderPlaced is delivered.  The
 * order's state then follows the events of the other services:
 *
 *   PLACED -> STOCK_RESERVED -> PAID -> SHIPPED
 *          \-> REJECTED      \-> PAYMENT_FAILED (+ stock released)
 *
 * The events come from six topics, each in order per order id but not in
 * order with each other (this service may read PaymentCaptured before the
 * StockReserved that caused it), so a state only ever moves forward: an
 * event that would move it back, or a redelivered one, changes nothing.
 *
 * Every change is journaled (journal.h) before the record that caused it
 * is acknowledged, so a restarted service has every order it answered for.
 * PlaceOrder is idempotent by request: by the caller's request_id, else by
 * the request's record, so that a retry or a redelivery announces the
 * order it placed the first time rather than placing another.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "journal.h"
#include "orders.kbus.h"
#include "pipeline.h"
#include "shop.kbus.h"
#include "table.h"

#define MAX_ITEMS 20
#define MAX_QUANTITY 100

typedef Shop__V1__OrderState order_state;
#define ST(x) SHOP__V1__ORDER_STATE__ORDER_STATE_##x

struct item {
        int product; /* index in catalog[] */
        uint32_t quantity;
        int64_t unit_price_cents;
};

struct order {
        char *id;
        char *request_id; /* the caller's, or record_key() */
        char *customer;
        char *card;
        struct item *items;
        size_t n_items;
        int64_t total_cents;
        int64_t placed_at_ms;
        int64_t updated_at_ms;
        int64_t final_at_ms;
        order_state state;
        bool stock_released;
        bool durable; /* its placement is journaled */
        char *reason;
        char *charge_id;
        char *tracking_id;
};

static struct {
        kbus_runtime *rt;
        journal *jr;
        table *orders;      /* id -> struct order */
        table *by_request;  /* request id -> struct order */
} svc;

/* How far along the happy path a state is; finals of a branch rank with
 * the step they replace, so nothing moves an order out of them. */
static int rank(order_state s) {
        switch (s) {
        case ST(PLACED):
                return 1;
        case ST(STOCK_RESERVED):
        case ST(REJECTED):
                return 2;
        case ST(PAID):
        case ST(PAYMENT_FAILED):
                return 3;
        case ST(SHIPPED):
                return 4;
        default:
                return 0;
        }
}

static const char *state_name(order_state s) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &shop__v1__order_state__descriptor, (int)s);
        return v ? v->name : "?";
}

static bool is_final(const struct order *o) {
        return o->state == ST(SHIPPED) || o->state == ST(REJECTED) ||
               (o->state == ST(PAYMENT_FAILED) && o->stock_released);
}

static void replace(char **field, const char *value) {
        free(*field);
        *field = pipeline_xstrdup(value ? value : "");
}

static void order_free(void *p) {
        struct order *o = p;
        free(o->id);
        free(o->request_id);
        free(o->customer);
        free(o->card);
        free(o->items);
        free(o->reason);
        free(o->charge_id);
        free(o->tracking_id);
        free(o);
}

static struct order *order_new(const char *id, const char *request_id,
                               const char *customer, const char *card) {
        struct order *o = pipeline_xcalloc(1, sizeof(*o));
        o->id = pipeline_xstrdup(id);
        o->request_id = pipeline_xstrdup(request_id);
        o->customer = pipeline_xstrdup(customer);
        o->card = pipeline_xstrdup(card);
        o->reason = pipeline_xstrdup("");
        o->charge_id = pipeline_xstrdup("");
        o->tracking_id = pipeline_xstrdup("");
        o->state = ST(PLACED);
        table_put(svc.orders, o->id, o);
        if (o->request_id[0])
                table_put(svc.by_request, o->request_id, o);
        return o;
}

/* Applies a state change; returns whether anything changed. */
static bool advance(struct order *o, order_state to, const char *detail,
                    int64_t at_ms) {
        bool was_final = is_final(o);
        if (rank(to) <= rank(o->state))
                return false;
        o->state = to;
        o->updated_at_ms = at_ms;
        if (to == ST(PAID))
                replace(&o->charge_id, detail);
        else if (to == ST(SHIPPED))
                replace(&o->tracking_id, detail);
        else if (to == ST(REJECTED) || to == ST(PAYMENT_FAILED))
                replace(&o->reason, detail);
        if (!was_final && is_final(o))
                o->final_at_ms = at_ms;
        return true;
}

static bool mark_released(struct order *o, int64_t at_ms) {
        bool was_final = is_final(o);
        if (o->stock_released)
                return false;
        o->stock_released = true;
        if (!was_final && is_final(o))
                o->final_at_ms = at_ms;
        return true;
}

/* ---- the journal ----------------------------------------------------
 *
 *   P <id> <request id, record key, or - (older lines)> <placed ms> <customer> <card> <n> (<sku> <qty> <price>)*
 *   S <id> <state number> <ms> <detail or -, to the end of the line>
 *   R <id> <ms>                          stock released
 */

static void replay(char *line, void *arg) {
        /* Reasons are free text, so S takes the rest of its line. */
        int max = line[0] == 'S' ? 5 : line[0] == 'R' ? 3 : 8 + 3 * MAX_ITEMS;
        char *f[8 + 3 * MAX_ITEMS];
        int n = journal_split(line, f, max);
        struct order *o;

        if (n >= 7 && !strcmp(f[0], "P")) {
                if (table_get(svc.orders, f[1]))
                        return; /* journaled twice: a resent request */
                size_t items = strtoul(f[6], NULL, 10);
                if (items > MAX_ITEMS || n < 7 + 3 * (int)items)
                        goto bad;
                o = order_new(f[1], strcmp(f[2], "-") ? f[2] : "", f[4], f[5]);
                o->placed_at_ms = o->updated_at_ms = strtoll(f[3], NULL, 10);
                o->items = pipeline_xcalloc(items, sizeof(*o->items));
                for (size_t i = 0; i < items; i++) {
                        struct item *it = &o->items[o->n_items];
                        it->product = catalog_index(f[7 + 3 * i]);
                        if (it->product < 0)
                                goto bad;
                        it->quantity = (uint32_t)strtoul(f[8 + 3 * i], NULL, 10);
                        it->unit_price_cents = strtoll(f[9 + 3 * i], NULL, 10);
                        o->total_cents += it->quantity * it->unit_price_cents;
                        o->n_items++;
                }
                o->durable = true;
                return;
        }
        if (n >= 4 && !strcmp(f[0], "S") && (o = table_get(svc.orders, f[1]))) {
                const char *detail = n >= 5 && strcmp(f[4], "-") ? f[4] : "";
                advance(o, (order_state)atoi(f[2]), detail,
                        strtoll(f[3], NULL, 10));
                return;
        }
        if (n >= 3 && !strcmp(f[0], "R") && (o = table_get(svc.orders, f[1]))) {
                mark_released(o, strtoll(f[2], NULL, 10));
                return;
        }
bad:
        kbus_log(KBUS_LOG_WARN, "journal: ignoring a line it cannot read "
                                "(starts with '%s')", n > 0 ? f[0] : "");
}

/* ---- publishing ------------------------------------------------------ */

/* As part of handling \p call, or on its own when \p call is NULL. */
static int publish_placed(kbus_call *call, const struct order *o) {
        Shop__V1__OrderPlaced ev = SHOP__V1__ORDER_PLACED__INIT;
        Shop__V1__LineItem items[MAX_ITEMS], *ptrs[MAX_ITEMS];

        for (size_t i = 0; i < o->n_items; i++) {
                shop__v1__line_item__init(&items[i]);
                items[i].sku = (char *)catalog[o->items[i].product].sku;
                items[i].quantity = o->items[i].quantity;
                items[i].unit_price_cents = o->items[i].unit_price_cents;
                ptrs[i] = &items[i];
        }
        ev.order_id = o->id;
        ev.customer_id = o->customer;
        ev.card_token = o->card;
        ev.items = ptrs;
        ev.n_items = o->n_items;
        ev.total_cents = o->total_cents;
        ev.placed_at_ms = o->placed_at_ms;
        return call ? shop_v1_order_placed_publish_from(call, &ev)
                    : shop_v1_order_placed_publish(svc.rt, &ev);
}

/* ---- OrderService ---------------------------------------------------- */

struct placing {
        kbus_call *call;
        struct order *order;
};

static void reply_placed(kbus_call *call, const struct order *o) {
        Shop__V1__PlaceOrderReply reply = SHOP__V1__PLACE_ORDER_REPLY__INIT;
        reply.order_id = o->id;
        reply.total_cents = o->total_cents;
        shop_v1_order_service_place_order_reply(call, &reply);
}

/* Announces a journaled order that is still PLACED, then replies.  The
 * reply waits for OrderPlaced's delivery, so no caller hears OK for an
 * order the pipeline never heard of.  If OrderPlaced cannot be queued (a
 * full producer queue, failed here) or is not delivered (failed by the
 * runtime), the request fails with UNAVAILABLE and is retried: the retry
 * finds the order by its request key and announces it again. */
static void announce_and_reply(kbus_call *call, const struct order *o) {
        if (o->state == ST(PLACED) && publish_placed(call, o)) {
                kbus_call_fail(call, KBUS_UNAVAILABLE,
                               "cannot publish OrderPlaced");
                return;
        }
        reply_placed(call, o);
}

static void placed_durable(void *arg) {
        struct placing *p = arg;
        p->order->durable = true;
        kbus_log(KBUS_LOG_DEBUG, "order %s placed: %" PRId64 " cents",
                 p->order->id, p->order->total_cents);
        announce_and_reply(p->call, p->order);
        free(p);
}

static void journal_placed(struct order *o, kbus_call *call) {
        char lines[MAX_ITEMS * 48 + 1] = "";
        size_t at = 0;
        struct placing *p = pipeline_xmalloc(sizeof(*p));

        for (size_t i = 0; i < o->n_items; i++)
                at += (size_t)snprintf(lines + at, sizeof(lines) - at,
                                       " %s %" PRIu32 " %" PRId64,
                                       catalog[o->items[i].product].sku,
                                       o->items[i].quantity,
                                       o->items[i].unit_price_cents);
        p->call = call;
        p->order = o;
        journal_append(svc.jr, placed_durable, p,
                       "P %s %s %" PRId64 " %s %s %zu%s", o->id, o->request_id,
                       o->placed_at_ms, o->customer, o->card, o->n_items, lines);
}

/* The key of a request that carries no request_id: its record, so that a
 * retry of the record (OrderPlaced was not delivered) or its redelivery
 * after a restart finds the order placed the first time.  The caller's
 * deadline tells the record from one at the same offset of a topic created
 * anew; '#', which no request_id contains, keeps the two kinds apart. */
static void record_key(const kbus_call *call, char *out, size_t size) {
        snprintf(out, size, "#%s/%" PRId32 "/%" PRId64 "/%" PRId64,
                 kbus_call_topic(call), kbus_call_partition(call),
                 kbus_call_offset(call), kbus_call_deadline(call));
}

static void place_order(kbus_call *call,
                        const Shop__V1__PlaceOrderRequest *req, void *arg) {
        struct item items[MAX_ITEMS];
        const char *card = req->card_token[0] ? req->card_token : "tok_visa";
        const char *key = req->request_id;
        char id[32], why[160], by_record[320];
        struct order *o;

        if (key[0] && !pipeline_token_ok(key)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "request_id must be 1-64 characters of "
                               "A-Z a-z 0-9 . _ : @ -");
                return;
        }
        if (!key[0]) {
                record_key(call, by_record, sizeof(by_record));
                key = by_record;
        }
        /* Seen before (resent, retried or redelivered): answer with the
         * order it placed. */
        if ((o = table_get(svc.by_request, key))) {
                if (!o->durable) {
                        journal_placed(o, call);
                        return;
                }
                announce_and_reply(call, o);
                return;
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
                snprintf(why, sizeof(why), "an order has 1 to %d items, not %zu",
                         MAX_ITEMS, req->n_items);
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT, why);
                return;
        }
        for (size_t i = 0; i < req->n_items; i++) {
                const Shop__V1__LineItem *li = req->items[i];
                int p = catalog_index(li->sku);
                if (p < 0) {
                        snprintf(why, sizeof(why), "unknown product '%.64s'",
                                 li->sku);
                        kbus_call_fail(call, KBUS_NOT_FOUND, why);
                        return;
                }
                if (li->quantity < 1 || li->quantity > MAX_QUANTITY) {
                        snprintf(why, sizeof(why), "quantity of %s must be 1 "
                                 "to %d, not %" PRIu32, li->sku, MAX_QUANTITY,
                                 li->quantity);
                        kbus_call_fail(call, KBUS_INVALID_ARGUMENT, why);
                        return;
                }
                for (size_t k = 0; k < i; k++) {
                        if (items[k].product == p) {
                                snprintf(why, sizeof(why), "product %s is "
                                         "listed twice", li->sku);
                                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                                               why);
                                return;
                        }
                }
                items[i].product = p;
                items[i].quantity = li->quantity;
                items[i].unit_price_cents = catalog[p].price_cents;
        }

        pipeline_random_id(id, sizeof(id), "o-");
        o = order_new(id, key, req->customer_id, card);
        o->items = pipeline_xcalloc(req->n_items, sizeof(*o->items));
        memcpy(o->items, items, req->n_items * sizeof(*items));
        o->n_items = req->n_items;
        for (size_t i = 0; i < o->n_items; i++)
                o->total_cents += o->items[i].quantity *
                                  o->items[i].unit_price_cents;
        o->placed_at_ms = o->updated_at_ms = pipeline_now_ms();
        journal_placed(o, call);
}

static void get_order(kbus_call *call, const Shop__V1__GetOrderRequest *req,
                      void *arg) {
        Shop__V1__Order reply = SHOP__V1__ORDER__INIT;
        Shop__V1__LineItem items[MAX_ITEMS], *ptrs[MAX_ITEMS];
        struct order *o = table_get(svc.orders, req->order_id);
        char why[120];

        if (!o || !o->durable) {
                snprintf(why, sizeof(why), "no order '%.64s'", req->order_id);
                kbus_call_fail(call, KBUS_NOT_FOUND, why);
                return;
        }
        for (size_t i = 0; i < o->n_items; i++) {
                shop__v1__line_item__init(&items[i]);
                items[i].sku = (char *)catalog[o->items[i].product].sku;
                items[i].quantity = o->items[i].quantity;
                items[i].unit_price_cents = o->items[i].unit_price_cents;
                ptrs[i] = &items[i];
        }
        reply.order_id = o->id;
        reply.state = o->state;
        reply.customer_id = o->customer;
        reply.items = ptrs;
        reply.n_items = o->n_items;
        reply.total_cents = o->total_cents;
        reply.placed_at_ms = o->placed_at_ms;
        reply.final_at_ms = o->final_at_ms;
        reply.reason = o->reason;
        reply.charge_id = o->charge_id;
        reply.tracking_id = o->tracking_id;
        reply.stock_released = o->stock_released;
        reply.final = is_final(o);
        shop_v1_order_service_get_order_reply(call, &reply);
}

struct tally {
        Shop__V1__OrdersAudit *audit;
        int64_t shipped_units[64];
};

static void count_order(const char *key, void *value, void *arg) {
        struct tally *t = arg;
        struct order *o = value;
        Shop__V1__OrdersAudit *a = t->audit;

        if (!o->durable)
                return;
        a->orders++;
        switch (o->state) {
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
                for (size_t i = 0; i < o->n_items; i++)
                        t->shipped_units[o->items[i].product] +=
                            o->items[i].quantity;
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
        if (o->state == ST(PAYMENT_FAILED) && o->stock_released)
                a->stock_released++;
}

static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__OrdersAudit a = SHOP__V1__ORDERS_AUDIT__INIT;
        Shop__V1__SkuUnits units[64], *ptrs[64];
        struct tally t = {.audit = &a};

        table_foreach(svc.orders, count_order, &t);
        for (size_t i = 0; i < catalog_size; i++) {
                shop__v1__sku_units__init(&units[i]);
                units[i].sku = (char *)catalog[i].sku;
                units[i].units = t.shipped_units[i];
                ptrs[i] = &units[i];
        }
        a.shipped_units = ptrs;
        a.n_shipped_units = catalog_size;
        shop_v1_order_service_audit_reply(call, &a);
}

/* ---- events ---------------------------------------------------------- */

static void acked_when_durable(void *arg) {
        kbus_call_ack(arg);
}

/* Moves order \p id to \p to; acknowledges once the change is durable. */
static void on_state_event(kbus_call *call, const char *id, order_state to,
                           const char *detail) {
        struct order *o = table_get(svc.orders, id);
        int64_t now = pipeline_now_ms();
        char why[120];

        if (!o) {
                /* Every event names an order this service journaled before
                 * publishing OrderPlaced: an unknown one means the record
                 * is not ours to fix, so it goes to the dead-letter topic. */
                snprintf(why, sizeof(why), "no order '%.64s'", id);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if (!advance(o, to, detail, now)) {
                kbus_call_ack(call); /* a redelivery, or overtaken */
                return;
        }
        kbus_log(KBUS_LOG_DEBUG, "order %s: %s", o->id, state_name(to));
        journal_append(svc.jr, acked_when_durable, call,
                       "S %s %d %" PRId64 " %s", o->id, (int)to, now,
                       detail[0] ? detail : "-");
}

static void on_stock_reserved(kbus_call *call,
                              const Shop__V1__StockReserved *ev, void *arg) {
        on_state_event(call, ev->order_id, ST(STOCK_RESERVED), "");
}

static void on_stock_rejected(kbus_call *call,
                              const Shop__V1__StockRejected *ev, void *arg) {
        on_state_event(call, ev->order_id, ST(REJECTED), ev->reason);
}

static void on_payment_captured(kbus_call *call,
                                const Shop__V1__PaymentCaptured *ev,
                                void *arg) {
        on_state_event(call, ev->order_id, ST(PAID), ev->charge_id);
}

static void on_payment_failed(kbus_call *call,
                              const Shop__V1__PaymentFailed *ev, void *arg) {
        on_state_event(call, ev->order_id, ST(PAYMENT_FAILED), ev->reason);
}

static void on_order_shipped(kbus_call *call, const Shop__V1__OrderShipped *ev,
                             void *arg) {
        on_state_event(call, ev->order_id, ST(SHIPPED), ev->tracking_id);
}

static void on_stock_released(kbus_call *call,
                              const Shop__V1__StockReleased *ev, void *arg) {
        struct order *o = table_get(svc.orders, ev->order_id);
        int64_t now = pipeline_now_ms();
        if (!o) {
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, "no such order");
                return;
        }
        if (!mark_released(o, now)) {
                kbus_call_ack(call);
                return;
        }
        journal_append(svc.jr, acked_when_durable, call, "R %s %" PRId64,
                       o->id, now);
}

/* ---- start ----------------------------------------------------------- */

/* An order journaled before a crash may not have had its OrderPlaced
 * delivered.  Its request comes back and announces it again, unless the
 * caller's deadline has passed by then: the runtime drops such a request
 * unhandled, and nothing else would ever announce the order, which would
 * stay PLACED.  So every order still PLACED is announced at start (and
 * only those: any later state means OrderPlaced arrived).  For most it is
 * a duplicate, which every subscriber ignores, being idempotent by order
 * id.  This also covers a request that failed after its last retry with
 * OrderPlaced undelivered. */
static void republish_placed(const char *key, void *value, void *arg) {
        struct order *o = value;
        int64_t *n = arg;
        if (o->state == ST(PLACED) && publish_placed(NULL, o) == 0)
                (*n)++;
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: orders [-c FILE] [-s STATE_DIR]\n"
                "Serves shop.v1.OrderService and follows each order's state "
                "through the pipeline's\nevents until SIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
                "  -s, --state-dir DIR      keep the order journal in DIR, "
                "so orders survive a\n"
                "                           restart (default: memory only)\n"
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
            {"state-dir", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL, *state_dir = NULL;
        char err[512];
        int64_t republished = 0;
        int opt, rc;

        pipeline_init("orders");
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
        svc.orders = table_new();
        svc.by_request = table_new();
        if (journal_open(&svc.jr, kbus_runtime_event_base(svc.rt), state_dir,
                         "orders", replay, NULL)) {
                kbus_runtime_free(svc.rt);
                return 1;
        }
        if (!state_dir)
                kbus_log(KBUS_LOG_WARN, "no --state-dir: orders are "
                                        "lost when this process stops");
        table_foreach(svc.orders, republish_placed, &republished);
        kbus_log(KBUS_LOG_INFO, "%zu orders from the journal, %" PRId64
                 " OrderPlaced published again", table_count(svc.orders),
                 republished);

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
        journal_free(svc.jr);
        kbus_runtime_free(svc.rt);
        table_free(svc.by_request, NULL);
        table_free(svc.orders, order_free);
        return rc ? 1 : 0;
}
