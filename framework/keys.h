/*
 * Per-key ordering inside a partition: a record whose key is already being
 * handled waits behind it, so records with one key run strictly one after
 * another while records with other keys run concurrently.  A small hash
 * table of the keys now in use, each with a queue of the records waiting
 * for it; records without a key are never ordered.
 */
#ifndef KBUS_KEYS_H
#define KBUS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

struct kbus_call;

typedef struct kbus_keyq {
        struct kbus_keyq *next; /* hash chain */
        struct kbus_call *head, *tail; /* waiting, linked by call->qnext */
        size_t len;
        unsigned char key[]; /* len bytes */
} kbus_keyq;

typedef struct kbus_keys {
        kbus_keyq **buckets;
        size_t mask; /* buckets - 1; 0 before first use */
        size_t n;
} kbus_keys;

void kbus__keys_fini(kbus_keys *k);

/**
 * Claims \p key for \p call.  Returns 1 when the call may run now (then
 * *qp is the key's queue, to release later), 0 when it was queued behind
 * an earlier record with the same key, -1 when out of memory.
 */
int kbus__keys_claim(kbus_keys *k, const void *key, size_t len,
                     struct kbus_call *call, kbus_keyq **qp);

/**
 * Releases a key after its record ended.  Returns the next record waiting
 * for that key, which now holds it, or NULL (the key is then forgotten).
 */
struct kbus_call *kbus__keys_release(kbus_keys *k, kbus_keyq *q);

/** Takes out every waiting record, as a list linked by qnext. */
struct kbus_call *kbus__keys_take_waiting(kbus_keys *k);

#endif
