/* Generated from table.proto by protoc-gen-kbus. DO NOT EDIT. */
#include "table.kbus.h"

/* event demo.v1.Balance */

static void
demo_v1_balance__deliver(kbus_fn fn, kbus_call *call,
                         const ProtobufCMessage *ev, void *arg)
{
        ((demo_v1_balance_handler)fn)(call, (const Demo__V1__Balance *)ev,
                                      arg);
}

const kbus_event_desc demo_v1_balance__event = {
        .type = "demo.v1.Balance",
        .topic = "demo.v1.Balance",
        .key_field = "account",
        .message = &demo__v1__balance__descriptor,
        .flags = 0,
        .deliver = demo_v1_balance__deliver,
};

int
demo_v1_balance_publish(kbus_runtime *rt, const Demo__V1__Balance *ev)
{
        return kbus_publish(rt, &demo_v1_balance__event,
                            (const ProtobufCMessage *)ev);
}

int
demo_v1_balance_publish_from(kbus_call *call, const Demo__V1__Balance *ev)
{
        return kbus_call_publish(call, &demo_v1_balance__event,
                                 (const ProtobufCMessage *)ev);
}

int
demo_v1_balance_publish_confirmed(kbus_runtime *rt, const Demo__V1__Balance *ev,
                                  kbus_delivery_fn cb, void *arg)
{
        return kbus_publish_confirmed(rt, &demo_v1_balance__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
demo_v1_balance_subscribe(kbus_runtime *rt, const char *group,
                          demo_v1_balance_handler fn, void *arg)
{
        return kbus_subscribe(rt, &demo_v1_balance__event, group, (kbus_fn)fn,
                              arg);
}

/* table demo.v1.Count */

const kbus_table_desc demo_v1_count__table = {
        .name = "Count",
        .value = &demo__v1__count__descriptor,
};

int
demo_v1_count_attach(kbus_runtime *rt, const char *group)
{
        return kbus_table_attach(rt, &demo_v1_count__table, group);
}

int
demo_v1_count_get(kbus_call *call, const void *key, size_t len,
                  const Demo__V1__Count **out)
{
        const ProtobufCMessage *value = NULL;
        int rc = kbus_table_get(call, &demo_v1_count__table, key, len,
                                &value);

        if (out != NULL)
                *out = rc == 0 ? (const Demo__V1__Count *)value : NULL;
        return rc;
}

int
demo_v1_count_put(kbus_call *call, const void *key, size_t len,
                  const Demo__V1__Count *value)
{
        return kbus_table_put(call, &demo_v1_count__table, key, len,
                              (const ProtobufCMessage *)value);
}

int
demo_v1_count_delete(kbus_call *call, const void *key, size_t len)
{
        return kbus_table_delete(call, &demo_v1_count__table, key, len);
}

struct demo_v1_count__scan_ctx {
        demo_v1_count_scan_fn fn;
        void *arg;
};

static int
demo_v1_count__scan_entry(const void *key, size_t len,
                          const ProtobufCMessage *value, void *arg)
{
        const struct demo_v1_count__scan_ctx *ctx = arg;

        return ctx->fn(key, len, (const Demo__V1__Count *)value, ctx->arg);
}

int
demo_v1_count_scan(kbus_call *call, demo_v1_count_scan_fn fn, void *arg)
{
        struct demo_v1_count__scan_ctx ctx = { fn, arg };

        /* A NULL fn reaches libkbus as NULL, which refuses it. */
        return kbus_table_scan(call, &demo_v1_count__table,
                               fn != NULL ? demo_v1_count__scan_entry : NULL,
                               &ctx);
}

/* table demo.v1.Stock */

const kbus_table_desc demo_v1_stock__table = {
        .name = "inventory.stock-levels_v2",
        .value = &demo__v1__stock__descriptor,
};

int
demo_v1_stock_attach(kbus_runtime *rt, const char *group)
{
        return kbus_table_attach(rt, &demo_v1_stock__table, group);
}

int
demo_v1_stock_get(kbus_call *call, const void *key, size_t len,
                  const Demo__V1__Stock **out)
{
        const ProtobufCMessage *value = NULL;
        int rc = kbus_table_get(call, &demo_v1_stock__table, key, len,
                                &value);

        if (out != NULL)
                *out = rc == 0 ? (const Demo__V1__Stock *)value : NULL;
        return rc;
}

int
demo_v1_stock_put(kbus_call *call, const void *key, size_t len,
                  const Demo__V1__Stock *value)
{
        return kbus_table_put(call, &demo_v1_stock__table, key, len,
                              (const ProtobufCMessage *)value);
}

int
demo_v1_stock_delete(kbus_call *call, const void *key, size_t len)
{
        return kbus_table_delete(call, &demo_v1_stock__table, key, len);
}

struct demo_v1_stock__scan_ctx {
        demo_v1_stock_scan_fn fn;
        void *arg;
};

static int
demo_v1_stock__scan_entry(const void *key, size_t len,
                          const ProtobufCMessage *value, void *arg)
{
        const struct demo_v1_stock__scan_ctx *ctx = arg;

        return ctx->fn(key, len, (const Demo__V1__Stock *)value, ctx->arg);
}

int
demo_v1_stock_scan(kbus_call *call, demo_v1_stock_scan_fn fn, void *arg)
{
        struct demo_v1_stock__scan_ctx ctx = { fn, arg };

        /* A NULL fn reaches libkbus as NULL, which refuses it. */
        return kbus_table_scan(call, &demo_v1_stock__table,
                               fn != NULL ? demo_v1_stock__scan_entry : NULL,
                               &ctx);
}

/* table demo.v1.Balance */

const kbus_table_desc demo_v1_balance__table = {
        .name = "balances",
        .value = &demo__v1__balance__descriptor,
};

int
demo_v1_balance_attach(kbus_runtime *rt, const char *group)
{
        return kbus_table_attach(rt, &demo_v1_balance__table, group);
}

int
demo_v1_balance_get(kbus_call *call, const void *key, size_t len,
                    const Demo__V1__Balance **out)
{
        const ProtobufCMessage *value = NULL;
        int rc = kbus_table_get(call, &demo_v1_balance__table, key, len,
                                &value);

        if (out != NULL)
                *out = rc == 0 ? (const Demo__V1__Balance *)value : NULL;
        return rc;
}

int
demo_v1_balance_put(kbus_call *call, const void *key, size_t len,
                    const Demo__V1__Balance *value)
{
        return kbus_table_put(call, &demo_v1_balance__table, key, len,
                              (const ProtobufCMessage *)value);
}

int
demo_v1_balance_delete(kbus_call *call, const void *key, size_t len)
{
        return kbus_table_delete(call, &demo_v1_balance__table, key, len);
}

struct demo_v1_balance__scan_ctx {
        demo_v1_balance_scan_fn fn;
        void *arg;
};

static int
demo_v1_balance__scan_entry(const void *key, size_t len,
                            const ProtobufCMessage *value, void *arg)
{
        const struct demo_v1_balance__scan_ctx *ctx = arg;

        return ctx->fn(key, len, (const Demo__V1__Balance *)value,
                       ctx->arg);
}

int
demo_v1_balance_scan(kbus_call *call, demo_v1_balance_scan_fn fn, void *arg)
{
        struct demo_v1_balance__scan_ctx ctx = { fn, arg };

        /* A NULL fn reaches libkbus as NULL, which refuses it. */
        return kbus_table_scan(call, &demo_v1_balance__table,
                               fn != NULL ? demo_v1_balance__scan_entry : NULL,
                               &ctx);
}

/* table demo.v1.Order.Line */

const kbus_table_desc demo_v1_order_line__table = {
        .name = "Line",
        .value = &demo__v1__order__line__descriptor,
};

int
demo_v1_order_line_attach(kbus_runtime *rt, const char *group)
{
        return kbus_table_attach(rt, &demo_v1_order_line__table, group);
}

int
demo_v1_order_line_get(kbus_call *call, const void *key, size_t len,
                       const Demo__V1__Order__Line **out)
{
        const ProtobufCMessage *value = NULL;
        int rc = kbus_table_get(call, &demo_v1_order_line__table, key, len,
                                &value);

        if (out != NULL)
                *out = rc == 0 ? (const Demo__V1__Order__Line *)value : NULL;
        return rc;
}

int
demo_v1_order_line_put(kbus_call *call, const void *key, size_t len,
                       const Demo__V1__Order__Line *value)
{
        return kbus_table_put(call, &demo_v1_order_line__table, key, len,
                              (const ProtobufCMessage *)value);
}

int
demo_v1_order_line_delete(kbus_call *call, const void *key, size_t len)
{
        return kbus_table_delete(call, &demo_v1_order_line__table, key,
                                 len);
}

struct demo_v1_order_line__scan_ctx {
        demo_v1_order_line_scan_fn fn;
        void *arg;
};

static int
demo_v1_order_line__scan_entry(const void *key, size_t len,
                               const ProtobufCMessage *value, void *arg)
{
        const struct demo_v1_order_line__scan_ctx *ctx = arg;

        return ctx->fn(key, len, (const Demo__V1__Order__Line *)value,
                       ctx->arg);
}

int
demo_v1_order_line_scan(kbus_call *call, demo_v1_order_line_scan_fn fn,
                        void *arg)
{
        struct demo_v1_order_line__scan_ctx ctx = { fn, arg };

        /* A NULL fn reaches libkbus as NULL, which refuses it. */
        return kbus_table_scan(call, &demo_v1_order_line__table,
                               fn != NULL ? demo_v1_order_line__scan_entry : NULL,
                               &ctx);
}
