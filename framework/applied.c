/*
 * The applied batches by input record; see applied.h.
 */
#include <string.h>

#include "applied.h"
#include "kbus_int.h"

/* The index of the first span that ends after \p offset. */
static size_t span_after(const kbus_applied *a, int64_t offset) {
        size_t lo = 0, hi = a->n_spans;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (a->spans[mid].hi > offset)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

/* The index of the first outbox at or after \p offset. */
static size_t kept_at(const kbus_applied *a, int64_t offset) {
        size_t lo = 0, hi = a->n_kept;
        if (hi && a->kept[hi - 1].offset < offset)
                return hi; /* the usual case: after every other */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (a->kept[mid].offset >= offset)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

/* Makes room for \p need elements of \p size bytes in *p. */
static bool room(void **p, size_t *cap, size_t need, size_t size) {
        size_t ncap = *cap ? *cap : 4;
        void *np;
        if (need <= *cap)
                return true;
        while (ncap < need)
                ncap *= 2;
        if (!(np = kbus__realloc(*p, ncap * size)))
                return false;
        *p = np;
        *cap = ncap;
        return true;
}

kbus_applied *kbus__applied_topic(kbus_applied **list, const char *topic,
                                  size_t topic_len, bool make) {
        kbus_applied *a;
        for (a = *list; a; a = a->next)
                if (a->topic_len == topic_len &&
                    !memcmp(a->topic, topic, topic_len))
                        return a;
        if (!make || !(a = kbus__calloc(1, sizeof(*a) + topic_len + 1)))
                return NULL;
        memcpy(a->topic, topic, topic_len);
        a->topic_len = topic_len;
        a->next = *list;
        *list = a;
        return a;
}

bool kbus__applied_find(const kbus_applied *a, int64_t offset,
                        const void **outbox, size_t *len) {
        size_t i = span_after(a, offset);
        if (i == a->n_spans || a->spans[i].lo > offset)
                return false;
        i = kept_at(a, offset);
        if (i < a->n_kept && a->kept[i].offset == offset) {
                *outbox = a->kept[i].outbox;
                *len = a->kept[i].len;
        } else {
                *outbox = NULL;
                *len = 0;
        }
        return true;
}

bool kbus__applied_add(kbus_applied *a, int64_t lo, int64_t hi) {
        size_t n = a->n_spans, i, j;
        kbus_span *s;
        if (n && a->spans[n - 1].hi == lo) { /* the usual case */
                a->spans[n - 1].hi = hi;
                return true;
        }
        i = span_after(a, lo - 1); /* the first that ends at lo or later */
        for (j = i; j < n && a->spans[j].lo <= hi; j++)
                ;
        if (i < j) { /* spans [i, j) overlap or touch [lo, hi): one now */
                s = &a->spans[i];
                if (lo < s->lo)
                        s->lo = lo;
                s->hi = a->spans[j - 1].hi > hi ? a->spans[j - 1].hi : hi;
                memmove(s + 1, &a->spans[j], (n - j) * sizeof(*s));
                a->n_spans -= j - i - 1;
                return true;
        }
        if (!room((void **)&a->spans, &a->cap_spans, n + 1, sizeof(*s)))
                return false;
        s = &a->spans[i];
        memmove(s + 1, s, (n - i) * sizeof(*s));
        s->lo = lo;
        s->hi = hi;
        a->n_spans++;
        return true;
}

bool kbus__applied_keep(kbus_applied *a, int64_t offset, const void *outbox,
                        size_t len) {
        size_t i = kept_at(a, offset);
        kbus_kept *k;
        void *copy;
        if (!room((void **)&a->kept, &a->cap_kept, a->n_kept + 1, sizeof(*k)) ||
            !(copy = kbus__malloc(len)))
                return false;
        memcpy(copy, outbox, len);
        k = &a->kept[i];
        memmove(k + 1, k, (a->n_kept - i) * sizeof(*k));
        k->offset = offset;
        k->outbox = copy;
        k->len = len;
        a->n_kept++;
        return true;
}

bool kbus__applied_remember(kbus_applied *a, int64_t offset, const void *outbox,
                            size_t len) {
        const void *ob;
        size_t ob_len, i;
        if (kbus__applied_find(a, offset, &ob, &ob_len))
                return true;
        /* The outbox first: taking it out again needs no memory, where
         * taking an offset out of a span may. */
        if (len && !kbus__applied_keep(a, offset, outbox, len))
                return false;
        if (offset < INT64_MAX && kbus__applied_add(a, offset, offset + 1))
                return true;
        if (len) {
                i = kept_at(a, offset);
                kbus__free(a->kept[i].outbox);
                memmove(&a->kept[i], &a->kept[i + 1],
                        (a->n_kept - i - 1) * sizeof(*a->kept));
                a->n_kept--;
        }
        return false;
}

void kbus__applied_forget(kbus_applied *a, int64_t below) {
        size_t i = span_after(a, below), k = kept_at(a, below);
        if (i > 0) { /* (no memmove of a NULL array of nothing) */
                memmove(a->spans, &a->spans[i],
                        (a->n_spans - i) * sizeof(*a->spans));
                a->n_spans -= i;
        }
        if (a->n_spans && a->spans[0].lo < below)
                a->spans[0].lo = below;
        if (k > 0) {
                for (size_t j = 0; j < k; j++)
                        kbus__free(a->kept[j].outbox);
                memmove(a->kept, &a->kept[k],
                        (a->n_kept - k) * sizeof(*a->kept));
                a->n_kept -= k;
        }
        /* Emptied, they give their memory back (a restore may have left
         * many spans). */
        if (!a->n_spans) {
                kbus__free(a->spans);
                a->spans = NULL;
                a->cap_spans = 0;
        }
        if (!a->n_kept) {
                kbus__free(a->kept);
                a->kept = NULL;
                a->cap_kept = 0;
        }
}

void kbus__applied_free(kbus_applied **list) {
        while (*list) {
                kbus_applied *a = *list;
                *list = a->next;
                for (size_t i = 0; i < a->n_kept; i++)
                        kbus__free(a->kept[i].outbox);
                kbus__free(a->kept);
                kbus__free(a->spans);
                kbus__free(a);
        }
}
