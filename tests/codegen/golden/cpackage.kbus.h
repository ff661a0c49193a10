/* Generated from cpackage.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_CPACKAGE_H
#define KBUS_GEN_CPACKAGE_H

#include <kbus/kbus.h>

#include "cpackage.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* renamed.pkg.Clock */

/**
 * @brief The service renamed.pkg.Clock.
 *
 * Requests go to topic "renamed.pkg.Clock".
 */
extern const kbus_service_desc renamed_pkg_clock__service;

/**
 * @brief Result of renamed_pkg_clock_now().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*renamed_pkg_clock_now_cb)(kbus_status status,
                const char *message, const OtherName__Tick *reply, void *arg);

/**
 * @brief Calls renamed.pkg.Clock.Now.
 *
 * Sends @p req to topic "renamed.pkg.Clock".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int renamed_pkg_clock_now(kbus_runtime *rt, const OtherName__Tick *req,
                          const kbus_call_opts *opts,
                          renamed_pkg_clock_now_cb cb, void *arg);

/**
 * @brief Completes a Now call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int renamed_pkg_clock_now_reply(kbus_call *call,
                                const OtherName__Tick *reply);

/**
 * @brief Handlers of renamed.pkg.Clock, one per method, for renamed_pkg_clock_serve().
 *
 * Each runs on the runtime's loop thread and must complete @p call exactly
 * once, now or later: with the method's typed reply function, kbus_call_ack()
 * for one-way methods, or kbus_call_fail().  A NULL member leaves the method
 * unimplemented.
 */
typedef struct renamed_pkg_clock_handlers {
        /** renamed.pkg.Clock.Now */
        void (*now)(kbus_call *call, const OtherName__Tick *req, void *arg);
} renamed_pkg_clock_handlers;

/**
 * @brief Serves renamed.pkg.Clock with the handlers in @p h.
 *
 * Its request topic "renamed.pkg.Clock" joins the runtime's consumer group.
 * @p h is copied; @p arg is passed to every handler.
 */
int renamed_pkg_clock_serve(kbus_runtime *rt,
                            const renamed_pkg_clock_handlers *h, void *arg);

/* event renamed.pkg.Tick */

/**
 * @brief The event renamed.pkg.Tick.
 *
 * Published to topic "renamed.pkg.Tick".
 */
extern const kbus_event_desc renamed_pkg_tick__event;

/**
 * @brief A subscriber of renamed.pkg.Tick events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*renamed_pkg_tick_handler)(kbus_call *call,
                const OtherName__Tick *ev, void *arg);

/**
 * @brief Publishes @p ev to topic "renamed.pkg.Tick".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int renamed_pkg_tick_publish(kbus_runtime *rt, const OtherName__Tick *ev);

/**
 * @brief Publishes @p ev to topic "renamed.pkg.Tick" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int renamed_pkg_tick_publish_from(kbus_call *call, const OtherName__Tick *ev);

/**
 * @brief Publishes @p ev to topic "renamed.pkg.Tick"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int renamed_pkg_tick_publish_confirmed(kbus_runtime *rt,
                                       const OtherName__Tick *ev,
                                       kbus_delivery_fn cb, void *arg);

/**
 * @brief Subscribes @p fn to renamed.pkg.Tick events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int renamed_pkg_tick_subscribe(kbus_runtime *rt, const char *group,
                               renamed_pkg_tick_handler fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_CPACKAGE_H */
