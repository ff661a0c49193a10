/*
 * Room in the producer: publishers that wait instead of failing.
 *
 * kbus_publish() and kbus_call_start() refuse a message with
 * RESOURCE_EXHAUSTED when librdkafka's queue is full (or, for calls, when
 * client_max_in_flight calls are pending).  A program that produces faster
 * than the brokers take then asks kbus_runtime_when_room() to be called
 * back, and goes on from there: nothing blocks the loop.
 *
 * "Room" is a low-water mark, not the first free slot: the producer holds
 * at most half of queue.buffering.max.messages (and, for calls, fewer than
 * client_max_in_flight are pending).  So a waiting publisher wakes once per
 * half a queue, not once per delivery report, and the queue never runs dry
 * while it refills it.
 *
 * When to look: the producer's messages are counted by
 * rd_kafka_outq_len(), which falls only as delivery reports are served
 * (the runtime's producer drain calls kbus__room_progress), and calls end
 * through the runtime's quiet() hook (kbus__room_check).  The queue can
 * also be full by bytes (queue.buffering.max.kbytes) with few messages in
 * it; the count alone would then say "room" for ever and a publisher would
 * spin.  So once a produce was refused (kbus__room_full), room needs a
 * delivery report first: some message has left since.
 *
 * Waiters run from a zero-delay timer, never inside the code that noticed
 * the room (a record's completion, a delivery report), and on the next
 * turn of the loop, so a callback that asks again at once cannot keep the
 * loop from its I/O.
 */
#include <stdlib.h>

#include "core.h"

struct kbus_room_waiter {
        struct kbus_room_waiter *next;
        kbus_room_fn cb;
        void *arg;
};

/* Whether a publisher refused before would be taken now. */
static bool has_room(kbus_runtime *rt) {
        int queued = rd_kafka_outq_len(rt->producer);
        if (rt->n_waiting >= (size_t)rt->conf->client_max_in_flight)
                return false;
        /* An empty producer has room whatever refused it before (a
         * blocking kbus_runtime_flush() may have emptied it unseen). */
        return queued == 0 || (!rt->room.full && queued <= rt->room.low_water);
}

static void schedule(kbus_runtime *rt) {
        static const struct timeval now = {0, 0};
        if (rt->room.ev && !evtimer_pending(rt->room.ev, NULL))
                evtimer_add(rt->room.ev, &now);
}

/* Runs the waiters there were on entry, first come first served, while
 * there is room: one that fills the producer again leaves the rest
 * waiting for the next delivery reports.  Waiters added meanwhile wait for
 * their own turn of the loop. */
static void room_run(evutil_socket_t fd, short what, void *arg) {
        kbus_runtime *rt = arg;
        size_t n = rt->room.n;
        (void)fd;
        (void)what;
        while (n-- > 0 && rt->room.head) {
                struct kbus_room_waiter *w = rt->room.head;
                kbus_status status = rt->closing ? KBUS_CANCELLED : KBUS_OK;
                if (status == KBUS_OK && !has_room(rt))
                        return;
                rt->room.head = w->next;
                if (!rt->room.head)
                        rt->room.tail = &rt->room.head;
                rt->room.n--;
                w->cb(status, w->arg);
                kbus__free(w);
        }
}

int kbus__room_init(kbus_runtime *rt) {
        char buf[32];
        size_t len = sizeof(buf);
        long max = 100000; /* librdkafka's default */
        rt->room.tail = &rt->room.head;
        if (rd_kafka_conf_get(rd_kafka_conf(rt->producer),
                              "queue.buffering.max.messages", buf,
                              &len) == RD_KAFKA_CONF_OK)
                max = strtol(buf, NULL, 10);
        rt->room.low_water = (int)(max / 2);
        rt->room.ev = evtimer_new(rt->base, room_run, rt);
        return rt->room.ev ? 0 : KBUS_RESOURCE_EXHAUSTED;
}

int kbus_runtime_when_room(kbus_runtime *rt, kbus_room_fn cb, void *arg) {
        struct kbus_room_waiter *w;
        if (!cb)
                return KBUS_INVALID_ARGUMENT;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        if (!(w = kbus__malloc(sizeof(*w))))
                return KBUS_RESOURCE_EXHAUSTED;
        w->next = NULL;
        w->cb = cb;
        w->arg = arg;
        *rt->room.tail = w;
        rt->room.tail = &w->next;
        rt->room.n++;
        kbus__room_check(rt);
        return 0;
}

void kbus__room_full(kbus_runtime *rt) {
        rt->room.full = true;
}

void kbus__room_check(kbus_runtime *rt) {
        if (rt->room.head && has_room(rt))
                schedule(rt);
}

void kbus__room_progress(kbus_runtime *rt) {
        rt->room.full = false;
        kbus__room_check(rt);
}

void kbus__room_shutdown(kbus_runtime *rt) {
        if (rt->room.head)
                schedule(rt);
}

void kbus__room_fini(kbus_runtime *rt) {
        while (rt->room.head) {
                struct kbus_room_waiter *w = rt->room.head;
                rt->room.head = w->next;
                rt->room.n--;
                w->cb(KBUS_CANCELLED, w->arg);
                kbus__free(w);
        }
        rt->room.tail = &rt->room.head;
        if (rt->room.ev) {
                event_free(rt->room.ev);
                rt->room.ev = NULL;
        }
}
