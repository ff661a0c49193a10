/*
 * Per-key ordering inside a partition: a record whose key is already held
 * by an earlier record waits behind it, so records with one key run
 * strictly one after another while records with other keys run
 * concurrently.  The holder of each key is in a hash table; the records
 * waiting for it are queued behind the holder.  Every record embeds its
 * own kbus_keyed, so taking, waiting for and passing on a key never
 * allocates (only the table's growth does, and a table that cannot grow
 * just gets longer chains): a record can never be dropped for want of
 * memory to order it.  Records without a key are never ordered.
 */
#ifndef KBUS_KEYS_H
#define KBUS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "hash.h"

typedef struct kbus_keyed {
        kbus_hnode node;         /* in the table while this record holds
                                   * its key; node.key is the record's key */
        struct kbus_keyed *next; /* the queue of records waiting */
        struct kbus_keyed *last; /* holder only: the last one waiting */
} kbus_keyed;

typedef struct kbus_keys {
        kbus_hash held;
} kbus_keys;

/** Allocates the table; false when out of memory. */
bool kbus__keys_init(kbus_keys *ks);
void kbus__keys_fini(kbus_keys *ks);

/**
 * Takes \p key (\p len bytes, which must outlive the hold) for \p k:
 * returns true if it was free and \p k now holds it, false if \p k now
 * waits behind the holder.
 */
bool kbus__keys_take(kbus_keys *ks, kbus_keyed *k, const void *key, size_t len);

/**
 * Releases the key \p k holds.  Returns the next record waiting for it,
 * which now holds it, or NULL (the key is then free).
 */
kbus_keyed *kbus__keys_release(kbus_keys *ks, kbus_keyed *k);

/** Takes out every record that waits (holders stay), as a list by next. */
kbus_keyed *kbus__keys_take_waiting(kbus_keys *ks);

#endif
