/*
 * RPC servers: a route for request topics.  A request is dispatched by its
 * kbus-method header to the method's handler; an unknown method gets
 * UNIMPLEMENTED, an expired request is skipped, an undecodable one is
 * answered INVALID_ARGUMENT and dead-lettered, and a duplicate of an
 * idempotent request is answered from the reply cache.  How a handler
 * completes its call is the record's business (record.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static void request_dispatch(kbus_call *call);
static void request_invoke(kbus_call *call);

static const kbus_route_ops request_ops = {
    .dispatch = request_dispatch,
    .invoke = request_invoke,
};

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
                    !rt->replies.cap &&
                    (rc = kbus__replies_init(&rt->replies, 10000)))
                        goto fail;
        r->ops = &request_ops;
        r->svc = svc;
        r->arg = arg;
        rc = kbus__group_route(
            rt, rt->conf->group ? rt->conf->group : rt->conf->name, r);
        if (rc)
                goto fail;
        KBUS_LOG(KBUS_LOG_INFO, "server", "serving %s on topic %s", svc->name,
                 svc->topic);
        return 0;
fail:
        kbus__free(r->topic);
        kbus__free(r->handlers);
        kbus__free(r);
        return rc;
}

/* A duplicate of an idempotent request is answered with the outcome the
 * first one had, or dropped while the first is still being handled.
 * Returns true when \p call was dealt with. */
static bool answer_from_cache(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        kbus_cached_reply *e =
            kbus__replies_find(&rt->replies, call->in.corr, call->in.corr_len);
        if (!e) {
                call->cached = kbus__replies_begin(&rt->replies, call->in.corr,
                                                   call->in.corr_len);
                return false;
        }
        rt->stats[KBUS_STAT_REPLIES_CACHED]++;
        KBUS_LOGT(KBUS_LOG_INFO, "server", call->in.traceparent,
                  "duplicate %s request %s", call->method->path,
                  e->done ? "answered from the reply cache"
                          : "dropped: the first is still running");
        if (!e->done)
                kbus__record_finish(call);
        else
                kbus__record_answer_cached(call, e);
        return true;
}

/* The method named by kbus-method among every service on the topic. */
static bool find_method(kbus_call *call) {
        for (const kbus_route *r = call->route; r; r = r->next) {
                if (!r->svc || strcmp(r->topic, call->route->topic))
                        continue;
                for (size_t i = 0; i < r->svc->n_methods; i++) {
                        const kbus_method_desc *md = &r->svc->methods[i];
                        if (strlen(md->path) == call->in.method_len &&
                            !memcmp(md->path, call->in.method,
                                    call->in.method_len)) {
                                call->method = md;
                                call->route = r;
                                return true;
                        }
                }
        }
        return false;
}

/* A producer asks for a topic's leaders when a topic handle is made for
 * it, but not when a message names a topic it has not seen: such a message
 * waits for the producer's next scan of unknown topics, up to a second.
 * So the first reply to each new caller would be late by that much.  A
 * caller's reply topic is announced here instead, before its handler
 * runs; comparing with the last one seen keeps this off the path of a
 * steady caller. */
static void reply_topic_warm(kbus_runtime *rt, const kbus_wire_in *in) {
        size_t len = in->reply_topic_len;
        rd_kafka_topic_t *rkt;

        if (len >= sizeof(rt->reply_topic_seen) ||
            (len == rt->reply_topic_seen_len &&
             !memcmp(rt->reply_topic_seen, in->reply_topic, len)))
                return;
        memcpy(rt->reply_topic_seen, in->reply_topic, len);
        rt->reply_topic_seen[len] = '\0';
        rt->reply_topic_seen_len = len;
        /* Known already: no query.  Unknown: a query now. */
        rkt = rd_kafka_topic_new(rt->producer, rt->reply_topic_seen, NULL);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
}

static void request_dispatch(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        char why[300];

        call->wants_reply = call->in.reply_topic && call->in.corr &&
                            call->in.reply_partition >= 0;
        if (call->wants_reply)
                reply_topic_warm(rt, &call->in);
        if (!call->in.method) {
                rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                kbus__record_dead_letter(call, "kbus.DecodeError",
                                         "request without kbus-method header");
                return;
        }
        if (!find_method(call)) {
                rt->stats[KBUS_STAT_REQUESTS_UNIMPLEMENTED]++;
                snprintf(why, sizeof(why), "unknown method %.*s on %s",
                         (int)call->in.method_len, call->in.method,
                         call->route->svc->name);
                KBUS_LOGT(KBUS_LOG_WARN, "server", call->in.traceparent, "%s",
                          why);
                /* A caller who waits gets UNIMPLEMENTED; a record nobody
                 * waits for is kept for inspection. */
                if (call->in.reply_topic)
                        kbus__record_answer(call, KBUS_UNIMPLEMENTED, why);
                else
                        kbus__record_dead_letter(call, "kbus.UnknownMethod",
                                                 why);
                return;
        }
        call->retry = &call->method->retry;
        call->flags |= call->method->flags & KBUS_NO_DEAD_LETTER;
        if (call->method->flags & KBUS_METHOD_ONE_WAY)
                call->wants_reply = false;
        if (call->in.deadline_ms && call->in.deadline_ms <= kbus__now_ms()) {
                /* The caller has given up: running it would be wasted. */
                rt->stats[KBUS_STAT_REQUESTS_EXPIRED]++;
                KBUS_LOGT(KBUS_LOG_INFO, "server", call->in.traceparent,
                          "skipping expired request %s", call->method->path);
                kbus__record_finish(call);
                return;
        }
        call->input =
            protobuf_c_message_unpack(call->method->input, &kbus__pb_allocator,
                                      call->msg->len, call->msg->payload);
        if (!call->input) {
                rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                snprintf(why, sizeof(why), "value is not a valid %s",
                         call->method->input->name);
                /* The caller hears at once; the record's end is the dead
                 * letter's delivery, so this reply reports to nobody. */
                if (call->wants_reply)
                        kbus__record_courtesy_reply(call, KBUS_INVALID_ARGUMENT,
                                                    why);
                kbus__record_dead_letter(call, "kbus.DecodeError", why);
                return;
        }
        if ((call->method->flags & KBUS_METHOD_IDEMPOTENT) && call->in.corr &&
            rt->replies.cap && answer_from_cache(call))
                return;
        rt->stats[KBUS_STAT_REQUESTS_HANDLED]++;
        kbus__record_run(call);
}

static void request_invoke(kbus_call *call) {
        const kbus_route *r = call->route;
        char why[300];
        if (call->method->dispatch(r->handlers, call, call->input, r->arg)) {
                call->rt->stats[KBUS_STAT_REQUESTS_UNIMPLEMENTED]++;
                snprintf(why, sizeof(why), "%s has no handler",
                         call->method->path);
                kbus__record_answer(call, KBUS_UNIMPLEMENTED, why);
        }
}
