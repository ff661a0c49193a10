/*
 * The life of a record, from admission to its end.
 *
 * A record fetched from a partition is admitted when the partition has
 * room: its offset enters the partition's tracker, and it becomes a
 * kbus_call.  Its route's dispatch decodes it and runs the handler; the
 * handler completes the call (kbus_call_reply/ack/fail/refuse, now or
 * later), and the outcome takes effect once the events it published are
 * delivered.
 * A record ends in exactly one of three ways:
 *   - finished: handled, and replied if a caller waits, or dead-lettered
 *     once the dead letter is written: its offset may be stored;
 *   - abandoned: at shutdown, or when its partition was revoked, before it
 *     finished: its offset is never stored, so it is redelivered.
 * Offsets are stored only up to the highest record below which all have
 * finished, so nothing is ever skipped.
 *
 *   WAITING --key free--> READY --> HANDLING --answer--> HOLDING --events
 *   delivered--> (REPLYING | finished | BACKOFF | DEAD_LETTERING)
 *   BACKOFF --timer--> HANDLING;  REPLYING, DEAD_LETTERING --report--> end
 *
 * Records of one key run one at a time (KBUS_ORDER_KEY): a record whose
 * key another holds waits; the next one runs when the holder ends, or,
 * when the holder's table changes are applied, as soon as they are (the
 * holder then waits for their delivery without the key).
 */
#ifndef KBUS_RECORD_H
#define KBUS_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "dlq.h"
#include "kafka.h"
#include "keys.h"
#include "partition.h"
#include "replies.h"
#include "route.h"
#include "wire.h"

typedef enum kbus_record_state {
        KBUS_REC_WAITING,        /* behind an earlier record with its key */
        KBUS_REC_READY,          /* queued to be dispatched from the loop */
        KBUS_REC_HANDLING,       /* its handler has it and has not answered */
        KBUS_REC_HOLDING,        /* answered; published events in flight */
        KBUS_REC_BACKOFF,        /* failed; tried again when the timer fires */
        KBUS_REC_REPLYING,       /* handled; its reply is being delivered */
        KBUS_REC_DEAD_LETTERING, /* its dead letter is being written */
} kbus_record_state;

/* What the handler answered, kept while its events are delivered. */
typedef enum kbus_outcome_kind {
        KBUS_OUTCOME_REPLY,
        KBUS_OUTCOME_ACK,
        KBUS_OUTCOME_FAIL,
        KBUS_OUTCOME_REFUSE, /* a final error answer that keeps the changes */
} kbus_outcome_kind;

/* A record being handled (public name: kbus_call). */
struct kbus_call {
        kbus_record_state state;
        kbus_runtime *rt;
        kbus_partition *part;
        uint64_t seq; /* in the partition's offset tracker */
        rd_kafka_message_t *msg;
        const kbus_route *route;
        kbus_wire_in in; /* its headers */
        char in_buf[128]; /* the values in points to, when they fit */
        char *in_heap;    /* or, when they do not */
        uint32_t attempt;
        /* Set by the route's dispatch: */
        const kbus_method_desc *method; /* requests */
        const kbus_retry_policy *retry; /* the method's or event's own */
        uint32_t flags;                 /* KBUS_NO_DEAD_LETTER */
        bool wants_reply;               /* a caller waits for a reply */
        bool cached;                    /* "running" in the reply cache */
        ProtobufCMessage *input;
        kbus_keyed key; /* KBUS_ORDER_KEY with a key: its place */
        bool keyed;
        bool slot_freed;     /* no longer counted against max_in_flight */
        struct event *timer; /* retry backoff */
        struct kbus_call *lprev, *lnext; /* rt->live: every call alive */
        struct kbus_call *qnext;         /* rt->ready */
        kbus_dr reply_dr;                /* the reply's delivery report */
        kbus_dead_letter *dlt; /* once dead-lettering (rare: not inline) */
        struct kbus_published {
                kbus_dr dr;       /* their delivery reports */
                uint32_t n;       /* this attempt's, numbering ce_id */
                uint32_t pending; /* reports still due */
                char *error;      /* the first that failed, why */
                bool failed;
        } pub;
        void *writes; /* the state module's: this attempt's table changes */
        struct kbus_outcome {
                kbus_outcome_kind kind;
                kbus_status code;
                char *message;
                void *value; /* a packed reply */
                size_t len;
        } held;
};

/** Creates the loop event that runs ready records. */
int kbus__records_init(kbus_runtime *rt);

/** A record fetched for partition \p p (taken): admitted now, or kept
 *  waiting in the partition (which is paused when many wait). */
void kbus__records_fetched(kbus_partition *p, rd_kafka_message_t *m);

/** \p p is no longer ours: waiting records go, records in a retry backoff
 *  or retrying a dead letter are abandoned, the rest end unstored. */
void kbus__records_revoke(kbus_partition *p);

/** Shutdown: every record still alive is abandoned; the loop event goes. */
void kbus__records_close(kbus_runtime *rt);

/** Runs the handler (each attempt); routes call it from dispatch. */
void kbus__record_run(kbus_call *call);

/** Ends a call that reached no handler: the caller, if one waits, gets
 *  \p status; then the record finishes. */
void kbus__record_answer(kbus_call *call, kbus_status status,
                         const char *message);

/** Answers a duplicate of an idempotent request with the outcome the
 *  first one had (\p e, done), then finishes it. */
void kbus__record_answer_cached(kbus_call *call, const kbus_cached_reply *e);

/** Tells the caller \p status now, though the record ends another way
 *  (dead-lettered): nobody learns whether this reply was written. */
void kbus__record_courtesy_reply(kbus_call *call, kbus_status status,
                                 const char *message);

/** Sends the record to its dead-letter topic (or, with dead-lettering off,
 *  logs and skips it); it finishes when the dead letter is written. */
void kbus__record_dead_letter(kbus_call *call, const char *error_class,
                              const char *reason);

/** The record is done: its offset may be stored, the next of its key runs. */
void kbus__record_finish(kbus_call *call);

/** Lets the record go without storing its offset: it is redelivered. */
void kbus__record_abandon(kbus_call *call);

/** The call's outcome is fixed and its handler cannot run again (its
 *  table changes are applied): its decoded input is freed now rather than
 *  when the record ends, which may be long after. */
void kbus__record_input_done(kbus_call *call);

/** The handler of \p call produced a message on its behalf (an event):
 *  the group's state module, if any, keeps a copy for the call's outbox. */
void kbus__record_produced(kbus_call *call, const char *topic, const void *key,
                           size_t key_len, const void *value, size_t len,
                           const rd_kafka_headers_t *hdrs);

/** The traceparent for an outgoing message: a child of the running
 *  handler's trace, else a new trace. */
void kbus__outgoing_trace(kbus_runtime *rt, char out[KBUS_TRACEPARENT_LEN + 1]);

#endif
