/* Generated from shop/v1/orders.proto by protoc-gen-kbus. DO NOT EDIT. */
#include "shop/v1/orders.kbus.h"

/* shop.v1.OrderService */

static int
shop_v1_order_service_place_order__dispatch(const void *handlers,
                kbus_call *call, const ProtobufCMessage *req, void *arg)
{
        const shop_v1_order_service_handlers *h = handlers;

        if (h->place_order == NULL)
                return -1;
        h->place_order(call, (const Shop__V1__PlaceOrderRequest *)req, arg);
        return 0;
}

static void
shop_v1_order_service_place_order__complete(kbus_fn cb, kbus_status status,
                const char *message, const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_order_service_place_order_cb)cb)(status, message,
                        (const Shop__V1__PlaceOrderReply *)reply, arg);
}

static int
shop_v1_order_service_cancel_order__dispatch(const void *handlers,
                kbus_call *call, const ProtobufCMessage *req, void *arg)
{
        const shop_v1_order_service_handlers *h = handlers;

        if (h->cancel_order == NULL)
                return -1;
        h->cancel_order(call, (const Shop__V1__CancelOrderRequest *)req, arg);
        return 0;
}

static void
shop_v1_order_service_cancel_order__complete(kbus_fn cb, kbus_status status,
                const char *message, const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_order_service_cancel_order_cb)cb)(status, message,
                        (const Google__Protobuf__Empty *)reply, arg);
}

static int
shop_v1_order_service_quote__dispatch(const void *handlers, kbus_call *call,
                                      const ProtobufCMessage *req, void *arg)
{
        const shop_v1_order_service_handlers *h = handlers;

        if (h->quote == NULL)
                return -1;
        h->quote(call, (const Shop__Common__QuoteRequest *)req, arg);
        return 0;
}

static void
shop_v1_order_service_quote__complete(kbus_fn cb, kbus_status status,
                                      const char *message,
                                      const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_order_service_quote_cb)cb)(status, message,
                        (const Shop__Common__Money *)reply, arg);
}

static int
shop_v1_order_service_ping__dispatch(const void *handlers, kbus_call *call,
                                     const ProtobufCMessage *req, void *arg)
{
        const shop_v1_order_service_handlers *h = handlers;

        if (h->ping == NULL)
                return -1;
        h->ping(call, (const Google__Protobuf__Empty *)req, arg);
        return 0;
}

static void
shop_v1_order_service_ping__complete(kbus_fn cb, kbus_status status,
                                     const char *message,
                                     const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_order_service_ping_cb)cb)(status, message,
                        (const Google__Protobuf__Timestamp *)reply, arg);
}

static int
shop_v1_order_service_register__dispatch(const void *handlers, kbus_call *call,
                const ProtobufCMessage *req, void *arg)
{
        const shop_v1_order_service_handlers *h = handlers;

        if (h->register_ == NULL)
                return -1;
        h->register_(call, (const Shop__V1__Order *)req, arg);
        return 0;
}

static void
shop_v1_order_service_register__complete(kbus_fn cb, kbus_status status,
                const char *message, const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_order_service_register_cb)cb)(status, message,
                        (const Google__Protobuf__Empty *)reply, arg);
}

static int
shop_v1_order_service_default__dispatch(const void *handlers, kbus_call *call,
                                        const ProtobufCMessage *req, void *arg)
{
        const shop_v1_order_service_handlers *h = handlers;

        if (h->default_ == NULL)
                return -1;
        h->default_(call, (const Google__Protobuf__Empty *)req, arg);
        return 0;
}

static void
shop_v1_order_service_default__complete(kbus_fn cb, kbus_status status,
                                        const char *message,
                                        const ProtobufCMessage *reply,
                                        void *arg)
{
        ((shop_v1_order_service_default_cb)cb)(status, message,
                        (const Google__Protobuf__Empty *)reply, arg);
}

static const kbus_method_desc shop_v1_order_service__methods[6] = {
        {
                .name = "PlaceOrder",
                .path = "/shop.v1.OrderService/PlaceOrder",
                .input = &shop__v1__place_order_request__descriptor,
                .output = &shop__v1__place_order_reply__descriptor,
                .flags = KBUS_METHOD_IDEMPOTENT,
                .timeout_ms = 2500,
                .key_field = "customer_id",
                .retry = {
                        .max_attempts = 5,
                        .initial_backoff_ms = 100,
                        .max_backoff_ms = 2000,
                        .multiplier = 1.5,
                },
                .dispatch = shop_v1_order_service_place_order__dispatch,
                .complete = shop_v1_order_service_place_order__complete,
        },
        {
                .name = "CancelOrder",
                .path = "/shop.v1.OrderService/CancelOrder",
                .input = &shop__v1__cancel_order_request__descriptor,
                .output = &google__protobuf__empty__descriptor,
                .flags = KBUS_METHOD_ONE_WAY | KBUS_NO_DEAD_LETTER,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_order_service_cancel_order__dispatch,
                .complete = shop_v1_order_service_cancel_order__complete,
        },
        {
                .name = "Quote",
                .path = "/shop.v1.OrderService/Quote",
                .input = &shop__common__quote_request__descriptor,
                .output = &shop__common__money__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_order_service_quote__dispatch,
                .complete = shop_v1_order_service_quote__complete,
        },
        {
                .name = "Ping",
                .path = "/shop.v1.OrderService/Ping",
                .input = &google__protobuf__empty__descriptor,
                .output = &google__protobuf__timestamp__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_order_service_ping__dispatch,
                .complete = shop_v1_order_service_ping__complete,
        },
        {
                .name = "Register",
                .path = "/shop.v1.OrderService/Register",
                .input = &shop__v1__order__descriptor,
                .output = &google__protobuf__empty__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_order_service_register__dispatch,
                .complete = shop_v1_order_service_register__complete,
        },
        {
                .name = "Default",
                .path = "/shop.v1.OrderService/Default",
                .input = &google__protobuf__empty__descriptor,
                .output = &google__protobuf__empty__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_order_service_default__dispatch,
                .complete = shop_v1_order_service_default__complete,
        },
};

const kbus_service_desc shop_v1_order_service__service = {
        .name = "shop.v1.OrderService",
        .topic = "shop.orders.requests",
        .n_methods = 6,
        .methods = shop_v1_order_service__methods,
};

int
shop_v1_order_service_place_order(kbus_runtime *rt,
                                  const Shop__V1__PlaceOrderRequest *req,
                                  const kbus_call_opts *opts,
                                  shop_v1_order_service_place_order_cb cb,
                                  void *arg)
{
        return kbus_call_start(rt, &shop_v1_order_service__service,
                               &shop_v1_order_service__methods[0],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_order_service_place_order_reply(kbus_call *call,
                                        const Shop__V1__PlaceOrderReply *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_order_service_cancel_order(kbus_runtime *rt,
                                   const Shop__V1__CancelOrderRequest *req,
                                   const kbus_call_opts *opts,
                                   shop_v1_order_service_cancel_order_cb cb,
                                   void *arg)
{
        return kbus_call_start(rt, &shop_v1_order_service__service,
                               &shop_v1_order_service__methods[1],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_order_service_quote(kbus_runtime *rt,
                            const Shop__Common__QuoteRequest *req,
                            const kbus_call_opts *opts,
                            shop_v1_order_service_quote_cb cb, void *arg)
{
        return kbus_call_start(rt, &shop_v1_order_service__service,
                               &shop_v1_order_service__methods[2],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_order_service_quote_reply(kbus_call *call,
                                  const Shop__Common__Money *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_order_service_ping(kbus_runtime *rt, const Google__Protobuf__Empty *req,
                           const kbus_call_opts *opts,
                           shop_v1_order_service_ping_cb cb, void *arg)
{
        return kbus_call_start(rt, &shop_v1_order_service__service,
                               &shop_v1_order_service__methods[3],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_order_service_ping_reply(kbus_call *call,
                                 const Google__Protobuf__Timestamp *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_order_service_register(kbus_runtime *rt, const Shop__V1__Order *req,
                               const kbus_call_opts *opts,
                               shop_v1_order_service_register_cb cb, void *arg)
{
        return kbus_call_start(rt, &shop_v1_order_service__service,
                               &shop_v1_order_service__methods[4],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_order_service_register_reply(kbus_call *call,
                                     const Google__Protobuf__Empty *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_order_service_default(kbus_runtime *rt,
                              const Google__Protobuf__Empty *req,
                              const kbus_call_opts *opts,
                              shop_v1_order_service_default_cb cb, void *arg)
{
        return kbus_call_start(rt, &shop_v1_order_service__service,
                               &shop_v1_order_service__methods[5],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_order_service_default_reply(kbus_call *call,
                                    const Google__Protobuf__Empty *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_order_service_serve(kbus_runtime *rt,
                            const shop_v1_order_service_handlers *h, void *arg)
{
        return kbus_serve(rt, &shop_v1_order_service__service, h, sizeof *h,
                          arg);
}

/* shop.v1.HTTPGateway */

static int
shop_v1_http_gateway_ping__dispatch(const void *handlers, kbus_call *call,
                                    const ProtobufCMessage *req, void *arg)
{
        const shop_v1_http_gateway_handlers *h = handlers;

        if (h->ping == NULL)
                return -1;
        h->ping(call, (const Google__Protobuf__Empty *)req, arg);
        return 0;
}

static void
shop_v1_http_gateway_ping__complete(kbus_fn cb, kbus_status status,
                                    const char *message,
                                    const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_http_gateway_ping_cb)cb)(status, message,
                        (const Google__Protobuf__Timestamp *)reply, arg);
}

static int
shop_v1_http_gateway_get_order_v2__dispatch(const void *handlers,
                kbus_call *call, const ProtobufCMessage *req, void *arg)
{
        const shop_v1_http_gateway_handlers *h = handlers;

        if (h->get_order_v2 == NULL)
                return -1;
        h->get_order_v2(call, (const Shop__V1__Order__Item *)req, arg);
        return 0;
}

static void
shop_v1_http_gateway_get_order_v2__complete(kbus_fn cb, kbus_status status,
                const char *message, const ProtobufCMessage *reply, void *arg)
{
        ((shop_v1_http_gateway_get_order_v2_cb)cb)(status, message,
                        (const Shop__V1__Order *)reply, arg);
}

static const kbus_method_desc shop_v1_http_gateway__methods[2] = {
        {
                .name = "Ping",
                .path = "/shop.v1.HTTPGateway/Ping",
                .input = &google__protobuf__empty__descriptor,
                .output = &google__protobuf__timestamp__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_http_gateway_ping__dispatch,
                .complete = shop_v1_http_gateway_ping__complete,
        },
        {
                .name = "GetOrderV2",
                .path = "/shop.v1.HTTPGateway/GetOrderV2",
                .input = &shop__v1__order__item__descriptor,
                .output = &shop__v1__order__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = shop_v1_http_gateway_get_order_v2__dispatch,
                .complete = shop_v1_http_gateway_get_order_v2__complete,
        },
};

const kbus_service_desc shop_v1_http_gateway__service = {
        .name = "shop.v1.HTTPGateway",
        .topic = "shop.v1.HTTPGateway",
        .n_methods = 2,
        .methods = shop_v1_http_gateway__methods,
};

int
shop_v1_http_gateway_ping(kbus_runtime *rt, const Google__Protobuf__Empty *req,
                          const kbus_call_opts *opts,
                          shop_v1_http_gateway_ping_cb cb, void *arg)
{
        return kbus_call_start(rt, &shop_v1_http_gateway__service,
                               &shop_v1_http_gateway__methods[0],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_http_gateway_ping_reply(kbus_call *call,
                                const Google__Protobuf__Timestamp *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_http_gateway_get_order_v2(kbus_runtime *rt,
                                  const Shop__V1__Order__Item *req,
                                  const kbus_call_opts *opts,
                                  shop_v1_http_gateway_get_order_v2_cb cb,
                                  void *arg)
{
        return kbus_call_start(rt, &shop_v1_http_gateway__service,
                               &shop_v1_http_gateway__methods[1],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
shop_v1_http_gateway_get_order_v2_reply(kbus_call *call,
                                        const Shop__V1__Order *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
shop_v1_http_gateway_serve(kbus_runtime *rt,
                           const shop_v1_http_gateway_handlers *h, void *arg)
{
        return kbus_serve(rt, &shop_v1_http_gateway__service, h, sizeof *h,
                          arg);
}

/* event shop.v1.Order.Item */

static void
shop_v1_order_item__deliver(kbus_fn fn, kbus_call *call,
                            const ProtobufCMessage *ev, void *arg)
{
        ((shop_v1_order_item_handler)fn)(call,
                        (const Shop__V1__Order__Item *)ev, arg);
}

const kbus_event_desc shop_v1_order_item__event = {
        .type = "shop.v1.Order.Item",
        .topic = "shop.items",
        .key_field = "sku",
        .message = &shop__v1__order__item__descriptor,
        .flags = 0,
        .deliver = shop_v1_order_item__deliver,
};

int
shop_v1_order_item_publish(kbus_runtime *rt, const Shop__V1__Order__Item *ev)
{
        return kbus_publish(rt, &shop_v1_order_item__event,
                            (const ProtobufCMessage *)ev);
}

int
shop_v1_order_item_publish_from(kbus_call *call,
                                const Shop__V1__Order__Item *ev)
{
        return kbus_call_publish(call, &shop_v1_order_item__event,
                                 (const ProtobufCMessage *)ev);
}

int
shop_v1_order_item_publish_confirmed(kbus_runtime *rt,
                                     const Shop__V1__Order__Item *ev,
                                     kbus_delivery_fn cb, void *arg)
{
        return kbus_publish_confirmed(rt, &shop_v1_order_item__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
shop_v1_order_item_subscribe(kbus_runtime *rt, const char *group,
                             shop_v1_order_item_handler fn, void *arg)
{
        return kbus_subscribe(rt, &shop_v1_order_item__event, group,
                              (kbus_fn)fn, arg);
}

/* event shop.v1.Order.Item.Detail */

static void
shop_v1_order_item_detail__deliver(kbus_fn fn, kbus_call *call,
                                   const ProtobufCMessage *ev, void *arg)
{
        ((shop_v1_order_item_detail_handler)fn)(call,
                        (const Shop__V1__Order__Item__Detail *)ev, arg);
}

const kbus_event_desc shop_v1_order_item_detail__event = {
        .type = "shop.v1.Order.Item.Detail",
        .topic = "shop.v1.Order.Item.Detail",
        .key_field = NULL,
        .message = &shop__v1__order__item__detail__descriptor,
        .flags = 0,
        .deliver = shop_v1_order_item_detail__deliver,
};

int
shop_v1_order_item_detail_publish(kbus_runtime *rt,
                                  const Shop__V1__Order__Item__Detail *ev)
{
        return kbus_publish(rt, &shop_v1_order_item_detail__event,
                            (const ProtobufCMessage *)ev);
}

int
shop_v1_order_item_detail_publish_from(kbus_call *call,
                                       const Shop__V1__Order__Item__Detail *ev)
{
        return kbus_call_publish(call, &shop_v1_order_item_detail__event,
                                 (const ProtobufCMessage *)ev);
}

int
shop_v1_order_item_detail_publish_confirmed(kbus_runtime *rt,
                const Shop__V1__Order__Item__Detail *ev, kbus_delivery_fn cb,
                void *arg)
{
        return kbus_publish_confirmed(rt, &shop_v1_order_item_detail__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
shop_v1_order_item_detail_subscribe(kbus_runtime *rt, const char *group,
                                    shop_v1_order_item_detail_handler fn,
                                    void *arg)
{
        return kbus_subscribe(rt, &shop_v1_order_item_detail__event, group,
                              (kbus_fn)fn, arg);
}

/* event shop.v1.OrderPlaced */

static void
shop_v1_order_placed__deliver(kbus_fn fn, kbus_call *call,
                              const ProtobufCMessage *ev, void *arg)
{
        ((shop_v1_order_placed_handler)fn)(call,
                        (const Shop__V1__OrderPlaced *)ev, arg);
}

const kbus_event_desc shop_v1_order_placed__event = {
        .type = "shop.v1.OrderPlaced",
        .topic = "shop.orders.placed",
        .key_field = "order_id",
        .message = &shop__v1__order_placed__descriptor,
        .flags = KBUS_NO_DEAD_LETTER,
        .retry = {
                .max_attempts = 3,
                .multiplier = 2.0,
        },
        .deliver = shop_v1_order_placed__deliver,
};

int
shop_v1_order_placed_publish(kbus_runtime *rt, const Shop__V1__OrderPlaced *ev)
{
        return kbus_publish(rt, &shop_v1_order_placed__event,
                            (const ProtobufCMessage *)ev);
}

int
shop_v1_order_placed_publish_from(kbus_call *call,
                                  const Shop__V1__OrderPlaced *ev)
{
        return kbus_call_publish(call, &shop_v1_order_placed__event,
                                 (const ProtobufCMessage *)ev);
}

int
shop_v1_order_placed_publish_confirmed(kbus_runtime *rt,
                                       const Shop__V1__OrderPlaced *ev,
                                       kbus_delivery_fn cb, void *arg)
{
        return kbus_publish_confirmed(rt, &shop_v1_order_placed__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
shop_v1_order_placed_subscribe(kbus_runtime *rt, const char *group,
                               shop_v1_order_placed_handler fn, void *arg)
{
        return kbus_subscribe(rt, &shop_v1_order_placed__event, group,
                              (kbus_fn)fn, arg);
}
