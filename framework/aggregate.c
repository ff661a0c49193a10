/*
 * Event-sourced aggregates (docs/AGGREGATES.md), built on a state table
 * and the record's completion API.
 *
 * Each aggregate is one entry of a table of its group (key: its id, value:
 * kbus.AggregateRoot): its state at the latest snapshot, the events after
 * it, and the commands it remembers with their answers.  A command loads
 * the entry and folds the events after the snapshot into the snapshot's
 * state; appends events, each applied at once so that the handler sees
 * the state it leads to, each also published to the history topic with
 * the call; and completes: the entry is put back as part of the call's
 * outcome.  Tables apply a call's changes once and send its events at
 * least once with the same ids, so the entry and the history agree after
 * any crash: a version the history shows twice is one event sent again.
 *
 * One writer per aggregate rests on the group: its commands are keyed by
 * aggregate id on one topic, so one instance owns the aggregate's
 * partition and handles its commands one at a time.
 *
 * A replay from scratch (kbus_aggregate_replay) reads the history topic
 * with a consumer of its own, blocking, for tools and audits.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "kbus/aggregate.pb-c.h"

#define DEFAULT_SNAPSHOT_EVERY 100
#define DEFAULT_REMEMBER 100

/* An aggregate type attached to a runtime, with the table and the event
 * type it is kept in. */
typedef struct kbus_agg_type {
        struct kbus_agg_type *next;
        const kbus_aggregate_desc *ad;
        kbus_table_desc table;
        kbus_event_desc history;
} agg_type;

struct kbus_fold {
        const ProtobufCMessageDescriptor *type;
        uint8_t *packed; /* the next state, encoded; NULL: not set */
        size_t len;
};

struct kbus_aggregate {
        kbus_call *call;
        const agg_type *t;
        uint8_t *id;
        size_t id_len;
        char *command_id; /* "": none */
        char *correlation;
        uint64_t fingerprint;
        const Kbus__AggregateRoot *root; /* as loaded (the call owns it), or
                                          * NULL for a new aggregate */
        uint64_t version;
        /* The snapshot: the root's, until this call takes one (then its
         * own copy, and the root's events after it are superseded). */
        uint64_t snapshot_version;
        bool snapshot_taken;
        uint8_t *snapshot;
        size_t snapshot_len;
        /* Events this call appended; those from tail_from on come after
         * the snapshot. */
        Kbus__AggregateEvent **added;
        size_t n_added, tail_from;
        ProtobufCMessage *state; /* the current state, and its encoding */
        uint8_t *packed;
        size_t packed_len;
        char *source; /* kbus_aggregate_from(): the sender, or NULL */
        uint64_t seq;
};

static const uint8_t nothing[1];

static uint32_t snapshot_every(const kbus_aggregate_desc *ad) {
        return ad->snapshot_every ? ad->snapshot_every : DEFAULT_SNAPSHOT_EVERY;
}

static uint32_t remember(const kbus_aggregate_desc *ad) {
        return ad->remember ? ad->remember : DEFAULT_REMEMBER;
}

static const agg_type *type_of(const kbus_runtime *rt,
                               const kbus_aggregate_desc *ad) {
        for (const agg_type *t = rt->aggregates; t; t = t->next)
                if (t->ad == ad)
                        return t;
        return NULL;
}

/* ---- attaching ---- */

int kbus_aggregate_attach(kbus_runtime *rt, const kbus_aggregate_desc *ad,
                          const char *group) {
        agg_type *t;
        int rc;

        if (!ad || !ad->name || !ad->history_topic || !ad->history_topic[0] ||
            !ad->state || !ad->event || !ad->apply)
                return KBUS_INVALID_ARGUMENT;
        if (type_of(rt, ad))
                return KBUS_ALREADY_EXISTS;
        if (!(t = kbus__calloc(1, sizeof(*t))))
                return KBUS_RESOURCE_EXHAUSTED;
        t->ad = ad;
        t->table.name = ad->name;
        t->table.value = &kbus__aggregate_root__descriptor;
        t->history.type = kbus__aggregate_event__descriptor.name;
        t->history.topic = ad->history_topic;
        t->history.key_field = "id";
        t->history.message = &kbus__aggregate_event__descriptor;
        rc = kbus_table_attach(rt, &t->table, group);
        if (rc) {
                kbus__free(t);
                return rc;
        }
        t->next = rt->aggregates;
        rt->aggregates = t;
        return 0;
}

void kbus__aggregates_fini(kbus_runtime *rt) {
        while (rt->aggregates) {
                agg_type *t = rt->aggregates;
                rt->aggregates = t->next;
                kbus__free(t);
        }
}

/* ---- folding ---- */

int kbus_fold_set(kbus_fold *fold, const ProtobufCMessage *next) {
        uint8_t *buf;
        size_t len;
        if (!next || next->descriptor != fold->type)
                return KBUS_INVALID_ARGUMENT;
        if (!(buf = kbus__pack(next, &len)))
                return KBUS_RESOURCE_EXHAUSTED;
        kbus__free(fold->packed);
        fold->packed = buf;
        fold->len = len;
        return 0;
}

/* A state decoded from \p len bytes (0: the initial state); NULL when they
 * do not decode or memory runs out. */
static ProtobufCMessage *state_decode(const kbus_aggregate_desc *ad,
                                      const uint8_t *p, size_t len) {
        return protobuf_c_message_unpack(ad->state, &kbus__pb_allocator, len,
                                         len ? p : nothing);
}

/* Applies \p ev to *\p state (encoded in *\p packed): both are replaced by
 * the next state when the event sets one.  Returns the apply function's
 * status, or RESOURCE_EXHAUSTED. */
static int fold(const kbus_aggregate_desc *ad, ProtobufCMessage **state,
                uint8_t **packed, size_t *len, const ProtobufCMessage *ev) {
        kbus_fold f = {ad->state, NULL, 0};
        ProtobufCMessage *next;
        int rc = ad->apply(&f, *state, ev);
        if (rc || !f.packed) {
                kbus__free(f.packed);
                return rc;
        }
        if (!(next = state_decode(ad, f.packed, f.len))) {
                kbus__free(f.packed);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        protobuf_c_message_free_unpacked(*state, &kbus__pb_allocator);
        *state = next;
        kbus__free(*packed);
        *packed = f.packed;
        *len = f.len;
        return 0;
}

/* Decodes a stored event's data and applies it; DATA_LOSS when either
 * fails for another reason than memory. */
static int fold_stored(const kbus_aggregate_desc *ad, ProtobufCMessage **state,
                       uint8_t **packed, size_t *len,
                       const ProtobufCBinaryData *data,
                       ProtobufCMessage **evp) {
        ProtobufCMessage *ev =
            protobuf_c_message_unpack(ad->event, &kbus__pb_allocator, data->len,
                                      data->len ? data->data : nothing);
        int rc;
        if (!ev)
                return KBUS_DATA_LOSS;
        rc = fold(ad, state, packed, len, ev);
        if (evp && !rc)
                *evp = ev;
        else
                protobuf_c_message_free_unpacked(ev, &kbus__pb_allocator);
        return rc == 0 || rc == KBUS_RESOURCE_EXHAUSTED ? rc : KBUS_DATA_LOSS;
}

/* ---- a command ---- */

static void agg_free(kbus_aggregate *agg) {
        if (!agg)
                return;
        for (size_t i = 0; i < agg->n_added; i++) {
                kbus__free(agg->added[i]->data.data);
                kbus__free(agg->added[i]);
        }
        kbus__free(agg->added);
        if (agg->state)
                protobuf_c_message_free_unpacked(agg->state,
                                                 &kbus__pb_allocator);
        kbus__free(agg->packed);
        kbus__free(agg->snapshot);
        kbus__free(agg->id);
        kbus__free(agg->command_id);
        kbus__free(agg->correlation);
        kbus__free(agg->source);
        kbus__free(agg);
}

/* Fails \p call with \p code and a message; returns \p code. */
static int fail(kbus_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(kbus_call *call, int code, const char *fmt, ...) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        if (code != KBUS_RESOURCE_EXHAUSTED && code != KBUS_ABORTED)
                KBUS_LOGT(KBUS_LOG_WARN, "aggregate",
                          kbus_call_traceparent(call), "%s: %s",
                          kbus_call_method(call), why);
        kbus_call_fail(call, (kbus_status)code, why);
        return code;
}

static bool wants_reply_type(const kbus_call *call) {
        return call->method && !(call->method->flags & KBUS_METHOD_ONE_WAY);
}

/* What identifies a request beyond its command id: its method and bytes.
 * The same id on another request is a client's mistake, not a repeat. */
static uint64_t fingerprint(const kbus_call *call) {
        const char *m = kbus_call_method(call);
        return kbus__hash_bytes(m, strlen(m)) * 1099511628211ULL ^
               kbus__hash_bytes(call->msg->payload, call->msg->len);
}

/* Answers a repeated command as the first one was answered. */
static void answer_again(kbus_call *call, const Kbus__AggregateCommand *c) {
        ProtobufCMessage *reply;
        if (c->status < 0 || c->status > KBUS_UNAUTHENTICATED) {
                fail(call, KBUS_DATA_LOSS,
                     "command %s remembered with status %d", c->id,
                     (int)c->status);
        } else if (c->status != KBUS_OK) {
                kbus_call_refuse(call, (kbus_status)c->status, c->message);
        } else if (wants_reply_type(call)) {
                reply = protobuf_c_message_unpack(
                    call->method->output, &kbus__pb_allocator, c->reply.len,
                    c->reply.len ? c->reply.data : nothing);
                if (!reply) {
                        fail(call, KBUS_DATA_LOSS,
                             "the reply remembered for command %s does not "
                             "decode as %s",
                             c->id, call->method->output->name);
                        return;
                }
                kbus_call_reply(call, reply);
                protobuf_c_message_free_unpacked(reply, &kbus__pb_allocator);
        } else {
                kbus_call_ack(call);
        }
}

/* "the trace id of a traceparent", or "" */
static void trace_id(const char *tp, char out[33]) {
        out[0] = '\0';
        if (tp && strlen(tp) >= 35 && tp[2] == '-') {
                memcpy(out, tp + 3, 32);
                out[32] = '\0';
        }
}

static char *dup_or_empty(const char *s) {
        return kbus__strdup(s ? s : "");
}

int kbus_aggregate_load(kbus_call *call, const kbus_aggregate_desc *ad,
                        const void *id, size_t len, const char *command_id,
                        const char *correlation, kbus_aggregate **aggp) {
        const agg_type *t = ad ? type_of(call->rt, ad) : NULL;
        const ProtobufCMessage *m = NULL;
        const Kbus__AggregateRoot *root = NULL;
        kbus_aggregate *agg;
        char trace[33];
        uint64_t fp;
        int rc;

        *aggp = NULL;
        if (!t)
                return fail(call, KBUS_INVALID_ARGUMENT,
                            "aggregate type %s is not attached",
                            ad ? ad->name : "(null)");
        if (!id) {
                id = call->msg->key;
                len = call->msg->key_len;
        }
        if (!id || !len)
                return fail(call, KBUS_INVALID_ARGUMENT,
                            "%s: no aggregate id (the record has no key)",
                            ad->name);
        rc = kbus_table_get(call, &t->table, id, len, &m);
        if (rc == 0)
                root = (const Kbus__AggregateRoot *)m;
        else if (rc != KBUS_NOT_FOUND)
                return fail(call, rc, "%s %.*s: cannot read its entry: %s",
                            ad->name, (int)(len > 64 ? 64 : len),
                            (const char *)id, kbus_strerror(rc));
        fp = fingerprint(call);
        if (command_id && command_id[0] && root) {
                for (size_t i = 0; i < root->n_commands; i++) {
                        const Kbus__AggregateCommand *c = root->commands[i];
                        if (strcmp(c->id, command_id))
                                continue;
                        if (c->fingerprint != fp)
                                return fail(call, KBUS_INVALID_ARGUMENT,
                                            "command id %s was used before "
                                            "for another request",
                                            command_id);
                        call->rt->stats[KBUS_STAT_COMMANDS_REPEATED]++;
                        KBUS_LOGT(KBUS_LOG_INFO, "aggregate",
                                  kbus_call_traceparent(call),
                                  "%s %.*s: command %s was applied before "
                                  "(version %" PRIu64 "): answered as then",
                                  ad->name, (int)(len > 64 ? 64 : len),
                                  (const char *)id, command_id, c->version);
                        answer_again(call, c);
                        return KBUS_ALREADY_EXISTS;
                }
        }
        trace_id(kbus_call_traceparent(call), trace);
        if (!correlation || !correlation[0])
                correlation = command_id && command_id[0] ? command_id : trace;
        if (!(agg = kbus__calloc(1, sizeof(*agg))) ||
            !(agg->id = kbus__malloc(len)) ||
            !(agg->command_id = dup_or_empty(command_id)) ||
            !(agg->correlation = dup_or_empty(correlation)))
                goto oom;
        agg->call = call;
        agg->t = t;
        memcpy(agg->id, id, len);
        agg->id_len = len;
        agg->fingerprint = fp;
        agg->root = root;
        if (root) {
                agg->version = root->version;
                agg->snapshot_version = root->snapshot_version;
        }
        /* The state at the snapshot, then the events after it. */
        agg->packed_len = root ? root->snapshot.len : 0;
        if (!(agg->packed =
                  kbus__malloc(agg->packed_len ? agg->packed_len : 1)))
                goto oom;
        if (agg->packed_len)
                memcpy(agg->packed, root->snapshot.data, agg->packed_len);
        agg->state = state_decode(ad, agg->packed, agg->packed_len);
        if (!agg->state) {
                agg_free(agg);
                return fail(call, KBUS_DATA_LOSS,
                            "%s %.*s: its snapshot does not decode as %s",
                            ad->name, (int)(len > 64 ? 64 : len),
                            (const char *)id, ad->state->name);
        }
        for (size_t i = 0; root && i < root->n_events; i++) {
                const Kbus__AggregateEvent *e = root->events[i];
                uint64_t want = root->snapshot_version + i + 1;
                rc = e->version == want
                         ? fold_stored(ad, &agg->state, &agg->packed,
                                       &agg->packed_len, &e->data, NULL)
                         : KBUS_DATA_LOSS;
                if (rc) {
                        agg_free(agg);
                        return fail(call, rc,
                                    "%s %.*s: stored event %" PRIu64
                                    " (version %" PRIu64 " expected) %s",
                                    ad->name, (int)(len > 64 ? 64 : len),
                                    (const char *)id, e->version, want,
                                    rc == KBUS_RESOURCE_EXHAUSTED
                                        ? "out of memory"
                                        : "does not apply");
                }
        }
        if (root && root->snapshot_version + root->n_events != root->version) {
                agg_free(agg);
                return fail(call, KBUS_DATA_LOSS,
                            "%s %.*s: version %" PRIu64 " but snapshot %" PRIu64
                            " and %zu events after it",
                            ad->name, (int)(len > 64 ? 64 : len),
                            (const char *)id, root->version,
                            root->snapshot_version, root->n_events);
        }
        *aggp = agg;
        return 0;
oom:
        agg_free(agg);
        return fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
}

const ProtobufCMessage *kbus_aggregate_state(const kbus_aggregate *agg) {
        return agg->state;
}

uint64_t kbus_aggregate_version(const kbus_aggregate *agg) {
        return agg->version;
}

/* Takes a snapshot when the events after the last one reach the interval:
 * then a load applies at most that many. */
static int maybe_snapshot(kbus_aggregate *agg) {
        uint8_t *copy;
        if (agg->version - agg->snapshot_version < snapshot_every(agg->t->ad))
                return 0;
        if (!(copy = kbus__malloc(agg->packed_len ? agg->packed_len : 1)))
                return KBUS_RESOURCE_EXHAUSTED;
        memcpy(copy, agg->packed, agg->packed_len);
        kbus__free(agg->snapshot);
        agg->snapshot = copy;
        agg->snapshot_len = agg->packed_len;
        agg->snapshot_version = agg->version;
        agg->snapshot_taken = true;
        agg->tail_from = agg->n_added;
        return 0;
}

int kbus_aggregate_append(kbus_aggregate *agg, int64_t expected_version,
                          const ProtobufCMessage *event) {
        const kbus_aggregate_desc *ad = agg->t->ad;
        kbus_call *call = agg->call;
        Kbus__AggregateEvent *e = NULL, **grown;
        int rc;

        if (!event || event->descriptor != ad->event) {
                rc = fail(call, KBUS_INVALID_ARGUMENT,
                          "%s: an event of type %s, not %s", ad->name,
                          event ? event->descriptor->name : "(null)",
                          ad->event->name);
                goto out;
        }
        if (expected_version != KBUS_VERSION_ANY &&
            (expected_version < 0 ||
             (uint64_t)expected_version != agg->version)) {
                call->rt->stats[KBUS_STAT_AGGREGATE_CONFLICTS]++;
                rc =
                    fail(call, KBUS_ABORTED,
                         "%s %.*s is at version %" PRIu64 ", not %" PRId64,
                         ad->name, (int)(agg->id_len > 64 ? 64 : agg->id_len),
                         (const char *)agg->id, agg->version, expected_version);
                goto out;
        }
        if (!(e = kbus__calloc(1, sizeof(*e))) ||
            !(grown = kbus__realloc(agg->added,
                                    (agg->n_added + 1) * sizeof(*grown)))) {
                kbus__free(e);
                rc = fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                goto out;
        }
        agg->added = grown;
        kbus__aggregate_event__init(e);
        if (!(e->data.data = kbus__pack(event, &e->data.len))) {
                kbus__free(e);
                rc = fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                goto out;
        }
        agg->added[agg->n_added++] = e;
        rc = fold(ad, &agg->state, &agg->packed, &agg->packed_len, event);
        if (rc) {
                rc = fail(call, rc, "%s %.*s: event %s does not apply: %s",
                          ad->name, (int)(agg->id_len > 64 ? 64 : agg->id_len),
                          (const char *)agg->id, ad->event->name,
                          kbus_strerror(rc));
                goto out;
        }
        e->version = ++agg->version;
        e->time_ms = kbus__now_ms();
        e->cause = agg->command_id;
        e->correlation = agg->correlation;
        /* On the history topic the event says whose it is and its type;
         * in the entry, that goes without saying. */
        e->aggregate = (char *)ad->name;
        e->id.data = agg->id;
        e->id.len = agg->id_len;
        e->type = (char *)ad->event->name;
        rc = kbus_call_publish(call, &agg->t->history, &e->base);
        e->aggregate = e->type = (char *)"";
        e->id.data = NULL;
        e->id.len = 0;
        if (!rc)
                rc = maybe_snapshot(agg);
        if (rc)
                rc = fail(call, rc, "%s: cannot publish to %s: %s", ad->name,
                          ad->history_topic, kbus_strerror(rc));
out:
        if (rc)
                agg_free(agg);
        return rc;
}

int kbus_aggregate_from(kbus_aggregate *agg, const char *source, uint64_t seq) {
        const Kbus__AggregateRoot *root = agg->root;
        kbus_call *call = agg->call;
        char why[300];

        for (size_t i = 0; root && i < root->n_sources; i++) {
                if (strcmp(root->sources[i]->id, source) ||
                    seq > root->sources[i]->seq)
                        continue;
                call->rt->stats[KBUS_STAT_COMMANDS_REPEATED]++;
                snprintf(why, sizeof(why),
                         "%s %.*s saw number %" PRIu64 " from %s before "
                         "(%" PRIu64 " is the highest): a copy",
                         agg->t->ad->name,
                         (int)(agg->id_len > 64 ? 64 : agg->id_len),
                         (const char *)agg->id, seq, source,
                         root->sources[i]->seq);
                KBUS_LOGT(KBUS_LOG_INFO, "aggregate",
                          kbus_call_traceparent(call), "%s", why);
                if (wants_reply_type(call))
                        kbus_call_refuse(call, KBUS_ALREADY_EXISTS, why);
                else
                        kbus_call_ack(call);
                agg_free(agg);
                return KBUS_ALREADY_EXISTS;
        }
        kbus__free(agg->source);
        if (!(agg->source = kbus__strdup(source))) {
                fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                agg_free(agg);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        agg->seq = seq;
        return 0;
}

/* Puts the aggregate's entry back, with this command remembered (when it
 * has an id) with \p status, \p message and \p reply.  Nothing is written
 * when nothing changed. */
static int write_entry(kbus_aggregate *agg, int32_t status, const char *message,
                       const ProtobufCMessage *reply) {
        const Kbus__AggregateRoot *old = agg->root;
        Kbus__AggregateRoot root = KBUS__AGGREGATE_ROOT__INIT;
        Kbus__AggregateCommand cmd = KBUS__AGGREGATE_COMMAND__INIT;
        Kbus__AggregateSource src = KBUS__AGGREGATE_SOURCE__INIT;
        bool remembered = agg->command_id[0] != '\0';
        size_t n_old_srcs = old ? old->n_sources : 0, at = n_old_srcs;
        size_t n_old_events = old && !agg->snapshot_taken ? old->n_events : 0;
        size_t n_old_cmds = old ? old->n_commands : 0, skip = 0, limit;
        int rc = KBUS_RESOURCE_EXHAUSTED;

        if (!remembered && agg->n_added == 0 && !agg->source)
                return 0;
        root.version = agg->version;
        root.snapshot_version = agg->snapshot_version;
        if (agg->snapshot_taken) {
                root.snapshot.data = agg->snapshot;
                root.snapshot.len = agg->snapshot_len;
        } else if (old) {
                root.snapshot = old->snapshot;
        }
        root.n_events = n_old_events + agg->n_added - agg->tail_from;
        root.events = kbus__calloc(root.n_events + 1, sizeof(*root.events));
        limit = remember(agg->t->ad);
        if (remembered && n_old_cmds + 1 > limit)
                skip = n_old_cmds + 1 - limit;
        root.n_commands = n_old_cmds - skip + remembered;
        root.commands =
            kbus__calloc(root.n_commands + 1, sizeof(*root.commands));
        root.n_sources = n_old_srcs;
        root.sources = kbus__calloc(n_old_srcs + 1, sizeof(*root.sources));
        if (!root.events || !root.commands || !root.sources)
                goto out;
        for (size_t i = 0; i < n_old_srcs; i++) {
                root.sources[i] = old->sources[i];
                if (agg->source && !strcmp(old->sources[i]->id, agg->source))
                        at = i;
        }
        if (agg->source) {
                src.id = agg->source;
                src.seq = agg->seq;
                root.sources[at] = &src;
                if (at == n_old_srcs)
                        root.n_sources++;
        }
        for (size_t i = 0; i < n_old_events; i++)
                root.events[i] = old->events[i];
        for (size_t i = agg->tail_from; i < agg->n_added; i++)
                root.events[n_old_events + i - agg->tail_from] = agg->added[i];
        for (size_t i = skip; i < n_old_cmds; i++)
                root.commands[i - skip] = old->commands[i];
        if (remembered) {
                cmd.id = agg->command_id;
                cmd.fingerprint = agg->fingerprint;
                cmd.status = status;
                cmd.message = (char *)(message ? message : "");
                cmd.version = agg->version;
                if (reply &&
                    !(cmd.reply.data = kbus__pack(reply, &cmd.reply.len)))
                        goto out;
                root.commands[root.n_commands - 1] = &cmd;
        }
        rc = kbus_table_put(agg->call, &agg->t->table, agg->id, agg->id_len,
                            &root.base);
out:
        kbus__free(cmd.reply.data);
        kbus__free(root.events);
        kbus__free(root.commands);
        kbus__free(root.sources);
        return rc;
}

int kbus_aggregate_reply(kbus_aggregate *agg, const ProtobufCMessage *reply) {
        kbus_call *call = agg->call;
        bool wants = wants_reply_type(call);
        int rc;

        if (wants ? !reply || reply->descriptor != call->method->output
                  : reply != NULL) {
                fail(call, KBUS_INTERNAL, "%s: a reply of type %s, not %s",
                     agg->t->ad->name,
                     reply ? reply->descriptor->name : "(none)",
                     wants ? call->method->output->name : "(none)");
                agg_free(agg);
                return KBUS_INVALID_ARGUMENT;
        }
        rc = write_entry(agg, KBUS_OK, NULL, reply);
        if (rc)
                fail(call, rc, "%s: cannot write the aggregate: %s",
                     agg->t->ad->name, kbus_strerror(rc));
        else
                rc = wants ? kbus_call_reply(call, reply) : kbus_call_ack(call);
        agg_free(agg);
        return rc;
}

int kbus_aggregate_refuse(kbus_aggregate *agg, kbus_status code,
                          const char *message) {
        kbus_call *call = agg->call;
        int rc;

        if (code <= KBUS_OK || code > KBUS_UNAUTHENTICATED) {
                fail(call, KBUS_INTERNAL, "%s: refused with status %d",
                     agg->t->ad->name, (int)code);
                agg_free(agg);
                return KBUS_INVALID_ARGUMENT;
        }
        if (!message)
                message = kbus_status_name(code);
        rc = write_entry(agg, code, message, NULL);
        if (rc)
                fail(call, rc, "%s: cannot write the aggregate: %s",
                     agg->t->ad->name, kbus_strerror(rc));
        else
                rc = kbus_call_refuse(call, code, message);
        agg_free(agg);
        return rc;
}

int kbus_aggregate_fail(kbus_aggregate *agg, kbus_status code,
                        const char *message) {
        int rc = kbus_call_fail(agg->call, code, message);
        agg_free(agg);
        return rc;
}

/* ---- a replay from scratch ---- */

struct replay {
        const kbus_aggregate_desc *ad;
        const void *id;
        size_t len;
        kbus_history_fn fn;
        void *arg;
        ProtobufCMessage *state;
        uint8_t *packed;
        size_t packed_len;
        uint64_t version;
        char why[600];
};

/* One record of the history partition: another aggregate's, a repeat, the
 * next event, or a gap. */
static int replay_record(struct replay *r, const rd_kafka_message_t *m) {
        Kbus__AggregateEvent *e;
        ProtobufCMessage *ev = NULL;
        int rc = 0;

        if (m->key_len != r->len || memcmp(m->key, r->id, r->len))
                return 0;
        e = kbus__aggregate_event__unpack(&kbus__pb_allocator, m->len,
                                          m->payload);
        if (!e) {
                snprintf(r->why, sizeof(r->why),
                         "offset %" PRId64 " is not a kbus.AggregateEvent",
                         m->offset);
                return KBUS_DATA_LOSS;
        }
        if (strcmp(e->aggregate, r->ad->name) || e->version <= r->version)
                goto out; /* another type's, or an event sent again */
        if (e->version != r->version + 1) {
                snprintf(r->why, sizeof(r->why),
                         "version %" PRIu64 " follows %" PRIu64
                         " at offset %" PRId64 ": events are missing",
                         e->version, r->version, m->offset);
                rc = KBUS_DATA_LOSS;
                goto out;
        }
        rc = fold_stored(r->ad, &r->state, &r->packed, &r->packed_len, &e->data,
                         &ev);
        if (rc) {
                snprintf(r->why, sizeof(r->why),
                         "version %" PRIu64 " at offset %" PRId64
                         " does not apply",
                         e->version, m->offset);
                goto out;
        }
        r->version = e->version;
        if (r->fn) {
                rc = r->fn(e->version, e->time_ms, e->cause, e->correlation, ev,
                           r->state, r->arg);
                if (rc)
                        snprintf(r->why, sizeof(r->why),
                                 "stopped by the caller");
        }
out:
        if (ev)
                protobuf_c_message_free_unpacked(ev, &kbus__pb_allocator);
        kbus__aggregate_event__free_unpacked(e, &kbus__pb_allocator);
        return rc;
}

/* Milliseconds left until \p deadline, at most \p cap. */
static int remaining_ms(int64_t deadline, int cap) {
        int64_t left = deadline - kbus__now_ms();
        return left < 0 ? 0 : left > cap ? cap : (int)left;
}

/* Reads partition \p part of the history topic from \p lo up to \p hi. */
static int replay_read(struct replay *r, rd_kafka_t *rk, const char *topic,
                       int32_t part, int64_t lo, int64_t hi, int64_t deadline) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        int64_t next = lo;
        int rc = 0;

        rd_kafka_topic_partition_list_add(l, topic, part)->offset = lo;
        if (rd_kafka_assign(rk, l)) {
                rd_kafka_topic_partition_list_destroy(l);
                snprintf(r->why, sizeof(r->why),
                         "cannot assign %s [%" PRId32 "]", topic, part);
                return KBUS_UNAVAILABLE;
        }
        rd_kafka_topic_partition_list_destroy(l);
        while (!rc && next < hi) {
                rd_kafka_message_t *m =
                    rd_kafka_consumer_poll(rk, remaining_ms(deadline, 1000));
                if (!m) {
                        if (kbus__now_ms() >= deadline) {
                                snprintf(r->why, sizeof(r->why),
                                         "read %s [%" PRId32 "] up to offset "
                                         "%" PRId64 " of %" PRId64,
                                         topic, part, next, hi);
                                rc = KBUS_DEADLINE_EXCEEDED;
                        }
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* The end moved back (records dropped): done. */
                        next = hi;
                } else if (m->err) {
                        snprintf(r->why, sizeof(r->why), "%s [%" PRId32 "]: %s",
                                 topic, part, rd_kafka_message_errstr(m));
                        rc = KBUS_UNAVAILABLE;
                } else {
                        rc = replay_record(r, m);
                        next = m->offset + 1;
                }
                rd_kafka_message_destroy(m);
        }
        return rc;
}

int kbus_aggregate_replay(kbus_runtime *rt, const kbus_aggregate_desc *ad,
                          const void *id, size_t len, kbus_history_fn fn,
                          void *arg, ProtobufCMessage **statep,
                          uint64_t *versionp, int timeout_ms) {
        struct replay r = {ad, id, len, fn, arg};
        int64_t deadline = kbus__now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk = NULL;
        char err[512];
        int64_t lo = 0, hi = 0;
        int32_t part;
        int rc;

        if (statep)
                *statep = NULL;
        if (versionp)
                *versionp = 0;
        if (!ad || !ad->history_topic || !ad->state || !ad->event ||
            !ad->apply || !id || !len)
                return KBUS_INVALID_ARGUMENT;
        if (!(r.packed = kbus__malloc(1)) ||
            !(r.state = state_decode(ad, NULL, 0))) {
                kbus__free(r.packed);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        rc = kbus__kafka_conf(&rt->site, true, &conf, err, sizeof(err));
        if (rc) {
                snprintf(r.why, sizeof(r.why), "%s", err);
                goto out;
        }
        /* Read by assign(): no group is joined, nothing is committed. */
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(conf, "group.id", ad->history_topic, NULL, 0);
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
                rd_kafka_conf_destroy(conf);
                snprintf(r.why, sizeof(r.why), "%s", err);
                rc = KBUS_INTERNAL;
                goto out;
        }
        rd_kafka_poll_set_consumer(rk);
        rkt = rd_kafka_topic_new(rk, ad->history_topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md,
                              remaining_ms(deadline, INT32_MAX)) ||
            !md || md->topic_cnt != 1) {
                snprintf(r.why, sizeof(r.why), "no metadata for %s",
                         ad->history_topic);
                rc = KBUS_UNAVAILABLE;
                goto out;
        }
        if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            md->topics[0].partition_cnt == 0)
                goto out; /* no topic yet: no events */
        if (md->topics[0].err) {
                snprintf(r.why, sizeof(r.why), "%s: %s", ad->history_topic,
                         rd_kafka_err2str(md->topics[0].err));
                rc = KBUS_UNAVAILABLE;
                goto out;
        }
        /* Where kbus's producers put this key (murmur2, as Java clients). */
        part = rd_kafka_msg_partitioner_murmur2_random(
            NULL, id, len, md->topics[0].partition_cnt, NULL, NULL);
        if (rd_kafka_query_watermark_offsets(
                rk, ad->history_topic, part, &lo, &hi,
                remaining_ms(deadline, INT32_MAX))) {
                snprintf(r.why, sizeof(r.why),
                         "no offsets for %s [%" PRId32 "]", ad->history_topic,
                         part);
                rc = KBUS_UNAVAILABLE;
                goto out;
        }
        if (hi > lo)
                rc = replay_read(&r, rk, ad->history_topic, part, lo, hi,
                                 deadline);
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        if (rc)
                KBUS_LOG(KBUS_LOG_WARN, "aggregate", "replay of %s %.*s: %s",
                         ad->name, (int)(len > 64 ? 64 : len), (const char *)id,
                         r.why);
        if (!rc && statep) {
                *statep = r.state;
                r.state = NULL;
        }
        if (!rc && versionp)
                *versionp = r.version;
        if (r.state)
                protobuf_c_message_free_unpacked(r.state, &kbus__pb_allocator);
        kbus__free(r.packed);
        return rc;
}
