/*
 * Events: typed publish with CloudEvents binary-mode headers, and typed
 * subscription in a consumer group.  Subscribers complete their kbus_call
 * with kbus_call_ack() or kbus_call_fail(); see server.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"

/* A version 4 UUID as text: unique enough for ce_id across producers.
 * Hex by table: this runs once per event. */
static void uuid4(char out[37]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t b[16];
        char *o = out;
        kbus__random_bytes(b, sizeof(b));
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *o++ = '-';
                *o++ = hex[b[i] >> 4];
                *o++ = hex[b[i] & 15];
        }
        *o = '\0';
}

/* RFC 3339 UTC time with milliseconds.  The date and seconds are formatted
 * once per second; only the milliseconds change between events. */
static void rfc3339_now(char out[32]) {
        static _Thread_local time_t cached_sec = -1;
        static _Thread_local char cached[24]; /* "YYYY-MM-DDTHH:MM:SS" */
        struct timespec ts;
        long ms;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (ts.tv_sec != cached_sec) {
                struct tm tm;
                gmtime_r(&ts.tv_sec, &tm);
                strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
                cached_sec = ts.tv_sec;
        }
        ms = ts.tv_nsec / 1000000;
        memcpy(out, cached, 19);
        out[19] = '.';
        out[20] = (char)('0' + ms / 100);
        out[21] = (char)('0' + ms / 10 % 10);
        out[22] = (char)('0' + ms % 10);
        out[23] = 'Z';
        out[24] = '\0';
}

/* Produces \p msg as a CloudEvent with id \p id and trace \p tp; the
 * delivery report goes to \p opaque (NULL: logged if it fails). */
static int event_produce(kbus_runtime *rt, const kbus_event_desc *ev,
                         const ProtobufCMessage *msg, const char *id,
                         const char *tp, void *opaque) {
        char keybuf[32], when[32];
        rd_kafka_headers_t *h;
        const void *key;
        size_t key_len = 0, len;
        void *value;
        int rc;

        if (msg->descriptor != ev->message)
                return KBUS_INVALID_ARGUMENT;
        value = kbus__pack(msg, &len);
        if (!value)
                return KBUS_RESOURCE_EXHAUSTED;
        key = kbus__key_of(msg, ev->key_field, &key_len, keybuf);
        rfc3339_now(when);
        h = rd_kafka_headers_new(8);
        rd_kafka_header_add(h, KBUS_H_CE_SPECVERSION, -1, "1.0", 3);
        rd_kafka_header_add(h, KBUS_H_CE_ID, -1, id, -1);
        rd_kafka_header_add(h, KBUS_H_CE_SOURCE, -1, rt->ce_source, -1);
        rd_kafka_header_add(h, KBUS_H_CE_TYPE, -1, ev->type, -1);
        rd_kafka_header_add(h, KBUS_H_CE_TIME, -1, when, -1);
        rd_kafka_header_add(h, KBUS_H_CONTENT_TYPE, -1, KBUS_CONTENT_TYPE, -1);
        rd_kafka_header_add(h, KBUS_H_TRACEPARENT, -1, tp, -1);
        rc = kbus__produce(rt, ev->topic, RD_KAFKA_PARTITION_UA, key, key_len,
                           value, len, h, opaque);
        if (!rc)
                rt->stats[KBUS_STAT_EVENTS_PUBLISHED]++;
        return rc;
}

/* The delivery-report target of every event nobody waits for. */
static int plain_event = KBUS_DR_EVENT;

int kbus_publish(kbus_runtime *rt, const kbus_event_desc *ev,
                 const ProtobufCMessage *msg) {
        char id[37], tp[KBUS_TRACEPARENT_LEN + 1];
        uuid4(id);
        kbus__outgoing_trace(rt, tp);
        return event_produce(rt, ev, msg, id, tp, &plain_event);
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
        c->dr_kind = KBUS_DR_CONFIRM;
        c->cb = cb;
        c->arg = arg;
        uuid4(id);
        kbus__outgoing_trace(rt, tp);
        rc = event_produce(rt, ev, msg, id, tp, c);
        if (rc)
                kbus__free(c);
        return rc;
}

void kbus__event_delivered(kbus_runtime *rt, int *kind,
                           const rd_kafka_message_t *m) {
        kbus_confirm *c = *kind == KBUS_DR_CONFIRM ? (kbus_confirm *)kind
                                                   : NULL;
        if (m->err) {
                rt->stats[KBUS_STAT_EVENTS_UNDELIVERED]++;
                KBUS_LOG(c ? KBUS_LOG_WARN : KBUS_LOG_ERROR, "producer",
                         "event to %s %s: %s", rd_kafka_topic_name(m->rkt),
                         rd_kafka_message_status(m) ==
                                 RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                             ? "has an unknown outcome"
                             : "was not delivered",
                         rd_kafka_err2str(m->err));
        }
        if (!c)
                return;
        c->cb(!m->err ? KBUS_OK
              : m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                  ? KBUS_OUT_OF_RANGE
                  : KBUS_UNAVAILABLE,
              m->err ? rd_kafka_err2str(m->err) : NULL, c->arg);
        kbus__free(c);
}

int kbus_call_publish(kbus_call *call, const kbus_event_desc *ev,
                      const ProtobufCMessage *msg) {
        char id[300], tp[KBUS_TRACEPARENT_LEN + 1];
        int rc;
        if (call->completed)
                return KBUS_INVALID_ARGUMENT;
        /* Named after the record and its place among this attempt's
         * events: a retry or a redelivery publishes the same ids again,
         * which CloudEvents consumers may take as duplicates. */
        snprintf(id, sizeof(id), "%s-%" PRId32 "-%" PRId64 "-%" PRIu32,
                 kbus_call_topic(call), call->msg->partition, call->msg->offset,
                 call->n_published);
        kbus__trace_child(call->in.traceparent, tp);
        rc = event_produce(call->rt, ev, msg, id, tp, &call->pub_dr_kind);
        if (!rc) {
                call->n_published++;
                call->pub_pending++;
        }
        return rc;
}

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

void kbus__event_dispatch(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        const kbus_event_desc *ev = call->route->ev;
        char why[300];

        /* Several event types may share a topic: ce_type says which. */
        if (call->in.ce_type &&
            (strlen(ev->type) != call->in.ce_type_len ||
             memcmp(ev->type, call->in.ce_type, call->in.ce_type_len))) {
                snprintf(why, sizeof(why), "event type %.*s is not %s",
                         (int)call->in.ce_type_len, call->in.ce_type,
                         ev->type);
                kbus__record_dead_letter(call, "kbus.UnknownEventType", why);
                return;
        }
        call->input = protobuf_c_message_unpack(
            ev->message, &kbus__pb_allocator, call->msg->len,
            call->msg->payload);
        if (!call->input) {
                rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                snprintf(why, sizeof(why), "value is not a valid %s",
                         ev->message->name);
                kbus__record_dead_letter(call, "kbus.DecodeError", why);
                return;
        }
        rt->stats[KBUS_STAT_EVENTS_HANDLED]++;
        kbus__handler_invoke(call);
}
