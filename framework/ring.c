/*
 * The ring; see ring.h.
 */
#include <string.h>

#include "kbus_int.h"
#include "ring.h"

void kbus__ring_init(kbus_ring *r, size_t esize) {
        memset(r, 0, sizeof(*r));
        r->esize = esize;
}

void kbus__ring_fini(kbus_ring *r) {
        kbus__free(r->buf);
        kbus__ring_init(r, r->esize);
}

bool kbus__ring_reserve(kbus_ring *r, size_t cap) {
        size_t ncap = r->cap ? r->cap : 16;
        unsigned char *nb;
        if (cap <= r->cap)
                return true;
        while (ncap < cap)
                ncap *= 2;
        nb = kbus__malloc(ncap * r->esize);
        if (!nb)
                return false;
        /* Unwrap into the new buffer, oldest first. */
        for (size_t i = 0; i < r->n; i++)
                memcpy(nb + i * r->esize, kbus__ring_at(r, i), r->esize);
        kbus__free(r->buf);
        r->buf = nb;
        r->cap = ncap;
        r->head = 0;
        return true;
}
