/*
 * State tables: protobuf values by key, owned by a consumer group, split
 * like its input topics and kept in changelog topics (docs/STATE.md).
 *
 * Table partition P lives where input partition P is assigned.  On
 * assignment it is rebuilt before the partition's first record starts
 * (from a local snapshot if one is there, then the changelog's tail); the
 * group's other partitions keep flowing.  A handler's puts and deletes stay
 * with its call until the call succeeds; then each becomes a changelog
 * record of partition P and is applied in memory at once, so that the next
 * record of the key runs without waiting for the delivery (each change
 * keeps the value it replaced until its call ends: a snapshot takes out
 * the changes not yet written, and puts them back).  The record's offset is
 * stored, and its events and reply sent, once the changes are delivered.
 * Changelog records are never given up for time; one the broker refuses
 * for good may be under a later change that read it, so the runtime stops
 * (state_broken) rather than go on from a table the changelog contradicts.
 *
 * Effectively once.  Every changelog record carries, in kbus-source, the
 * input record it came from, its place in that attempt's batch, and the
 * offset below which every input record was done when it was written (the
 * committed mark); the batch's last record carries the messages the call
 * sent (kbus-outbox: its events and its reply).  A restore applies every
 * complete batch, and the batches below the highest committed mark it saw
 * even when compaction left only part of them.  It remembers the
 * complete batches by input record, so that a record which a crash before
 * its offset commit makes the group deliver again is not handled twice:
 * its outbox is sent again instead.  The first record of a partition
 * shows where the group's committed offset is; what is below it is
 * forgotten then, and, while running, below the committed offsets
 * librdkafka's statistics report.
 *
 * This module reaches the engine only through the functions it sets in
 * the group (kbus_state_ops) and the record's completion path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applied.h"
#include "core.h"

#include <librdkafka/rdkafka_mock.h>

/* ---- a byte buffer: outboxes and snapshots ---- */

typedef struct bytes {
        unsigned char *p;
        size_t len, cap;
        bool failed; /* out of memory at some point: unusable */
} bytes;

static void put(bytes *b, const void *src, size_t n) {
        if (b->failed)
                return;
        if (b->len + n > b->cap) {
                size_t ncap = b->cap ? b->cap * 2 : 256;
                unsigned char *np;
                while (ncap < b->len + n)
                        ncap *= 2;
                if (!(np = kbus__realloc(b->p, ncap))) {
                        b->failed = true;
                        return;
                }
                b->p = np;
                b->cap = ncap;
        }
        memcpy(b->p + b->len, src, n);
        b->len += n;
}

static void put_u32(bytes *b, uint32_t v) {
        uint8_t x[4];
        kbus__be32(x, v);
        put(b, x, 4);
}

static void put_i64(bytes *b, int64_t v) {
        uint8_t x[8];
        kbus__be64(x, (uint64_t)v);
        put(b, x, 8);
}

/* Length-prefixed bytes; NULL is written as length 0xffffffff. */
static void put_blob(bytes *b, const void *p, size_t n) {
        put_u32(b, p ? (uint32_t)n : UINT32_MAX);
        if (p)
                put(b, p, n);
}

/* A reader that refuses to go past the end. */
typedef struct reader {
        const unsigned char *p, *end;
        bool bad;
} reader;

static bool get(reader *r, void *dst, size_t n) {
        if (r->bad || (size_t)(r->end - r->p) < n) {
                r->bad = true;
                return false;
        }
        memcpy(dst, r->p, n);
        r->p += n;
        return true;
}

static uint32_t get_u32(reader *r) {
        uint8_t x[4] = {0};
        get(r, x, 4);
        return (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 |
               (uint32_t)x[2] << 8 | x[3];
}

static int64_t get_i64(reader *r) {
        uint64_t hi = get_u32(r);
        return (int64_t)(hi << 32 | get_u32(r));
}

/* Points *p at the next blob, in place; false at the end or when bad. */
static bool get_blob(reader *r, const void **p, size_t *n) {
        uint32_t len = get_u32(r);
        if (r->bad)
                return false;
        if (len == UINT32_MAX) {
                *p = NULL;
                *n = 0;
                return true;
        }
        if ((size_t)(r->end - r->p) < len) {
                r->bad = true;
                return false;
        }
        *p = r->p;
        *n = len;
        r->p += len;
        return true;
}

/* CRC-32 (IEEE): snapshots check their own bytes with it. */
static uint32_t crc32(const unsigned char *p, size_t n) {
        uint32_t c = 0xffffffffu;
        while (n--) {
                c ^= *p++;
                for (int k = 0; k < 8; k++)
                        c = c >> 1 ^ (0xedb88320u & -(c & 1));
        }
        return ~c;
}

/* ---- the objects ---- */

typedef struct state state;
typedef struct table table;
typedef struct tpart tpart;
typedef struct writes writes;

/* An entry of a table partition: one allocation with its key and its
 * value (two allocations an entry and a copy of the value were a fifth of
 * a restore's time, kbus-bench case h). */
typedef struct entry {
        kbus_hnode node; /* its key is key[], node.len bytes */
        int64_t offset;  /* the changelog record it comes from */
        uint32_t len;    /* of the value, packed in key[] after the key */
        uint32_t room;   /* for it there */
        unsigned char key[];
} entry;

/* Restore: one change read from the changelog. */
typedef struct change {
        int64_t offset;
        void *key, *value; /* value NULL: a delete */
        size_t key_len, len;
} change;

/* Restore: a batch not yet complete. */
typedef struct pending {
        struct pending *next;
        int64_t offset; /* of its input record */
        uint32_t attempt;
        uint32_t n;      /* changes in the batch */
        change *changes; /* those read, n at most */
        uint32_t seen;
        uint32_t tables; /* tables the call wrote (kbus-tables) */
        bool whole;      /* every change of this table's part read */
        void *outbox;
        size_t outbox_len;
        char topic[];
} pending;

struct tpart {
        table *t;
        int32_t partition;
        int users; /* input partitions assigned with this number */
        kbus_hash entries;
        size_t overhead; /* bytes beyond keys and values */
        bool restoring;
        int64_t next;  /* changelog offset after the last one read */
        int64_t w_max; /* highest committed mark seen */
        int64_t restore_ms, restore_from, records_read;
        int64_t restore_took_ms; /* for the log line, said after settle() */
        size_t restore_dropped;
        bool from_snapshot;
        bool from_oldest;      /* offset 0 is gone: read from the oldest kept */
        uint64_t reread;       /* the restore consumer's batch in which it was
                                * assigned again (from another offset) */
        kbus_applied *applied; /* batches that may come again */
        pending *pending;
        writes *inflight; /* in the first table's partition only: the
                           * calls whose changes are applied in this
                           * partition number's tables but not yet
                           * written, the newest first */
        bool dirty;       /* changed since the last snapshot */
        bool tainted;     /* holds changes of a call let go: no snapshot */
};

struct table {
        table *next;
        state *st;
        const kbus_table_desc *desc;
        char *changelog;
        rd_kafka_topic_t *rkt; /* the producer's handle on the changelog */
        rd_kafka_topic_t *restore_rkt; /* the restore consumer's: its
                                        * records carry this one */
        tpart **parts;
        int32_t n_parts;
};

struct state {
        kbus_runtime *rt;
        kbus_group *g;
        table *tables;
        rd_kafka_t *restorer; /* reads changelogs: assigned, no group */
        kbus_bridge bridge;
        uint64_t batches;         /* the restore consumer's, so far */
        int restoring;            /* table partitions being restored */
        int32_t partitions;       /* of the input topics, once known */
        struct event *checkpoint; /* forgetting, and snapshots */
        int64_t last_snapshot_ms;
        bool broken; /* a change was refused: the runtime stops */
};

/* One put or delete of a call. */
typedef struct edit {
        struct edit *next;
        kbus_dr dr; /* its changelog record's delivery */
        writes *ws;
        table *t;
        int64_t delivered; /* its changelog offset, once delivered */
        /* Before its call commits, the value it writes (in key[], after
         * the key); after, the value it replaced in the table, when a
         * snapshot may want it (an allocation of its own).  NULL: a
         * delete; none. */
        void *value;
        size_t len;
        size_t key_len;
        unsigned char key[];
} edit;

/* A call's changes, outbox and the values it read. */
struct writes {
        state *st;
        kbus_call *call;
        edit *head, *tail;
        uint32_t n;
        bytes outbox; /* u32 count, then the messages */
        uint32_t n_out;
        uint32_t n_events;         /* of the outbox: sent once written */
        uint32_t changelog_left;   /* changelog records not yet reported */
        ProtobufCMessage *got_one; /* the first value it read */
        ProtobufCMessage **got;    /* the others */
        size_t n_got;
        tpart *tp; /* while in its inflight list */
        writes *inext, *iprev;
        bool applied_now;  /* its changes are in the table, not yet written */
        bool write_failed; /* one of its changelog records was refused */
        /* Sending an outbox until every message is delivered (tried again
         * every second): the call's events once its changes are written,
         * or everything a record handled before a restart sent. */
        const void *send_p;
        size_t send_len;
        uint32_t send_count;
        kbus_dr send_dr;
        uint32_t send_pending;
        bool send_failed;
        struct event *send_timer;
        void (*sent)(writes *ws);
};

static const kbus_state_ops table_ops;

/* ---- entries ---- */

static entry *entry_find(tpart *tp, const void *key, size_t len) {
        kbus_hnode *n = kbus__hash_find(&tp->entries, key, len);
        return n ? kbus__entry_of(n, entry, node) : NULL;
}

/* The same with the key's hash computed, for an insert that may follow. */
static entry *entry_find_hv(tpart *tp, uint64_t hv, const void *key,
                            size_t len) {
        kbus_hnode *n = kbus__hash_find_hv(&tp->entries, hv, key, len);
        return n ? kbus__entry_of(n, entry, node) : NULL;
}

static unsigned char *entry_value(entry *e) {
        return e->key + e->node.len;
}

/* Stores a copy of the \p len bytes at \p value (NULL: deletes) as the
 * value of \p key, whose entry is \p e (NULL: none) and hash \p hv, from
 * changelog \p offset.  In place when it fits; else the entry is made
 * again, with room rounded up as glibc's malloc rounds anyway, so that a
 * value that grows by a few bytes still fits.  False when out of memory
 * (nothing changed). */
static bool entry_store(tpart *tp, uint64_t hv, entry *e, const void *key,
                        size_t key_len, const void *value, size_t len,
                        int64_t offset) {
        entry *ne;
        size_t size = sizeof(entry) + key_len + (len ? len : 1);
        if (!value) {
                if (e) {
                        kbus__hash_remove(&tp->entries, &e->node);
                        tp->overhead -= sizeof(*e);
                        kbus__free(e);
                }
                return true;
        }
        if (e && len <= e->room) {
                memcpy(entry_value(e), value, len);
                e->len = (uint32_t)len;
                e->offset = offset;
                return true;
        }
        size = ((size + 8 + 15) & ~(size_t)15) - 8;
        if (len > UINT32_MAX / 2 || !(ne = kbus__malloc(size)))
                return false;
        memcpy(ne->key, key, key_len);
        ne->node.key = ne->key;
        ne->node.len = key_len;
        ne->room = (uint32_t)(size - sizeof(entry) - key_len);
        memcpy(entry_value(ne), value, len);
        ne->len = (uint32_t)len;
        ne->offset = offset;
        if (e) {
                kbus__hash_replace(&tp->entries, &e->node, &ne->node);
                kbus__free(e);
        } else if (!kbus__hash_insert_hv(&tp->entries, &ne->node, hv)) {
                kbus__free(ne);
                return false;
        } else {
                tp->overhead += sizeof(*e);
        }
        return true;
}

/* Applies a put (a copy of the \p len bytes at \p value) or a delete
 * (\p value NULL) at changelog \p offset; an entry written by a later
 * changelog record stays.  False when out of memory. */
static bool entry_set(tpart *tp, const void *key, size_t key_len,
                      const void *value, size_t len, int64_t offset) {
        uint64_t hv = kbus__hash_key(key, key_len);
        entry *e = entry_find_hv(tp, hv, key, key_len);
        if (e && e->offset > offset)
                return true;
        return entry_store(tp, hv, e, key, key_len, value, len, offset);
}

/* Frees the value \p x holds, unless it is the one packed after its key. */
static void edit_value_free(edit *x) {
        if (x->value != x->key + x->key_len)
                kbus__free(x->value);
}

static void edit_free(edit *x) {
        edit_value_free(x);
        kbus__free(x);
}

/* Applies \p x to the table: its key gets the value \p x holds (NULL:
 * none).  With \p keep, \p x then holds the value it replaced, so that a
 * second exchange takes the change out again (a snapshot leaves out the
 * calls in flight); else nothing.  False when out of memory (nothing
 * changed). */
static bool edit_swap(tpart *tp, edit *x, bool keep) {
        uint64_t hv = kbus__hash_key(x->key, x->key_len);
        entry *e = entry_find_hv(tp, hv, x->key, x->key_len);
        void *old = NULL;
        size_t old_len = e ? e->len : 0;
        if (keep && e && !(old = kbus__malloc(old_len ? old_len : 1)))
                return false;
        if (old)
                memcpy(old, entry_value(e), old_len);
        if (!entry_store(tp, hv, e, x->key, x->key_len, x->value, x->len,
                         e ? e->offset : -1)) {
                kbus__free(old);
                return false;
        }
        edit_value_free(x);
        x->value = old;
        x->len = old ? old_len : 0;
        tp->dirty = true;
        return true;
}

static void free_entry_node(kbus_hnode *n, void *arg) {
        kbus__free(kbus__entry_of(n, entry, node));
}

/* ---- table partitions ---- */

static tpart *tpart_of(table *t, int32_t partition) {
        return partition < t->n_parts ? t->parts[partition] : NULL;
}

/* The partition of the group's first table, which keeps the list of calls
 * in flight for every table of that partition number (a call may write
 * several); NULL when it is not ours. */
static tpart *home(const state *st, int32_t partition) {
        return tpart_of(st->tables, partition);
}

/* ---- applied batches, by input record (applied.c) ---- */

static bool applied_find(tpart *tp, const char *topic, size_t topic_len,
                         int64_t offset, const void **outbox,
                         size_t *outbox_len) {
        const kbus_applied *a =
            kbus__applied_topic(&tp->applied, topic, topic_len, false);
        return a && kbus__applied_find(a, offset, outbox, outbox_len);
}

/* Remembers a complete batch whose input record may come again. */
static void remember(tpart *tp, const char *topic, size_t topic_len,
                     int64_t offset, const void *outbox, size_t outbox_len) {
        kbus_applied *a =
            kbus__applied_topic(&tp->applied, topic, topic_len, true);
        if (!a || !kbus__applied_remember(a, offset, outbox, outbox_len))
                KBUS_LOG(KBUS_LOG_ERROR, "table",
                         "out of memory: table %s partition %" PRId32
                         " will not know %.*s offset %" PRId64
                         " as handled if it comes again",
                         tp->t->desc->name, tp->partition, (int)topic_len,
                         topic, offset);
}

static void applied_clear(tpart *tp) {
        kbus__applied_free(&tp->applied);
}

/* Forgets the batches whose input records are committed, as \p committed
 * says (-1: not known). */
static void forget_committed(tpart *tp,
                             int64_t (*committed)(tpart *tp,
                                                  const char *topic)) {
        for (kbus_applied *a = tp->applied; a; a = a->next) {
                int64_t c = committed(tp, a->topic);
                if (c >= 0)
                        kbus__applied_forget(a, c);
        }
}

static void pending_free(pending *pb) {
        for (uint32_t i = 0; i < pb->seen; i++) {
                kbus__free(pb->changes[i].key);
                kbus__free(pb->changes[i].value);
        }
        kbus__free(pb->changes);
        kbus__free(pb->outbox);
        kbus__free(pb);
}

static void tpart_free(tpart *tp) {
        kbus__hash_each(&tp->entries, free_entry_node, NULL);
        kbus__hash_fini(&tp->entries);
        applied_clear(tp);
        while (tp->pending) {
                pending *next = tp->pending->next;
                pending_free(tp->pending);
                tp->pending = next;
        }
        /* Calls still out keep their changes; applying finds no partition. */
        for (writes *w = tp->inflight; w; w = w->inext)
                w->tp = NULL;
        kbus__free(tp);
}

static tpart *tpart_new(table *t, int32_t partition) {
        tpart *tp;
        if (partition >= t->n_parts) {
                tpart **np = kbus__realloc(t->parts, (size_t)(partition + 1) *
                                                         sizeof(*np));
                if (!np)
                        return NULL;
                for (int32_t i = t->n_parts; i <= partition; i++)
                        np[i] = NULL;
                t->parts = np;
                t->n_parts = partition + 1;
        }
        if (!(tp = kbus__calloc(1, sizeof(*tp))))
                return NULL;
        tp->t = t;
        tp->partition = partition;
        tp->w_max = -1;
        t->parts[partition] = tp;
        return tp;
}

/* ---- snapshots ---- */

/* The last character is the format's version: 2 since the applied batches
 * are kept as spans of offsets (1 listed them one by one). */
#define SNAP_MAGIC "KBUSSNP2"

/* <state_dir>/<group>/<table>/<partition>.snap */
static void snap_path(const tpart *tp, char *out, size_t n, const char *ext) {
        const state *st = tp->t->st;
        snprintf(out, n, "%s/%s/%s/%" PRId32 ".snap%s", st->rt->conf->state_dir,
                 st->g->id, tp->t->desc->name, tp->partition, ext);
}

static int mkdirs(char *path) {
        for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(path, 0755) && errno != EEXIST) {
                        *s = '/';
                        return -1;
                }
                *s = '/';
        }
        return 0;
}

/* The applied batches of each input topic: its name, its spans, its
 * outboxes. */
static void snap_applied(const tpart *tp, bytes *b) {
        uint32_t n = 0;
        for (const kbus_applied *a = tp->applied; a; a = a->next)
                n++;
        put_u32(b, n);
        for (const kbus_applied *a = tp->applied; a; a = a->next) {
                put_blob(b, a->topic, a->topic_len);
                put_u32(b, (uint32_t)a->n_spans);
                for (size_t i = 0; i < a->n_spans; i++) {
                        put_i64(b, a->spans[i].lo);
                        put_i64(b, a->spans[i].hi);
                }
                put_u32(b, (uint32_t)a->n_kept);
                for (size_t i = 0; i < a->n_kept; i++) {
                        put_i64(b, a->kept[i].offset);
                        put_blob(b, a->kept[i].outbox, a->kept[i].len);
                }
        }
}

/* Reads what snap_applied wrote: false when it does not add up (r->bad
 * set) or memory runs out. */
static bool snap_read_applied(tpart *tp, reader *r) {
        for (uint32_t i = 0, k = get_u32(r); i < k && !r->bad; i++) {
                const void *topic, *ob;
                size_t tl, ol;
                kbus_applied *a;
                uint32_t n;
                if (!get_blob(r, &topic, &tl) || !topic) {
                        r->bad = true;
                        return false;
                }
                if (!(a = kbus__applied_topic(&tp->applied, topic, tl, true)))
                        return false;
                n = get_u32(r);
                for (uint32_t j = 0; j < n && !r->bad; j++) {
                        int64_t lo = get_i64(r), hi = get_i64(r);
                        /* In order, apart: as snap_applied writes them. */
                        if (lo >= hi ||
                            (a->n_spans && a->spans[a->n_spans - 1].hi >= lo))
                                r->bad = true;
                        else if (!r->bad && !kbus__applied_add(a, lo, hi))
                                return false;
                }
                n = get_u32(r);
                for (uint32_t j = 0; j < n && !r->bad; j++) {
                        int64_t off = get_i64(r);
                        const void *had;
                        size_t had_len;
                        if (!get_blob(r, &ob, &ol) || !ob || !ol ||
                            !kbus__applied_find(a, off, &had, &had_len) ||
                            (a->n_kept && a->kept[a->n_kept - 1].offset >= off))
                                r->bad = true;
                        else if (!kbus__applied_keep(a, off, ob, ol))
                                return false;
                }
        }
        return !r->bad;
}

static void snap_entry(kbus_hnode *n, void *arg) {
        entry *e = kbus__entry_of(n, entry, node);
        bytes *b = arg;
        put_blob(b, e->key, e->node.len);
        put_blob(b, entry_value(e), e->len);
        put_i64(b, e->offset);
}

/* Takes the changes of the calls still in flight out of \p tp (\p out) or
 * puts them back: out newest first, back oldest first, so that each
 * exchange undoes the other whatever later calls did to the same keys.
 * False when out of memory (nothing changed). */
static bool inflight_swap(tpart *tp, bool out) {
        writes *calls = home(tp->t->st, tp->partition)->inflight;
        size_t n = 0, i = 0;
        edit **all;
        for (writes *w = calls; w; w = w->inext)
                for (edit *x = w->head; x; x = x->next)
                        n += x->t == tp->t;
        if (!n)
                return true;
        if (!(all = kbus__malloc(n * sizeof(*all))))
                return false;
        /* Newest first: the calls are, a call's own changes are not. */
        for (writes *w = calls; w; w = w->inext) {
                size_t m = 0, j = 0;
                for (edit *x = w->head; x; x = x->next)
                        m += x->t == tp->t;
                for (edit *x = w->head; x; x = x->next)
                        if (x->t == tp->t)
                                all[i + m - 1 - j++] = x;
                i += m;
        }
        for (i = 0; i < n; i++)
                edit_swap(tp, all[out ? i : n - 1 - i], true);
        kbus__free(all);
        return true;
}

/* Writes the partition's snapshot: what a restart reads instead of the
 * changelog up to the offset it covers.  The changes of calls still in
 * flight are taken out of it (they may never be written), and it covers
 * the changelog only up to the first of their records: a restore reads
 * again from there, in order, and finds their batches whole or not. */
static void snap_write(tpart *tp) {
        state *st = tp->t->st;
        char path[1024], tmp[1040];
        bytes b = {0};
        int64_t covers = tp->next;
        uint32_t crc;
        FILE *f;

        if (!st->rt->conf->state_dir || tp->restoring || !tp->dirty ||
            tp->tainted || st->broken || tp->pending ||
            !home(st, tp->partition))
                return;
        for (writes *w = home(st, tp->partition)->inflight; w; w = w->inext)
                for (edit *x = w->head; x; x = x->next)
                        if (x->t == tp->t && x->delivered >= 0 &&
                            x->delivered < covers)
                                covers = x->delivered;
        if (!inflight_swap(tp, true)) {
                KBUS_LOG(KBUS_LOG_WARN, "table",
                         "snapshot of table %s partition %" PRId32
                         " skipped: out of memory",
                         tp->t->desc->name, tp->partition);
                return;
        }
        put(&b, SNAP_MAGIC, 8);
        put_blob(&b, st->g->id, strlen(st->g->id));
        put_blob(&b, tp->t->desc->name, strlen(tp->t->desc->name));
        put_u32(&b, (uint32_t)tp->partition);
        put_i64(&b, covers);
        put_i64(&b, tp->next);
        put_i64(&b, tp->w_max);
        snap_applied(tp, &b);
        put_i64(&b, (int64_t)tp->entries.n);
        kbus__hash_each(&tp->entries, snap_entry, &b);
        inflight_swap(tp, false);
        crc = crc32(b.p, b.len);
        put_u32(&b, crc);
        snap_path(tp, path, sizeof(path), "");
        snap_path(tp, tmp, sizeof(tmp), ".tmp");
        if (b.failed || mkdirs(tmp) || !(f = fopen(tmp, "wb"))) {
                KBUS_LOG(KBUS_LOG_WARN, "table", "cannot write snapshot %s: %s",
                         path, b.failed ? "out of memory" : strerror(errno));
                kbus__free(b.p);
                return;
        }
        /* Written aside and renamed into place: a crash leaves the old
         * snapshot or the new one, never half of one. */
        if (fwrite(b.p, 1, b.len, f) != b.len || fflush(f) ||
            fsync(fileno(f)) || fclose(f) || rename(tmp, path)) {
                KBUS_LOG(KBUS_LOG_WARN, "table", "cannot write snapshot %s: %s",
                         path, strerror(errno));
                unlink(tmp);
        } else {
                tp->dirty = false;
        }
        kbus__free(b.p);
}

/* Forgets what the partition's snapshot gave it, with a warning: it is
 * rebuilt from the changelog. */
static void snap_discard(tpart *tp, const char *path, const char *why) {
        KBUS_LOG(KBUS_LOG_WARN, "table",
                 "snapshot %s discarded (%s): table %s partition %" PRId32
                 " is rebuilt from the changelog",
                 path, why, tp->t->desc->name, tp->partition);
        kbus__hash_each(&tp->entries, free_entry_node, NULL);
        kbus__hash_fini(&tp->entries);
        applied_clear(tp);
        tp->overhead = 0;
        tp->next = 0;
        tp->w_max = -1;
}

/* Reads the partition's snapshot, if any; on success the partition holds
 * its entries and *covers is the changelog offset to read from.  A
 * snapshot that does not check out is discarded with a warning. */
static bool snap_read(tpart *tp, int64_t *covers) {
        state *st = tp->t->st;
        char path[1024];
        unsigned char *buf = NULL;
        const void *p;
        size_t n;
        long size;
        reader r;
        FILE *f;
        const char *why = NULL;
        int64_t n_entries;

        if (!st->rt->conf->state_dir)
                return false;
        snap_path(tp, path, sizeof(path), "");
        if (!(f = fopen(path, "rb")))
                return false;
        if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 12 ||
            fseek(f, 0, SEEK_SET) || !(buf = kbus__malloc((size_t)size)) ||
            fread(buf, 1, (size_t)size, f) != (size_t)size) {
                why = "unreadable or too short";
                goto bad;
        }
        r.p = buf;
        r.end = buf + size - 4;
        r.bad = false;
        {
                reader c = {buf + size - 4, buf + size, false};
                if (get_u32(&c) != crc32(buf, (size_t)size - 4)) {
                        why = "checksum does not match (corrupt or truncated)";
                        goto bad;
                }
        }
        if (memcmp(buf, SNAP_MAGIC, 8)) {
                why = memcmp(buf, SNAP_MAGIC, 7)
                          ? "not a kbus snapshot"
                          : "written by another version of kbus";
                goto bad;
        }
        r.p += 8;
        if (!get_blob(&r, &p, &n) || n != strlen(st->g->id) ||
            memcmp(p, st->g->id, n) || !get_blob(&r, &p, &n) ||
            n != strlen(tp->t->desc->name) || memcmp(p, tp->t->desc->name, n) ||
            get_u32(&r) != (uint32_t)tp->partition) {
                why = "made for another group, table or partition";
                goto bad;
        }
        *covers = get_i64(&r);
        tp->next = get_i64(&r);
        tp->w_max = get_i64(&r);
        if (!snap_read_applied(tp, &r)) {
                why = r.bad ? "its contents do not add up"
                            : "out of memory loading it";
                goto bad;
        }
        n_entries = get_i64(&r);
        for (int64_t i = 0; i < n_entries && !r.bad; i++) {
                const void *key, *val;
                size_t kl, vl;
                int64_t off;
                get_blob(&r, &key, &kl);
                get_blob(&r, &val, &vl);
                off = get_i64(&r);
                if (r.bad || !val)
                        break;
                if (!entry_set(tp, key, kl, val, vl, off)) {
                        why = "out of memory loading it";
                        goto bad;
                }
        }
        if (r.bad || r.p != r.end || *covers < 0 || *covers > tp->next) {
                why = "its contents do not add up";
                goto bad;
        }
        fclose(f);
        kbus__free(buf);
        return true;
bad:
        snap_discard(tp, path, why ? why : "unreadable");
        if (f)
                fclose(f);
        kbus__free(buf);
        return false;
}

/* The group's committed offset of \p topic at the partition's number, as
 * librdkafka's statistics last said; -1 when not known. */
static int64_t committed_of(tpart *tp, const char *topic) {
        for (kbus_partition *p = tp->t->st->g->parts; p; p = p->next)
                if (p->partition == tp->partition && !strcmp(p->topic, topic))
                        return p->committed;
        return -1;
}

/* Every second: forgets the batches whose input records are committed
 * (librdkafka's statistics say so every second), so that what is kept for
 * redeliveries stays about a second's worth; and writes the snapshots of
 * partitions that changed, every checkpoint_interval_ms. */
static void on_checkpoint(evutil_socket_t fd, short what, void *arg) {
        state *st = arg;
        const kbus_config *conf = st->rt->conf;
        bool snapshot =
            conf->state_dir && kbus__now_ms() - st->last_snapshot_ms >=
                                   conf->checkpoint_interval_ms;
        for (table *t = st->tables; t; t = t->next)
                for (int32_t i = 0; i < t->n_parts; i++)
                        if (t->parts[i]) {
                                forget_committed(t->parts[i], committed_of);
                                if (snapshot)
                                        snap_write(t->parts[i]);
                        }
        if (snapshot)
                st->last_snapshot_ms = kbus__now_ms();
        kbus__timer_ms(st->checkpoint, conf->checkpoint_interval_ms < 1000
                                           ? conf->checkpoint_interval_ms
                                           : 1000);
}

/* ---- restore ---- */

/* Starts or stops reading partition \p tp of its changelog.  Only that
 * partition changes: replacing the whole assignment each time stopped and
 * restarted every other restore too, and several replacements in a row
 * (the partitions of one revocation, one by one) made librdkafka 2.0.2
 * stop a partition twice and abort ("rktp_started" assertion). */
static void restorer_change(tpart *tp, bool add) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *err;
        /* Without a snapshot, from offset 0, or, once the broker dropped
         * the first records, from the oldest it keeps.  Asking for the
         * oldest at once costs librdkafka 2.0.2 half a second (an offset
         * lookup, then a fetch backoff) on every restore. */
        rd_kafka_topic_partition_list_add(l, tp->t->changelog, tp->partition)
            ->offset = tp->next > 0      ? tp->next
                       : tp->from_oldest ? RD_KAFKA_OFFSET_BEGINNING
                                         : 0;
        err = add ? rd_kafka_incremental_assign(tp->t->st->restorer, l)
                  : rd_kafka_incremental_unassign(tp->t->st->restorer, l);
        if (err) {
                KBUS_LOG(KBUS_LOG_ERROR, "table", "%s %s [%" PRId32 "]: %s",
                         add ? "cannot read" : "cannot stop reading",
                         tp->t->changelog, tp->partition,
                         rd_kafka_error_string(err));
                rd_kafka_error_destroy(err);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

/* Partition \p p waits for a restore of its number (one count per table
 * partition being restored); every restore's end releases each partition
 * of its number once. */
static void hold_one(kbus_partition *p) {
        p->holds++;
        kbus__partition_pause(p, true);
}

/* A restore of partition number \p partition ended: each input partition
 * of that number waits for one restore fewer, and starts when none is
 * left. */
static void release_holds(state *st, int32_t partition) {
        for (kbus_partition *p = st->g->parts; p; p = p->next)
                if (p->partition == partition && p->holds > 0 &&
                    --p->holds == 0)
                        kbus__partition_pause(p, false);
        event_active(st->rt->ready_ev, EV_TIMEOUT, 0);
}

static void apply_pending(tpart *tp, pending *pb) {
        for (uint32_t i = 0; i < pb->seen; i++) {
                change *c = &pb->changes[i];
                if (!entry_set(tp, c->key, c->key_len, c->value, c->len,
                               c->offset))
                        KBUS_LOG(KBUS_LOG_ERROR, "table",
                                 "out of memory restoring table %s",
                                 tp->t->desc->name);
        }
}

/* The pending batch of \p tp for the same input record and attempt as
 * \p pb, taken out of its list; NULL if there is none. */
static pending *take_pending(tpart *tp, const pending *pb) {
        for (pending **pp = &tp->pending; *pp; pp = &(*pp)->next) {
                pending *q = *pp;
                if (q->offset == pb->offset && q->attempt == pb->attempt &&
                    !strcmp(q->topic, pb->topic)) {
                        *pp = q->next;
                        return q;
                }
        }
        return NULL;
}

/* Whether the call behind \p pb wrote its part whole in every table it
 * wrote: read whole in this restore, or remembered from a snapshot. */
static bool whole_everywhere(state *st, int32_t partition, const pending *pb) {
        uint32_t whole = 0;
        for (table *t = st->tables; t; t = t->next) {
                tpart *tp = tpart_of(t, partition);
                const pending *q = tp ? tp->pending : NULL;
                while (q &&
                       (q->offset != pb->offset || q->attempt != pb->attempt ||
                        strcmp(q->topic, pb->topic)))
                        q = q->next;
                const void *ob;
                size_t ob_len;
                if (q ? q->whole
                      : tp && applied_find(tp, pb->topic, strlen(pb->topic),
                                           pb->offset, &ob, &ob_len))
                        whole++;
        }
        return whole >= pb->tables;
}

/* Every table of the partition number is restored: the batches of calls
 * that wrote several tables are decided together.  Whole in every table,
 * a call is applied and remembered in each; otherwise a crash cut it
 * short, and it is dropped from each, so that its record runs again
 * rather than count as handled with a table missing its part.  Below the
 * committed mark, compaction took the rest: applied as they are. */
static void settle(state *st, int32_t partition) {
        for (table *t = st->tables; t; t = t->next) {
                tpart *tp = tpart_of(t, partition);
                while (tp && tp->pending) {
                        pending *pb = tp->pending;
                        bool whole = whole_everywhere(st, partition, pb);
                        /* pb names the call: its own table's turn last. */
                        for (table *u = t->next;; u = u->next) {
                                tpart *up = u ? tpart_of(u, partition) : tp;
                                pending *q = up ? take_pending(up, pb) : NULL;
                                if (q && (whole || q->offset < up->w_max))
                                        apply_pending(up, q);
                                if (q && whole)
                                        remember(up, q->topic, strlen(q->topic),
                                                 q->offset, q->outbox,
                                                 q->outbox_len);
                                if (q)
                                        pending_free(q);
                                if (!u)
                                        break;
                        }
                }
        }
}

/* The log line of a partition's restore, said once every table of the
 * partition is restored and settle() has applied the calls that wrote
 * several tables: their entries are counted. */
static void restore_said(tpart *tp) {
        KBUS_LOG(
            KBUS_LOG_INFO, "table",
            "table %s partition %" PRId32 " restored: %zu entries, %" PRId64
            " changelog records read from offset %" PRId64 "%s in %" PRId64
            " ms%s",
            tp->t->desc->name, tp->partition, tp->entries.n, tp->records_read,
            tp->restore_from,
            tp->from_snapshot ? " (after the local snapshot)" : "",
            tp->restore_took_ms,
            tp->restore_dropped ? ", unfinished batches left for redelivery"
                                : "");
}

static void restore_done(tpart *tp) {
        state *st = tp->t->st;
        size_t dropped = 0;
        bool last = true;
        /* Batches of this table never completed: below the committed
         * mark, compaction took the rest (they are applied); above it, a
         * crash cut them short, and their input records come again.
         * Batches of calls that wrote several tables wait for settle(). */
        for (pending **pp = &tp->pending; *pp;) {
                pending *pb = *pp;
                if (pb->tables > 1) {
                        pp = &pb->next;
                        continue;
                }
                *pp = pb->next;
                if (pb->offset < tp->w_max)
                        apply_pending(tp, pb);
                else
                        dropped++;
                pending_free(pb);
        }
        tp->restoring = false;
        st->restoring--;
        tp->restore_took_ms = kbus__now_ms() - tp->restore_ms;
        tp->restore_dropped = dropped;
        restorer_change(tp, false);
        for (table *t = st->tables; t; t = t->next) {
                tpart *other = tpart_of(t, tp->partition);
                if (other && other->restoring)
                        last = false;
        }
        if (last) {
                settle(st, tp->partition);
                for (table *t = st->tables; t; t = t->next) {
                        tpart *other = tpart_of(t, tp->partition);
                        if (other)
                                restore_said(other);
                }
        }
        release_holds(st, tp->partition);
}

/* Reads the decimal number at *p (before \p end), of at most 19 digits,
 * and moves *p past it; false if there is none.  sscanf() and strtoll()
 * were a third of a restore's time per record (kbus-bench, case h). */
static bool get_dec(const char **p, const char *end, uint64_t *out) {
        const char *s = *p;
        uint64_t v = 0;
        while (s < end && *s >= '0' && *s <= '9' && s - *p < 19)
                v = v * 10 + (uint64_t)(*s++ - '0');
        if (s == *p)
                return false;
        *p = s;
        *out = v;
        return true;
}

/* Parses kbus-source: "<offset> <attempt> <i>/<n> <committed> <topic>",
 * or, as kbus wrote it before the committed mark joined it (the mark was
 * a header of its own then, kbus-committed), "<offset> <attempt> <i>/<n>
 * <topic>": a topic name has no space, so a number followed by one is the
 * mark.  *committed is -1 without it. */
static bool parse_source(const char *v, size_t len, int64_t *offset,
                         uint32_t *attempt, uint32_t *i, uint32_t *n,
                         int64_t *committed, const char **topic,
                         size_t *topic_len) {
        const char *p = v, *end = v + len, *mark;
        bool neg = len > 0 && *p == '-';
        uint64_t off, a, k, of, c;
        p += neg;
        if (len >= 320 || !get_dec(&p, end, &off) || off > INT64_MAX ||
            p == end || *p++ != ' ' || !get_dec(&p, end, &a) ||
            a > UINT32_MAX || p == end || *p++ != ' ' ||
            !get_dec(&p, end, &k) || p == end || *p++ != '/' ||
            !get_dec(&p, end, &of) || p == end || *p++ != ' ' || k < 1 ||
            k > of || of > 100000)
                return false;
        *offset = neg ? -(int64_t)off : (int64_t)off;
        *attempt = (uint32_t)a;
        *i = (uint32_t)k;
        *n = (uint32_t)of;
        *committed = -1;
        mark = p;
        if (get_dec(&mark, end, &c) && mark < end - 1 && *mark == ' ' &&
            c <= INT64_MAX) {
                *committed = (int64_t)c;
                p = mark + 1;
        }
        *topic = p;
        *topic_len = (size_t)(end - p);
        return *topic_len > 0;
}

/* The kbus headers of a changelog record (NULL: absent); committed only
 * in records of kbus before the mark moved into kbus-source. */
typedef struct kbus_headers {
        const void *source, *committed, *outbox, *tables;
        size_t source_len, committed_len, outbox_len, tables_len;
} kbus_headers;

/* Reads them in one pass over the record's headers, the last of a name
 * counting: four lookups by name took twice as long (kbus-bench, case h). */
static void read_headers(const rd_kafka_message_t *m, kbus_headers *kh) {
        rd_kafka_headers_t *h;
        const char *name;
        const void *v;
        size_t len;
        memset(kh, 0, sizeof(*kh));
        if (rd_kafka_message_headers(m, &h))
                return;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &len);
             i++) {
                if (!strcmp(name, KBUS_H_SOURCE)) {
                        kh->source = v;
                        kh->source_len = len;
                } else if (!strcmp(name, KBUS_H_COMMITTED)) {
                        kh->committed = v;
                        kh->committed_len = len;
                } else if (!strcmp(name, KBUS_H_OUTBOX)) {
                        kh->outbox = v;
                        kh->outbox_len = len;
                } else if (!strcmp(name, KBUS_H_TABLES)) {
                        kh->tables = v;
                        kh->tables_len = len;
                }
        }
}

/* One changelog record read during a restore. */
static void restore_record(tpart *tp, const rd_kafka_message_t *m) {
        const void *ob;
        size_t ob_len;
        int64_t offset, committed;
        uint32_t attempt, i, n;
        uint64_t tables = 1;
        const char *topic;
        size_t topic_len;
        kbus_headers kh;
        pending *pb;
        change *c;

        if (!tp->records_read++ && tp->from_oldest)
                tp->restore_from = m->offset; /* for the log line */
        tp->next = m->offset + 1;
        tp->dirty = true;
        read_headers(m, &kh);
        if (kh.committed) {
                const char *c = kh.committed;
                uint64_t v;
                if (get_dec(&c, c + kh.committed_len, &v) && v <= INT64_MAX &&
                    (int64_t)v > tp->w_max)
                        tp->w_max = (int64_t)v;
        }
        if (!kh.source ||
            !parse_source(kh.source, kh.source_len, &offset, &attempt, &i, &n,
                          &committed, &topic, &topic_len)) {
                /* Written by something else than kbus: taken as it is. */
                if (!entry_set(tp, m->key, m->key_len, m->payload, m->len,
                               m->offset))
                        KBUS_LOG(KBUS_LOG_ERROR, "table",
                                 "out of memory restoring table %s",
                                 tp->t->desc->name);
                return;
        }
        if (committed > tp->w_max)
                tp->w_max = committed;
        ob = kh.outbox;
        ob_len = kh.outbox ? kh.outbox_len : 0;
        if (kh.tables) {
                const char *c = kh.tables;
                if (!get_dec(&c, c + kh.tables_len, &tables) || tables > 1000)
                        tables = 1;
        }
        if (n == 1 && tables == 1) {
                /* A batch of one change (a call that wrote one entry):
                 * whole as it is read, so applied without a pending. */
                if (!entry_set(tp, m->key, m->key_len, m->payload, m->len,
                               m->offset))
                        KBUS_LOG(KBUS_LOG_ERROR, "table",
                                 "out of memory restoring table %s",
                                 tp->t->desc->name);
                remember(tp, topic, topic_len, offset, ob_len ? ob : NULL,
                         ob_len);
                return;
        }
        for (pb = tp->pending; pb; pb = pb->next)
                if (pb->offset == offset && pb->attempt == attempt &&
                    strlen(pb->topic) == topic_len &&
                    !memcmp(pb->topic, topic, topic_len))
                        break;
        if (!pb) {
                if (!(pb = kbus__calloc(1, sizeof(*pb) + topic_len + 1)) ||
                    !(pb->changes = kbus__calloc(n, sizeof(*pb->changes)))) {
                        kbus__free(pb);
                        KBUS_LOG(KBUS_LOG_ERROR, "table",
                                 "out of memory restoring table %s",
                                 tp->t->desc->name);
                        return;
                }
                memcpy(pb->topic, topic, topic_len);
                pb->offset = offset;
                pb->attempt = attempt;
                pb->n = n;
                pb->tables = (uint32_t)tables;
                pb->next = tp->pending;
                tp->pending = pb;
        }
        if (pb->seen < pb->n) {
                c = &pb->changes[pb->seen++];
                c->offset = m->offset;
                c->key_len = m->key_len;
                c->key = kbus__malloc(m->key_len ? m->key_len : 1);
                if (c->key)
                        memcpy(c->key, m->key, m->key_len);
                if (m->payload) {
                        c->len = m->len;
                        if ((c->value = kbus__malloc(m->len ? m->len : 1)))
                                memcpy(c->value, m->payload, m->len);
                }
        }
        if (ob && ob_len && !pb->outbox &&
            (pb->outbox = kbus__malloc(ob_len))) {
                memcpy(pb->outbox, ob, ob_len);
                pb->outbox_len = ob_len;
        }
        if (i == n && pb->seen == pb->n && pb->tables > 1) {
                /* Whole here; applied once the call's other tables are
                 * restored and found whole too (settle). */
                pb->whole = true;
        } else if (i == n && pb->seen == pb->n) {
                /* Complete: applied, and remembered in case its input
                 * record comes again. */
                pending **pp = &tp->pending;
                while (*pp != pb)
                        pp = &(*pp)->next;
                *pp = pb->next;
                apply_pending(tp, pb);
                remember(tp, pb->topic, topic_len, pb->offset, pb->outbox,
                         pb->outbox_len);
                pending_free(pb);
        }
}

/* The changelog does not have the offset the snapshot covers: it is not
 * the changelog the snapshot was made from (a new embedded broker, a topic
 * made again), or it lost records since.  Its entries, and the records it
 * says were handled, cannot be trusted: the partition is rebuilt from the
 * changelog's start. */
static void snapshot_gone(tpart *tp) {
        char path[1024], why[160];
        pending *pb;
        snap_path(tp, path, sizeof(path), "");
        snprintf(why, sizeof(why),
                 "it covers changelog offset %" PRId64 ", which %s [%" PRId32
                 "] does not have",
                 tp->restore_from, tp->t->changelog, tp->partition);
        snap_discard(tp, path, why);
        while ((pb = tp->pending)) {
                tp->pending = pb->next;
                pending_free(pb);
        }
        tp->from_snapshot = false;
        tp->restore_from = 0;
        tp->records_read = 0;
        restorer_change(tp, false);
        restorer_change(tp, true);
}

/* The table partition a changelog record read belongs to, or NULL.  A
 * record's topic handle is the one the restore consumer has for the topic
 * (librdkafka keeps one per name), so comparing handles is enough where
 * the table holds one; that spared a string comparison a table a record. */
static tpart *restore_target(state *st, const rd_kafka_message_t *m) {
        for (table *t = st->tables; t; t = t->next)
                if (t->restore_rkt
                        ? m->rkt == t->restore_rkt
                        : m->rkt && !strcmp(t->changelog,
                                            rd_kafka_topic_name(m->rkt)))
                        return tpart_of(t, m->partition);
        return NULL;
}

/* One message of the restore consumer; the partition it brought a record
 * of, if any. */
static tpart *restorer_message(state *st, const rd_kafka_message_t *m) {
        tpart *tp = restore_target(st, m);
        if (!tp || !tp->restoring || tp->reread == st->batches) {
                /* Revoked while its records were on the way, or read
                 * again from another offset since this batch was taken. */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                restore_done(tp);
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET &&
                   tp->from_snapshot) {
                snapshot_gone(tp);
                tp->reread = st->batches;
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET &&
                   !tp->from_oldest && tp->next == 0) {
                /* Offset 0 is gone: from the oldest record kept. */
                tp->from_oldest = true;
                restorer_change(tp, false);
                restorer_change(tp, true);
                tp->reread = st->batches;
        } else if (m->err) {
                KBUS_LOG(KBUS_LOG_WARN, "table",
                         "restoring %s [%" PRId32 "]: %s", tp->t->changelog,
                         m->partition, rd_kafka_message_errstr(m));
        } else {
                restore_record(tp, m);
                return tp;
        }
        return NULL;
}

/* A partition whose records up to the high watermark of the fetch that
 * brought them are read is restored: as restored as the end-of-partition
 * event would say, which comes only with the next fetch, once the broker
 * waited fetch.wait.max.ms for more (5 ms in low-latency mode, 500 by
 * default; a fifth of a 50,000-record restore in kbus-bench, case h).  A
 * changelog whose last offsets hold no record (compacted, or a control
 * record) ends with that event instead. */
static void restore_reached_end(tpart *tp) {
        int64_t lo, hi;
        if (tp->restoring &&
            !rd_kafka_get_watermark_offsets(tp->t->st->restorer,
                                            tp->t->changelog, tp->partition,
                                            &lo, &hi) &&
            hi > 0 && tp->next >= hi)
                restore_done(tp);
}

/* Takes the restore consumer's messages a batch at a time: a poll per
 * message cost twice as much (kbus-bench, case h).  librdkafka drops the
 * messages of a partition's earlier assignment still in its queue when it
 * is assigned again; those already in the batch are dropped here.  After
 * each batch, the partitions it brought records of may have reached their
 * end.  Only those: their high watermark is then known from a fetch of
 * this assignment, where one kept from an earlier assignment of the
 * partition to this consumer could be lower than the changelog's end. */
static void restorer_drain(void *owner) {
        state *st = owner;
        rd_kafka_message_t *ms[256];
        tpart *fed[8];
        ssize_t n;
        while ((n = rd_kafka_consume_batch_queue(
                    st->bridge.queue, 0, ms, sizeof(ms) / sizeof(*ms))) > 0) {
                size_t n_fed = 0;
                st->batches++;
                for (ssize_t i = 0; i < n; i++) {
                        tpart *tp = restorer_message(st, ms[i]);
                        rd_kafka_message_destroy(ms[i]);
                        if (tp && (!n_fed || fed[n_fed - 1] != tp) &&
                            n_fed < sizeof(fed) / sizeof(*fed))
                                fed[n_fed++] = tp;
                }
                /* Partitions fed more than once in a batch, or beyond
                 * eight, are checked once, or left to the end event. */
                for (size_t i = 0; i < n_fed; i++)
                        restore_reached_end(fed[i]);
        }
}

static int restorer_open(state *st) {
        char err[512], rkerr[512], group[300];
        rd_kafka_conf_t *conf;
        int rc;
        if (st->restorer)
                return 0;
        rc = kbus__kafka_conf(&st->rt->site, true, &conf, err, sizeof(err));
        if (rc) {
                KBUS_LOG(KBUS_LOG_ERROR, "table", "restore consumer: %s", err);
                return rc;
        }
        /* Changelogs are read by assign(): no group is joined and nothing
         * is committed; the end of each partition says "restored". */
        snprintf(group, sizeof(group), "%s.restore.%016" PRIx64, st->g->id,
                 kbus__random_u64());
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
        /* A snapshot's offset the changelog does not have is reported, not
         * silently replaced by another (snapshot_gone). */
        rd_kafka_conf_set(conf, "auto.offset.reset", "error", NULL, 0);
        st->restorer =
            rd_kafka_new(RD_KAFKA_CONSUMER, conf, rkerr, sizeof(rkerr));
        if (!st->restorer) {
                rd_kafka_conf_destroy(conf);
                KBUS_LOG(KBUS_LOG_ERROR, "table", "restore consumer: %s",
                         rkerr);
                return KBUS_INTERNAL;
        }
        rd_kafka_poll_set_consumer(st->restorer);
        /* NULL if it cannot be had: the topic's name is compared then. */
        for (table *t = st->tables; t; t = t->next)
                t->restore_rkt =
                    rd_kafka_topic_new(st->restorer, t->changelog, NULL);
        return kbus__bridge_init(&st->bridge, st->rt->base,
                                 rd_kafka_queue_get_consumer(st->restorer),
                                 restorer_drain, st);
}

/* ---- the group's hooks ---- */

static void state_assigned(void *arg, kbus_partition *p) {
        state *st = arg;
        for (table *t = st->tables; t; t = t->next) {
                tpart *tp = tpart_of(t, p->partition);
                int64_t covers = 0;
                if (tp) { /* a second input topic of the same number */
                        tp->users++;
                        if (tp->restoring)
                                hold_one(p);
                        continue;
                }
                if (!(tp = tpart_new(t, p->partition)) || restorer_open(st)) {
                        KBUS_LOG(KBUS_LOG_ERROR, "table",
                                 "cannot restore table %s partition %" PRId32
                                 ": its records wait",
                                 t->desc->name, p->partition);
                        hold_one(p);
                        continue;
                }
                tp->users = 1;
                tp->restoring = true;
                tp->restore_ms = kbus__now_ms();
                tp->from_snapshot = snap_read(tp, &covers);
                tp->restore_from = tp->next = tp->from_snapshot ? covers : 0;
                st->restoring++;
                hold_one(p);
                KBUS_LOG(KBUS_LOG_INFO, "table",
                         "restoring table %s partition %" PRId32
                         " from %s offset %" PRId64 "%s",
                         t->desc->name, p->partition, t->changelog, tp->next,
                         tp->from_snapshot ? " (local snapshot before it)"
                                           : "");
                restorer_change(tp, true);
        }
}

static void state_revoked(void *arg, kbus_partition *p) {
        state *st = arg;
        /* Snapshots first: each needs the first table's list of calls in
         * flight, which goes with that table's partition. */
        for (table *t = st->tables; t; t = t->next) {
                tpart *tp = tpart_of(t, p->partition);
                if (!tp || --tp->users > 0)
                        continue;
                if (tp->restoring) {
                        /* It stops restoring; the next owner does it. */
                        restorer_change(tp, false);
                        st->restoring--;
                        KBUS_LOG(KBUS_LOG_INFO, "table",
                                 "table %s partition %" PRId32
                                 " revoked while restoring (%" PRId64
                                 " records read): restore stopped",
                                 t->desc->name, p->partition, tp->records_read);
                } else {
                        snap_write(tp);
                }
        }
        for (table *t = st->tables; t; t = t->next) {
                tpart *tp = tpart_of(t, p->partition);
                if (tp && tp->users == 0) {
                        t->parts[p->partition] = NULL;
                        tpart_free(tp);
                }
        }
}

static bool state_restoring(void *arg) {
        return ((state *)arg)->restoring > 0;
}

static void count_bytes(kbus_hnode *n, void *arg) {
        entry *e = kbus__entry_of(n, entry, node);
        *(size_t *)arg += e->node.len;
}

static void state_metrics(void *arg, struct evbuffer *b, const char *app) {
        state *st = arg;
        for (table *t = st->tables; t; t = t->next)
                for (int32_t i = 0; i < t->n_parts; i++) {
                        tpart *tp = t->parts[i];
                        size_t keys = 0;
                        int64_t left = 0;
                        if (!tp)
                                continue;
                        kbus__hash_each(&tp->entries, count_bytes, &keys);
                        if (tp->restoring) {
                                int64_t lo, hi;
                                if (!rd_kafka_get_watermark_offsets(
                                        st->restorer, t->changelog, i, &lo,
                                        &hi) &&
                                    hi > tp->next)
                                        left = hi - tp->next;
                                else
                                        left = 1; /* not known yet */
                        }
                        evbuffer_add_printf(
                            b,
                            "kbus_table_entries{app=\"%s\",table=\"%s\","
                            "partition=\"%" PRId32 "\"} %zu\n"
                            "kbus_table_bytes{app=\"%s\",table=\"%s\","
                            "partition=\"%" PRId32 "\"} %zu\n"
                            "kbus_table_restore_remaining{app=\"%s\","
                            "table=\"%s\",partition=\"%" PRId32 "\"} %" PRId64
                            "\n",
                            app, t->desc->name, i, tp->entries.n, app,
                            t->desc->name, i,
                            tp->overhead + keys +
                                (tp->entries.mask + 1) * sizeof(void *),
                            app, t->desc->name, i, left);
                }
}

/* Creates a missing changelog topic: compacted, with the input's
 * partition count.  The embedded broker has no CreateTopics; it creates a
 * topic whose metadata is asked for, with its default partition count (4),
 * which need not be the input's.  Returns the partition count the topic
 * has then, or -1. */
static int changelog_create(state *st, const table *t, int partitions) {
        rd_kafka_t *rk = st->rt->producer;
        /* librdkafka's mock cluster names itself "mockCluster..." */
        char *cluster = rd_kafka_clusterid(rk, 5000), err[256];
        bool mock = cluster && !strncmp(cluster, "mockCluster", 11);
        bool ok = false;
        int made = -1;

        free(cluster);
        if (mock) {
                const struct rd_kafka_metadata *md;
                rd_kafka_topic_t *rkt =
                    rd_kafka_topic_new(rk, t->changelog, NULL);
                ok = rkt && !rd_kafka_metadata(rk, 0, rkt, &md, 10000);
                if (ok) {
                        ok = md->topic_cnt == 1 && !md->topics[0].err;
                        if (ok)
                                made = md->topics[0].partition_cnt;
                        rd_kafka_metadata_destroy(md);
                }
                if (rkt)
                        rd_kafka_topic_destroy(rkt);
        } else {
                rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(
                    t->changelog, partitions, -1, err, sizeof(err));
                rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
                rd_kafka_event_t *ev;
                if (nt) {
                        rd_kafka_NewTopic_set_config(nt, "cleanup.policy",
                                                     "compact");
                        /* Keep the uncommitted tail whole: see STATE.md. */
                        rd_kafka_NewTopic_set_config(
                            nt, "min.compaction.lag.ms", "3600000");
                        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
                        ev = rd_kafka_queue_poll(q, 15000);
                        if (ev) {
                                size_t n;
                                const rd_kafka_topic_result_t **res =
                                    rd_kafka_CreateTopics_result_topics(
                                        rd_kafka_event_CreateTopics_result(ev),
                                        &n);
                                ok = !rd_kafka_event_error(ev) && n == 1 &&
                                     !rd_kafka_topic_result_error(res[0]);
                                if (ok)
                                        made = partitions;
                                rd_kafka_event_destroy(ev);
                        }
                        rd_kafka_NewTopic_destroy(nt);
                }
                rd_kafka_queue_destroy(q);
        }
        if (ok)
                KBUS_LOG(KBUS_LOG_INFO, "table",
                         "created changelog topic %s of table %s: %d "
                         "partitions%s",
                         t->changelog, t->desc->name, made,
                         mock ? " (embedded broker: not compacted)"
                              : ", compacted");
        return made;
}

/* The partition count of \p topic, or -1 when it does not exist. */
static int partitions_of(const struct rd_kafka_metadata *md,
                         const char *topic) {
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                        return md->topics[i].partition_cnt;
        return -1;
}

/* Makes the producer learn the changelog's partitions now.  librdkafka
 * 2.0.2 asks for the metadata of a topic it first meets in a produce call
 * only at its next periodic refresh (topic.metadata.refresh.interval.ms),
 * so every call writing in the first second waited for it (kbus-bench,
 * case g).  The handle is kept so that the producer keeps the topic. */
static void changelog_warm(state *st, table *t) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_conf_t *tc;
        if (t->rkt)
                return;
        /* Changelog records never time out (message.timeout.ms 0): an
         * outage delays them, and the records behind them, however long it
         * lasts.  Giving one up would leave a change in the table that the
         * changelog does not have (state_broken). */
        tc = rd_kafka_default_topic_conf_dup(st->rt->producer);
        if (tc)
                rd_kafka_topic_conf_set(tc, "message.timeout.ms", "0", NULL, 0);
        if (!(t->rkt = rd_kafka_topic_new(st->rt->producer, t->changelog, tc)))
                return;
        if (rd_kafka_metadata(st->rt->producer, 0, t->rkt, &md, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
}

/* Creates the changelog topics on the embedded broker; on a cluster,
 * checks that each has the partition count of the group's input topics,
 * and creates a missing one (blocking admin requests, before the loop
 * runs). */
static int state_start(void *arg) {
        state *st = arg;
        kbus_runtime *rt = st->rt;
        const struct rd_kafka_metadata *md = NULL;
        int rc = 0;

        if (rt->broker) {
                st->partitions = rt->conf->broker_partitions;
                for (table *t = st->tables; t; t = t->next)
                        rd_kafka_mock_topic_create(
                            kbus_broker_mock(rt->broker), t->changelog,
                            rt->conf->broker_partitions, 1);
        } else if (rd_kafka_metadata(rt->producer, 1, NULL, &md, 10000) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR) {
                int input = -1;
                const char *input_topic = NULL;
                for (kbus_route *r = st->g->routes; r; r = r->next) {
                        int n = partitions_of(md, r->topic);
                        if (n > 0 && input > 0 && n != input) {
                                KBUS_LOG(KBUS_LOG_ERROR, "table",
                                         "group %s keeps tables but its input "
                                         "topics %s (%d partitions) and %s "
                                         "(%d) are not co-partitioned",
                                         st->g->id, input_topic, input,
                                         r->topic, n);
                                rc = KBUS_FAILED_PRECONDITION;
                        }
                        if (n > 0) {
                                input = n;
                                input_topic = r->topic;
                        }
                }
                if (input < 0)
                        input = 4; /* created on first use, as the broker's */
                st->partitions = input;
                for (table *t = st->tables; t && !rc; t = t->next) {
                        int changelog = partitions_of(md, t->changelog);
                        if (changelog < 0)
                                changelog = changelog_create(st, t, input);
                        if (changelog < 0) {
                                KBUS_LOG(KBUS_LOG_ERROR, "table",
                                         "changelog topic %s of table %s does "
                                         "not exist and cannot be created: "
                                         "create it compacted, with %d "
                                         "partitions (docs/STATE.md)",
                                         t->changelog, t->desc->name, input);
                                rc = KBUS_FAILED_PRECONDITION;
                        } else if (changelog != input) {
                                KBUS_LOG(KBUS_LOG_ERROR, "table",
                                         "changelog topic %s has %d "
                                         "partitions but input topic %s has "
                                         "%d: they must be equal",
                                         t->changelog, changelog,
                                         input_topic ? input_topic : "?",
                                         input);
                                rc = KBUS_FAILED_PRECONDITION;
                        }
                }
                rd_kafka_metadata_destroy(md);
        } else {
                KBUS_LOG(KBUS_LOG_WARN, "table",
                         "cannot check changelog topics: no metadata");
        }
        for (table *t = st->tables; t && !rc; t = t->next)
                changelog_warm(st, t);
        /* The restore consumer connects while the group joins, not when
         * the first restore has begun. */
        if (!rc)
                rc = restorer_open(st);
        if (!rc && !st->checkpoint) {
                st->checkpoint = evtimer_new(rt->base, on_checkpoint, st);
                st->last_snapshot_ms = kbus__now_ms();
                if (st->checkpoint)
                        kbus__timer_ms(st->checkpoint, 1000);
        }
        return rc;
}

static void state_free(void *arg) {
        state *st = arg;
        if (st->checkpoint)
                event_free(st->checkpoint);
        if (st->restorer) {
                bool closed = kbus__consumer_close(
                    st->restorer, st->rt->hurry ? 0 : 2000, "restore consumer");
                kbus__bridge_fini(&st->bridge);
                for (table *t = st->tables; t; t = t->next)
                        if (t->restore_rkt) {
                                rd_kafka_topic_destroy(t->restore_rkt);
                                t->restore_rkt = NULL;
                        }
                kbus__consumer_destroy(st->restorer, closed);
        }
        while (st->tables) {
                table *t = st->tables;
                st->tables = t->next;
                for (int32_t i = 0; i < t->n_parts; i++)
                        if (t->parts[i])
                                tpart_free(t->parts[i]);
                kbus__free(t->parts);
                if (t->rkt)
                        rd_kafka_topic_destroy(t->rkt);
                kbus__free(t->changelog);
                kbus__free(t);
        }
        kbus__free(st);
}

/* ---- a call's changes ---- */

static writes *writes_of(kbus_call *call, state *st) {
        writes *ws = call->writes;
        if (!ws && (ws = kbus__calloc(1, sizeof(*ws)))) {
                ws->st = st;
                ws->call = call;
                call->writes = ws;
        }
        return ws;
}

static void inflight_unlink(writes *ws) {
        if (!ws->tp)
                return;
        if (ws->iprev)
                ws->iprev->inext = ws->inext;
        else
                ws->tp->inflight = ws->inext;
        if (ws->inext)
                ws->inext->iprev = ws->iprev;
        ws->tp = NULL;
}

/* The values the call read. */
static void let_go_reads(writes *ws) {
        if (ws->got_one)
                protobuf_c_message_free_unpacked(ws->got_one,
                                                 &kbus__pb_allocator);
        for (size_t i = 0; i < ws->n_got; i++)
                protobuf_c_message_free_unpacked(ws->got[i],
                                                 &kbus__pb_allocator);
        kbus__free(ws->got);
        ws->got_one = NULL;
        ws->got = NULL;
        ws->n_got = 0;
}

static void state_discard(void *arg, kbus_call *call) {
        writes *ws = call->writes;
        call->writes = NULL;
        /* Let go with its changes in the table, not known to be written:
         * only a restore from the changelog can take them out, so no
         * snapshot is made of the partition any more. */
        for (edit *x = ws->applied_now && ws->tp ? ws->head : NULL; x;
             x = x->next)
                tpart_of(x->t, call->part->partition)->tainted = true;
        inflight_unlink(ws);
        while (ws->head) {
                edit *x = ws->head;
                ws->head = x->next;
                edit_free(x);
        }
        let_go_reads(ws);
        kbus__free(ws->outbox.p);
        if (ws->send_timer)
                event_free(ws->send_timer);
        kbus__free(ws);
}

/* Adds one message to the outbox: topic, partition, key, value, headers. */
static void outbox_add(writes *ws, const char *topic, int32_t partition,
                       const void *key, size_t key_len, const void *value,
                       size_t len, const rd_kafka_headers_t *hdrs) {
        const char *name;
        const void *v;
        size_t vlen, n = 0;
        bytes *b = &ws->outbox;
        if (!ws->n_out)
                put_u32(b, 0); /* the count, set below */
        put_blob(b, topic, strlen(topic));
        put_u32(b, (uint32_t)partition);
        put_blob(b, key, key_len);
        put_blob(b, value, len);
        while (hdrs && !rd_kafka_header_get_all(hdrs, n, &name, &v, &vlen))
                n++;
        put_u32(b, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                rd_kafka_header_get_all(hdrs, i, &name, &v, &vlen);
                put_blob(b, name, strlen(name));
                put_blob(b, v, vlen);
        }
        ws->n_out++;
        if (!b->failed)
                kbus__be32(b->p, ws->n_out);
}

static void state_produced(void *arg, kbus_call *call, const char *topic,
                           const void *key, size_t key_len, const void *value,
                           size_t len, const rd_kafka_headers_t *hdrs) {
        writes *ws = writes_of(call, arg);
        if (ws)
                outbox_add(ws, topic, RD_KAFKA_PARTITION_UA, key, key_len,
                           value, len, hdrs);
}

static uint32_t outbox_send(kbus_runtime *rt, const void *outbox,
                            size_t outbox_len, uint32_t first, uint32_t count,
                            kbus_dr *dr, bool *failed);

/* The events of a call that changed no table: they count in call->pub
 * like events published outside a group with tables, and one that is not
 * delivered fails the call, which runs again. */
static void send_events(writes *ws) {
        kbus_call *call = ws->call;
        bool failed = false;
        call->pub.pending +=
            outbox_send(call->rt, ws->outbox.p, ws->outbox.len, 0, ws->n_events,
                        &call->pub.dr, &failed);
        if (failed && !call->pub.failed) {
                call->pub.failed = true;
                call->pub.error = kbus__strdup("cannot send an event");
        }
}

/* ---- sending an outbox until it is delivered ---- */

static void send_outbox(writes *ws);

static void on_send_timer(evutil_socket_t fd, short what, void *arg) {
        send_outbox(arg);
}

static void send_delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        writes *ws = kbus__entry_of(dr, writes, send_dr);
        if (m->err)
                ws->send_failed = true;
        if (--ws->send_pending > 0)
                return;
        if (!ws->send_failed) {
                ws->sent(ws);
                return;
        }
        /* Tried again until it goes, like a dead letter: copies carry the
         * same ids, for the readers to drop. */
        if (!ws->send_timer && !(ws->send_timer = evtimer_new(
                                     ws->st->rt->base, on_send_timer, ws))) {
                kbus__record_abandon(ws->call);
                return;
        }
        kbus__timer_ms(ws->send_timer, 1000);
}

/* Sends messages [0, send_count) of the outbox at ws->send_p; ws->sent()
 * runs once every one is delivered.  A record whose partition went, or a
 * runtime that closed, is let go: the record comes again, and is found
 * handled. */
static void send_outbox(writes *ws) {
        kbus_call *call = ws->call;
        rd_kafka_message_t done = {.err = RD_KAFKA_RESP_ERR_NO_ERROR};
        if (call->part->revoked || call->rt->closed) {
                kbus__record_abandon(call);
                return;
        }
        ws->send_failed = false;
        ws->send_dr.delivered = send_delivered;
        /* One more until every message is queued. */
        ws->send_pending =
            1 + outbox_send(call->rt, ws->send_p, ws->send_len, 0,
                            ws->send_count, &ws->send_dr, &ws->send_failed);
        send_delivered(&ws->send_dr, &done);
}

/* The events of a call whose changes are written are delivered: the call
 * hears it as the last of its reports. */
static void events_sent(writes *ws) {
        rd_kafka_message_t done = {.err = RD_KAFKA_RESP_ERR_NO_ERROR};
        ws->call->pub.dr.delivered(&ws->call->pub.dr, &done);
}

/* ---- writing a call's changes ---- */

/* A changelog record the broker refused for good (an outage only delays
 * them: they never time out).  Later changes of its partition may have
 * read it, and may be written: going on would build on a table its
 * changelog contradicts.  The runtime stops; whoever takes the partition
 * next restores it from the changelog and handles its records from the
 * last commit on. */
static void state_broken(state *st, const edit *x,
                         const rd_kafka_message_t *m) {
        if (st->broken)
                return;
        st->broken = true;
        KBUS_LOG(KBUS_LOG_ERROR, "table",
                 "%s [%" PRId32 "]: a change of table %s was not written "
                 "(%s): the runtime stops, and the partition's records are "
                 "handled again from the last commit wherever it goes next",
                 x->t->changelog, m->partition, x->t->desc->name,
                 rd_kafka_err2str(m->err));
        if (!st->rt->failure)
                st->rt->failure = KBUS_ABORTED;
        st->rt->stop(st->rt);
}

static void write_delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        edit *x = kbus__entry_of(dr, edit, dr);
        writes *ws = x->ws;
        kbus_call *call = ws->call;
        tpart *tp;
        entry *e;
        if (m->err) {
                ws->write_failed = true;
                if (ws->applied_now)
                        state_broken(ws->st, x, m); /* before the call hears */
        } else {
                x->delivered = m->offset;
                /* ws->tp is NULL once the partition was revoked: a table
                 * partition of the same number now is another one. */
                if (ws->tp && (tp = tpart_of(x->t, call->part->partition))) {
                        if (m->offset >= tp->next)
                                tp->next = m->offset + 1;
                        if ((e = entry_find(tp, x->key, x->key_len)) &&
                            e->offset < m->offset)
                                e->offset = m->offset;
                        tp->dirty = true;
                }
        }
        /* The record counts this report; the events, counted at commit,
         * keep it holding until they are sent. */
        call->pub.dr.delivered(&call->pub.dr, m);
        if (--ws->changelog_left > 0 || !ws->applied_now)
                return;
        if (ws->write_failed) {
                events_sent(ws); /* none: the call is let go */
                return;
        }
        /* Written: from now on the record is done but for its events,
         * which are sent until they go (handling it again would write its
         * changes twice). */
        ws->send_p = ws->outbox.p;
        ws->send_len = ws->outbox.len;
        ws->send_count = ws->n_events;
        ws->sent = events_sent;
        send_outbox(ws);
}

/* Writes \p v in decimal at \p p, without a terminating NUL; returns the
 * end.  snprintf() took half of state_commit's time (kbus-bench, case g). */
static char *put_dec(char *p, int64_t v) {
        char digits[20];
        uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
        int n = 0;
        if (v < 0)
                *p++ = '-';
        do
                digits[n++] = (char)('0' + u % 10);
        while ((u /= 10));
        while (n > 0)
                *p++ = digits[--n];
        return p;
}

static bool commit_fails(kbus_call *call, const char *why) {
        if (!call->pub.failed) {
                call->pub.failed = true;
                call->pub.error = kbus__strdup(why);
        }
        return false;
}

/* Produces the call's changes, in order, to partition P of each table's
 * changelog (the last one carries the outbox: the events the handler
 * published and the reply about to be sent), then applies them: the
 * records that follow see them at once.  The events go out once the
 * changes are written. */
static bool state_commit(void *arg, kbus_call *call, kbus_status status,
                         const void *reply, size_t reply_len) {
        state *st = arg;
        writes *ws = call->writes;
        kbus_partition *p = call->part;
        char source[320], tables[12], *end;
        const char *in_topic = kbus_call_topic(call);
        size_t in_topic_len = strlen(in_topic);
        ssize_t tables_len;
        int64_t committed;
        uint32_t n_tables = 0;

        ws->n_events = ws->n_out;
        if (!ws->n) {
                send_events(ws); /* no changes: nothing to wait for */
                return false;
        }
        if (st->broken)
                return commit_fails(call, "the runtime stops: a table change "
                                          "was refused");
        if (call->wants_reply) {
                char topic[256], tp[KBUS_TRACEPARENT_LEN + 1];
                rd_kafka_headers_t *h;
                memcpy(topic, call->in.reply_topic, call->in.reply_topic_len);
                topic[call->in.reply_topic_len] = '\0';
                kbus__trace_child(call->in.traceparent, tp);
                h = kbus__wire_reply(call->in.corr, call->in.corr_len, status,
                                     NULL, tp);
                outbox_add(ws, topic, call->in.reply_partition, NULL, 0, reply,
                           reply_len, h);
                rd_kafka_headers_destroy(h);
        }
        if (ws->outbox.failed)
                return commit_fails(call, "out of memory");
        committed = kbus__offsets_open(&p->offsets)
                        ? kbus__offsets_oldest(&p->offsets)
                        : kbus_call_offset(call);
        if (in_topic_len > sizeof(source) - 96)
                in_topic_len = sizeof(source) - 96;
        /* The tables it writes: a restore takes the call as handled only
         * when its part in each of them is whole. */
        for (edit *x = ws->head; x; x = x->next) {
                edit *y = ws->head;
                while (y->t != x->t)
                        y = y->next;
                n_tables += y == x;
        }
        tables_len = put_dec(tables, n_tables) - tables;
        for (edit *x = ws->head; x; x = x->next) {
                /* Sized for what it carries: it stays with the record
                 * until the record is delivered. */
                rd_kafka_headers_t *h = rd_kafka_headers_new(
                    1 + (n_tables > 1) + (ws->n_out > 0));
                uint32_t i = 1, n = 0;
                int rc;
                /* Numbered within this table's changelog: each table's
                 * part of the batch is restored, and found complete, on
                 * its own. */
                for (edit *y = ws->head; y; y = y->next) {
                        n += y->t == x->t;
                        if (y == x)
                                i = n;
                }
                /* "<offset> <attempt> <i>/<n> <committed> <topic>": one
                 * header rather than two is an allocation less for each
                 * record written and for each record restored. */
                end = put_dec(source, kbus_call_offset(call));
                *end++ = ' ';
                end = put_dec(end, kbus_call_attempt(call));
                *end++ = ' ';
                end = put_dec(end, i);
                *end++ = '/';
                end = put_dec(end, n);
                *end++ = ' ';
                end = put_dec(end, committed);
                *end++ = ' ';
                memcpy(end, in_topic, in_topic_len);
                end += in_topic_len;
                rd_kafka_header_add(h, KBUS_H_SOURCE, -1, source, end - source);
                if (n_tables > 1)
                        rd_kafka_header_add(h, KBUS_H_TABLES, -1, tables,
                                            tables_len);
                /* On the last change of each table's part: whichever
                 * table finds the record again sends it all again. */
                if (i == n && ws->n_out)
                        rd_kafka_header_add(h, KBUS_H_OUTBOX, -1, ws->outbox.p,
                                            (ssize_t)ws->outbox.len);
                /* The edit keeps its value (it goes into the table);
                 * librdkafka copies it into the message.  Through the
                 * producer's handle on the changelog, which holds its
                 * settings, without a lookup by name. */
                x->dr.delivered = write_delivered;
                x->delivered = -1;
                rc = kbus__kafka_produce_copy(
                    st->rt->producer, x->t->rkt, x->t->changelog, p->partition,
                    x->key, x->key_len, x->value, x->len, h, &x->dr);
                if (rc) {
                        /* Not applied: the call fails, and its retry writes
                         * the batch again. */
                        commit_fails(call, "cannot write to the changelog");
                        continue;
                }
                call->pub.pending++;
                ws->changelog_left++;
        }
        if (call->pub.failed)
                return false;
        ws->tp = home(st, p->partition);
        ws->iprev = NULL;
        ws->inext = ws->tp->inflight;
        if (ws->inext)
                ws->inext->iprev = ws;
        ws->tp->inflight = ws;
        /* The values they replace are kept only for snapshots. */
        for (edit *x = ws->head; x; x = x->next)
                if (!edit_swap(tpart_of(x->t, p->partition), x,
                               st->rt->conf->state_dir != NULL))
                        KBUS_LOG(KBUS_LOG_ERROR, "table",
                                 "out of memory applying to table %s",
                                 x->t->desc->name);
        ws->applied_now = true;
        /* The call is complete, and it cannot run again: what it read goes
         * now rather than when its changelog records are delivered, since
         * every record in flight holds it meanwhile (all of them at once
         * when the producer lags behind the handlers: kbus-bench, case g,
         * where the memory they touched decided the figure). */
        let_go_reads(ws);
        kbus__record_input_done(call);
        call->pub.pending++; /* the events, sent once the changes are written */
        /* The next record of the key (of the partition, for windows) runs
         * now only where one changelog holds everything: it is written in
         * order, so a crash keeps a prefix of it, and no call can have
         * been kept whose input was an applied change that was lost.  With
         * several tables, a call may read table A's change of a call not
         * yet written and write only table B: B's record could survive a
         * crash that lost A's, and the first call, run again, would meet
         * its own effect (averager counted a reading as its own repeat).
         * There the key waits until the call is written. */
        return !st->tables->next;
}

static void state_written(void *arg, kbus_call *call) {
        writes *ws = call->writes;
        const char *topic = kbus_call_topic(call);
        tpart *first =
            ws->tp ? tpart_of(ws->head->t, call->part->partition) : NULL;
        /* A snapshot made while it was in flight left its changes out;
         * the next one has them. */
        for (edit *x = first ? ws->head : NULL; x; x = x->next)
                tpart_of(x->t, call->part->partition)->dirty = true;
        inflight_unlink(ws);
        ws->applied_now = false; /* and written */
        /* Until its offset is committed, a crash brings the record back:
         * then it is recognised, and not handled twice.  A restore learns
         * that from the changelog; kept here, it goes into snapshots, which
         * stand for the changelog they cover (without them it is never
         * read: a partition this process gets again is restored).  An
         * outbox with nothing in it is kept as none, as a restore keeps it
         * (no kbus-outbox header): a resend then sends nothing, without an
         * allocation per record to say so. */
        if (first && ws->st->rt->conf->state_dir)
                remember(first, topic, strlen(topic), kbus_call_offset(call),
                         ws->n_out ? ws->outbox.p : NULL,
                         ws->n_out ? ws->outbox.len : 0);
}

/* ---- redeliveries ---- */

/* Produces messages [first, first + count) of \p outbox, each reporting to
 * \p dr; returns how many were queued, and sets *failed when one could not
 * be. */
static uint32_t outbox_send(kbus_runtime *rt, const void *outbox,
                            size_t outbox_len, uint32_t first, uint32_t count,
                            kbus_dr *dr, bool *failed) {
        reader r = {outbox, (const unsigned char *)outbox + outbox_len, false};
        uint32_t n = outbox ? get_u32(&r) : 0, queued = 0;
        for (uint32_t i = 0; i < n && i < first + count && !r.bad; i++) {
                const void *topic = NULL, *key = NULL, *value = NULL,
                           *name = NULL, *v = NULL;
                size_t tl = 0, kl = 0, vl = 0, nl = 0, hl = 0;
                char tbuf[256];
                int32_t partition;
                uint32_t nh;
                rd_kafka_headers_t *h = rd_kafka_headers_new(8);
                void *copy = NULL;
                get_blob(&r, &topic, &tl);
                partition = (int32_t)get_u32(&r);
                get_blob(&r, &key, &kl);
                get_blob(&r, &value, &vl);
                nh = get_u32(&r);
                for (uint32_t k = 0; k < nh && !r.bad; k++) {
                        char hn[256];
                        get_blob(&r, &name, &nl);
                        get_blob(&r, &v, &hl);
                        if (r.bad || nl >= sizeof(hn))
                                break;
                        memcpy(hn, name, nl);
                        hn[nl] = '\0';
                        rd_kafka_header_add(h, hn, -1, v, (ssize_t)hl);
                }
                if (i < first) {
                        rd_kafka_headers_destroy(h);
                        continue;
                }
                if (r.bad || tl >= sizeof(tbuf) ||
                    (value && !(copy = kbus__malloc(vl ? vl : 1)))) {
                        rd_kafka_headers_destroy(h);
                        *failed = true;
                        break;
                }
                memcpy(tbuf, topic, tl);
                tbuf[tl] = '\0';
                if (copy)
                        memcpy(copy, value, vl);
                if (kbus__kafka_produce(rt->producer, tbuf, partition, key, kl,
                                        copy, vl, h, dr))
                        *failed = true;
                else
                        queued++;
        }
        return queued;
}

/* Everything a record handled before a restart sent is sent again: it is
 * done. */
static void redelivered_sent(writes *ws) {
        kbus__record_finish(ws->call);
}

static bool state_redelivered(void *arg, kbus_call *call) {
        state *st = arg;
        const char *topic = kbus_call_topic(call);
        size_t topic_len = strlen(topic);
        /* The first record of an input partition after its assignment is
         * where the group's committed offset is: batches of records before
         * it cannot come again. */
        if (!call->part->first_seen) {
                call->part->first_seen = true;
                for (table *t = st->tables; t; t = t->next) {
                        tpart *tp = tpart_of(t, call->part->partition);
                        kbus_applied *a =
                            tp ? kbus__applied_topic(&tp->applied, topic,
                                                     topic_len, false)
                               : NULL;
                        if (a)
                                kbus__applied_forget(a, kbus_call_offset(call));
                }
        }
        for (table *t = st->tables; t; t = t->next) {
                tpart *tp = tpart_of(t, call->part->partition);
                const void *ob;
                size_t ob_len;
                writes *ws;
                if (!tp || !applied_find(tp, topic, topic_len,
                                         kbus_call_offset(call), &ob, &ob_len))
                        continue;
                KBUS_LOGT(KBUS_LOG_INFO, "table", call->in.traceparent,
                          "%s [%" PRId32 "] offset %" PRId64
                          " was handled before a restart: not handled again; "
                          "its events and reply are sent again",
                          topic, call->part->partition, kbus_call_offset(call));
                if (!(ws = writes_of(call, st))) {
                        kbus__record_abandon(call);
                        return true;
                }
                ws->send_p = ob;
                ws->send_len = ob_len;
                ws->send_count = UINT32_MAX;
                ws->sent = redelivered_sent;
                send_outbox(ws);
                return true;
        }
        return false;
}

static const kbus_state_ops table_ops = {
    .start = state_start,
    .assigned = state_assigned,
    .revoked = state_revoked,
    .redelivered = state_redelivered,
    .produced = state_produced,
    .commit = state_commit,
    .written = state_written,
    .discard = state_discard,
    .restoring = state_restoring,
    .metrics = state_metrics,
    .free = state_free,
};

/* ---- the public API ---- */

int kbus_table_attach(kbus_runtime *rt, const kbus_table_desc *td,
                      const char *group) {
        kbus_group *g;
        state *st;
        table *t;
        char name[512];

        if (!td || !td->name || !td->value)
                return KBUS_INVALID_ARGUMENT;
        if (rt->started || rt->closing)
                return KBUS_FAILED_PRECONDITION;
        if (!group)
                group = rt->conf->group ? rt->conf->group : rt->conf->name;
        if (!(g = kbus__group_get(rt, group)))
                return KBUS_RESOURCE_EXHAUSTED;
        if (g->state_ops && g->state_ops != &table_ops)
                return KBUS_FAILED_PRECONDITION;
        if (!(st = g->state)) {
                if (!(st = kbus__calloc(1, sizeof(*st))))
                        return KBUS_RESOURCE_EXHAUSTED;
                st->rt = rt;
                st->g = g;
                kbus__bridge_clear(&st->bridge);
                g->state = st;
                g->state_ops = &table_ops;
        }
        for (t = st->tables; t; t = t->next)
                if (t->desc == td || !strcmp(t->desc->name, td->name))
                        return KBUS_ALREADY_EXISTS;
        if ((size_t)snprintf(name, sizeof(name), "%s.%s.changelog", group,
                             td->name) > 249) {
                KBUS_LOG(KBUS_LOG_ERROR, "table",
                         "changelog topic of table %s in group %s would be "
                         "longer than 249 characters",
                         td->name, group);
                return KBUS_INVALID_ARGUMENT;
        }
        if (!(t = kbus__calloc(1, sizeof(*t))) ||
            !(t->changelog = kbus__strdup(name))) {
                kbus__free(t);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        t->st = st;
        t->desc = td;
        t->next = st->tables;
        st->tables = t;
        KBUS_LOG(KBUS_LOG_INFO, "table", "group %s keeps table %s in %s", group,
                 td->name, name);
        return 0;
}

/* The table partition of the call's record, or NULL. */
static tpart *call_part(kbus_call *call, const kbus_table_desc *td,
                        table **tp_table) {
        kbus_group *g = call->part->g;
        state *st = g->state_ops == &table_ops ? g->state : NULL;
        if (!st)
                return NULL;
        for (table *t = st->tables; t; t = t->next)
                if (t->desc == td) {
                        *tp_table = t;
                        return tpart_of(t, call->part->partition);
                }
        return NULL;
}

/* The key to use: the record's own when \p key is NULL.  Another key must
 * belong to the record's partition, where its entry lives: the partitioner
 * kbus's producers use (murmur2, as Java clients) must send it there. */
static bool key_ok(kbus_call *call, const void **key, size_t *len) {
        const rd_kafka_message_t *m = call->msg;
        const state *st = call->part->g->state;
        if (!*key) {
                if (!m->key)
                        return false;
                *key = m->key;
                *len = m->key_len;
                return true;
        }
        if (m->key && m->key_len == *len && !memcmp(m->key, *key, *len))
                return true;
        return st->partitions > 0 && rd_kafka_msg_partitioner_murmur2_random(
                                         NULL, *key, *len, st->partitions, NULL,
                                         NULL) == call->part->partition;
}

static edit *own_edit(writes *ws, table *t, const void *key, size_t len) {
        edit *found = NULL;
        for (edit *x = ws ? ws->head : NULL; x; x = x->next)
                if (x->t == t && x->key_len == len && !memcmp(x->key, key, len))
                        found = x; /* the last one counts */
        return found;
}

int kbus_table_get(kbus_call *call, const kbus_table_desc *td, const void *key,
                   size_t len, const ProtobufCMessage **out) {
        table *t = NULL;
        tpart *tp = call_part(call, td, &t);
        const void *value;
        size_t vlen;
        ProtobufCMessage *msg, **ng;
        writes *ws;
        edit *x;
        entry *e;

        *out = NULL;
        if (!tp || !key_ok(call, &key, &len))
                return KBUS_INVALID_ARGUMENT;
        if ((x = own_edit(call->writes, t, key, len))) {
                value = x->value;
                vlen = x->len;
        } else if ((e = entry_find(tp, key, len))) {
                value = entry_value(e);
                vlen = e->len;
        } else {
                value = NULL;
        }
        if (!value)
                return KBUS_NOT_FOUND;
        if (!(ws = writes_of(call, tp->t->st)))
                return KBUS_RESOURCE_EXHAUSTED;
        msg = protobuf_c_message_unpack(td->value, &kbus__pb_allocator, vlen,
                                        value);
        if (!msg)
                return KBUS_DATA_LOSS;
        if (!ws->got_one) {
                *out = ws->got_one = msg;
                return 0;
        }
        if (!(ng = kbus__realloc(ws->got, (ws->n_got + 1) * sizeof(*ng)))) {
                protobuf_c_message_free_unpacked(msg, &kbus__pb_allocator);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        ws->got = ng;
        ws->got[ws->n_got++] = msg;
        *out = msg;
        return 0;
}

static int add_write(kbus_call *call, const kbus_table_desc *td,
                     const void *key, size_t len, const ProtobufCMessage *v) {
        table *t = NULL;
        tpart *tp = call_part(call, td, &t);
        size_t vlen;
        writes *ws;
        edit *x;

        if (!tp || call->state != KBUS_REC_HANDLING ||
            (v && v->descriptor != td->value) || !key_ok(call, &key, &len))
                return KBUS_INVALID_ARGUMENT;
        /* The packed value goes after the key, in the same allocation. */
        vlen = v ? protobuf_c_message_get_packed_size(v) : 0;
        if (!(ws = writes_of(call, tp->t->st)) ||
            !(x = kbus__calloc(1, sizeof(*x) + len + vlen)))
                return KBUS_RESOURCE_EXHAUSTED;
        if (v) {
                x->value = x->key + len;
                x->len = protobuf_c_message_pack(v, x->value);
        }
        x->ws = ws;
        x->t = t;
        x->delivered = -1;
        x->key_len = len;
        memcpy(x->key, key, len);
        if (ws->tail)
                ws->tail->next = x;
        else
                ws->head = x;
        ws->tail = x;
        ws->n++;
        return 0;
}

int kbus_table_put(kbus_call *call, const kbus_table_desc *td, const void *key,
                   size_t len, const ProtobufCMessage *value) {
        if (!value)
                return KBUS_INVALID_ARGUMENT;
        return add_write(call, td, key, len, value);
}

int kbus_table_delete(kbus_call *call, const kbus_table_desc *td,
                      const void *key, size_t len) {
        return add_write(call, td, key, len, NULL);
}

struct scan {
        const kbus_table_desc *td;
        kbus_table_scan_fn fn;
        void *arg;
        int rc;
};

static void scan_one(kbus_hnode *n, void *arg) {
        struct scan *s = arg;
        entry *e = kbus__entry_of(n, entry, node);
        ProtobufCMessage *msg;
        if (s->rc)
                return;
        msg = protobuf_c_message_unpack(s->td->value, &kbus__pb_allocator,
                                        e->len, entry_value(e));
        if (!msg) {
                s->rc = KBUS_DATA_LOSS;
                return;
        }
        s->rc = s->fn(e->key, e->node.len, msg, s->arg);
        protobuf_c_message_free_unpacked(msg, &kbus__pb_allocator);
}

int kbus_table_scan(kbus_call *call, const kbus_table_desc *td,
                    kbus_table_scan_fn fn, void *arg) {
        table *t = NULL;
        tpart *tp = call_part(call, td, &t);
        struct scan s = {td, fn, arg, 0};
        if (!tp || !fn)
                return KBUS_INVALID_ARGUMENT;
        kbus__hash_each(&tp->entries, scan_one, &s);
        return s.rc;
}

size_t kbus_table_size(const kbus_runtime *rt, const kbus_table_desc *td) {
        size_t n = 0;
        for (const kbus_group *g = rt->groups; g; g = g->next) {
                const state *st = g->state_ops == &table_ops ? g->state : NULL;
                for (table *t = st ? st->tables : NULL; t; t = t->next)
                        if (t->desc == td)
                                for (int32_t i = 0; i < t->n_parts; i++)
                                        if (t->parts[i])
                                                n += t->parts[i]->entries.n;
        }
        return n;
}
