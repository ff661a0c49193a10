/*
 * The reply cache of idempotent methods; see replies.h.
 */
#include <string.h>

#include "kbus_int.h"
#include "replies.h"

int kbus__replies_init(kbus_reply_cache *rc, size_t cap) {
        memset(rc, 0, sizeof(*rc));
        kbus__ring_init(&rc->order, sizeof(kbus_cached_reply *));
        if (!kbus__ring_reserve(&rc->order, cap))
                return KBUS_RESOURCE_EXHAUSTED;
        rc->cap = cap;
        return 0;
}

static void entry_free(kbus_cached_reply *e) {
        kbus__free(e->message);
        kbus__free(e->value);
        kbus__free(e);
}

kbus_cached_reply *kbus__replies_find(kbus_reply_cache *rc, const void *id,
                                      size_t len) {
        kbus_hnode *n = kbus__hash_find(&rc->by_id, id, len);
        return n ? kbus__entry_of(n, kbus_cached_reply, node) : NULL;
}

bool kbus__replies_begin(kbus_reply_cache *rc, const void *id, size_t len) {
        kbus_cached_reply *e = kbus__calloc(1, sizeof(*e) + len);
        if (!e)
                return false;
        memcpy(e->id, id, len);
        e->id_len = len;
        e->node.key = e->id;
        e->node.len = len;
        if (!kbus__hash_insert(&rc->by_id, &e->node)) {
                kbus__free(e);
                return false;
        }
        if (rc->order.n == rc->cap) {
                /* Full: the oldest goes. */
                kbus_cached_reply *old;
                kbus__ring_pop(&rc->order, &old);
                if (!old->forgotten)
                        kbus__hash_remove(&rc->by_id, &old->node);
                entry_free(old);
        }
        kbus__ring_push(&rc->order, &e); /* reserved: cannot fail */
        return true;
}

void kbus__replies_done(kbus_reply_cache *rc, const void *id, size_t len,
                        int status, const char *message, const void *value,
                        size_t value_len) {
        kbus_cached_reply *e = kbus__replies_find(rc, id, len);
        if (!e || e->done)
                return;
        if (value_len) {
                e->value = kbus__malloc(value_len);
                if (!e->value) {
                        kbus__replies_forget(rc, id, len);
                        return;
                }
                memcpy(e->value, value, value_len);
                e->len = value_len;
        }
        if (message && !(e->message = kbus__strdup(message))) {
                kbus__replies_forget(rc, id, len);
                return;
        }
        e->status = status;
        e->done = true;
}

void kbus__replies_forget(kbus_reply_cache *rc, const void *id, size_t len) {
        kbus_cached_reply *e = kbus__replies_find(rc, id, len);
        if (!e)
                return;
        /* Out of the table now; its place in the eviction order stays
         * until eviction reaches it, so forgetting costs O(1). */
        kbus__hash_remove(&rc->by_id, &e->node);
        e->forgotten = true;
}

void kbus__replies_fini(kbus_reply_cache *rc) {
        kbus_cached_reply *e;
        while (rc->order.n) {
                kbus__ring_pop(&rc->order, &e);
                entry_free(e);
        }
        kbus__ring_fini(&rc->order);
        kbus__hash_fini(&rc->by_id);
        rc->cap = 0;
}
