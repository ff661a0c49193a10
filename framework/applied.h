/*
 * The batches a table partition has applied whose input records may be
 * delivered again (their offsets are not committed yet), by input topic:
 * when one comes again it is recognised, and what it sent is sent again
 * instead of handling it twice (table.c, docs/STATE.md).
 *
 * One kbus_applied per input topic holds the offsets as sorted spans that
 * neither overlap nor touch, and a copy of the outbox of each batch that
 * sent something, sorted by offset.  Nothing is allocated per batch but
 * for an outbox: input records come mostly in order, so the batches of a
 * restore usually make a few spans, and remembering one is extending the
 * last.  (One allocation per batch, in a hash table, was an eighth of a
 * restore's time: kbus-bench, case h.)
 */
#ifndef KBUS_APPLIED_H
#define KBUS_APPLIED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Offsets [lo, hi). */
typedef struct kbus_span {
        int64_t lo, hi;
} kbus_span;

/* The outbox of one batch. */
typedef struct kbus_kept {
        int64_t offset;
        void *outbox;
        size_t len;
} kbus_kept;

typedef struct kbus_applied {
        struct kbus_applied *next;
        kbus_span *spans;
        size_t n_spans, cap_spans;
        kbus_kept *kept;
        size_t n_kept, cap_kept;
        size_t topic_len;
        char topic[]; /* NUL-terminated */
} kbus_applied;

/** The batches of input topic \p topic in \p list; when there are none
 *  and \p make is true, an empty entry is made at the list's head.  NULL
 *  when there are none, or when out of memory. */
kbus_applied *kbus__applied_topic(kbus_applied **list, const char *topic,
                                  size_t topic_len, bool make);

/** Whether the batch of input offset \p offset is in \p a; if so, *outbox
 *  and *len are what it sent (NULL and 0: nothing), owned by \p a. */
bool kbus__applied_find(const kbus_applied *a, int64_t offset,
                        const void **outbox, size_t *len);

/** Adds the batches of offsets [lo, hi) (lo < hi), without outboxes.
 *  False when out of memory: nothing changed. */
bool kbus__applied_add(kbus_applied *a, int64_t lo, int64_t hi);

/** Keeps a copy of the outbox (\p len > 0) of the batch of \p offset,
 *  which has none.  False when out of memory: nothing changed. */
bool kbus__applied_keep(kbus_applied *a, int64_t offset, const void *outbox,
                        size_t len);

/** Adds the batch of \p offset with a copy of its outbox (\p len 0: it
 *  sent nothing); one already in stays as it is.  False when out of
 *  memory: then it is not in (rather than in without its outbox, which
 *  would send nothing when its record comes again). */
bool kbus__applied_remember(kbus_applied *a, int64_t offset, const void *outbox,
                            size_t len);

/** Forgets the batches of offsets below \p below: they are committed. */
void kbus__applied_forget(kbus_applied *a, int64_t below);

/** Frees every entry of \p list and empties it. */
void kbus__applied_free(kbus_applied **list);

#endif
