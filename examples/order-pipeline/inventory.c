/*
 * inventory: holds stock for new orders, gives it back when their payment
 * fails, and counts it shipped when they ship.
 *
 *   inventory [-c FILE] [--stock UNITS]
 *
 * Stock is per product and orders span products, so the service has two
 * sides in one consumer group, "inventory", joined by two internal topics
 * (the README draws the flow):
 *
 *  - the order side handles records keyed by order id: OrderPlaced,
 *    PaymentFailed, OrderShipped and StockOutcome.  It splits an order into
 *    one StockCommand per line (RESERVE; RELEASE when the payment failed
 *    or another line was rejected; SHIP when it shipped), keyed by sku, and
 *    gathers the lines' StockOutcomes into the order's decision: every
 *    line held gives StockReserved, one line short gives StockRejected (and
 *    the held lines are released), and once every line of a failed payment
 *    is back, StockReleased;
 *  - the product side handles StockCommand, keyed by sku: the one instance
 *    owning a product's partition changes its stock, one command at a time
 *    (kbus's per-key order), and answers with a StockOutcome keyed by
 *    order id.
 *
 * State, in kbus tables of the group (each partition in the instance that
 * owns the input partition of the same number):
 *
 *   "reservations"  order id -> the order's lines     (OrderPlaced only)
 *   "progress"      order id -> each line's state      (StockOutcome only)
 *   "stock"         sku -> initial/available/reserved/shipped
 *   "holds"         sku + order id -> one line's state (both StockCommand)
 *
 * Every entry has one writer topic: kbus runs records of one key one at a
 * time within a topic, not across topics.  A command changes the stock
 * only if it moves its line's hold forward (none -> HELD or REJECTED,
 * HELD -> RELEASED or SHIPPED), in the same call that writes the hold, so
 * a command that comes again finds its line moved and changes nothing:
 * nothing is reserved, released or shipped twice.  For every product,
 * initial = available + reserved + shipped at all times, and no count goes
 * below zero (a change that would is refused and reported).  Serves
 * shop.v1.InventoryService (Audit, per partition) for order-load.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "inventory.kbus.h"
#include "pipeline.h"
#include "shop.kbus.h"

#define MAX_ITEMS 20
#define MAX_PRODUCTS 64
#define HS(x) SHOP__V1__HOLD_STATE__HOLD_STATE_##x
#define OP(x) SHOP__V1__STOCK_OP__STOCK_OP_##x

typedef Shop__V1__HoldState hold_state;

static struct {
        kbus_runtime *rt;
        long stock; /* initial units of every product; -1: the catalog's */
        /* this process's counters, for Audit */
        uint32_t redeliveries;
        bool went_negative;
} svc;

static int64_t initial_stock(int p) {
        return svc.stock >= 0 ? svc.stock : catalog[p].initial_stock;
}

/* ---- the product side ------------------------------------------------- */

static int publish_outcome(kbus_call *call, const Shop__V1__Hold *h,
                           Shop__V1__StockOp op, hold_state state) {
        Shop__V1__StockOutcome ev = SHOP__V1__STOCK_OUTCOME__INIT;
        ev.order_id = h->order_id;
        ev.sku = h->sku;
        ev.op = op;
        ev.state = state;
        ev.reason = h->reason;
        return shop_v1_stock_outcome_publish_from(call, &ev);
}

/* What a command that came again reports: its line's state then. */
static hold_state done_state(Shop__V1__StockOp op, const Shop__V1__Hold *h) {
        if (op == OP(RESERVE))
                return h->state == HS(REJECTED) ? HS(REJECTED) : HS(HELD);
        return op == OP(RELEASE) ? HS(RELEASED) : HS(SHIPPED);
}

static void on_stock_command(kbus_call *call, const Shop__V1__StockCommand *ev,
                             void *arg) {
        Shop__V1__StockLevel next = SHOP__V1__STOCK_LEVEL__INIT;
        Shop__V1__Hold hold = SHOP__V1__HOLD__INIT;
        const Shop__V1__StockLevel *cur;
        const Shop__V1__Hold *had;
        int p = catalog_index(ev->sku);
        char base[128], key[160], why[200];
        int64_t q = ev->quantity;
        int rc;

        if (p < 0 || !pipeline_token_ok(ev->order_id) || q < 1 ||
            (ev->op != OP(RESERVE) && ev->op != OP(RELEASE) &&
             ev->op != OP(SHIP))) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "malformed StockCommand");
                return;
        }
        snprintf(base, sizeof(base), "%s/%s", ev->sku, ev->order_id);
        rc = pipeline_local_key(call, &shop_v1_hold__table, base, key,
                                sizeof(key));
        if (!rc)
                rc = shop_v1_hold_get(call, key, strlen(key), &had);
        if (rc == KBUS_NOT_FOUND)
                had = NULL;
        else if (rc)
                goto unavailable;
        rc = shop_v1_stock_level_get(call, NULL, 0, &cur);
        if (rc == 0) {
                next = *cur;
        } else if (rc == KBUS_NOT_FOUND) {
                next.sku = ev->sku;
                next.initial = next.available = initial_stock(p);
        } else {
                goto unavailable;
        }
        if (had)
                hold = *had;
        hold.sku = ev->sku;
        hold.order_id = ev->order_id;

        switch (ev->op) {
        case OP(RESERVE):
                if (had)
                        goto again;
                hold.quantity = ev->quantity;
                if (next.available >= q) {
                        next.available -= q;
                        next.reserved += q;
                        hold.state = HS(HELD);
                } else {
                        snprintf(why, sizeof(why),
                                 "not enough %s: %" PRId64 " wanted, %" PRId64
                                 " available",
                                 ev->sku, q, next.available);
                        hold.state = HS(REJECTED);
                        hold.reason = why;
                }
                break;
        case OP(RELEASE):
        case OP(SHIP):
                if (had && had->state == (ev->op == OP(RELEASE) ? HS(RELEASED)
                                                                : HS(SHIPPED)))
                        goto again;
                if (!had || had->state != HS(HELD)) {
                        snprintf(why, sizeof(why),
                                 "%s of %s for order %s: "
                                 "nothing is held",
                                 ev->op == OP(RELEASE) ? "release" : "shipment",
                                 ev->sku, ev->order_id);
                        kbus_log(KBUS_LOG_ERROR, "%s", why);
                        kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                        return;
                }
                q = had->quantity;
                next.reserved -= q;
                if (ev->op == OP(RELEASE)) {
                        next.available += q;
                        hold.state = HS(RELEASED);
                } else {
                        next.shipped += q;
                        hold.state = HS(SHIPPED);
                }
                break;
        default:
                break;
        }
        if (next.available < 0 || next.reserved < 0 || next.shipped < 0 ||
            next.available + next.reserved + next.shipped != next.initial) {
                svc.went_negative = true;
                snprintf(why, sizeof(why),
                         "stock of %s would be inconsistent: "
                         "initial %" PRId64 " available %" PRId64
                         " reserved %" PRId64 " shipped %" PRId64,
                         ev->sku, next.initial, next.available, next.reserved,
                         next.shipped);
                kbus_log(KBUS_LOG_ERROR, "%s", why);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if ((rc = shop_v1_stock_level_put(call, NULL, 0, &next)) ||
            (rc = shop_v1_hold_put(call, key, strlen(key), &hold)) ||
            (rc = publish_outcome(call, &hold, ev->op, hold.state)))
                goto unavailable;
        kbus_call_ack(call);
        return;
again:
        /* Done before: the order side handled its record again.  Say how
         * it went again; the order side drops the repeat. */
        svc.redeliveries++;
        if (publish_outcome(call, had, ev->op, done_state(ev->op, had)))
                goto unavailable;
        kbus_call_ack(call);
        return;
unavailable:
        kbus_call_fail(call, KBUS_UNAVAILABLE,
                       "cannot change the stock or publish the outcome");
}

/* ---- the order side --------------------------------------------------- */

static int publish_command(kbus_call *call, const char *order_id,
                           const Shop__V1__LineItem *li, Shop__V1__StockOp op) {
        Shop__V1__StockCommand ev = SHOP__V1__STOCK_COMMAND__INIT;
        ev.sku = li->sku;
        ev.order_id = (char *)order_id;
        ev.quantity = li->quantity;
        ev.op = op;
        return shop_v1_stock_command_publish_from(call, &ev);
}

/* The order \p id as received, and how its lines stand (\p *progress NULL
 * while no outcome came). */
static int read_order(kbus_call *call, const char *id,
                      const Shop__V1__Reservation **r,
                      const Shop__V1__ReservationProgress **progress, char *key,
                      size_t size) {
        char base[128];
        int rc = shop_v1_reservation_get(call, id, strlen(id), r);
        if (rc)
                return rc;
        snprintf(base, sizeof(base), "%s/progress", id);
        rc = pipeline_local_key(call, &shop_v1_reservation_progress__table,
                                base, key, size);
        if (!rc)
                rc = shop_v1_reservation_progress_get(call, key, strlen(key),
                                                      progress);
        if (rc == KBUS_NOT_FOUND) {
                *progress = NULL;
                rc = 0;
        }
        return rc;
}

static void on_order_placed(kbus_call *call, const Shop__V1__OrderPlaced *ev,
                            void *arg) {
        Shop__V1__Reservation r = SHOP__V1__RESERVATION__INIT;
        const Shop__V1__Reservation *had;
        char why[200];
        int rc;

        /* Malformed events cannot become good by retrying: a permanent
         * status sends them to shop.v1.OrderPlaced.DLT. */
        if (!pipeline_token_ok(ev->order_id) ||
            !pipeline_token_ok(ev->customer_id) ||
            !pipeline_token_ok(ev->card_token) || ev->n_items == 0 ||
            ev->n_items > MAX_ITEMS || ev->total_cents <= 0) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "malformed OrderPlaced");
                return;
        }
        for (size_t i = 0; i < ev->n_items; i++) {
                if (catalog_index(ev->items[i]->sku) < 0 ||
                    ev->items[i]->quantity == 0) {
                        snprintf(why, sizeof(why),
                                 "OrderPlaced %s: bad line "
                                 "'%.64s' x %" PRIu32,
                                 ev->order_id, ev->items[i]->sku,
                                 ev->items[i]->quantity);
                        kbus_call_fail(call, KBUS_INVALID_ARGUMENT, why);
                        return;
                }
                for (size_t k = 0; k < i; k++) {
                        if (!strcmp(ev->items[k]->sku, ev->items[i]->sku)) {
                                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                                               "a product listed twice");
                                return;
                        }
                }
        }
        rc = shop_v1_reservation_get(call, NULL, 0, &had);
        if (rc == 0) {
                /* Received before: its commands went out with it. */
                svc.redeliveries++;
                kbus_call_ack(call);
                return;
        }
        if (rc != KBUS_NOT_FOUND)
                goto unavailable;
        r.order_id = ev->order_id;
        r.customer_id = ev->customer_id;
        r.card_token = ev->card_token;
        r.amount_cents = ev->total_cents;
        r.lines = ev->items;
        r.n_lines = ev->n_items;
        if (shop_v1_reservation_put(call, NULL, 0, &r))
                goto unavailable;
        for (size_t i = 0; i < ev->n_items; i++)
                if (publish_command(call, ev->order_id, ev->items[i],
                                    OP(RESERVE)))
                        goto unavailable;
        kbus_call_ack(call);
        return;
unavailable:
        kbus_call_fail(call, KBUS_UNAVAILABLE,
                       "cannot record the order or publish its lines");
}

static bool all_lines(const Shop__V1__ReservationProgress *pr, hold_state s) {
        for (size_t i = 0; i < pr->n_lines; i++)
                if (pr->lines[i] != s)
                        return false;
        return true;
}

/* Gathers one line's outcome into the order's progress, and decides. */
static void on_stock_outcome(kbus_call *call, const Shop__V1__StockOutcome *ev,
                             void *arg) {
        Shop__V1__ReservationProgress next =
            SHOP__V1__RESERVATION_PROGRESS__INIT;
        const Shop__V1__ReservationProgress *had;
        const Shop__V1__Reservation *r;
        hold_state lines[MAX_ITEMS];
        char key[160], why[120];
        size_t line;
        int rc;

        rc = pipeline_token_ok(ev->order_id)
                 ? read_order(call, ev->order_id, &r, &had, key, sizeof(key))
                 : KBUS_NOT_FOUND;
        if (rc == KBUS_NOT_FOUND || rc == KBUS_INVALID_ARGUMENT) {
                snprintf(why, sizeof(why),
                         "StockOutcome for unknown order "
                         "'%.64s'",
                         ev->order_id);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if (rc)
                goto unavailable;
        for (line = 0; line < r->n_lines; line++)
                if (!strcmp(r->lines[line]->sku, ev->sku))
                        break;
        if (line == r->n_lines || r->n_lines > MAX_ITEMS ||
            (had && had->n_lines != r->n_lines)) {
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION,
                               "StockOutcome for a line the order lacks");
                return;
        }
        if (had) {
                next = *had;
                memcpy(lines, had->lines, r->n_lines * sizeof(*lines));
        } else {
                next.order_id = ev->order_id;
                for (size_t i = 0; i < r->n_lines; i++)
                        lines[i] = HS(UNSPECIFIED);
        }
        next.lines = lines;
        next.n_lines = r->n_lines;
        /* A line only moves forward: none -> HELD or REJECTED, HELD ->
         * RELEASED or SHIPPED.  Anything else came before. */
        if (ev->op == OP(RESERVE) ? lines[line] != HS(UNSPECIFIED)
                                  : lines[line] != HS(HELD)) {
                svc.redeliveries++;
                kbus_call_ack(call);
                return;
        }
        lines[line] = ev->state;
        if (ev->state == HS(REJECTED) && !next.reason[0])
                next.reason = ev->reason;

        rc = 0;
        if (next.decision == HS(UNSPECIFIED)) {
                bool decided = true, held = true;
                for (size_t i = 0; i < r->n_lines; i++) {
                        decided &= lines[i] != HS(UNSPECIFIED);
                        held &= lines[i] == HS(HELD);
                }
                if (decided && held) {
                        Shop__V1__StockReserved out =
                            SHOP__V1__STOCK_RESERVED__INIT;
                        next.decision = HS(HELD);
                        out.order_id = r->order_id;
                        out.customer_id = r->customer_id;
                        out.amount_cents = r->amount_cents;
                        out.card_token = r->card_token;
                        rc = shop_v1_stock_reserved_publish_from(call, &out);
                } else if (decided) {
                        Shop__V1__StockRejected out =
                            SHOP__V1__STOCK_REJECTED__INIT;
                        next.decision = HS(REJECTED);
                        out.order_id = r->order_id;
                        out.reason = next.reason;
                        kbus_log(KBUS_LOG_DEBUG, "order %s rejected: %s",
                                 r->order_id, next.reason);
                        rc = shop_v1_stock_rejected_publish_from(call, &out);
                        /* What the other lines hold goes back. */
                        for (size_t i = 0; i < r->n_lines && !rc; i++)
                                if (lines[i] == HS(HELD))
                                        rc = publish_command(call, r->order_id,
                                                             r->lines[i],
                                                             OP(RELEASE));
                }
        } else if (next.decision == HS(HELD) && !next.released &&
                   ev->op == OP(RELEASE)) {
                bool back = true;
                for (size_t i = 0; i < r->n_lines; i++)
                        back &= lines[i] == HS(RELEASED);
                if (back) {
                        Shop__V1__StockReleased out =
                            SHOP__V1__STOCK_RELEASED__INIT;
                        next.released = true;
                        out.order_id = r->order_id;
                        rc = shop_v1_stock_released_publish_from(call, &out);
                }
        }
        if (rc ||
            shop_v1_reservation_progress_put(call, key, strlen(key), &next))
                goto unavailable;
        kbus_call_ack(call);
        return;
unavailable:
        kbus_call_fail(call, KBUS_UNAVAILABLE,
                       "cannot record the line or publish the decision");
}

/* Sends \p op for every line still HELD of an order whose stock is held:
 * RELEASE when its payment failed, SHIP when it shipped.  Nothing is
 * written here (progress has one writer, the StockOutcome handler); a
 * second delivery sends the commands again, and the product side finds
 * them done. */
static void to_every_held_line(kbus_call *call, const char *id,
                               Shop__V1__StockOp op, const char *event) {
        const Shop__V1__ReservationProgress *pr;
        const Shop__V1__Reservation *r;
        char key[160], why[160];
        bool sent = false;
        int rc;

        rc = pipeline_token_ok(id)
                 ? read_order(call, id, &r, &pr, key, sizeof(key))
                 : KBUS_NOT_FOUND;
        if (rc == KBUS_NOT_FOUND || rc == KBUS_INVALID_ARGUMENT ||
            (!rc &&
             (!pr || pr->decision != HS(HELD) || pr->n_lines != r->n_lines))) {
                snprintf(why, sizeof(why),
                         "%s for order '%.64s', which "
                         "holds no stock",
                         event, id);
                kbus_log(KBUS_LOG_ERROR, "%s", why);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if (rc)
                goto unavailable;
        for (size_t i = 0; i < r->n_lines; i++) {
                if (pr->lines[i] != HS(HELD))
                        continue;
                if (publish_command(call, id, r->lines[i], op))
                        goto unavailable;
                sent = true;
        }
        if (!sent)
                svc.redeliveries++;
        kbus_call_ack(call);
        return;
unavailable:
        kbus_call_fail(call, KBUS_UNAVAILABLE, "cannot publish the lines");
}

static void on_payment_failed(kbus_call *call,
                              const Shop__V1__PaymentFailed *ev, void *arg) {
        to_every_held_line(call, ev->order_id, OP(RELEASE), "PaymentFailed");
}

static void on_order_shipped(kbus_call *call, const Shop__V1__OrderShipped *ev,
                             void *arg) {
        to_every_held_line(call, ev->order_id, OP(SHIP), "OrderShipped");
}

/* ---- InventoryService ------------------------------------------------ */

static int count_order(const void *key, size_t len,
                       const Shop__V1__ReservationProgress *pr, void *arg) {
        Shop__V1__InventoryAudit *a = arg;
        if (pr->decision == HS(REJECTED))
                a->rejected++;
        else if (pr->decision != HS(HELD))
                ;
        else if (pr->released)
                a->released++;
        else if (all_lines(pr, HS(SHIPPED)))
                a->shipped++;
        else
                a->held++;
        return 0;
}

/* The books of the request's partition: the products that fall into it,
 * and its orders. */
static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__InventoryAudit a = SHOP__V1__INVENTORY_AUDIT__INIT;
        Shop__V1__StockLevel fresh[MAX_PRODUCTS], *ptrs[MAX_PRODUCTS];
        size_t n = 0;

        for (size_t i = 0; i < catalog_size; i++) {
                const Shop__V1__StockLevel *s;
                const char *sku = catalog[i].sku;
                int rc = shop_v1_stock_level_get(call, sku, strlen(sku), &s);
                if (rc == KBUS_INVALID_ARGUMENT)
                        continue; /* another partition's product */
                if (rc == KBUS_NOT_FOUND) {
                        shop__v1__stock_level__init(&fresh[i]);
                        fresh[i].sku = (char *)sku;
                        fresh[i].initial = initial_stock((int)i);
                        fresh[i].available = fresh[i].initial;
                        s = &fresh[i];
                } else if (rc) {
                        kbus_call_fail(call, KBUS_UNAVAILABLE,
                                       "cannot read the stock");
                        return;
                }
                if (s->available < 0 || s->reserved < 0 || s->shipped < 0 ||
                    s->available + s->reserved + s->shipped != s->initial)
                        a.went_negative = true;
                ptrs[n++] = (Shop__V1__StockLevel *)s;
        }
        a.stock = ptrs;
        a.n_stock = n;
        if (shop_v1_reservation_progress_scan(call, count_order, &a)) {
                kbus_call_fail(call, KBUS_UNAVAILABLE,
                               "cannot read the reservations");
                return;
        }
        a.redeliveries = svc.redeliveries;
        a.went_negative |= svc.went_negative;
        a.partition = kbus_call_partition(call);
        shop_v1_inventory_service_audit_reply(call, &a);
}

/* ---- start ----------------------------------------------------------- */

static void usage(FILE *out) {
        fprintf(out,
                "usage: inventory [-c FILE] [--stock UNITS]\n"
                "Reserves stock for orders (OrderPlaced), releases it when "
                "payment fails\n(PaymentFailed), counts it shipped "
                "(OrderShipped), until SIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
                "  --stock UNITS            start every product with UNITS "
                "(default: the catalog's\n"
                "                           stock; give every instance the "
                "same)\n"
                "  -h, --help               this help\n\n"
                "Products and their initial stock:\n");
        for (size_t i = 0; i < catalog_size; i++)
                fprintf(out, "  %-8s %6" PRId64 "  %s\n", catalog[i].sku,
                        catalog[i].initial_stock, catalog[i].name);
        fprintf(out, "\nEnvironment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 "
                     "(with `kbus broker`), KBUS_GROUP,\nKBUS_LOG_LEVEL.\n");
}

int main(int argc, char **argv) {
        static const shop_v1_inventory_service_handlers handlers = {
            .audit = audit,
        };
        static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"stock", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL;
        char err[512];
        int opt, rc;

        pipeline_init("inventory");
        svc.stock = -1;
        while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
                        break;
                case 'S':
                        svc.stock = pipeline_parse_long("--stock", optarg, 0,
                                                        1000000000);
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
                fprintf(stderr, "inventory: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (kbus_runtime_new_from_file(&svc.rt, pipeline_prog, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                return 1;
        }
        /* The initial stock is not in the tables: a product's entry is made
         * from it on its first command.  Every instance needs the same. */
        rc = shop_v1_stock_level_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_hold_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_reservation_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_reservation_progress_attach(svc.rt, NULL);
        if (!rc)
                rc = shop_v1_inventory_service_serve(svc.rt, &handlers, NULL);
        if (!rc)
                rc = shop_v1_order_placed_subscribe(svc.rt, NULL,
                                                    on_order_placed, NULL);
        if (!rc)
                rc = shop_v1_payment_failed_subscribe(svc.rt, NULL,
                                                      on_payment_failed, NULL);
        if (!rc)
                rc = shop_v1_order_shipped_subscribe(svc.rt, NULL,
                                                     on_order_shipped, NULL);
        if (!rc)
                rc = shop_v1_stock_outcome_subscribe(svc.rt, NULL,
                                                     on_stock_outcome, NULL);
        if (!rc)
                rc = shop_v1_stock_command_subscribe(svc.rt, NULL,
                                                     on_stock_command, NULL);
        if (!rc)
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "inventory: %s\n", kbus_strerror(rc));
        kbus_runtime_free(svc.rt);
        return rc ? 1 : 0;
}
