/*
 * Per-key ordering; see keys.h.
 */
#include <string.h>

#include "core.h"

/* FNV-1a: keys are short, and this runs once per keyed record. */
static size_t hash(const void *key, size_t len) {
        const unsigned char *p = key;
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 1099511628211ULL;
        return (size_t)h;
}

static bool grow(kbus_keys *k) {
        size_t ncap = k->mask ? (k->mask + 1) * 2 : 64;
        kbus_keyq **nb = kbus__calloc(ncap, sizeof(*nb));
        if (!nb)
                return false;
        for (size_t i = 0; k->mask && i <= k->mask; i++) {
                kbus_keyq *q = k->buckets[i], *next;
                for (; q; q = next) {
                        next = q->next;
                        q->next = nb[hash(q->key, q->len) & (ncap - 1)];
                        nb[hash(q->key, q->len) & (ncap - 1)] = q;
                }
        }
        kbus__free(k->buckets);
        k->buckets = nb;
        k->mask = ncap - 1;
        return true;
}

kbus_keyq *kbus__keys_find(kbus_keys *k, const void *key, size_t len) {
        kbus_keyq *q;
        if (!k->n)
                return NULL;
        for (q = k->buckets[hash(key, len) & k->mask]; q; q = q->next)
                if (q->len == len && !memcmp(q->key, key, len))
                        return q;
        return NULL;
}

void kbus__keys_wait(kbus_keyq *q, kbus_call *call) {
        call->qnext = NULL;
        if (q->tail)
                q->tail->qnext = call;
        else
                q->head = call;
        q->tail = call;
}

kbus_keyq *kbus__keys_add(kbus_keys *k, const void *key, size_t len) {
        kbus_keyq *q;
        if ((k->n >= k->mask || !k->mask) && !grow(k))
                return NULL;
        q = kbus__malloc(sizeof(*q) + len);
        if (!q)
                return NULL;
        q->head = q->tail = NULL;
        q->len = len;
        memcpy(q->key, key, len);
        q->next = k->buckets[hash(key, len) & k->mask];
        k->buckets[hash(key, len) & k->mask] = q;
        k->n++;
        return q;
}

kbus_call *kbus__keys_release(kbus_keys *k, kbus_keyq *q) {
        kbus_call *next = q->head;
        if (next) {
                q->head = next->qnext;
                if (!q->head)
                        q->tail = NULL;
                next->qnext = NULL;
                return next;
        }
        for (kbus_keyq **pp = &k->buckets[hash(q->key, q->len) & k->mask];
             *pp; pp = &(*pp)->next)
                if (*pp == q) {
                        *pp = q->next;
                        break;
                }
        k->n--;
        kbus__free(q);
        return NULL;
}

kbus_call *kbus__keys_take_waiting(kbus_keys *k) {
        kbus_call *list = NULL;
        for (size_t i = 0; k->mask && i <= k->mask; i++)
                for (kbus_keyq *q = k->buckets[i]; q; q = q->next) {
                        while (q->head) {
                                kbus_call *c = q->head;
                                q->head = c->qnext;
                                c->qnext = list;
                                list = c;
                        }
                        q->tail = NULL;
                }
        return list;
}

void kbus__keys_fini(kbus_keys *k) {
        for (size_t i = 0; k->mask && i <= k->mask; i++) {
                kbus_keyq *q = k->buckets[i], *next;
                for (; q; q = next) {
                        next = q->next;
                        kbus__free(q);
                }
        }
        kbus__free(k->buckets);
        memset(k, 0, sizeof(*k));
}
