/*
 * The reply cache of idempotent methods: the outcome of recent requests by
 * correlation id, so that a duplicate (a client's resend, or a redelivery
 * after a rebalance) is answered without running the handler again.  A
 * request being handled is in the cache too, as "running": a duplicate of
 * it is dropped, because the first one's reply answers the same id.
 * Bounded: the oldest entries are forgotten first.
 */
#ifndef KBUS_REPLIES_H
#define KBUS_REPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "ring.h"

typedef struct kbus_cached_reply {
        kbus_hnode node; /* by id, while the entry is current */
        bool done;
        bool forgotten; /* out of the table; freed when evicted */
        int status;
        char *message;
        void *value;
        size_t len;
        size_t id_len;
        uint8_t id[]; /* id_len bytes */
} kbus_cached_reply;

typedef struct kbus_reply_cache {
        kbus_hash by_id;
        kbus_ring order; /* kbus_cached_reply *, oldest first, for eviction */
        size_t cap;      /* 0: not in use */
} kbus_reply_cache;

int kbus__replies_init(kbus_reply_cache *rc, size_t cap);
void kbus__replies_fini(kbus_reply_cache *rc);
kbus_cached_reply *kbus__replies_find(kbus_reply_cache *rc, const void *id,
                                      size_t len);
/** Adds a "running" entry for \p id; false when out of memory. */
bool kbus__replies_begin(kbus_reply_cache *rc, const void *id, size_t len);
/** Records the outcome of \p id, if it is still cached (copies). */
void kbus__replies_done(kbus_reply_cache *rc, const void *id, size_t len,
                        int status, const char *message, const void *value,
                        size_t value_len);
/** Forgets \p id (its request was not finished: let a redelivery run). */
void kbus__replies_forget(kbus_reply_cache *rc, const void *id, size_t len);

#endif
