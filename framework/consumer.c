/*
 * Consumer groups and the life of a record.
 *
 * Each consumer group of the runtime is one librdkafka consumer bridged into
 * the loop.  A fetched record becomes a kbus_call: its offset enters the
 * partition's offset tracker, its headers are read, and it goes to the
 * server (requests) or to a subscriber (events).  It ends in exactly one of
 * three ways: handled (and replied, if it is a request whose caller waits),
 * dead-lettered (after the dead letter's delivery report says it is
 * written), or abandoned at shutdown or revocation (then it is redelivered,
 * because its offset was never stored).  Offsets are stored only up to the
 * highest record below which all have ended, so nothing is ever skipped.
 *
 * A partition holds at most max_in_flight records in handlers at once, and
 * starts at most max_uncommitted from the oldest one not finished; beyond
 * that, fetched records wait in the partition and the partition is paused,
 * so memory (and what a crash makes the group redo) stays bounded.
 */
#include <inttypes.h>
#include <string.h>

#include "core.h"

#include <librdkafka/rdkafka_mock.h>

/* ---- partitions ---- */

static kbus_partition *part_find(kbus_group *g, const char *topic,
                                 int32_t partition) {
        for (kbus_partition *p = g->parts; p; p = p->next)
                if (p->partition == partition && !strcmp(p->topic, topic))
                        return p;
        return NULL;
}

static kbus_partition *part_add(kbus_group *g, const char *topic,
                                int32_t partition) {
        kbus_partition *p = kbus__calloc(1, sizeof(*p));
        if (!p || !(p->topic = kbus__strdup(topic))) {
                kbus__free(p);
                return NULL;
        }
        p->g = g;
        p->partition = partition;
        p->ordering = (kbus_ordering)g->rt->conf->ordering;
        p->max_in_flight = g->rt->conf->max_in_flight;
        for (struct kbus_ordering_rule *r = g->rt->ordering_rules; r;
             r = r->next)
                if (!strcmp(r->topic, topic)) {
                        p->ordering = r->ordering;
                        if (r->max_in_flight > 0)
                                p->max_in_flight = r->max_in_flight;
                }
        if (p->ordering == KBUS_ORDER_PARTITION)
                p->max_in_flight = 1;
        p->wait_high = p->max_in_flight * 2 > 1000 ? (size_t)p->max_in_flight * 2
                                                   : 1000;
        p->max_uncommitted = (uint64_t)g->rt->conf->max_uncommitted;
        kbus__offsets_init(&p->offsets);
        p->next = g->parts;
        g->parts = p;
        return p;
}

static void part_free(kbus_partition *p) {
        kbus__keys_fini(&p->keys);
        kbus__offsets_fini(&p->offsets);
        kbus__free(p->wait);
        kbus__free(p->topic);
        kbus__free(p);
}


/* The partition is no longer ours: waiting records are let go (they will
 * be fetched again by whoever owns it next), and it is freed as soon as no
 * handler holds one of its records. */
static void part_revoke(kbus_partition *p) {
        kbus_group *g = p->g;
        kbus_call *c = kbus__keys_take_waiting(&p->keys);
        for (kbus_partition **pp = &g->parts; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        while (p->n_wait > 0) {
                rd_kafka_message_destroy(p->wait[p->wait_head]);
                p->wait_head = (p->wait_head + 1) % p->cap_wait;
                p->n_wait--;
        }
        p->revoked = true;
        p->live++; /* keep p while its key waiters are let go */
        while (c) {
                kbus_call *next = c->qnext;
                kbus__record_abandon(c);
                c = next;
        }
        if (--p->live == 0)
                part_free(p);
}

static bool wait_push(kbus_partition *p, rd_kafka_message_t *m) {
        if (p->n_wait == p->cap_wait) {
                size_t ncap = p->cap_wait ? p->cap_wait * 2 : 16;
                rd_kafka_message_t **nw = kbus__malloc(ncap * sizeof(*nw));
                if (!nw)
                        return false;
                for (size_t i = 0; i < p->n_wait; i++)
                        nw[i] = p->wait[(p->wait_head + i) % p->cap_wait];
                kbus__free(p->wait);
                p->wait = nw;
                p->cap_wait = ncap;
                p->wait_head = 0;
        }
        p->wait[(p->wait_head + p->n_wait) % p->cap_wait] = m;
        p->n_wait++;
        return true;
}

/* Whether a fetched record may be admitted now.  Besides the handler slots,
 * a record stuck in its handler (or in retries) holds back every later
 * offset; max_uncommitted records from it, the partition waits for it. */
static bool part_has_room(kbus_partition *p) {
        uint64_t open = kbus__offsets_open(&p->offsets);
        if (open < p->max_uncommitted) {
                p->uncommitted_full = false;
                return p->in_flight < p->max_in_flight;
        }
        if (!p->uncommitted_full) {
                p->uncommitted_full = true;
                KBUS_LOG(KBUS_LOG_WARN, "consumer",
                         "group %s: %s [%" PRId32 "]: offset %" PRId64
                         " is not finished, and the %" PRIu64
                         " records after it cannot be committed before it "
                         "(max_uncommitted %" PRIu64 "): no more records "
                         "of the partition start until it ends",
                         p->g->id, p->topic, p->partition,
                         kbus__offsets_oldest(&p->offsets), open - 1,
                         p->max_uncommitted);
        }
        return false;
}

static void part_pause(kbus_partition *p, bool pause) {
        rd_kafka_topic_partition_list_t *l;
        if (p->paused == pause)
                return;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        if (pause)
                rd_kafka_pause_partitions(p->g->rk, l);
        else
                rd_kafka_resume_partitions(p->g->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        p->paused = pause;
}

/* ---- records ---- */

static const kbus_route *route_find(const kbus_group *g, const char *topic) {
        for (const kbus_route *r = g->routes; r; r = r->next)
                if (!strcmp(r->topic, topic))
                        return r;
        return NULL;
}

static void call_free(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        if (call->lprev)
                call->lprev->lnext = call->lnext;
        else
                rt->live = call->lnext;
        if (call->lnext)
                call->lnext->lprev = call->lprev;
        if (call->timer)
                event_free(call->timer);
        kbus__free(call->error_message);
        kbus__free(call->pub_error);
        kbus__free(call->held.message);
        kbus__free(call->held.value);
        if (call->input)
                protobuf_c_message_free_unpacked(call->input,
                                                 &kbus__pb_allocator);
        rd_kafka_message_destroy(call->msg);
        kbus__free(call);
}

/* Lets a record go without storing its offset: it is redelivered.  The
 * records waiting behind its key go too: they must not run before it. */
void kbus__record_abandon(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        kbus_partition *p = call->part;
        if (call == rt->dispatching)
                rt->dispatch_ended = true;
        if (call->keyq) {
                kbus_call *next = kbus__keys_release(&p->keys, call->keyq);
                if (next) {
                        next->keyq = call->keyq;
                        kbus__record_abandon(next);
                }
        }
        if (call->cached) /* unfinished: a redelivery must run it */
                kbus__replies_forget(&rt->replies, call->in.corr,
                                     call->in.corr_len);
        rt->records_in_flight--;
        if (!call->slot_freed)
                p->in_flight--;
        p->live--;
        call_free(call);
        if (p->revoked && p->live == 0)
                part_free(p);
        kbus__maybe_finish_shutdown(rt);
}

/* Reads the record's headers and hands it to the server or subscriber. */
static void record_dispatch(kbus_call *call) {
        char why[256];
        if (kbus__wire_read(call->msg, &call->in, why, sizeof(why))) {
                call->rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                kbus__record_dead_letter(call, "kbus.DecodeError", why);
                return;
        }
        if (!call->route) {
                kbus__record_dead_letter(call, "kbus.NoRoute",
                                         "no server or subscriber for topic");
                return;
        }
        if (call->route->svc)
                kbus__request_dispatch(call);
        else
                kbus__event_dispatch(call);
}

/* Queues a record to be dispatched from the loop, never from inside the
 * user's code that completed another record. */
static void ready_push(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        call->qnext = NULL;
        if (rt->ready_tail)
                rt->ready_tail->qnext = call;
        else
                rt->ready = call;
        rt->ready_tail = call;
        event_active(rt->ready_ev, EV_TIMEOUT, 0);
}

/* Admits a fetched record: it enters the offset tracker, and runs now or
 * waits behind an earlier record with the same key. */
static void record_admit(kbus_partition *p, rd_kafka_message_t *m) {
        kbus_runtime *rt = p->g->rt;
        kbus_call *call = kbus__calloc(1, sizeof(*call));
        kbus_keyq *q;

        if (!call || !kbus__offsets_add(&p->offsets, m->offset, &call->seq)) {
                /* Out of memory: the record is left unstored, so it comes
                 * back after a restart, which is what such a process needs. */
                KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                         "out of memory at %s [%" PRId32 "] offset %" PRId64,
                         p->topic, m->partition, m->offset);
                kbus__free(call);
                rd_kafka_message_destroy(m);
                return;
        }
        call->dr_kind = KBUS_DR_RECORD;
        call->pub_dr_kind = KBUS_DR_PUBLISH;
        call->rt = rt;
        call->part = p;
        call->msg = m;
        call->attempt = 1;
        call->route = route_find(p->g, p->topic);
        call->lnext = rt->live;
        if (rt->live)
                rt->live->lprev = call;
        rt->live = call;
        p->in_flight++;
        p->live++;
        rt->records_in_flight++;
        if (p->ordering != KBUS_ORDER_KEY || !m->key) {
                record_dispatch(call);
                return;
        }
        if ((q = kbus__keys_find(&p->keys, m->key, m->key_len))) {
                kbus__keys_wait(q, call); /* an earlier record has the key */
                return;
        }
        /* The key is free.  Most handlers complete before they return, and
         * then nobody needs to know the key was taken: it enters the table
         * only if the record is still being handled afterwards. */
        rt->dispatching = call;
        rt->dispatch_ended = false;
        record_dispatch(call);
        rt->dispatching = NULL;
        if (rt->dispatch_ended)
                return;
        call->keyq = kbus__keys_add(&p->keys, m->key, m->key_len);
        if (!call->keyq)
                KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                         "out of memory tracking a key of %s [%" PRId32
                         "]: its order is not guaranteed",
                         p->topic, p->partition);
}

/* Admits waiting records while there is room; resumes fetching when none
 * wait any more. */
static void part_pump(kbus_partition *p) {
        while (p->n_wait > 0 && !p->revoked && !p->g->rt->closing &&
               part_has_room(p)) {
                rd_kafka_message_t *m = p->wait[p->wait_head];
                p->wait_head = (p->wait_head + 1) % p->cap_wait;
                p->n_wait--;
                record_admit(p, m);
        }
        if (!p->revoked && p->n_wait <= p->wait_high / 2 &&
            !p->g->rt->closing)
                part_pause(p, false);
}

/* Runs what record completions made ready: the next record of a key, and
 * waiting records of partitions that have room again. */
static void on_ready(evutil_socket_t fd, short what, void *arg) {
        kbus_runtime *rt = arg;
        kbus_call *call;
        while ((call = rt->ready)) {
                rt->ready = call->qnext;
                if (!rt->ready)
                        rt->ready_tail = NULL;
                call->qnext = NULL;
                /* After the grace period nothing new starts: with an
                 * event_base shared with other code the loop goes on, but
                 * the runtime promised to be done. */
                if (call->part->revoked || rt->closed)
                        kbus__record_abandon(call);
                else
                        record_dispatch(call);
        }
        for (kbus_group *g = rt->groups; g; g = g->next)
                for (kbus_partition *p = g->parts; p; p = p->next)
                        if (p->n_wait > 0 && part_has_room(p))
                                part_pump(p);
}

int kbus__groups_init(kbus_runtime *rt) {
        rt->ready_ev = event_new(rt->base, -1, 0, on_ready, rt);
        return rt->ready_ev ? 0 : KBUS_RESOURCE_EXHAUSTED;
}

void kbus__record_handled(kbus_call *call) {
        kbus_partition *p = call->part;
        if (call->slot_freed)
                return;
        call->slot_freed = true;
        p->in_flight--;
        if (p->n_wait > 0)
                event_active(call->rt->ready_ev, EV_TIMEOUT, 0);
}

void kbus__record_finish(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        kbus_partition *p = call->part;
        int64_t store;

        rt->records_in_flight--;
        if (call == rt->dispatching)
                rt->dispatch_ended = true;
        if (kbus__offsets_done(&p->offsets, call->seq, &store) && !p->revoked) {
                rd_kafka_resp_err_t err = rd_kafka_offset_store(
                    call->msg->rkt, p->partition, store - 1);
                if (err)
                        KBUS_LOG(KBUS_LOG_DEBUG, "consumer",
                                 "cannot store offset %" PRId64
                                 " of %s [%" PRId32 "]: %s",
                                 store, p->topic, p->partition,
                                 rd_kafka_err2str(err));
        }
        if (call->keyq) {
                kbus_call *next = kbus__keys_release(&p->keys, call->keyq);
                if (next) {
                        next->keyq = call->keyq;
                        ready_push(next);
                }
        }
        if (!call->slot_freed)
                p->in_flight--;
        p->live--;
        call_free(call);
        if (p->revoked && p->live == 0)
                part_free(p);
        else if (p->n_wait > 0)
                event_active(rt->ready_ev, EV_TIMEOUT, 0);
        kbus__maybe_finish_shutdown(rt);
}

/* ---- dead letters ---- */

static void dead_letter_send(kbus_call *call);

static void dead_letter_retry(evutil_socket_t fd, short what, void *arg) {
        dead_letter_send(arg);
}

static void add_be(rd_kafka_headers_t *h, const char *name, uint64_t v,
                   int bytes) {
        uint8_t b[8];
        if (bytes == 4)
                kbus__be32(b, (uint32_t)v);
        else
                kbus__be64(b, v);
        rd_kafka_header_add(h, name, -1, b, bytes);
}

/* Keeps the original value, key and headers; adds Spring's kafka_dlt-*
 * headers and kbus-attempts, so Spring tooling can read our dead letters. */
static void dead_letter_send(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        const rd_kafka_message_t *m = call->msg;
        rd_kafka_headers_t *orig = NULL, *h;
        const char *topic = rd_kafka_topic_name(m->rkt);
        char dlt[512], attempts[16];
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        void *value = NULL;
        int rc;

        snprintf(dlt, sizeof(dlt), "%s%s", topic, rt->conf->dlt_suffix);
        h = rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR
                ? rd_kafka_headers_copy(orig)
                : rd_kafka_headers_new(8);
        rd_kafka_header_add(h, KBUS_H_DLT_TOPIC, -1, topic, -1);
        add_be(h, KBUS_H_DLT_PARTITION, (uint32_t)m->partition, 4);
        add_be(h, KBUS_H_DLT_OFFSET, (uint64_t)m->offset, 8);
        add_be(h, KBUS_H_DLT_TIMESTAMP, (uint64_t)ts, 8);
        rd_kafka_header_add(h, KBUS_H_DLT_GROUP, -1,
                            call->part->g->id, -1);
        rd_kafka_header_add(h, KBUS_H_DLT_FQCN, -1,
                            call->error_class, -1);
        rd_kafka_header_add(h, KBUS_H_DLT_MESSAGE, -1,
                            call->error_message ? call->error_message : "",
                            -1);
        snprintf(attempts, sizeof(attempts), "%" PRIu32, call->attempt);
        rd_kafka_header_add(h, KBUS_H_ATTEMPTS, -1, attempts, -1);
        if (call->dlt_without_value) {
                /* The record is larger than our producer may write: keep
                 * its provenance and say how large the value was; the
                 * original stays readable at its topic and offset. */
                char size[24];
                snprintf(size, sizeof(size), "%zu", m->len);
                rd_kafka_header_add(h, KBUS_H_DLT_VALUE_DROPPED, -1, size,
                                    -1);
        } else if (m->len) {
                value = kbus__malloc(m->len);
                if (!value) {
                        rd_kafka_headers_destroy(h);
                        rc = KBUS_RESOURCE_EXHAUSTED;
                        goto retry;
                }
                memcpy(value, m->payload, m->len);
        }
        rc = kbus__produce(rt, dlt, RD_KAFKA_PARTITION_UA, m->key, m->key_len,
                           value, call->dlt_without_value ? 0 : m->len, h,
                           call);
        if (!rc)
                return;
        if (rc == KBUS_OUT_OF_RANGE && !call->dlt_without_value) {
                call->dlt_without_value = true;
                dead_letter_send(call);
                return;
        }
retry:
        KBUS_LOG(KBUS_LOG_WARN, "dlq",
                 "cannot dead-letter %s [%" PRId32 "] offset %" PRId64
                 " (%s); retrying in 1 s, partition held",
                 topic, m->partition, m->offset, kbus_strerror(rc));
        if (!call->timer)
                call->timer = evtimer_new(rt->base, dead_letter_retry, call);
        kbus__timer_ms(call->timer, 1000);
}

void kbus__record_dead_letter(kbus_call *call, const char *error_class,
                              const char *reason) {
        const rd_kafka_message_t *m = call->msg;
        const char *topic = rd_kafka_topic_name(m->rkt);
        const kbus_event_desc *ev = call->route ? call->route->ev : NULL;
        uint32_t flags = call->method ? call->method->flags
                         : ev         ? ev->flags
                                      : 0;

        call->completed = true;
        if (flags & KBUS_NO_DEAD_LETTER) {
                KBUS_LOGT(KBUS_LOG_ERROR, "dlq", call->in.traceparent,
                          "skipping %s [%" PRId32 "] offset %" PRId64
                          ": %s: %s (dead-lettering is off)",
                          topic, m->partition, m->offset, error_class, reason);
                kbus__record_finish(call);
                return;
        }
        KBUS_LOGT(KBUS_LOG_WARN, "dlq", call->in.traceparent,
                  "dead-lettering %s [%" PRId32 "] offset %" PRId64
                  " to %s%s: %s: %s",
                  topic, m->partition, m->offset, topic,
                  call->rt->conf->dlt_suffix, error_class, reason);
        call->dead_lettering = true;
        call->error_class = error_class;
        call->error_message = kbus__strdup(reason);
        dead_letter_send(call);
}

/* ---- delivery reports ---- */

void kbus__producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *m,
                       void *opaque) {
        kbus_runtime *rt = opaque;
        int *kind = m->_private;

        if (!kind) {
                /* A courtesy reply: nobody waits for it, so say what
                 * happened. */
                if (m->err)
                        KBUS_LOG(KBUS_LOG_ERROR, "producer",
                                 "message to %s %s: %s",
                                 rd_kafka_topic_name(m->rkt),
                                 rd_kafka_message_status(m) ==
                                         RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                                     ? "has an unknown outcome"
                                     : "was not delivered",
                                 rd_kafka_err2str(m->err));
                return;
        }
        if (*kind == KBUS_DR_CALL) {
                kbus__call_delivered(m->_private, m->err);
                return;
        }
        if (*kind == KBUS_DR_EVENT || *kind == KBUS_DR_CONFIRM) {
                kbus__event_delivered(rt, kind, m);
                return;
        }
        if (*kind == KBUS_DR_PUBLISH) {
                kbus__call_published(
                    (kbus_call *)((char *)kind -
                                  offsetof(kbus_call, pub_dr_kind)),
                    m);
                return;
        }
        kbus_call *call = m->_private;
        if (call->dead_lettering) {
                if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
                    !call->dlt_without_value && !rt->closed) {
                        call->dlt_without_value = true;
                        dead_letter_send(call);
                        return;
                }
                if (m->err && m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
                    m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT &&
                    !rt->closed) {
                        KBUS_LOG(KBUS_LOG_WARN, "dlq",
                                 "dead letter to %s failed: %s; retrying",
                                 rd_kafka_topic_name(m->rkt),
                                 rd_kafka_err2str(m->err));
                        if (!call->timer)
                                call->timer = evtimer_new(
                                    rt->base, dead_letter_retry, call);
                        kbus__timer_ms(call->timer, 1000);
                        return;
                }
                if (m->err) {
                        /* Shutting down: leave the record unstored so it is
                         * redelivered and dead-lettered next time. */
                        kbus__record_abandon(call);
                        return;
                }
                rt->stats[KBUS_STAT_DEAD_LETTERED]++;
        } else if (m->err) {
                /* A reply that could not be written: the caller times out
                 * and may retry; the request itself was handled. */
                KBUS_LOGT(KBUS_LOG_WARN, "server", call->in.traceparent,
                          "reply to %s not delivered: %s",
                          rd_kafka_topic_name(m->rkt),
                          rd_kafka_err2str(m->err));
        }
        kbus__record_finish(call);
}

/* ---- consumer groups ---- */

static void group_drain(void *owner);

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
        kbus_group *g = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                for (int i = 0; i < parts->cnt; i++) {
                        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
                        if (!part_find(g, tp->topic, tp->partition) &&
                            !part_add(g, tp->topic, tp->partition))
                                KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                                         "out of memory on assignment");
                }
                KBUS_LOG(KBUS_LOG_INFO, "consumer",
                         "group %s: %d partitions assigned", g->id,
                         parts->cnt);
                g->joined = true;
                rd_kafka_assign(rk, parts);
                if (g->rt->closing)
                        rd_kafka_pause_partitions(rk, parts);
                return;
        }
        /* Revoked or lost: store what is complete and commit it now, so the
         * next owner starts right after it, then forget the partitions.
         * Records still in handlers end without storing. */
        /* (When the runtime closes, librdkafka's own close commits them,
         * without waiting forever for a broker that may be gone.) */
        if (!rd_kafka_assignment_lost(rk) && !g->rt->closed) {
                rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
                if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                        KBUS_LOG(KBUS_LOG_WARN, "consumer",
                                 "group %s: commit on revoke: %s", g->id,
                                 rd_kafka_err2str(cerr));
        }
        for (int i = 0; i < parts->cnt; i++) {
                kbus_partition *p = part_find(g, parts->elems[i].topic,
                                              parts->elems[i].partition);
                if (p)
                        part_revoke(p);
        }
        KBUS_LOG(KBUS_LOG_INFO, "consumer", "group %s: %d partitions %s",
                 g->id, parts->cnt,
                 rd_kafka_assignment_lost(rk) ? "lost" : "revoked");
        rd_kafka_assign(rk, NULL);
}

static void group_error(rd_kafka_t *rk, int err, const char *reason,
                        void *opaque) {
        KBUS_LOG(err == RD_KAFKA_RESP_ERR__FATAL ? KBUS_LOG_ERROR
                                                 : KBUS_LOG_WARN,
                 "kafka", "%s: %s", rd_kafka_name(rk), reason);
}

static void group_handle(kbus_group *g, rd_kafka_message_t *m) {
        kbus_partition *p;
        if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        KBUS_LOG(KBUS_LOG_WARN, "consumer", "group %s: %s%s%s",
                                 g->id,
                                 m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                                 m->rkt ? ": " : "",
                                 rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return;
        }
        p = part_find(g, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p) {
                /* Fetched just before a revoke: its new owner reads it. */
                rd_kafka_message_destroy(m);
                return;
        }
        if (p->n_wait > 0 || g->rt->closing || !part_has_room(p)) {
                if (!wait_push(p, m)) {
                        KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                                 "out of memory holding a record");
                        rd_kafka_message_destroy(m);
                }
                /* Pausing makes librdkafka drop what it prefetched for
                 * the partition, so hold a good number of records before
                 * doing it, rather than pausing and resuming at every
                 * record when handlers are the bottleneck. */
                if (p->n_wait >= p->wait_high || g->rt->closing)
                        part_pause(p, true);
                return;
        }
        record_admit(p, m);
}

static void group_drain(void *owner) {
        kbus_group *g = owner;
        rd_kafka_message_t *m;
        int n = 0;
        while ((m = rd_kafka_consumer_poll(g->rk, 0))) {
                group_handle(g, m);
                /* Let other events run; come back without a new wake-up. */
                if (++n == 10000) {
                        event_active(g->bridge.ev, EV_READ, 0);
                        break;
                }
        }
}

static kbus_group *group_new(kbus_runtime *rt, const char *id) {
        char rkerr[512], err[512];
        rd_kafka_conf_t *conf = NULL;
        kbus_group *g = kbus__calloc(1, sizeof(*g));

        if (!g || !(g->id = kbus__strdup(id)))
                goto fail;
        g->rt = rt;
        g->bridge.fds[0] = g->bridge.fds[1] = -1;
        if (kbus__kafka_conf(rt, true, &conf, err, sizeof(err))) {
                KBUS_LOG(KBUS_LOG_ERROR, "consumer", "group %s: %s", id, err);
                goto fail;
        }
        rd_kafka_conf_set(conf, "group.id", id, NULL, 0);
        rd_kafka_conf_set_opaque(conf, g);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance);
        rd_kafka_conf_set_error_cb(conf, group_error);
        g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rkerr, sizeof(rkerr));
        if (!g->rk) {
                rd_kafka_conf_destroy(conf);
                KBUS_LOG(KBUS_LOG_ERROR, "consumer", "group %s: %s", id,
                         rkerr);
                goto fail;
        }
        rd_kafka_poll_set_consumer(g->rk);
        if (kbus__bridge_init(&g->bridge, rt, rd_kafka_queue_get_consumer(g->rk),
                              group_drain, g))
                goto fail;
        g->next = rt->groups;
        rt->groups = g;
        return g;
fail:
        if (g) {
                kbus__bridge_fini(&g->bridge);
                if (g->rk)
                        rd_kafka_destroy(g->rk);
                kbus__free(g->id);
                kbus__free(g);
        }
        return NULL;
}

static int group_subscribe(kbus_group *g) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
        rd_kafka_resp_err_t err;
        for (kbus_route *r = g->routes; r; r = r->next)
                if (!rd_kafka_topic_partition_list_find(l, r->topic,
                                                        RD_KAFKA_PARTITION_UA))
                        rd_kafka_topic_partition_list_add(
                            l, r->topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(g->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err) {
                KBUS_LOG(KBUS_LOG_ERROR, "consumer", "group %s: subscribe: %s",
                         g->id, rd_kafka_err2str(err));
                return KBUS_INTERNAL;
        }
        g->subscribed = true;
        return 0;
}

int kbus__group_route(kbus_runtime *rt, const char *group_id, kbus_route *r) {
        kbus_group *g;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        for (g = rt->groups; g; g = g->next)
                if (!strcmp(g->id, group_id))
                        break;
        if (!g && !(g = group_new(rt, group_id)))
                return KBUS_INTERNAL;
        for (kbus_route *o = g->routes; o; o = o->next)
                if (!strcmp(o->topic, r->topic) && (o->ev || r->ev))
                        return KBUS_ALREADY_EXISTS;
        /* Create the topic now, so a subscriber does not wait for a
         * metadata refresh to see its first record. */
        if (rt->broker)
                rd_kafka_mock_topic_create(kbus_broker_mock(rt->broker),
                                           r->topic,
                                           rt->conf->broker_partitions, 1);
        r->next = g->routes;
        g->routes = r;
        g->subscribed = false;
        return rt->started ? group_subscribe(g) : 0;
}

int kbus__groups_start(kbus_runtime *rt) {
        for (kbus_group *g = rt->groups; g; g = g->next)
                if (!g->subscribed) {
                        int rc = group_subscribe(g);
                        if (rc)
                                return rc;
                }
        return 0;
}

void kbus__groups_stop_fetching(kbus_runtime *rt) {
        for (kbus_group *g = rt->groups; g; g = g->next)
                for (kbus_partition *p = g->parts; p; p = p->next)
                        part_pause(p, true);
}

void kbus__groups_close(kbus_runtime *rt) {
        kbus_group *g;
        /* Records not yet in a handler, then those still in one, end
         * unstored: they are redelivered later. */
        for (g = rt->groups; g; g = g->next)
                while (g->parts)
                        part_revoke(g->parts);
        rt->ready = rt->ready_tail = NULL;
        while (rt->live)
                kbus__record_abandon(rt->live);
        if (rt->ready_ev) {
                event_free(rt->ready_ev);
                rt->ready_ev = NULL;
        }
        while ((g = rt->groups)) {
                rt->groups = g->next;
                bool closed = g->rk && kbus__consumer_close(rt, g->rk, g->id);
                kbus__bridge_fini(&g->bridge);
                if (g->rk)
                        kbus__consumer_destroy(g->rk, closed);
                while (g->routes) {
                        kbus_route *r = g->routes;
                        g->routes = r->next;
                        kbus__free(r->topic);
                        kbus__free(r->handlers);
                        kbus__free(r);
                }
                kbus__free(g->id);
                kbus__free(g);
        }
}

int kbus_runtime_set_ordering(kbus_runtime *rt, const char *topic,
                              kbus_ordering ordering, int max_in_flight) {
        struct kbus_ordering_rule *r;
        if (!topic || max_in_flight < 0 ||
            (ordering != KBUS_ORDER_KEY && ordering != KBUS_ORDER_PARTITION))
                return KBUS_INVALID_ARGUMENT;
        r = kbus__calloc(1, sizeof(*r));
        if (!r || !(r->topic = kbus__strdup(topic))) {
                kbus__free(r);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        r->ordering = ordering;
        r->max_in_flight = max_in_flight;
        r->next = rt->ordering_rules;
        rt->ordering_rules = r;
        return 0;
}
