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
#include <string.h>

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

/* Pushing and popping are inline: the offset tracker does both for every
 * record a consumer reads. */

/** Element \p i, counted from the oldest; i < n. */
static inline void *kbus__ring_at(const kbus_ring *r, size_t i) {
        return r->buf + ((r->head + i) & (r->cap - 1)) * r->esize;
}

/** Appends an element for the caller to fill in place, and returns it;
 *  NULL when out of memory (nothing changes). */
static inline void *kbus__ring_add(kbus_ring *r) {
        if (r->n == r->cap && !kbus__ring_reserve(r, r->n + 1))
                return NULL;
        return kbus__ring_at(r, r->n++);
}

/** Appends a copy of \p e; false when out of memory (nothing changes). */
static inline bool kbus__ring_push(kbus_ring *r, const void *e) {
        void *slot = kbus__ring_add(r);
        if (!slot)
                return false;
        memcpy(slot, e, r->esize);
        return true;
}

/** Drops the oldest element, copying it to \p out first unless NULL. */
static inline void kbus__ring_pop(kbus_ring *r, void *out) {
        if (out)
                memcpy(out, kbus__ring_at(r, 0), r->esize);
        r->head = (r->head + 1) & (r->cap - 1);
        r->n--;
}

#endif
