/*
 * Per-partition offset tracker: records enter in offset order, complete in
 * any order, and the offset to store is always one past the highest record
 * below which everything has completed.  A ring of (offset, done) slots
 * indexed by an ever-growing sequence number; completing in order costs
 * O(1), and out of order costs nothing until the gap closes.
 */
#ifndef KBUS_OFFSETS_H
#define KBUS_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct kbus_offsets {
        int64_t *offset; /* ring of record offsets */
        bool *done;      /* ring of completion flags */
        uint64_t head;   /* sequence number of the oldest open record */
        uint64_t tail;   /* next sequence number to hand out */
        uint64_t cap;    /* ring size, a power of two */
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
        return t->tail - t->head;
}

/** The offset of the oldest open record; only when one is open. */
static inline int64_t kbus__offsets_oldest(const kbus_offsets *t) {
        return t->offset[t->head & (t->cap - 1)];
}

#endif
