/*
 * The runtime object and the consumer group, as the library's modules see
 * them.  Who does what:
 *   runtime.c   lifecycle: new, start, run, shutdown, free; signals
 *   kafka.c     librdkafka: configuration, loop bridge, produce, reports
 *   room.c      publishers waiting for room in the producer
 *   consumer.c  consumer groups: subscribe, rebalance, fetch, close
 *   record.c    the life of a record and the completion API (kbus_call_*)
 *   partition.c a partition we own; offsets.c, keys.c its parts
 *   retry.c     backoff; dlq.c dead letters; wire.c headers, both ways
 *   server.c    requests (a route); events.c publish and subscribe (a route)
 *   client.c    calls and replies; replies.c the idempotent reply cache
 *   table.c     state tables kept in changelog topics (kbus_state_ops);
 *               applied.c the batches they applied that may come again
 *   aggregate.c event-sourced aggregates, on tables and the record's API
 *   window.c    windows by event time, on the public table API
 *   ops.c       /healthz, /readyz, /metrics
 *   setup.c     a runtime from a config file and the environment
 *   json.c, json_pool.c  the proto3 JSON mapping (kbus/json.h), a leaf
 * Calls go down this list's dependency order and never back: the engine
 * reaches routes through kbus_route_ops, and the runtime through the
 * quiet() and stop() functions it set.
 */
#ifndef KBUS_CORE_H
#define KBUS_CORE_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "hash.h"
#include "kafka.h"
#include "kbus_int.h"
#include "partition.h"
#include "record.h"
#include "replies.h"
#include "ring.h"
#include "route.h"
#include "wire.h"

/* ---- partitioned state a group keeps (table.c), reached only through
 * these functions, which it sets when a table is attached ---- */
typedef struct kbus_state_ops {
        /** At kbus_runtime_start: create or check changelog topics. */
        int (*start)(void *state);
        /** A partition of the group was assigned (after rd_kafka_assign):
         *  its state is restored before its first record starts. */
        void (*assigned)(void *state, kbus_partition *p);
        /** A partition was revoked or lost, or the runtime closes. */
        void (*revoked)(void *state, kbus_partition *p);
        /** Before a record's handler: true when the record's outcome was
         *  written before (a redelivery) and the state module ends it. */
        bool (*redelivered)(void *state, kbus_call *call);
        /** The handler of \p call produced a message (an event): kept for
         *  the call's outbox. */
        void (*produced)(void *state, kbus_call *call, const char *topic,
                         const void *key, size_t key_len, const void *value,
                         size_t len, const rd_kafka_headers_t *hdrs);
        /** \p call succeeded: write its changes to the changelog (each
         *  delivery counted in call->pub), with the reply it sends.  True
         *  when the changes are applied at once (later records see them):
         *  the record's key may then pass to the next record while this
         *  one waits for the deliveries. */
        bool (*commit)(void *state, kbus_call *call, kbus_status status,
                       const void *reply, size_t reply_len);
        /** Its changelog records and events are delivered: the record's
         *  outcome is written. */
        void (*written)(void *state, kbus_call *call);
        /** Forget the call's changes (a failed attempt, or freed). */
        void (*discard)(void *state, kbus_call *call);
        /** /readyz: true while a partition is being restored. */
        bool (*restoring)(void *state);
        /** /metrics: restore progress and table sizes. */
        void (*metrics)(void *state, struct evbuffer *b, const char *app);
        /** The group is freed. */
        void (*free)(void *state);
} kbus_state_ops;

/* ---- a consumer group of the runtime ---- */
typedef struct kbus_group {
        struct kbus_group *next;
        kbus_runtime *rt;
        char *id;
        rd_kafka_t *rk;
        kbus_bridge bridge;
        kbus_route *routes;
        kbus_partition *parts;
        bool subscribed;      /* the route list is what librdkafka has */
        bool joined;          /* had a first assignment, even an empty one */
        int64_t join_warn_ms; /* when to say again that it has not joined */
        const kbus_state_ops *state_ops; /* tables, if any */
        void *state;
        /* Windows (window.c): one record at a time per partition, whatever
         * the topic's ordering, since a record may change other keys. */
        bool one_at_a_time;
} kbus_group;

/* ---- a call this process made, waiting for its reply ---- */
typedef struct kbus_pending {
        kbus_hnode node; /* by correlation id */
        kbus_dr dr;      /* the request's delivery report */
        uint8_t id[KBUS_CORRELATION_LEN];
        enum { PENDING_WAITING, PENDING_DONE, PENDING_EXPIRED } state;
        const kbus_method_desc *method;
        kbus_fn cb;
        void *arg;
        struct event *timer;
        kbus_runtime *rt;
        int64_t deadline_ms;
        struct kbus_resend { /* idempotent calls: what a resend needs */
                struct event *resend_timer;
                uint32_t resends;
                void *value, *key;
                size_t len, key_len;
                char *topic;
                uint8_t bytes[]; /* value, key, topic */
        } * saved;
        bool dr_pending; /* the request's delivery report is still due */
        bool orphan;     /* out of the table: free on the delivery report */
        _Alignas(max_align_t) unsigned char timer_storage[]; /* the timer */
} kbus_pending;

struct kbus_call_opts {
        int64_t timeout_ms;
        char *topic;
};

struct kbus_runtime {
        kbus_config *conf;
        struct event_base *base;
        bool own_base;
        kbus_broker *broker;
        char *bootstrap;
        kbus_kafka_site site; /* what every librdkafka client shares */
        bool started;
        bool closing;
        bool closed; /* loop left */
        bool hurry;  /* a second signal: leave without waiting */
        int failure; /* why it shut down by itself: kbus_runtime_run's */
        uint64_t stats[KBUS_STAT__COUNT];
        /* Set by the runtime: called when a record or a call ends, so that
         * a shutdown can finish once nothing is in flight. */
        void (*quiet)(kbus_runtime *rt);
        /* Set by the runtime: begins a shutdown (kbus_runtime_shutdown). */
        void (*stop)(kbus_runtime *rt);

        rd_kafka_t *producer;
        kbus_bridge producer_bridge;
        kbus_dr event_dr; /* reports of events nobody waits for */
        /* room.c: publishers waiting for room in the producer */
        struct kbus_room {
                struct kbus_room_waiter *head, **tail; /* in arrival order */
                size_t n;                              /* waiters in the list */
                struct event *ev; /* runs them on a later turn of the loop */
                int low_water;    /* producer messages: room at or below */
                bool full; /* a produce was refused since the last report */
        } room;

        /* client */
        rd_kafka_t *reply_rk;
        kbus_bridge reply_bridge;
        char *reply_topic;
        int32_t reply_partition;
        kbus_hash calls;       /* kbus_pending by correlation id */
        size_t n_waiting;      /* calls waiting for a reply */
        kbus_ring ended;       /* kbus_pending *: the last calls to end, kept
                           * to tell late replies from unknown ones */
        size_t stale_requests; /* requests still queued whose call ended */
        struct kbus_prepared *prepared; /* services declared to be called */
        bool reply_at_start; /* reply consumer opened by kbus_runtime_start:
                               * readiness waits for its first fetch */
        bool reply_fetching; /* the reply consumer reached its end once */
        const struct timeval *common_tv[8]; /* libevent common timeouts */
        int64_t common_ms[8];
        struct timeval scratch_tv;

        /* servers and subscribers */
        kbus_group *groups;
        size_t records_in_flight;
        kbus_call *current; /* record whose handler is running, for traces */
        kbus_reply_cache replies;      /* idempotent methods' recent outcomes */
        char reply_topic_seen[256];    /* the last caller's reply topic, its */
        size_t reply_topic_seen_len;   /* leaders asked for (server.c) */
        kbus_call *live;               /* list of every record being handled */
        kbus_call *ready, *ready_tail; /* records to hand to handlers */
        struct event *ready_ev;        /* runs them, outside user code */
        struct event *admit_timer;     /* admits again after no memory */
        struct kbus_ordering_rule {
                struct kbus_ordering_rule *next;
                char *topic;
                kbus_ordering ordering;
                int max_in_flight;
        } * ordering_rules;

        struct kbus_window *windows; /* window.c: freed with the runtime */

        struct event *sig_int, *sig_term, *grace_timer;
        struct evhttp *http; /* operations endpoint, if configured */
        int http_port;
        char ce_source[256];
        struct kbus_agg_type *aggregates; /* aggregate.c: types attached */
};

/** Arms \p ev to fire once after \p ms milliseconds. */
static inline void kbus__timer_ms(struct event *ev, int64_t ms) {
        struct timeval tv = {(time_t)(ms / 1000),
                             (suseconds_t)(ms % 1000) * 1000};
        evtimer_add(ev, &tv);
}

/* room.c */
/** Reads the producer's capacity; after the producer and base exist. */
int kbus__room_init(kbus_runtime *rt);
/** A produce was refused (queue full): room now needs a delivery report. */
void kbus__room_full(kbus_runtime *rt);
/** Something that may make room happened (a call ended): waiters run on
 *  the next turn of the loop if there is room. */
void kbus__room_check(kbus_runtime *rt);
/** Delivery reports were served: messages left the producer. */
void kbus__room_progress(kbus_runtime *rt);
/** Shutdown began: waiters are told CANCELLED on the next turn. */
void kbus__room_shutdown(kbus_runtime *rt);
/** Waiters still there are told CANCELLED now; frees the timer. */
void kbus__room_fini(kbus_runtime *rt);

/* window.c */
/** Frees the windows, once the groups (and their tables) are closed. */
void kbus__windows_free(kbus_runtime *rt);

/* ops.c */
int kbus__ops_start(kbus_runtime *rt, char *errstr, size_t errlen);
void kbus__ops_stop(kbus_runtime *rt);

/* consumer.c */
/** Adds route \p r (taken on success) to group \p group_id. */
int kbus__group_route(kbus_runtime *rt, const char *group_id, kbus_route *r);
/** The group \p group_id, created if needed (NULL: no memory). */
kbus_group *kbus__group_get(kbus_runtime *rt, const char *group_id);
int kbus__groups_start(kbus_runtime *rt);
void kbus__groups_stop_fetching(kbus_runtime *rt);
void kbus__groups_close(kbus_runtime *rt);

/* client.c */
int kbus__client_init(kbus_runtime *rt, char *errstr, size_t errlen);
int kbus__client_start(kbus_runtime *rt);
/** Ends the calls waiting for a reply, CANCELLED, before the last flush. */
void kbus__client_cancel(kbus_runtime *rt);
void kbus__client_fini(kbus_runtime *rt);

/* aggregate.c */
/** Frees what kbus_aggregate_attach() kept. */
void kbus__aggregates_fini(kbus_runtime *rt);

#endif
