/*
 * Per-key ordering; see keys.h.
 */
#include <string.h>

#include "kbus_int.h"
#include "keys.h"

bool kbus__keys_init(kbus_keys *ks) {
        /* Buckets now, so that taking a key cannot fail later. */
        return kbus__hash_init(&ks->held);
}

void kbus__keys_fini(kbus_keys *ks) {
        kbus__hash_fini(&ks->held);
}

bool kbus__keys_take(kbus_keys *ks, kbus_keyed *k, const void *key,
                     size_t len) {
        kbus_hnode *n = kbus__hash_find(&ks->held, key, len);
        k->next = k->last = NULL;
        k->node.key = key;
        k->node.len = len;
        if (n) {
                kbus_keyed *holder = kbus__entry_of(n, kbus_keyed, node);
                if (holder->last)
                        holder->last->next = k;
                else
                        holder->next = k;
                holder->last = k;
                return false;
        }
        kbus__hash_insert(&ks->held, &k->node); /* has buckets: cannot fail */
        return true;
}

kbus_keyed *kbus__keys_release(kbus_keys *ks, kbus_keyed *k) {
        kbus_keyed *next = k->next;
        kbus__hash_remove(&ks->held, &k->node);
        if (!next)
                return NULL;
        /* The first waiter becomes the holder, with the rest behind it. */
        next->last = next->next ? k->last : NULL;
        kbus__hash_insert(&ks->held, &next->node);
        k->next = k->last = NULL;
        return next;
}

static void take_waiters(kbus_hnode *n, void *arg) {
        kbus_keyed **list = arg, *holder = kbus__entry_of(n, kbus_keyed, node);
        while (holder->next) {
                kbus_keyed *w = holder->next;
                holder->next = w->next;
                w->next = *list;
                *list = w;
        }
        holder->last = NULL;
}

kbus_keyed *kbus__keys_take_waiting(kbus_keys *ks) {
        kbus_keyed *list = NULL;
        kbus__hash_each(&ks->held, take_waiters, &list);
        return list;
}
