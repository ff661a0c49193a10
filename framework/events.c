/*
 * Events: typed publish with CloudEvents binary-mode headers (alone, with
 * its outcome reported, or as part of a handler's outcome), and typed
 * subscription in a consumer group: a route for event topics.
 * Subscribers complete their kbus_call with kbus_call_ack() or
 * kbus_call_fail(); see record.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

/* Produces \p msg as a CloudEvent with id \p id and trace \p tp; the
 * delivery report goes to \p opaque (NULL: logged if it fails). */
static int event_produce(kbus_runtime *rt, const kbus_event_desc *ev,
                         const ProtobufCMessage *msg, const char *id,
                         const char *tp, kbus_dr *dr, kbus_call *call) {
        rd_kafka_headers_t *hdrs;
        char keybuf[32];
        const void *key;
        size_t key_len = 0, len;
        void *value;
        int rc;

        if (msg->descriptor != ev->message)
                return KBUS_INVALID_ARGUMENT;
        value = kbus__pack(msg, &len);
        if (!value)
                return KBUS_RESOURCE_EXHAUSTED;
        key = kbus_record_key(msg, ev->key_field, &key_len, keybuf);
        hdrs = kbus__wire_event(id, rt->ce_source, ev->type, tp);
        if (call && call->part->g->state_ops) {
                /* Part of the outcome of a call that keeps state: it goes
                 * to the call's outbox, and out once the call's changes
                 * are written (table.c). */
                kbus__record_produced(call, ev->topic, key, key_len, value, len,
                                      hdrs);
                rd_kafka_headers_destroy(hdrs);
                kbus__free(value);
                rc = 0;
        } else {
                rc = kbus__kafka_produce(rt->producer, ev->topic,
                                         RD_KAFKA_PARTITION_UA, key, key_len,
                                         value, len, hdrs, dr);
                if (rc == KBUS_RESOURCE_EXHAUSTED)
                        kbus__room_full(rt);
        }
        if (!rc)
                rt->stats[KBUS_STAT_EVENTS_PUBLISHED]++;
        return rc;
}

/* An event whose publisher wants its outcome. */
typedef struct kbus_confirm {
        kbus_dr dr;
        kbus_runtime *rt;
        kbus_delivery_fn cb;
        void *arg;
} kbus_confirm;

static void count_failure(kbus_runtime *rt, const rd_kafka_message_t *m,
                          int level) {
        rt->stats[KBUS_STAT_EVENTS_UNDELIVERED]++;
        KBUS_LOG(level, "producer", "event to %s %s: %s",
                 rd_kafka_topic_name(m->rkt), kbus__kafka_outcome(m),
                 rd_kafka_err2str(m->err));
}

/* An event nobody waits for: a failure is counted and logged. */
static void plain_delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        if (m->err)
                count_failure(kbus__entry_of(dr, kbus_runtime, event_dr), m,
                              KBUS_LOG_ERROR);
}

static void confirm_delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        kbus_confirm *c = (kbus_confirm *)dr;
        int status = !m->err ? KBUS_OK
                     : m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                         ? KBUS_OUT_OF_RANGE
                         : KBUS_UNAVAILABLE;
        if (m->err)
                count_failure(c->rt, m, KBUS_LOG_WARN);
        c->cb(status, m->err ? rd_kafka_err2str(m->err) : NULL, c->arg);
        kbus__free(c);
}

int kbus_publish(kbus_runtime *rt, const kbus_event_desc *ev,
                 const ProtobufCMessage *msg) {
        char id[37], tp[KBUS_TRACEPARENT_LEN + 1];
        kbus__uuid4(id);
        kbus__outgoing_trace(rt, tp);
        rt->event_dr.delivered = plain_delivered;
        return event_produce(rt, ev, msg, id, tp, &rt->event_dr, NULL);
}

int kbus_publish_confirmed(kbus_runtime *rt, const kbus_event_desc *ev,
                           const ProtobufCMessage *msg, kbus_delivery_fn cb,
                           void *arg) {
        char id[37], tp[KBUS_TRACEPARENT_LEN + 1];
        kbus_confirm *c;
        int rc;
        if (!cb)
                return KBUS_INVALID_ARGUMENT;
        if (!(c = kbus__malloc(sizeof(*c))))
                return KBUS_RESOURCE_EXHAUSTED;
        c->dr.delivered = confirm_delivered;
        c->rt = rt;
        c->cb = cb;
        c->arg = arg;
        kbus__uuid4(id);
        kbus__outgoing_trace(rt, tp);
        rc = event_produce(rt, ev, msg, id, tp, &c->dr, NULL);
        if (rc)
                kbus__free(c);
        return rc;
}

int kbus_call_publish(kbus_call *call, const kbus_event_desc *ev,
                      const ProtobufCMessage *msg) {
        char id[300], tp[KBUS_TRACEPARENT_LEN + 1];
        int rc;
        if (call->state != KBUS_REC_HANDLING)
                return KBUS_INVALID_ARGUMENT;
        /* Named after the record and its place among this attempt's
         * events: a retry or a redelivery publishes the same ids again,
         * which CloudEvents consumers may take as duplicates. */
        snprintf(id, sizeof(id), "%s-%" PRId32 "-%" PRId64 "-%" PRIu32,
                 kbus_call_topic(call), call->msg->partition, call->msg->offset,
                 call->pub.n);
        kbus__trace_child(call->in.traceparent, tp);
        rc = event_produce(call->rt, ev, msg, id, tp, &call->pub.dr, call);
        if (!rc) {
                call->pub.n++;
                /* Kept for later when the call keeps state (table.c sends
                 * it, and counts its report then). */
                if (!call->part->g->state_ops)
                        call->pub.pending++;
        }
        return rc;
}

static void event_dispatch(kbus_call *call);
static void event_invoke(kbus_call *call);

static const kbus_route_ops event_ops = {
    .dispatch = event_dispatch,
    .invoke = event_invoke,
};

int kbus_subscribe(kbus_runtime *rt, const kbus_event_desc *ev,
                   const char *group, kbus_fn fn, void *arg) {
        kbus_route *r;
        int rc;
        if (!fn)
                return KBUS_INVALID_ARGUMENT;
        r = kbus__calloc(1, sizeof(*r));
        if (!r || !(r->topic = kbus__strdup(ev->topic))) {
                kbus__free(r);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        r->ops = &event_ops;
        r->flags = ev->flags & KBUS_NO_DEAD_LETTER;
        r->ev = ev;
        r->fn = fn;
        r->arg = arg;
        if (!group)
                group = rt->conf->group ? rt->conf->group : rt->conf->name;
        rc = kbus__group_route(rt, group, r);
        if (rc) {
                kbus__free(r->topic);
                kbus__free(r);
                return rc;
        }
        KBUS_LOG(KBUS_LOG_INFO, "events", "group %s subscribed to %s on %s",
                 group, ev->type, ev->topic);
        return 0;
}

static void event_dispatch(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        const kbus_event_desc *ev = call->route->ev;
        char why[300];

        call->retry = &ev->retry;
        /* Several event types may share a topic: ce_type says which. */
        if (call->in.ce_type &&
            (strlen(ev->type) != call->in.ce_type_len ||
             memcmp(ev->type, call->in.ce_type, call->in.ce_type_len))) {
                snprintf(why, sizeof(why), "event type %.*s is not %s",
                         (int)call->in.ce_type_len, call->in.ce_type, ev->type);
                kbus__record_dead_letter(call, "kbus.UnknownEventType", why);
                return;
        }
        call->input =
            protobuf_c_message_unpack(ev->message, &kbus__pb_allocator,
                                      call->msg->len, call->msg->payload);
        if (!call->input) {
                rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                snprintf(why, sizeof(why), "value is not a valid %s",
                         ev->message->name);
                kbus__record_dead_letter(call, "kbus.DecodeError", why);
                return;
        }
        rt->stats[KBUS_STAT_EVENTS_HANDLED]++;
        kbus__record_run(call);
}

static void event_invoke(kbus_call *call) {
        const kbus_route *r = call->route;
        r->ev->deliver(r->fn, call, call->input, r->arg);
}
