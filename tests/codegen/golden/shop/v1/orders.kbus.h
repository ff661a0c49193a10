/* Generated from shop/v1/orders.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_SHOP_V1_ORDERS_H
#define KBUS_GEN_SHOP_V1_ORDERS_H

#include <kbus/kbus.h>

/* protoc-c names a struct member after each method, even a C keyword:
 * hide those while its headers are read. */
#define default default_
#define register register_
#include "shop/v1/orders.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "shop/v1/common.pb-c.h"
#undef default
#undef register

#ifdef __cplusplus
extern "C" {
#endif

/* shop.v1.OrderService */

/**
 * @brief The service shop.v1.OrderService.
 *
 * Takes orders.
 *
 * Comments may hold / * and * /, ? ? and \ without harm.
 *
 * Requests go to topic "shop.orders.requests".
 */
extern const kbus_service_desc shop_v1_order_service__service;

/**
 * @brief Result of shop_v1_order_service_place_order().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_order_service_place_order_cb)(kbus_status status,
                const char *message, const Shop__V1__PlaceOrderReply *reply,
                void *arg);

/**
 * @brief Calls shop.v1.OrderService.PlaceOrder.
 *
 * Places an order; answered once stock is reserved.
 *
 * Sends @p req to topic "shop.orders.requests", keyed by its field
 * customer_id.
 * @param opts  NULL for the defaults (deadline 2500 ms).
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_order_service_place_order(kbus_runtime *rt,
                                      const Shop__V1__PlaceOrderRequest *req,
                                      const kbus_call_opts *opts,
                                      shop_v1_order_service_place_order_cb cb,
                                      void *arg);

/**
 * @brief Completes a PlaceOrder call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_order_service_place_order_reply(kbus_call *call,
                const Shop__V1__PlaceOrderReply *reply);

/**
 * @brief Result of shop_v1_order_service_cancel_order().
 *
 * Called exactly once, on the runtime's loop thread, with the
 * outcome of delivering the request: the method is one-way, so
 * @p reply is always NULL.  @p message is the error text or NULL.
 */
typedef void (*shop_v1_order_service_cancel_order_cb)(kbus_status status,
                const char *message, const Google__Protobuf__Empty *reply,
                void *arg);

/**
 * @brief Calls shop.v1.OrderService.CancelOrder (one-way).
 *
 * Fire and forget.
 *
 * Sends @p req to topic "shop.orders.requests".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome (may be NULL).
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_order_service_cancel_order(kbus_runtime *rt,
                                       const Shop__V1__CancelOrderRequest *req,
                                       const kbus_call_opts *opts,
                                       shop_v1_order_service_cancel_order_cb cb,
                                       void *arg);

/**
 * @brief Result of shop_v1_order_service_quote().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_order_service_quote_cb)(kbus_status status,
                const char *message, const Shop__Common__Money *reply,
                void *arg);

/**
 * @brief Calls shop.v1.OrderService.Quote.
 *
 * A type from another file and package as input and output.
 *
 * Sends @p req to topic "shop.orders.requests".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_order_service_quote(kbus_runtime *rt,
                                const Shop__Common__QuoteRequest *req,
                                const kbus_call_opts *opts,
                                shop_v1_order_service_quote_cb cb, void *arg);

/**
 * @brief Completes a Quote call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_order_service_quote_reply(kbus_call *call,
                                      const Shop__Common__Money *reply);

/**
 * @brief Result of shop_v1_order_service_ping().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_order_service_ping_cb)(kbus_status status,
                const char *message, const Google__Protobuf__Timestamp *reply,
                void *arg);

/**
 * @brief Calls shop.v1.OrderService.Ping.
 *
 * Sends @p req to topic "shop.orders.requests".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_order_service_ping(kbus_runtime *rt,
                               const Google__Protobuf__Empty *req,
                               const kbus_call_opts *opts,
                               shop_v1_order_service_ping_cb cb, void *arg);

/**
 * @brief Completes a Ping call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_order_service_ping_reply(kbus_call *call,
                                     const Google__Protobuf__Timestamp *reply);

/**
 * @brief Result of shop_v1_order_service_register().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_order_service_register_cb)(kbus_status status,
                const char *message, const Google__Protobuf__Empty *reply,
                void *arg);

/**
 * @brief Calls shop.v1.OrderService.Register.
 *
 * "register" and "default" are C keywords: the handler members get a '_'.
 *
 * Sends @p req to topic "shop.orders.requests".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_order_service_register(kbus_runtime *rt, const Shop__V1__Order *req,
                                   const kbus_call_opts *opts,
                                   shop_v1_order_service_register_cb cb,
                                   void *arg);

/**
 * @brief Completes a Register call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_order_service_register_reply(kbus_call *call,
                const Google__Protobuf__Empty *reply);

/**
 * @brief Result of shop_v1_order_service_default().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_order_service_default_cb)(kbus_status status,
                const char *message, const Google__Protobuf__Empty *reply,
                void *arg);

/**
 * @brief Calls shop.v1.OrderService.Default.
 *
 * Sends @p req to topic "shop.orders.requests".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_order_service_default(kbus_runtime *rt,
                                  const Google__Protobuf__Empty *req,
                                  const kbus_call_opts *opts,
                                  shop_v1_order_service_default_cb cb,
                                  void *arg);

/**
 * @brief Completes a Default call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_order_service_default_reply(kbus_call *call,
                                        const Google__Protobuf__Empty *reply);

/**
 * @brief Handlers of shop.v1.OrderService, one per method, for shop_v1_order_service_serve().
 *
 * Each runs on the runtime's loop thread and must complete @p call exactly
 * once, now or later: with the method's typed reply function, kbus_call_ack()
 * for one-way methods, or kbus_call_fail().  A NULL member leaves the method
 * unimplemented.
 */
typedef struct shop_v1_order_service_handlers {
        /** Places an order; answered once stock is reserved. */
        void (*place_order)(kbus_call *call,
                            const Shop__V1__PlaceOrderRequest *req, void *arg);
        /** Fire and forget. */
        void (*cancel_order)(kbus_call *call,
                             const Shop__V1__CancelOrderRequest *req,
                             void *arg);
        /** A type from another file and package as input and output. */
        void (*quote)(kbus_call *call, const Shop__Common__QuoteRequest *req,
                      void *arg);
        /** shop.v1.OrderService.Ping */
        void (*ping)(kbus_call *call, const Google__Protobuf__Empty *req,
                     void *arg);
        /** "register" and "default" are C keywords: the handler members get a '_'. */
        void (*register_)(kbus_call *call, const Shop__V1__Order *req,
                          void *arg);
        /** shop.v1.OrderService.Default */
        void (*default_)(kbus_call *call, const Google__Protobuf__Empty *req,
                         void *arg);
} shop_v1_order_service_handlers;

/**
 * @brief Serves shop.v1.OrderService with the handlers in @p h.
 *
 * Its request topic "shop.orders.requests" joins the runtime's consumer group.
 * @p h is copied; @p arg is passed to every handler.
 */
int shop_v1_order_service_serve(kbus_runtime *rt,
                                const shop_v1_order_service_handlers *h,
                                void *arg);

/* shop.v1.HTTPGateway */

/**
 * @brief The service shop.v1.HTTPGateway.
 *
 * An acronym in the name: http_gateway.
 *
 * Requests go to topic "shop.v1.HTTPGateway".
 */
extern const kbus_service_desc shop_v1_http_gateway__service;

/**
 * @brief Result of shop_v1_http_gateway_ping().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_http_gateway_ping_cb)(kbus_status status,
                const char *message, const Google__Protobuf__Timestamp *reply,
                void *arg);

/**
 * @brief Calls shop.v1.HTTPGateway.Ping.
 *
 * Sends @p req to topic "shop.v1.HTTPGateway".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_http_gateway_ping(kbus_runtime *rt,
                              const Google__Protobuf__Empty *req,
                              const kbus_call_opts *opts,
                              shop_v1_http_gateway_ping_cb cb, void *arg);

/**
 * @brief Completes a Ping call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_http_gateway_ping_reply(kbus_call *call,
                                    const Google__Protobuf__Timestamp *reply);

/**
 * @brief Result of shop_v1_http_gateway_get_order_v2().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*shop_v1_http_gateway_get_order_v2_cb)(kbus_status status,
                const char *message, const Shop__V1__Order *reply, void *arg);

/**
 * @brief Calls shop.v1.HTTPGateway.GetOrderV2.
 *
 * Sends @p req to topic "shop.v1.HTTPGateway".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int shop_v1_http_gateway_get_order_v2(kbus_runtime *rt,
                                      const Shop__V1__Order__Item *req,
                                      const kbus_call_opts *opts,
                                      shop_v1_http_gateway_get_order_v2_cb cb,
                                      void *arg);

/**
 * @brief Completes a GetOrderV2 call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int shop_v1_http_gateway_get_order_v2_reply(kbus_call *call,
                const Shop__V1__Order *reply);

/**
 * @brief Handlers of shop.v1.HTTPGateway, one per method, for shop_v1_http_gateway_serve().
 *
 * Each runs on the runtime's loop thread and must complete @p call exactly
 * once, now or later: with the method's typed reply function, kbus_call_ack()
 * for one-way methods, or kbus_call_fail().  A NULL member leaves the method
 * unimplemented.
 */
typedef struct shop_v1_http_gateway_handlers {
        /** shop.v1.HTTPGateway.Ping */
        void (*ping)(kbus_call *call, const Google__Protobuf__Empty *req,
                     void *arg);
        /** shop.v1.HTTPGateway.GetOrderV2 */
        void (*get_order_v2)(kbus_call *call, const Shop__V1__Order__Item *req,
                             void *arg);
} shop_v1_http_gateway_handlers;

/**
 * @brief Serves shop.v1.HTTPGateway with the handlers in @p h.
 *
 * Its request topic "shop.v1.HTTPGateway" joins the runtime's consumer group.
 * @p h is copied; @p arg is passed to every handler.
 */
int shop_v1_http_gateway_serve(kbus_runtime *rt,
                               const shop_v1_http_gateway_handlers *h,
                               void *arg);

/* event shop.v1.Order.Item */

/**
 * @brief The event shop.v1.Order.Item.
 *
 * One line of an order; also an event of its own.
 *
 * Published to topic "shop.items", keyed by its field sku.
 */
extern const kbus_event_desc shop_v1_order_item__event;

/**
 * @brief A subscriber of shop.v1.Order.Item events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*shop_v1_order_item_handler)(kbus_call *call,
                const Shop__V1__Order__Item *ev, void *arg);

/**
 * @brief Publishes @p ev to topic "shop.items".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int shop_v1_order_item_publish(kbus_runtime *rt,
                               const Shop__V1__Order__Item *ev);

/**
 * @brief Publishes @p ev to topic "shop.items" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int shop_v1_order_item_publish_from(kbus_call *call,
                                    const Shop__V1__Order__Item *ev);

/**
 * @brief Publishes @p ev to topic "shop.items"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int shop_v1_order_item_publish_confirmed(kbus_runtime *rt,
                const Shop__V1__Order__Item *ev, kbus_delivery_fn cb,
                void *arg);

/**
 * @brief Subscribes @p fn to shop.v1.Order.Item events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int shop_v1_order_item_subscribe(kbus_runtime *rt, const char *group,
                                 shop_v1_order_item_handler fn, void *arg);

/* event shop.v1.Order.Item.Detail */

/**
 * @brief The event shop.v1.Order.Item.Detail.
 *
 * Published to topic "shop.v1.Order.Item.Detail".
 */
extern const kbus_event_desc shop_v1_order_item_detail__event;

/**
 * @brief A subscriber of shop.v1.Order.Item.Detail events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*shop_v1_order_item_detail_handler)(kbus_call *call,
                const Shop__V1__Order__Item__Detail *ev, void *arg);

/**
 * @brief Publishes @p ev to topic "shop.v1.Order.Item.Detail".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int shop_v1_order_item_detail_publish(kbus_runtime *rt,
                                      const Shop__V1__Order__Item__Detail *ev);

/**
 * @brief Publishes @p ev to topic "shop.v1.Order.Item.Detail" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int shop_v1_order_item_detail_publish_from(kbus_call *call,
                const Shop__V1__Order__Item__Detail *ev);

/**
 * @brief Publishes @p ev to topic "shop.v1.Order.Item.Detail"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int shop_v1_order_item_detail_publish_confirmed(kbus_runtime *rt,
                const Shop__V1__Order__Item__Detail *ev, kbus_delivery_fn cb,
                void *arg);

/**
 * @brief Subscribes @p fn to shop.v1.Order.Item.Detail events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int shop_v1_order_item_detail_subscribe(kbus_runtime *rt, const char *group,
                                        shop_v1_order_item_detail_handler fn,
                                        void *arg);

/* event shop.v1.OrderPlaced */

/**
 * @brief The event shop.v1.OrderPlaced.
 *
 * Published when an order is placed.
 *
 * Published to topic "shop.orders.placed", keyed by its field order_id.
 */
extern const kbus_event_desc shop_v1_order_placed__event;

/**
 * @brief A subscriber of shop.v1.OrderPlaced events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*shop_v1_order_placed_handler)(kbus_call *call,
                const Shop__V1__OrderPlaced *ev, void *arg);

/**
 * @brief Publishes @p ev to topic "shop.orders.placed".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int shop_v1_order_placed_publish(kbus_runtime *rt,
                                 const Shop__V1__OrderPlaced *ev);

/**
 * @brief Publishes @p ev to topic "shop.orders.placed" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int shop_v1_order_placed_publish_from(kbus_call *call,
                                      const Shop__V1__OrderPlaced *ev);

/**
 * @brief Publishes @p ev to topic "shop.orders.placed"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int shop_v1_order_placed_publish_confirmed(kbus_runtime *rt,
                const Shop__V1__OrderPlaced *ev, kbus_delivery_fn cb,
                void *arg);

/**
 * @brief Subscribes @p fn to shop.v1.OrderPlaced events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int shop_v1_order_placed_subscribe(kbus_runtime *rt, const char *group,
                                   shop_v1_order_placed_handler fn,
                                   void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_SHOP_V1_ORDERS_H */
