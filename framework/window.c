/*
 * Windows: aggregates of the records of each key over intervals of event
 * time, kept in a state table and emitted as events when their interval
 * closes (docs/WINDOWS.md).  Built on the public table API: this module
 * never reaches into the table's memory, so windows are restored after a
 * crash or a rebalance exactly as any table is.
 *
 * A window keeps one table, of kbus.WindowState values:
 *   - an entry per record key, holding that key's windows (start, packed
 *     aggregate, results emitted so far): open ones, and closed ones kept
 *     for late updates;
 *   - an entry per partition for its clock, closed_through_ms: every
 *     window of the partition ending at or before it has closed.  Its key
 *     is the first "\0kbus-window-clock-N" (N = 0, 1, ...) that falls into
 *     the partition, since a table entry must live in its key's partition.
 *
 * kbus_window_add() runs in a record's handler: it adds the record to its
 * windows; then, if the record's time less the grace period passes the
 * end of a window not yet closed, it closes every such window of the
 * partition (a scan of the table), emits their results through the user's
 * emit callback in order of end, start and key, drops them (or keeps them
 * for late updates), and moves the clock.  Only then is the clock written,
 * since window ends are the only times that matter: a record is late when
 * the first of its windows ends at or before the clock.
 *
 * Entries of other keys and the clock are shared by the records of a
 * partition, so a group with windows runs one record at a time per
 * partition (kbus_group.one_at_a_time), and a record's changes are applied
 * before the next one reads.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "kbus/options.pb-c.h"

typedef Kbus__WindowState state_msg;
typedef Kbus__WindowState__Window window_msg;

#define CLOCK_PREFIX "\0kbus-window-clock-"
#define CLOCK_PREFIX_LEN (sizeof(CLOCK_PREFIX) - 1)
/* A clock key is found within this many tries for any partition count a
 * cluster allows, unless the table is not attached to the call's group. */
#define CLOCK_TRIES 100000
#define MAX_WINDOWS_PER_RECORD 1000

struct kbus_window {
        struct kbus_window *next; /* rt->windows */
        kbus_runtime *rt;
        kbus_window_desc d; /* a copy: name and time_field are ours */
        kbus_table_desc table;
        char *group;
        /* The time field, found in the first input's type. */
        const ProtobufCMessageDescriptor *input;
        const ProtobufCFieldDescriptor *field;
        bool field_bad; /* said so in the log */
        /* N of each partition's clock key, -1 until found. */
        int32_t *clock_n;
        int32_t n_clock;
};

/* One window of a key, as this call changes it. */
struct win {
        int64_t start;
        uint32_t revision;
        uint8_t *value; /* packed aggregate, ours; NULL: none yet */
        size_t len;
};

/* One key's entry, as this call changes it. */
struct entry {
        struct entry *next;
        uint8_t *key;
        size_t key_len;
        struct win *wins; /* by start */
        size_t n, cap;
};

/* A window due to close, for sorting. */
struct due {
        struct entry *e;
        size_t i; /* in e->wins */
};

/* ---- time ---- */

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The start of the first window that holds time \p t. */
static int64_t first_start(const kbus_window *w, int64_t t) {
        return (floor_div(t - w->d.size_ms, w->d.advance_ms) + 1) *
               w->d.advance_ms;
}

/* The end of the first window that ends after \p t. */
static int64_t next_end(const kbus_window *w, int64_t t) {
        return first_start(w, t) + w->d.size_ms;
}

static const char *fmt_time(int64_t ms, char buf[64]) {
        time_t s = (time_t)floor_div(ms, 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ms - floor_div(ms, 1000) * 1000));
        return buf;
}

/* Finds the time field in the input's type, once per type. */
static int find_field(kbus_window *w, const ProtobufCMessageDescriptor *in) {
        const ProtobufCFieldDescriptor *f;
        bool ok = false;
        if (w->input == in)
                return w->field ? 0 : KBUS_INVALID_ARGUMENT;
        w->input = in;
        w->field = NULL;
        f = protobuf_c_message_descriptor_get_field_by_name(in,
                                                            w->d.time_field);
        if (f && f->label != PROTOBUF_C_LABEL_REPEATED) {
                switch (f->type) {
                case PROTOBUF_C_TYPE_INT32:
                case PROTOBUF_C_TYPE_SINT32:
                case PROTOBUF_C_TYPE_SFIXED32:
                case PROTOBUF_C_TYPE_UINT32:
                case PROTOBUF_C_TYPE_FIXED32:
                case PROTOBUF_C_TYPE_INT64:
                case PROTOBUF_C_TYPE_SINT64:
                case PROTOBUF_C_TYPE_SFIXED64:
                case PROTOBUF_C_TYPE_UINT64:
                case PROTOBUF_C_TYPE_FIXED64:
                        ok = true;
                        break;
                case PROTOBUF_C_TYPE_MESSAGE:
                        ok = !strcmp(
                            ((const ProtobufCMessageDescriptor *)f->descriptor)
                                ->name,
                            "google.protobuf.Timestamp");
                        break;
                default:
                        break;
                }
        }
        if (!ok) {
                KBUS_LOG(KBUS_LOG_ERROR, "window",
                         "window %s: %s has no field %s of Unix epoch "
                         "milliseconds (an integer) or google.protobuf."
                         "Timestamp: its records cannot be windowed",
                         w->d.name, in->name, w->d.time_field);
                return KBUS_INVALID_ARGUMENT;
        }
        w->field = f;
        return 0;
}

/* A google.protobuf.Timestamp as milliseconds, read through its
 * descriptor (libkbus does not link the well-known types). */
static int64_t timestamp_ms(const ProtobufCMessage *ts) {
        const ProtobufCFieldDescriptor *s =
            protobuf_c_message_descriptor_get_field_by_name(ts->descriptor,
                                                            "seconds");
        const ProtobufCFieldDescriptor *n =
            protobuf_c_message_descriptor_get_field_by_name(ts->descriptor,
                                                            "nanos");
        int64_t sec = s ? *(const int64_t *)((const char *)ts + s->offset) : 0;
        int32_t ns = n ? *(const int32_t *)((const char *)ts + n->offset) : 0;
        return sec * 1000 + ns / 1000000;
}

/* The record's event time: the window's time field of \p in, or the
 * record's ce_time.  Zero counts as missing: it is what an unset proto3
 * field reads. */
static int event_time(kbus_window *w, kbus_call *call,
                      const ProtobufCMessage *in, int64_t *t) {
        const void *at;
        int rc;
        if (!w->d.time_field) {
                rc = kbus_call_event_time(call, t);
                if (rc)
                        KBUS_LOG(KBUS_LOG_WARN, "window",
                                 "window %s: %s [%" PRId32 "] offset %" PRId64
                                 " has %s ce_time: it cannot be windowed",
                                 w->d.name, kbus_call_topic(call),
                                 kbus_call_partition(call),
                                 kbus_call_offset(call),
                                 rc == KBUS_NOT_FOUND ? "no" : "a bad");
                return rc ? KBUS_INVALID_ARGUMENT : 0;
        }
        if ((rc = find_field(w, in->descriptor)))
                return rc;
        at = (const char *)in + w->field->offset;
        switch (w->field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                *t = *(const int32_t *)at;
                break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                *t = *(const uint32_t *)at;
                break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                *t = (int64_t) * (const uint64_t *)at;
                break;
        case PROTOBUF_C_TYPE_MESSAGE:
                *t = *(ProtobufCMessage *const *)at
                         ? timestamp_ms(*(ProtobufCMessage *const *)at)
                         : 0;
                break;
        default:
                *t = *(const int64_t *)at;
                break;
        }
        if (*t <= 0) {
                KBUS_LOG(KBUS_LOG_WARN, "window",
                         "window %s: %s [%" PRId32 "] offset %" PRId64
                         " has no time in field %s: it cannot be windowed",
                         w->d.name, kbus_call_topic(call),
                         kbus_call_partition(call), kbus_call_offset(call),
                         w->d.time_field);
                return KBUS_INVALID_ARGUMENT;
        }
        return 0;
}

/* ---- entries in memory ---- */

static void entry_free(struct entry *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++)
                kbus__free(e->wins[i].value);
        kbus__free(e->wins);
        kbus__free(e->key);
}

/* Fills \p e (zeroed) with a copy of \p key and of the windows of \p st
 * (NULL: none). */
static int entry_copy(struct entry *e, const void *key, size_t len,
                      const state_msg *st) {
        size_t n = st ? st->n_windows : 0;
        if (!(e->key = kbus__malloc(len ? len : 1)) ||
            (n && !(e->wins = kbus__calloc(n, sizeof(*e->wins)))))
                return KBUS_RESOURCE_EXHAUSTED;
        memcpy(e->key, key, len);
        e->key_len = len;
        e->cap = n;
        for (size_t i = 0; i < n; i++) {
                const window_msg *m = st->windows[i];
                struct win *x = &e->wins[e->n++];
                x->start = m->start_ms;
                x->revision = m->revision;
                if (m->has_value) {
                        if (!(x->value = kbus__malloc(m->value.len + 1)))
                                return KBUS_RESOURCE_EXHAUSTED;
                        if (m->value.len)
                                memcpy(x->value, m->value.data, m->value.len);
                        x->len = m->value.len;
                }
        }
        return 0;
}

/* The window of \p e starting at \p start, added if missing; NULL when out
 * of memory. */
static struct win *entry_window(struct entry *e, int64_t start) {
        size_t i = 0;
        while (i < e->n && e->wins[i].start < start)
                i++;
        if (i < e->n && e->wins[i].start == start)
                return &e->wins[i];
        if (e->n == e->cap) {
                size_t cap = e->cap ? 2 * e->cap : 4;
                struct win *ws = kbus__realloc(e->wins, cap * sizeof(*ws));
                if (!ws)
                        return NULL;
                e->wins = ws;
                e->cap = cap;
        }
        memmove(&e->wins[i + 1], &e->wins[i], (e->n - i) * sizeof(*e->wins));
        e->n++;
        memset(&e->wins[i], 0, sizeof(e->wins[i]));
        e->wins[i].start = start;
        return &e->wins[i];
}

/* Writes \p e to the table as part of the call: a put, or a delete when
 * it has no windows left.  \p key NULL: the record's own key. */
static int entry_store(kbus_call *call, kbus_window *w, const struct entry *e,
                       bool own) {
        state_msg st = KBUS__WINDOW_STATE__INIT;
        window_msg *ms, **ptrs;
        int rc;
        if (e->n == 0)
                return kbus_table_delete(call, &w->table, own ? NULL : e->key,
                                         own ? 0 : e->key_len);
        ms = kbus__calloc(e->n, sizeof(*ms));
        ptrs = kbus__calloc(e->n, sizeof(*ptrs));
        if (!ms || !ptrs) {
                kbus__free(ms);
                kbus__free(ptrs);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        for (size_t i = 0; i < e->n; i++) {
                kbus__window_state__window__init(&ms[i]);
                ms[i].has_start_ms = true;
                ms[i].start_ms = e->wins[i].start;
                ms[i].has_revision = e->wins[i].revision > 0;
                ms[i].revision = e->wins[i].revision;
                ms[i].has_value = e->wins[i].value != NULL;
                ms[i].value.data = e->wins[i].value;
                ms[i].value.len = e->wins[i].len;
                ptrs[i] = &ms[i];
        }
        st.n_windows = e->n;
        st.windows = ptrs;
        /* The table packs the value now. */
        rc = kbus_table_put(call, &w->table, own ? NULL : e->key,
                            own ? 0 : e->key_len, &st.base);
        kbus__free(ms);
        kbus__free(ptrs);
        if (rc == KBUS_INVALID_ARGUMENT && !own)
                KBUS_LOG(KBUS_LOG_ERROR, "window",
                         "window %s: key %.*s is not in partition %" PRId32
                         " of %s by murmur2: its producer does not partition "
                         "as kbus does, so its windows cannot be closed here",
                         w->d.name, (int)e->key_len, (const char *)e->key,
                         kbus_call_partition(call), kbus_call_topic(call));
        return rc;
}

/* Adds \p input to window \p x through the user's add. */
static int aggregate(kbus_window *w, struct win *x,
                     const ProtobufCMessage *input, void *arg) {
        const ProtobufCMessageDescriptor *d = w->d.value;
        ProtobufCMessage *cur = NULL, *v;
        void *packed = NULL;
        size_t len = 0;
        int rc;

        if (x->value && !(cur = protobuf_c_message_unpack(
                              d, &kbus__pb_allocator, x->len, x->value)))
                return KBUS_DATA_LOSS;
        /* The user changes a shallow copy, so that whatever it points its
         * fields at, only what unpack made is freed. */
        if (!(v = kbus__malloc(d->sizeof_message))) {
                rc = KBUS_RESOURCE_EXHAUSTED;
                goto done;
        }
        if (cur)
                memcpy(v, cur, d->sizeof_message);
        else
                d->message_init(v);
        rc = w->d.add(v, input, arg);
        if (!rc && !(packed = kbus__pack(v, &len)))
                rc = KBUS_RESOURCE_EXHAUSTED;
        if (!rc) {
                kbus__free(x->value);
                x->value = packed;
                x->len = len;
        }
        kbus__free(v);
done:
        if (cur)
                protobuf_c_message_free_unpacked(cur, &kbus__pb_allocator);
        return rc;
}

/* Emits window \p x of entry \p e through the user's emit. */
static int emit(kbus_call *call, kbus_window *w, const struct entry *e,
                struct win *x, void *arg) {
        const ProtobufCMessageDescriptor *d = w->d.value;
        ProtobufCMessage *v;
        int rc;
        v = protobuf_c_message_unpack(d, &kbus__pb_allocator,
                                      x->value ? x->len : 0,
                                      x->value ? x->value : (uint8_t *)"");
        if (!v)
                return KBUS_DATA_LOSS;
        rc = w->d.emit(call, e->key, e->key_len, x->start,
                       x->start + w->d.size_ms, v, x->revision, arg);
        protobuf_c_message_free_unpacked(v, &kbus__pb_allocator);
        if (!rc)
                x->revision++;
        return rc;
}

/* ---- the partition's clock ---- */

static void clock_format(char *key, size_t *len, int32_t n) {
        memcpy(key, CLOCK_PREFIX, CLOCK_PREFIX_LEN);
        *len = CLOCK_PREFIX_LEN +
               (size_t)sprintf(key + CLOCK_PREFIX_LEN, "%" PRId32, n);
}

/* The key of the clock of the call's partition: found once per partition
 * by asking the table, which refuses a key of another partition. */
static int clock_key(kbus_call *call, kbus_window *w, char *key, size_t *len) {
        int32_t p = kbus_call_partition(call);
        const ProtobufCMessage *v;
        int rc = KBUS_INVALID_ARGUMENT;

        if (p >= w->n_clock) {
                int32_t *ns = kbus__realloc(w->clock_n, (p + 1) * sizeof(*ns));
                if (!ns)
                        return KBUS_RESOURCE_EXHAUSTED;
                for (int32_t i = w->n_clock; i <= p; i++)
                        ns[i] = -1;
                w->clock_n = ns;
                w->n_clock = p + 1;
        }
        if (w->clock_n[p] >= 0) {
                clock_format(key, len, w->clock_n[p]);
                return 0;
        }
        for (int32_t n = 0; n < CLOCK_TRIES; n++) {
                clock_format(key, len, n);
                rc = kbus_table_get(call, &w->table, key, *len, &v);
                if (rc != KBUS_INVALID_ARGUMENT) {
                        w->clock_n[p] = n;
                        return 0;
                }
        }
        KBUS_LOG(KBUS_LOG_ERROR, "window",
                 "window %s: its table is not kept by the group of %s",
                 w->d.name, kbus_call_topic(call));
        return rc;
}

static bool is_clock(const void *key, size_t len) {
        return len > CLOCK_PREFIX_LEN &&
               !memcmp(key, CLOCK_PREFIX, CLOCK_PREFIX_LEN);
}

/* ---- closing ---- */

struct sweep {
        kbus_window *w;
        const void *own; /* the record's key: the call has its entry */
        size_t own_len;
        int64_t close, drop;
        struct entry *changed; /* entries with windows to close or drop */
        int rc;
};

/* A scan's entry: copied when it has windows to close or drop. */
static int sweep_one(const void *key, size_t len, const ProtobufCMessage *v,
                     void *arg) {
        struct sweep *s = arg;
        const state_msg *st = (const state_msg *)v;
        struct entry *e;
        bool due = false;

        if (is_clock(key, len) ||
            (len == s->own_len && !memcmp(key, s->own, len)))
                return 0;
        for (size_t i = 0; i < st->n_windows && !due; i++) {
                int64_t end = st->windows[i]->start_ms + s->w->d.size_ms;
                due = end <= s->drop ||
                      (end <= s->close && st->windows[i]->revision == 0);
        }
        if (!due)
                return 0;
        if (!(e = kbus__calloc(1, sizeof(*e))) ||
            (s->rc = entry_copy(e, key, len, st))) {
                entry_free(e);
                kbus__free(e);
                return s->rc = KBUS_RESOURCE_EXHAUSTED;
        }
        e->next = s->changed;
        s->changed = e;
        return 0;
}

static int due_cmp(const void *a, const void *b) {
        const struct due *x = a, *y = b;
        int64_t xs = x->e->wins[x->i].start, ys = y->e->wins[y->i].start;
        size_t n =
            x->e->key_len < y->e->key_len ? x->e->key_len : y->e->key_len;
        int c;
        if (xs != ys)
                return xs < ys ? -1 : 1;
        if ((c = memcmp(x->e->key, y->e->key, n)))
                return c;
        return x->e->key_len < y->e->key_len   ? -1
               : x->e->key_len > y->e->key_len ? 1
                                               : 0;
}

/* Drops the windows of \p e that end at or before \p drop. */
static void drop_old(const kbus_window *w, struct entry *e, int64_t drop) {
        size_t k = 0;
        for (size_t i = 0; i < e->n; i++) {
                if (e->wins[i].start + w->d.size_ms <= drop)
                        kbus__free(e->wins[i].value);
                else
                        e->wins[k++] = e->wins[i];
        }
        e->n = k;
}

/* Closes every window of the partition that ends at or before \p close:
 * emits them in order of start and key, then drops those that need not be
 * kept and writes the entries it changed (the record's own, \p own, is
 * written by the caller). */
static int sweep(kbus_call *call, kbus_window *w, struct entry *own,
                 int64_t close, void *arg) {
        struct sweep s = {
            w, own->key, own->key_len, close, close - w->d.retain_ms, NULL, 0};
        struct due *due = NULL;
        size_t n_due = 0, cap = 0;
        int rc;

        if ((rc = kbus_table_scan(call, &w->table, sweep_one, &s)) ||
            (rc = s.rc))
                goto done;
        own->next = s.changed;
        for (struct entry *e = own; e; e = e->next)
                for (size_t i = 0; i < e->n; i++) {
                        if (e->wins[i].revision > 0 ||
                            e->wins[i].start + w->d.size_ms > close)
                                continue;
                        if (n_due == cap) {
                                struct due *d;
                                cap = cap ? 2 * cap : 16;
                                if (!(d = kbus__realloc(due,
                                                        cap * sizeof(*d)))) {
                                        rc = KBUS_RESOURCE_EXHAUSTED;
                                        goto done;
                                }
                                due = d;
                        }
                        due[n_due++] = (struct due){e, i};
                }
        if (n_due > 1) /* (qsort wants an array, even of none) */
                qsort(due, n_due, sizeof(*due), due_cmp);
        for (size_t i = 0; i < n_due; i++)
                if ((rc = emit(call, w, due[i].e, &due[i].e->wins[due[i].i],
                               arg)))
                        goto done;
        for (struct entry *e = own; e; e = e->next)
                drop_old(w, e, s.drop);
        for (struct entry *e = s.changed; e; e = e->next)
                if ((rc = entry_store(call, w, e, false)))
                        goto done;
        KBUS_LOG(KBUS_LOG_DEBUG, "window",
                 "window %s: %s [%" PRId32
                 "] closed %zu windows through %" PRId64,
                 w->d.name, kbus_call_topic(call), kbus_call_partition(call),
                 n_due, close);
done:
        own->next = NULL;
        while (s.changed) {
                struct entry *e = s.changed;
                s.changed = e->next;
                entry_free(e);
                kbus__free(e);
        }
        kbus__free(due);
        return rc;
}

/* ---- the public API ---- */

int kbus_window_add(kbus_call *call, kbus_window *w,
                    const ProtobufCMessage *input, void *arg) {
        const rd_kafka_message_t *m = call ? call->msg : NULL;
        const ProtobufCMessage *v;
        struct entry own = {0};
        char ckey[CLOCK_PREFIX_LEN + 16], when[64], end_s[64];
        size_t clen;
        int64_t t, closed, first, close;
        bool has_clock, moved;
        int rc;

        if (!call || !w || !input)
                return KBUS_INVALID_ARGUMENT;
        if (!m->key || strcmp(call->part->group_id, w->group)) {
                KBUS_LOG(KBUS_LOG_ERROR, "window",
                         "window %s: %s [%" PRId32 "] offset %" PRId64
                         " cannot be windowed: %s",
                         w->d.name, kbus_call_topic(call),
                         kbus_call_partition(call), kbus_call_offset(call),
                         !m->key ? "it has no key"
                                 : "the window belongs to another group");
                return KBUS_INVALID_ARGUMENT;
        }
        /* kbus_window_attach() made it so: a record may change entries of
         * other keys. */
        assert(call->part->ordering == KBUS_ORDER_PARTITION);
        if ((rc = event_time(w, call, input, &t)) ||
            (rc = clock_key(call, w, ckey, &clen)))
                return rc;
        rc = kbus_table_get(call, &w->table, ckey, clen, &v);
        if (rc && rc != KBUS_NOT_FOUND)
                return rc;
        has_clock = rc == 0;
        /* The partition's first record starts its clock. */
        closed = has_clock ? ((const state_msg *)v)->closed_through_ms
                           : t - w->d.grace_ms;

        first = first_start(w, t);
        if (first + w->d.size_ms <= closed) {
                bool refused = w->d.late != KBUS_WINDOW_LATE_UPDATE ||
                               first + w->d.size_ms <= closed - w->d.retain_ms;
                w->rt->stats[KBUS_STAT_WINDOW_LATE]++;
                KBUS_LOG(refused ? KBUS_LOG_WARN : KBUS_LOG_INFO, "window",
                         "window %s: %s [%" PRId32 "] offset %" PRId64
                         " at %s is late: its window ending %s has closed "
                         "(grace %" PRId64 " ms): %s",
                         w->d.name, kbus_call_topic(call),
                         kbus_call_partition(call), kbus_call_offset(call),
                         fmt_time(t, when),
                         fmt_time(first + w->d.size_ms, end_s), w->d.grace_ms,
                         refused ? "refused (OUT_OF_RANGE)"
                                 : "applied, its result emitted again");
                if (refused)
                        return KBUS_OUT_OF_RANGE;
        }

        rc = kbus_table_get(call, &w->table, NULL, 0, &v);
        if (rc && rc != KBUS_NOT_FOUND)
                return rc;
        if ((rc = entry_copy(&own, m->key, m->key_len,
                             rc ? NULL : (const state_msg *)v)))
                goto done;
        for (int64_t s = first; s <= t; s += w->d.advance_ms) {
                struct win *x = entry_window(&own, s);
                if (!x) {
                        rc = KBUS_RESOURCE_EXHAUSTED;
                        goto done;
                }
                if ((rc = aggregate(w, x, input, arg)))
                        goto done;
                /* A late update (KBUS_WINDOW_LATE_UPDATE): the closed
                 * window's result goes out again at once. */
                if (s + w->d.size_ms <= closed &&
                    (rc = emit(call, w, &own, x, arg)))
                        goto done;
        }

        /* Windows close when the record's time less grace passes their
         * end; the record's own windows all end after it.  The clock is
         * written only when it passes a window's end: between ends, no
         * decision depends on it. */
        close = t - w->d.grace_ms;
        moved = close >= next_end(w, closed);
        if (moved && (rc = sweep(call, w, &own, close, arg)))
                goto done;
        if ((rc = entry_store(call, w, &own, true)))
                goto done;
        if (!has_clock || moved) {
                state_msg clock = KBUS__WINDOW_STATE__INIT;
                clock.has_closed_through_ms = true;
                clock.closed_through_ms = moved ? close : closed;
                rc = kbus_table_put(call, &w->table, ckey, clen, &clock.base);
        }
done:
        entry_free(&own);
        return rc;
}

/* A name fit for a topic, as protoc-gen-kbus checks table names. */
static bool name_ok(const char *name) {
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        return n > 0 && n <= 237 && name[n] == '\0';
}

int kbus_window_attach(kbus_runtime *rt, const kbus_window_desc *d,
                       const char *group, kbus_window **wp) {
        kbus_window *w;
        kbus_group *g;
        int rc;

        if (wp)
                *wp = NULL;
        if (!rt || !d || !wp || !d->name || !d->value || !d->add || !d->emit ||
            d->size_ms <= 0 || d->advance_ms < 0 ||
            d->advance_ms > d->size_ms || d->grace_ms < 0 || d->retain_ms < 0 ||
            (d->late != KBUS_WINDOW_LATE_DEAD_LETTER &&
             d->late != KBUS_WINDOW_LATE_UPDATE) ||
            (d->advance_ms > 0 &&
             (d->size_ms + d->advance_ms - 1) / d->advance_ms >
                 MAX_WINDOWS_PER_RECORD))
                return KBUS_INVALID_ARGUMENT;
        if (!name_ok(d->name)) {
                KBUS_LOG(KBUS_LOG_ERROR, "window",
                         "window name \"%s\" is not 1 to 237 characters of "
                         "[a-zA-Z0-9._-]",
                         d->name);
                return KBUS_INVALID_ARGUMENT;
        }
        if (rt->started || rt->closing)
                return KBUS_FAILED_PRECONDITION;
        if (!group)
                group = rt->conf->group ? rt->conf->group : rt->conf->name;
        if (!(w = kbus__calloc(1, sizeof(*w))))
                return KBUS_RESOURCE_EXHAUSTED;
        w->d = *d;
        if (!w->d.advance_ms)
                w->d.advance_ms = w->d.size_ms;
        if (w->d.late != KBUS_WINDOW_LATE_UPDATE)
                w->d.retain_ms = 0; /* closed windows are of no more use */
        w->d.name = kbus__strdup(d->name);
        w->d.time_field = d->time_field ? kbus__strdup(d->time_field) : NULL;
        w->group = kbus__strdup(group);
        w->rt = rt;
        w->table.name = w->d.name;
        w->table.value = &kbus__window_state__descriptor;
        if (!w->d.name || (d->time_field && !w->d.time_field) || !w->group ||
            !(g = kbus__group_get(rt, group))) {
                rc = KBUS_RESOURCE_EXHAUSTED;
                goto fail;
        }
        if ((rc = kbus_table_attach(rt, &w->table, group)))
                goto fail;
        g->one_at_a_time = true;
        w->next = rt->windows;
        rt->windows = w;
        *wp = w;
        return 0;
fail:
        kbus__free((char *)w->d.name);
        kbus__free((char *)w->d.time_field);
        kbus__free(w->group);
        kbus__free(w);
        return rc;
}

void kbus__windows_free(kbus_runtime *rt) {
        while (rt->windows) {
                kbus_window *w = rt->windows;
                rt->windows = w->next;
                kbus__free((char *)w->d.name);
                kbus__free((char *)w->d.time_field);
                kbus__free(w->group);
                kbus__free(w->clock_n);
                kbus__free(w);
        }
}
