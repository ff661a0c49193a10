/*
 * Everything kbus asks of librdkafka in one place: the configuration every
 * client shares, the bridge that wakes the libevent loop when a librdkafka
 * queue has work, producing, delivery reports, and closing consumers.
 *
 * Delivery reports: whatever produces a message embeds a kbus_dr, sets its
 * delivered() function and passes the kbus_dr as the message's opaque; the
 * producer's report callback calls it.  So this module never knows who
 * produced what, and no tag is switched on.
 */
#ifndef KBUS_KAFKA_H
#define KBUS_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "kbus_int.h"

/* ---- the bridge: a librdkafka queue woken through a pipe ---- */

typedef struct kbus_bridge {
        rd_kafka_queue_t *queue;
        int fds[2];
        struct event *ev;
        void (*drain)(void *owner); /* polls the queue until it is empty */
        void *owner;
} kbus_bridge;

/** Sets \p b's fds to -1, so kbus__bridge_fini is safe before init. */
void kbus__bridge_clear(kbus_bridge *b);

/** Watches \p q (taken: destroyed by kbus__bridge_fini) on \p base. */
int kbus__bridge_init(kbus_bridge *b, struct event_base *base,
                      rd_kafka_queue_t *q, void (*drain)(void *owner),
                      void *owner);
void kbus__bridge_fini(kbus_bridge *b);

/* ---- configuration ---- */

/** What every client of a runtime shares. */
typedef struct kbus_kafka_site {
        const kbus_config *conf;
        const char *bootstrap; /* resolved: the embedded broker's address */
        bool low_latency;      /* the embedded broker's short fetch waits */
} kbus_kafka_site;

/**
 * A new librdkafka configuration for a consumer or the producer: kbus's
 * defaults, then the user's "kafka" properties, then the "consumer" or
 * "producer" ones.  On error, names the property at fault in \p errstr.
 */
int kbus__kafka_conf(const kbus_kafka_site *site, bool consumer,
                     rd_kafka_conf_t **confp, char *errstr, size_t errlen);

/* ---- producing ---- */

/** A delivery-report target; see the top of this file. */
typedef struct kbus_dr {
        void (*delivered)(struct kbus_dr *dr, const rd_kafka_message_t *m);
} kbus_dr;

/** The producer's delivery-report callback (rd_kafka_conf_set_dr_msg_cb). */
void kbus__kafka_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
                           void *opaque);

/**
 * Produces with headers.  Takes \p value (freed by librdkafka once sent,
 * or here on failure) and \p hdrs.  \p dr gets the delivery report; NULL:
 * a failure is logged.  Returns 0 or a kbus status: RESOURCE_EXHAUSTED
 * (queue full), OUT_OF_RANGE (too large), NOT_FOUND, UNAVAILABLE.
 */
int kbus__kafka_produce(rd_kafka_t *producer, const char *topic,
                        int32_t partition, const void *key, size_t key_len,
                        void *value, size_t len, rd_kafka_headers_t *hdrs,
                        kbus_dr *dr);

/**
 * The same with a copy of \p value, which the caller keeps (librdkafka
 * puts the copy in the message's own allocation: no allocation or copy
 * here), to \p rkt, a handle the caller holds on \p topic (NULL: the topic
 * is found by its name, as kbus__kafka_produce finds it).
 */
int kbus__kafka_produce_copy(rd_kafka_t *producer, rd_kafka_topic_t *rkt,
                             const char *topic, int32_t partition,
                             const void *key, size_t key_len, const void *value,
                             size_t len, rd_kafka_headers_t *hdrs, kbus_dr *dr);

/** The kbus status a failed delivery report means. */
int kbus__kafka_status(rd_kafka_resp_err_t err);

/** "was not delivered", or "has an unknown outcome" when librdkafka says
 *  the message may have been written after all. */
const char *kbus__kafka_outcome(const rd_kafka_message_t *m);

/** Packs \p msg into a new buffer for kbus__kafka_produce (NULL: no memory). */
void *kbus__pack(const ProtobufCMessage *msg, size_t *len);

/* ---- consumers ---- */

/** Closes a consumer within \p grace_ms; true if it closed. */
bool kbus__consumer_close(rd_kafka_t *rk, int64_t grace_ms, const char *what);

/** Destroys a consumer; one that did not close is not closed again. */
void kbus__consumer_destroy(rd_kafka_t *rk, bool closed);

#endif
