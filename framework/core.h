/*
 * The runtime's internal objects, shared by runtime.c (lifecycle and the
 * librdkafka-to-libevent bridge), consumer.c (consumer groups, partitions,
 * record state machine, offsets, dead letters), client.c (calls and
 * replies), server.c (requests) and events.c (publish and subscribe).
 */
#ifndef KBUS_CORE_H
#define KBUS_CORE_H

#include <stddef.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "kbus_int.h"
#include "keys.h"
#include "offsets.h"
#include "replies.h"
#include "wire.h"

/* ---- bridge: a librdkafka queue woken through a pipe into libevent ---- */
typedef struct kbus_bridge {
        rd_kafka_queue_t *queue;
        int fds[2];
        struct event *ev;
        void (*drain)(void *owner);
        void *owner;
} kbus_bridge;

int kbus__bridge_init(kbus_bridge *b, kbus_runtime *rt, rd_kafka_queue_t *q,
                      void (*drain)(void *owner), void *owner);
void kbus__bridge_fini(kbus_bridge *b);

/* ---- delivery-report targets: msg_opaque always points at one ---- */
enum kbus_dr_kind {
        KBUS_DR_RECORD = 1, /* a reply or dead letter completing a record */
        KBUS_DR_CALL,       /* a one-way call waiting for its delivery */
        KBUS_DR_PUBLISH,    /* an event a handler published with its record */
        KBUS_DR_EVENT,      /* an event published with kbus_publish() */
        KBUS_DR_CONFIRM,    /* an event whose publisher wants its outcome */
};

typedef struct kbus_confirm {
        int dr_kind; /* KBUS_DR_CONFIRM */
        kbus_delivery_fn cb;
        void *arg;
} kbus_confirm;

/* ---- routes: what a topic of a group carries ---- */
typedef struct kbus_route {
        struct kbus_route *next;
        char *topic;
        const kbus_service_desc *svc; /* a request topic, or */
        void *handlers;               /* copy of the handler table */
        const kbus_event_desc *ev;    /* an event subscription */
        kbus_fn fn;
        void *arg;
} kbus_route;

struct kbus_group;

/* ---- a partition this process owns ---- */
typedef struct kbus_partition {
        struct kbus_partition *next;
        struct kbus_group *g;
        char *topic;
        int32_t partition;
        kbus_offsets offsets;
        int in_flight;    /* records admitted: in handlers or behind a key */
        int live;         /* records alive that point here (in_flight, and
                           * those whose reply is being delivered) */
        int max_in_flight;
        /* Records admitted at most from the oldest unfinished one on: the
         * offsets past it cannot be committed until it ends, so this bounds
         * the tracker and what a crash would make the group redo. */
        uint64_t max_uncommitted;
        bool uncommitted_full; /* at the bound, and said so in the log */
        kbus_ordering ordering;
        kbus_keys keys;   /* KBUS_ORDER_KEY: keys in use */
        rd_kafka_message_t **wait; /* fetched, waiting for a free slot */
        size_t n_wait, cap_wait, wait_head;
        size_t wait_high; /* pause fetching when this many wait */
        bool paused;
        bool revoked; /* no longer ours: freed when live drops to 0 */
} kbus_partition;

typedef struct kbus_group {
        struct kbus_group *next;
        kbus_runtime *rt;
        char *id;
        rd_kafka_t *rk;
        kbus_bridge bridge;
        kbus_route *routes;
        kbus_partition *parts;
        bool subscribed; /* the route list is what librdkafka has */
        bool joined;     /* had a first assignment, even an empty one */
} kbus_group;

/* ---- a record being handled (public name: kbus_call) ---- */
struct kbus_call {
        int dr_kind; /* KBUS_DR_RECORD: first, so msg_opaque can point here */
        kbus_runtime *rt;
        kbus_partition *part; /* NULL once the partition was revoked */
        uint64_t seq;
        rd_kafka_message_t *msg;
        const kbus_route *route;
        const kbus_method_desc *method; /* requests */
        ProtobufCMessage *input;
        kbus_wire_in in;
        uint32_t attempt;
        bool completed;     /* the handler has answered */
        bool dead_lettering; /* a dead letter is on its way */
        bool dlt_without_value; /* too large to copy into the dead letter */
        bool cached;         /* its outcome goes to the reply cache */
        bool slot_freed;     /* handled; only its reply's delivery is due */
        const char *error_class; /* why it is dead-lettered, e.g. */
        char *error_message;     /* "kbus.DecodeError" and the detail */
        struct event *timer; /* retry or dead-letter backoff */
        struct kbus_call *lprev, *lnext; /* rt->live: every call alive */
        kbus_keyq *keyq;         /* the key this record holds, if any */
        struct kbus_call *qnext; /* in a key's queue or the ready list */
        /* Events published with kbus_call_publish(): the handler's outcome
         * is held until their delivery reports are in. */
        int pub_dr_kind;       /* KBUS_DR_PUBLISH: their msg_opaque */
        uint32_t n_published;  /* this attempt's, numbering their ce_id */
        uint32_t pub_pending;  /* delivery reports still due */
        bool pub_failed;       /* one was not delivered */
        char *pub_error;       /* why (NULL if out of memory) */
        struct kbus_held {
                enum { HELD_NONE, HELD_REPLY, HELD_ACK, HELD_FAIL } kind;
                kbus_status code;
                char *message;
                void *value; /* a packed reply */
                size_t len;
        } held;
};

/* ---- a call this process made, waiting for its reply ---- */
typedef struct kbus_pending {
        int dr_kind; /* KBUS_DR_CALL */
        struct kbus_pending *hnext; /* hash chain */
        uint8_t id[KBUS_CORRELATION_LEN];
        enum { PENDING_WAITING, PENDING_DONE, PENDING_EXPIRED } state;
        const kbus_method_desc *method;
        kbus_fn cb;
        void *arg;
        struct event *timer;
        kbus_runtime *rt;
        int64_t deadline_ms;
        struct kbus_resend {      /* idempotent calls: what a resend needs */
                struct event *resend_timer;
                int resends;
                void *value, *key;
                size_t len, key_len;
                char *topic;
                uint8_t bytes[]; /* value, key, topic */
        } *saved;
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
        bool low_latency;
        bool started;
        bool closing;
        bool closed; /* loop left */
        uint64_t stats[KBUS_STAT__COUNT];

        rd_kafka_t *producer;
        kbus_bridge producer_bridge;

        /* client */
        rd_kafka_t *reply_rk;
        kbus_bridge reply_bridge;
        char *reply_topic;
        int32_t reply_partition;
        kbus_pending **calls; /* hash by correlation id */
        size_t calls_mask;
        size_t n_waiting; /* calls waiting for a reply */
        kbus_pending **finished; /* ring of done/expired, for late replies */
        const struct timeval *common_tv[8]; /* libevent common timeouts */
        int64_t common_ms[8];
        struct timeval scratch_tv;
        size_t finished_cap, finished_head, n_finished;

        /* servers and subscribers */
        kbus_group *groups;
        size_t records_in_flight;
        kbus_call *current; /* record whose handler is running, for traces */
        kbus_reply_cache replies; /* idempotent methods' recent outcomes */
        kbus_call *live;    /* list of every record being handled */
        kbus_call *ready, *ready_tail; /* records to hand to handlers */
        kbus_call *dispatching; /* record whose key is not in the table yet */
        bool dispatch_ended;    /* ... and it ended during its dispatch */
        struct event *ready_ev;        /* runs them, outside user code */
        struct kbus_ordering_rule {
                struct kbus_ordering_rule *next;
                char *topic;
                kbus_ordering ordering;
                int max_in_flight;
        } *ordering_rules;

        struct event *sig_int, *sig_term, *grace_timer;
        struct evhttp *http; /* operations endpoint, if configured */
        int http_port;
        char ce_source[256];
};

/** Arms \p ev to fire once after \p ms milliseconds. */
static inline void kbus__timer_ms(struct event *ev, int64_t ms) {
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        evtimer_add(ev, &tv);
}

/* runtime.c */
/** Closes a consumer within shutdown_grace_ms; true if it closed. */
bool kbus__consumer_close(kbus_runtime *rt, rd_kafka_t *rk, const char *what);
void kbus__consumer_destroy(rd_kafka_t *rk, bool closed);
int kbus__kafka_conf(kbus_runtime *rt, bool consumer, rd_kafka_conf_t **confp,
                     char *errstr, size_t errlen);
void kbus__maybe_finish_shutdown(kbus_runtime *rt);
/** Produces with headers; takes ownership of \p value (freed by librdkafka on
 *  success, by us on failure).  Returns 0 or a kbus status. */
int kbus__produce(kbus_runtime *rt, const char *topic, int32_t partition,
                  const void *key, size_t key_len, void *value, size_t len,
                  rd_kafka_headers_t *hdrs, void *opaque);
/** Packs \p msg into a new buffer (NULL if out of memory). */
void *kbus__pack(const ProtobufCMessage *msg, size_t *len);
/** The bytes of msg's \p field as a record key (NULL if unset/unusable). */
const void *kbus__key_of(const ProtobufCMessage *msg, const char *field,
                         size_t *len, char buf[32]);
/** The traceparent for an outgoing message: a child of the running
 *  handler's trace, else a new trace. */
void kbus__outgoing_trace(kbus_runtime *rt, char out[KBUS_TRACEPARENT_LEN + 1]);

/* ops.c */
int kbus__ops_start(kbus_runtime *rt, char *errstr, size_t errlen);
void kbus__ops_stop(kbus_runtime *rt);

/* consumer.c */
int kbus__group_route(kbus_runtime *rt, const char *group_id, kbus_route *r);
int kbus__groups_start(kbus_runtime *rt);
void kbus__groups_stop_fetching(kbus_runtime *rt);
void kbus__groups_close(kbus_runtime *rt);
int kbus__groups_init(kbus_runtime *rt);
void kbus__record_finish(kbus_call *call);
void kbus__record_abandon(kbus_call *call);
/** The handler is done and only the reply's delivery report is due: the
 *  record stops counting against max_in_flight (it still holds its offset). */
void kbus__record_handled(kbus_call *call);
void kbus__record_dead_letter(kbus_call *call, const char *error_class,
                              const char *reason);
void kbus__producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *m,
                       void *opaque);

/* client.c */
int kbus__client_init(kbus_runtime *rt, char *errstr, size_t errlen);
int kbus__client_start(kbus_runtime *rt);
void kbus__client_fini(kbus_runtime *rt);
void kbus__call_delivered(kbus_pending *p, rd_kafka_resp_err_t err);

/* server.c */
void kbus__request_dispatch(kbus_call *call);
/** The delivery report of an event published with kbus_call_publish(). */
void kbus__call_published(kbus_call *call, const rd_kafka_message_t *m);
/** Runs the record's handler (again, for a retry). */
void kbus__handler_invoke(kbus_call *call);

/* events.c */
void kbus__event_dispatch(kbus_call *call);
/** The delivery report of an event from kbus_publish() (\p kind points
 *  at KBUS_DR_EVENT) or kbus_publish_confirmed() (at a kbus_confirm). */
void kbus__event_delivered(kbus_runtime *rt, int *kind,
                           const rd_kafka_message_t *m);

#endif
