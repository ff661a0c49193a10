/*
 * A partition this process owns: its offset tracker, the keys its records
 * hold, the records fetched but not yet admitted, and the limits on how
 * many run at once.  Plain state and the few librdkafka calls that act on
 * one partition (pause, resume, store an offset); the record engine
 * (record.c) decides what enters and leaves.
 */
#ifndef KBUS_PARTITION_H
#define KBUS_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "kbus_int.h"
#include "keys.h"
#include "offsets.h"
#include "ring.h"

#define KBUS_COMMITTED_NONE (-1)    /* the group never committed one */
#define KBUS_COMMITTED_UNKNOWN (-2) /* librdkafka has not said yet */

typedef struct kbus_partition {
        struct kbus_partition *next; /* in its group's list */
        struct kbus_group *g;
        rd_kafka_t *rk;        /* the group's consumer */
        rd_kafka_topic_t *rkt; /* our reference, for storing offsets */
        const char *group_id;  /* the group's, for dead letters and logs */
        char *topic;
        int32_t partition;
        kbus_offsets offsets;
        kbus_keys keys; /* KBUS_ORDER_KEY: keys held by its records */
        struct kbus_call *dispatching; /* record.c: a record in its first
                                        * run whose key is not in keys yet */
        kbus_ring wait;   /* rd_kafka_message_t *: fetched, not admitted */
        size_t wait_high; /* pause fetching when this many wait */
        int in_flight;    /* admitted records holding a handler slot */
        int live;         /* records alive that point here */
        int max_in_flight;
        /* Records admitted at most from the oldest unfinished one on: the
         * offsets past it cannot be committed until it ends, so this bounds
         * the tracker and what a crash would make the group redo. */
        uint64_t max_uncommitted;
        bool uncommitted_full; /* at the bound, and said so in the log */
        kbus_ordering ordering;
        const struct kbus_route *route; /* found at the first record */
        int64_t committed; /* last committed offset known; KBUS_COMMITTED_NONE
                            * or KBUS_COMMITTED_UNKNOWN */
        int holds;       /* > 0: its state is being restored; nothing starts */
        bool first_seen; /* the state module saw its first record */
        bool paused;
        bool revoked; /* no longer ours: freed when live drops to 0 */
        /* The offset to store, kept until kbus__partition_flush: storing
         * once per loop wake-up rather than once per record. */
        int64_t store_next;
        bool store_due;
        /* Memory of calls that ended here, for the next records: reusing
         * one costs far less than malloc and free (record.c). */
        struct kbus_spare {
                struct kbus_spare *next;
        } * spare;
        int n_spare;
} kbus_partition;

/** A new partition, not in any list; NULL when out of memory. */
kbus_partition *kbus__partition_new(struct kbus_group *g, rd_kafka_t *rk,
                                    const char *group_id, const char *topic,
                                    int32_t partition, kbus_ordering ordering,
                                    int max_in_flight,
                                    uint64_t max_uncommitted);

/** Frees \p p and the records still waiting in it (never admitted). */
void kbus__partition_free(kbus_partition *p);

/** Whether one more fetched record may start now (logs, once, when the
 *  oldest unfinished record holds the rest back). */
bool kbus__partition_has_room(kbus_partition *p);

/** Pauses or resumes fetching. */
void kbus__partition_pause(kbus_partition *p, bool pause);

/** Notes \p next (the offset to resume from) as the one to store;
 *  kbus__partition_flush stores it.  True if none was due before. */
bool kbus__partition_store(kbus_partition *p, int64_t next);

/** Stores the offset noted, if any, for the next commit: before any
 *  commit, and at least once per loop wake-up. */
void kbus__partition_flush(kbus_partition *p);

#endif
