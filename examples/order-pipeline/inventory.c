/*
 * inventory: holds stock for new orders and gives it back when their
 * payment fails.
 *
 *   inventory [-c FILE] [-s STATE_DIR] [--stock UNITS]
 *
 * On OrderPlaced it reserves every line of the order or none: enough stock
 * gives StockReserved, too little StockRejected.  On PaymentFailed it
 * releases the reservation (the compensation of StockReserved) and
 * publishes StockReleased; on OrderShipped it counts the units shipped.
 * For every product, initial = available + reserved + shipped at all
 * times, and no count goes below zero.  Serves shop.v1.InventoryService
 * (Audit) for order-load's checks.
 *
 * Each change is journaled (journal.h), then its event is published as
 * part of handling the record that caused it: the record is acknowledged
 * only once the event is delivered.  A record that comes back (its event
 * was not delivered, or the process died first) finds the change made and
 * only publishes the outcome again.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "inventory.kbus.h"
#include "journal.h"
#include "pipeline.h"
#include "shop.kbus.h"
#include "table.h"

#define MAX_ITEMS 20
#define MAX_PRODUCTS 64

enum resv_state { HELD, RELEASED, SHIPPED, REJECTED };

struct reservation {
        char *order_id;
        char *customer;
        char *card;
        int64_t amount_cents;
        enum resv_state state;
        size_t n_lines;
        struct {
                int product;
                uint32_t quantity;
        } lines[MAX_ITEMS];
        char *reason; /* why it was rejected */
};

struct stock {
        int64_t initial, available, reserved, shipped;
};

static struct {
        kbus_runtime *rt;
        journal *jr;
        table *reservations; /* order id -> struct reservation */
        struct stock stock[MAX_PRODUCTS];
        uint32_t redeliveries;
        bool went_negative;
} svc;

static void check_stock(int p) {
        struct stock *s = &svc.stock[p];
        if (s->available < 0 || s->reserved < 0 || s->shipped < 0 ||
            s->available + s->reserved + s->shipped != s->initial) {
                svc.went_negative = true;
                kbus_log(KBUS_LOG_ERROR,
                         "stock of %s is inconsistent: initial %" PRId64
                         " available %" PRId64 " reserved %" PRId64
                         " shipped %" PRId64,
                         catalog[p].sku, s->initial, s->available,
                         s->reserved, s->shipped);
        }
}

/* Whether every line fits in the available stock; if not, says why. */
static bool fits(const struct reservation *r, char *why, size_t len) {
        for (size_t i = 0; i < r->n_lines; i++) {
                const struct stock *s = &svc.stock[r->lines[i].product];
                if (s->available < r->lines[i].quantity) {
                        snprintf(why, len, "not enough %s: %" PRIu32
                                 " wanted, %" PRId64 " available",
                                 catalog[r->lines[i].product].sku,
                                 r->lines[i].quantity, s->available);
                        return false;
                }
        }
        return true;
}

/* The state changes, shared by live handling and journal replay. */
static void apply_hold(struct reservation *r) {
        r->state = HELD;
        for (size_t i = 0; i < r->n_lines; i++) {
                struct stock *s = &svc.stock[r->lines[i].product];
                s->available -= r->lines[i].quantity;
                s->reserved += r->lines[i].quantity;
                check_stock(r->lines[i].product);
        }
}

static void apply_release(struct reservation *r) {
        r->state = RELEASED;
        for (size_t i = 0; i < r->n_lines; i++) {
                struct stock *s = &svc.stock[r->lines[i].product];
                s->available += r->lines[i].quantity;
                s->reserved -= r->lines[i].quantity;
                check_stock(r->lines[i].product);
        }
}

static void apply_ship(struct reservation *r) {
        r->state = SHIPPED;
        for (size_t i = 0; i < r->n_lines; i++) {
                struct stock *s = &svc.stock[r->lines[i].product];
                s->reserved -= r->lines[i].quantity;
                s->shipped += r->lines[i].quantity;
                check_stock(r->lines[i].product);
        }
}

static struct reservation *reservation_new(const char *order_id,
                                           const char *customer,
                                           const char *card) {
        struct reservation *r = pipeline_xcalloc(1, sizeof(*r));
        r->order_id = pipeline_xstrdup(order_id);
        r->customer = pipeline_xstrdup(customer);
        r->card = pipeline_xstrdup(card);
        r->reason = pipeline_xstrdup("");
        table_put(svc.reservations, r->order_id, r);
        return r;
}

static void reservation_free(void *p) {
        struct reservation *r = p;
        free(r->order_id);
        free(r->customer);
        free(r->card);
        free(r->reason);
        free(r);
}

/* ---- the journal ----------------------------------------------------
 *
 *   H <order> <ms> <amount> <customer> <card> <n> (<sku> <qty>)*   held
 *   J <order> <ms> <customer> <card> <reason to the end of the line> rejected
 *   L <order> <ms>                                                 released
 *   X <order> <ms>                                                 shipped
 */

static void replay(char *line, void *arg) {
        int max = line[0] == 'J' ? 6 : line[0] == 'H' ? 7 + 2 * MAX_ITEMS : 3;
        char *f[7 + 2 * MAX_ITEMS];
        int n = journal_split(line, f, max);
        struct reservation *r = n >= 2 ? table_get(svc.reservations, f[1])
                                       : NULL;

        if (n >= 7 && !strcmp(f[0], "H") && !r) {
                size_t lines = strtoul(f[6], NULL, 10);
                if (lines > MAX_ITEMS || n < 7 + 2 * (int)lines)
                        goto bad;
                r = reservation_new(f[1], f[4], f[5]);
                r->amount_cents = strtoll(f[3], NULL, 10);
                for (size_t i = 0; i < lines; i++) {
                        r->lines[i].product = catalog_index(f[7 + 2 * i]);
                        r->lines[i].quantity =
                            (uint32_t)strtoul(f[8 + 2 * i], NULL, 10);
                        if (r->lines[i].product < 0)
                                goto bad;
                        r->n_lines++;
                }
                apply_hold(r);
                return;
        }
        if (n >= 5 && !strcmp(f[0], "J") && !r) {
                r = reservation_new(f[1], f[3], f[4]);
                r->state = REJECTED;
                free(r->reason);
                r->reason = pipeline_xstrdup(n >= 6 ? f[5] : "");
                return;
        }
        if (n >= 3 && !strcmp(f[0], "L") && r && r->state == HELD) {
                apply_release(r);
                return;
        }
        if (n >= 3 && !strcmp(f[0], "X") && r && r->state == HELD) {
                apply_ship(r);
                return;
        }
bad:
        kbus_log(KBUS_LOG_WARN, "journal: ignoring a line it cannot use "
                                "(starts with '%s %s')",
                 n > 0 ? f[0] : "", n > 1 ? f[1] : "");
}

/* ---- publishing ------------------------------------------------------ */

/* The event that says how the reservation went, as part of handling
 * \p call. */
static int publish_outcome(kbus_call *call, const struct reservation *r) {
        if (r->state == REJECTED) {
                Shop__V1__StockRejected ev = SHOP__V1__STOCK_REJECTED__INIT;
                ev.order_id = r->order_id;
                ev.reason = r->reason;
                return shop_v1_stock_rejected_publish_from(call, &ev);
        }
        Shop__V1__StockReserved ev = SHOP__V1__STOCK_RESERVED__INIT;
        ev.order_id = r->order_id;
        ev.customer_id = r->customer;
        ev.amount_cents = r->amount_cents;
        ev.card_token = r->card;
        return shop_v1_stock_reserved_publish_from(call, &ev);
}

static int publish_released(kbus_call *call, const struct reservation *r) {
        Shop__V1__StockReleased ev = SHOP__V1__STOCK_RELEASED__INIT;
        ev.order_id = r->order_id;
        return shop_v1_stock_released_publish_from(call, &ev);
}

/* The acknowledgement waits for the event's delivery; if it is not
 * delivered, the runtime fails the record with UNAVAILABLE and retries
 * it.  A publish error means nothing was queued (a full producer queue):
 * retried too.  Either way the handler runs again, finds the change made
 * and only publishes. */
static void ack_or_retry(kbus_call *call, int publish_rc) {
        if (publish_rc)
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                               "cannot publish the outcome");
        else
                kbus_call_ack(call);
}

/* ---- events ---------------------------------------------------------- */

struct step {
        kbus_call *call;
        struct reservation *r;
        /* What to announce once the change is durable; NULL: nothing. */
        int (*publish)(kbus_call *call, const struct reservation *r);
};

/* The change is on disk: announce it, then acknowledge the event (the
 * call is still pending, so it can publish). */
static void step_durable(void *arg) {
        struct step *st = arg;
        ack_or_retry(st->call, st->publish ? st->publish(st->call, st->r) : 0);
        free(st);
}

static struct step *step_new(kbus_call *call, struct reservation *r,
                             int (*publish)(kbus_call *,
                                            const struct reservation *)) {
        struct step *st = pipeline_xmalloc(sizeof(*st));
        st->call = call;
        st->r = r;
        st->publish = publish;
        return st;
}

static void on_order_placed(kbus_call *call, const Shop__V1__OrderPlaced *ev,
                            void *arg) {
        struct reservation *r = table_get(svc.reservations, ev->order_id);
        char why[200], lines[MAX_ITEMS * 40 + 1] = "";
        int64_t now = pipeline_now_ms();
        size_t at = 0;

        if (r) {
                svc.redeliveries++;
                ack_or_retry(call, publish_outcome(call, r));
                return;
        }
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
                int p = catalog_index(ev->items[i]->sku);
                if (p < 0 || ev->items[i]->quantity == 0) {
                        snprintf(why, sizeof(why), "OrderPlaced %s: bad line "
                                 "'%.64s' x %" PRIu32, ev->order_id,
                                 ev->items[i]->sku, ev->items[i]->quantity);
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

        r = reservation_new(ev->order_id, ev->customer_id, ev->card_token);
        r->amount_cents = ev->total_cents;
        for (size_t i = 0; i < ev->n_items; i++) {
                r->lines[i].product = catalog_index(ev->items[i]->sku);
                r->lines[i].quantity = ev->items[i]->quantity;
                at += (size_t)snprintf(lines + at, sizeof(lines) - at,
                                       " %s %" PRIu32, ev->items[i]->sku,
                                       ev->items[i]->quantity);
        }
        r->n_lines = ev->n_items;
        /* Decided and applied in memory at once, so that the next order
         * sees the stock this one took, even before the line is durable. */
        if (fits(r, why, sizeof(why))) {
                apply_hold(r);
                journal_append(svc.jr, step_durable,
                               step_new(call, r, publish_outcome),
                               "H %s %" PRId64 " %" PRId64 " %s %s %zu%s",
                               r->order_id, now, r->amount_cents,
                               r->customer, r->card, r->n_lines, lines);
        } else {
                r->state = REJECTED;
                free(r->reason);
                r->reason = pipeline_xstrdup(why);
                kbus_log(KBUS_LOG_DEBUG, "order %s rejected: %s",
                         r->order_id, why);
                journal_append(svc.jr, step_durable,
                               step_new(call, r, publish_outcome),
                               "J %s %" PRId64 " %s %s %s", r->order_id, now,
                               r->customer, r->card, why);
        }
}

static void on_payment_failed(kbus_call *call,
                              const Shop__V1__PaymentFailed *ev, void *arg) {
        struct reservation *r = table_get(svc.reservations, ev->order_id);
        char why[120];

        if (!r || r->state == REJECTED) {
                snprintf(why, sizeof(why), "no stock is held for order "
                         "'%.64s'", ev->order_id);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if (r->state == RELEASED) {
                svc.redeliveries++;
                ack_or_retry(call, publish_released(call, r));
                return;
        }
        if (r->state == SHIPPED) {
                /* payments decides once per order, so this cannot happen
                 * unless its ledger was lost: say so loudly. */
                kbus_log(KBUS_LOG_ERROR, "order %s: PaymentFailed after "
                         "it shipped; stock left as shipped",
                         r->order_id);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION,
                               "payment failed for a shipped order");
                return;
        }
        apply_release(r);
        journal_append(svc.jr, step_durable,
                       step_new(call, r, publish_released), "L %s %" PRId64,
                       r->order_id, pipeline_now_ms());
}

static void on_order_shipped(kbus_call *call, const Shop__V1__OrderShipped *ev,
                             void *arg) {
        struct reservation *r = table_get(svc.reservations, ev->order_id);
        char why[120];

        if (!r || r->state == REJECTED || r->state == RELEASED) {
                snprintf(why, sizeof(why), "order '%.64s' shipped without "
                         "stock held for it", ev->order_id);
                kbus_log(KBUS_LOG_ERROR, "%s", why);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, why);
                return;
        }
        if (r->state == SHIPPED) {
                svc.redeliveries++;
                kbus_call_ack(call);
                return;
        }
        apply_ship(r);
        journal_append(svc.jr, step_durable, step_new(call, r, NULL),
                       "X %s %" PRId64, r->order_id, pipeline_now_ms());
}

/* ---- InventoryService ------------------------------------------------ */

static void count_reservation(const char *key, void *value, void *arg) {
        const struct reservation *r = value;
        Shop__V1__InventoryAudit *a = arg;
        switch (r->state) {
        case HELD:
                a->held++;
                break;
        case RELEASED:
                a->released++;
                break;
        case SHIPPED:
                a->shipped++;
                break;
        case REJECTED:
                a->rejected++;
                break;
        }
}

static void audit(kbus_call *call, const Shop__V1__AuditRequest *req,
                  void *arg) {
        Shop__V1__InventoryAudit a = SHOP__V1__INVENTORY_AUDIT__INIT;
        Shop__V1__StockLevel levels[MAX_PRODUCTS], *ptrs[MAX_PRODUCTS];

        for (size_t i = 0; i < catalog_size; i++) {
                shop__v1__stock_level__init(&levels[i]);
                levels[i].sku = (char *)catalog[i].sku;
                levels[i].initial = svc.stock[i].initial;
                levels[i].available = svc.stock[i].available;
                levels[i].reserved = svc.stock[i].reserved;
                levels[i].shipped = svc.stock[i].shipped;
                ptrs[i] = &levels[i];
        }
        a.stock = ptrs;
        a.n_stock = catalog_size;
        table_foreach(svc.reservations, count_reservation, &a);
        a.redeliveries = svc.redeliveries;
        a.went_negative = svc.went_negative;
        shop_v1_inventory_service_audit_reply(call, &a);
}

/* ---- start ----------------------------------------------------------- */

static void usage(FILE *out) {
        fprintf(out,
                "usage: inventory [-c FILE] [-s STATE_DIR] [--stock UNITS]\n"
                "Reserves stock for orders (OrderPlaced), releases it when "
                "payment fails\n(PaymentFailed), counts it shipped "
                "(OrderShipped), until SIGINT or SIGTERM.\n\n"
                "  -c, --config FILE        kbus configuration file "
                "(libconfig format)\n"
                "  -s, --state-dir DIR      keep the reservation journal in "
                "DIR, so stock survives\n"
                "                           a restart (default: memory "
                "only)\n"
                "  --stock UNITS            start every product with UNITS "
                "(default: the catalog's\n"
                "                           stock; ignored when the journal "
                "has history)\n"
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
            {"state-dir", required_argument, NULL, 's'},
            {"stock", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL, *state_dir = NULL;
        char err[512];
        long stock = -1;
        int opt, rc;

        pipeline_init("inventory");
        while ((opt = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
                        break;
                case 's':
                        state_dir = optarg;
                        break;
                case 'S':
                        stock = pipeline_parse_long("--stock", optarg, 0,
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
        /* The initial stock is not journaled: it comes from the catalog or
         * the flag, and the journal replays the changes on top of it.  A
         * restart must therefore be given the same --stock. */
        for (size_t i = 0; i < catalog_size; i++) {
                svc.stock[i].initial = stock >= 0 ? stock
                                                  : catalog[i].initial_stock;
                svc.stock[i].available = svc.stock[i].initial;
        }
        if (kbus_runtime_new_from_file(&svc.rt, pipeline_prog, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                return 1;
        }
        svc.reservations = table_new();
        if (journal_open(&svc.jr, kbus_runtime_event_base(svc.rt), state_dir,
                         "inventory", replay, NULL)) {
                kbus_runtime_free(svc.rt);
                return 1;
        }
        if (!state_dir)
                kbus_log(KBUS_LOG_WARN, "no --state-dir: reservations are "
                                        "lost when this process stops");
        kbus_log(KBUS_LOG_INFO, "%zu reservations from the journal",
                 table_count(svc.reservations));

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
                rc = kbus_runtime_run(svc.rt);
        if (rc)
                fprintf(stderr, "inventory: %s\n", kbus_strerror(rc));
        journal_free(svc.jr);
        kbus_runtime_free(svc.rt);
        table_free(svc.reservations, reservation_free);
        return rc ? 1 : 0;
}
