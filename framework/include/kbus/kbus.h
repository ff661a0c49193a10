/*
 * kbus: typed microservices over Apache Kafka, on one libevent loop.
 *
 * This is the whole public API of libkbus.  Users normally call the typed
 * stubs that protoc-gen-kbus generates from their .proto files; those stubs
 * call the generic functions below with static descriptors (the
 * kbus_*_desc structs), in the same way protobuf-c's generated code uses
 * ProtobufCMessageDescriptor.
 *
 * Threading: a kbus_runtime and everything made from it belong to the one
 * thread that runs its event_base.  Every callback runs on that thread.
 *
 * Errors: fallible functions return an int, 0 on success, otherwise one of
 * the kbus_status codes (the gRPC canonical codes).  kbus_strerror() gives
 * the text.
 */
#ifndef KBUS_KBUS_H
#define KBUS_KBUS_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct rd_kafka_mock_cluster_s;

/** @brief Version of this library, "MAJOR.MINOR.PATCH". */
const char *kbus_version(void);

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */

/**
 * @brief Status of a call, a handler outcome or a library function.
 *
 * The values are the gRPC canonical codes, so they travel unchanged in the
 * `kbus-status` reply header and mean the same in every language.
 */
typedef enum kbus_status {
        KBUS_OK = 0,
        KBUS_CANCELLED = 1,
        KBUS_UNKNOWN = 2,
        KBUS_INVALID_ARGUMENT = 3,
        KBUS_DEADLINE_EXCEEDED = 4,
        KBUS_NOT_FOUND = 5,
        KBUS_ALREADY_EXISTS = 6,
        KBUS_PERMISSION_DENIED = 7,
        KBUS_RESOURCE_EXHAUSTED = 8,
        KBUS_FAILED_PRECONDITION = 9,
        KBUS_ABORTED = 10,
        KBUS_OUT_OF_RANGE = 11,
        KBUS_UNIMPLEMENTED = 12,
        KBUS_INTERNAL = 13,
        KBUS_UNAVAILABLE = 14,
        KBUS_DATA_LOSS = 15,
        KBUS_UNAUTHENTICATED = 16,
} kbus_status;

/** @brief The code's name, e.g. "DEADLINE_EXCEEDED"; "?" if out of range. */
const char *kbus_status_name(int code);

/** @brief A short English description of \p code. */
const char *kbus_strerror(int code);

/**
 * @brief Whether a failure with \p code is worth retrying unchanged
 *        (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, DEADLINE_EXCEEDED).
 *
 * DEADLINE_EXCEEDED is worth a new call with a new deadline, but kbus never
 * retries it itself: servers, subscribers and idempotent resends retry
 * UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED only (docs/WIRE.md, section
 * 7).
 */
int kbus_status_is_retriable(int code);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/**
 * @brief Runtime configuration: kbus settings plus librdkafka properties.
 *
 * Keys (file and kbus_config_set() alike):
 *   bootstrap           "host:port,..." or "embedded" (default "embedded")
 *   name                application name: client.id, default group, ce_source
 *   group               consumer group for servers and subscriptions
 *   low_latency         true: tune fetch waits for the embedded broker
 *                       (default: true when bootstrap is "embedded")
 *   reply_topic         reply topic of this instance (default: generated)
 *   timeout_ms          default call deadline (5000)
 *   shutdown_grace_ms   time to finish in-flight work on shutdown (10000)
 *   max_in_flight       records handled at once per partition (64)
 *   ordering            "key" (default) or "partition"; see kbus_ordering
 *   client_max_in_flight  calls pending at once per runtime (10000)
 *   log_level           "debug", "info", "warn" or "error" ("info")
 *   http                "host:port" serving /healthz, /readyz and /metrics
 *                       (Prometheus text); port 0 picks a free port; unset:
 *                       no listener (the default)
 *   kafka, producer, consumer
 *                       arrays of "name=value" librdkafka properties for all
 *                       clients, the producer only, consumers only
 * Environment overrides, applied by kbus_runtime_new(): KBUS_BOOTSTRAP,
 * KBUS_GROUP, KBUS_LOG_LEVEL, KBUS_LOW_LATENCY.
 */
typedef struct kbus_config kbus_config;

/** @brief A configuration with every default.  Free with kbus_config_free(). */
int kbus_config_new(kbus_config **confp);

/** @brief Frees \p conf; NULL is fine. */
void kbus_config_free(kbus_config *conf);

/**
 * @brief Reads a libconfig file into \p conf.
 *
 * Every key is validated; on error \p errstr receives "FILE:LINE: message"
 * naming the key, and \p conf is left unchanged.
 */
int kbus_config_load(kbus_config *conf, const char *path, char *errstr,
                     size_t errlen);

/**
 * @brief Sets one key.  \p name is a kbus key from the list above, or
 *        "kafka.NAME", "producer.NAME", "consumer.NAME" for a librdkafka
 *        property.  Values are text, as in a file.
 */
int kbus_config_set(kbus_config *conf, const char *name, const char *value,
                    char *errstr, size_t errlen);

/**
 * @brief The value of text key \p name ("bootstrap", "name", "group",
 *        "reply_topic", "dlt_suffix", "http"), or NULL when it is unset or
 *        not one of those.  For tools that talk to the same cluster as the
 *        services a file configures.
 * @remark Valid until \p conf is changed or freed.
 */
const char *kbus_config_get(const kbus_config *conf, const char *name);

/**
 * @brief Property \p i of librdkafka property list \p list ("kafka",
 *        "producer" or "consumer"), in the order they were set.
 * @returns 0 with *\p namep and *\p valuep set (valid until \p conf
 *          changes); NOT_FOUND when \p i is past the end;
 *          INVALID_ARGUMENT for another \p list.
 * @remark Values may be secrets (sasl.password): do not print them.
 */
int kbus_config_prop(const kbus_config *conf, const char *list, size_t i,
                     const char **namep, const char **valuep);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

/** @brief How much a log line matters; config key `log_level`. */
typedef enum kbus_log_level {
        KBUS_LOG_DEBUG = 0,
        KBUS_LOG_INFO = 1,
        KBUS_LOG_WARN = 2,
        KBUS_LOG_ERROR = 3,
} kbus_log_level;

/**
 * @brief Writes one JSON line on stderr, in the format of the library's own
 *        log: {"ts":"2024-05-01T12:00:00.123Z","level":"info",
 *        "component":"...","msg":"..."}.
 *
 * Lines below the process's level are dropped.  The level is the
 * configuration's log_level (with KBUS_LOG_LEVEL over it) of the last
 * runtime created; before any runtime exists, KBUS_LOG_LEVEL if it is set
 * and valid, else info.  The component is the one given to
 * kbus_log_set_component(), by default the program's name.  A message
 * longer than about 1000 bytes is cut.
 *
 * @remark May be called from any thread: each line is written with one
 *         call, so lines of concurrent writers do not interleave.
 */
void kbus_log(kbus_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/**
 * @brief Sets the "component" of the lines kbus_log() writes (the library's
 *        own lines keep theirs: "kafka", "dlq", ...).
 *
 * @param component  copied (at most 63 bytes are kept); NULL restores the
 *                   default, the program's name.
 * @remark Process-wide.  Call it at start, before other threads log.
 */
void kbus_log_set_component(const char *component);

/* ------------------------------------------------------------------ */
/* Runtime                                                             */
/* ------------------------------------------------------------------ */

typedef struct kbus_runtime kbus_runtime;

/**
 * @brief Creates a runtime: producer, reply consumer, embedded broker if
 *        configured.  Nothing is fetched before kbus_runtime_start().
 *
 * @param confp  consumed on success (*confp set to NULL); left to the caller
 *               on failure.
 * @param base   the event_base to run on, or NULL for one of its own.
 * @remark Call and use from one thread only.
 */
int kbus_runtime_new(kbus_runtime **rtp, kbus_config **confp,
                     struct event_base *base, char *errstr, size_t errlen);

/**
 * @brief Creates a runtime the way a kbus program usually does: defaults,
 *        then \p name as its name, then the libconfig file \p path (which
 *        may change the name too), then the KBUS_* environment variables,
 *        as kbus_runtime_new() applies them.
 *
 * Equivalent to kbus_config_new(), kbus_config_set(conf, "name", name),
 * kbus_config_load(conf, path) and kbus_runtime_new(), with the
 * configuration freed on any failure.
 *
 * @param name   application name (client.id, default consumer group,
 *               ce_source); must not be NULL.
 * @param path   configuration file, or NULL for none.
 * @param base   the event_base to run on, or NULL for one of its own.
 * @returns 0 with *\p rtp set; otherwise *\p rtp is NULL and \p errstr
 *          says what is wrong: "FILE:LINE: key 'x': ..." for a bad file,
 *          the variable's name for a bad environment value.  NOT_FOUND
 *          when the file does not exist.
 * @remark Call and use from one thread only, as kbus_runtime_new().
 */
int kbus_runtime_new_from_file(kbus_runtime **rtp, const char *name,
                               const char *path, struct event_base *base,
                               char *errstr, size_t errlen);

/** @brief The runtime's event_base (its own or the one passed in). */
struct event_base *kbus_runtime_event_base(kbus_runtime *rt);

/** @brief The bootstrap list in use (the embedded broker's when embedded). */
const char *kbus_runtime_bootstrap(const kbus_runtime *rt);

/** @brief The embedded broker, for fault injection; NULL when external. */
struct rd_kafka_mock_cluster_s *kbus_runtime_mock(kbus_runtime *rt);

/** @brief The port of the operations endpoint (config `http`), or -1. */
int kbus_runtime_http_port(const kbus_runtime *rt);

/** @brief This instance's reply topic. */
const char *kbus_runtime_reply_topic(const kbus_runtime *rt);

/**
 * @brief Starts fetching: assigns the reply consumer (when a reply topic is
 *        configured or services were declared with kbus_client_prepare();
 *        otherwise at the first call), fetches the declared services'
 *        metadata, and subscribes the consumer groups.  kbus_runtime_run()
 *        calls it; call it yourself when you dispatch the event_base on
 *        your own.  Servers and subscriptions added later are subscribed at
 *        once.
 */
int kbus_runtime_start(kbus_runtime *rt);

/**
 * @brief 1 if the runtime is started, not shutting down, every one of its
 *        consumer groups has joined (had its first assignment, even an
 *        empty one): its servers and subscriptions receive records, and the
 *        reply consumer opened at start, if any (kbus_client_prepare(), or
 *        a configured reply_topic), has fetched once: replies arrive without
 *        delay; else 0.  /readyz answers the same.  (An int, not a bool: this header does
 *        not include <stdbool.h>, whose bool macro would break protoc-c
 *        code for a method named Bool.)
 */
int kbus_runtime_ready(const kbus_runtime *rt);

/**
 * @brief Starts, then dispatches the event_base until the runtime has shut
 *        down.  SIGINT and SIGTERM begin a graceful shutdown.
 * @returns 0 after a clean shutdown; KBUS_ABORTED after a shutdown the
 *          runtime began itself because it cannot go on safely (a state
 *          table's change that the broker refused for good: see
 *          docs/STATE.md), with an error logged; a supervisor should start
 *          the program again.
 */
int kbus_runtime_run(kbus_runtime *rt);

/**
 * @brief Begins a graceful shutdown: stop fetching, let in-flight handlers
 *        and calls finish within shutdown_grace_ms, then leave the loop.
 *        Safe to call from any callback; idempotent.
 */
void kbus_runtime_shutdown(kbus_runtime *rt);

/**
 * @brief Stores and commits offsets, flushes the producer, closes the
 *        consumers and frees everything.  Calls still waiting for a reply
 *        complete with CANCELLED first; one-way calls still being written
 *        learn the outcome of the flush.  Must be called outside event
 *        dispatch.  NULL is fine.
 *
 * The flush waits at most shutdown_grace_ms (not at all after a second
 * signal), and never for the request of a call that has ended (answered,
 * failed, past its deadline or just cancelled): such requests are dropped.
 */
void kbus_runtime_free(kbus_runtime *rt);

/**
 * @brief Waits until every message queued so far (events, requests,
 *        replies) is written or has finally failed, running their delivery
 *        callbacks, or until \p timeout_ms passes (-1: no limit; the
 *        producer's message.timeout.ms bounds it anyway).  Blocks: for
 *        programs that do not run the loop, such as command-line tools.
 * @returns 0, or DEADLINE_EXCEEDED if messages are still on their way.
 */
int kbus_runtime_flush(kbus_runtime *rt, int timeout_ms);

/** @brief How records of one partition are handed to handlers. */
typedef enum kbus_ordering {
        /** Records with the same key strictly in order, one at a time;
         *  records with other keys (or none) concurrently.  The default. */
        KBUS_ORDER_KEY = 0,
        /** One record at a time per partition. */
        KBUS_ORDER_PARTITION = 1,
} kbus_ordering;

/**
 * @brief Sets ordering and the bound on records in handlers at once per
 *        partition (max_in_flight; 0 = the configured default) for records
 *        of \p topic, in every consumer group of this runtime.  Applies to
 *        partitions assigned afterwards: call it before kbus_runtime_start().
 *        Offsets are stored in order whatever the ordering.
 */
int kbus_runtime_set_ordering(kbus_runtime *rt, const char *topic,
                              kbus_ordering ordering, int max_in_flight);

/**
 * @brief The counters a runtime keeps, for metrics and tests: one
 *        X(ID, "name", "help text") per counter.
 *
 * The one list from which kbus_stat, kbus_stat_name() and the `# HELP`
 * lines of /metrics (where counter `name` is `kbus_<name>_total`) are made,
 * so that they cannot disagree.  Append new counters at the end: the
 * values of kbus_stat are part of the ABI.
 */
#define KBUS_STATS(X)                                                          \
        X(CALLS_STARTED, "calls_started", "Client calls sent.")                \
        X(CALLS_OK, "calls_ok", "Client calls answered OK.")                   \
        X(CALLS_FAILED, "calls_failed",                                        \
          "Client calls answered with an error status.")                       \
        X(CALLS_TIMED_OUT, "calls_timed_out",                                  \
          "Client calls that ended in DEADLINE_EXCEEDED.")                     \
        X(REPLIES_LATE, "replies_late",                                        \
          "Replies dropped because they came after the call's deadline.")      \
        X(REPLIES_UNKNOWN, "replies_unknown",                                  \
          "Replies dropped because they matched no call of this instance.")    \
        X(REPLIES_DUPLICATE, "replies_duplicate",                              \
          "Replies dropped because the call was already answered.")            \
        X(REQUESTS_HANDLED, "requests_handled",                                \
          "Requests given to a handler.")                                      \
        X(REQUESTS_EXPIRED, "requests_expired",                                \
          "Requests skipped because their deadline had passed.")               \
        X(REQUESTS_UNIMPLEMENTED, "requests_unimplemented",                    \
          "Requests for a method this server does not have.")                  \
        X(EVENTS_PUBLISHED, "events_published",                                \
          "Events handed to the producer.")                                    \
        X(EVENTS_HANDLED, "events_handled", "Events given to a handler.")      \
        X(DEAD_LETTERED, "dead_lettered",                                      \
          "Records written to a dead-letter topic.")                           \
        X(RETRIES, "retries", "Handler attempts after the first.")             \
        X(DECODE_ERRORS, "decode_errors",                                      \
          "Records whose value or headers could not be decoded.")              \
        X(CALLS_RESENT, "calls_resent", "Idempotent requests sent again.")     \
        X(REPLIES_CACHED, "replies_cached",                                    \
          "Duplicate idempotent requests answered from the reply cache.")      \
        X(EVENTS_UNDELIVERED, "events_undelivered",                            \
          "Events that were finally not written (delivery failed).")           \
        X(COMMANDS_REPEATED, "commands_repeated",                              \
          "Commands an aggregate had applied before, answered as then.")       \
        X(AGGREGATE_CONFLICTS, "aggregate_conflicts",                          \
          "Appends refused because the aggregate was not at the expected "     \
          "version.")                                                          \
        X(WINDOW_LATE, "window_late",                                          \
          "Records that came after their window had closed: dead-lettered, "   \
          "or applied as an update, by the window's late policy.")

/** @brief Counters a runtime keeps: KBUS_STAT_<ID> of each KBUS_STATS
 *         entry, in that order. */
typedef enum kbus_stat {
#define KBUS_STAT_ENUM_(id, name, help) KBUS_STAT_##id,
        KBUS_STATS(KBUS_STAT_ENUM_)
#undef KBUS_STAT_ENUM_
            KBUS_STAT__COUNT
} kbus_stat;

/** @brief The current value of a counter. */
uint64_t kbus_runtime_stat(const kbus_runtime *rt, kbus_stat which);

/** @brief The counter's name, e.g. "replies_late". */
const char *kbus_stat_name(kbus_stat which);

/* ------------------------------------------------------------------ */
/* Descriptors, as generated by protoc-gen-kbus                        */
/* ------------------------------------------------------------------ */

/** @brief Any function pointer, as stored by the runtime. */
typedef void (*kbus_fn)(void);

typedef struct kbus_call kbus_call;

/** @brief Retry policy for handlers that fail with a retriable status. */
typedef struct kbus_retry_policy {
        uint32_t max_attempts;       /**< 0 = runtime default; 1 = no retry */
        uint32_t initial_backoff_ms; /**< 0 = runtime default */
        uint32_t max_backoff_ms;     /**< 0 = runtime default */
        double multiplier;           /**< 0 = runtime default (2.0) */
} kbus_retry_policy;

/** Method flags. */
#define KBUS_METHOD_ONE_WAY 0x1 /**< no reply; the caller learns delivery */
/** Safe to run twice for one call: the client resends it (same
 *  correlation id) when it could not be delivered or was answered with a
 *  retriable status, and the server answers a duplicate from a cache of
 *  recent replies instead of running the handler again. */
#define KBUS_METHOD_IDEMPOTENT 0x2
#define KBUS_NO_DEAD_LETTER 0x4 /**< log and skip instead of dead-letter */
/** An event whose topic keeps the last event of each key
 *  ((kbus.event).compacted): `kbus topics create` sets cleanup.policy. */
#define KBUS_EVENT_COMPACTED 0x8

/**
 * @brief One RPC method.  Generated; the runtime never changes it.
 *
 * dispatch() calls the handler for this method found in the handler table
 * the server registered; complete() calls a typed client callback.  Both
 * exist so that typed function pointers are never called through a cast.
 */
typedef struct kbus_method_desc {
        const char *name; /**< "SayHello" */
        const char *path; /**< "/hello.v1.Greeter/SayHello" */
        const ProtobufCMessageDescriptor *input;
        const ProtobufCMessageDescriptor *output;
        uint32_t flags;        /**< KBUS_METHOD_* */
        int64_t timeout_ms;    /**< 0 = runtime default */
        const char *key_field; /**< input field used as record key, or NULL */
        kbus_retry_policy retry;
        /** Calls the handler for this method, or returns -1 if the table
         *  has none. */
        int (*dispatch)(const void *handlers, kbus_call *call,
                        const ProtobufCMessage *req, void *arg);
        /** Calls a client callback of this method's typed signature. */
        void (*complete)(kbus_fn cb, kbus_status status, const char *message,
                         const ProtobufCMessage *reply, void *arg);
} kbus_method_desc;

/** @brief One service: its request topic and methods.  Generated. */
typedef struct kbus_service_desc {
        const char *name;  /**< "hello.v1.Greeter" */
        const char *topic; /**< request topic */
        size_t n_methods;
        const kbus_method_desc *methods;
} kbus_service_desc;

/** @brief One event message type.  Generated. */
typedef struct kbus_event_desc {
        const char *type;      /**< full message name, "hello.v1.Greeted" */
        const char *topic;     /**< topic events of this type go to */
        const char *key_field; /**< field used as record key, or NULL */
        const ProtobufCMessageDescriptor *message;
        uint32_t flags; /**< KBUS_NO_DEAD_LETTER, KBUS_EVENT_COMPACTED */
        kbus_retry_policy retry;
        /** Calls a subscriber of this event's typed signature. */
        void (*deliver)(kbus_fn fn, kbus_call *call, const ProtobufCMessage *ev,
                        void *arg);
} kbus_event_desc;

/* ------------------------------------------------------------------ */
/* Client calls                                                        */
/* ------------------------------------------------------------------ */

/** @brief Per-call options; NULL everywhere means the defaults. */
typedef struct kbus_call_opts kbus_call_opts;

int kbus_call_opts_new(kbus_call_opts **optsp);
void kbus_call_opts_free(kbus_call_opts *opts);
/** @brief Deadline relative to now; 0 = the method's or runtime's default. */
void kbus_call_opts_set_timeout(kbus_call_opts *opts, int64_t timeout_ms);
/** @brief Send to this request topic instead of the service's. */
int kbus_call_opts_set_topic(kbus_call_opts *opts, const char *topic);

/**
 * @brief Sends a request.  Generated stubs wrap this.
 *
 * @param cb   a callback of the method's typed signature (see complete());
 *             may be NULL for one-way methods.
 * @returns 0: \p cb will be called exactly once, later, on the loop thread,
 *          with the reply (valid only during the callback) or an error
 *          status.  Otherwise \p cb is never called: INVALID_ARGUMENT,
 *          RESOURCE_EXHAUSTED (too many calls pending, or the producer
 *          queue is full: kbus_runtime_when_room() says when to try
 *          again), FAILED_PRECONDITION (runtime shutting down).
 * @remark For one-way methods cb learns the delivery report's outcome.
 */
int kbus_call_start(kbus_runtime *rt, const kbus_service_desc *svc,
                    const kbus_method_desc *method, const ProtobufCMessage *req,
                    const kbus_call_opts *opts, kbus_fn cb, void *arg);

/**
 * @brief Declares that this runtime will call \p svc, so that its first
 *        call costs what later ones do.
 *
 * Without it, the first call of a process opens the reply consumer (which
 * must look up its offset and leader before it fetches) and the producer
 * looks up the request topic's leaders: half a second to a few seconds.
 * With it, kbus_runtime_start() does both, and kbus_runtime_ready() answers
 * 1 only once the reply consumer has fetched.  In embedded mode the request
 * topic is created too.  Call it before kbus_runtime_start(), once per
 * service (generated descriptors are named `<package>_<service>__service`,
 * e.g. hello_v1_greeter__service); called after, it does the same at once,
 * without affecting readiness.  Calls to a topic other than the service's
 * (kbus_call_opts_set_topic()) are prepared by passing a copy of the
 * descriptor with that topic.
 *
 * @returns 0; INVALID_ARGUMENT (no descriptor or topic);
 *          RESOURCE_EXHAUSTED; FAILED_PRECONDITION (shutting down); or the
 *          error of opening the reply consumer (after start).
 * @remark The topic is copied; \p svc need not outlive the call.
 */
int kbus_client_prepare(kbus_runtime *rt, const kbus_service_desc *svc);

/* ------------------------------------------------------------------ */
/* Servers and subscriptions                                           */
/* ------------------------------------------------------------------ */

/**
 * @brief Serves \p svc: its request topic joins the runtime's consumer
 *        group.  \p handlers (a generated handler table of \p handlers_size
 *        bytes) is copied; \p arg is passed to every handler.
 */
int kbus_serve(kbus_runtime *rt, const kbus_service_desc *svc,
               const void *handlers, size_t handlers_size, void *arg);

/**
 * @brief Publishes an event.  Keyed by the event's key field if it has one.
 * @returns 0 once handed to the producer; RESOURCE_EXHAUSTED when its queue
 *          is full (nothing is queued then: kbus_runtime_when_room() says
 *          when to try again).
 */
int kbus_publish(kbus_runtime *rt, const kbus_event_desc *ev,
                 const ProtobufCMessage *msg);

/** @brief The outcome of one event: KBUS_OK once it is written, else
 *         UNAVAILABLE (or OUT_OF_RANGE: too large) with librdkafka's
 *         reason. */
typedef void (*kbus_delivery_fn)(kbus_status status, const char *message,
                                 void *arg);

/**
 * @brief Publishes an event like kbus_publish(), and calls \p cb exactly
 *        once, on the loop thread (or in kbus_runtime_flush()), when it is
 *        written or has finally failed (after the producer's
 *        message.timeout.ms).  For publishers that are not handling a
 *        record (those use kbus_call_publish()) and must know, such as a
 *        log shipper that may forget a line only once it is stored.
 *        Generated code wraps this as <event>_publish_confirmed().
 * @returns 0: \p cb will be called.  Otherwise it will not:
 *          INVALID_ARGUMENT, RESOURCE_EXHAUSTED (producer queue full:
 *          nothing queued; try again from kbus_runtime_when_room()'s
 *          callback, or after kbus_runtime_flush() in a program that does
 *          not run the loop), OUT_OF_RANGE (too large ever to be written).
 */
int kbus_publish_confirmed(kbus_runtime *rt, const kbus_event_desc *ev,
                           const ProtobufCMessage *msg, kbus_delivery_fn cb,
                           void *arg);

/**
 * @brief Called once by kbus_runtime_when_room(): KBUS_OK when the runtime
 *        has room again, KBUS_CANCELLED when it shuts down first.
 * @remark Runs on the loop thread, or in kbus_runtime_free() (CANCELLED
 *         only).  With OK it may publish, call and ask for room again; with
 *         CANCELLED it must do none of those (it may free \p arg).
 */
typedef void (*kbus_room_fn)(kbus_status status, void *arg);

/**
 * @brief Calls \p cb once the runtime has room again for what
 *        kbus_publish(), kbus_publish_confirmed() or kbus_call_start()
 *        refused with RESOURCE_EXHAUSTED, so that a program producing
 *        faster than the brokers take slows down to their pace instead of
 *        failing, without blocking the loop.
 *
 * Room means: the producer holds at most half of its capacity (the
 * producer property queue.buffering.max.messages, 100,000 by default), and
 * a message was delivered (or finally failed) since the last refusal, so a
 * queue full by bytes (queue.buffering.max.kbytes) is waited for too; and
 * fewer than client_max_in_flight calls are waiting for a reply.  The
 * producer learns it from delivery reports, which the loop serves: the
 * callback comes only while kbus_runtime_run() (or the caller's own
 * dispatch of the event_base) runs.  It never runs inside this call, even
 * when there is room already: the first turn of the loop runs it then, so
 * a generator may also start itself this way.
 *
 * A generator's loop, publishing until the producer is full and going on
 * in the callback:
 * @code
 * static void produce(kbus_status status, void *arg) {
 *         struct gen *g = arg;
 *         if (status != KBUS_OK)
 *                 return;                        // shutting down
 *         for (; g->sent < g->count; g->sent++) {
 *                 int rc = shop_v1_order_placed_publish(g->rt, next(g));
 *                 if (rc == KBUS_RESOURCE_EXHAUSTED) {
 *                         kbus_runtime_when_room(g->rt, produce, g);
 *                         return;                // back here once there is room
 *                 }
 *                 if (rc) { ... fail ... }
 *         }
 *         kbus_runtime_shutdown(g->rt);          // all queued
 * }
 * @endcode
 * Handlers do not need it: an event a handler publishes with
 * kbus_call_publish() into a full producer fails the call, and
 * RESOURCE_EXHAUSTED is retried with backoff.
 *
 * @returns 0: \p cb will be called exactly once (OK, or CANCELLED when the
 *          runtime shuts down first).  Otherwise it will not:
 *          INVALID_ARGUMENT (\p cb NULL), FAILED_PRECONDITION (shutting
 *          down), RESOURCE_EXHAUSTED (out of memory).
 * @remark Loop thread (or before the loop runs).  Each call adds one
 *         waiter; waiters run first come first served, and one that fills
 *         the producer again leaves those after it waiting.  \p arg stays
 *         the caller's.
 */
int kbus_runtime_when_room(kbus_runtime *rt, kbus_room_fn cb, void *arg);

/**
 * @brief Subscribes \p fn (of the event's typed signature) in consumer
 *        group \p group (NULL: the configured group).  Each group receives
 *        every event once; members of one group share the partitions.
 */
int kbus_subscribe(kbus_runtime *rt, const kbus_event_desc *ev,
                   const char *group, kbus_fn fn, void *arg);

/* ------------------------------------------------------------------ */
/* A record being handled: a request or an event                       */
/* ------------------------------------------------------------------ */

/**
 * Each handler receives a kbus_call and must complete it exactly once, now
 * or later (from any callback on the loop thread): kbus_call_reply() for
 * methods with a reply, kbus_call_ack() for events and one-way methods, or
 * kbus_call_fail() for any of them.  After completion the call must not be
 * used, nor the message the handler received or the table values it read:
 * they are freed then, even where the record waits for the delivery of its
 * table changes or events.  Its record's offset is stored only after
 * completion, in order per partition.
 */

/**
 * @brief Replies OK with \p reply (packed at once; keep ownership).
 * @returns 0; OUT_OF_RANGE when the reply is larger than the producer may
 *          write (the caller is answered OUT_OF_RANGE instead);
 *          RESOURCE_EXHAUSTED when no reply could be queued (the caller
 *          times out).  The call is complete whatever the result, except
 *          INVALID_ARGUMENT (completed already, or the wrong message type).
 */
int kbus_call_reply(kbus_call *call, const ProtobufCMessage *reply);

/** @brief Completes an event or one-way request successfully. */
int kbus_call_ack(kbus_call *call);

/**
 * @brief Completes with an error.  UNAVAILABLE, RESOURCE_EXHAUSTED and
 *        ABORTED are retried with backoff while the method's or event's
 *        retry policy (and a request's deadline) allows; after that, or for
 *        any other code, DEADLINE_EXCEEDED included, a request is answered
 *        with the status and an event is dead-lettered.
 */
int kbus_call_fail(kbus_call *call, kbus_status code, const char *message);

/**
 * @brief Completes with a final error answer that is the call's outcome,
 *        such as a business rule refusing a command (FAILED_PRECONDITION:
 *        "insufficient funds").
 *
 * Unlike kbus_call_fail(), the call's table changes and the events it
 * published are kept, as for a success: written first, then the caller
 * hears \p code (a request), or the record simply ends (an event or a
 * one-way request).  Nothing is retried or dead-lettered, whatever \p code
 * is.  This is how an aggregate remembers a refused command
 * (kbus_aggregate_refuse()).  A redelivery after a crash answers \p code
 * again, without \p message.
 * @returns 0; INVALID_ARGUMENT (completed already, or \p code is OK or out
 *          of range).
 */
int kbus_call_refuse(kbus_call *call, kbus_status code, const char *message);

/**
 * @brief Publishes an event as part of handling \p call (before completing
 *        it).  Generated code wraps this as <event>_publish_from().
 *
 * Unlike kbus_publish(), the record is not done when the handler completes
 * it: its outcome (reply, ack or failure) waits until every event published
 * this way has been delivered, so the record's offset is never stored, and
 * an RPC caller never hears OK, for events that were lost.  If one cannot
 * be delivered, the record fails with UNAVAILABLE instead: it is retried
 * under its retry policy (the handler runs and publishes again), then
 * answered with UNAVAILABLE or dead-lettered.  Events published again for
 * the same record carry the same CloudEvents id (ce_id
 * "<topic>-<partition>-<offset>-<n>"), so consumers can drop duplicates.
 * The event's traceparent continues the record's trace.
 *
 * In a consumer group that keeps state tables, the event is not sent now:
 * it waits with the call's table changes and goes out once they are
 * written to the changelog, when the call succeeds (docs/STATE.md); a
 * failed call sends none.
 *
 * @returns 0, INVALID_ARGUMENT (wrong message type, or \p call already
 *          completed), RESOURCE_EXHAUSTED (producer queue full: nothing was
 *          queued).
 */
int kbus_call_publish(kbus_call *call, const kbus_event_desc *ev,
                      const ProtobufCMessage *msg);

/**
 * @brief Sends a one-way request to \p method of \p svc as part of
 *        handling \p call, like kbus_call_publish() an event: a command a
 *        handler gives another service (a saga's next step).
 *
 * The request has no deadline, so it is carried out however long its
 * service takes to get to it, and no reply.  It is keyed by the method's
 * key field.  In a consumer group that keeps state tables it waits with
 * the call's changes and leaves once they are written; a failed call sends
 * nothing, and a redelivery after a crash sends it again, with the same
 * correlation id.  Otherwise the call's outcome waits for its delivery, as
 * for an event.
 * @returns 0; INVALID_ARGUMENT (\p method is not one-way, \p req is not its
 *          input type, or \p call has completed); RESOURCE_EXHAUSTED.
 */
int kbus_call_send(kbus_call *call, const kbus_service_desc *svc,
                   const kbus_method_desc *method, const ProtobufCMessage *req);

/**
 * @brief The record key kbus writes for \p msg when its key field is
 *        \p field (docs/WIRE.md, section 2): a string or bytes field's
 *        bytes, an integer's decimal text; NULL when the field is unset,
 *        empty, repeated or of another type, or \p field is NULL.
 *
 * For programs that compute keys as kbus does (a tool calling a service
 * by hand, a partition query).  The key may point into \p msg or into
 * \p buf; *\p len is its length.
 */
const void *kbus_record_key(const ProtobufCMessage *msg, const char *field,
                            size_t *len, char buf[32]);

/** @brief The runtime the call belongs to. */
kbus_runtime *kbus_call_runtime(const kbus_call *call);
/** @brief "/pkg.Service/Method" for requests, the event type for events. */
const char *kbus_call_method(const kbus_call *call);
/** @brief The caller's absolute deadline, Unix epoch ms; 0 when none. */
int64_t kbus_call_deadline(const kbus_call *call);
/** @brief Which attempt this is, starting at 1. */
uint32_t kbus_call_attempt(const kbus_call *call);
/** @brief The record's topic, partition and offset. */
const char *kbus_call_topic(const kbus_call *call);
int32_t kbus_call_partition(const kbus_call *call);
int64_t kbus_call_offset(const kbus_call *call);
/** @brief The W3C traceparent of the request or event ("" if none). */
const char *kbus_call_traceparent(const kbus_call *call);
/**
 * @brief The record's CloudEvents time (header ce_time, RFC 3339), as Unix
 *        epoch milliseconds in *\p ms: when the event happened, as its
 *        publisher said (kbus publishers write the time of publishing).
 * @returns 0, NOT_FOUND (no ce_time: a request, or an event from another
 *          kind of producer), INVALID_ARGUMENT (not an RFC 3339 time).
 */
int kbus_call_event_time(const kbus_call *call, int64_t *ms);

/* ------------------------------------------------------------------ */
/* State tables                                                        */
/* ------------------------------------------------------------------ */

/**
 * @brief A table: protobuf values by key, owned by one consumer group and
 *        split into the same partitions as the topics the group reads.
 *        Generated for each message with the option (kbus.table).
 *
 * Table partition P lives in the instance that owns input partition P;
 * every put and delete is a record on the changelog topic
 * "<group>.<name>.changelog" (partition P), and a partition is rebuilt
 * from it wherever it is assigned next, before its first handler runs.
 * See docs/STATE.md for the model and the guarantee.
 */
typedef struct kbus_table_desc {
        const char *name; /**< "counts": names the changelog topic */
        const ProtobufCMessageDescriptor *value; /**< the value's type */
} kbus_table_desc;

/**
 * @brief Keeps table \p t for consumer group \p group (NULL: the
 *        runtime's group), whose handlers then read and write it.
 *
 * Call before kbus_runtime_start().  At start the changelog topic is
 * created on the embedded broker, or checked on a cluster: it must exist
 * with as many partitions as the group's input topics.
 * @returns 0, INVALID_ARGUMENT (no name, or a changelog topic name longer
 *          than Kafka's 249 characters), ALREADY_EXISTS (a table of that
 *          name in the group), FAILED_PRECONDITION (already started).
 */
int kbus_table_attach(kbus_runtime *rt, const kbus_table_desc *t,
                      const char *group);

/**
 * @brief Reads the entry with \p key (\p len bytes; NULL: the record's own
 *        key) in the partition of \p call's record, as this call sees it:
 *        its own earlier puts and deletes included.
 *
 * @param out the value, owned by the call: valid until the call completes.
 * @returns 0, NOT_FOUND, INVALID_ARGUMENT (table not attached, no key, or
 *          the key belongs to another partition), RESOURCE_EXHAUSTED.
 * @remark Loop thread, inside a handler (before it completes the call).
 */
int kbus_table_get(kbus_call *call, const kbus_table_desc *t, const void *key,
                   size_t len, const ProtobufCMessage **out);

/**
 * @brief Sets the entry with \p key to \p value, as part of \p call's
 *        outcome.
 *
 * Nothing is visible to other records, or written, until the call
 * completes successfully (kbus_call_reply(), kbus_call_ack()); then its
 * writes go to the changelog, and the record's offset is stored, and its
 * reply sent, only once they are delivered.  A failed call's writes are
 * dropped.  A record redelivered after its writes were delivered (a crash
 * before its offset was committed) is not handled again: its events and
 * reply are sent again, with the same ids.
 * \p value is encoded at once: the caller keeps it.
 * @returns 0, INVALID_ARGUMENT (as for get, or wrong type),
 *          RESOURCE_EXHAUSTED.
 */
int kbus_table_put(kbus_call *call, const kbus_table_desc *t, const void *key,
                   size_t len, const ProtobufCMessage *value);

/** @brief Deletes the entry with \p key, as part of \p call's outcome (a
 *         tombstone on the changelog).  Returns as kbus_table_put(). */
int kbus_table_delete(kbus_call *call, const kbus_table_desc *t,
                      const void *key, size_t len);

/** @brief Called for each entry of a scan; a non-zero return stops it. */
typedef int (*kbus_table_scan_fn)(const void *key, size_t len,
                                  const ProtobufCMessage *value, void *arg);

/**
 * @brief Calls \p fn for every entry of the partition of \p call's record
 *        (the call's own writes not included), in no particular order.
 * @returns 0, or what \p fn returned to stop, INVALID_ARGUMENT,
 *          RESOURCE_EXHAUSTED.
 */
int kbus_table_scan(kbus_call *call, const kbus_table_desc *t,
                    kbus_table_scan_fn fn, void *arg);

/** @brief Entries of \p t held by this runtime (all its partitions). */
size_t kbus_table_size(const kbus_runtime *rt, const kbus_table_desc *t);

/* ------------------------------------------------------------------ */
/* Event-sourced aggregates                                            */
/* ------------------------------------------------------------------ */

/**
 * An aggregate is an entity whose state is the fold of its events: an
 * account is the deposits and withdrawals made to it.  kbus keeps each
 * aggregate in a table of the consumer group that handles its commands
 * (so one instance, the owner of its partition, writes it), as its latest
 * snapshot plus the events after it, and every event on a history topic
 * for audit and replay.  Commands carry ids: an aggregate remembers the
 * ids it applied, in its own table entry, and answers a repeat as it
 * answered the first.  See docs/AGGREGATES.md.
 */

/** @brief Where an event handler puts the state an event leads to. */
typedef struct kbus_fold kbus_fold;

/**
 * @brief Sets the state that the event being applied leads to.
 *
 * \p next (of the aggregate's state type) is encoded at once: it may
 * point into the old state, the event and the stack.  Not calling it
 * leaves the state as it was.
 * @returns 0, INVALID_ARGUMENT (another type), RESOURCE_EXHAUSTED.
 */
int kbus_fold_set(kbus_fold *fold, const ProtobufCMessage *next);

/**
 * @brief Applies one event to a state: calls kbus_fold_set() with the
 *        state that follows, or nothing when the event changes nothing.
 *
 * \p state is never NULL: an aggregate starts from the state message with
 * every field at its default.  Must depend on \p state and \p event only,
 * so that a replay gives the same state.  A non-zero return (a kbus
 * status) means the event cannot be applied: a load or a replay fails with
 * DATA_LOSS, an append with that status.
 * @remark Called on the loop thread inside kbus_aggregate_load() and
 *         kbus_aggregate_append(), and by kbus_aggregate_replay().
 */
typedef int (*kbus_aggregate_apply_fn)(kbus_fold *fold,
                                       const ProtobufCMessage *state,
                                       const ProtobufCMessage *event);

/** @brief An aggregate type.  Static data of the program. */
typedef struct kbus_aggregate_desc {
        /** The aggregate type; names its table, whose changelog is
         *  "<group>.<name>.changelog".  Same rules as a table name. */
        const char *name;
        /** Every event, keyed by aggregate id, as kbus.AggregateEvent
         *  (kbus/aggregate.proto): the audit trail and what a replay from
         *  scratch reads.  Keep it (retention.ms=-1) and do not compact it. */
        const char *history_topic;
        const ProtobufCMessageDescriptor *state; /**< the state's type */
        const ProtobufCMessageDescriptor *event; /**< the events' type */
        kbus_aggregate_apply_fn apply;
        /** A snapshot every this many events, so that a load applies at
         *  most this many; 0: 100. */
        uint32_t snapshot_every;
        /** The last this many commands of each aggregate are remembered
         *  with their answers: an id is known again while fewer than this
         *  many later commands were applied to the same aggregate; 0:
         *  100. */
        uint32_t remember;
} kbus_aggregate_desc;

/**
 * @brief Keeps aggregates of type \p ad in consumer group \p group (NULL:
 *        the runtime's group), whose handlers then load them.
 *
 * The group's commands must be keyed by aggregate id (a method's
 * key_field), all on one topic: then the commands of one aggregate are
 * handled one at a time by the one instance that owns its partition.
 * Call before kbus_runtime_start().
 * @returns 0, INVALID_ARGUMENT (a field missing), ALREADY_EXISTS,
 *          FAILED_PRECONDITION (started), RESOURCE_EXHAUSTED.
 */
int kbus_aggregate_attach(kbus_runtime *rt, const kbus_aggregate_desc *ad,
                          const char *group);

/** @brief One aggregate loaded for one command, inside a handler. */
typedef struct kbus_aggregate kbus_aggregate;

/** @brief For kbus_aggregate_append(): append whatever the version. */
#define KBUS_VERSION_ANY (-1)

/**
 * @brief Loads aggregate \p id (\p len bytes; NULL: the record's key) of
 *        type \p ad for the command \p call carries: its latest snapshot,
 *        then the events after it.
 *
 * @param command_id   the command's id ("" or NULL: no id, nothing
 *                     remembered, a repeat runs again).
 * @param correlation  the business transaction the command belongs to,
 *                     written on every event it appends (NULL: the
 *                     command id, or else the call's trace id).
 * @returns 0 with *\p aggp set: complete the call through it, with
 *          kbus_aggregate_reply(), _refuse() or _fail().  Otherwise the
 *          call has been completed and *\p aggp is NULL:
 *          ALREADY_EXISTS: the aggregate applied this command id before,
 *          and the call was answered as the first time (the same reply, or
 *          the same refusal).  Else the call was failed with the status
 *          returned: INVALID_ARGUMENT (not attached, no key, a key of
 *          another partition, or \p command_id used before for another
 *          request), DATA_LOSS (a stored event that does not decode or
 *          apply), RESOURCE_EXHAUSTED (retried).
 * @remark Loop thread, inside a handler of the aggregate's group.  One
 *         aggregate per call.
 * @remark Loop thread, inside a handler of the aggregate's group.
 */
int kbus_aggregate_load(kbus_call *call, const kbus_aggregate_desc *ad,
                        const void *id, size_t len, const char *command_id,
                        const char *correlation, kbus_aggregate **aggp);

/** @brief The state after the events so far, this command's included.
 *  @remark Owned by \p agg; valid until the next append or completion. */
const ProtobufCMessage *kbus_aggregate_state(const kbus_aggregate *agg);

/** @brief Events applied so far: 0 for an aggregate never written. */
uint64_t kbus_aggregate_version(const kbus_aggregate *agg);

/**
 * @brief Appends \p event (of the aggregate's event type) if the aggregate
 *        is at \p expected_version (KBUS_VERSION_ANY: any), and applies it.
 *
 * The event is written to the table and the history topic when the call
 * completes successfully, with its version, time, cause (the command id)
 * and correlation id.
 * @returns 0.  Otherwise the call has been failed with the status
 *          returned, nothing of it is written, and \p agg is freed:
 *          ABORTED (the aggregate is at another version: retried under the
 *          method's retry policy, then answered), INVALID_ARGUMENT (an
 *          event of another type), the apply function's status,
 *          RESOURCE_EXHAUSTED.
 */
int kbus_aggregate_append(kbus_aggregate *agg, int64_t expected_version,
                          const ProtobufCMessage *event);

/**
 * @brief Says that the command is number \p seq from \p source, a sender
 *        whose commands to this aggregate come in rising order, and drops
 *        it when the aggregate saw that number or a higher one from
 *        \p source before: a copy sent again.
 *
 * Command ids are remembered for the aggregate's last `remember` commands;
 * a copy coming later runs again.  The highest number of each source is
 * kept for good instead, so a copy is known however late it comes: use it
 * for a saga's steps, which kbus sends again after a crash (a redelivered
 * record's kbus_call_send()), behind whatever reached the aggregate
 * meanwhile.  The order holds when \p source is another aggregate and
 * \p seq its version after the events of the command that sent this one:
 * kbus_call_send() from the handlers of one aggregate's commands sends in
 * the order they were handled, copies included.  Each source costs its
 * name and a number in the aggregate's entry.
 * @returns 0: \p seq is new; it is kept when the command completes (reply
 *          or refusal).  ALREADY_EXISTS: a copy; the call has been
 *          acknowledged (an event or a one-way request) or answered
 *          ALREADY_EXISTS, and \p agg freed.  RESOURCE_EXHAUSTED: the call
 *          was failed and \p agg freed.
 */
int kbus_aggregate_from(kbus_aggregate *agg, const char *source, uint64_t seq);

/**
 * @brief Completes the command: remembers it (with \p reply), writes the
 *        aggregate, and replies with \p reply (a request), or acknowledges
 *        (\p reply NULL: an event or a one-way request).  Frees \p agg.
 * @returns what kbus_call_reply() or kbus_call_ack() returns.
 */
int kbus_aggregate_reply(kbus_aggregate *agg, const ProtobufCMessage *reply);

/**
 * @brief Completes the command with a refusal (kbus_call_refuse()): the
 *        command is remembered as refused, so a repeat is refused the same
 *        way; events appended before are kept.  Frees \p agg.
 */
int kbus_aggregate_refuse(kbus_aggregate *agg, kbus_status code,
                          const char *message);

/**
 * @brief Fails the call (kbus_call_fail()): nothing is written or
 *        remembered, so a retry or a repeat runs again.  For failures that
 *        are not the command's answer (a dependency away).  Frees \p agg.
 */
int kbus_aggregate_fail(kbus_aggregate *agg, kbus_status code,
                        const char *message);

/**
 * @brief Called for each event of an aggregate's history, in version order:
 *        its version, when it was appended (Unix epoch ms), its cause (the
 *        command id) and correlation id, the event, and the state after it
 *        (both valid during the call only).  A non-zero return stops the
 *        reading and is returned.
 */
typedef int (*kbus_history_fn)(uint64_t version, int64_t time_ms,
                               const char *cause, const char *correlation,
                               const ProtobufCMessage *event,
                               const ProtobufCMessage *state, void *arg);

/**
 * @brief Replays aggregate \p id from scratch: reads its events from the
 *        history topic, from the beginning to the end the topic has now,
 *        and applies them from the initial state.
 *
 * Repeated events are skipped.  \p fn (may be NULL) sees each event with
 * the state after it; *\p statep (may be NULL) receives the final state,
 * which the caller frees with protobuf_c_message_free_unpacked(s, NULL),
 * and *\p versionp (may be NULL) its version.
 * @returns 0 (an aggregate without events: version 0, the initial state);
 *          DATA_LOSS (a version missing: the topic lost events, or an
 *          event does not decode or apply); DEADLINE_EXCEEDED after
 *          \p timeout_ms; UNAVAILABLE (the topic's metadata); what \p fn
 *          returned.
 * @remark Blocks: for tools and audits, outside the runtime's loop
 *         (before kbus_runtime_run() or after it returns).  Reads the whole
 *         partition that holds the aggregate's events.
 */
int kbus_aggregate_replay(kbus_runtime *rt, const kbus_aggregate_desc *ad,
                          const void *id, size_t len, kbus_history_fn fn,
                          void *arg, ProtobufCMessage **statep,
                          uint64_t *versionp, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Windows                                                             */
/* ------------------------------------------------------------------ */

/**
 * Windows aggregate the records of each key over intervals of event time
 * and emit one result per key and window when the window closes
 * (docs/WINDOWS.md).  A window of size S starts at every multiple of its
 * advance A (Unix epoch milliseconds) and holds the records whose event
 * time t has start <= t < start + S: tumbling when A = S (each record in
 * one window), hopping when A < S (each in S / A of them).
 *
 * Time moves with the records, per partition: the stream time of a
 * partition is the highest event time its records have carried, and a
 * window closes once the stream time less the grace period reaches its
 * end.  Its result is then emitted, from within the handler of the record
 * that moved the time, through the window's emit callback, which publishes
 * it with kbus_call_publish(): part of that call's outcome, like its table
 * changes.  A record whose window has already closed is late: it is
 * counted (stat KBUS_STAT_WINDOW_LATE, window_late on /metrics) and then
 * refused or applied as the window's kbus_window_late policy says.
 *
 * The windows are kept in a state table of the group ("<name>", its
 * changelog "<group>.<name>.changelog"): one entry per key, holding that
 * key's windows, and one per partition for its clock.  So they are
 * restored, after a crash or a rebalance, like any table, and each result
 * is emitted once (at least once on the topic, with the same ce_id).
 *
 * A group that keeps windows handles one record at a time per partition
 * (KBUS_ORDER_PARTITION), since a record may close and emit the windows of
 * other keys of its partition.
 */
typedef struct kbus_window kbus_window;

/** @brief What a window does with a late record: one whose event time
 *         falls into a window that has closed. */
typedef enum kbus_window_late {
        /** kbus_window_add() applies it nowhere and returns OUT_OF_RANGE;
         *  the handler fails the call with it, and the record is
         *  dead-lettered.  The default. */
        KBUS_WINDOW_LATE_DEAD_LETTER = 0,
        /** The record is applied to its closed windows too, as long as they
         *  are kept (retain_ms past their end, in stream time less grace),
         *  and each such window's result is emitted again at once, with
         *  the next revision.  A record later than that is refused as with
         *  KBUS_WINDOW_LATE_DEAD_LETTER. */
        KBUS_WINDOW_LATE_UPDATE = 1,
} kbus_window_late;

/**
 * @brief Adds \p input to a window's aggregate \p value, in place: a new
 *        window's value is the message's defaults.  Returns 0, or a kbus
 *        status that kbus_window_add() returns (nothing is changed then).
 * @remark Runs inside kbus_window_add().  \p value is the window's only
 *         while this runs: it is packed on return, so a string or a
 *         repeated field may point to memory that lives at least that long
 *         (the input's, a static buffer), and is never freed by kbus.
 */
typedef int (*kbus_window_add_fn)(ProtobufCMessage *value,
                                  const ProtobufCMessage *input, void *arg);

/**
 * @brief Emits the result of window [\p start_ms, \p end_ms) of key
 *        \p key (\p len bytes), \p value its aggregate: typically
 *        publishes an event with kbus_call_publish() (or a generated
 *        <event>_publish_from()) on \p call.  \p revision is 0 when the
 *        window closes, 1, 2, ... for the updates that late records make
 *        (KBUS_WINDOW_LATE_UPDATE).  Returns 0, or a kbus status that
 *        kbus_window_add() returns, so that the call fails and is retried.
 * @remark Runs inside kbus_window_add(), in the handler of the record that
 *         closed the window, not necessarily one of \p key.  \p value is
 *         valid until it returns.
 */
typedef int (*kbus_window_emit_fn)(kbus_call *call, const void *key, size_t len,
                                   int64_t start_ms, int64_t end_ms,
                                   const ProtobufCMessage *value,
                                   uint32_t revision, void *arg);

/**
 * @brief What a window is.  Written by the user (an initialiser by field
 *        name) and copied by kbus_window_attach(), so it need not outlive
 *        the call.  New fields are appended, zero meaning what it meant
 *        before, so such initialisers keep working.
 */
typedef struct kbus_window_desc {
        /** The window's table: 1 to 237 characters of [a-zA-Z0-9._-],
         *  distinct from the group's other tables. */
        const char *name;
        /** The aggregate's message type. */
        const ProtobufCMessageDescriptor *value;
        int64_t size_ms;    /**< length of a window, > 0 */
        int64_t advance_ms; /**< between window starts; 0: size_ms */
        int64_t grace_ms;   /**< how long past its end a window waits */
        /** The input's field holding its event time: an integer field of
         *  Unix epoch milliseconds, or a google.protobuf.Timestamp.  NULL:
         *  the record's CloudEvents time (kbus_call_event_time()). */
        const char *time_field;
        kbus_window_late late;
        /** KBUS_WINDOW_LATE_UPDATE: how long closed windows are kept for
         *  late records, in stream time past their close. */
        int64_t retain_ms;
        kbus_window_add_fn add;   /**< required */
        kbus_window_emit_fn emit; /**< required */
} kbus_window_desc;

/**
 * @brief Keeps window \p desc for consumer group \p group (NULL: the
 *        runtime's group), whose handlers then feed it with
 *        kbus_window_add().  Attaches its table (kbus_table_attach()) and
 *        makes the group handle one record at a time per partition.
 *
 * Call before kbus_runtime_start().
 * @param wp  set to the window, which the runtime owns: valid until
 *            kbus_runtime_free().
 * @returns 0; INVALID_ARGUMENT (a field missing or out of range: size_ms
 *          <= 0, advance_ms < 0 or > size_ms, more than 1000 windows per
 *          record, grace_ms or retain_ms < 0, no add or emit), or what
 *          kbus_table_attach() returns.
 */
int kbus_window_attach(kbus_runtime *rt, const kbus_window_desc *desc,
                       const char *group, kbus_window **wp);

/**
 * @brief Adds the record of \p call, decoded as \p input, to the windows
 *        of its key (the record's key) that its event time falls into;
 *        then, if its time closes windows of its partition, emits them
 *        (\p desc's emit) and drops them from the table.
 *
 * Everything it does is part of the call's outcome: nothing is written or
 * sent unless the handler completes the call successfully (then its
 * changes are applied once, its results sent at least once with the same
 * ids).  The usual handler:
 * @code
 * int rc = kbus_window_add(call, w, &ev->base, NULL);
 * if (rc) {
 *         kbus_call_fail(call, rc, "windowing a page view");
 *         return;     // OUT_OF_RANGE (late): dead-lettered
 * }
 * kbus_call_ack(call);
 * @endcode
 * @returns 0; OUT_OF_RANGE (a late record refused by the policy);
 *          INVALID_ARGUMENT (no record key, no event time or a bad one,
 *          not a handler of the window's group); what the callbacks or the
 *          table returned.  The reason is logged.
 * @remark Loop thread, inside a handler of the window's group (before it
 *         completes the call); \p arg goes to add and emit.
 */
int kbus_window_add(kbus_call *call, kbus_window *w,
                    const ProtobufCMessage *input, void *arg);

/* ------------------------------------------------------------------ */
/* Embedded broker                                                     */
/* ------------------------------------------------------------------ */

/**
 * @brief A Kafka-protocol broker held in memory, listening on loopback
 *        (librdkafka's mock cluster).  See docs for its limits.
 */
typedef struct kbus_broker kbus_broker;

/** @brief Starts \p n_brokers brokers. */
int kbus_broker_new(kbus_broker **brp, int n_brokers, char *errstr,
                    size_t errlen);
/** @brief "127.0.0.1:PORT,..." */
const char *kbus_broker_bootstrap(const kbus_broker *br);
/** @brief Creates \p topic with \p partitions partitions (before first use). */
int kbus_broker_create_topic(kbus_broker *br, const char *topic,
                             int partitions);
/**
 * @brief Takes broker \p broker_id (1..n; -1: every broker) down
 *        (\p up 0), or brings it up again (\p up 1).  A broker down closes its connections and
 *        refuses new ones; its partitions stay where they are, so clients
 *        wait for it.  Nothing it stored is lost.
 * @returns 0; INVALID_ARGUMENT for an unknown broker.
 */
int kbus_broker_set_up(kbus_broker *br, int32_t broker_id, int up);
/** @brief The mock cluster, for fault injection with rdkafka_mock.h.  Take
 *         brokers down and up with kbus_broker_set_up(). */
struct rd_kafka_mock_cluster_s *kbus_broker_mock(kbus_broker *br);
/** @brief Stops the brokers; NULL is fine. */
void kbus_broker_free(kbus_broker *br);

#ifdef __cplusplus
}
#endif
#endif /* KBUS_KBUS_H */
