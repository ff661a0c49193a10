/*
 * Per-key ordering inside a partition: a record whose key is already being
 * handled waits behind it, so records with one key run strictly one after
 * another while records with other keys run concurrently.  A small hash
 * table of the keys now in use, each with a queue of the records waiting
 * for it; records without a key are never ordered.  A key enters the table
 * only when its record outlives its handler's first run (see consumer.c),
 * so handlers that complete at once cost no table work at all.
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

/** The queue of \p key if a record holds it, else NULL. */
kbus_keyq *kbus__keys_find(kbus_keys *k, const void *key, size_t len);

/** Queues \p call behind the record holding \p q's key. */
void kbus__keys_wait(kbus_keyq *q, struct kbus_call *call);

/** Marks \p key as held; NULL when out of memory. */
kbus_keyq *kbus__keys_add(kbus_keys *k, const void *key, size_t len);

/**
 * Releases a key after its record ended.  Returns the next record waiting
 * for that key, which now holds it, or NULL (the key is then forgotten).
 */
struct kbus_call *kbus__keys_release(kbus_keys *k, kbus_keyq *q);

/** Takes out every waiting record, as a list linked by qnext. */
struct kbus_call *kbus__keys_take_waiting(kbus_keys *k);

#endif
