/*
 * The runtime: one event_base, one producer, a reply consumer and one
 * consumer per consumer group, all bridged into libevent.  This file holds
 * the lifecycle (new, start, run, shutdown, free), the librdkafka
 * configuration every client shares, and the bridge: librdkafka writes to
 * a pipe when a queue goes from empty to non-empty
 * (rd_kafka_queue_io_event_enable), libevent wakes us, and we drain the
 * pipe and then the queue until it is empty, since no second wake-up comes
 * for a queue that never emptied.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* ---- bridge ---- */

static void bridge_wake(evutil_socket_t fd, short what, void *arg) {
        kbus_bridge *b = arg;
        char buf[64];
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        b->drain(b->owner);
}

int kbus__bridge_init(kbus_bridge *b, kbus_runtime *rt, rd_kafka_queue_t *q,
                      void (*drain)(void *owner), void *owner) {
        b->queue = q;
        b->drain = drain;
        b->owner = owner;
        if (pipe2(b->fds, O_NONBLOCK | O_CLOEXEC) == -1) {
                b->fds[0] = b->fds[1] = -1;
                return KBUS_RESOURCE_EXHAUSTED;
        }
        b->ev = event_new(rt->base, b->fds[0], EV_READ | EV_PERSIST,
                          bridge_wake, b);
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

static int conf_set(rd_kafka_conf_t *conf, const char *name,
                    const char *value, const char *where, char *errstr,
                    size_t errlen) {
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

int kbus__kafka_conf(kbus_runtime *rt, bool consumer, rd_kafka_conf_t **confp,
                     char *errstr, size_t errlen) {
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
            {"topic.metadata.refresh.interval.ms", "1000"},
            /* Reconnect within the 6 s session after a short outage. */
            {"reconnect.backoff.max.ms", "1000"},
        };
        static const char *const low_latency_producer[][2] = {
            {"linger.ms", "1"},
            {"topic.metadata.refresh.interval.ms", "1000"},
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const kbus_config *c = rt->conf;
        int rc = 0;

#define SET_ALL(table)                                                         \
        for (size_t i = 0; !rc && i < sizeof(table) / sizeof(table[0]); i++) \
                rc = conf_set(conf, table[i][0], table[i][1], "default",      \
                              errstr, errlen);
        rc = conf_set(conf, "bootstrap.servers", rt->bootstrap, "config",
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
        if (rt->low_latency && consumer) {
                SET_ALL(low_latency_consumer);
        } else if (rt->low_latency) {
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
        rd_kafka_conf_set_opaque(conf, rt);
        *confp = conf;
        return 0;
}

/* ---- closing consumers ---- */

bool kbus__consumer_close(kbus_runtime *rt, rd_kafka_t *rk, const char *what) {
        int64_t end = kbus__now_ms() + rt->conf->shutdown_grace_ms;
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
                 * then commits what was stored); anything else is dropped. */
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
                         what, rt->conf->shutdown_grace_ms);
        rd_kafka_queue_destroy(q);
        return closed;
}

void kbus__consumer_destroy(rd_kafka_t *rk, bool closed) {
        /* An unclosed consumer would try to close again, and could wait
         * for a broker that is gone. */
        rd_kafka_destroy_flags(rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
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

int kbus__produce(kbus_runtime *rt, const char *topic, int32_t partition,
                  const void *key, size_t key_len, void *value, size_t len,
                  rd_kafka_headers_t *hdrs, void *opaque) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rt->producer, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE(value, len),
            RD_KAFKA_V_MSGFLAGS(value ? RD_KAFKA_MSG_F_FREE : 0),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque),
            RD_KAFKA_V_END);
        if (!err)
                return 0;
        rd_kafka_headers_destroy(hdrs);
        kbus__free(value);
        KBUS_LOG(KBUS_LOG_WARN, "producer", "cannot produce to %s: %s", topic,
                 rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? KBUS_RESOURCE_EXHAUSTED
               : err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? KBUS_OUT_OF_RANGE
               : err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                       err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC
                   ? KBUS_NOT_FOUND
                   : KBUS_UNAVAILABLE;
}

const void *kbus__key_of(const ProtobufCMessage *msg, const char *field,
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

void kbus__outgoing_trace(kbus_runtime *rt,
                          char out[KBUS_TRACEPARENT_LEN + 1]) {
        kbus__trace_child(rt->current ? rt->current->in.traceparent : NULL,
                          out);
}

/* Delivery reports and producer errors. */
static void producer_drain(void *owner) {
        kbus_runtime *rt = owner;
        while (rd_kafka_poll(rt->producer, 0) > 0)
                ;
}

static void producer_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque) {
        KBUS_LOG(err == RD_KAFKA_RESP_ERR__FATAL ? KBUS_LOG_ERROR
                                                 : KBUS_LOG_WARN,
                 "kafka", "%s: %s", rd_kafka_name(rk), reason);
}

/* ---- lifecycle ---- */

int kbus_runtime_new(kbus_runtime **rtp, kbus_config **confp,
                     struct event_base *base, char *errstr, size_t errlen) {
        char rkerr[512];
        rd_kafka_conf_t *pconf = NULL;
        kbus_config *conf = *confp;
        kbus_runtime *rt;
        int rc;

        rc = kbus__config_apply_env(conf, errstr, errlen);
        if (rc)
                return rc;
        rt = kbus__calloc(1, sizeof(*rt));
        if (!rt)
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        rt->conf = conf;
        rt->producer_bridge.fds[0] = rt->producer_bridge.fds[1] = -1;
        rt->reply_bridge.fds[0] = rt->reply_bridge.fds[1] = -1;
        kbus__log_min_level = conf->log_level;
        snprintf(rt->ce_source, sizeof(rt->ce_source), "/%s", conf->name);

        if (base) {
                rt->base = base;
        } else {
                rt->base = event_base_new();
                rt->own_base = true;
                if (!rt->base) {
                        rc = kbus__err(errstr, errlen, KBUS_INTERNAL,
                                       "cannot create an event_base");
                        goto fail;
                }
        }

        rc = kbus__groups_init(rt);
        if (rc) {
                kbus__err(errstr, errlen, rc, "out of memory");
                goto fail;
        }

        if (!strcmp(conf->bootstrap, "embedded")) {
                rc = kbus_broker_new(&rt->broker, conf->broker_count, errstr,
                                     errlen);
                if (rc)
                        goto fail;
                rt->bootstrap =
                    kbus__strdup(kbus_broker_bootstrap(rt->broker));
                rt->low_latency = conf->low_latency != 0;
        } else {
                rt->bootstrap = kbus__strdup(conf->bootstrap);
                rt->low_latency = conf->low_latency == 1;
        }
        if (!rt->bootstrap) {
                rc = kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                               "out of memory");
                goto fail;
        }

        rc = kbus__kafka_conf(rt, false, &pconf, errstr, errlen);
        if (rc)
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(pconf, kbus__producer_dr);
        rd_kafka_conf_set_error_cb(pconf, producer_error);
        rt->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, rkerr,
                                    sizeof(rkerr));
        if (!rt->producer) {
                rd_kafka_conf_destroy(pconf);
                rc = kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                               "producer: %s", rkerr);
                goto fail;
        }
        rc = kbus__bridge_init(&rt->producer_bridge, rt,
                               rd_kafka_queue_get_main(rt->producer),
                               producer_drain, rt);
        if (rc) {
                kbus__err(errstr, errlen, rc, "cannot bridge the producer");
                goto fail;
        }
        rc = kbus__client_init(rt, errstr, errlen);
        if (rc)
                goto fail;
        if (conf->http && (rc = kbus__ops_start(rt, errstr, errlen)))
                goto fail;

        KBUS_LOG(KBUS_LOG_INFO, "runtime",
                 "%s started: bootstrap %s%s, reply topic %s", conf->name,
                 rt->bootstrap, rt->broker ? " (embedded)" : "",
                 rt->reply_topic);
        *confp = NULL;
        *rtp = rt;
        return 0;
fail:
        rt->conf = NULL; /* still the caller's */
        kbus_runtime_free(rt);
        return rc;
}

struct event_base *kbus_runtime_event_base(kbus_runtime *rt) {
        return rt->base;
}

const char *kbus_runtime_bootstrap(const kbus_runtime *rt) {
        return rt->bootstrap;
}

struct rd_kafka_mock_cluster_s *kbus_runtime_mock(kbus_runtime *rt) {
        return rt->broker ? kbus_broker_mock(rt->broker) : NULL;
}

const char *kbus_runtime_reply_topic(const kbus_runtime *rt) {
        return rt->reply_topic;
}

uint64_t kbus_runtime_stat(const kbus_runtime *rt, kbus_stat which) {
        return which < KBUS_STAT__COUNT ? rt->stats[which] : 0;
}

const char *kbus_stat_name(kbus_stat which) {
        static const char *const names[KBUS_STAT__COUNT] = {
#define STAT_NAME(id, name, help) [KBUS_STAT_##id] = name,
            KBUS_STATS(STAT_NAME)
#undef STAT_NAME
        };
        return which < KBUS_STAT__COUNT ? names[which] : "?";
}

int kbus_runtime_start(kbus_runtime *rt) {
        int rc;
        if (rt->started)
                return 0;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        rc = kbus__client_start(rt);
        if (!rc)
                rc = kbus__groups_start(rt);
        if (!rc)
                rt->started = true;
        return rc;
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
        kbus_runtime *rt = arg;
        if (rt->closing) {
                KBUS_LOG(KBUS_LOG_WARN, "runtime",
                         "second signal: leaving without waiting");
                event_base_loopexit(rt->base, NULL);
                return;
        }
        KBUS_LOG(KBUS_LOG_INFO, "runtime",
                 "signal %d: shutting down (grace %" PRId64 " ms)", (int)sig,
                 rt->conf->shutdown_grace_ms);
        kbus_runtime_shutdown(rt);
}

int kbus_runtime_run(kbus_runtime *rt) {
        int rc = kbus_runtime_start(rt);
        if (rc)
                return rc;
        if (!rt->sig_int) {
                rt->sig_int = evsignal_new(rt->base, SIGINT, on_signal, rt);
                rt->sig_term = evsignal_new(rt->base, SIGTERM, on_signal, rt);
                if (!rt->sig_int || !rt->sig_term)
                        return KBUS_RESOURCE_EXHAUSTED;
                evsignal_add(rt->sig_int, NULL);
                evsignal_add(rt->sig_term, NULL);
        }
        while (!rt->closed)
                if (event_base_loop(rt->base, EVLOOP_ONCE) == -1)
                        return KBUS_INTERNAL;
        return 0;
}

static void on_grace_expired(evutil_socket_t fd, short what, void *arg) {
        kbus_runtime *rt = arg;
        KBUS_LOG(KBUS_LOG_WARN, "runtime",
                 "grace period over with %zu records and %zu calls in "
                 "flight; they are redelivered or cancelled",
                 rt->records_in_flight, rt->n_waiting);
        rt->closed = true;
        event_base_loopexit(rt->base, NULL);
}

void kbus__maybe_finish_shutdown(kbus_runtime *rt) {
        if (!rt->closing || rt->closed || rt->records_in_flight > 0 ||
            rt->n_waiting > 0)
                return;
        rt->closed = true;
        event_base_loopexit(rt->base, NULL);
}

void kbus_runtime_shutdown(kbus_runtime *rt) {
        if (rt->closing)
                return;
        rt->closing = true;
        kbus__groups_stop_fetching(rt);
        rt->grace_timer = evtimer_new(rt->base, on_grace_expired, rt);
        if (rt->grace_timer)
                kbus__timer_ms(rt->grace_timer, rt->conf->shutdown_grace_ms);
        kbus__maybe_finish_shutdown(rt);
}

int kbus_runtime_flush(kbus_runtime *rt, int timeout_ms) {
        /* rd_kafka_flush polls the producer's queue: delivery callbacks
         * run here, on the caller's thread, as they do on the loop. */
        if (!rt->producer)
                return 0;
        return rd_kafka_flush(rt->producer, timeout_ms) ? KBUS_DEADLINE_EXCEEDED
                                                        : 0;
}

void kbus_runtime_free(kbus_runtime *rt) {
        if (!rt)
                return;
        rt->closing = rt->closed = true;
        kbus__ops_stop(rt);
        if (rt->producer) {
                /* Deliver what is queued (replies, dead letters: their
                 * reports store offsets), then give up on the rest. */
                int grace = rt->conf ? (int)rt->conf->shutdown_grace_ms : 0;
                if (rd_kafka_flush(rt->producer, grace) != 0)
                        KBUS_LOG(KBUS_LOG_WARN, "runtime",
                                 "%d messages not delivered before shutdown",
                                 rd_kafka_outq_len(rt->producer));
                rd_kafka_purge(rt->producer,
                               RD_KAFKA_PURGE_F_QUEUE |
                                   RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(rt->producer, 0);
        }
        kbus__groups_close(rt);
        kbus__client_fini(rt);
        kbus__replies_fini(&rt->replies);
        kbus__bridge_fini(&rt->producer_bridge);
        if (rt->producer)
                rd_kafka_destroy(rt->producer);
        if (rt->sig_int)
                event_free(rt->sig_int);
        if (rt->sig_term)
                event_free(rt->sig_term);
        if (rt->grace_timer)
                event_free(rt->grace_timer);
        while (rt->ordering_rules) {
                struct kbus_ordering_rule *r = rt->ordering_rules;
                rt->ordering_rules = r->next;
                kbus__free(r->topic);
                kbus__free(r);
        }
        kbus_broker_free(rt->broker);
        if (rt->own_base && rt->base)
                event_base_free(rt->base);
        kbus__free(rt->bootstrap);
        kbus_config_free(rt->conf);
        kbus__free(rt);
}
