/*
 * api_test: what generated code promises, checked without a broker.
 *
 * The generated stubs call twelve libkbus functions; this file defines
 * stand-ins that record their arguments, so the test needs only the
 * generated code and libkbus-wkt.  It checks the API's shape at compile
 * time (typed function pointers), the descriptors' contents (paths, topics,
 * flags, timeouts, keys, retry policies), and that the trampolines reach
 * the typed handlers and callbacks with the right arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpackage.kbus.h"
#include "hello.kbus.h"
#include "nopkg.kbus.h"
#include "shop/v1/common.kbus.h"
#include "shop/v1/orders.kbus.h"
#include "table.kbus.h"

static int failures;

#define CHECK(cond)                                                            \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,         \
                                __LINE__, #cond);                              \
                        failures++;                                            \
                }                                                              \
        } while (0)

#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

/* ------------------------------------------------------------------ */
/* Stand-in libkbus: records the last call                             */
/* ------------------------------------------------------------------ */

static struct {
        const char *fn;
        kbus_runtime *rt;
        const kbus_service_desc *svc;
        const kbus_method_desc *method;
        const kbus_event_desc *ev;
        const ProtobufCMessage *msg;
        const kbus_call_opts *opts;
        kbus_fn cb;
        const void *handlers;
        size_t handlers_size;
        const char *group;
        kbus_call *call;
        void *arg;
        const kbus_table_desc *table;
        const void *key;
        size_t len;
        kbus_table_scan_fn scan_fn;
} last;

int kbus_call_start(kbus_runtime *rt, const kbus_service_desc *svc,
                    const kbus_method_desc *method, const ProtobufCMessage *req,
                    const kbus_call_opts *opts, kbus_fn cb, void *arg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_call_start";
        last.rt = rt;
        last.svc = svc;
        last.method = method;
        last.msg = req;
        last.opts = opts;
        last.cb = cb;
        last.arg = arg;
        return 0;
}

int kbus_serve(kbus_runtime *rt, const kbus_service_desc *svc,
               const void *handlers, size_t handlers_size, void *arg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_serve";
        last.rt = rt;
        last.svc = svc;
        last.handlers = handlers;
        last.handlers_size = handlers_size;
        last.arg = arg;
        return 0;
}

int kbus_publish(kbus_runtime *rt, const kbus_event_desc *ev,
                 const ProtobufCMessage *msg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_publish";
        last.rt = rt;
        last.ev = ev;
        last.msg = msg;
        return 0;
}

int kbus_publish_confirmed(kbus_runtime *rt, const kbus_event_desc *ev,
                           const ProtobufCMessage *msg, kbus_delivery_fn cb,
                           void *arg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_publish_confirmed";
        last.rt = rt;
        last.ev = ev;
        last.msg = msg;
        last.cb = (kbus_fn)cb;
        last.arg = arg;
        return 0;
}

int kbus_call_publish(kbus_call *call, const kbus_event_desc *ev,
                      const ProtobufCMessage *msg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_call_publish";
        last.call = call;
        last.ev = ev;
        last.msg = msg;
        return 0;
}

int kbus_subscribe(kbus_runtime *rt, const kbus_event_desc *ev,
                   const char *group, kbus_fn fn, void *arg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_subscribe";
        last.rt = rt;
        last.ev = ev;
        last.group = group;
        last.cb = fn;
        last.arg = arg;
        return 0;
}

int kbus_call_reply(kbus_call *call, const ProtobufCMessage *reply) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_call_reply";
        last.call = call;
        last.msg = reply;
        return 0;
}

/* What the stand-in table calls answer: kbus_table_get() returns
 * table_rc and table_value; kbus_table_scan() visits the entries of
 * table_entries until its callback returns non-zero. */
static int table_rc;
static const ProtobufCMessage *table_value;
static const ProtobufCMessage *table_entries[3];

int kbus_table_attach(kbus_runtime *rt, const kbus_table_desc *t,
                      const char *group) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_table_attach";
        last.rt = rt;
        last.table = t;
        last.group = group;
        return 0;
}

int kbus_table_get(kbus_call *call, const kbus_table_desc *t, const void *key,
                   size_t len, const ProtobufCMessage **out) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_table_get";
        last.call = call;
        last.table = t;
        last.key = key;
        last.len = len;
        /* The generated code always passes somewhere to write. */
        if (out == NULL)
                return KBUS_INTERNAL;
        /* Written on failure too: the typed get must not pass on what
         * libkbus leaves in *out then. */
        *out = table_value;
        return table_rc;
}

int kbus_table_put(kbus_call *call, const kbus_table_desc *t, const void *key,
                   size_t len, const ProtobufCMessage *value) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_table_put";
        last.call = call;
        last.table = t;
        last.key = key;
        last.len = len;
        last.msg = value;
        return 0;
}

int kbus_table_delete(kbus_call *call, const kbus_table_desc *t,
                      const void *key, size_t len) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_table_delete";
        last.call = call;
        last.table = t;
        last.key = key;
        last.len = len;
        return 0;
}

int kbus_table_scan(kbus_call *call, const kbus_table_desc *t,
                    kbus_table_scan_fn fn, void *arg) {
        memset(&last, 0, sizeof last);
        last.fn = "kbus_table_scan";
        last.call = call;
        last.table = t;
        last.scan_fn = fn;
        last.arg = arg;
        if (fn == NULL)
                return KBUS_INVALID_ARGUMENT;
        for (size_t i = 0; i < 3; i++) {
                char key = (char)('a' + i);
                int rc = fn(&key, 1, table_entries[i], arg);

                if (rc != 0)
                        return rc;
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Typed handlers and callbacks that record what reached them          */
/* ------------------------------------------------------------------ */

static struct {
        int calls;
        kbus_status status;
        const char *message;
        const void *msg;
        kbus_call *call;
        void *arg;
} got;

static void say_hello_cb(kbus_status status, const char *message,
                         const Hello__V1__HelloReply *reply, void *arg) {
        got.calls++;
        got.status = status;
        got.message = message;
        got.msg = reply;
        got.arg = arg;
}

static void say_hello(kbus_call *call, const Hello__V1__HelloRequest *req,
                      void *arg) {
        got.calls++;
        got.call = call;
        got.msg = req;
        got.arg = arg;
}

/* Only its address is compared: the stand-in never calls it. */
static void on_delivered(kbus_status status, const char *message, void *arg) {
        (void)status;
        (void)message;
        (void)arg;
}

static void on_greeted(kbus_call *call, const Hello__V1__Greeted *ev,
                       void *arg) {
        got.calls++;
        got.call = call;
        got.msg = ev;
        got.arg = arg;
}

static void on_register(kbus_call *call, const Registry__Entry *req,
                        void *arg) {
        got.calls++;
        got.call = call;
        got.msg = req;
        got.arg = arg;
}

/* Counts entries, remembering the last; stops at the one that is *arg. */
static int on_count(const void *key, size_t len, const Demo__V1__Count *value,
                    void *arg) {
        got.calls++;
        got.msg = value;
        got.arg = arg;
        CHECK(len == 1 && *(const char *)key == 'a' + got.calls - 1);
        return arg != NULL && value == *(const Demo__V1__Count **)arg ? 7 : 0;
}

/* The API of the generated code, as documented: a wrong signature does
 * not compile (-Werror turns incompatible pointer types into errors). */
static void check_shapes(void) {
        int (*call)(kbus_runtime *, const Hello__V1__HelloRequest *,
                    const kbus_call_opts *, hello_v1_greeter_say_hello_cb,
                    void *) = hello_v1_greeter_say_hello;
        int (*serve)(kbus_runtime *, const hello_v1_greeter_handlers *,
                     void *) = hello_v1_greeter_serve;
        int (*reply)(kbus_call *, const Hello__V1__HelloReply *) =
            hello_v1_greeter_say_hello_reply;
        int (*publish)(kbus_runtime *, const Hello__V1__Greeted *) =
            hello_v1_greeted_publish;
        int (*subscribe)(kbus_runtime *, const char *, hello_v1_greeted_handler,
                         void *) = hello_v1_greeted_subscribe;
        /* one-way: same callback shape, no typed reply */
        int (*cancel)(kbus_runtime *, const Shop__V1__CancelOrderRequest *,
                      const kbus_call_opts *,
                      shop_v1_order_service_cancel_order_cb, void *) =
            shop_v1_order_service_cancel_order;
        void (*cancel_cb)(kbus_status, const char *,
                          const Google__Protobuf__Empty *, void *) =
            (shop_v1_order_service_cancel_order_cb)NULL;
        /* cross-file and well-known types */
        int (*quote)(kbus_runtime *, const Shop__Common__QuoteRequest *,
                     const kbus_call_opts *, shop_v1_order_service_quote_cb,
                     void *) = shop_v1_order_service_quote;
        int (*ping_reply)(kbus_call *, const Google__Protobuf__Timestamp *) =
            shop_v1_http_gateway_ping_reply;
        /* c_package renames the C types, not the kbus names */
        int (*tick)(kbus_runtime *, const OtherName__Tick *) =
            renamed_pkg_tick_publish;
        /* tables */
        int (*attach)(kbus_runtime *, const char *) = demo_v1_count_attach;
        int (*get)(kbus_call *, const void *, size_t,
                   const Demo__V1__Count **) = demo_v1_count_get;
        int (*put)(kbus_call *, const void *, size_t, const Demo__V1__Count *) =
            demo_v1_count_put;
        int (*del)(kbus_call *, const void *, size_t) = demo_v1_count_delete;
        int (*scan)(kbus_call *, demo_v1_count_scan_fn, void *) =
            demo_v1_count_scan;
        int (*scan_fn)(const void *, size_t, const Demo__V1__Count *, void *) =
            (demo_v1_count_scan_fn)NULL;
        int (*line_get)(kbus_call *, const void *, size_t,
                        const Demo__V1__Order__Line **) =
            demo_v1_order_line_get;
        shop_v1_order_service_handlers oh;
        directory_handlers dh;

        /* keyword method names: members with a trailing '_' */
        oh.register_ = NULL;
        oh.default_ = NULL;
        dh.register_ = on_register;
        dh.switch_ = NULL;
        dh.bool_ = NULL;
        (void)oh;
        (void)dh;
        CHECK(call && serve && reply && publish && subscribe && cancel &&
              quote && ping_reply && tick && cancel_cb == NULL);
        CHECK(attach && get && put && del && scan && scan_fn == NULL &&
              line_get);
}

static void check_hello(void) {
        kbus_runtime *rt = (kbus_runtime *)&got; /* opaque: any address */
        kbus_call *call = (kbus_call *)&last;
        int arg;
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        Hello__V1__HelloReply rep = HELLO__V1__HELLO_REPLY__INIT;
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        hello_v1_greeter_handlers h = {0};
        const kbus_method_desc *m = &hello_v1_greeter__service.methods[0];

        CHECK_STR(hello_v1_greeter__service.name, "hello.v1.Greeter");
        CHECK_STR(hello_v1_greeter__service.topic, "hello.v1.Greeter");
        CHECK(hello_v1_greeter__service.n_methods == 1);
        CHECK_STR(m->name, "SayHello");
        CHECK_STR(m->path, "/hello.v1.Greeter/SayHello");
        CHECK(m->input == &hello__v1__hello_request__descriptor);
        CHECK(m->output == &hello__v1__hello_reply__descriptor);
        CHECK(m->flags == 0 && m->timeout_ms == 0 && m->key_field == NULL);

        /* client stub and completion */
        CHECK(hello_v1_greeter_say_hello(rt, &req, NULL, say_hello_cb, &arg) ==
              0);
        CHECK_STR(last.fn, "kbus_call_start");
        CHECK(last.rt == rt && last.svc == &hello_v1_greeter__service &&
              last.method == m && last.msg == &req.base && last.arg == &arg);
        memset(&got, 0, sizeof got);
        m->complete(last.cb, KBUS_OK, NULL, &rep.base, &arg);
        CHECK(got.calls == 1 && got.status == KBUS_OK && got.msg == &rep &&
              got.arg == &arg);
        m->complete(last.cb, KBUS_UNAVAILABLE, "down", NULL, &arg);
        CHECK(got.calls == 2 && got.status == KBUS_UNAVAILABLE &&
              got.msg == NULL && strcmp(got.message, "down") == 0);

        /* server: dispatch to the member, -1 when it is NULL */
        memset(&got, 0, sizeof got);
        CHECK(m->dispatch(&h, call, &req.base, &arg) == -1);
        CHECK(got.calls == 0);
        h.say_hello = say_hello;
        CHECK(m->dispatch(&h, call, &req.base, &arg) == 0);
        CHECK(got.calls == 1 && got.call == call && got.msg == &req &&
              got.arg == &arg);
        CHECK(hello_v1_greeter_serve(rt, &h, &arg) == 0);
        CHECK_STR(last.fn, "kbus_serve");
        CHECK(last.svc == &hello_v1_greeter__service && last.handlers == &h &&
              last.handlers_size == sizeof h);
        CHECK(hello_v1_greeter_say_hello_reply(call, &rep) == 0);
        CHECK_STR(last.fn, "kbus_call_reply");
        CHECK(last.call == call && last.msg == &rep.base);

        /* events */
        CHECK_STR(hello_v1_greeted__event.type, "hello.v1.Greeted");
        CHECK_STR(hello_v1_greeted__event.topic, "hello.v1.Greeted");
        CHECK(hello_v1_greeted__event.message ==
              &hello__v1__greeted__descriptor);
        CHECK(hello_v1_greeted__event.key_field == NULL);
        CHECK(hello_v1_greeted_publish(rt, &ev) == 0);
        CHECK_STR(last.fn, "kbus_publish");
        CHECK(last.ev == &hello_v1_greeted__event && last.msg == &ev.base);
        CHECK(hello_v1_greeted_publish_confirmed(rt, &ev, on_delivered, &arg) ==
              0);
        CHECK_STR(last.fn, "kbus_publish_confirmed");
        CHECK(last.rt == rt && last.ev == &hello_v1_greeted__event &&
              last.msg == &ev.base && last.cb == (kbus_fn)on_delivered &&
              last.arg == &arg);
        CHECK(hello_v1_greeted_publish_from(call, &ev) == 0);
        CHECK_STR(last.fn, "kbus_call_publish");
        CHECK(last.call == call && last.ev == &hello_v1_greeted__event &&
              last.msg == &ev.base);
        CHECK(hello_v1_greeted_subscribe(rt, "g1", on_greeted, &arg) == 0);
        CHECK_STR(last.fn, "kbus_subscribe");
        CHECK(last.ev == &hello_v1_greeted__event &&
              strcmp(last.group, "g1") == 0);
        memset(&got, 0, sizeof got);
        hello_v1_greeted__event.deliver(last.cb, call, &ev.base, &arg);
        CHECK(got.calls == 1 && got.call == call && got.msg == &ev &&
              got.arg == &arg);
}

static const kbus_method_desc *method(const kbus_service_desc *svc,
                                      const char *name) {
        for (size_t i = 0; i < svc->n_methods; i++)
                if (strcmp(svc->methods[i].name, name) == 0)
                        return &svc->methods[i];
        return NULL;
}

static void check_options(void) {
        const kbus_service_desc *s = &shop_v1_order_service__service;
        const kbus_method_desc *m;

        CHECK_STR(s->name, "shop.v1.OrderService");
        CHECK_STR(s->topic, "shop.orders.requests");
        CHECK(s->n_methods == 6);

        m = method(s, "PlaceOrder");
        CHECK(m != NULL);
        if (m != NULL) {
                CHECK_STR(m->path, "/shop.v1.OrderService/PlaceOrder");
                CHECK(m->flags == KBUS_METHOD_IDEMPOTENT);
                CHECK(m->timeout_ms == 2500);
                CHECK_STR(m->key_field, "customer_id");
                CHECK(m->retry.max_attempts == 5 &&
                      m->retry.initial_backoff_ms == 100 &&
                      m->retry.max_backoff_ms == 2000 &&
                      m->retry.multiplier == 1.5);
        }
        m = method(s, "CancelOrder");
        CHECK(m != NULL);
        if (m != NULL) {
                CHECK(m->flags == (KBUS_METHOD_ONE_WAY | KBUS_NO_DEAD_LETTER));
                CHECK(m->output == &google__protobuf__empty__descriptor);
                CHECK(m->retry.max_attempts == 0 && m->retry.multiplier == 0);
        }
        m = method(s, "Quote");
        CHECK(m != NULL &&
              m->input == &shop__common__quote_request__descriptor &&
              m->output == &shop__common__money__descriptor);
        m = method(s, "Ping");
        CHECK(m != NULL &&
              m->output == &google__protobuf__timestamp__descriptor);
        CHECK(method(s, "Register") != NULL && method(s, "Default") != NULL);

        /* the same method name in another service */
        m = method(&shop_v1_http_gateway__service, "Ping");
        CHECK(m != NULL && strcmp(m->path, "/shop.v1.HTTPGateway/Ping") == 0);
        CHECK_STR(shop_v1_http_gateway__service.topic, "shop.v1.HTTPGateway");

        CHECK_STR(shop_v1_order_placed__event.topic, "shop.orders.placed");
        CHECK_STR(shop_v1_order_placed__event.key_field, "order_id");
        CHECK(shop_v1_order_placed__event.flags == KBUS_NO_DEAD_LETTER);
        CHECK(shop_v1_order_placed__event.retry.max_attempts == 3 &&
              shop_v1_order_placed__event.retry.multiplier == 2.0);

        /* nested events */
        CHECK_STR(shop_v1_order_item__event.type, "shop.v1.Order.Item");
        CHECK_STR(shop_v1_order_item__event.topic, "shop.items");
        CHECK_STR(shop_v1_order_item__event.key_field, "sku");
        CHECK(shop_v1_order_item__event.message ==
              &shop__v1__order__item__descriptor);
        CHECK_STR(shop_v1_order_item_detail__event.type,
                  "shop.v1.Order.Item.Detail");
        CHECK_STR(shop_v1_order_item_detail__event.topic,
                  "shop.v1.Order.Item.Detail");
}

static void check_nopkg(void) {
        directory_handlers h = {0};
        Registry__Entry e = REGISTRY__ENTRY__INIT;
        kbus_call *call = (kbus_call *)&last;
        const kbus_method_desc *m = method(&directory__service, "Register");

        CHECK_STR(directory__service.name, "Directory");
        CHECK_STR(directory__service.topic, "Directory");
        CHECK(m != NULL && strcmp(m->path, "/Directory/Register") == 0);
        CHECK(empty__service.n_methods == 0 && empty__service.methods == NULL);
        CHECK_STR(registry_entry__event.type, "Registry.Entry");
        CHECK_STR(registry_entry__event.key_field, "default");
        if (m != NULL) {
                h.register_ = on_register;
                memset(&got, 0, sizeof got);
                CHECK(m->dispatch(&h, call, &e.base, NULL) == 0);
                CHECK(got.calls == 1 && got.msg == &e);
        }
        CHECK_STR(renamed_pkg_clock__service.name, "renamed.pkg.Clock");
        CHECK(renamed_pkg_tick__event.message == &other_name__tick__descriptor);
}

static void check_tables(void) {
        kbus_runtime *rt = (kbus_runtime *)&got;
        kbus_call *call = (kbus_call *)&last;
        Demo__V1__Count a = DEMO__V1__COUNT__INIT, b = DEMO__V1__COUNT__INIT;
        const Demo__V1__Count *out = &b;
        const Demo__V1__Count *stop;
        const char key[] = "k1";

        /* descriptors: default and explicit names, nested, event too */
        CHECK_STR(demo_v1_count__table.name, "Count");
        CHECK(demo_v1_count__table.value == &demo__v1__count__descriptor);
        CHECK_STR(demo_v1_stock__table.name, "inventory.stock-levels_v2");
        CHECK(demo_v1_stock__table.value == &demo__v1__stock__descriptor);
        CHECK_STR(demo_v1_balance__table.name, "balances");
        CHECK(demo_v1_balance__table.value == &demo__v1__balance__descriptor);
        CHECK(demo_v1_balance__event.message == &demo__v1__balance__descriptor);
        CHECK_STR(demo_v1_balance__event.key_field, "account");
        CHECK_STR(demo_v1_order_line__table.name, "Line");
        CHECK(demo_v1_order_line__table.value ==
              &demo__v1__order__line__descriptor);

        CHECK(demo_v1_count_attach(rt, "g1") == 0);
        CHECK_STR(last.fn, "kbus_table_attach");
        CHECK(last.rt == rt && last.table == &demo_v1_count__table &&
              strcmp(last.group, "g1") == 0);
        CHECK(demo_v1_stock_attach(rt, NULL) == 0);
        CHECK(last.table == &demo_v1_stock__table && last.group == NULL);

        /* get: the value as the typed message; NULL unless found */
        table_rc = 0;
        table_value = &a.base;
        CHECK(demo_v1_count_get(call, key, 2, &out) == 0);
        CHECK_STR(last.fn, "kbus_table_get");
        CHECK(last.call == call && last.table == &demo_v1_count__table &&
              last.key == key && last.len == 2);
        CHECK(out == &a);
        table_rc = KBUS_NOT_FOUND;
        CHECK(demo_v1_count_get(call, NULL, 0, &out) == KBUS_NOT_FOUND);
        CHECK(last.key == NULL && last.len == 0 && out == NULL);
        table_rc = 0;
        CHECK(demo_v1_count_get(call, key, 2, NULL) == 0);
        CHECK_STR(last.fn, "kbus_table_get");

        CHECK(demo_v1_count_put(call, key, 2, &a) == 0);
        CHECK_STR(last.fn, "kbus_table_put");
        CHECK(last.call == call && last.table == &demo_v1_count__table &&
              last.key == key && last.len == 2 && last.msg == &a.base);
        CHECK(demo_v1_count_delete(call, key, 2) == 0);
        CHECK_STR(last.fn, "kbus_table_delete");
        CHECK(last.call == call && last.table == &demo_v1_count__table &&
              last.key == key && last.len == 2 && last.msg == NULL);

        /* scan: every entry reaches the typed callback with its arg, and
         * a non-zero return stops the scan and is returned */
        table_entries[0] = &a.base;
        table_entries[1] = &b.base;
        table_entries[2] = &a.base;
        memset(&got, 0, sizeof got);
        stop = NULL;
        CHECK(demo_v1_count_scan(call, on_count, &stop) == 0);
        CHECK_STR(last.fn, "kbus_table_scan");
        CHECK(last.call == call && last.table == &demo_v1_count__table &&
              last.scan_fn != NULL);
        CHECK(got.calls == 3 && got.msg == &a && got.arg == &stop);
        memset(&got, 0, sizeof got);
        stop = &b;
        CHECK(demo_v1_count_scan(call, on_count, &stop) == 7);
        CHECK(got.calls == 2 && got.msg == &b);
        /* a NULL callback is passed on for libkbus to refuse */
        CHECK(demo_v1_count_scan(call, NULL, NULL) == KBUS_INVALID_ARGUMENT);
        CHECK(last.scan_fn == NULL);
}

int main(void) {
        check_shapes();
        check_hello();
        check_options();
        check_nopkg();
        check_tables();
        if (failures == 0)
                printf("ok: api_test\n");
        return failures ? 1 : 0;
}
