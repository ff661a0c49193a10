/*
 * gateway: the pipeline's HTTP front door, JSON in and out.
 *
 *   gateway [-c FILE] [-p PORT] [--timeout-ms MS]
 *
 *   POST /orders       {"customer_id": "c-42", "card_token": "tok_visa",
 *                       "items": [{"sku": "KB-65", "quantity": 2}]}
 *                      -> 201 {"order_id": "o-...", "total_cents": 17800, ...}
 *   GET /orders/{id}   -> 200 the order and its state
 *   GET /healthz       -> 200 {"status": "ok"}
 *
 * POST calls shop.v1.OrderService/PlaceOrder, GET calls GetOrder: the
 * gateway keeps no state.  An Idempotency-Key header becomes PlaceOrder's
 * request_id, so a client that resends a POST after a timeout gets the
 * order it placed the first time, not a second one.
 *
 * Errors are JSON too, {"error": "..."}: 400 for bad JSON, a missing field
 * or a bad quantity, 422 for an unknown product, 404 for an unknown order
 * or path, 405 for a wrong method, 503 (with Retry-After) when the backend
 * does not answer in time or is overloaded, 502 for any other backend
 * failure.  So are the answers to requests that are not good HTTP, which
 * http_guard.c turns away before libevent's HTTP server reads them: 413
 * for a body over 64 KiB (also chunked), 400 for a malformed request line,
 * header field or chunked body, 414, 417, 431, 501 for a method other
 * than GET, POST, PUT, DELETE and HEAD or a Transfer-Encoding other than
 * chunked, 505 for an HTTP version other than 1.0 and 1.1.
 *
 * The server listens on 127.0.0.1 only and prints its base URL as the
 * first line of standard output (useful with -p 0, any free port).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "http_guard.h"
#include "orders.kbus.h"
#include "pipeline.h"

#define MAX_ITEMS 20
#define MAX_QUANTITY 100
#define MAX_BODY (64 * 1024)

static struct {
        kbus_runtime *rt;
        kbus_call_opts *opts;
        uint64_t requests, errors_4xx, errors_5xx;
} gw;

/* ---- replies ---------------------------------------------------------- */

/* Sends \p body (taken) with \p code. */
static void send_json(struct evhttp_request *req, int code, json_t *body) {
        struct evbuffer *out = evbuffer_new();
        char *text = json_dumps(body, JSON_COMPACT);
        const char *reason;

        json_decref(body);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "application/json");
        if (out && text) {
                evbuffer_add(out, text, strlen(text));
                evbuffer_add(out, "\n", 1);
        }
        switch (code) {
        case 200:
                reason = "OK";
                break;
        case 201:
                reason = "Created";
                break;
        case 400:
                reason = "Bad Request";
                break;
        case 404:
                reason = "Not Found";
                break;
        case 405:
                reason = "Method Not Allowed";
                break;
        case 413:
                reason = "Payload Too Large";
                break;
        case 422:
                reason = "Unprocessable Entity";
                break;
        case 502:
                reason = "Bad Gateway";
                break;
        case 503:
                reason = "Service Unavailable";
                break;
        default:
                reason = "Error";
                break;
        }
        if (code >= 500)
                gw.errors_5xx++;
        else if (code >= 400)
                gw.errors_4xx++;
        evhttp_send_reply(req, code, reason, out);
        evbuffer_free(out);
        free(text);
}

static void send_error(struct evhttp_request *req, int code,
                       const char *message) {
        send_json(req, code, json_pack("{s:s}", "error", message));
}

/* Maps a backend failure to HTTP: the caller's fault is 4xx, a backend
 * that is slow or busy is 503 (try again), anything else 502. */
static void send_backend_error(struct evhttp_request *req, kbus_status status,
                               const char *message, int not_found_code) {
        char text[300];
        switch (status) {
        case KBUS_INVALID_ARGUMENT:
                send_error(req, 400, message);
                return;
        case KBUS_NOT_FOUND:
                send_error(req, not_found_code, message);
                return;
        case KBUS_DEADLINE_EXCEEDED:
        case KBUS_UNAVAILABLE:
        case KBUS_RESOURCE_EXHAUSTED:
        case KBUS_ABORTED:
        case KBUS_CANCELLED:
                snprintf(text, sizeof(text),
                         "orders service did not answer "
                         "(%s: %s); try again",
                         kbus_status_name(status), message ? message : "");
                evhttp_add_header(evhttp_request_get_output_headers(req),
                                  "Retry-After", "1");
                send_error(req, 503, text);
                return;
        default:
                snprintf(text, sizeof(text), "orders service failed (%s: %s)",
                         kbus_status_name(status), message ? message : "");
                send_error(req, 502, text);
        }
}

/* "ORDER_STATE_SHIPPED" -> "SHIPPED" */
static const char *state_text(Shop__V1__OrderState s) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &shop__v1__order_state__descriptor, (int)s);
        if (!v)
                return "UNKNOWN";
        return strncmp(v->name, "ORDER_STATE_", 12) ? v->name : v->name + 12;
}

/* ---- POST /orders ----------------------------------------------------- */

static void placed(kbus_status status, const char *message,
                   const Shop__V1__PlaceOrderReply *reply, void *arg) {
        struct evhttp_request *req = arg;
        char location[128];
        if (status != KBUS_OK) {
                send_backend_error(req, status, message, 422);
                return;
        }
        snprintf(location, sizeof(location), "/orders/%s", reply->order_id);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
                          location);
        send_json(req, 201,
                  json_pack("{s:s, s:I, s:s}", "order_id", reply->order_id,
                            "total_cents", (json_int_t)reply->total_cents,
                            "state", "PLACED"));
}

static void post_order(struct evhttp_request *req) {
        Shop__V1__PlaceOrderRequest pr = SHOP__V1__PLACE_ORDER_REQUEST__INIT;
        Shop__V1__LineItem items[MAX_ITEMS], *ptrs[MAX_ITEMS];
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        const char *key = evhttp_find_header(
            evhttp_request_get_input_headers(req), "Idempotency-Key");
        size_t len = evbuffer_get_length(in);
        json_t *body, *list, *v;
        json_error_t jerr;
        char why[300], generated[40];
        int rc;

        if (len > MAX_BODY) {
                send_error(req, 413, "the body is larger than 64 KiB");
                return;
        }
        body = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &jerr);
        if (!body) {
                snprintf(why, sizeof(why),
                         "the body is not JSON: %s at line "
                         "%d column %d",
                         jerr.text, jerr.line, jerr.column);
                send_error(req, 400, why);
                return;
        }
        if (!json_is_object(body)) {
                send_error(req, 400, "the body must be a JSON object");
                goto out;
        }
        v = json_object_get(body, "customer_id");
        if (!json_is_string(v) || !pipeline_token_ok(json_string_value(v))) {
                send_error(req, 400,
                           "customer_id must be a string of 1-64 "
                           "characters of A-Z a-z 0-9 . _ : @ -");
                goto out;
        }
        pr.customer_id = (char *)json_string_value(v);
        v = json_object_get(body, "card_token");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v) ||
                    !pipeline_token_ok(json_string_value(v))) {
                        send_error(req, 400,
                                   "card_token must be a string of "
                                   "1-64 characters of A-Z a-z 0-9 "
                                   ". _ : @ -");
                        goto out;
                }
                pr.card_token = (char *)json_string_value(v);
        }
        list = json_object_get(body, "items");
        if (!json_is_array(list) || json_array_size(list) == 0 ||
            json_array_size(list) > MAX_ITEMS) {
                snprintf(why, sizeof(why),
                         "items must be an array of 1 to %d "
                         "{\"sku\": ..., \"quantity\": ...} objects",
                         MAX_ITEMS);
                send_error(req, 400, why);
                goto out;
        }
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *item = json_array_get(list, i);
                json_t *sku = json_object_get(item, "sku");
                json_t *qty = json_object_get(item, "quantity");
                if (!json_is_object(item) || !json_is_string(sku)) {
                        snprintf(why, sizeof(why),
                                 "items[%zu] must be an "
                                 "object with a string \"sku\"",
                                 i);
                        send_error(req, 400, why);
                        goto out;
                }
                if (!json_is_integer(qty) || json_integer_value(qty) < 1 ||
                    json_integer_value(qty) > MAX_QUANTITY) {
                        snprintf(why, sizeof(why),
                                 "items[%zu].quantity must "
                                 "be a whole number from 1 to %d",
                                 i, MAX_QUANTITY);
                        send_error(req, 400, why);
                        goto out;
                }
                shop__v1__line_item__init(&items[i]);
                items[i].sku = (char *)json_string_value(sku);
                items[i].quantity = (uint32_t)json_integer_value(qty);
                ptrs[i] = &items[i];
        }
        pr.items = ptrs;
        pr.n_items = json_array_size(list);
        if (key) {
                if (!pipeline_token_ok(key)) {
                        send_error(req, 400,
                                   "Idempotency-Key must be 1-64 "
                                   "characters of A-Z a-z 0-9 . _ "
                                   ": @ -");
                        goto out;
                }
                pr.request_id = (char *)key;
        } else {
                /* Without a key from the client, a resent POST is a new
                 * order; the id still keys the request record. */
                pipeline_random_id(generated, sizeof(generated), "gw-");
                pr.request_id = generated;
        }
        rc =
            shop_v1_order_service_place_order(gw.rt, &pr, gw.opts, placed, req);
        /* Not sent (too many calls pending, a full producer queue, or
         * shutting down): the client should come back later. */
        if (rc)
                send_backend_error(req, KBUS_UNAVAILABLE, kbus_strerror(rc),
                                   422);
out:
        json_decref(body);
}

/* ---- GET /orders/{id} ------------------------------------------------- */

static void got_order(kbus_status status, const char *message,
                      const Shop__V1__Order *o, void *arg) {
        struct evhttp_request *req = arg;
        json_t *items;
        if (status != KBUS_OK) {
                send_backend_error(req, status, message, 404);
                return;
        }
        items = json_array();
        for (size_t i = 0; i < o->n_items; i++)
                json_array_append_new(
                    items,
                    json_pack("{s:s, s:i, s:I}", "sku", o->items[i]->sku,
                              "quantity", (int)o->items[i]->quantity,
                              "unit_price_cents",
                              (json_int_t)o->items[i]->unit_price_cents));
        send_json(
            req, 200,
            json_pack("{s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:I, s:s, "
                      "s:s, s:s, s:b}",
                      "order_id", o->order_id, "state", state_text(o->state),
                      "final", o->final, "customer_id", o->customer_id, "items",
                      items, "total_cents", (json_int_t)o->total_cents,
                      "placed_at_ms", (json_int_t)o->placed_at_ms,
                      "final_at_ms", (json_int_t)o->final_at_ms, "reason",
                      o->reason, "charge_id", o->charge_id, "tracking_id",
                      o->tracking_id, "stock_released", o->stock_released));
}

static void get_order(struct evhttp_request *req, const char *id) {
        Shop__V1__GetOrderRequest gr = SHOP__V1__GET_ORDER_REQUEST__INIT;
        int rc;
        if (!pipeline_token_ok(id)) {
                send_error(req, 400,
                           "an order id is 1-64 characters of "
                           "A-Z a-z 0-9 . _ : @ -");
                return;
        }
        gr.order_id = (char *)id;
        rc = shop_v1_order_service_get_order(gw.rt, &gr, gw.opts, got_order,
                                             req);
        if (rc)
                send_backend_error(req, KBUS_UNAVAILABLE, kbus_strerror(rc),
                                   404);
}

/* ---- routing ---------------------------------------------------------- */

static void method_not_allowed(struct evhttp_request *req, const char *allow) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          allow);
        send_error(req, 405, "method not allowed");
}

static void route(struct evhttp_request *req, void *arg) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
        enum evhttp_cmd_type method = evhttp_request_get_command(req);
        const char *message;
        int code;

        gw.requests++;
        if (http_guard_refused(req, &code, &message)) {
                send_error(req, code, message);
        } else if (!path) {
                send_error(req, 400, "bad request line");
        } else if (!strcmp(path, "/orders") || !strcmp(path, "/orders/")) {
                if (method == EVHTTP_REQ_POST)
                        post_order(req);
                else
                        method_not_allowed(req, "POST");
        } else if (!strncmp(path, "/orders/", 8)) {
                if (method == EVHTTP_REQ_GET)
                        get_order(req, path + 8);
                else
                        method_not_allowed(req, "GET");
        } else if (!strcmp(path, "/healthz")) {
                if (method == EVHTTP_REQ_GET)
                        send_json(req, 200, json_pack("{s:s}", "status", "ok"));
                else
                        method_not_allowed(req, "GET");
        } else {
                send_error(req, 404,
                           "no such path; try POST /orders or GET "
                           "/orders/{id}");
        }
}

/* ---- start ------------------------------------------------------------ */

static void usage(FILE *out) {
        fprintf(out,
                "usage: gateway [-c FILE] [-p PORT] [--timeout-ms MS]\n"
                "HTTP JSON front door of the order pipeline, on 127.0.0.1, "
                "until SIGINT or SIGTERM.\n\n"
                "  POST /orders        place an order: {\"customer_id\": "
                "\"c-1\", \"card_token\": \"tok_visa\",\n"
                "                      \"items\": [{\"sku\": \"KB-65\", "
                "\"quantity\": 1}]}; an\n"
                "                      Idempotency-Key header makes resending "
                "safe\n"
                "  GET /orders/{id}    the order and its state\n"
                "  GET /healthz        liveness\n\n"
                "  -c, --config FILE   kbus configuration file (libconfig "
                "format)\n"
                "  -p, --port PORT     port on 127.0.0.1 (default 8080; 0: "
                "any free port)\n"
                "  --timeout-ms MS     deadline of calls to the orders "
                "service (default 5000);\n"
                "                      past it the client gets 503\n"
                "  -h, --help          this help\n\n"
                "The first line of standard output is the base URL, e.g. "
                "http://127.0.0.1:8080.\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with "
                "`kbus broker`), KBUS_LOG_LEVEL.\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"port", required_argument, NULL, 'p'},
            {"timeout-ms", required_argument, NULL, 'T'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char *file = NULL;
        char err[512];
        long port = 8080, timeout_ms = 5000;
        struct evhttp_bound_socket *sock;
        struct sockaddr_in addr;
        socklen_t alen = sizeof(addr);
        struct event_base *base;
        struct evhttp *http;
        int opt, rc;

        pipeline_init("gateway");
        while ((opt = getopt_long(argc, argv, "c:p:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        file = optarg;
                        break;
                case 'p':
                        port = pipeline_parse_long("--port", optarg, 0, 65535);
                        break;
                case 'T':
                        timeout_ms = pipeline_parse_long("--timeout-ms", optarg,
                                                         1, 3600000);
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
                fprintf(stderr, "gateway: unexpected argument '%s'\n",
                        argv[optind]);
                usage(stderr);
                return 2;
        }
        /* Our own event_base, so that HTTP objects can outlive the runtime:
         * freeing the runtime answers the calls still pending, and their
         * callbacks reply to HTTP requests. */
        base = event_base_new();
        if (!base) {
                fprintf(stderr, "gateway: cannot make an event_base\n");
                return 1;
        }
        if (kbus_runtime_new_from_file(&gw.rt, pipeline_prog, file, base, err,
                                       sizeof(err))) {
                fprintf(stderr, "%s: %s\n", pipeline_prog, err);
                event_base_free(base);
                return 1;
        }
        /* The first HTTP request costs what later ones do: the reply
         * consumer is assigned and the orders topic's leaders looked up at
         * start, and readiness (/readyz) waits for the reply consumer. */
        rc = kbus_client_prepare(gw.rt, &shop_v1_order_service__service);
        if (rc) {
                fprintf(stderr, "gateway: %s\n", kbus_strerror(rc));
                return 1;
        }
        if (kbus_call_opts_new(&gw.opts) == 0)
                kbus_call_opts_set_timeout(gw.opts, timeout_ms);
        http = evhttp_new(base);
        if (!http) {
                fprintf(stderr, "gateway: cannot make the HTTP server\n");
                return 1;
        }
        /* Every request passes the guard first: what evhttp would answer
         * with an HTML page of its own (a body over the limit, a request
         * it cannot parse, a method it does not serve) is answered here,
         * as JSON (http_guard.h). */
        http_guard_attach(http,
                          EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                              EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD,
                          MAX_BODY);
        evhttp_set_timeout(http, 30);
        evhttp_set_gencb(http, route, NULL);
        sock = evhttp_bind_socket_with_handle(http, "127.0.0.1",
                                              (ev_uint16_t)port);
        if (!sock) {
                fprintf(stderr,
                        "gateway: cannot listen on 127.0.0.1:%ld "
                        "(in use?)\n",
                        port);
                return 1;
        }
        if (getsockname(evhttp_bound_socket_get_fd(sock),
                        (struct sockaddr *)&addr, &alen) == 0)
                port = ntohs(addr.sin_port);
        printf("http://127.0.0.1:%ld\n", port);
        fflush(stdout);
        kbus_log(KBUS_LOG_INFO, "listening on http://127.0.0.1:%ld", port);

        rc = kbus_runtime_run(gw.rt);
        if (rc)
                fprintf(stderr, "gateway: %s\n", kbus_strerror(rc));
        kbus_log(KBUS_LOG_INFO,
                 "%" PRIu64 " HTTP requests, %" PRIu64 " answered 4xx, %" PRIu64
                 " 5xx",
                 gw.requests, gw.errors_4xx, gw.errors_5xx);
        kbus_runtime_free(gw.rt);
        kbus_call_opts_free(gw.opts);
        evhttp_free(http);
        event_base_free(base);
        return rc ? 1 : 0;
}
