/*
 * Per-partition offset tracker: records enter in offset order, complete in
 * any order, and the offset to store is always one past the highest record
 * below which everything has completed.  A ring of (offset, done) slots;
 * each record's sequence number is its place in the ring counted from the
 * first record ever added, so completing in order costs O(1), and out of
 * order costs nothing until the gap closes.
 */
#ifndef KBUS_OFFSETS_H
#define KBUS_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

typedef struct kbus_offset_slot {
        int64_t offset;
        bool done;
} kbus_offset_slot;

typedef struct kbus_offsets {
        kbus_ring slots; /* the open records, oldest first */
        uint64_t head;   /* sequence number of the oldest open record */
} kbus_offsets;

void kbus__offsets_init(kbus_offsets *t);
void kbus__offsets_fini(kbus_offsets *t);

/** Records that \p offset is in flight; its sequence number goes to *seq.
 *  Returns false only when out of memory. */
bool kbus__offsets_add(kbus_offsets *t, int64_t offset, uint64_t *seq);

/**
 * Marks record \p seq complete.  Returns true, with the offset to store
 * (highest contiguous completed offset + 1) in *store, when the oldest open
 * records became complete.
 */
bool kbus__offsets_done(kbus_offsets *t, uint64_t seq, int64_t *store);

/** Records in flight (added, not yet released by completion in order). */
static inline uint64_t kbus__offsets_open(const kbus_offsets *t) {
        return t->slots.n;
}

/** The offset of the oldest open record; only when one is open. */
static inline int64_t kbus__offsets_oldest(const kbus_offsets *t) {
        return ((const kbus_offset_slot *)kbus__ring_at(&t->slots, 0))->offset;
}

#endif
