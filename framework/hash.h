/*
 * The library's one hash table: chained and intrusive (an entry embeds a
 * kbus_hnode whose key points into the entry itself), keyed by bytes, and
 * doubled when it holds as many entries as buckets.  Pending calls (by
 * correlation id), the keys in use in a partition and the reply cache all
 * keep their entries here; the table never allocates or frees an entry.
 */
#ifndef KBUS_HASH_H
#define KBUS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kbus_hnode {
        struct kbus_hnode *next; /* chain */
        uint64_t hash;
        const void *key; /* into the entry; set before insert */
        size_t len;
} kbus_hnode;

typedef struct kbus_hash {
        kbus_hnode **buckets;
        size_t mask; /* buckets - 1; 0 before the first insert */
        size_t n;
} kbus_hash;

/** The entry that embeds \p node as its \p member. */
#define kbus__entry_of(node, type, member)                                     \
        ((type *)((char *)(node)-offsetof(type, member)))

/** Allocates the first buckets, so that no insert can fail afterwards;
 *  false when out of memory. */
bool kbus__hash_init(kbus_hash *h);

/** FNV-1a of \p len bytes (with an offset basis a digit short of FNV's,
 *  as it always was).  Its values are kept beyond the process (an
 *  aggregate's command fingerprints, the correlation ids of commands sent
 *  with a call), so it never changes; the table uses kbus__hash_key. */
uint64_t kbus__hash_bytes(const void *key, size_t len);

/** The table's hash of a key: eight bytes at a time, about four times
 *  faster than FNV-1a on the keys of a state table.  Its values live only
 *  in memory. */
uint64_t kbus__hash_key(const void *key, size_t len);

/** The node with this key, or NULL. */
kbus_hnode *kbus__hash_find(const kbus_hash *h, const void *key, size_t len);

/** The same with the key's kbus__hash_key() \p hv already computed, for a
 *  lookup followed by an insert of the same key (kbus__hash_insert_hv). */
kbus_hnode *kbus__hash_find_hv(const kbus_hash *h, uint64_t hv, const void *key,
                               size_t len);

/** Inserts \p node (its key and len set; the key must not be present).
 *  Returns false only when the table has no buckets yet and cannot get
 *  them; once it has some, a failure to grow just makes chains longer. */
bool kbus__hash_insert(kbus_hash *h, kbus_hnode *node);

/** The same with the node key's kbus__hash_key() \p hv already computed. */
bool kbus__hash_insert_hv(kbus_hash *h, kbus_hnode *node, uint64_t hv);

/** Puts \p node in the place of \p old, which is in the table; \p node
 *  has the same key (its hash is taken from \p old). */
void kbus__hash_replace(kbus_hash *h, kbus_hnode *old, kbus_hnode *node);

/** Takes \p node, which is in the table, out of it. */
void kbus__hash_remove(kbus_hash *h, kbus_hnode *node);

/** Calls \p fn on every node; \p fn may remove and free the node it got. */
void kbus__hash_each(kbus_hash *h, void (*fn)(kbus_hnode *node, void *arg),
                     void *arg);

/** Frees the buckets (not the entries) and empties the table. */
void kbus__hash_fini(kbus_hash *h);

#endif
