/*
 * The hash table; see hash.h.
 */
#include <string.h>

#include "hash.h"
#include "kbus_int.h"

uint64_t kbus__hash_bytes(const void *key, size_t len) {
        const unsigned char *p = key;
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 1099511628211ULL;
        return h;
}

static bool grow(kbus_hash *h) {
        size_t ncap = h->mask ? (h->mask + 1) * 2 : 64;
        kbus_hnode **nb = kbus__calloc(ncap, sizeof(*nb));
        if (!nb)
                return false;
        for (size_t i = 0; h->mask && i <= h->mask; i++) {
                kbus_hnode *n = h->buckets[i], *next;
                for (; n; n = next) {
                        next = n->next;
                        n->next = nb[n->hash & (ncap - 1)];
                        nb[n->hash & (ncap - 1)] = n;
                }
        }
        kbus__free(h->buckets);
        h->buckets = nb;
        h->mask = ncap - 1;
        return true;
}

bool kbus__hash_init(kbus_hash *h) {
        memset(h, 0, sizeof(*h));
        return grow(h);
}

kbus_hnode *kbus__hash_find(const kbus_hash *h, const void *key, size_t len) {
        uint64_t hv;
        if (!h->n)
                return NULL;
        hv = kbus__hash_bytes(key, len);
        for (kbus_hnode *n = h->buckets[hv & h->mask]; n; n = n->next)
                if (n->hash == hv && n->len == len && !memcmp(n->key, key, len))
                        return n;
        return NULL;
}

bool kbus__hash_insert(kbus_hash *h, kbus_hnode *node) {
        /* A table that cannot grow takes longer chains instead: only the
         * first insert, with no buckets yet, can fail. */
        if ((!h->mask || h->n > h->mask) && !grow(h) && !h->mask)
                return false;
        node->hash = kbus__hash_bytes(node->key, node->len);
        node->next = h->buckets[node->hash & h->mask];
        h->buckets[node->hash & h->mask] = node;
        h->n++;
        return true;
}

void kbus__hash_remove(kbus_hash *h, kbus_hnode *node) {
        for (kbus_hnode **pp = &h->buckets[node->hash & h->mask]; *pp;
             pp = &(*pp)->next)
                if (*pp == node) {
                        *pp = node->next;
                        h->n--;
                        return;
                }
}

void kbus__hash_each(kbus_hash *h, void (*fn)(kbus_hnode *node, void *arg),
                     void *arg) {
        for (size_t i = 0; h->mask && i <= h->mask; i++) {
                kbus_hnode *n = h->buckets[i], *next;
                for (; n; n = next) {
                        next = n->next;
                        fn(n, arg);
                }
        }
}

void kbus__hash_fini(kbus_hash *h) {
        kbus__free(h->buckets);
        memset(h, 0, sizeof(*h));
}
