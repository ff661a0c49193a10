/*
 * order-load: places orders, follows them to the end, then checks the
 * books of every service.
 *
 *   order-load (--url URL | --rpc) [-n ORDERS] [-C IN_FLIGHT] [options]
 *
 * 1. Waits until the services answer (their Audit methods and, over HTTP,
 *    the gateway's GET /orders/{id} for an order that does not exist): a
 *    consumer group's first join takes seconds.
 * 2. Places a warm-up order (--warmup) and waits until it is final: the
 *    first event on each topic of a fresh pipeline waits for its producer
 *    to fetch the topic's metadata, and would otherwise weigh on the
 *    latencies of the first measured orders.  It prints how long it took.
 * 3. Places ORDERS random orders, IN_FLIGHT at a time, through the gateway
 *    (POST /orders) or straight to OrderService/PlaceOrder (--rpc).  Each
 *    carries an idempotency key, so a placement that times out is resent
 *    without risk of a second order.
 * 4. Polls each placed order (GET /orders/{id}, or GetOrder) until it is
 *    final: SHIPPED, REJECTED, or PAYMENT_FAILED with its stock released.
 *    Prints a progress line every second.
 * 5. Checks the books through the services' Audit methods, one request
 *    per partition (--partitions, keyed so that each reaches its own: every
 *    service keeps its state in kbus tables split like its topics, and the
 *    instance owning a partition answers for it), summed: payments
 *    charged exactly the paid orders (count and amount), nobody twice
 *    (orders saw no order captured with two charge ids);
 *    shipping shipped each paid order once; inventory's stock adds up for
 *    every product, what it shipped is what the shipped orders hold, and
 *    the stock of every failed payment came back; orders holds one order
 *    per placement, however often it was resent.  The services settle a
 *    moment after the orders do, and a service that just lost an instance
 *    answers for its partitions only once the group has rebalanced (the
 *    session timeout, then the join, then the restores: over 15 s on a busy
 *    machine), so the checks are retried for up to a minute.
 * 6. Prints the throughput (final orders per second, from the first order
 *    placed to the last one final) and the final latency's p50 and p99,
 *    then one summary line, last:
 *      orders placed=N shipped=A rejected=B payment_failed=C lost=D
 *      place_p50_ms=X place_p99_ms=Y final_p50_ms=Z
 *    and exits with status 1 if an order was lost (not final in time) or a
 *    check failed, 2 on a usage error.
 *
 * The checks compare totals across each service's whole history, so run
 * it against fresh services (or ones that only ever saw order-load runs
 * that completed).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "catalog.h"
#include "inventory.kbus.h"
#include "orders.kbus.h"
#include "payments.kbus.h"
#include "pipeline.h"
#include "shipping.kbus.h"
#include "shop.kbus.h"

#define ST(x) SHOP__V1__ORDER_STATE__ORDER_STATE_##x
#define MAX_LINES 3
#define MAX_PRODUCTS 64
#define POLL_INTERVAL_MS 200.0
#define MAX_PLACE_ATTEMPTS 10

enum place_state { P_TODO, P_PLACING, P_RETRY_WAIT, P_PLACED, P_FAILED };

struct lorder {
        char request_id[48];
        char order_id[48];
        size_t n_lines;
        int product[MAX_LINES];
        uint32_t quantity[MAX_LINES];
        enum place_state ps;
        int attempts;
        double first_try_ms, retry_at_ms, last_poll_ms;
        double place_ms; /* latency of the placement, retries included */
        bool polling;
        bool final;
        Shop__V1__OrderState state;
        int64_t placed_at_ms, final_at_ms;
};

/* An HTTP connection to the gateway; each carries one request at a time
 * (libevent does not pipeline), so IN_FLIGHT connections make IN_FLIGHT
 * requests. */
struct conn {
        struct evhttp_connection *evcon;
        bool busy;
};

struct job {
        struct conn *conn; /* NULL over RPC */
        struct lorder *o;
};

/* What order-load keeps of each service's Audit answer. */
struct books {
        /* partitions answered, of ld.partitions */
        int have_orders, have_inventory, have_payments, have_shipping;
        uint32_t o_double;
        uint32_t o_orders; /* entries of the orders table */
        uint32_t o_placed, o_reserved, o_paid, o_shipped, o_rejected, o_failed,
            o_released;
        int64_t o_paid_cents;
        int64_t o_shipped_units[MAX_PRODUCTS];
        struct {
                int64_t initial, available, reserved, shipped;
                bool seen;
        } stock[MAX_PRODUCTS];
        uint32_t i_held, i_released, i_shipped, i_rejected;
        bool i_negative;
        uint32_t p_charges, p_charged_orders, p_declines, p_gave_up,
            p_transient, p_redeliveries, p_malformed;
        int64_t p_charged_cents;
        uint32_t s_shipments, s_redeliveries;
        int pending;
        int failures;
};

enum phase { WAIT_READY, WARMUP, LOAD, AUDIT, DONE };

static struct {
        kbus_runtime *rt;
        struct event_base *base;
        struct event *tick;
        enum phase phase;
        /* settings */
        long n_orders, in_flight_max, poison, warmup;
        int32_t partitions;     /* of the services' topics */
        char (*audit_keys)[32]; /* one AuditRequest key per partition */
        double rate; /* new orders per second; 0: as fast as they go */
        double timeout_ms, ready_timeout_ms, audit_timeout_ms;
        bool rpc;
        /* the gateways (--url, comma-separated); connection i goes to
         * gateway i % n_gateways */
        struct {
                char host[256];
                int port;
        } gw[8];
        int n_gateways;
        kbus_call_opts *opts;
        /* the run: orders and n_orders are the batch being placed, first
         * the warm-up orders, then the measured ones */
        struct lorder *orders, *measured;
        long n_measured;
        struct conn *conns;
        long next_new, in_flight, polls_in_flight, n_final, n_placed,
            n_place_failed;
        long n_bad_request, n_place_retries;
        size_t poll_cursor;
        double start_ms, load_start_ms, last_progress_ms, audit_start_ms;
        bool ready_gateway;
        bool probed;
        int ready_pending, ready_ok; /* Audit calls out, answered OK */
        /* Orders the orders service held before this run (its Audit while
         * waiting for the services), and the warm-up orders placed. */
        uint64_t ready_orders, base_orders;
        long warmup_placed;
        struct books books;
        int exit_status;
} ld;

static void pump(void);

/* ---- generating orders ----------------------------------------------- */

static void make_order(struct lorder *o, long i, const char *run) {
        int ltd = catalog_index("KB-LTD");
        snprintf(o->request_id, sizeof(o->request_id), "load-%s-%ld", run, i);
        o->n_lines = 1 + (size_t)(pipeline_random() * MAX_LINES);
        for (size_t k = 0; k < o->n_lines; k++) {
                int p;
                bool dup;
                /* The limited edition is rare, so that it sells out after
                 * a few hundred orders and a few later ones are rejected,
                 * not a quarter of them. */
                if (k == 0 && ltd >= 0 && pipeline_random() < 0.03) {
                        o->product[k] = ltd;
                        o->quantity[k] = 1 + (uint32_t)(pipeline_random() * 3);
                        continue;
                }
                do { /* distinct products: an order lists each once */
                        p = (int)(pipeline_random() * (double)catalog_size);
                        dup = false;
                        for (size_t m = 0; m < k; m++)
                                dup |= o->product[m] == p;
                } while (dup || p == ltd);
                o->product[k] = p;
                o->quantity[k] = 1 + (uint32_t)(pipeline_random() * 3);
        }
}

/* ---- bookkeeping of outcomes ------------------------------------------ */

static bool retriable_http(int code) {
        return code == 0 || code >= 500;
}

static bool retriable_rpc(kbus_status s) {
        return s == KBUS_DEADLINE_EXCEEDED || s == KBUS_UNAVAILABLE ||
               s == KBUS_RESOURCE_EXHAUSTED || s == KBUS_ABORTED ||
               s == KBUS_CANCELLED;
}

static void place_succeeded(struct lorder *o, const char *order_id) {
        snprintf(o->order_id, sizeof(o->order_id), "%s", order_id);
        o->ps = P_PLACED;
        o->place_ms = pipeline_mono_ms() - o->first_try_ms;
        o->last_poll_ms = pipeline_mono_ms();
        ld.n_placed++;
}

static void place_failed(struct lorder *o, bool retriable, const char *why) {
        if (retriable && o->attempts < MAX_PLACE_ATTEMPTS) {
                /* Same idempotency key: if the first try got through, the
                 * resend answers with the same order. */
                o->ps = P_RETRY_WAIT;
                o->retry_at_ms = pipeline_mono_ms() + 200.0 * o->attempts;
                ld.n_place_retries++;
                kbus_log(KBUS_LOG_DEBUG, "%s: %s; trying again", o->request_id,
                         why);
                return;
        }
        o->ps = P_FAILED;
        ld.n_place_failed++;
        if (!retriable)
                ld.n_bad_request++;
        fprintf(stderr, "order-load: %s not placed: %s\n", o->request_id, why);
}

static void order_seen(struct lorder *o, Shop__V1__OrderState state, bool final,
                       int64_t placed_at, int64_t final_at) {
        o->state = state;
        o->placed_at_ms = placed_at;
        if (final && !o->final) {
                o->final = true;
                o->final_at_ms = final_at;
                ld.n_final++;
        }
}

static const char *state_name(Shop__V1__OrderState s) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &shop__v1__order_state__descriptor, (int)s);
        return v ? v->name : "?";
}

static Shop__V1__OrderState state_from_text(const char *s) {
        char name[64];
        const ProtobufCEnumValue *v;
        snprintf(name, sizeof(name), "ORDER_STATE_%s", s ? s : "");
        v = protobuf_c_enum_descriptor_get_value_by_name(
            &shop__v1__order_state__descriptor, name);
        return v ? (Shop__V1__OrderState)v->value : ST(UNSPECIFIED);
}

static void job_done(struct job *j) {
        if (j->conn)
                j->conn->busy = false;
        ld.in_flight--;
        free(j);
        pump();
}

/* ---- HTTP --------------------------------------------------------------- */

static json_t *response_json(struct evhttp_request *req) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        return json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
}

static void http_placed(struct evhttp_request *req, void *arg) {
        struct job *j = arg;
        int code = req ? evhttp_request_get_response_code(req) : 0;
        json_t *body = req && code ? response_json(req) : NULL;
        const char *id = json_string_value(json_object_get(body, "order_id"));
        char why[300];

        if (code == 201 && id) {
                place_succeeded(j->o, id);
        } else {
                snprintf(why, sizeof(why), "HTTP %d %s", code,
                         json_string_value(json_object_get(body, "error"))
                             ?: (code ? "" : "(no connection)"));
                place_failed(j->o, retriable_http(code), why);
        }
        json_decref(body);
        job_done(j);
}

static void http_polled(struct evhttp_request *req, void *arg) {
        struct job *j = arg;
        int code = req ? evhttp_request_get_response_code(req) : 0;
        json_t *body = req && code == 200 ? response_json(req) : NULL;

        j->o->polling = false;
        j->o->last_poll_ms = pipeline_mono_ms();
        ld.polls_in_flight--;
        if (body)
                order_seen(
                    j->o,
                    state_from_text(
                        json_string_value(json_object_get(body, "state"))),
                    json_is_true(json_object_get(body, "final")),
                    json_integer_value(json_object_get(body, "placed_at_ms")),
                    json_integer_value(json_object_get(body, "final_at_ms")));
        json_decref(body);
        job_done(j);
}

static bool http_send(struct conn *c, struct lorder *o, bool place) {
        struct job *j = pipeline_xcalloc(1, sizeof(*j));
        struct evhttp_request *req;
        struct evkeyvalq *h;
        char path[96];

        j->conn = c;
        j->o = o;
        req = evhttp_request_new(place ? http_placed : http_polled, j);
        h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host",
                          ld.gw[(c - ld.conns) % ld.n_gateways].host);
        if (place) {
                json_t *items = json_array(), *body;
                char *text;
                for (size_t k = 0; k < o->n_lines; k++)
                        json_array_append_new(
                            items, json_pack("{s:s, s:i}", "sku",
                                             catalog[o->product[k]].sku,
                                             "quantity", (int)o->quantity[k]));
                body = json_pack("{s:s, s:s, s:o}", "customer_id", "c-load",
                                 "card_token", "tok_visa", "items", items);
                text = json_dumps(body, JSON_COMPACT);
                json_decref(body);
                evhttp_add_header(h, "Content-Type", "application/json");
                evhttp_add_header(h, "Idempotency-Key", o->request_id);
                evbuffer_add(evhttp_request_get_output_buffer(req), text,
                             strlen(text));
                free(text);
                snprintf(path, sizeof(path), "/orders");
        } else {
                snprintf(path, sizeof(path), "/orders/%s", o->order_id);
        }
        if (evhttp_make_request(c->evcon, req,
                                place ? EVHTTP_REQ_POST : EVHTTP_REQ_GET,
                                path) != 0) {
                /* libevent has freed req */
                free(j);
                return false;
        }
        c->busy = true;
        return true;
}

static struct conn *idle_conn(void) {
        for (long i = 0; i < ld.in_flight_max; i++)
                if (!ld.conns[i].busy)
                        return &ld.conns[i];
        return NULL;
}

/* ---- RPC ---------------------------------------------------------------- */

static void rpc_placed(kbus_status status, const char *message,
                       const Shop__V1__PlaceOrderReply *reply, void *arg) {
        struct job *j = arg;
        char why[300];
        if (status == KBUS_OK) {
                place_succeeded(j->o, reply->order_id);
        } else {
                snprintf(why, sizeof(why), "%s: %s", kbus_status_name(status),
                         message ? message : "");
                place_failed(j->o, retriable_rpc(status), why);
        }
        job_done(j);
}

static void rpc_polled(kbus_status status, const char *message,
                       const Shop__V1__Order *o, void *arg) {
        struct job *j = arg;
        j->o->polling = false;
        j->o->last_poll_ms = pipeline_mono_ms();
        ld.polls_in_flight--;
        if (status == KBUS_OK)
                order_seen(j->o, o->state, o->final, o->placed_at_ms,
                           o->final_at_ms);
        job_done(j);
}

static bool rpc_send(struct lorder *o, bool place) {
        struct job *j = pipeline_xcalloc(1, sizeof(*j));
        int rc;
        j->o = o;
        if (place) {
                Shop__V1__PlaceOrderRequest req =
                    SHOP__V1__PLACE_ORDER_REQUEST__INIT;
                Shop__V1__LineItem items[MAX_LINES], *ptrs[MAX_LINES];
                for (size_t k = 0; k < o->n_lines; k++) {
                        shop__v1__line_item__init(&items[k]);
                        items[k].sku = (char *)catalog[o->product[k]].sku;
                        items[k].quantity = o->quantity[k];
                        ptrs[k] = &items[k];
                }
                req.request_id = o->request_id;
                req.customer_id = "c-load";
                req.card_token = "tok_visa";
                req.items = ptrs;
                req.n_items = o->n_lines;
                rc = shop_v1_order_service_place_order(ld.rt, &req, ld.opts,
                                                       rpc_placed, j);
        } else {
                Shop__V1__GetOrderRequest req =
                    SHOP__V1__GET_ORDER_REQUEST__INIT;
                req.order_id = o->order_id;
                rc = shop_v1_order_service_get_order(ld.rt, &req, ld.opts,
                                                     rpc_polled, j);
        }
        if (rc) {
                free(j);
                return false;
        }
        return true;
}

/* ---- scheduling ---------------------------------------------------------- */

static bool send_job(struct lorder *o, bool place) {
        struct conn *c = NULL;
        if (!ld.rpc && !(c = idle_conn()))
                return false;
        if (!(ld.rpc ? rpc_send(o, place) : http_send(c, o, place)))
                return false;
        ld.in_flight++;
        return true;
}

static struct lorder *next_placement(double now) {
        /* Resends first: they are the oldest orders. */
        for (long i = 0; i < ld.next_new; i++)
                if (ld.orders[i].ps == P_RETRY_WAIT &&
                    ld.orders[i].retry_at_ms <= now)
                        return &ld.orders[i];
        /* --rate: no more new orders than the clock allows so far. */
        if (ld.rate > 0 &&
            (double)ld.next_new >= (now - ld.load_start_ms) / 1000.0 * ld.rate)
                return NULL;
        if (ld.next_new < ld.n_orders)
                return &ld.orders[ld.next_new++];
        return NULL;
}

static struct lorder *next_poll(double now) {
        for (long n = 0; n < ld.n_orders; n++) {
                struct lorder *o = &ld.orders[ld.poll_cursor];
                ld.poll_cursor = (ld.poll_cursor + 1) % (size_t)ld.n_orders;
                if (o->ps == P_PLACED && !o->final && !o->polling &&
                    now - o->last_poll_ms >= POLL_INTERVAL_MS)
                        return o;
        }
        return NULL;
}

/* Starts work until IN_FLIGHT requests are out or there is nothing to do. */
static void pump(void) {
        double now = pipeline_mono_ms();
        if (ld.phase != LOAD && ld.phase != WARMUP)
                return;
        while (ld.in_flight < ld.in_flight_max) {
                struct lorder *o = NULL;
                /* A quarter of the slots go to polls first, so that
                 * progress shows orders ending while others are placed. */
                if (ld.polls_in_flight < (ld.in_flight_max + 3) / 4 &&
                    (o = next_poll(now)) != NULL) {
                        o->polling = true;
                        if (!send_job(o, false)) {
                                o->polling = false;
                                break;
                        }
                        ld.polls_in_flight++;
                        continue;
                }
                o = next_placement(now);
                if (o) {
                        if (o->ps == P_TODO)
                                o->first_try_ms = now;
                        o->ps = P_PLACING;
                        o->attempts++;
                        if (!send_job(o, true))
                                place_failed(o, true, "cannot send");
                        continue;
                }
                o = next_poll(now);
                if (!o)
                        break;
                o->polling = true;
                if (!send_job(o, false)) {
                        o->polling = false;
                        break;
                }
                ld.polls_in_flight++;
        }
}

/* ---- readiness ------------------------------------------------------------ */

static void start_load(void);

static void ready_answer(kbus_status status) {
        ld.ready_pending--;
        if (status == KBUS_OK)
                ld.ready_ok++;
}

/* One key per partition for the Audit requests: "audit-<n>" with the
 * smallest n that the partitioner sends to that partition. */
static void make_audit_keys(void) {
        ld.audit_keys =
            pipeline_xcalloc((size_t)ld.partitions, sizeof(*ld.audit_keys));
        for (int32_t p = 0; p < ld.partitions; p++) {
                for (long n = 0;; n++) {
                        snprintf(ld.audit_keys[p], sizeof(ld.audit_keys[p]),
                                 "audit-%ld", n);
                        if (pipeline_partition_of(ld.audit_keys[p],
                                                  ld.partitions) == p)
                                break;
                }
        }
}

static void ready_orders(kbus_status s, const char *m,
                         const Shop__V1__OrdersAudit *a, void *arg) {
        ready_answer(s);
        if (s == KBUS_OK && a)
                ld.ready_orders += a->orders;
}
static void ready_inventory(kbus_status s, const char *m,
                            const Shop__V1__InventoryAudit *a, void *arg) {
        ready_answer(s);
}
static void ready_payments(kbus_status s, const char *m,
                           const Shop__V1__PaymentsAudit *a, void *arg) {
        ready_answer(s);
}
static void ready_shipping(kbus_status s, const char *m,
                           const Shop__V1__ShippingAudit *a, void *arg) {
        ready_answer(s);
}

/* A 404 for an order that does not exist comes from the orders service:
 * the whole path gateway -> orders -> gateway works, replies included. */
static void ready_gateway(struct evhttp_request *req, void *arg) {
        ld.ready_gateway = req && evhttp_request_get_response_code(req) == 404;
        ld.conns[0].busy = false;
}

/* Asks every service once for every partition; the tick looks at the
 * answers. */
static void probe_ready(void) {
        Shop__V1__AuditRequest req = SHOP__V1__AUDIT_REQUEST__INIT;
        ld.ready_pending = 0;
        ld.ready_ok = 0;
        ld.ready_orders = 0;
        for (int32_t p = 0; p < ld.partitions; p++) {
                req.partition_key = ld.audit_keys[p];
                ld.ready_pending += 4;
                if (shop_v1_order_service_audit(ld.rt, &req, ld.opts,
                                                ready_orders, NULL))
                        ld.ready_pending--;
                if (shop_v1_inventory_service_audit(ld.rt, &req, ld.opts,
                                                    ready_inventory, NULL))
                        ld.ready_pending--;
                if (shop_v1_payment_service_audit(ld.rt, &req, ld.opts,
                                                  ready_payments, NULL))
                        ld.ready_pending--;
                if (shop_v1_shipping_service_audit(ld.rt, &req, ld.opts,
                                                   ready_shipping, NULL))
                        ld.ready_pending--;
        }
        if (!ld.rpc && !ld.ready_gateway && !ld.conns[0].busy) {
                struct evhttp_request *hr =
                    evhttp_request_new(ready_gateway, NULL);
                evhttp_add_header(evhttp_request_get_output_headers(hr), "Host",
                                  ld.gw[0].host);
                if (evhttp_make_request(ld.conns[0].evcon, hr, EVHTTP_REQ_GET,
                                        "/orders/o-ready-probe") == 0)
                        ld.conns[0].busy = true;
        }
}

/* ---- the books ------------------------------------------------------------ */

static void start_audit(void);

/* Whether an Audit answer came, and from the partition it was sent to
 * (\p arg); anything else counts as a failure. */
static bool answered(kbus_status s, int32_t partition, void *arg) {
        struct books *b = &ld.books;
        b->pending--;
        if (s != KBUS_OK || partition != (int32_t)(intptr_t)arg) {
                b->failures++;
                return false;
        }
        return true;
}

static void audit_orders(kbus_status s, const char *m,
                         const Shop__V1__OrdersAudit *a, void *arg) {
        struct books *b = &ld.books;
        if (!answered(s, a ? a->partition : -1, arg))
                return;
        b->have_orders++;
        b->o_orders += a->orders;
        b->o_placed += a->placed;
        b->o_reserved += a->stock_reserved;
        b->o_paid += a->paid;
        b->o_shipped += a->shipped;
        b->o_rejected += a->rejected;
        b->o_failed += a->payment_failed;
        b->o_released += a->stock_released;
        b->o_paid_cents += a->paid_cents;
        b->o_double += a->double_charged;
        for (size_t i = 0; i < a->n_shipped_units; i++) {
                int p = catalog_index(a->shipped_units[i]->sku);
                if (p >= 0)
                        b->o_shipped_units[p] += a->shipped_units[i]->units;
        }
}

static void audit_inventory(kbus_status s, const char *m,
                            const Shop__V1__InventoryAudit *a, void *arg) {
        struct books *b = &ld.books;
        if (!answered(s, a ? a->partition : -1, arg))
                return;
        b->have_inventory++;
        for (size_t i = 0; i < a->n_stock; i++) {
                int p = catalog_index(a->stock[i]->sku);
                if (p < 0)
                        continue;
                b->stock[p].initial = a->stock[i]->initial;
                b->stock[p].available = a->stock[i]->available;
                b->stock[p].reserved = a->stock[i]->reserved;
                b->stock[p].shipped = a->stock[i]->shipped;
                b->stock[p].seen = true;
        }
        b->i_held += a->held;
        b->i_released += a->released;
        b->i_shipped += a->shipped;
        b->i_rejected += a->rejected;
        b->i_negative |= a->went_negative;
}

static void audit_payments(kbus_status s, const char *m,
                           const Shop__V1__PaymentsAudit *a, void *arg) {
        struct books *b = &ld.books;
        if (!answered(s, a ? a->partition : -1, arg))
                return;
        b->have_payments++;
        b->p_charges += a->charges;
        b->p_charged_orders += a->charged_orders;
        b->p_charged_cents += a->charged_cents;
        b->p_declines += a->declines;
        b->p_gave_up += a->gave_up;
        /* The processes' own counters: every instance answers for each
         * of its partitions, so keep the largest, not the sum. */
        if (a->transient_failures > b->p_transient)
                b->p_transient = a->transient_failures;
        if (a->redeliveries > b->p_redeliveries)
                b->p_redeliveries = a->redeliveries;
        if (a->malformed > b->p_malformed)
                b->p_malformed = a->malformed;
}

static void audit_shipping(kbus_status s, const char *m,
                           const Shop__V1__ShippingAudit *a, void *arg) {
        struct books *b = &ld.books;
        if (!answered(s, a ? a->partition : -1, arg))
                return;
        b->have_shipping++;
        b->s_shipments += a->shipments;
        if (a->redeliveries > b->s_redeliveries)
                b->s_redeliveries = a->redeliveries;
}

/* Asks every service for the books of every partition. */
static void start_audit(void) {
        Shop__V1__AuditRequest req = SHOP__V1__AUDIT_REQUEST__INIT;
        struct books *b = &ld.books;
        memset(b, 0, sizeof(*b));
        for (int32_t p = 0; p < ld.partitions; p++) {
                void *arg = (void *)(intptr_t)p;
                req.partition_key = ld.audit_keys[p];
                b->pending += 4;
                if (shop_v1_order_service_audit(ld.rt, &req, ld.opts,
                                                audit_orders, arg))
                        b->pending--, b->failures++;
                if (shop_v1_inventory_service_audit(ld.rt, &req, ld.opts,
                                                    audit_inventory, arg))
                        b->pending--, b->failures++;
                if (shop_v1_payment_service_audit(ld.rt, &req, ld.opts,
                                                  audit_payments, arg))
                        b->pending--, b->failures++;
                if (shop_v1_shipping_service_audit(ld.rt, &req, ld.opts,
                                                   audit_shipping, arg))
                        b->pending--, b->failures++;
        }
}

/* One check: prints it when \p print, returns whether it holds. */
static bool check(bool print, bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool check(bool print, bool ok, const char *name, const char *fmt, ...) {
        char detail[512];
        va_list ap;
        if (!print)
                return ok;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        printf("check %-12s %s  %s\n", name, ok ? "ok    " : "FAILED", detail);
        return ok;
}

/* Whether the books balance; prints each check when \p print. */
static bool books_balance(bool print) {
        const struct books *b = &ld.books;
        uint32_t paid = b->o_paid + b->o_shipped;
        bool ok = true, stock_ok = true, units_ok = true;
        int64_t reserved = 0, shipped_units = 0, moved = 0;
        char bad[256] = "";

        if (b->have_orders < ld.partitions ||
            b->have_inventory < ld.partitions ||
            b->have_payments < ld.partitions ||
            b->have_shipping < ld.partitions) {
                if (print)
                        printf("check %-12s FAILED  services did not answer "
                               "Audit for every partition (of %d: orders %d, "
                               "inventory %d, payments %d, shipping %d)\n",
                               "audit", (int)ld.partitions, b->have_orders,
                               b->have_inventory, b->have_payments,
                               b->have_shipping);
                return false;
        }
        for (size_t p = 0; p < catalog_size; p++) {
                const typeof(b->stock[0]) *s = &b->stock[p];
                if (!s->seen || s->available < 0 || s->reserved < 0 ||
                    s->available + s->reserved + s->shipped != s->initial) {
                        stock_ok = false;
                        snprintf(bad, sizeof(bad),
                                 "%s: initial %" PRId64 " != available %" PRId64
                                 " + reserved %" PRId64 " + shipped %" PRId64,
                                 catalog[p].sku, s->initial, s->available,
                                 s->reserved, s->shipped);
                }
                if (s->shipped != b->o_shipped_units[p]) {
                        units_ok = false;
                        snprintf(bad, sizeof(bad),
                                 "%s: inventory shipped %" PRId64
                                 " units, shipped orders hold %" PRId64,
                                 catalog[p].sku, s->shipped,
                                 b->o_shipped_units[p]);
                }
                reserved += s->reserved;
                shipped_units += s->shipped;
                moved += s->initial - s->available;
        }
        ok &=
            check(print,
                  b->p_charges == paid && b->p_charged_cents == b->o_paid_cents,
                  "charges",
                  "payments charged %" PRIu32 " orders, %" PRId64
                  " cents; orders paid %" PRIu32 ", %" PRId64 " cents",
                  b->p_charges, b->p_charged_cents, paid, b->o_paid_cents);
        ok &= check(print,
                    b->p_charges == b->p_charged_orders && b->o_double == 0,
                    "no-double",
                    "%" PRIu32 " charges for %" PRIu32
                    " distinct orders; %" PRIu32 " orders captured with a "
                    "second charge id",
                    b->p_charges, b->p_charged_orders, b->o_double);
        ok &= check(print, b->p_declines + b->p_gave_up == b->o_failed,
                    "failures",
                    "payments declined %" PRIu32 " and gave up %" PRIu32
                    "; orders PAYMENT_FAILED %" PRIu32,
                    b->p_declines, b->p_gave_up, b->o_failed);
        ok &= check(print, b->s_shipments == b->o_shipped, "shipments",
                    "shipping booked %" PRIu32
                    " parcels; orders SHIPPED %" PRIu32,
                    b->s_shipments, b->o_shipped);
        ok &= check(print, stock_ok && !b->i_negative, "stock",
                    "initial = available + reserved + shipped for every "
                    "product, never negative%s%s",
                    bad[0] && !stock_ok ? "; " : "", !stock_ok ? bad : "");
        ok &= check(print, units_ok && moved == shipped_units + reserved,
                    "stock-moved",
                    "%" PRId64 " units left the shelf: %" PRId64
                    " shipped + %" PRId64 " reserved; shipped orders "
                    "hold as many per product%s%s",
                    moved, shipped_units, reserved, !units_ok ? "; " : "",
                    !units_ok ? bad : "");
        ok &= check(print,
                    b->i_held == b->o_reserved + b->o_paid &&
                        b->i_shipped == b->o_shipped,
                    "reservations",
                    "inventory holds %" PRIu32 " and shipped %" PRIu32
                    "; orders reserved or paid %" PRIu32 ", shipped %" PRIu32,
                    b->i_held, b->i_shipped, b->o_reserved + b->o_paid,
                    b->o_shipped);
        ok &= check(
            print, b->i_released == b->o_failed && b->o_released == b->o_failed,
            "compensation",
            "stock released for %" PRIu32 " orders (orders saw %" PRIu32
            "); PAYMENT_FAILED %" PRIu32,
            b->i_released, b->o_released, b->o_failed);
        ok &= check(print, b->i_rejected == b->o_rejected, "rejections",
                    "inventory rejected %" PRIu32 "; orders REJECTED %" PRIu32,
                    b->i_rejected, b->o_rejected);
        /* Every placement made one order, however often it was resent or
         * handled again (table requests): none twice, none unseen. */
        ok &= check(print,
                    b->o_orders - ld.base_orders ==
                        (uint64_t)(ld.warmup_placed + ld.n_placed),
                    "orders",
                    "orders holds %" PRIu64 " new orders; %ld placed "
                    "(%ld warm-up)",
                    b->o_orders - ld.base_orders,
                    ld.warmup_placed + ld.n_placed, ld.warmup_placed);
        return ok;
}

/* ---- the run ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(*v), cmp_double);
        size_t i = (size_t)(p * (double)(n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

static void count_states(long *shipped, long *rejected, long *failed) {
        *shipped = *rejected = *failed = 0;
        for (long i = 0; i < ld.n_orders; i++) {
                const struct lorder *o = &ld.orders[i];
                if (!o->final)
                        continue;
                if (o->state == ST(SHIPPED))
                        (*shipped)++;
                else if (o->state == ST(REJECTED))
                        (*rejected)++;
                else if (o->state == ST(PAYMENT_FAILED))
                        (*failed)++;
        }
}

static void progress(double now) {
        long shipped, rejected, failed;
        count_states(&shipped, &rejected, &failed);
        printf("progress t=%.1fs placed=%ld/%ld final=%ld shipped=%ld "
               "rejected=%ld payment_failed=%ld in_flight=%ld resent=%ld\n",
               (now - ld.load_start_ms) / 1000.0, ld.n_placed, ld.n_orders,
               ld.n_final, shipped, rejected, failed, ld.in_flight,
               ld.n_place_retries);
        fflush(stdout);
        ld.last_progress_ms = now;
}

static void summary(void) {
        double *place = pipeline_xcalloc((size_t)ld.n_orders, sizeof(double));
        double *final = pipeline_xcalloc((size_t)ld.n_orders, sizeof(double));
        size_t n_place = 0, n_final = 0;
        long shipped, rejected, failed, lost;
        int64_t first_placed = INT64_MAX, last_final = 0;
        double span_s, p50, p99;
        bool balanced;

        for (long i = 0; i < ld.n_orders; i++) {
                const struct lorder *o = &ld.orders[i];
                if (o->ps == P_PLACED)
                        place[n_place++] = o->place_ms;
                if (o->final && o->final_at_ms >= o->placed_at_ms) {
                        final[n_final++] =
                            (double)(o->final_at_ms - o->placed_at_ms);
                        if (o->placed_at_ms < first_placed)
                                first_placed = o->placed_at_ms;
                        if (o->final_at_ms > last_final)
                                last_final = o->final_at_ms;
                }
        }
        count_states(&shipped, &rejected, &failed);
        lost = ld.n_orders - ld.n_final;

        balanced = books_balance(true);
        check(true, ld.n_bad_request == 0, "requests",
              "%ld placements "
              "refused as invalid, %ld resent after a timeout or 503",
              ld.n_bad_request, ld.n_place_retries);
        if (ld.books.have_payments)
                printf("info  payments (largest of one process): %" PRIu32
                       " transient processor "
                       "failures, %" PRIu32
                       " redelivered StockReserved, %" PRIu32
                       " malformed dead-lettered\n",
                       ld.books.p_transient, ld.books.p_redeliveries,
                       ld.books.p_malformed);
        if (lost > 0) {
                long shown = 0;
                for (long i = 0; i < ld.n_orders && shown < 10; i++) {
                        const struct lorder *o = &ld.orders[i];
                        if (o->final)
                                continue;
                        shown++;
                        printf("lost  %s order %s: %s\n", o->request_id,
                               o->order_id[0] ? o->order_id : "(not placed)",
                               o->ps != P_PLACED ? "placement failed"
                               : o->state == ST(UNSPECIFIED)
                                   ? "never seen"
                                   : state_name(o->state));
                }
        }
        /* Throughput: the final orders over the time from the first one
         * placed to the last one final, by the orders service's clock (the
         * progress lines come from polling, a tick late). */
        span_s = n_final ? (double)(last_final - first_placed) / 1000.0 : 0;
        p50 = percentile(final, n_final, 0.50);
        p99 = percentile(final, n_final, 0.99);
        printf("info  %zu orders final in %.2f s from the first placed: %.0f "
               "orders/s; final p50 %.1f ms, p99 %.1f ms\n",
               n_final, span_s, span_s > 0 ? (double)n_final / span_s : 0, p50,
               p99);
        printf("orders placed=%ld shipped=%ld rejected=%ld payment_failed=%ld "
               "lost=%ld place_p50_ms=%.1f place_p99_ms=%.1f "
               "final_p50_ms=%.1f\n",
               ld.n_placed, shipped, rejected, failed, lost,
               percentile(place, n_place, 0.50),
               percentile(place, n_place, 0.99), p50);
        fflush(stdout);
        ld.exit_status = lost > 0 || !balanced || ld.n_bad_request ? 1 : 0;
        free(place);
        free(final);
}

static void finish(void) {
        ld.phase = DONE;
        summary();
        kbus_runtime_shutdown(ld.rt);
}

static void publish_poison(void) {
        for (long i = 0; i < ld.poison; i++) {
                Shop__V1__StockReserved ev = SHOP__V1__STOCK_RESERVED__INIT;
                char id[40];
                /* No card and nothing to charge: payments must refuse it
                 * and dead-letter it, not charge or loop on it. */
                pipeline_random_id(id, sizeof(id), "poison-");
                ev.order_id = id;
                ev.amount_cents = 0;
                if (shop_v1_stock_reserved_publish(ld.rt, &ev))
                        fprintf(stderr, "order-load: cannot publish a "
                                        "malformed StockReserved\n");
        }
        if (ld.poison)
                printf("published %ld malformed StockReserved events "
                       "(payments dead-letters them to "
                       "shop.v1.StockReserved.DLT)\n",
                       ld.poison);
}

/* Starts placing the batch ld.orders[0 .. n). */
static void start_batch(enum phase phase, struct lorder *orders, long n) {
        ld.phase = phase;
        ld.orders = orders;
        ld.n_orders = n;
        ld.next_new = ld.n_final = ld.n_placed = 0;
        ld.n_place_failed = ld.n_place_retries = 0;
        ld.poll_cursor = 0;
        ld.load_start_ms = ld.last_progress_ms = pipeline_mono_ms();
        pump();
}

static void start_load(void) {
        printf("placing %ld orders, %ld in flight, %s\n", ld.n_measured,
               ld.in_flight_max, ld.rpc ? "by RPC" : "through the gateway");
        fflush(stdout);
        publish_poison();
        start_batch(LOAD, ld.measured, ld.n_measured);
}

/* The first event on each topic waits for its producer to learn the
 * topic's metadata, which costs up to a second per hop on a fresh
 * pipeline; warm-up orders pay that before the measured ones start. */
static void start_warmup(void) {
        static struct lorder warm[16];
        char run[20];
        printf("services ready after %.1f s\n",
               (pipeline_mono_ms() - ld.start_ms) / 1000.0);
        if (ld.warmup == 0) {
                start_load();
                return;
        }
        pipeline_random_id(run, sizeof(run), "warmup-");
        for (long i = 0; i < ld.warmup; i++)
                make_order(&warm[i], i, run);
        start_batch(WARMUP, warm, ld.warmup);
}

static void warmup_done(double now) {
        long shipped, rejected, failed;
        count_states(&shipped, &rejected, &failed);
        printf("warm-up: %ld of %ld orders final (%ld shipped) in %.0f ms; "
               "not counted below\n",
               ld.n_final, ld.n_orders, shipped, now - ld.load_start_ms);
        ld.warmup_placed = ld.n_placed;
        start_load();
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
        double now = pipeline_mono_ms();

        switch (ld.phase) {
        case WAIT_READY:
                if (ld.probed && ld.ready_pending == 0 &&
                    ld.ready_ok == 4 * ld.partitions &&
                    (ld.rpc || ld.ready_gateway)) {
                        ld.base_orders = ld.ready_orders;
                        start_warmup();
                        break;
                }
                if (now - ld.start_ms > ld.ready_timeout_ms) {
                        fprintf(stderr,
                                "order-load: the services did not "
                                "answer within %.0f s (is every "
                                "service%s running?)\n",
                                ld.ready_timeout_ms / 1000.0,
                                ld.rpc ? "" : " and the gateway");
                        ld.exit_status = 1;
                        ld.phase = DONE;
                        kbus_runtime_shutdown(ld.rt);
                        break;
                }
                /* Our own side first: the reply consumer fetching. */
                if (ld.ready_pending == 0 && kbus_runtime_ready(ld.rt)) {
                        ld.probed = true;
                        probe_ready();
                }
                break;
        case WARMUP:
                pump();
                if (ld.n_final + ld.n_place_failed >= ld.n_orders ||
                    now - ld.load_start_ms > ld.timeout_ms)
                        warmup_done(now);
                break;
        case LOAD:
                pump();
                if (now - ld.last_progress_ms >= 1000.0)
                        progress(now);
                if (ld.n_final + ld.n_place_failed >= ld.n_orders ||
                    now - ld.load_start_ms > ld.timeout_ms) {
                        if (ld.n_final + ld.n_place_failed < ld.n_orders)
                                printf("timeout: %ld orders not final after "
                                       "%.0f s\n",
                                       ld.n_orders - ld.n_final,
                                       ld.timeout_ms / 1000.0);
                        progress(now);
                        ld.phase = AUDIT;
                        ld.audit_start_ms = now;
                        start_audit();
                }
                break;
        case AUDIT:
                if (ld.books.pending > 0)
                        break;
                if (books_balance(false) ||
                    now - ld.audit_start_ms > ld.audit_timeout_ms) {
                        finish();
                        break;
                }
                start_audit(); /* the services are still settling */
                break;
        case DONE:
                break;
        }
}

static void usage(FILE *out) {
        fprintf(out,
                "usage: order-load (--url URL | --rpc) [-n ORDERS] [-C "
                "IN_FLIGHT] [-c FILE]\n"
                "                  [--rate PER_SECOND] [--timeout SECONDS] "
                "[--warmup N] [--poison N]\n"
                "Places orders on the order pipeline, waits until each is "
                "final, checks the\nservices' books, and prints one summary "
                "line:\n"
                "  orders placed=N shipped=A rejected=B payment_failed=C "
                "lost=D place_p50_ms=X\n"
                "  place_p99_ms=Y final_p50_ms=Z\n\n"
                "  --url URL[,URL...]   the gateway, e.g. "
                "http://127.0.0.1:8080 (orders go over\n"
                "                       HTTP), or several, each taking a "
                "share of the connections\n"
                "  --rpc                call OrderService directly instead "
                "of the gateway\n"
                "  -n, --orders N       orders to place (default 1000)\n"
                "  -C, --in-flight N    requests at once (default 32)\n"
                "  --rate PER_SECOND    start at most this many new orders a "
                "second (default:\n"
                "                       as fast as IN_FLIGHT allows)\n"
                "  -c, --config FILE    kbus configuration file (libconfig "
                "format)\n"
                "  --timeout SECONDS    give up on orders not final this long "
                "after the first\n"
                "                       was placed (default 120)\n"
                "  --ready-timeout SECONDS\n"
                "                       wait this long for the services to "
                "answer (default 60)\n"
                "  --warmup N           place N orders (0-16, default 1) "
                "and wait until they\n"
                "                       are final before the measured ones: "
                "the first event on\n"
                "                       each topic of a fresh pipeline is "
                "slow\n"
                "  --poison N           also publish N malformed "
                "StockReserved events, which\n"
                "                       payments must dead-letter (default "
                "0)\n"
                "  --partitions N       partitions of the services' topics, "
                "for Audit (default 4)\n"
                "  -h, --help           this help\n\n"
                "Exit status: 0 all orders final and the books balance; 1 "
                "otherwise; 2 usage.\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with "
                "`kbus broker`), KBUS_LOG_LEVEL.\n");
}

static void parse_url(const char *list) {
        char *copy = pipeline_xstrdup(list), *save = NULL;
        for (char *url = strtok_r(copy, ",", &save); url;
             url = strtok_r(NULL, ",", &save)) {
                struct evhttp_uri *u = evhttp_uri_parse(url);
                const char *host = u ? evhttp_uri_get_host(u) : NULL;
                if (!host || !evhttp_uri_get_scheme(u) ||
                    strcmp(evhttp_uri_get_scheme(u), "http") ||
                    ld.n_gateways == 8) {
                        fprintf(stderr,
                                "order-load: --url needs 1 to 8 "
                                "http://HOST:PORT, not '%s'\n",
                                url);
                        exit(2);
                }
                snprintf(ld.gw[ld.n_gateways].host,
                         sizeof(ld.gw[ld.n_gateways].host), "%s", host);
                ld.gw[ld.n_gateways].port =
                    evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
                ld.n_gateways++;
                evhttp_uri_free(u);
        }
        free(copy);
        if (ld.n_gateways == 0) {
                fprintf(stderr, "order-load: --url needs http://HOST:PORT\n");
                exit(2);
        }
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
            {"url", required_argument, NULL, 'u'},
            {"rpc", no_argument, NULL, 'r'},
            {"orders", required_argument, NULL, 'n'},
            {"in-flight", required_argument, NULL, 'C'},
            {"config", required_argument, NULL, 'c'},
            {"timeout", required_argument, NULL, 'T'},
            {"ready-timeout", required_argument, NULL, 'R'},
            {"poison", required_argument, NULL, 'P'},
            {"rate", required_argument, NULL, 'Q'},
            {"warmup", required_argument, NULL, 'w'},
            {"partitions", required_argument, NULL, 'N'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL, *url = NULL;
        char err[512];
        struct timeval tick = {0, 50000};
        char run[20];
        int opt, rc;

        pipeline_init("order-load");
        ld.n_orders = 1000;
        ld.in_flight_max = 32;
        ld.timeout_ms = 120000;
        ld.ready_timeout_ms = 60000;
        ld.audit_timeout_ms = 60000;
        ld.warmup = 1;
        ld.partitions = 4;
        while ((opt = getopt_long(argc, argv, "n:C:c:h", longopts, NULL)) !=
               -1) {
                switch (opt) {
                case 'u':
                        url = optarg;
                        break;
                case 'r':
                        ld.rpc = true;
                        break;
                case 'n':
                        ld.n_orders = pipeline_parse_long("--orders", optarg, 1,
                                                          10000000);
                        break;
                case 'C':
                        ld.in_flight_max = pipeline_parse_long(
                            "--in-flight", optarg, 1, 10000);
                        break;
                case 'c':
                        file = optarg;
                        break;
                case 'T':
                        ld.timeout_ms =
                            1000.0 * (double)pipeline_parse_long(
                                         "--timeout", optarg, 1, 86400);
                        break;
                case 'R':
                        ld.ready_timeout_ms =
                            1000.0 * (double)pipeline_parse_long(
                                         "--ready-timeout", optarg, 1, 86400);
                        break;
                case 'P':
                        ld.poison =
                            pipeline_parse_long("--poison", optarg, 0, 1000000);
                        break;
                case 'w':
                        ld.warmup =
                            pipeline_parse_long("--warmup", optarg, 0, 16);
                        break;
                case 'N':
                        ld.partitions = (int32_t)pipeline_parse_long(
                            "--partitions", optarg, 1, 10000);
                        break;
                case 'Q':
                        ld.rate =
                            pipeline_parse_double("--rate", optarg, 0, 1e6);
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
                fprintf(stderr, "order-load: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        if (!!url == ld.rpc) {
                fprintf(stderr, "order-load: give either --url URL (through "
                                "the gateway) or --rpc\n");
                usage(stderr);
                return 2;
        }
        if (url)
                parse_url(url);

        ld.base = event_base_new();
        if (!ld.base) {
                fprintf(stderr, "order-load: cannot make an event_base\n");
                return 1;
        }
        if (kbus_runtime_new_from_file(&ld.rt, pipeline_prog, file, ld.base,
                                       err, sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                return 1;
        }
        /* Every service it calls, declared: nothing measured waits for a
         * lookup that only the first call would make. */
        {
                const kbus_service_desc *called[] = {
                    &shop_v1_order_service__service,
                    &shop_v1_inventory_service__service,
                    &shop_v1_payment_service__service,
                    &shop_v1_shipping_service__service,
                };
                for (size_t i = 0; i < sizeof(called) / sizeof(called[0]); i++)
                        if ((rc = kbus_client_prepare(ld.rt, called[i]))) {
                                fprintf(stderr, "order-load: %s\n",
                                        kbus_strerror(rc));
                                return 1;
                        }
        }
        make_audit_keys();
        if (kbus_call_opts_new(&ld.opts) == 0)
                kbus_call_opts_set_timeout(ld.opts, 5000);
        ld.n_measured = ld.n_orders;
        ld.measured =
            pipeline_xcalloc((size_t)ld.n_orders, sizeof(*ld.measured));
        pipeline_random_id(run, sizeof(run), "");
        for (long i = 0; i < ld.n_orders; i++)
                make_order(&ld.measured[i], i, run);
        if (!ld.rpc) {
                ld.conns = pipeline_xcalloc((size_t)ld.in_flight_max,
                                            sizeof(*ld.conns));
                for (long i = 0; i < ld.in_flight_max; i++) {
                        int g = (int)(i % ld.n_gateways);
                        ld.conns[i].evcon = evhttp_connection_base_new(
                            ld.base, NULL, ld.gw[g].host,
                            (ev_uint16_t)ld.gw[g].port);
                        if (!ld.conns[i].evcon) {
                                fprintf(stderr, "order-load: cannot make an "
                                                "HTTP connection\n");
                                return 1;
                        }
                        evhttp_connection_set_timeout(ld.conns[i].evcon, 10);
                }
        }
        ld.tick = event_new(ld.base, -1, EV_PERSIST, on_tick, NULL);
        event_add(ld.tick, &tick);
        ld.start_ms = pipeline_mono_ms();
        printf("order-load: run %s, waiting for the services\n", run);
        fflush(stdout);

        rc = kbus_runtime_run(ld.rt);
        if (rc) {
                fprintf(stderr, "order-load: %s\n", kbus_strerror(rc));
                ld.exit_status = 1;
        } else if (ld.phase != DONE) {
                fprintf(stderr, "order-load: interrupted\n");
                ld.exit_status = 1;
        }
        event_free(ld.tick);
        kbus_runtime_free(ld.rt);
        kbus_call_opts_free(ld.opts);
        free(ld.audit_keys);
        for (long i = 0; ld.conns && i < ld.in_flight_max; i++)
                evhttp_connection_free(ld.conns[i].evcon);
        free(ld.conns);
        free(ld.measured);
        event_base_free(ld.base);
        return ld.exit_status;
}
