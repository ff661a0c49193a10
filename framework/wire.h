/*
 * The kbus/1 wire format (docs/WIRE.md), both directions: the name of every
 * header kbus writes or reads (the kbus tool uses the same names), reading
 * the headers of a record in one pass, and writing the headers of each kind
 * of record kbus produces (request, reply, event, dead letter).  Read
 * values point into the librdkafka message and live as long as it does.
 */
#ifndef KBUS_WIRE_H
#define KBUS_WIRE_H

#include <librdkafka/rdkafka.h>

#include "kbus_int.h"

#define KBUS_H_METHOD "kbus-method"
#define KBUS_H_CORRELATION "kafka_correlationId"
#define KBUS_H_REPLY_TOPIC "kafka_replyTopic"
#define KBUS_H_REPLY_PARTITION "kafka_replyPartition"
#define KBUS_H_DEADLINE "kbus-deadline"
#define KBUS_H_STATUS "kbus-status"
#define KBUS_H_STATUS_MESSAGE "kbus-status-message"
#define KBUS_H_ATTEMPTS "kbus-attempts"
#define KBUS_H_TRACEPARENT "traceparent"
#define KBUS_H_TRACESTATE "tracestate"
#define KBUS_H_CONTENT_TYPE "content-type"
#define KBUS_CONTENT_TYPE "application/protobuf"

/* CloudEvents binary mode (events). */
#define KBUS_H_CE_SPECVERSION "ce_specversion"
#define KBUS_H_CE_ID "ce_id"
#define KBUS_H_CE_SOURCE "ce_source"
#define KBUS_H_CE_TYPE "ce_type"
#define KBUS_H_CE_TIME "ce_time"

/* Changelog records of state tables (docs/STATE.md). */
/* "<offset> <attempt> <i>/<n> <committed> <topic>": <committed>, all below
 * it were done; records of older kbus have "<offset> <attempt> <i>/<n>
 * <topic>" and the mark in a header of its own, kbus-committed. */
#define KBUS_H_SOURCE "kbus-source"
#define KBUS_H_COMMITTED "kbus-committed"
#define KBUS_H_OUTBOX "kbus-outbox"       /* binary: what the record sent */
#define KBUS_H_TABLES "kbus-tables" /* decimal: tables the call wrote, if > 1 */

/* Dead letters: Spring for Apache Kafka's names, and kbus's own. */
#define KBUS_H_DLT_PREFIX "kafka_dlt-"
#define KBUS_H_DLT_TOPIC "kafka_dlt-original-topic"
#define KBUS_H_DLT_PARTITION "kafka_dlt-original-partition" /* 4 bytes BE */
#define KBUS_H_DLT_OFFSET "kafka_dlt-original-offset"       /* 8 bytes BE */
#define KBUS_H_DLT_TIMESTAMP "kafka_dlt-original-timestamp" /* 8 bytes BE */
#define KBUS_H_DLT_GROUP "kafka_dlt-original-consumer-group"
#define KBUS_H_DLT_FQCN "kafka_dlt-exception-fqcn"
#define KBUS_H_DLT_MESSAGE "kafka_dlt-exception-message"
#define KBUS_H_DLT_VALUE_DROPPED "kbus-dlt-value-dropped"

#define KBUS_CORRELATION_LEN 16
#define KBUS_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

/** What a request or event record says about itself. */
typedef struct kbus_wire_in {
        const char *method; /* not NUL-terminated */
        size_t method_len;
        const uint8_t *corr;
        size_t corr_len;
        const char *reply_topic; /* not NUL-terminated */
        size_t reply_topic_len;
        int32_t reply_partition;    /* -1: none */
        int64_t deadline_ms;        /* 0: none */
        uint32_t attempts;          /* from kbus-attempts; 0 if absent */
        int status;                 /* replies: kbus-status, -1 if absent */
        const char *status_message; /* not NUL-terminated */
        size_t status_message_len;
        const char *ce_type; /* events */
        size_t ce_type_len;
        char traceparent[KBUS_TRACEPARENT_LEN + 1]; /* "" if none/invalid */
} kbus_wire_in;

/**
 * Reads the kbus headers of \p msg.  Returns 0, or KBUS_INVALID_ARGUMENT
 * with the reason in \p why for a malformed header (a duplicated one, a
 * non-numeric deadline, a kafka_replyPartition not 4 bytes long...).
 */
int kbus__wire_read(const rd_kafka_message_t *msg, kbus_wire_in *in, char *why,
                    size_t whylen);

/**
 * Copies the header values \p in points to (method, correlation id, reply
 * topic, status message, ce_type) into \p buf, or, when they do not fit,
 * into one allocation stored in *\p heap (the caller frees it), and points
 * \p in there: the record's parsed headers may then be let go.  Returns 0,
 * or KBUS_RESOURCE_EXHAUSTED (nothing changed).
 */
int kbus__wire_keep(kbus_wire_in *in, char *buf, size_t buflen, char **heap);

/** The same, from a header list (NULL: none), for tests and fuzzing. */
int kbus__wire_read_headers(const rd_kafka_headers_t *hdrs, kbus_wire_in *in,
                            char *why, size_t whylen);

/* ---- writing: each returns a new header list (librdkafka aborts when
 * out of memory, so these cannot fail) for rd_kafka_producev ---- */

/** A request: \p reply_topic NULL for a one-way call, \p deadline_ms 0
 *  for none. */
rd_kafka_headers_t *kbus__wire_request(const char *method_path,
                                       const uint8_t *corr, size_t corr_len,
                                       const char *reply_topic,
                                       int32_t reply_partition,
                                       int64_t deadline_ms,
                                       const char *traceparent);

/** A reply with \p status; \p message is written only for an error. */
rd_kafka_headers_t *kbus__wire_reply(const uint8_t *corr, size_t corr_len,
                                     int status, const char *message,
                                     const char *traceparent);

/** A CloudEvent in binary mode, timed now. */
rd_kafka_headers_t *kbus__wire_event(const char *id, const char *source,
                                     const char *type, const char *traceparent);

/** What a dead letter says about the record it keeps. */
typedef struct kbus_wire_dlt {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp;
        const char *group;
        const char *error_class; /* "kbus.DecodeError", ... */
        const char *error_message;
        uint32_t attempts;
        int64_t value_dropped; /* the value's size when left out, else -1 */
} kbus_wire_dlt;

/** Adds the dead-letter headers to \p h (a copy of the original's). */
void kbus__wire_dead_letter(rd_kafka_headers_t *h, const kbus_wire_dlt *d);

/**
 * Reads an RFC 3339 time ("2024-05-01T12:00:00.123Z", any number of
 * fraction digits, "Z" or an offset such as "+02:00"; a lower-case "t" or
 * "z", or a space for "T", as RFC 3339 allows) of \p len bytes into Unix
 * epoch milliseconds (the fraction cut to milliseconds).  Returns 0, or -1
 * when it is not such a time.
 */
int kbus__wire_time_parse(const char *s, size_t len, int64_t *ms);

/** A new version 4 UUID as text, for ce_id. */
void kbus__uuid4(char out[37]);

/** Fills \p out with a new W3C traceparent: a child of \p parent, which is
 * NULL, "" or one that kbus__wire_read_headers accepted; else a new trace. */
void kbus__trace_child(const char *parent, char out[KBUS_TRACEPARENT_LEN + 1]);

/** Fast non-cryptographic random bytes (ids, jitter), seeded from the OS. */
void kbus__random_bytes(void *buf, size_t n);
uint64_t kbus__random_u64(void);

/** Writes \p v as 4 big-endian bytes. */
void kbus__be32(uint8_t out[4], uint32_t v);
void kbus__be64(uint8_t out[8], uint64_t v);

#endif
