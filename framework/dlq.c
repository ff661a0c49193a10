/*
 * Dead letters; see dlq.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dlq.h"
#include "wire.h"

static void produce(kbus_dead_letter *dl);

static void on_timer(evutil_socket_t fd, short what, void *arg) {
        produce(arg);
}

/* Gives up (done(false)) or tries again in a second. */
static void try_later(kbus_dead_letter *dl, const char *why) {
        const rd_kafka_message_t *m = dl->msg;
        if (!dl->keep_trying(dl)) {
                dl->done(dl, false);
                return;
        }
        KBUS_LOG(KBUS_LOG_WARN, "dlq",
                 "dead letter to %s%s failed (%s) for %s [%" PRId32
                 "] offset %" PRId64 "; retrying in 1 s, partition held",
                 rd_kafka_topic_name(m->rkt), dl->suffix, why,
                 rd_kafka_topic_name(m->rkt), m->partition, m->offset);
        if (!dl->timer) {
                dl->timer = evtimer_new(dl->base, on_timer, dl);
                if (!dl->timer) {
                        dl->done(dl, false);
                        return;
                }
        }
        {
                struct timeval second = {1, 0};
                evtimer_add(dl->timer, &second);
        }
}

static void delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        kbus_dead_letter *dl = (kbus_dead_letter *)dr;
        if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
            !dl->without_value) {
                dl->without_value = true;
                produce(dl);
        } else if (m->err) {
                try_later(dl, rd_kafka_err2str(m->err));
        } else {
                dl->done(dl, true);
        }
}

static void produce(kbus_dead_letter *dl) {
        const rd_kafka_message_t *m = dl->msg;
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_headers_t *orig = NULL, *h;
        rd_kafka_timestamp_type_t tstype;
        kbus_wire_dlt d = {
            .topic = topic,
            .partition = m->partition,
            .offset = m->offset,
            .timestamp = rd_kafka_message_timestamp(m, &tstype),
            .group = dl->group,
            .error_class = dl->error_class,
            .error_message = dl->error_message,
            .attempts = dl->attempts,
            .value_dropped = dl->without_value ? (int64_t)m->len : -1,
        };
        char dlt[512];
        void *value = NULL;
        int rc;

        if (!dl->keep_trying(dl)) {
                dl->done(dl, false);
                return;
        }
        snprintf(dlt, sizeof(dlt), "%s%s", topic, dl->suffix);
        h = rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR
                ? rd_kafka_headers_copy(orig)
                : rd_kafka_headers_new(8);
        kbus__wire_dead_letter(h, &d);
        /* A record larger than our producer may write keeps its provenance
         * and says how large the value was; the original stays readable
         * at its topic and offset. */
        if (!dl->without_value && m->len) {
                value = kbus__malloc(m->len);
                if (!value) {
                        rd_kafka_headers_destroy(h);
                        try_later(dl, kbus_strerror(KBUS_RESOURCE_EXHAUSTED));
                        return;
                }
                memcpy(value, m->payload, m->len);
        }
        rc = kbus__kafka_produce(dl->producer, dlt, RD_KAFKA_PARTITION_UA,
                                 m->key, m->key_len, value,
                                 dl->without_value ? 0 : m->len, h, &dl->dr);
        if (rc == KBUS_OUT_OF_RANGE && !dl->without_value) {
                dl->without_value = true;
                produce(dl);
        } else if (rc) {
                try_later(dl, kbus_strerror(rc));
        }
}

void kbus__dead_letter_send(kbus_dead_letter *dl, const char *reason) {
        dl->dr.delivered = delivered;
        kbus__free(dl->error_message);
        dl->error_message = kbus__strdup(reason);
        produce(dl);
}

void kbus__dead_letter_fini(kbus_dead_letter *dl) {
        if (dl->timer)
                event_free(dl->timer);
        dl->timer = NULL;
        kbus__free(dl->error_message);
        dl->error_message = NULL;
}
