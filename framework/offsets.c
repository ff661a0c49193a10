/*
 * Offset tracker; see offsets.h for the idea.
 */
#include "kbus_int.h"
#include "offsets.h"

void kbus__offsets_init(kbus_offsets *t) {
        kbus__ring_init(&t->slots, sizeof(kbus_offset_slot));
        t->head = 0;
}

void kbus__offsets_fini(kbus_offsets *t) {
        kbus__ring_fini(&t->slots);
        t->head = 0;
}

bool kbus__offsets_add(kbus_offsets *t, int64_t offset, uint64_t *seq) {
        kbus_offset_slot *s = kbus__ring_add(&t->slots);
        if (!s)
                return false;
        s->offset = offset;
        s->done = false;
        *seq = t->head + t->slots.n - 1;
        return true;
}

bool kbus__offsets_done(kbus_offsets *t, uint64_t seq, int64_t *store) {
        kbus_offset_slot *s;
        bool advanced = false;
        if (seq < t->head || seq - t->head >= t->slots.n)
                return false; /* not ours (tracker was reset): ignore */
        ((kbus_offset_slot *)kbus__ring_at(&t->slots, seq - t->head))->done =
            true;
        while (t->slots.n && (s = kbus__ring_at(&t->slots, 0))->done) {
                *store = s->offset + 1;
                kbus__ring_pop(&t->slots, NULL);
                t->head++;
                advanced = true;
        }
        return advanced;
}
