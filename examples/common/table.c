/*
 * Open addressing with linear probing and FNV-1a hashes; the table doubles
 * when it is half full, so probes stay short.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

/* The examples treat running out of memory as the end of the process. */
static void *check(void *p) {
        if (!p) {
                fputs("out of memory\n", stderr);
                exit(1);
        }
        return p;
}

struct slot {
        char *key;
        void *value;
};

struct table {
        struct slot *slots;
        size_t cap; /* a power of two */
        size_t count;
};

static uint64_t hash(const char *s) {
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return h;
}

table *table_new(void) {
        table *t = check(calloc(1, sizeof(*t)));
        t->cap = 64;
        t->slots = check(calloc(t->cap, sizeof(*t->slots)));
        return t;
}

void table_free(table *t, void (*free_value)(void *value)) {
        if (!t)
                return;
        for (size_t i = 0; i < t->cap; i++) {
                if (!t->slots[i].key)
                        continue;
                free(t->slots[i].key);
                if (free_value)
                        free_value(t->slots[i].value);
        }
        free(t->slots);
        free(t);
}

static struct slot *find(const table *t, const char *key) {
        size_t i = (size_t)hash(key) & (t->cap - 1);
        while (t->slots[i].key && strcmp(t->slots[i].key, key))
                i = (i + 1) & (t->cap - 1);
        return &t->slots[i];
}

void *table_get(const table *t, const char *key) {
        struct slot *s = find(t, key);
        return s->key ? s->value : NULL;
}

static void grow(table *t) {
        struct slot *old = t->slots;
        size_t old_cap = t->cap;
        t->cap *= 2;
        t->slots = check(calloc(t->cap, sizeof(*t->slots)));
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].key)
                        *find(t, old[i].key) = old[i];
        free(old);
}

void table_put(table *t, const char *key, void *value) {
        struct slot *s = find(t, key);
        if (s->key) {
                s->value = value;
                return;
        }
        s->key = check(strdup(key));
        s->value = value;
        if (++t->count * 2 > t->cap)
                grow(t);
}

size_t table_count(const table *t) {
        return t->count;
}

void table_foreach(const table *t,
                   void (*fn)(const char *key, void *value, void *arg),
                   void *arg) {
        for (size_t i = 0; i < t->cap; i++)
                if (t->slots[i].key)
                        fn(t->slots[i].key, t->slots[i].value, arg);
}
