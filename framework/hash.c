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

static uint64_t load64(const unsigned char *p) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
}

static uint64_t load32(const unsigned char *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

/* Each 8-byte word is folded in with a multiplication (which carries low
 * bits up) and a shift (which brings high bits down); the last one to
 * eight bytes make one more word, and murmur3's finaliser spreads it all
 * over the low bits the buckets are picked with.  The byte order of the
 * machine changes the values, which are never kept. */
uint64_t kbus__hash_key(const void *key, size_t len) {
        const unsigned char *p = key;
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w = 0;
        for (; len > 8; len -= 8, p += 8) {
                h = (h ^ load64(p)) * 0xbf58476d1ce4e5b9ULL;
                h ^= h >> 31;
        }
        if (len >= 4)
                w = load32(p) | load32(p + len - 4) << 32;
        else if (len > 0)
                w = p[0] | (uint64_t)p[len / 2] << 8 |
                    (uint64_t)p[len - 1] << 16;
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ h >> 33;
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
        return h->n ? kbus__hash_find_hv(h, kbus__hash_key(key, len), key, len)
                    : NULL;
}

kbus_hnode *kbus__hash_find_hv(const kbus_hash *h, uint64_t hv, const void *key,
                               size_t len) {
        if (!h->n)
                return NULL;
        for (kbus_hnode *n = h->buckets[hv & h->mask]; n; n = n->next)
                if (n->hash == hv && n->len == len && !memcmp(n->key, key, len))
                        return n;
        return NULL;
}

bool kbus__hash_insert(kbus_hash *h, kbus_hnode *node) {
        return kbus__hash_insert_hv(h, node,
                                    kbus__hash_key(node->key, node->len));
}

bool kbus__hash_insert_hv(kbus_hash *h, kbus_hnode *node, uint64_t hv) {
        /* A table that cannot grow takes longer chains instead: only the
         * first insert, with no buckets yet, can fail. */
        if ((!h->mask || h->n > h->mask) && !grow(h) && !h->mask)
                return false;
        node->hash = hv;
        node->next = h->buckets[node->hash & h->mask];
        h->buckets[node->hash & h->mask] = node;
        h->n++;
        return true;
}

void kbus__hash_replace(kbus_hash *h, kbus_hnode *old, kbus_hnode *node) {
        for (kbus_hnode **pp = &h->buckets[old->hash & h->mask]; *pp;
             pp = &(*pp)->next)
                if (*pp == old) {
                        node->hash = old->hash;
                        node->next = old->next;
                        *pp = node;
                        return;
                }
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
