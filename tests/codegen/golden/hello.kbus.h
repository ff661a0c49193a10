/* Generated from hello.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_HELLO_H
#define KBUS_GEN_HELLO_H

#include <kbus/kbus.h>

#include "hello.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hello.v1.Greeter */

/**
 * @brief The service hello.v1.Greeter.
 *
 * Greets people.
 *
 * Requests go to topic "hello.v1.Greeter".
 */
extern const kbus_service_desc hello_v1_greeter__service;

/**
 * @brief Result of hello_v1_greeter_say_hello().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*hello_v1_greeter_say_hello_cb)(kbus_status status,
                const char *message, const Hello__V1__HelloReply *reply,
                void *arg);

/**
 * @brief Calls hello.v1.Greeter.SayHello.
 *
 * Answers a HelloRequest with a greeting.
 *
 * Sends @p req to topic "hello.v1.Greeter".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int hello_v1_greeter_say_hello(kbus_runtime *rt,
                               const Hello__V1__HelloRequest *req,
                               const kbus_call_opts *opts,
                               hello_v1_greeter_say_hello_cb cb, void *arg);

/**
 * @brief Completes a SayHello call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int hello_v1_greeter_say_hello_reply(kbus_call *call,
                                     const Hello__V1__HelloReply *reply);

/**
 * @brief Handlers of hello.v1.Greeter, one per method, for hello_v1_greeter_serve().
 *
 * Each runs on the runtime's loop thread and must complete @p call exactly
 * once, now or later: with the method's typed reply function, kbus_call_ack()
 * for one-way methods, or kbus_call_fail().  A NULL member leaves the method
 * unimplemented.
 */
typedef struct hello_v1_greeter_handlers {
        /** Answers a HelloRequest with a greeting. */
        void (*say_hello)(kbus_call *call, const Hello__V1__HelloRequest *req,
                          void *arg);
} hello_v1_greeter_handlers;

/**
 * @brief Serves hello.v1.Greeter with the handlers in @p h.
 *
 * Its request topic "hello.v1.Greeter" joins the runtime's consumer group.
 * @p h is copied; @p arg is passed to every handler.
 */
int hello_v1_greeter_serve(kbus_runtime *rt, const hello_v1_greeter_handlers *h,
                           void *arg);

/* event hello.v1.Greeted */

/**
 * @brief The event hello.v1.Greeted.
 *
 * Published after each greeting.
 *
 * Published to topic "hello.v1.Greeted".
 */
extern const kbus_event_desc hello_v1_greeted__event;

/**
 * @brief A subscriber of hello.v1.Greeted events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*hello_v1_greeted_handler)(kbus_call *call,
                const Hello__V1__Greeted *ev, void *arg);

/**
 * @brief Publishes @p ev to topic "hello.v1.Greeted".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int hello_v1_greeted_publish(kbus_runtime *rt, const Hello__V1__Greeted *ev);

/**
 * @brief Publishes @p ev to topic "hello.v1.Greeted" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int hello_v1_greeted_publish_from(kbus_call *call,
                                  const Hello__V1__Greeted *ev);

/**
 * @brief Publishes @p ev to topic "hello.v1.Greeted"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int hello_v1_greeted_publish_confirmed(kbus_runtime *rt,
                                       const Hello__V1__Greeted *ev,
                                       kbus_delivery_fn cb, void *arg);

/**
 * @brief Subscribes @p fn to hello.v1.Greeted events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int hello_v1_greeted_subscribe(kbus_runtime *rt, const char *group,
                               hello_v1_greeted_handler fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_HELLO_H */
