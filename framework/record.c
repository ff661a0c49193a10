/*
 * The life of a record; see record.h for the states and the guarantees.
 * This file holds every transition: admission, dispatch to the route, the
 * completion API handlers call (kbus_call_reply/ack/fail/refuse), retries,
 * replies, dead letters, and the two ends (finish, abandon).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "retry.h"

static void dispatch(kbus_call *call);
static void abandon(kbus_call *call);

/* The group's state module (table.c), if it keeps any state. */
#define STATE(call) ((call)->part->g)
#define HAS_STATE(call) (STATE(call)->state_ops != NULL)
#define STATE_DO(call, fn, ...)                                                \
        STATE(call)->state_ops->fn(STATE(call)->state, __VA_ARGS__)
static void reply_delivered(kbus_dr *dr, const rd_kafka_message_t *m);
static void published(kbus_dr *dr, const rd_kafka_message_t *m);

/* ---- admission ---- */

/* Records end in the partition they came from, and the next ones need a
 * call of the same size: each partition keeps a few ended calls' memory
 * (a record at a time per partition needs one; records in flight waiting
 * for their replies' reports need more). */
#define SPARE_CALLS 64

/* A cleared call for a record of \p p; NULL when out of memory. */
static kbus_call *call_new(kbus_partition *p) {
        struct kbus_spare *s = p->spare;
        if (!s)
                return kbus__calloc(1, sizeof(kbus_call));
        p->spare = s->next;
        p->n_spare--;
        memset(s, 0, sizeof(kbus_call));
        return (kbus_call *)s;
}

/* Makes \p m (not taken unless this returns true) a call and starts it,
 * or queues it behind the record holding its key.  False when out of
 * memory: then nothing changed. */
static bool admit(kbus_partition *p, rd_kafka_message_t *m) {
        kbus_runtime *rt = p->g->rt;
        kbus_call *call = call_new(p);

        if (!call)
                return false;
        if (!kbus__offsets_add(&p->offsets, m->offset, &call->seq)) {
                kbus__free(call);
                return false;
        }
        if (!p->route)
                for (const kbus_route *r = p->g->routes; r; r = r->next)
                        if (!strcmp(r->topic, p->topic)) {
                                p->route = r;
                                break;
                        }
        call->rt = rt;
        call->part = p;
        call->msg = m;
        call->route = p->route;
        call->flags = p->route ? p->route->flags : 0;
        call->attempt = 1;
        call->reply_dr.delivered = reply_delivered;
        call->pub.dr.delivered = published;
        call->lnext = rt->live;
        if (rt->live)
                rt->live->lprev = call;
        rt->live = call;
        p->in_flight++;
        p->live++;
        rt->records_in_flight++;
        if (p->ordering != KBUS_ORDER_KEY || !m->key) {
                dispatch(call);
                return true;
        }
        if (p->keys.held.n > 0) {
                /* Some record holds a key: this one's may be it. */
                call->keyed = true;
                if (!kbus__keys_take(&p->keys, &call->key, m->key, m->key_len))
                        call->state = KBUS_REC_WAITING;
                else
                        dispatch(call);
                return true;
        }
        /* No key is held, so this one is free.  Most handlers complete
         * before they return, and then nobody needs to know it was taken:
         * it enters the table only if the record is still alive after its
         * handler's first run.  Nothing else of the partition starts
         * meanwhile, so it is still free then. */
        p->dispatching = call;
        dispatch(call);
        if (p->dispatching != call)
                return true; /* it ended */
        p->dispatching = NULL;
        call->keyed = true;
        kbus__keys_take(&p->keys, &call->key, m->key, m->key_len);
        return true;
}

static void on_admit_timer(evutil_socket_t fd, short what, void *arg) {
        kbus_runtime *rt = arg;
        event_active(rt->ready_ev, EV_TIMEOUT, 0);
}

/* Out of memory to admit the record at the head of \p p's queue: it stays
 * there, nothing after it starts (so no offset past it can be stored), and
 * admission is tried again shortly. */
static void starve(kbus_partition *p) {
        kbus_runtime *rt = p->g->rt;
        KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                 "out of memory admitting a record of %s [%" PRId32
                 "]; trying again in 100 ms",
                 p->topic, p->partition);
        kbus__partition_pause(p, true);
        kbus__timer_ms(rt->admit_timer, 100);
}

/* Admits waiting records while there is room; resumes fetching when few
 * wait any more. */
static void pump(kbus_partition *p) {
        kbus_runtime *rt = p->g->rt;
        while (p->wait.n > 0 && !p->revoked && !rt->closing &&
               kbus__partition_has_room(p)) {
                rd_kafka_message_t *m =
                    *(rd_kafka_message_t **)kbus__ring_at(&p->wait, 0);
                if (!admit(p, m)) {
                        starve(p);
                        return;
                }
                kbus__ring_pop(&p->wait, NULL);
        }
        if (!p->revoked && !rt->closing && p->wait.n <= p->wait_high / 2)
                kbus__partition_pause(p, false);
}

void kbus__records_fetched(kbus_partition *p, rd_kafka_message_t *m) {
        kbus_runtime *rt = p->g->rt;
        if (p->wait.n == 0 && !rt->closing && kbus__partition_has_room(p)) {
                if (admit(p, m))
                        return;
                /* The queue is empty and has room reserved: this cannot
                 * fail, and the record waits at its head. */
                kbus__ring_push(&p->wait, &m);
                starve(p);
                return;
        }
        if (!kbus__ring_push(&p->wait, &m)) {
                /* No memory even to hold it: fetch it again later, from
                 * its own offset, and drop what was fetched after it. */
                rd_kafka_topic_partition_list_t *l =
                    rd_kafka_topic_partition_list_new(1);
                rd_kafka_error_t *err;
                rd_kafka_topic_partition_list_add(l, p->topic, p->partition)
                    ->offset = m->offset;
                KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                         "out of memory holding %s [%" PRId32
                         "] offset %" PRId64 "; fetching it again",
                         p->topic, p->partition, m->offset);
                err = rd_kafka_seek_partitions(p->rk, l, 0);
                if (err)
                        rd_kafka_error_destroy(err);
                rd_kafka_topic_partition_list_destroy(l);
                rd_kafka_message_destroy(m);
                kbus__partition_pause(p, true);
                kbus__timer_ms(rt->admit_timer, 100);
                return;
        }
        /* Pausing makes librdkafka drop what it prefetched for the
         * partition, so hold a good number of records before doing it,
         * rather than pausing and resuming at every record when handlers
         * are the bottleneck. */
        if (p->wait.n >= p->wait_high || rt->closing)
                kbus__partition_pause(p, true);
}

/* Queues a record to be dispatched from the loop, never from inside the
 * user's code that completed another record. */
static void ready_push(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        call->state = KBUS_REC_READY;
        call->qnext = NULL;
        if (rt->ready_tail)
                rt->ready_tail->qnext = call;
        else
                rt->ready = call;
        rt->ready_tail = call;
        event_active(rt->ready_ev, EV_TIMEOUT, 0);
}

/* Handled: the record stops counting against max_in_flight, though it
 * holds its offset until what it wrote is delivered. */
static void free_slot(kbus_call *call) {
        kbus_partition *p = call->part;
        if (call->slot_freed)
                return;
        call->slot_freed = true;
        p->in_flight--;
        if (p->wait.n > 0)
                event_active(call->rt->ready_ev, EV_TIMEOUT, 0);
}

/* The call's table changes are applied: the next record of its key runs
 * now, and sees them, while this one waits for their delivery.  Should a
 * delivery fail, the runtime stops (table.c), so no later record of the
 * key is affirmed on top of a change that was not written. */
static void pass_key(kbus_call *call) {
        kbus_partition *p = call->part;
        if (p->dispatching == call)
                p->dispatching = NULL; /* its key was never taken */
        if (call->keyed) {
                kbus_keyed *k = kbus__keys_release(&p->keys, &call->key);
                call->keyed = false;
                if (k) {
                        kbus_call *next = kbus__entry_of(k, kbus_call, key);
                        next->state = KBUS_REC_READY;
                        ready_push(next);
                }
        }
        free_slot(call);
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
                        abandon(call);
                else
                        dispatch(call);
        }
        for (kbus_group *g = rt->groups; g; g = g->next)
                for (kbus_partition *p = g->parts; p; p = p->next) {
                        if (p->wait.n > 0 && kbus__partition_has_room(p))
                                pump(p);
                        kbus__partition_flush(p);
                }
}

int kbus__records_init(kbus_runtime *rt) {
        rt->ready_ev = event_new(rt->base, -1, 0, on_ready, rt);
        rt->admit_timer = evtimer_new(rt->base, on_admit_timer, rt);
        return rt->ready_ev && rt->admit_timer ? 0 : KBUS_RESOURCE_EXHAUSTED;
}

/* ---- the two ends ---- */

/* Frees what \p call holds, and keeps its memory in its partition for a
 * later record, unless the partition has enough or is going away.  Most
 * calls hold nothing but the record and its decoded value: the other
 * members are tested before they are freed. */
static void call_free(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        kbus_partition *p = call->part;
        if (call->writes)
                STATE_DO(call, discard, call);
        if (call->lprev)
                call->lprev->lnext = call->lnext;
        else
                rt->live = call->lnext;
        if (call->lnext)
                call->lnext->lprev = call->lprev;
        if (call->timer)
                event_free(call->timer);
        if (call->dlt) { /* dead-lettered */
                kbus__dead_letter_fini(call->dlt);
                kbus__free(call->dlt);
        }
        if (call->pub.error)
                kbus__free(call->pub.error);
        if (call->held.message)
                kbus__free(call->held.message);
        if (call->held.value)
                kbus__free(call->held.value);
        if (call->input)
                protobuf_c_message_free_unpacked(call->input,
                                                 &kbus__pb_allocator);
        kbus__free(call->in_heap);
        rd_kafka_message_destroy(call->msg);
        if (!p->revoked && p->n_spare < SPARE_CALLS) {
                struct kbus_spare *s = (struct kbus_spare *)call;
                s->next = p->spare;
                p->spare = s;
                p->n_spare++;
                return;
        }
        kbus__free(call);
}

/* Ends \p call.  The key it holds passes to the next record waiting for
 * it, which runs next; or, when \p call is abandoned, is abandoned too,
 * since it must not run before \p call. */
static void end(kbus_call *call, bool abandoned) {
        kbus_runtime *rt = call->rt;
        while (call) {
                kbus_partition *p = call->part;
                kbus_call *next = NULL;
                if (call->keyed && call->state != KBUS_REC_WAITING) {
                        kbus_keyed *k =
                            kbus__keys_release(&p->keys, &call->key);
                        if (k) { /* it holds the key now */
                                next = kbus__entry_of(k, kbus_call, key);
                                next->state = KBUS_REC_READY;
                        }
                }
                if (next && !abandoned) {
                        ready_push(next);
                        next = NULL;
                }
                if (abandoned && call->cached) /* a redelivery must run it */
                        kbus__replies_forget(&rt->replies, call->in.corr,
                                             call->in.corr_len);
                if (p->dispatching == call)
                        p->dispatching =
                            NULL; /* admit() need not take its key */
                rt->records_in_flight--;
                if (!call->slot_freed)
                        p->in_flight--;
                p->live--;
                call_free(call);
                if (p->revoked && p->live == 0)
                        kbus__partition_free(p);
                else if (p->wait.n > 0)
                        event_active(rt->ready_ev, EV_TIMEOUT, 0);
                call = next;
        }
        rt->quiet(rt);
}

void kbus__record_finish(kbus_call *call) {
        kbus_partition *p = call->part;
        int64_t next;
        /* Stored by on_ready, after what woke the loop is done: once per
         * partition per wake-up instead of once per record.  Whatever
         * commits first (a revocation, the close) stores it before. */
        if (kbus__offsets_done(&p->offsets, call->seq, &next) && !p->revoked &&
            kbus__partition_store(p, next))
                event_active(call->rt->ready_ev, EV_TIMEOUT, 0);
        end(call, false);
}

void kbus__record_input_done(kbus_call *call) {
        if (call->input)
                protobuf_c_message_free_unpacked(call->input,
                                                 &kbus__pb_allocator);
        call->input = NULL;
}

/* Lets a record go without storing its offset: it is redelivered. */
static void abandon(kbus_call *call) {
        end(call, true);
}

void kbus__record_abandon(kbus_call *call) {
        abandon(call);
}

void kbus__records_revoke(kbus_partition *p) {
        kbus_runtime *rt = p->g->rt;
        kbus_keyed *w = kbus__keys_take_waiting(&p->keys);

        kbus__partition_flush(p); /* what finished is stored */
        while (p->wait.n > 0) {
                rd_kafka_message_t *m;
                kbus__ring_pop(&p->wait, &m);
                rd_kafka_message_destroy(m);
        }
        p->revoked = true;
        p->live++; /* keep p while its records are let go */
        while (w) {
                kbus_keyed *next = w->next;
                abandon(kbus__entry_of(w, kbus_call, key));
                w = next;
        }
        /* A record waiting to be tried again (its handler, or its dead
         * letter) is abandoned now: the partition's next owner handles it
         * from the start, and a late attempt here would interleave with
         * that one's on the same key, or dead-letter it a second time. */
        for (kbus_call *c = rt->live, *next; c; c = next) {
                next = c->lnext;
                if (c->part == p &&
                    (c->state == KBUS_REC_BACKOFF ||
                     (c->state == KBUS_REC_DEAD_LETTERING && c->dlt->timer &&
                      evtimer_pending(c->dlt->timer, NULL))))
                        abandon(c);
        }
        if (--p->live == 0)
                kbus__partition_free(p);
}

void kbus__records_close(kbus_runtime *rt) {
        rt->ready = rt->ready_tail = NULL;
        while (rt->live)
                abandon(rt->live);
        if (rt->ready_ev)
                event_free(rt->ready_ev);
        if (rt->admit_timer)
                event_free(rt->admit_timer);
        rt->ready_ev = rt->admit_timer = NULL;
}

/* ---- running ---- */

/* Reads the record's headers and hands it to its route. */
static void dispatch(kbus_call *call) {
        char why[256];
        call->state = KBUS_REC_HANDLING;
        if (kbus__wire_read(call->msg, &call->in, why, sizeof(why))) {
                call->rt->stats[KBUS_STAT_DECODE_ERRORS]++;
                kbus__record_dead_letter(call, "kbus.DecodeError", why);
                return;
        }
        /* The values the call needs are copied into it, and librdkafka's
         * parse of the headers (a block for each, about a kilobyte a
         * record) goes now, not when the record ends: a record stays until
         * what it wrote is delivered, and thousands of them at a time held
         * that much memory.  A later rd_kafka_message_headers() (a dead
         * letter, the event time) parses them again. */
        if (!kbus__wire_keep(&call->in, call->in_buf, sizeof(call->in_buf),
                             &call->in_heap)) {
                rd_kafka_headers_t *h;
                if (!rd_kafka_message_detach_headers(call->msg, &h))
                        rd_kafka_headers_destroy(h);
        }
        if (!call->route) {
                kbus__record_dead_letter(call, "kbus.NoRoute",
                                         "no server or subscriber for topic");
                return;
        }
        /* A record whose outcome was written before a crash is not
         * handled again: the state module sends what it owed, and ends it. */
        if (HAS_STATE(call) && STATE_DO(call, redelivered, call))
                return;
        call->route->ops->dispatch(call);
}

void kbus__record_run(kbus_call *call) {
        kbus_runtime *rt = call->rt;
        if (!call->input) {
                /* Its input went with its applied changes, after which it
                 * never runs again; were it to, it is left to be
                 * redelivered rather than run without its input. */
                abandon(call);
                return;
        }
        call->state = KBUS_REC_HANDLING;
        call->pub.n = 0;
        if (call->writes) /* an earlier attempt's */
                STATE_DO(call, discard, call);
        rt->current = call;
        /* The handler may end the call, and free it, before it returns. */
        call->route->ops->invoke(call);
        rt->current = NULL;
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
        kbus_call *call = arg;
        char why[128];
        if (call->rt->closing || call->part->revoked) {
                /* Not finished: it stays unstored and comes back later. */
                abandon(call);
                return;
        }
        if (call->in.deadline_ms && call->in.deadline_ms <= kbus__now_ms()) {
                /* The timer fired after the deadline.  A caller who waited
                 * has given up, so there is nobody to answer; a record
                 * nobody waits for is kept, with the reason. */
                if (call->wants_reply) {
                        call->rt->stats[KBUS_STAT_REQUESTS_EXPIRED]++;
                        KBUS_LOGT(KBUS_LOG_INFO, "retry", call->in.traceparent,
                                  "not retrying %s: its deadline has passed",
                                  kbus_call_method(call));
                        kbus__record_finish(call);
                        return;
                }
                snprintf(why, sizeof(why),
                         "deadline passed before attempt %" PRIu32,
                         call->attempt);
                kbus__record_dead_letter(call, "kbus.DeadlineExceeded", why);
                return;
        }
        kbus__record_run(call);
}

/* Schedules another attempt if the policy and the caller's deadline allow;
 * later records with the same key (or of the partition, with partition
 * ordering) wait meanwhile, so order holds.  True when \p call was dealt
 * with (scheduled, or abandoned at shutdown). */
static bool retry_later(kbus_call *call, kbus_status code,
                        const char *message) {
        kbus_runtime *rt = call->rt;
        kbus_retry_policy pol =
            kbus__retry_policy(call->retry, &rt->conf->retry);
        int64_t backoff;

        if (!kbus__retry_allowed(&pol, code, call->attempt))
                return false;
        if (rt->closing) {
                /* No time to wait: a caller hears the status; a record
                 * nobody waits for stays unstored, for whoever handles
                 * the partition next, rather than be dead-lettered. */
                if (call->wants_reply)
                        return false;
                KBUS_LOGT(KBUS_LOG_INFO, "retry", call->in.traceparent,
                          "%s attempt %" PRIu32 " failed (%s: %s); shutting "
                          "down, left for redelivery",
                          kbus_call_method(call), call->attempt,
                          kbus_status_name(code), message);
                abandon(call);
                return true;
        }
        backoff = kbus__retry_backoff_ms(&pol, call->attempt);
        if (call->in.deadline_ms &&
            kbus__now_ms() + backoff >= call->in.deadline_ms)
                return false;
        if (!call->timer &&
            !(call->timer = evtimer_new(rt->base, on_retry, call)))
                return false;
        KBUS_LOGT(KBUS_LOG_INFO, "retry", call->in.traceparent,
                  "%s attempt %" PRIu32 " failed (%s: %s); retrying in %" PRId64
                  " ms",
                  kbus_call_method(call), call->attempt, kbus_status_name(code),
                  message, backoff);
        call->attempt++;
        call->state = KBUS_REC_BACKOFF;
        rt->stats[KBUS_STAT_RETRIES]++;
        kbus__timer_ms(call->timer, backoff);
        return true;
}

/* ---- replies ---- */

/* Sends a reply to the caller of \p call; takes \p value.  With \p ends,
 * the record ends when the reply's delivery report comes; without, the
 * reply is a courtesy and the record ends another way. */
static int send_reply(kbus_call *call, kbus_status status, const char *message,
                      void *value, size_t len, bool ends) {
        kbus_runtime *rt = call->rt;
        char topic[256], tp[KBUS_TRACEPARENT_LEN + 1];
        int rc;

        /* kbus__wire_read keeps reply topics under 250 bytes. */
        memcpy(topic, call->in.reply_topic, call->in.reply_topic_len);
        topic[call->in.reply_topic_len] = '\0';
        if (ends && call->cached) {
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
        rc = kbus__kafka_produce(
            rt->producer, topic, call->in.reply_partition, NULL, 0, value, len,
            kbus__wire_reply(call->in.corr, call->in.corr_len, status, message,
                             tp),
            ends ? &call->reply_dr : NULL);
        if (rc) {
                if (ends && call->cached) /* not an outcome anyone heard */
                        kbus__replies_forget(&rt->replies, call->in.corr,
                                             call->in.corr_len);
                KBUS_LOGT(KBUS_LOG_WARN, "server", call->in.traceparent,
                          "cannot reply to %s: %s", topic, kbus_strerror(rc));
                return rc;
        }
        if (ends) {
                call->state = KBUS_REC_REPLYING;
                free_slot(call);
        }
        return 0;
}

static void reply_delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        kbus_call *call = kbus__entry_of(dr, kbus_call, reply_dr);
        /* A reply that could not be written: the caller times out and may
         * call again; the request itself was handled. */
        if (m->err)
                KBUS_LOGT(KBUS_LOG_WARN, "server", call->in.traceparent,
                          "reply to %s %s: %s", rd_kafka_topic_name(m->rkt),
                          kbus__kafka_outcome(m), rd_kafka_err2str(m->err));
        kbus__record_finish(call);
}

void kbus__record_answer(kbus_call *call, kbus_status status,
                         const char *message) {
        if (!call->wants_reply ||
            send_reply(call, status, message, NULL, 0, true))
                kbus__record_finish(call);
}

void kbus__record_answer_cached(kbus_call *call, const kbus_cached_reply *e) {
        void *copy = NULL;
        if (call->wants_reply && (!e->len || (copy = kbus__malloc(e->len)))) {
                if (e->len)
                        memcpy(copy, e->value, e->len);
                if (!send_reply(call, (kbus_status)e->status, e->message, copy,
                                e->len, true))
                        return;
        }
        kbus__record_finish(call);
}

void kbus__record_courtesy_reply(kbus_call *call, kbus_status status,
                                 const char *message) {
        send_reply(call, status, message, NULL, 0, false);
}

/* Replies OK with a packed value (taken), or ends a call nobody waits
 * for. */
static int reply_packed(kbus_call *call, void *value, size_t len) {
        int rc;
        if (!call->wants_reply) {
                kbus__free(value);
                kbus__record_finish(call);
                return 0;
        }
        rc = send_reply(call, KBUS_OK, NULL, value, len, true);
        if (rc == KBUS_OUT_OF_RANGE) {
                /* Too large ever to be written: the caller hears why now
                 * instead of waiting for its deadline. */
                char why[128];
                snprintf(why, sizeof(why),
                         "reply of %zu bytes is larger than the producer's "
                         "message.max.bytes",
                         len);
                if (!(rc = send_reply(call, KBUS_OUT_OF_RANGE, why, NULL, 0,
                                      true)))
                        return KBUS_OUT_OF_RANGE;
        }
        if (rc) {
                /* The request was handled; the caller will time out. */
                kbus__record_finish(call);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        return 0;
}

/* ---- dead letters ---- */

static void dead_letter_done(kbus_dead_letter *dl, bool written) {
        kbus_call *call = dl->owner;
        if (!written) {
                /* Shutting down, or the partition is someone else's now:
                 * left unstored, it is redelivered and dead-lettered then. */
                abandon(call);
                return;
        }
        call->rt->stats[KBUS_STAT_DEAD_LETTERED]++;
        kbus__record_finish(call);
}

static bool dead_letter_keep_trying(kbus_dead_letter *dl) {
        kbus_call *call = dl->owner;
        return !call->rt->closed && !call->part->revoked;
}

void kbus__record_dead_letter(kbus_call *call, const char *error_class,
                              const char *reason) {
        kbus_runtime *rt = call->rt;
        const rd_kafka_message_t *m = call->msg;
        const char *topic = rd_kafka_topic_name(m->rkt);
        kbus_dead_letter *dl;

        if (call->part->revoked) {
                /* Its next owner decides, from the start. */
                abandon(call);
                return;
        }
        if (call->flags & KBUS_NO_DEAD_LETTER) {
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
                  topic, m->partition, m->offset, topic, rt->conf->dlt_suffix,
                  error_class, reason);
        if (!call->dlt && !(call->dlt = kbus__calloc(1, sizeof(*call->dlt)))) {
                /* Left unstored, it is dead-lettered when it comes again. */
                abandon(call);
                return;
        }
        dl = call->dlt;
        call->state = KBUS_REC_DEAD_LETTERING;
        dl->owner = call;
        dl->producer = rt->producer;
        dl->base = rt->base;
        dl->msg = m;
        dl->group = call->part->group_id;
        dl->suffix = rt->conf->dlt_suffix;
        dl->attempts = call->attempt;
        dl->error_class = error_class;
        dl->done = dead_letter_done;
        dl->keep_trying = dead_letter_keep_trying;
        kbus__dead_letter_send(dl, reason);
}

/* ---- completing a call ---- */

/* A handler failed the call (or its events were not delivered): retry,
 * tell the caller, or dead-letter. */
static void fail_now(kbus_call *call, kbus_status code, const char *message) {
        char why[512];
        if (call->part->revoked) {
                /* Its next owner runs it again from the start. */
                abandon(call);
                return;
        }
        if (retry_later(call, code, message))
                return;
        if (call->wants_reply) {
                /* The caller decides what to do with the failure. */
                if (send_reply(call, code, message, NULL, 0, true))
                        kbus__record_finish(call);
                return;
        }
        snprintf(why, sizeof(why), "%s: %s (attempt %" PRIu32 ")",
                 kbus_status_name(code), message, call->attempt);
        kbus__record_dead_letter(call, "kbus.HandlerError", why);
}

/* A refusal takes effect: the caller hears it; nothing is retried or
 * dead-lettered, since the refusal is the record's outcome. */
static void refused(kbus_call *call, kbus_status code, const char *message) {
        if (!call->wants_reply ||
            send_reply(call, code, message, NULL, 0, true))
                kbus__record_finish(call);
}

/* Every event the handler published has its delivery report: the held
 * outcome takes effect.  If one was not delivered, the record fails with
 * UNAVAILABLE instead (unless the handler failed it already): it is
 * retried, and the handler publishes again, or the caller hears it, or it
 * is dead-lettered.  While shutting down it is left for redelivery. */
static void release(kbus_call *call) {
        struct kbus_outcome h = call->held;
        char *error = call->pub.error;
        bool failed = call->pub.failed;

        memset(&call->held, 0, sizeof(call->held));
        call->pub.error = NULL;
        call->pub.failed = false;
        call->state = KBUS_REC_HANDLING;
        if (failed && call->rt->closing) {
                kbus__free(h.value);
                abandon(call);
        } else if (failed && h.kind != KBUS_OUTCOME_FAIL) {
                kbus__free(h.value);
                fail_now(call, KBUS_UNAVAILABLE,
                         error ? error : "an event was not delivered");
        } else if (h.kind == KBUS_OUTCOME_REPLY) {
                if (call->writes)
                        STATE_DO(call, written, call);
                reply_packed(call, h.value, h.len);
        } else if (h.kind == KBUS_OUTCOME_ACK) {
                if (call->writes)
                        STATE_DO(call, written, call);
                kbus__record_finish(call);
        } else if (h.kind == KBUS_OUTCOME_REFUSE) {
                if (call->writes)
                        STATE_DO(call, written, call);
                refused(call, h.code, h.message);
        } else {
                fail_now(call, h.code, h.message);
        }
        kbus__free(h.message);
        kbus__free(error);
}

/* Keeps the handler's outcome while events it published are on their way
 * (kbus_call_publish): the record ends only after their delivery.  Takes
 * \p value. */
static int hold(kbus_call *call, kbus_outcome_kind kind, kbus_status code,
                const char *message, void *value, size_t len) {
        call->state = KBUS_REC_HOLDING;
        call->held.kind = kind;
        call->held.code = code;
        call->held.message = message ? kbus__strdup(message) : NULL;
        call->held.value = value;
        call->held.len = len;
        if (!call->pub.pending)
                release(call);
        return 0;
}

static bool must_hold(const kbus_call *call) {
        return call->pub.pending || call->pub.failed;
}

static void published(kbus_dr *dr, const rd_kafka_message_t *m) {
        kbus_call *call = kbus__entry_of(dr, kbus_call, pub.dr);
        if (m->err && !call->pub.failed) {
                char why[512];
                snprintf(why, sizeof(why), "event to %s %s: %s",
                         rd_kafka_topic_name(m->rkt), kbus__kafka_outcome(m),
                         rd_kafka_err2str(m->err));
                KBUS_LOGT(KBUS_LOG_WARN, "events", call->in.traceparent,
                          "%s, while handling %s", why, kbus_call_method(call));
                call->rt->stats[KBUS_STAT_EVENTS_UNDELIVERED]++;
                call->pub.failed = true;
                call->pub.error = kbus__strdup(why);
        }
        if (--call->pub.pending == 0 && call->state == KBUS_REC_HOLDING)
                release(call);
}

/* A call with table changes whose partition was revoked while it ran:
 * the next owner has restored (or is restoring) the table without them,
 * and handles the record again from the start.  Writing them now would
 * put changes into the changelog behind its back, so the call is let go,
 * its changes, and its reply, dropped. */
static bool stale_state(kbus_call *call) {
        if (!call->writes || !call->part->revoked)
                return false;
        abandon(call);
        return true;
}

int kbus_call_reply(kbus_call *call, const ProtobufCMessage *reply) {
        void *value;
        size_t len;
        if (call->state != KBUS_REC_HANDLING || !call->method ||
            reply->descriptor != call->method->output)
                return KBUS_INVALID_ARGUMENT;
        value = kbus__pack(reply, &len);
        if (!value) {
                kbus__record_finish(call);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        if (stale_state(call)) {
                kbus__free(value);
                return 0;
        }
        /* Table changes go to the changelog with the reply (its outbox);
         * the reply leaves once they are delivered. */
        if (call->writes && STATE_DO(call, commit, call, KBUS_OK, value, len))
                pass_key(call);
        if (must_hold(call))
                return hold(call, KBUS_OUTCOME_REPLY, KBUS_OK, NULL, value,
                            len);
        return reply_packed(call, value, len);
}

int kbus_call_ack(kbus_call *call) {
        if (call->state != KBUS_REC_HANDLING)
                return KBUS_INVALID_ARGUMENT;
        if (call->method && !(call->method->flags & KBUS_METHOD_ONE_WAY))
                return KBUS_INVALID_ARGUMENT; /* must reply */
        if (stale_state(call))
                return 0;
        if (call->writes && STATE_DO(call, commit, call, KBUS_OK, NULL, 0))
                pass_key(call);
        if (must_hold(call))
                return hold(call, KBUS_OUTCOME_ACK, KBUS_OK, NULL, NULL, 0);
        kbus__record_finish(call);
        return 0;
}

int kbus_call_fail(kbus_call *call, kbus_status code, const char *message) {
        if (call->state != KBUS_REC_HANDLING || code <= KBUS_OK ||
            code > KBUS_UNAUTHENTICATED)
                return KBUS_INVALID_ARGUMENT;
        if (!message)
                message = kbus_status_name(code);
        if (must_hold(call))
                return hold(call, KBUS_OUTCOME_FAIL, code, message, NULL, 0);
        fail_now(call, code, message);
        return 0;
}

int kbus_call_refuse(kbus_call *call, kbus_status code, const char *message) {
        if (call->state != KBUS_REC_HANDLING || code <= KBUS_OK ||
            code > KBUS_UNAUTHENTICATED)
                return KBUS_INVALID_ARGUMENT;
        if (!message)
                message = kbus_status_name(code);
        if (stale_state(call))
                return 0;
        /* Its changes go to the changelog like a success's, with the
         * refusal as the reply a redelivery sends again. */
        if (call->writes && STATE_DO(call, commit, call, code, NULL, 0))
                pass_key(call);
        if (must_hold(call))
                return hold(call, KBUS_OUTCOME_REFUSE, code, message, NULL, 0);
        refused(call, code, message);
        return 0;
}

void kbus__record_produced(kbus_call *call, const char *topic, const void *key,
                           size_t key_len, const void *value, size_t len,
                           const rd_kafka_headers_t *hdrs) {
        if (HAS_STATE(call))
                STATE_DO(call, produced, call, topic, key, key_len, value, len,
                         hdrs);
}

/* ---- what a handler may ask ---- */

void kbus__outgoing_trace(kbus_runtime *rt,
                          char out[KBUS_TRACEPARENT_LEN + 1]) {
        kbus__trace_child(rt->current ? rt->current->in.traceparent : NULL,
                          out);
}

kbus_runtime *kbus_call_runtime(const kbus_call *call) {
        return call->rt;
}

const char *kbus_call_method(const kbus_call *call) {
        return call->method                     ? call->method->path
               : call->route && call->route->ev ? call->route->ev->type
                                                : "";
}

int64_t kbus_call_deadline(const kbus_call *call) {
        return call->in.deadline_ms;
}

uint32_t kbus_call_attempt(const kbus_call *call) {
        return call->attempt;
}

const char *kbus_call_topic(const kbus_call *call) {
        return call->part->topic;
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

int kbus_call_event_time(const kbus_call *call, int64_t *ms) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *v;
        size_t len;
        if (rd_kafka_message_headers(call->msg, &hdrs) ||
            rd_kafka_header_get_last(hdrs, KBUS_H_CE_TIME, &v, &len) || !v)
                return KBUS_NOT_FOUND;
        return kbus__wire_time_parse(v, len, ms) ? KBUS_INVALID_ARGUMENT : 0;
}
