/*
 * Offset tracker; see offsets.h for the idea.
 */
#include <string.h>

#include "kbus_int.h"
#include "offsets.h"

void kbus__offsets_init(kbus_offsets *t) {
        memset(t, 0, sizeof(*t));
}

void kbus__offsets_fini(kbus_offsets *t) {
        kbus__free(t->offset);
        kbus__free(t->done);
        memset(t, 0, sizeof(*t));
}

/* Doubles the ring, keeping sequence numbers valid: slot = seq & (cap-1). */
static bool grow(kbus_offsets *t) {
        uint64_t ncap = t->cap ? t->cap * 2 : 64;
        int64_t *noff = kbus__malloc(ncap * sizeof(*noff));
        bool *ndone = kbus__malloc(ncap * sizeof(*ndone));
        if (!noff || !ndone) {
                kbus__free(noff);
                kbus__free(ndone);
                return false;
        }
        for (uint64_t s = t->head; s < t->tail; s++) {
                noff[s & (ncap - 1)] = t->offset[s & (t->cap - 1)];
                ndone[s & (ncap - 1)] = t->done[s & (t->cap - 1)];
        }
        kbus__free(t->offset);
        kbus__free(t->done);
        t->offset = noff;
        t->done = ndone;
        t->cap = ncap;
        return true;
}

bool kbus__offsets_add(kbus_offsets *t, int64_t offset, uint64_t *seq) {
        if (t->tail - t->head == t->cap && !grow(t))
                return false;
        t->offset[t->tail & (t->cap - 1)] = offset;
        t->done[t->tail & (t->cap - 1)] = false;
        *seq = t->tail++;
        return true;
}

bool kbus__offsets_done(kbus_offsets *t, uint64_t seq, int64_t *store) {
        bool advanced = false;
        if (seq < t->head || seq >= t->tail)
                return false; /* not ours (tracker was reset): ignore */
        t->done[seq & (t->cap - 1)] = true;
        while (t->head < t->tail && t->done[t->head & (t->cap - 1)]) {
                *store = t->offset[t->head & (t->cap - 1)] + 1;
                t->head++;
                advanced = true;
        }
        return advanced;
}
