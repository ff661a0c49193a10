/* Generated from nopkg.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_NOPKG_H
#define KBUS_GEN_NOPKG_H

#include <kbus/kbus.h>

/* protoc-c names a struct member after each method, even a C keyword:
 * hide those while its headers are read. */
#define register register_
#define switch switch_
#ifdef __cplusplus
#define bool bool_
#endif
#include "nopkg.pb-c.h"
#undef register
#undef switch
#ifdef __cplusplus
#undef bool
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Directory */

/**
 * @brief The service Directory.
 *
 * Requests go to topic "Directory".
 */
extern const kbus_service_desc directory__service;

/**
 * @brief Result of directory_register().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*directory_register_cb)(kbus_status status, const char *message,
                                      const Registry *reply, void *arg);

/**
 * @brief Calls Directory.Register.
 *
 * Sends @p req to topic "Directory".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int directory_register(kbus_runtime *rt, const Registry__Entry *req,
                       const kbus_call_opts *opts, directory_register_cb cb,
                       void *arg);

/**
 * @brief Completes a Register call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int directory_register_reply(kbus_call *call, const Registry *reply);

/**
 * @brief Result of directory_switch().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*directory_switch_cb)(kbus_status status, const char *message,
                                    const Registry *reply, void *arg);

/**
 * @brief Calls Directory.Switch.
 *
 * Sends @p req to topic "Directory".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int directory_switch(kbus_runtime *rt, const Registry *req,
                     const kbus_call_opts *opts, directory_switch_cb cb,
                     void *arg);

/**
 * @brief Completes a Switch call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int directory_switch_reply(kbus_call *call, const Registry *reply);

/**
 * @brief Result of directory_bool().
 *
 * Called exactly once, on the runtime's loop thread.  @p reply is
 * NULL unless @p status is KBUS_OK, and valid only during the call;
 * @p message is the error text or NULL.
 */
typedef void (*directory_bool_cb)(kbus_status status, const char *message,
                                  const Registry__Entry *reply, void *arg);

/**
 * @brief Calls Directory.Bool.
 *
 * Sends @p req to topic "Directory".
 * @param opts  NULL for the defaults.
 * @param cb    called once with the outcome.
 * @returns 0 if @p cb will be called; otherwise a kbus_status, and
 *         @p cb is never called.
 */
int directory_bool(kbus_runtime *rt, const Registry *req,
                   const kbus_call_opts *opts, directory_bool_cb cb,
                   void *arg);

/**
 * @brief Completes a Bool call with @p reply.
 *
 * Typed kbus_call_reply(), so that a handler cannot answer with the
 * wrong message type.  @p reply is packed at once; the caller keeps it.
 */
int directory_bool_reply(kbus_call *call, const Registry__Entry *reply);

/**
 * @brief Handlers of Directory, one per method, for directory_serve().
 *
 * Each runs on the runtime's loop thread and must complete @p call exactly
 * once, now or later: with the method's typed reply function, kbus_call_ack()
 * for one-way methods, or kbus_call_fail().  A NULL member leaves the method
 * unimplemented.
 */
typedef struct directory_handlers {
        /** Directory.Register */
        void (*register_)(kbus_call *call, const Registry__Entry *req,
                          void *arg);
        /** Directory.Switch */
        void (*switch_)(kbus_call *call, const Registry *req, void *arg);
        /** Directory.Bool */
        void (*bool_)(kbus_call *call, const Registry *req, void *arg);
} directory_handlers;

/**
 * @brief Serves Directory with the handlers in @p h.
 *
 * Its request topic "Directory" joins the runtime's consumer group.
 * @p h is copied; @p arg is passed to every handler.
 */
int directory_serve(kbus_runtime *rt, const directory_handlers *h, void *arg);

/* Empty */

/**
 * @brief The service Empty.
 *
 * A service without methods has a descriptor and nothing else.
 *
 * Requests go to topic "Empty".
 */
extern const kbus_service_desc empty__service;

/* event Registry.Entry */

/**
 * @brief The event Registry.Entry.
 *
 * Published to topic "Registry.Entry", keyed by its field default.
 */
extern const kbus_event_desc registry_entry__event;

/**
 * @brief A subscriber of Registry.Entry events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*registry_entry_handler)(kbus_call *call,
                                       const Registry__Entry *ev, void *arg);

/**
 * @brief Publishes @p ev to topic "Registry.Entry".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int registry_entry_publish(kbus_runtime *rt, const Registry__Entry *ev);

/**
 * @brief Publishes @p ev to topic "Registry.Entry" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int registry_entry_publish_from(kbus_call *call, const Registry__Entry *ev);

/**
 * @brief Publishes @p ev to topic "Registry.Entry"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int registry_entry_publish_confirmed(kbus_runtime *rt,
                                     const Registry__Entry *ev,
                                     kbus_delivery_fn cb, void *arg);

/**
 * @brief Subscribes @p fn to Registry.Entry events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int registry_entry_subscribe(kbus_runtime *rt, const char *group,
                             registry_entry_handler fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_NOPKG_H */
