/*
 * The RPC server side of a record: dispatch by kbus-method, deadlines,
 * and the ways a handler completes a kbus_call (reply, ack, fail), which
 * events share.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

int kbus_serve(kbus_runtime *rt, const kbus_service_desc *svc,
               const void *handlers, size_t handlers_size, void *arg) {
        kbus_route *r = kbus__calloc(1, sizeof(*r));
        int rc;
        if (!r)
                return KBUS_RESOURCE_EXHAUSTED;
        r->topic = kbus__strdup(svc->topic);
        r->handlers = kbus__malloc(handlers_size ? handlers_size : 1);
        if (!r->topic || !r->handlers) {
                rc = KBUS_RESOURCE_EXHAUSTED;
                goto fail;
        }
        memcpy(r->handlers, handlers, handlers_size);
        for (size_t i = 0; i < svc->n_methods; i++)
                if ((svc->methods[i].flags & KBUS_METHOD_IDEMPOTENT) &&
                    !rt->replies.buckets &&
                    (rc = kbus__replies_init(&rt->replies, 10000)))
                        goto fail;
        r->svc = svc;
        r->arg = arg;
        rc = kbus__group_route(rt, rt->conf->group ? rt->conf->group
                                                   : rt->conf->name,
                               r);
        if (rc)
                goto fail;
        KBUS_LOG(KBUS_LOG_INFO, "server", "serving %s on topic %s",
                 svc->name, svc->topic);
        return 0;
fail:
        kbus__free(r->topic);
        kbus__free(r->handlers);
        kbus__free(r);
        return rc;
}

/* Sends a reply (status, optional value) for \p call; the record ends when
 * its delivery report arrives. */
static int send_reply(kbus_call *call, kbus_status status,
                      const char *message, void *value, size_t len,
                      void *opaque) {
        kbus_runtime *rt = call->rt;
        char topic[256], tp[KBUS_TRACEPARENT_LEN + 1];
        rd_kafka_headers_t *h;
        int rc;

        static const char *const codes[] = {"0",  "1",  "2",  "3",  "4",  "5",
                                            "6",  "7",  "8",  "9",  "10", "11",
                                            "12", "13", "14", "15", "16"};
        /* kbus__wire_read keeps reply topics under 250 bytes. */
        memcpy(topic, call->in.reply_topic, call->in.reply_topic_len);
        topic[call->in.reply_topic_len] = '\0';
        if (opaque && call->cached) {
                /* A retriable failure is not an outcome: a resend must run
                 * the handler again. */
                if (kbus_status_is_retriable(status))
                        kbus__replies_forget(&rt->replies, call->in.corr,
                                             call->in.corr_len);
                else
                        kbus__replies_done(&rt->replies, call->in.corr,
                                           call->in.corr_len, status, message,
                                           value, len);
        }
        kbus__trace_child(call->in.traceparent, tp);
        h = rd_kafka_headers_new(4);
        rd_kafka_header_add(h, KBUS_H_CORRELATION, -1, call->in.corr,
                            (ssize_t)call->in.corr_len);
        rd_kafka_header_add(h, KBUS_H_STATUS, -1, codes[status], -1);
        if (status != KBUS_OK && message)
                rd_kafka_header_add(h, KBUS_H_STATUS_MESSAGE, -1, message, -1);
        rd_kafka_header_add(h, KBUS_H_TRACEPARENT, -1, tp, -1);
        rc = kbus__produce(rt, topic, call->in.reply_partition, NULL, 0, value,
                           len, h, opaque);
        if (rc && opaque && call->cached) /* not an outcome anyone heard */
                kbus__replies_forget(&rt->replies, call->in.corr,
                                     call->in.corr_len);
        if (!rc && opaque)
                kbus__record_handled(call);
        if (rc)
                KBUS_LOGT(KBUS_LOG_WARN, "server", call->in.traceparent,
                          "cannot reply to %s: %s", topic, kbus_strerror(rc));
        return rc;
}

static bool wants_reply(const kbus_call *call) {
        return !(call->method && (call->method->flags & KBUS_METHOD_ONE_WAY)) &&
               call->route->svc && call->in.reply_topic && call->in.corr &&
               call->in.reply_partition >= 0;
}

/* Answers a request that never reached a handler, and ends it. */
static void answer(kbus_call *call, kbus_status status, const char *message) {
        call->completed = true;
        if (!wants_reply(call) || send_reply(call, status, message, NULL, 0, call))
                kbus__record_finish(call);
}

/* A duplicate of an idempotent request is answered with the outcome the
 * first one had, or dropped while the first is still being handled.
 * Returns true when \p call was dealt with. */
static bool answer_from_cache(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        kbus_cached_reply *e = kbus__replies_find(&rt->replies, call->in.corr,
                                                  call->in.corr_len);
        void *copy = NULL;
        if (!e) {
                call->cached = kbus__replies_begin(
                    &rt->replies, call->in.corr, call->in.corr_len);
                return false;
        }
        rt->stats[KBUS_STAT_REPLIES_CACHED]++;
        KBUS_LOGT(KBUS_LOG_INFO, "server", call->in.traceparent,
                  "duplicate %s request %s", call->method->path,
                  e->done ? "answered from the reply cache"
                          : "dropped: the first is still running");
        call->completed = true;
        if (e->done && wants_reply(call) &&
            (!e->len || (copy = kbus__malloc(e->len)))) {
                if (e->len)
                        memcpy(copy, e->value, e->len);
                if (!send_reply(call, (kbus_status)e->status, e->message,
                                copy, e->len, call))
                        return true;
        }
        kbus__record_finish(call);
        return true;
}

void kbus__request_dispatch(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        const kbus_service_desc *svc = call->route->svc;
        const kbus_route *r;
        char why[300];

        if (!call->in.method) {
                rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                kbus__record_dead_letter(call, "kbus.DecodeError",
                                         "request without kbus-method header");
                return;
        }
        /* Find the method among every service served on this topic. */
        for (r = call->route; r && !call->method; r = r->next) {
                if (!r->svc || strcmp(r->topic, call->route->topic))
                        continue;
                for (size_t i = 0; i < r->svc->n_methods; i++) {
                        const kbus_method_desc *md = &r->svc->methods[i];
                        if (strlen(md->path) == call->in.method_len &&
                            !memcmp(md->path, call->in.method,
                                    call->in.method_len)) {
                                call->method = md;
                                call->route = r;
                                svc = r->svc;
                                break;
                        }
                }
        }
        if (!call->method) {
                rt->stats[KBUS_STAT_REQUESTS_UNIMPLEMENTED]++;
                snprintf(why, sizeof(why), "unknown method %.*s on %s",
                         (int)call->in.method_len, call->in.method, svc->name);
                KBUS_LOGT(KBUS_LOG_WARN, "server", call->in.traceparent, "%s",
                          why);
                /* A caller who waits gets UNIMPLEMENTED; a record nobody
                 * waits for is kept for inspection. */
                if (call->in.reply_topic)
                        answer(call, KBUS_UNIMPLEMENTED, why);
                else
                        kbus__record_dead_letter(call, "kbus.UnknownMethod",
                                                 why);
                return;
        }
        if (call->in.deadline_ms && call->in.deadline_ms <= kbus__now_ms()) {
                /* The caller has given up: running it would be wasted. */
                rt->stats[KBUS_STAT_REQUESTS_EXPIRED]++;
                KBUS_LOGT(KBUS_LOG_INFO, "server", call->in.traceparent,
                          "skipping expired request %s", call->method->path);
                call->completed = true;
                kbus__record_finish(call);
                return;
        }
        call->input = protobuf_c_message_unpack(
            call->method->input, &kbus__pb_allocator, call->msg->len,
            call->msg->payload);
        if (!call->input) {
                rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                snprintf(why, sizeof(why), "value is not a valid %s",
                         call->method->input->name);
                /* The caller hears at once; the record's end is the dead
                 * letter's delivery, so this reply reports to nobody. */
                if (wants_reply(call))
                        send_reply(call, KBUS_INVALID_ARGUMENT, why, NULL, 0,
                                   NULL);
                kbus__record_dead_letter(call, "kbus.DecodeError", why);
                return;
        }
        if ((call->method->flags & KBUS_METHOD_IDEMPOTENT) && call->in.corr &&
            rt->replies.buckets && answer_from_cache(call))
                return;
        rt->stats[KBUS_STAT_REQUESTS_HANDLED]++;
        kbus__handler_invoke(call);
}

void kbus__handler_invoke(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        const kbus_route *r = call->route;
        char why[300];
        int rc = 0;

        call->completed = false;
        call->n_published = 0;
        rt->current = call;
        if (r->svc)
                rc = call->method->dispatch(r->handlers, call, call->input,
                                            r->arg);
        else
                r->ev->deliver(r->fn, call, call->input, r->arg);
        rt->current = NULL;
        if (rc != 0) {
                rt->stats[KBUS_STAT_REQUESTS_UNIMPLEMENTED]++;
                snprintf(why, sizeof(why), "%s has no handler",
                         call->method->path);
                answer(call, KBUS_UNIMPLEMENTED, why);
        }
}

/* ---- completing a call ---- */

static void release(kbus_call *call);

/* Keeps the handler's outcome while events it published are on their way
 * (kbus_call_publish): the record ends only after their delivery.  Takes
 * \p value. */
static int hold(kbus_call *call, int kind, kbus_status code,
                const char *message, void *value, size_t len) {
        call->completed = true;
        call->held.kind = kind;
        call->held.code = code;
        call->held.message = message ? kbus__strdup(message) : NULL;
        call->held.value = value;
        call->held.len = len;
        if (!call->pub_pending)
                release(call);
        return 0;
}

static bool must_hold(const kbus_call *call) {
        return call->pub_pending || call->pub_failed;
}

/* Replies OK with a packed value (taken), or ends a call nobody waits
 * for. */
static int reply_packed(kbus_call *call, void *value, size_t len) {
        int rc;
        call->completed = true;
        if (!wants_reply(call)) {
                kbus__free(value);
                kbus__record_finish(call);
                return 0;
        }
        rc = send_reply(call, KBUS_OK, NULL, value, len, call);
        if (rc == KBUS_OUT_OF_RANGE) {
                /* Too large ever to be written: the caller hears why now
                 * instead of waiting for its deadline. */
                char why[128];
                snprintf(why, sizeof(why),
                         "reply of %zu bytes is larger than the producer's "
                         "message.max.bytes", len);
                if (!send_reply(call, KBUS_OUT_OF_RANGE, why, NULL, 0, call))
                        return KBUS_OUT_OF_RANGE;
        }
        if (rc) {
                /* The request was handled; the caller will time out. */
                kbus__record_finish(call);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        return 0;
}

int kbus_call_reply(kbus_call *call, const ProtobufCMessage *reply) {
        void *value;
        size_t len;
        if (call->completed || !call->method ||
            reply->descriptor != call->method->output)
                return KBUS_INVALID_ARGUMENT;
        value = kbus__pack(reply, &len);
        if (!value) {
                call->completed = true;
                kbus__record_finish(call);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        if (must_hold(call))
                return hold(call, HELD_REPLY, KBUS_OK, NULL, value, len);
        return reply_packed(call, value, len);
}

int kbus_call_ack(kbus_call *call) {
        if (call->completed)
                return KBUS_INVALID_ARGUMENT;
        if (call->method && !(call->method->flags & KBUS_METHOD_ONE_WAY))
                return KBUS_INVALID_ARGUMENT; /* must reply */
        if (must_hold(call))
                return hold(call, HELD_ACK, KBUS_OK, NULL, NULL, 0);
        call->completed = true;
        kbus__record_finish(call);
        return 0;
}

/* The retry policy in force: the method's or event's, each unset field
 * taken from the configuration. */
static kbus_retry_policy policy_of(const kbus_call *call) {
        const kbus_retry_policy *own = call->method ? &call->method->retry
                                                    : &call->route->ev->retry;
        kbus_retry_policy p = call->rt->conf->retry;
        if (own->max_attempts)
                p.max_attempts = own->max_attempts;
        if (own->initial_backoff_ms)
                p.initial_backoff_ms = own->initial_backoff_ms;
        if (own->max_backoff_ms)
                p.max_backoff_ms = own->max_backoff_ms;
        if (own->multiplier > 0)
                p.multiplier = own->multiplier;
        return p;
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
        kbus_call *call = arg;
        if (call->rt->closing) {
                /* Not finished: it stays unstored and comes back later. */
                kbus__record_abandon(call);
                return;
        }
        if (call->in.deadline_ms && call->in.deadline_ms <= kbus__now_ms()) {
                /* The timer fired late and the caller has given up. */
                call->rt->stats[KBUS_STAT_REQUESTS_EXPIRED]++;
                KBUS_LOGT(KBUS_LOG_INFO, "retry", call->in.traceparent,
                          "not retrying %s: its deadline has passed",
                          kbus_call_method(call));
                kbus__record_finish(call);
                return;
        }
        kbus__handler_invoke(call);
}

/* Schedules another attempt if the policy and the caller's deadline allow;
 * later records with the same key (or of the partition, with partition
 * ordering) wait meanwhile, so order holds. */
static bool retry_later(kbus_call *call, kbus_status code,
                        const char *message) {
        kbus_runtime *rt = call->rt;
        kbus_retry_policy pol = policy_of(call);
        double backoff = pol.initial_backoff_ms;

        if (!kbus_status_is_retriable(code) || code == KBUS_DEADLINE_EXCEEDED ||
            call->attempt >= pol.max_attempts)
                return false;
        if (rt->closing) {
                /* No time to wait: a caller hears the status; a record
                 * nobody waits for stays unstored, for whoever handles
                 * the partition next, rather than be dead-lettered. */
                if (wants_reply(call))
                        return false;
                KBUS_LOGT(KBUS_LOG_INFO, "retry", call->in.traceparent,
                          "%s attempt %u failed (%s: %s); shutting down, "
                          "left for redelivery",
                          kbus_call_method(call), call->attempt,
                          kbus_status_name(code), message);
                kbus__record_abandon(call);
                return true;
        }
        for (uint32_t i = 1; i < call->attempt && backoff < pol.max_backoff_ms;
             i++)
                backoff *= pol.multiplier;
        if (backoff > pol.max_backoff_ms)
                backoff = pol.max_backoff_ms;
        /* Jitter spreads retries of many records so they do not hit a
         * recovering dependency all at once. */
        backoff *= 0.5 + 0.5 * (double)(kbus__random_u64() >> 11) /
                             (double)(1ULL << 53);
        if (call->in.deadline_ms &&
            kbus__now_ms() + (int64_t)backoff >= call->in.deadline_ms)
                return false;
        if (!call->timer &&
            !(call->timer = evtimer_new(rt->base, on_retry, call)))
                return false;
        KBUS_LOGT(KBUS_LOG_INFO, "retry", call->in.traceparent,
                  "%s attempt %u failed (%s: %s); retrying in %.0f ms",
                  kbus_call_method(call), call->attempt,
                  kbus_status_name(code), message, backoff);
        call->attempt++;
        call->completed = true;
        rt->stats[KBUS_STAT_RETRIES]++;
        kbus__timer_ms(call->timer, (int64_t)backoff);
        return true;
}

int kbus_call_fail(kbus_call *call, kbus_status code, const char *message) {
        char why[512];
        if (call->completed || code <= KBUS_OK || code > KBUS_UNAUTHENTICATED)
                return KBUS_INVALID_ARGUMENT;
        if (!message)
                message = kbus_status_name(code);
        if (must_hold(call))
                return hold(call, HELD_FAIL, code, message, NULL, 0);
        if (retry_later(call, code, message))
                return 0;
        if (wants_reply(call)) {
                /* The caller decides what to do with the failure. */
                call->completed = true;
                if (send_reply(call, code, message, NULL, 0, call))
                        kbus__record_finish(call);
                return 0;
        }
        snprintf(why, sizeof(why), "%s: %s (attempt %u)",
                 kbus_status_name(code), message, call->attempt);
        kbus__record_dead_letter(call, "kbus.HandlerError", why);
        return 0;
}

/* Every event the handler published has its delivery report: the held
 * outcome takes effect.  If one was not delivered, the record fails with
 * UNAVAILABLE instead (unless the handler failed it already): it is
 * retried, and the handler publishes again, or the caller hears it, or it
 * is dead-lettered.  While shutting down it is left for redelivery. */
static void release(kbus_call *call) {
        struct kbus_held h = call->held;
        char *error = call->pub_error;
        bool failed = call->pub_failed;

        memset(&call->held, 0, sizeof(call->held));
        call->pub_error = NULL;
        call->pub_failed = false;
        call->completed = false;
        if (failed && call->rt->closing) {
                kbus__free(h.value);
                kbus__record_abandon(call);
        } else if (failed && h.kind != HELD_FAIL) {
                kbus__free(h.value);
                kbus_call_fail(call, KBUS_UNAVAILABLE,
                               error ? error : "an event was not delivered");
        } else if (h.kind == HELD_REPLY) {
                reply_packed(call, h.value, h.len);
        } else if (h.kind == HELD_ACK) {
                call->completed = true;
                kbus__record_finish(call);
        } else {
                kbus_call_fail(call, h.code, h.message);
        }
        kbus__free(h.message);
        kbus__free(error);
}

void kbus__call_published(kbus_call *call, const rd_kafka_message_t *m) {
        if (m->err && !call->pub_failed) {
                char why[512];
                snprintf(why, sizeof(why), "event to %s not delivered: %s",
                         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                KBUS_LOGT(KBUS_LOG_WARN, "events", call->in.traceparent,
                          "%s, while handling %s", why, kbus_call_method(call));
                call->rt->stats[KBUS_STAT_EVENTS_UNDELIVERED]++;
                call->pub_failed = true;
                call->pub_error = kbus__strdup(why);
        }
        if (--call->pub_pending == 0 && call->held.kind != HELD_NONE)
                release(call);
}

kbus_runtime *kbus_call_runtime(const kbus_call *call) {
        return call->rt;
}

const char *kbus_call_method(const kbus_call *call) {
        return call->method ? call->method->path : call->route->ev->type;
}

int64_t kbus_call_deadline(const kbus_call *call) {
        return call->in.deadline_ms;
}

uint32_t kbus_call_attempt(const kbus_call *call) {
        return call->attempt;
}

const char *kbus_call_topic(const kbus_call *call) {
        return rd_kafka_topic_name(call->msg->rkt);
}

int32_t kbus_call_partition(const kbus_call *call) {
        return call->msg->partition;
}

int64_t kbus_call_offset(const kbus_call *call) {
        return call->msg->offset;
}

const char *kbus_call_traceparent(const kbus_call *call) {
        return call->in.traceparent;
}
