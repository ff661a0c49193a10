/*
 * librdkafka, as kbus uses it; see kafka.h.  The bridge: librdkafka writes
 * to a pipe when a queue goes from empty to non-empty
 * (rd_kafka_queue_io_event_enable), libevent wakes us, and we drain the
 * pipe and then the queue until it is empty, since no second wake-up comes
 * for a queue that never emptied.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"

/* ---- bridge ---- */

static void bridge_wake(evutil_socket_t fd, short what, void *arg) {
        kbus_bridge *b = arg;
        char buf[64];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        b->drain(b->owner);
}

void kbus__bridge_clear(kbus_bridge *b) {
        b->queue = NULL;
        b->ev = NULL;
        b->fds[0] = b->fds[1] = -1;
}

int kbus__bridge_init(kbus_bridge *b, struct event_base *base,
                      rd_kafka_queue_t *q, void (*drain)(void *owner),
                      void *owner) {
        b->queue = q;
        b->drain = drain;
        b->owner = owner;
        if (pipe2(b->fds, O_NONBLOCK | O_CLOEXEC) == -1) {
                b->fds[0] = b->fds[1] = -1;
                return KBUS_RESOURCE_EXHAUSTED;
        }
        b->ev =
            event_new(base, b->fds[0], EV_READ | EV_PERSIST, bridge_wake, b);
        if (!b->ev || event_add(b->ev, NULL) == -1)
                return KBUS_RESOURCE_EXHAUSTED;
        rd_kafka_queue_io_event_enable(q, b->fds[1], "1", 1);
        /* The queue may already hold events from before the fd was set. */
        event_active(b->ev, EV_READ, 0);
        return 0;
}

void kbus__bridge_fini(kbus_bridge *b) {
        if (b->queue) {
                /* Stop librdkafka writing to the pipe before closing it. */
                rd_kafka_queue_io_event_enable(b->queue, -1, NULL, 0);
                rd_kafka_queue_destroy(b->queue);
                b->queue = NULL;
        }
        if (b->ev) {
                event_free(b->ev);
                b->ev = NULL;
        }
        for (int i = 0; i < 2; i++)
                if (b->fds[i] >= 0) {
                        close(b->fds[i]);
                        b->fds[i] = -1;
                }
}

/* ---- librdkafka configuration ---- */

static void rdkafka_log(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf) {
        /* syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug */
        int lvl = level <= 3   ? KBUS_LOG_ERROR
                  : level == 4 ? KBUS_LOG_WARN
                  : level <= 6 ? KBUS_LOG_INFO
                               : KBUS_LOG_DEBUG;
        if (lvl >= kbus__log_min_level)
                kbus__log(lvl, "librdkafka", NULL, "%s: %s: %s",
                          rd_kafka_name(rk), fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                    const char *where, char *errstr, size_t errlen) {
        char rkerr[256];
        if (rd_kafka_conf_set(conf, name, value, rkerr, sizeof(rkerr)) !=
            RD_KAFKA_CONF_OK)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s property %s=%s: %s", where, name, value,
                                 rkerr);
        return 0;
}

static int apply_props(rd_kafka_conf_t *conf, const kbus_props *p,
                       const char *where, char *errstr, size_t errlen) {
        for (size_t i = 0; i < p->n; i++) {
                int rc = conf_set(conf, p->names[i], p->values[i], where,
                                  errstr, errlen);
                if (rc)
                        return rc;
        }
        return 0;
}

int kbus__kafka_conf(const kbus_kafka_site *site, bool consumer,
                     rd_kafka_conf_t **confp, char *errstr, size_t errlen) {
        /* kbus's defaults first, so the user's properties override them. */
        static const char *const common[][2] = {
            {"socket.nagle.disable", "true"},
        };
        static const char *const producer_defaults[][2] = {
            {"partitioner", "murmur2_random"},
            {"enable.idempotence", "true"},
            /* librdkafka 2.0.2's idempotent producer, with several requests
             * in flight, can take a batch that failed during a leader change
             * as written when a later one succeeds: the events vanish after
             * a successful delivery report.  With one, nothing can overtake
             * a failed batch; kbus-bench measured no cost on the embedded
             * broker (docs/RELIABILITY.md, section 9). */
            {"max.in.flight.requests.per.connection", "1"},
        };
        static const char *const consumer_defaults[][2] = {
            {"enable.auto.offset.store", "false"},
            {"auto.offset.reset", "earliest"},
            {"allow.auto.create.topics", "true"},
            {"enable.partition.eof", "false"},
            /* Commit what was stored every second (Kafka's default is 5 s):
             * after a crash, at most that much finished work comes back. */
            {"auto.commit.interval.ms", "1000"},
        };
        /* The embedded broker answers an idle fetch only after
         * fetch.wait.max.ms, so every hop would wait that long. */
        static const char *const low_latency_consumer[][2] = {
            {"fetch.wait.max.ms", "5"},
            {"fetch.error.backoff.ms", "10"},
            {"session.timeout.ms", "6000"},
            {"heartbeat.interval.ms", "500"},
            /* Not a divisor of the embedded broker's join delays (3 s for
             * a new group, the session timeout less 1 s after): librdkafka
             * 2.0.2 makes a group leader that meets any metadata answer
             * while it waits for its own (to assign) join again, and with a
             * 1 s refresh the periodic answer came in that very
             * millisecond join after join, for tens of seconds. */
            {"topic.metadata.refresh.interval.ms", "1300"},
            /* Reconnect within the 6 s session after a short outage. */
            {"reconnect.backoff.max.ms", "1000"},
        };
        static const char *const low_latency_producer[][2] = {
            {"linger.ms", "1"},
            {"topic.metadata.refresh.interval.ms", "1000"},
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const kbus_config *c = site->conf;
        int rc = 0;

#define SET_ALL(table)                                                         \
        for (size_t i = 0; !rc && i < sizeof(table) / sizeof(table[0]); i++)   \
                rc = conf_set(conf, table[i][0], table[i][1], "default",       \
                              errstr, errlen);
        rc = conf_set(conf, "bootstrap.servers", site->bootstrap, "config",
                      errstr, errlen);
        if (!rc)
                rc = conf_set(conf, "client.id", c->name, "config", errstr,
                              errlen);
        SET_ALL(common);
        if (consumer) {
                SET_ALL(consumer_defaults);
        } else {
                SET_ALL(producer_defaults);
        }
        if (site->low_latency && consumer) {
                SET_ALL(low_latency_consumer);
        } else if (site->low_latency) {
                SET_ALL(low_latency_producer);
        }
#undef SET_ALL
        if (!rc)
                rc = apply_props(conf, &c->kafka, "kafka", errstr, errlen);
        if (!rc)
                rc = apply_props(conf, consumer ? &c->consumer : &c->producer,
                                 consumer ? "consumer" : "producer", errstr,
                                 errlen);
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return rc;
        }
        rd_kafka_conf_set_log_cb(conf, rdkafka_log);
        *confp = conf;
        return 0;
}

/* ---- producing ---- */

void *kbus__pack(const ProtobufCMessage *msg, size_t *len) {
        size_t n = protobuf_c_message_get_packed_size(msg);
        /* librdkafka frees values it was given with RD_KAFKA_MSG_F_FREE
         * using free(), so this buffer comes from malloc directly. */
        uint8_t *buf = kbus__malloc(n ? n : 1);
        if (!buf)
                return NULL;
        *len = protobuf_c_message_pack(msg, buf);
        return buf;
}

/* rd_kafka_producev() to \p rkt, or by the name \p topic when it is NULL;
 * headers destroyed on failure, and a failure logged. */
static int produce(rd_kafka_t *producer, rd_kafka_topic_t *rkt,
                   const char *topic, int32_t partition, const void *key,
                   size_t key_len, void *value, size_t len, int flags,
                   rd_kafka_headers_t *hdrs, kbus_dr *dr) {
        rd_kafka_resp_err_t err =
            rkt ? rd_kafka_producev(producer, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_KEY(key, key_len),
                                    RD_KAFKA_V_VALUE(value, len),
                                    RD_KAFKA_V_MSGFLAGS(flags),
                                    RD_KAFKA_V_HEADERS(hdrs),
                                    RD_KAFKA_V_OPAQUE(dr), RD_KAFKA_V_END)
                : rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_KEY(key, key_len),
                                    RD_KAFKA_V_VALUE(value, len),
                                    RD_KAFKA_V_MSGFLAGS(flags),
                                    RD_KAFKA_V_HEADERS(hdrs),
                                    RD_KAFKA_V_OPAQUE(dr), RD_KAFKA_V_END);
        if (!err)
                return 0;
        rd_kafka_headers_destroy(hdrs);
        /* A full queue is flow control, not a fault: the caller hears
         * RESOURCE_EXHAUSTED and waits for room (kbus_runtime_when_room), a
         * handler's call is retried.  A generator meets it at every refill. */
        KBUS_LOG(err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? KBUS_LOG_DEBUG
                                                      : KBUS_LOG_WARN,
                 "producer", "cannot produce to %s: %s",
                 rkt ? rd_kafka_topic_name(rkt) : topic, rd_kafka_err2str(err));
        return kbus__kafka_status(err);
}

int kbus__kafka_produce(rd_kafka_t *producer, const char *topic,
                        int32_t partition, const void *key, size_t key_len,
                        void *value, size_t len, rd_kafka_headers_t *hdrs,
                        kbus_dr *dr) {
        int rc = produce(producer, NULL, topic, partition, key, key_len, value,
                         len, value ? RD_KAFKA_MSG_F_FREE : 0, hdrs, dr);
        if (rc)
                kbus__free(value);
        return rc;
}

int kbus__kafka_produce_copy(rd_kafka_t *producer, rd_kafka_topic_t *rkt,
                             const char *topic, int32_t partition,
                             const void *key, size_t key_len, const void *value,
                             size_t len, rd_kafka_headers_t *hdrs,
                             kbus_dr *dr) {
        return produce(producer, rkt, topic, partition, key, key_len,
                       (void *)value, len, RD_KAFKA_MSG_F_COPY, hdrs, dr);
}

int kbus__kafka_status(rd_kafka_resp_err_t err) {
        return err == RD_KAFKA_RESP_ERR_NO_ERROR      ? KBUS_OK
               : err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? KBUS_RESOURCE_EXHAUSTED
               : err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? KBUS_OUT_OF_RANGE
               : err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                       err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC
                   ? KBUS_NOT_FOUND
                   : KBUS_UNAVAILABLE;
}

const char *kbus__kafka_outcome(const rd_kafka_message_t *m) {
        return rd_kafka_message_status(m) ==
                       RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                   ? "has an unknown outcome"
                   : "was not delivered";
}

void kbus__kafka_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
                           void *opaque) {
        kbus_dr *dr = m->_private;
        if (dr) {
                dr->delivered(dr, m);
                return;
        }
        /* Nobody waits for this one (a courtesy reply): say what
         * happened to it. */
        if (m->err)
                KBUS_LOG(KBUS_LOG_ERROR, "producer", "message to %s %s: %s",
                         rd_kafka_topic_name(m->rkt), kbus__kafka_outcome(m),
                         rd_kafka_err2str(m->err));
}

const void *kbus_record_key(const ProtobufCMessage *msg, const char *field,
                            size_t *len, char buf[32]) {
        const ProtobufCFieldDescriptor *f;
        const char *base = (const char *)msg;
        if (!field)
                return NULL;
        f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                            field);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
                return NULL;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(const char *const *)(base + f->offset);
                if (!s || !*s)
                        return NULL;
                *len = strlen(s);
                return s;
        }
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b =
                    (const ProtobufCBinaryData *)(base + f->offset);
                if (!b->len)
                        return NULL;
                *len = b->len;
                return b->data;
        }
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                *len = (size_t)snprintf(buf, 32, "%" PRId32,
                                        *(const int32_t *)(base + f->offset));
                return buf;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                *len = (size_t)snprintf(buf, 32, "%" PRIu32,
                                        *(const uint32_t *)(base + f->offset));
                return buf;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                *len = (size_t)snprintf(buf, 32, "%" PRId64,
                                        *(const int64_t *)(base + f->offset));
                return buf;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                *len = (size_t)snprintf(buf, 32, "%" PRIu64,
                                        *(const uint64_t *)(base + f->offset));
                return buf;
        default:
                return NULL;
        }
}

/* ---- closing consumers ---- */

bool kbus__consumer_close(rd_kafka_t *rk, int64_t grace_ms, const char *what) {
        int64_t end = kbus__now_ms() + grace_ms;
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
        bool closed;

        if (error) {
                KBUS_LOG(KBUS_LOG_WARN, "consumer", "%s: close: %s", what,
                         rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else {
                /* Events, not callbacks: librdkafka asserts when a
                 * callback-only poll meets an op meant for the application
                 * (a consumer error, say).  Our partitions were let go
                 * already, so a revoke only needs the unassign (librdkafka
                 * then commits what was stored); anything else is dropped.
                 *
                 * rd_kafka_assign() waits without a bound for the group to
                 * serve it, and a group that ends with the call still
                 * queued never does (librdkafka #4884).  In 2.0.2 a closing
                 * group that handed out a rebalance event does not end
                 * before the answer (RD_KAFKA_CGRP_WAIT_ASSIGN_CALL holds
                 * rd_kafka_cgrp_try_terminate), and once it has ended the
                 * call fails at once on its disabled queue.  Not answering
                 * would be worse: the close would time out and
                 * rd_kafka_destroy() could wait for the group for ever.  And
                 * rd_kafka_assignment() goes through the same queue, so it
                 * cannot tell safely whether there is anything to unassign. */
                while (!rd_kafka_consumer_closed(rk) && kbus__now_ms() < end) {
                        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
                        if (!ev)
                                continue;
                        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                                rd_kafka_assign(rk, NULL);
                        rd_kafka_event_destroy(ev);
                }
        }
        closed = rd_kafka_consumer_closed(rk);
        if (!closed)
                KBUS_LOG(KBUS_LOG_WARN, "consumer",
                         "%s: not closed within %" PRId64
                         " ms (broker unreachable?); leaving without it",
                         what, grace_ms);
        rd_kafka_queue_destroy(q);
        return closed;
}

void kbus__consumer_destroy(rd_kafka_t *rk, bool closed) {
        /* An unclosed consumer would try to close again, and could wait
         * for a broker that is gone. */
        rd_kafka_destroy_flags(
            rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}
