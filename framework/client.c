/*
 * The RPC client: requests out, replies in.
 *
 * Each runtime has its own reply topic (by default "<name>.replies.<random
 * hex>", partition 0), read by a consumer that uses assign(), not a group:
 * no rebalance can ever hand our replies to someone else.  The consumer is
 * assigned before any request can leave: at the first call, or in
 * kbus_runtime_start() when a reply topic is configured or services were
 * declared with kbus_client_prepare() (whose request topics' metadata is
 * then fetched too, so that the first call costs what later ones do).
 * Pending calls live in a hash table keyed by correlation id, each with a
 * deadline timer.  A call that ended stays in the table for a while as a
 * tombstone, so a reply arriving after its deadline is told apart (and
 * counted) from a duplicate or a reply to somebody else's call.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "retry.h"

#include <librdkafka/rdkafka_mock.h>

/* Ended calls kept, to tell a late reply from an unknown one. */
#define TOMBSTONES 8192

/* Resends of idempotent calls back off as handler retries do. */
static const kbus_retry_policy resend_policy = {
    .max_attempts = UINT32_MAX,
    .initial_backoff_ms = 100,
    .max_backoff_ms = 3200,
    .multiplier = 2.0,
};

/* ---- the table of calls ---- */

static kbus_pending *find(kbus_runtime *rt, const uint8_t *id) {
        kbus_hnode *n = kbus__hash_find(&rt->calls, id, KBUS_CORRELATION_LEN);
        return n ? kbus__entry_of(n, kbus_pending, node) : NULL;
}

static void pending_free(kbus_pending *p) {
        if (p->timer)
                event_del(p->timer);
        if (p->saved) {
                if (p->saved->resend_timer)
                        event_free(p->saved->resend_timer);
                kbus__free(p->saved);
        }
        kbus__free(p);
}

/* Ends a call: it stays as a tombstone among the last TOMBSTONES ended. */
static void pending_end(kbus_pending *p, int state) {
        kbus_runtime *rt = p->rt;
        p->state = state;
        rt->n_waiting--;
        if (p->dr_pending)
                rt->stale_requests++; /* nobody needs it written any more */
        if (p->timer)
                evtimer_del(p->timer);
        if (p->saved)
                evtimer_del(p->saved->resend_timer);
        if (rt->ended.n == TOMBSTONES) {
                kbus_pending *old;
                kbus__ring_pop(&rt->ended, &old);
                kbus__hash_remove(&rt->calls, &old->node);
                if (old->dr_pending)
                        old->orphan = true;
                else
                        pending_free(old);
        }
        kbus__ring_push(&rt->ended, &p); /* reserved: cannot fail */
}

static void complete(kbus_pending *p, kbus_status status, const char *message,
                     const ProtobufCMessage *reply) {
        kbus_runtime *rt = p->rt;
        rt->stats[status == KBUS_OK ? KBUS_STAT_CALLS_OK
                  : status == KBUS_DEADLINE_EXCEEDED
                      ? KBUS_STAT_CALLS_TIMED_OUT
                      : KBUS_STAT_CALLS_FAILED]++;
        pending_end(p, status == KBUS_DEADLINE_EXCEEDED ? PENDING_EXPIRED
                                                        : PENDING_DONE);
        if (p->cb)
                p->method->complete(p->cb, status, message, reply, p->arg);
        rt->quiet(rt);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
        kbus_pending *p = arg;
        char msg[128];
        snprintf(msg, sizeof(msg), "no reply to %s before the deadline",
                 p->method->path);
        complete(p, KBUS_DEADLINE_EXCEEDED, msg, NULL);
}

static bool resend_later(kbus_pending *p);

/* The request's delivery report: a request that cannot be written fails
 * now rather than at its deadline; a one-way call ends here. */
static void request_delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        kbus_pending *p = kbus__entry_of(dr, kbus_pending, dr);
        p->dr_pending = false;
        if (p->orphan) {
                p->rt->stale_requests--;
                pending_free(p);
                return;
        }
        if (p->state != PENDING_WAITING) {
                p->rt->stale_requests--;
                return; /* already ended */
        }
        if (m->err && !resend_later(p))
                complete(p, KBUS_UNAVAILABLE, rd_kafka_err2str(m->err), NULL);
        else if (p->method->flags & KBUS_METHOD_ONE_WAY)
                complete(p, KBUS_OK, NULL, NULL);
}

/* ---- replies ---- */

static void reply_handle(kbus_runtime *rt, const rd_kafka_message_t *m) {
        kbus_wire_in in;
        kbus_pending *p;
        char why[256] = "";

        if (kbus__wire_read(m, &in, why, sizeof(why)) ||
            in.corr_len != KBUS_CORRELATION_LEN) {
                /* kbus__wire_read explains what it refused; a well-formed
                 * correlation id of the wrong length needs saying here. */
                if (!why[0] && in.corr_len)
                        snprintf(why, sizeof(why),
                                 "correlation id of %zu bytes, not %d",
                                 in.corr_len, KBUS_CORRELATION_LEN);
                else if (!why[0])
                        snprintf(why, sizeof(why), "no correlation id");
                rt->stats[KBUS_STAT_REPLIES_UNKNOWN]++;
                KBUS_LOG(KBUS_LOG_WARN, "client",
                         "dropping malformed reply at offset %" PRId64 ": %s",
                         m->offset, why);
                return;
        }
        p = find(rt, in.corr);
        if (!p || p->state != PENDING_WAITING) {
                kbus_stat s = !p ? KBUS_STAT_REPLIES_UNKNOWN
                              : p->state == PENDING_EXPIRED
                                  ? KBUS_STAT_REPLIES_LATE
                                  : KBUS_STAT_REPLIES_DUPLICATE;
                rt->stats[s]++;
                KBUS_LOGT(KBUS_LOG_INFO, "client", in.traceparent,
                          "dropping reply at offset %" PRId64 ": %s", m->offset,
                          kbus_stat_name(s));
                return;
        }
        if (in.status < 0) {
                complete(p, KBUS_INTERNAL, "reply without kbus-status", NULL);
        } else if (in.status != KBUS_OK) {
                char msg[512];
                if (kbus_status_is_retriable(in.status) &&
                    in.status != KBUS_DEADLINE_EXCEEDED && resend_later(p))
                        return;
                snprintf(msg, sizeof(msg), "%.*s", (int)in.status_message_len,
                         in.status_message ? in.status_message : "");
                complete(p, (kbus_status)in.status, msg, NULL);
        } else {
                ProtobufCMessage *reply = protobuf_c_message_unpack(
                    p->method->output, &kbus__pb_allocator, m->len, m->payload);
                if (!reply) {
                        rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                        complete(p, KBUS_INTERNAL, "undecodable reply", NULL);
                        return;
                }
                complete(p, KBUS_OK, NULL, reply);
                protobuf_c_message_free_unpacked(reply, &kbus__pb_allocator);
        }
}

static void reply_drain(void *owner) {
        kbus_runtime *rt = owner;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(rt->reply_rk, 0))) {
                if (!m->err) {
                        rt->reply_fetching = true;
                        reply_handle(rt, m);
                } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Its offset resolved, its leader found, one fetch
                         * answered: a reply now arrives in one fetch. */
                        rt->reply_fetching = true;
                } else {
                        KBUS_LOG(KBUS_LOG_WARN, "client", "reply consumer: %s",
                                 rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
        }
}

int kbus__client_init(kbus_runtime *rt, char *errstr, size_t errlen) {
        kbus__ring_init(&rt->ended, sizeof(kbus_pending *));
        if (!kbus__ring_reserve(&rt->ended, TOMBSTONES))
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        if (rt->conf->reply_topic) {
                rt->reply_topic = kbus__strdup(rt->conf->reply_topic);
        } else {
                char name[300];
                snprintf(name, sizeof(name), "%s.replies.%016" PRIx64,
                         rt->conf->name, kbus__random_u64());
                rt->reply_topic = kbus__strdup(name);
        }
        if (!rt->reply_topic)
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        rt->reply_partition = 0;

        return 0;
}

/* Creates the reply consumer and assigns it.  Done at the first call (or at
 * start for a configured reply topic or declared services), so a runtime
 * that never calls pays for no consumer, and still before the first request
 * leaves: a reply can never arrive before its consumer is assigned. */
static int reply_consumer_open(kbus_runtime *rt) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t err;
        /* A generated reply topic is new: it starts at 0.  Offset 0 rather
         * than BEGINNING saves an offset query, which librdkafka puts off
         * by half a second when, as here, the partition's leader is not
         * known yet at assign(); should the log not start at 0 after all,
         * auto.offset.reset (earliest) takes the consumer to its start. */
        int64_t start = 0;
        char rkerr[512], errstr[512];
        rd_kafka_conf_t *conf;
        int rc;

        rc = kbus__kafka_conf(&rt->site, true, &conf, errstr, sizeof(errstr));
        if (rc) {
                KBUS_LOG(KBUS_LOG_ERROR, "client", "reply consumer: %s",
                         errstr);
                return rc;
        }
        /* Replies are read by assign(): no group is ever joined, and
         * offsets are never committed. */
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(conf, "group.id", rt->reply_topic, NULL, 0);
        /* The end of the partition, reached once, says it is fetching
         * (kbus_runtime_ready). */
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
        rt->reply_rk =
            rd_kafka_new(RD_KAFKA_CONSUMER, conf, rkerr, sizeof(rkerr));
        if (!rt->reply_rk) {
                rd_kafka_conf_destroy(conf);
                KBUS_LOG(KBUS_LOG_ERROR, "client", "reply consumer: %s", rkerr);
                return KBUS_INTERNAL;
        }
        rd_kafka_poll_set_consumer(rt->reply_rk);
        rc = kbus__bridge_init(&rt->reply_bridge, rt->base,
                               rd_kafka_queue_get_consumer(rt->reply_rk),
                               reply_drain, rt);
        if (rc)
                return rc;
        if (rt->broker)
                rd_kafka_mock_topic_create(kbus_broker_mock(rt->broker),
                                           rt->reply_topic, 1, 1);
        if (rt->conf->reply_topic) {
                /* A reply topic that outlives us: skip old replies, but
                 * resolve "the end" now, before any request leaves, so no
                 * reply can slip in between. */
                int64_t lo, hi;
                if (!rd_kafka_query_watermark_offsets(
                        rt->reply_rk, rt->reply_topic, rt->reply_partition, &lo,
                        &hi, 10000))
                        start = hi;
        }
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, rt->reply_topic,
                                          rt->reply_partition)
            ->offset = start;
        err = rd_kafka_assign(rt->reply_rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err) {
                KBUS_LOG(KBUS_LOG_ERROR, "client", "assign %s: %s",
                         rt->reply_topic, rd_kafka_err2str(err));
                return KBUS_INTERNAL;
        }
        return 0;
}

/* ---- services declared in advance ---- */

struct kbus_prepared {
        struct kbus_prepared *next;
        rd_kafka_topic_t *rkt; /* held: the producer keeps its metadata */
        bool replies;          /* some method of it has a reply */
        char topic[];
};

/* Makes the producer look up the leaders of \p p's topic now rather than
 * at the first call: a topic handle asks for its metadata when created (or
 * when the producer's first connection comes up), and holding it keeps the
 * metadata refreshed.  The embedded broker creates the topic first, so
 * that the answer has leaders. */
static void prepared_warm(kbus_runtime *rt, struct kbus_prepared *p) {
        if (p->rkt)
                return;
        if (rt->broker)
                rd_kafka_mock_topic_create(kbus_broker_mock(rt->broker),
                                           p->topic,
                                           rt->conf->broker_partitions, 1);
        p->rkt = rd_kafka_topic_new(rt->producer, p->topic, NULL);
        if (!p->rkt)
                KBUS_LOG(KBUS_LOG_WARN, "client",
                         "topic %s: %s; its first call looks it up", p->topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
}

int kbus_client_prepare(kbus_runtime *rt, const kbus_service_desc *svc) {
        struct kbus_prepared *p;
        bool replies = false;
        size_t len;

        if (!svc || !svc->topic || !*svc->topic)
                return KBUS_INVALID_ARGUMENT;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        for (size_t i = 0; i < svc->n_methods; i++)
                if (!(svc->methods[i].flags & KBUS_METHOD_ONE_WAY))
                        replies = true;
        for (p = rt->prepared; p; p = p->next)
                if (!strcmp(p->topic, svc->topic))
                        break;
        if (!p) {
                len = strlen(svc->topic);
                p = kbus__calloc(1, sizeof(*p) + len + 1);
                if (!p)
                        return KBUS_RESOURCE_EXHAUSTED;
                memcpy(p->topic, svc->topic, len + 1);
                p->next = rt->prepared;
                rt->prepared = p;
        }
        p->replies |= replies;
        if (!rt->started)
                return 0; /* kbus_runtime_start() warms it */
        prepared_warm(rt, p);
        return replies && !rt->reply_rk ? reply_consumer_open(rt) : 0;
}

int kbus__client_start(kbus_runtime *rt) {
        bool replies = rt->conf->reply_topic != NULL;
        int rc = 0;

        for (struct kbus_prepared *p = rt->prepared; p; p = p->next) {
                prepared_warm(rt, p);
                replies |= p->replies;
        }
        if (replies && !rt->reply_rk)
                rc = reply_consumer_open(rt);
        if (!rc && replies)
                rt->reply_at_start = true;
        return rc;
}

/* Before the runtime's last flush: calls that wait for a reply end now,
 * CANCELLED, so that their requests still queued are not waited for
 * (nobody will read the reply).  One-way calls are left to their delivery
 * reports, which the flush brings: being written is their outcome.  The
 * calls stay in the table, for kbus__client_fini() to free. */
static void cancel_waiting(kbus_hnode *n, void *arg) {
        kbus_pending *p = kbus__entry_of(n, kbus_pending, node);
        kbus_runtime *rt = p->rt;
        if (p->state != PENDING_WAITING ||
            (p->method->flags & KBUS_METHOD_ONE_WAY))
                return;
        p->state = PENDING_DONE;
        rt->n_waiting--;
        if (p->dr_pending)
                rt->stale_requests++;
        evtimer_del(p->timer);
        if (p->saved)
                evtimer_del(p->saved->resend_timer);
        if (p->cb)
                p->method->complete(p->cb, KBUS_CANCELLED, "runtime shut down",
                                    NULL, p->arg);
}

void kbus__client_cancel(kbus_runtime *rt) {
        kbus__hash_each(&rt->calls, cancel_waiting, NULL);
}

/* Calls still waiting end now, CANCELLED. */
static void cancel(kbus_hnode *n, void *arg) {
        kbus_pending *p = kbus__entry_of(n, kbus_pending, node);
        if (p->state == PENDING_WAITING) {
                if (p->cb)
                        p->method->complete(p->cb, KBUS_CANCELLED,
                                            "runtime shut down", NULL, p->arg);
                if (p->dr_pending)
                        p->rt->stale_requests++; /* as pending_end does */
        }
        if (!p->dr_pending)
                pending_free(p);
        else
                p->orphan = true;
}

void kbus__client_fini(kbus_runtime *rt) {
        while (rt->prepared) {
                struct kbus_prepared *p = rt->prepared;
                rt->prepared = p->next;
                if (p->rkt)
                        rd_kafka_topic_destroy(p->rkt);
                kbus__free(p);
        }
        kbus__hash_each(&rt->calls, cancel, NULL);
        kbus__hash_fini(&rt->calls);
        kbus__ring_fini(&rt->ended);
        if (rt->reply_rk) {
                bool closed = kbus__consumer_close(
                    rt->reply_rk, rt->hurry ? 0 : rt->conf->shutdown_grace_ms,
                    "reply consumer");
                kbus__bridge_fini(&rt->reply_bridge);
                kbus__consumer_destroy(rt->reply_rk, closed);
                rt->reply_rk = NULL;
        } else {
                kbus__bridge_fini(&rt->reply_bridge);
        }
        kbus__free(rt->reply_topic);
        rt->reply_topic = NULL;
}

/* ---- calls ---- */

int kbus_call_opts_new(kbus_call_opts **optsp) {
        *optsp = kbus__calloc(1, sizeof(**optsp));
        return *optsp ? 0 : KBUS_RESOURCE_EXHAUSTED;
}

void kbus_call_opts_free(kbus_call_opts *opts) {
        if (opts) {
                kbus__free(opts->topic);
                kbus__free(opts);
        }
}

void kbus_call_opts_set_timeout(kbus_call_opts *opts, int64_t timeout_ms) {
        opts->timeout_ms = timeout_ms;
}

int kbus_call_opts_set_topic(kbus_call_opts *opts, const char *topic) {
        char *t = topic ? kbus__strdup(topic) : NULL;
        if (topic && !t)
                return KBUS_RESOURCE_EXHAUSTED;
        kbus__free(opts->topic);
        opts->topic = t;
        return 0;
}

/* Most calls share a handful of timeouts: libevent keeps timers of one
 * "common timeout" in a plain queue instead of its heap, so adding and
 * removing a call's deadline costs O(1) however many calls are pending. */
static const struct timeval *common_timeout(kbus_runtime *rt, int64_t ms) {
        size_t n = sizeof(rt->common_tv) / sizeof(rt->common_tv[0]), i;
        for (i = 0; i < n && rt->common_tv[i]; i++)
                if (rt->common_ms[i] == ms)
                        return rt->common_tv[i];
        rt->scratch_tv.tv_sec = (time_t)(ms / 1000);
        rt->scratch_tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
        if (i == n)
                return &rt->scratch_tv; /* many distinct timeouts: the heap */
        rt->common_tv[i] =
            event_base_init_common_timeout(rt->base, &rt->scratch_tv);
        rt->common_ms[i] = ms;
        return rt->common_tv[i] ? rt->common_tv[i] : &rt->scratch_tv;
}

/* Sends (or, for an idempotent call, sends again) the request of \p p.
 * Takes ownership of \p value. */
static int send_request(kbus_pending *p, const char *topic, const void *key,
                        size_t key_len, void *value, size_t len) {
        kbus_runtime *rt = p->rt;
        char tp[KBUS_TRACEPARENT_LEN + 1];
        int rc;

        kbus__outgoing_trace(rt, tp);
        rc = kbus__kafka_produce(
            rt->producer, topic, RD_KAFKA_PARTITION_UA, key, key_len, value,
            len,
            kbus__wire_request(
                p->method->path, p->id, sizeof(p->id),
                p->method->flags & KBUS_METHOD_ONE_WAY ? NULL : rt->reply_topic,
                rt->reply_partition, p->deadline_ms, tp),
            &p->dr);
        if (!rc)
                p->dr_pending = true;
        else if (rc == KBUS_RESOURCE_EXHAUSTED)
                kbus__room_full(rt);
        return rc;
}

static void on_resend(evutil_socket_t fd, short what, void *arg) {
        kbus_pending *p = arg;
        void *copy;
        if (p->state != PENDING_WAITING)
                return;
        if (p->dr_pending) {
                /* A retriable reply came before the report of the request
                 * it answers.  One request of a call in flight at a time:
                 * the call has one kbus_dr, and rt->stale_requests counts
                 * one outstanding report per ended call. */
                kbus__timer_ms(p->saved->resend_timer, 100);
                return;
        }
        copy = kbus__malloc(p->saved->len ? p->saved->len : 1);
        if (copy) {
                memcpy(copy, p->saved->value, p->saved->len);
                if (!send_request(p, p->saved->topic, p->saved->key,
                                  p->saved->key_len, copy, p->saved->len)) {
                        p->rt->stats[KBUS_STAT_CALLS_RESENT]++;
                        return;
                }
        }
        /* Could not even queue it: try again later, the deadline bounds it. */
        kbus__timer_ms(p->saved->resend_timer, 500);
}

/* An idempotent call that failed in a way worth retrying is sent again,
 * with the same correlation id, after a backoff that fits its deadline. */
static bool resend_later(kbus_pending *p) {
        int64_t backoff, left;
        if (!p->saved || p->rt->closing)
                return false;
        backoff = kbus__retry_backoff_ms(&resend_policy, p->saved->resends + 1);
        left = p->deadline_ms - kbus__now_ms();
        if (backoff >= left)
                return false;
        p->saved->resends++;
        kbus__timer_ms(p->saved->resend_timer, backoff);
        return true;
}

int kbus_call_start(kbus_runtime *rt, const kbus_service_desc *svc,
                    const kbus_method_desc *method, const ProtobufCMessage *req,
                    const kbus_call_opts *opts, kbus_fn cb, void *arg) {
        int64_t timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms
                          : method->timeout_ms > 0     ? method->timeout_ms
                                                       : rt->conf->timeout_ms;
        const char *topic = opts && opts->topic ? opts->topic : svc->topic;
        char keybuf[32];
        const void *key;
        size_t key_len = 0, len;
        kbus_pending *p;
        void *value;
        int rc;

        if (req->descriptor != method->input)
                return KBUS_INVALID_ARGUMENT;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        if (rt->n_waiting >= (size_t)rt->conf->client_max_in_flight)
                return KBUS_RESOURCE_EXHAUSTED;
        if (!rt->reply_rk && !(method->flags & KBUS_METHOD_ONE_WAY) &&
            (rc = reply_consumer_open(rt)))
                return rc;
        /* The deadline timer lives in the same allocation as the call. */
        p = kbus__calloc(1, sizeof(*p) + event_get_struct_event_size());
        if (!p)
                return KBUS_RESOURCE_EXHAUSTED;
        p->dr.delivered = request_delivered;
        p->rt = rt;
        p->method = method;
        p->cb = cb;
        p->arg = arg;
        p->deadline_ms = kbus__now_ms() + timeout;
        do
                kbus__random_bytes(p->id, sizeof(p->id));
        while (find(rt, p->id));
        p->node.key = p->id;
        p->node.len = sizeof(p->id);
        p->timer = (struct event *)p->timer_storage;
        evtimer_assign(p->timer, rt->base, on_deadline, p);
        value = kbus__pack(req, &len);
        if (!value)
                goto oom;
        key = kbus_record_key(req, method->key_field, &key_len, keybuf);
        if (method->flags & KBUS_METHOD_IDEMPOTENT) {
                /* Keep what a resend needs. */
                p->saved = kbus__calloc(1, sizeof(*p->saved) + len + key_len +
                                               strlen(topic) + 1);
                if (!p->saved)
                        goto oom;
                p->saved->resend_timer = evtimer_new(rt->base, on_resend, p);
                if (!p->saved->resend_timer)
                        goto oom;
                p->saved->value = p->saved->bytes;
                memcpy(p->saved->value, value, len);
                p->saved->len = len;
                p->saved->key = key ? p->saved->bytes + len : NULL;
                if (key)
                        memcpy(p->saved->bytes + len, key, key_len);
                p->saved->key_len = key_len;
                p->saved->topic = (char *)p->saved->bytes + len + key_len;
                strcpy(p->saved->topic, topic);
        }
        if (!kbus__hash_insert(&rt->calls, &p->node))
                goto oom;
        rc = send_request(p, topic, key, key_len, value, len);
        if (rc) {
                kbus__hash_remove(&rt->calls, &p->node);
                pending_free(p);
                return rc;
        }
        rt->n_waiting++;
        rt->stats[KBUS_STAT_CALLS_STARTED]++;
        event_add(p->timer, common_timeout(rt, timeout));
        return 0;
oom:
        kbus__free(value);
        pending_free(p);
        return KBUS_RESOURCE_EXHAUSTED;
}

int kbus_call_send(kbus_call *call, const kbus_service_desc *svc,
                   const kbus_method_desc *method,
                   const ProtobufCMessage *req) {
        kbus_runtime *rt = call->rt;
        char id[300], tp[KBUS_TRACEPARENT_LEN + 1], keybuf[32];
        uint8_t corr[KBUS_CORRELATION_LEN];
        rd_kafka_headers_t *hdrs;
        const void *key;
        size_t key_len = 0, len, n;
        uint64_t h;
        void *value;
        int rc;

        if (call->state != KBUS_REC_HANDLING || !svc || !method ||
            !(method->flags & KBUS_METHOD_ONE_WAY) ||
            req->descriptor != method->input)
                return KBUS_INVALID_ARGUMENT;
        /* The correlation id is named after the record and its place among
         * this attempt's messages, as an event's ce_id is: a retry or a
         * redelivery sends the same one again. */
        n = (size_t)snprintf(id, sizeof(id),
                             "%s-%" PRId32 "-%" PRId64 "-%" PRIu32,
                             kbus_call_topic(call), call->msg->partition,
                             call->msg->offset, call->pub.n);
        if (n >= sizeof(id))
                n = sizeof(id) - 1;
        h = kbus__hash_bytes(id, n);
        memcpy(corr, &h, 8);
        h = kbus__hash_bytes(corr, 8) ^ kbus__hash_bytes(id, n / 2);
        memcpy(corr + 8, &h, 8);
        value = kbus__pack(req, &len);
        if (!value)
                return KBUS_RESOURCE_EXHAUSTED;
        key = kbus_record_key(req, method->key_field, &key_len, keybuf);
        kbus__trace_child(call->in.traceparent, tp);
        /* No reply topic (one-way) and no deadline: a command sent as part
         * of an outcome is carried out whenever its service gets to it. */
        hdrs = kbus__wire_request(method->path, corr, sizeof(corr), NULL, 0, 0,
                                  tp);
        if (call->part->g->state_ops) {
                /* With the call's table changes, like an event (table.c). */
                kbus__record_produced(call, svc->topic, key, key_len, value,
                                      len, hdrs);
                rd_kafka_headers_destroy(hdrs);
                kbus__free(value);
                rc = 0;
        } else {
                rc = kbus__kafka_produce(rt->producer, svc->topic,
                                         RD_KAFKA_PARTITION_UA, key, key_len,
                                         value, len, hdrs, &call->pub.dr);
                if (!rc)
                        call->pub.pending++;
        }
        if (!rc)
                call->pub.n++;
        return rc;
}
