/*
 * The library's one ring: a FIFO of fixed-size elements that doubles when
 * full, indexed from its oldest element.  Records waiting for a handler
 * slot, the offset tracker's slots, the client's ended calls and the reply
 * cache's eviction order are all kept in one.
 */
#ifndef KBUS_RING_H
#define KBUS_RING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kbus_ring {
        unsigned char *buf;
        size_t esize; /* bytes per element */
        size_t cap;   /* a power of two, or 0 */
        size_t head;  /* index of the oldest element */
        size_t n;
} kbus_ring;

/** An empty ring of \p esize-byte elements; allocates nothing yet. */
void kbus__ring_init(kbus_ring *r, size_t esize);
void kbus__ring_fini(kbus_ring *r);

/** Makes room for \p cap elements in all; false when out of memory. */
bool kbus__ring_reserve(kbus_ring *r, size_t cap);

/** Appends a copy of \p e; false when out of memory (nothing changes). */
bool kbus__ring_push(kbus_ring *r, const void *e);

/** Element \p i, counted from the oldest; i < n. */
static inline void *kbus__ring_at(const kbus_ring *r, size_t i) {
        return r->buf + ((r->head + i) & (r->cap - 1)) * r->esize;
}

/** Drops the oldest element, copying it to \p out first unless NULL. */
void kbus__ring_pop(kbus_ring *r, void *out);

#endif
