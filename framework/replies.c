/*
 * The reply cache of idempotent methods; see replies.h.
 */
#include <string.h>

#include "kbus_int.h"
#include "replies.h"

static size_t hash(const void *id, size_t len) {
        const uint8_t *p = id;
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 1099511628211ULL;
        return (size_t)h;
}

int kbus__replies_init(kbus_reply_cache *rc, size_t cap) {
        size_t nb = 64;
        while (nb < cap)
                nb *= 2;
        memset(rc, 0, sizeof(*rc));
        rc->buckets = kbus__calloc(nb, sizeof(*rc->buckets));
        rc->ring = kbus__calloc(cap, sizeof(*rc->ring));
        if (!rc->buckets || !rc->ring) {
                kbus__free(rc->buckets);
                kbus__free(rc->ring);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        rc->mask = nb - 1;
        rc->cap = cap;
        return 0;
}

static void entry_free(kbus_cached_reply *e) {
        kbus__free(e->message);
        kbus__free(e->value);
        kbus__free(e);
}

static kbus_cached_reply **slot(kbus_reply_cache *rc, const void *id,
                                size_t len) {
        kbus_cached_reply **pp = &rc->buckets[hash(id, len) & rc->mask];
        while (*pp && ((*pp)->id_len != len || memcmp((*pp)->id, id, len)))
                pp = &(*pp)->next;
        return pp;
}

kbus_cached_reply *kbus__replies_find(kbus_reply_cache *rc, const void *id,
                                      size_t len) {
        return rc->buckets ? *slot(rc, id, len) : NULL;
}

static void unlink_entry(kbus_reply_cache *rc, kbus_cached_reply *e) {
        kbus_cached_reply **pp = slot(rc, e->id, e->id_len);
        if (*pp == e)
                *pp = e->next;
}

bool kbus__replies_begin(kbus_reply_cache *rc, const void *id, size_t len) {
        kbus_cached_reply *e = kbus__calloc(1, sizeof(*e) + len);
        kbus_cached_reply **pp;
        if (!e)
                return false;
        memcpy(e->id, id, len);
        e->id_len = len;
        if (rc->n == rc->cap) {
                /* Full: forget the oldest (if it is still there). */
                kbus_cached_reply *old = rc->ring[rc->head];
                if (old) {
                        unlink_entry(rc, old);
                        entry_free(old);
                }
                rc->head = (rc->head + 1) % rc->cap;
                rc->n--;
        }
        rc->ring[(rc->head + rc->n) % rc->cap] = e;
        rc->n++;
        pp = slot(rc, id, len);
        e->next = *pp;
        *pp = e;
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
        unlink_entry(rc, e);
        /* Its ring slot stays, empty, until eviction reaches it. */
        for (size_t i = 0; i < rc->n; i++)
                if (rc->ring[(rc->head + i) % rc->cap] == e) {
                        rc->ring[(rc->head + i) % rc->cap] = NULL;
                        break;
                }
        entry_free(e);
}

void kbus__replies_fini(kbus_reply_cache *rc) {
        for (size_t i = 0; rc->ring && i < rc->n; i++)
                if (rc->ring[(rc->head + i) % rc->cap])
                        entry_free(rc->ring[(rc->head + i) % rc->cap]);
        kbus__free(rc->ring);
        kbus__free(rc->buckets);
        memset(rc, 0, sizeof(*rc));
}
