/*
 * Building the model of one .proto file (see model.h).
 *
 * Errors are collected rather than reported one at a time, so a user sees
 * every problem of a file in one protoc run.  Each names the file and the
 * service and method, or the message and field, the way protoc's own
 * diagnostics do.
 */
#include "model.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kbus/options.pb-c.h"
#include "names.h"
#include "options.h"

/* Field numbers in descriptor.proto, for SourceCodeInfo paths. */
#define PATH_FILE_MESSAGE 4
#define PATH_FILE_SERVICE 6
#define PATH_MESSAGE_NESTED 3
#define PATH_SERVICE_METHOD 2

/* Kafka's limit on topic names (kafka.common.internals.Topic). */
#define TOPIC_MAX 249
/* A table's changelog topic is "<group>.<name>.changelog": its name must
 * leave room for the suffix, the dot and a group of one character at
 * least; the group itself is only known at run time. */
#define CHANGELOG_SUFFIX ".changelog"
#define TABLE_NAME_MAX (TOPIC_MAX - ((int)sizeof CHANGELOG_SUFFIX - 1) - 2)

typedef Google__Protobuf__FieldDescriptorProto field_proto;
typedef Google__Protobuf__ServiceDescriptorProto service_proto;
typedef Google__Protobuf__MethodDescriptorProto method_proto;

/* ------------------------------------------------------------------ */
/* Registry                                                            */
/* ------------------------------------------------------------------ */

static void registry_add(registry *reg, size_t *cap, const file_proto *fd,
                         const char *c_package, const char *scope,
                         const message_proto *msg) {
        const char *package = fd->package ? fd->package : "";
        char *full =
            *scope ? xasprintf("%s.%s", scope, msg->name) : xstrdup(msg->name);
        mtype *t;

        if (reg->n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                reg->types = xrealloc(reg->types, *cap * sizeof *reg->types);
        }
        t = &reg->types[reg->n++];
        t->full_name = full;
        t->c_type = names_c_type(full, package, c_package);
        t->c_desc = names_c_lower(full, package, c_package);
        t->msg = msg;
        t->file = fd;
        for (size_t i = 0; i < msg->n_nested_type; i++)
                registry_add(reg, cap, fd, c_package, full,
                             msg->nested_type[i]);
}

static int cmp_type(const void *a, const void *b) {
        return strcmp(((const mtype *)a)->full_name,
                      ((const mtype *)b)->full_name);
}

void registry_build(
    registry *reg,
    const Google__Protobuf__Compiler__CodeGeneratorRequest *req) {
        size_t cap = 0;

        reg->types = NULL;
        reg->n = 0;
        reg->files = req->proto_file;
        reg->n_files = req->n_proto_file;
        for (size_t f = 0; f < req->n_proto_file; f++) {
                const file_proto *fd = req->proto_file[f];
                char *c_package =
                    options_c_package((const ProtobufCMessage *)fd->options);

                for (size_t i = 0; i < fd->n_message_type; i++)
                        registry_add(reg, &cap, fd, c_package,
                                     fd->package ? fd->package : "",
                                     fd->message_type[i]);
                free(c_package);
        }
        if (reg->n > 0)
                qsort(reg->types, reg->n, sizeof *reg->types, cmp_type);
        /* c_desc so far is protobuf-c's lower-case name; add the suffix
         * once here rather than at every use. */
        for (size_t i = 0; i < reg->n; i++) {
                char *d = xasprintf("%s__descriptor", reg->types[i].c_desc);

                free(reg->types[i].c_desc);
                reg->types[i].c_desc = d;
        }
}

void registry_fini(registry *reg) {
        for (size_t i = 0; i < reg->n; i++) {
                free(reg->types[i].full_name);
                free(reg->types[i].c_type);
                free(reg->types[i].c_desc);
        }
        free(reg->types);
        reg->types = NULL;
        reg->n = 0;
}

const mtype *registry_find(const registry *reg, const char *name) {
        mtype key;

        if (reg->n == 0)
                return NULL;
        key.full_name = (char *)(name[0] == '.' ? name + 1 : name);
        return bsearch(&key, reg->types, reg->n, sizeof *reg->types, cmp_type);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* State while building one file's model. */
typedef struct builder {
        mfile *mf;
        const registry *reg;
        const file_proto *fd;
        buf *errors;
        buf *warnings;
        int n_errors;
        char *pkg_prefix; /* "hello_v1" */
        /* Every file-scope C name we generate, to catch collisions. */
        struct cname {
                const char *name;
                char *owner;
                size_t order;
        } * cnames;
        size_t n_cnames, cap_cnames;
} builder;

static void report(builder *b, const char *fmt, ...) KBUS_PRINTF(2, 3);

static void report(builder *b, const char *fmt, ...) {
        va_list ap;

        if (b->errors->len > 0)
                buf_putc(b->errors, '\n');
        buf_printf(b->errors, "%s: ", b->fd->name);
        va_start(ap, fmt);
        buf_vprintf(b->errors, fmt, ap);
        va_end(ap);
        b->n_errors++;
}

static void cname_add(builder *b, const char *name, const char *owner) {
        if (b->n_cnames == b->cap_cnames) {
                b->cap_cnames = b->cap_cnames ? b->cap_cnames * 2 : 32;
                b->cnames =
                    xrealloc(b->cnames, b->cap_cnames * sizeof *b->cnames);
        }
        b->cnames[b->n_cnames].name = name;
        b->cnames[b->n_cnames].owner = xstrdup(owner);
        b->cnames[b->n_cnames].order = b->n_cnames;
        b->n_cnames++;
}

static int cmp_cname(const void *a, const void *b) {
        const struct cname *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        if (c != 0)
                return c;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Two declarations with one name would not compile; say which parts of
 * the .proto clash instead. */
static void check_cnames(builder *b) {
        if (b->n_cnames > 1)
                qsort(b->cnames, b->n_cnames, sizeof *b->cnames, cmp_cname);
        for (size_t i = 1; i < b->n_cnames; i++) {
                const struct cname *x = &b->cnames[i - 1], *y = &b->cnames[i];
                bool seen = false;

                if (strcmp(x->name, y->name) != 0)
                        continue;
                /* One report per pair of clashing parts is enough. */
                for (size_t j = 1; j < i && !seen; j++)
                        seen = strcmp(b->cnames[j - 1].name,
                                      b->cnames[j].name) == 0 &&
                               strcmp(b->cnames[j - 1].owner, x->owner) == 0 &&
                               strcmp(b->cnames[j].owner, y->owner) == 0;
                if (!seen)
                        report(b,
                               "%s: generated C name %s is also generated "
                               "for %s; rename one of them",
                               y->owner, y->name, x->owner);
        }
        for (size_t i = 0; i < b->n_cnames; i++)
                free(b->cnames[i].owner);
        free(b->cnames);
        b->cnames = NULL;
        b->n_cnames = b->cap_cnames = 0;
}

/* The leading comment of the element at \p path, trimmed, or NULL. */
static char *find_comment(const file_proto *fd, const int32_t *path, size_t n) {
        const Google__Protobuf__SourceCodeInfo *sci = fd->source_code_info;

        if (sci == NULL)
                return NULL;
        for (size_t i = 0; i < sci->n_location; i++) {
                const Google__Protobuf__SourceCodeInfo__Location *loc =
                    sci->location[i];
                const char *c = loc->leading_comments;
                size_t len;

                if (loc->n_path != n ||
                    memcmp(loc->path, path, n * sizeof *path) != 0)
                        continue;
                if (c == NULL)
                        return NULL;
                len = strlen(c);
                while (len > 0 && (c[len - 1] == '\n' || c[len - 1] == ' ' ||
                                   c[len - 1] == '\t' || c[len - 1] == '\r'))
                        len--;
                if (len == 0)
                        return NULL;
                char *s = xmalloc(len + 1);
                memcpy(s, c, len);
                s[len] = '\0';
                return s;
        }
        return NULL;
}

static bool valid_topic(const char *t) {
        size_t n = strlen(t);

        if (n == 0 || n > TOPIC_MAX || strcmp(t, ".") == 0 ||
            strcmp(t, "..") == 0)
                return false;
        return strspn(t, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The .proto spelling of a field type, for messages. */
static const char *
type_name(Google__Protobuf__FieldDescriptorProto__Type type) {
        static const char *const names[] = {
            [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE] =
                "double",
            [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT] =
                "float",
            [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL] =
                "bool",
            [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP] =
                "group",
            [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE] =
                "message",
            [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM] =
                "enum",
        };

        if ((size_t)type < sizeof names / sizeof names[0] && names[type])
                return names[type];
        return "?";
}

/*
 * Checks that \p name is a field of \p t usable as a record key; appends
 * an error after \p what ("service S, method M: key_field") if not.
 * libkbus turns strings, bytes and integers into keys (keys.c); it reads
 * the field at its offset, so a member of a oneof, which shares its
 * storage with the others, cannot be one.
 */
static void check_key_field(builder *b, const char *what, const char *name,
                            const mtype *t) {
        const field_proto *f = NULL;
        const char *why = NULL;

        if (*name == '\0') {
                report(b, "%s is empty", what);
                return;
        }
        for (size_t i = 0; i < t->msg->n_field; i++)
                if (strcmp(t->msg->field[i]->name, name) == 0)
                        f = t->msg->field[i];
        if (f == NULL) {
                report(b, "%s \"%s\" is not a field of %s", what, name,
                       t->full_name);
                return;
        }
        if (f->label ==
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED)
                why = "is a repeated field";
        else if (f->has_oneof_index && !f->proto3_optional)
                why = "is a member of a oneof";
        switch (f->type) {
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64:
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64:
                break;
        default:
                if (why == NULL) {
                        report(b,
                               "%s \"%s\" is a %s field of %s; a key must "
                               "be a single string, bytes or integer field",
                               what, name, type_name(f->type), t->full_name);
                        return;
                }
        }
        if (why != NULL)
                report(b,
                       "%s \"%s\" %s of %s; a key must be a single "
                       "string, bytes or integer field",
                       what, name, why, t->full_name);
}

static void read_retry(builder *b, const char *what,
                       const Kbus__RetryPolicy *rp, mretry *r) {
        memset(r, 0, sizeof *r);
        if (rp == NULL)
                return;
        r->max_attempts = rp->max_attempts;
        r->initial_backoff_ms = rp->initial_backoff_ms;
        r->max_backoff_ms = rp->max_backoff_ms;
        r->multiplier = rp->multiplier;
        /* 0 is "the runtime default"; anything else below 1 would shrink
         * the backoff, and NaN or infinity cannot be printed as C. */
        if (!isfinite(r->multiplier) ||
            (r->multiplier != 0.0 && r->multiplier < 1.0))
                report(b,
                       "%s: retry.multiplier must be at least 1 (or 0 for "
                       "the default)",
                       what);
        if (r->initial_backoff_ms && r->max_backoff_ms &&
            r->initial_backoff_ms > r->max_backoff_ms)
                report(b,
                       "%s: retry.initial_backoff_ms (%u) is larger than "
                       "retry.max_backoff_ms (%u)",
                       what, (unsigned)r->initial_backoff_ms,
                       (unsigned)r->max_backoff_ms);
}

/* Decodes extension \p number of \p opts, reporting undecodable values. */
static ProtobufCMessage *get_ext(builder *b, const char *what, const void *opts,
                                 uint32_t number,
                                 const ProtobufCMessageDescriptor *desc) {
        const char *err;
        int present;
        ProtobufCMessage *m = options_get((const ProtobufCMessage *)opts,
                                          number, desc, &present, &err);

        if (err != NULL)
                report(b, "%s: %s", what, err);
        return m;
}

static void add_include(mfile *mf, const char *proto_file) {
        char *base = names_strip_proto(proto_file);
        char *h = xasprintf("%s.pb-c.h", base);

        free(base);
        for (size_t i = 0; i < mf->n_includes; i++) {
                if (strcmp(mf->includes[i], h) == 0) {
                        free(h);
                        return;
                }
        }
        mf->includes =
            xrealloc(mf->includes, (mf->n_includes + 1) * sizeof *mf->includes);
        mf->includes[mf->n_includes++] = h;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------------ */
/* Messages: proto3 optional, events, tables                           */
/* ------------------------------------------------------------------ */

static void build_event(builder *b, const mtype *t,
                        const Kbus__EventOptions *eo, const int32_t *path,
                        size_t n_path) {
        mfile *mf = b->mf;
        mevent *ev;
        char *what = xasprintf("message %s", t->full_name);
        const char *pkg = b->fd->package ? b->fd->package : "";
        /* The name inside the package: "Order.Item". */
        const char *rel = *pkg ? t->full_name + strlen(pkg) + 1 : t->full_name;
        char *prefix = names_kbus(b->pkg_prefix, rel);

        mf->events =
            xrealloc(mf->events, (mf->n_events + 1) * sizeof *mf->events);
        ev = &mf->events[mf->n_events++];
        memset(ev, 0, sizeof *ev);
        ev->msg = t;
        ev->desc_var = xasprintf("%s__event", prefix);
        ev->handler_type = xasprintf("%s_handler", prefix);
        ev->publish_fn = xasprintf("%s_publish", prefix);
        ev->publish_from_fn = xasprintf("%s_publish_from", prefix);
        ev->publish_confirmed_fn = xasprintf("%s_publish_confirmed", prefix);
        ev->subscribe_fn = xasprintf("%s_subscribe", prefix);
        ev->deliver_fn = xasprintf("%s__deliver", prefix);
        ev->comment = find_comment(b->fd, path, n_path);

        if (eo->topic != NULL) {
                if (!valid_topic(eo->topic))
                        report(b,
                               "%s: (kbus.event).topic \"%s\" is not a "
                               "valid Kafka topic name (1 to %d of "
                               "[a-zA-Z0-9._-])",
                               what, eo->topic, TOPIC_MAX);
                ev->topic = xstrdup(eo->topic);
        } else {
                if (!valid_topic(t->full_name))
                        report(b,
                               "%s: the name is too long for a Kafka "
                               "topic; set (kbus.event).topic",
                               what);
                ev->topic = xstrdup(t->full_name);
        }
        if (eo->key_field != NULL) {
                char *w = xasprintf("%s: (kbus.event).key_field", what);

                check_key_field(b, w, eo->key_field, t);
                free(w);
                ev->key_field = xstrdup(eo->key_field);
        }
        if (!eo->dead_letter)
                ev->flags |= MODEL_NO_DEAD_LETTER;
        if (eo->compacted)
                ev->flags |= MODEL_COMPACTED;
        read_retry(b, what, eo->retry, &ev->retry);

        cname_add(b, ev->desc_var, what);
        cname_add(b, ev->handler_type, what);
        cname_add(b, ev->publish_fn, what);
        cname_add(b, ev->publish_from_fn, what);
        cname_add(b, ev->publish_confirmed_fn, what);
        cname_add(b, ev->subscribe_fn, what);
        cname_add(b, ev->deliver_fn, what);
        free(prefix);
        free(what);
}

static bool valid_table_name(const char *name) {
        size_t n = strlen(name);

        return n > 0 && n <= (size_t)TABLE_NAME_MAX &&
               strspn(name, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void build_table(builder *b, const mtype *t,
                        const Kbus__TableOptions *to, const int32_t *path,
                        size_t n_path) {
        mfile *mf = b->mf;
        mtable *tb;
        char *what = xasprintf("message %s", t->full_name);
        const char *pkg = b->fd->package ? b->fd->package : "";
        const char *rel = *pkg ? t->full_name + strlen(pkg) + 1 : t->full_name;
        char *prefix = names_kbus(b->pkg_prefix, rel);

        mf->tables =
            xrealloc(mf->tables, (mf->n_tables + 1) * sizeof *mf->tables);
        tb = &mf->tables[mf->n_tables++];
        memset(tb, 0, sizeof *tb);
        tb->msg = t;
        tb->desc_var = xasprintf("%s__table", prefix);
        tb->attach_fn = xasprintf("%s_attach", prefix);
        tb->get_fn = xasprintf("%s_get", prefix);
        tb->put_fn = xasprintf("%s_put", prefix);
        tb->delete_fn = xasprintf("%s_delete", prefix);
        tb->scan_fn = xasprintf("%s_scan", prefix);
        tb->scan_fn_type = xasprintf("%s_scan_fn", prefix);
        tb->scan_ctx = xasprintf("%s__scan_ctx", prefix);
        tb->scan_entry_fn = xasprintf("%s__scan_entry", prefix);
        tb->comment = find_comment(b->fd, path, n_path);

        if (to->name != NULL) {
                if (!valid_table_name(to->name))
                        report(b,
                               "%s: (kbus.table).name \"%s\" is not a "
                               "valid table name (1 to %d of [a-zA-Z0-9._-]; "
                               "it names the changelog topic "
                               "\"<group>.<name>%s\")",
                               what, to->name, TABLE_NAME_MAX,
                               CHANGELOG_SUFFIX);
                tb->name = xstrdup(to->name);
        } else {
                /* The simple name: "Count" for demo.v1.Count, "Item" for
                 * shop.v1.Order.Item.  Only its length can be wrong. */
                const char *simple = t->msg->name;

                if (!valid_table_name(simple))
                        report(b,
                               "%s: the name is too long for a table "
                               "(at most %d characters); set "
                               "(kbus.table).name",
                               what, TABLE_NAME_MAX);
                tb->name = xstrdup(simple);
        }
        /* Two tables of one name would share a changelog topic, and the
         * runtime would refuse the second; say so now.  Other files of
         * the program are not visible here. */
        for (size_t i = 0; i + 1 < mf->n_tables; i++)
                if (strcmp(mf->tables[i].name, tb->name) == 0)
                        report(b,
                               "%s: table name \"%s\" is also the name "
                               "of the table of message %s; set "
                               "(kbus.table).name on one of them",
                               what, tb->name, mf->tables[i].msg->full_name);

        cname_add(b, tb->desc_var, what);
        cname_add(b, tb->attach_fn, what);
        cname_add(b, tb->get_fn, what);
        cname_add(b, tb->put_fn, what);
        cname_add(b, tb->delete_fn, what);
        cname_add(b, tb->scan_fn, what);
        cname_add(b, tb->scan_fn_type, what);
        cname_add(b, tb->scan_ctx, what);
        cname_add(b, tb->scan_entry_fn, what);
        free(prefix);
        free(what);
}

static void walk_message(builder *b, const char *scope,
                         const message_proto *msg, int32_t *path,
                         size_t n_path) {
        char *full =
            *scope ? xasprintf("%s.%s", scope, msg->name) : xstrdup(msg->name);
        const mtype *t = registry_find(b->reg, full);
        char *what = xasprintf("message %s", full);
        Kbus__EventOptions *eo;
        Kbus__TableOptions *to;

        for (size_t i = 0; i < msg->n_field; i++) {
                /* protobuf-c 1.4 refuses them, so the .pb-c.h we build on
                 * would not exist. */
                if (msg->field[i]->proto3_optional)
                        report(b,
                               "%s, field %s: proto3 optional fields are "
                               "not supported (protobuf-c 1.4 cannot generate "
                               "them); use a wrapper type from "
                               "google/protobuf/wrappers.proto or a oneof",
                               what, msg->field[i]->name);
        }
        eo =
            (Kbus__EventOptions *)get_ext(b, what, msg->options, KBUS_EXT_EVENT,
                                          &kbus__event_options__descriptor);
        if (eo != NULL && t != NULL)
                build_event(b, t, eo, path, n_path);
        if (eo != NULL)
                protobuf_c_message_free_unpacked(&eo->base, NULL);
        /* A message may be both an event and a table's value. */
        to =
            (Kbus__TableOptions *)get_ext(b, what, msg->options, KBUS_EXT_TABLE,
                                          &kbus__table_options__descriptor);
        if (to != NULL && t != NULL)
                build_table(b, t, to, path, n_path);
        if (to != NULL)
                protobuf_c_message_free_unpacked(&to->base, NULL);

        for (size_t i = 0; i < msg->n_nested_type; i++) {
                path[n_path] = PATH_MESSAGE_NESTED;
                path[n_path + 1] = (int32_t)i;
                walk_message(b, full, msg->nested_type[i], path, n_path + 2);
        }
        free(what);
        free(full);
}

/* Deepest nesting of messages in \p msg, for sizing paths. */
static size_t depth(const message_proto *msg) {
        size_t d = 0;

        for (size_t i = 0; i < msg->n_nested_type; i++) {
                size_t x = depth(msg->nested_type[i]);

                if (x > d)
                        d = x;
        }
        return d + 1;
}

/* ------------------------------------------------------------------ */
/* Services                                                            */
/* ------------------------------------------------------------------ */

static void build_method(builder *b, mservice *s, const char *prefix,
                         const char *swhat, const method_proto *m, mmethod *mm,
                         const int32_t *path) {
        char *what = xasprintf("%s, method %s", swhat, m->name);
        char *snake = names_snake(m->name);
        Kbus__MethodOptions *mo;

        memset(mm, 0, sizeof *mm);
        mm->name = m->name;
        mm->path = xasprintf("/%s/%s", s->full_name, m->name);
        mm->member =
            names_is_reserved(snake) ? xasprintf("%s_", snake) : xstrdup(snake);
        mm->fn = xasprintf("%s_%s", prefix, snake);
        mm->cb_type = xasprintf("%s_%s_cb", prefix, snake);
        mm->dispatch_fn = xasprintf("%s_%s__dispatch", prefix, snake);
        mm->complete_fn = xasprintf("%s_%s__complete", prefix, snake);
        mm->comment = find_comment(b->fd, path, 4);

        if (m->client_streaming || m->server_streaming)
                report(b, "%s: streaming methods are not supported by kbus",
                       what);
        mm->in = registry_find(b->reg, m->input_type);
        mm->out = registry_find(b->reg, m->output_type);
        if (mm->in == NULL || mm->out == NULL) {
                /* protoc resolved these already; a miss means a request
                 * without the dependency's descriptor. */
                report(b, "%s: type %s not found in the request", what,
                       mm->in == NULL ? m->input_type : m->output_type);
        } else {
                add_include(b->mf, mm->in->file->name);
                add_include(b->mf, mm->out->file->name);
        }

        mo =
            (Kbus__MethodOptions *)get_ext(b, what, m->options, KBUS_EXT_METHOD,
                                           &kbus__method_options__descriptor);
        if (mo != NULL) {
                if (mo->timeout_ms < 0)
                        report(b,
                               "%s: (kbus.method).timeout_ms must not be "
                               "negative (got %lld)",
                               what, (long long)mo->timeout_ms);
                mm->timeout_ms = mo->timeout_ms;
                if (mo->one_way)
                        mm->flags |= MODEL_ONE_WAY;
                if (mo->idempotent)
                        mm->flags |= MODEL_IDEMPOTENT;
                if (!mo->dead_letter)
                        mm->flags |= MODEL_NO_DEAD_LETTER;
                if (mo->key_field != NULL) {
                        char *w =
                            xasprintf("%s: (kbus.method).key_field", what);

                        if (mm->in != NULL)
                                check_key_field(b, w, mo->key_field, mm->in);
                        free(w);
                        mm->key_field = xstrdup(mo->key_field);
                }
                read_retry(b, what, mo->retry, &mm->retry);
                protobuf_c_message_free_unpacked(&mo->base, NULL);
        }
        /* A one-way method has no reply to send, so no typed reply. */
        if (!(mm->flags & MODEL_ONE_WAY)) {
                mm->reply_fn = xasprintf("%s_%s_reply", prefix, snake);
                cname_add(b, mm->reply_fn, what);
        }
        cname_add(b, mm->fn, what);
        cname_add(b, mm->cb_type, what);
        cname_add(b, mm->dispatch_fn, what);
        cname_add(b, mm->complete_fn, what);
        free(snake);
        free(what);
}

static void build_service(builder *b, const service_proto *sp, size_t index) {
        mfile *mf = b->mf;
        const char *pkg = b->fd->package ? b->fd->package : "";
        mservice *s = &mf->services[mf->n_services++];
        char *prefix = names_kbus(b->pkg_prefix, sp->name);
        char *swhat;
        int32_t path[4] = {PATH_FILE_SERVICE, (int32_t)index,
                           PATH_SERVICE_METHOD, 0};
        Kbus__ServiceOptions *so;

        memset(s, 0, sizeof *s);
        s->full_name =
            *pkg ? xasprintf("%s.%s", pkg, sp->name) : xstrdup(sp->name);
        swhat = xasprintf("service %s", s->full_name);
        s->desc_var = xasprintf("%s__service", prefix);
        s->methods_var = xasprintf("%s__methods", prefix);
        s->handlers_type = xasprintf("%s_handlers", prefix);
        s->serve_fn = xasprintf("%s_serve", prefix);
        s->comment = find_comment(b->fd, path, 2);
        cname_add(b, s->desc_var, swhat);
        cname_add(b, s->methods_var, swhat);
        cname_add(b, s->handlers_type, swhat);
        cname_add(b, s->serve_fn, swhat);

        so = (Kbus__ServiceOptions *)get_ext(
            b, swhat, sp->options, KBUS_EXT_SERVICE,
            &kbus__service_options__descriptor);
        if (so != NULL && so->topic != NULL) {
                if (!valid_topic(so->topic))
                        report(b,
                               "%s: (kbus.service).topic \"%s\" is not a "
                               "valid Kafka topic name (1 to %d of "
                               "[a-zA-Z0-9._-])",
                               swhat, so->topic, TOPIC_MAX);
                s->topic = xstrdup(so->topic);
        } else {
                if (!valid_topic(s->full_name))
                        report(b,
                               "%s: the name is too long for a Kafka "
                               "topic; set (kbus.service).topic",
                               swhat);
                s->topic = xstrdup(s->full_name);
        }
        if (so != NULL)
                protobuf_c_message_free_unpacked(&so->base, NULL);

        s->methods = xcalloc(sp->n_method, sizeof *s->methods);
        for (size_t i = 0; i < sp->n_method; i++) {
                path[3] = (int32_t)i;
                build_method(b, s, prefix, swhat, sp->method[i], &s->methods[i],
                             path);
                s->n_methods++;
        }
        /* protoc-c declares a stub per method in the same header, named
         * <service>__<method>: without a package it can meet ours
         * (service Foo, method Service -> foo__service). */
        {
                char *c_package =
                    options_c_package((const ProtobufCMessage *)b->fd->options);
                char *svc_lc = names_c_lower(s->full_name, pkg, c_package);

                for (size_t i = 0; i < s->n_methods; i++) {
                        char *m_lc =
                            names_c_lower(s->methods[i].name, "", NULL);
                        char *owner = xasprintf("protoc-c's stub of %s, "
                                                "method %s",
                                                swhat, s->methods[i].name);

                        s->methods[i].protoc_c_stub =
                            xasprintf("%s__%s", svc_lc, m_lc);
                        cname_add(b, s->methods[i].protoc_c_stub, owner);
                        free(owner);
                        free(m_lc);
                }
                free(svc_lc);
                free(c_package);
        }
        /* Handler table members share one struct, apart from the file
         * scope names checked in check_cnames(). */
        for (size_t i = 0; i < s->n_methods; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->methods[i].member,
                                   s->methods[j].member) == 0)
                                report(b,
                                       "%s, method %s: handler name %s is "
                                       "also used by method %s; rename one "
                                       "of them",
                                       swhat, s->methods[i].name,
                                       s->methods[i].member,
                                       s->methods[j].name);
        free(swhat);
        free(prefix);
}

/* ------------------------------------------------------------------ */
/* protoc-c's service members                                          */
/* ------------------------------------------------------------------ */

/*
 * protoc-c 1.4 emits, for every service, a struct with one function
 * pointer per method named by lower-casing the method name, without
 * escaping C keywords: `rpc Register` gives `void (*register)(...)`, and
 * its .pb-c.h no longer compiles.  Keywords that never occur in the text of
 * a protoc-c header outside macro bodies can be #defined away while it is
 * read; the .kbus.h does that.  The others cannot be worked around.
 */
static const char *const statement_keywords[] = {
    "auto",   "break",  "case",   "continue", "default",  "do",       "else",
    "for",    "goto",   "if",     "inline",   "register", "restrict", "return",
    "sizeof", "static", "switch", "volatile", "while",
};
/* C++ keywords that are not C's: a C++ file including the .kbus.h needs
 * them hidden too.  Alternative tokens (and, or, not...) cannot be macro
 * names in C++ and are left out. */
static const char *const cxx_keywords[] = {
    "alignas",       "alignof",      "asm",
    "bool",          "catch",        "char16_t",
    "char32_t",      "class",        "constexpr",
    "const_cast",    "decltype",     "delete",
    "dynamic_cast",  "explicit",     "export",
    "false",         "friend",       "mutable",
    "namespace",     "new",          "noexcept",
    "nullptr",       "operator",     "private",
    "protected",     "public",       "reinterpret_cast",
    "static_assert", "static_cast",  "template",
    "this",          "thread_local", "throw",
    "true",          "try",          "typeid",
    "typename",      "using",        "virtual",
    "wchar_t",
};
static const char *const type_keywords[] = {
    "char",   "const",   "double", "enum",     "extern",
    "float",  "int",     "long",   "short",    "signed",
    "struct", "typedef", "union",  "unsigned", "void",
};

static bool in_list(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void add_shim(char ***list, size_t *n, const char *kw) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*list)[i], kw) == 0)
                        return;
        *list = xrealloc(*list, (*n + 1) * sizeof **list);
        (*list)[(*n)++] = xstrdup(kw);
}

/* Checks one method of a service of \p fd for a protoc-c member name
 * that is a C keyword. */
static void protoc_c_member(builder *b, const file_proto *fd,
                            const service_proto *sp, const char *method) {
        bool own = fd == b->fd;
        char *member = names_c_lower(method, "", NULL);
        char *where =
            fd->package && *fd->package
                ? xasprintf("service %s.%s, method %s", fd->package, sp->name,
                            method)
                : xasprintf("service %s, method %s", sp->name, method);

        if (in_list(member, statement_keywords, N_OF(statement_keywords))) {
                add_shim(&b->mf->shim, &b->mf->n_shim, member);
                if (own)
                        buf_printf(b->warnings,
                                   "protoc-gen-kbus: warning: %s: %s: "
                                   "protoc-c names a struct member "
                                   "\"%s\" after this method; the .kbus.h "
                                   "works around it, but compile %s.pb-c.c "
                                   "with -D%s=%s_\n",
                                   fd->name, where, member, b->mf->base, member,
                                   member);
        } else if (in_list(member, cxx_keywords, N_OF(cxx_keywords))) {
                add_shim(&b->mf->shim_cxx, &b->mf->n_shim_cxx, member);
        } else if (own && in_list(member, type_keywords, N_OF(type_keywords))) {
                report(b,
                       "%s: protoc-c names a struct member \"%s\" after "
                       "this method, which does not compile; rename the "
                       "method",
                       where, member);
        }
        free(where);
        free(member);
}

/* Visits \p fd and, depth first, every file it imports, once each: the
 * protoc-c headers a .kbus.h pulls in are those of exactly these files.
 * Looking at other files of the request would make one file's output
 * depend on what else is on the command line. */
static void visit_imports(builder *b, const file_proto *fd,
                          const file_proto **seen, size_t *n_seen) {
        for (size_t i = 0; i < *n_seen; i++)
                if (seen[i] == fd)
                        return;
        seen[(*n_seen)++] = fd;
        for (size_t i = 0; i < fd->n_service; i++)
                for (size_t j = 0; j < fd->service[i]->n_method; j++)
                        protoc_c_member(b, fd, fd->service[i],
                                        fd->service[i]->method[j]->name);
        for (size_t d = 0; d < fd->n_dependency; d++)
                for (size_t f = 0; f < b->reg->n_files; f++)
                        if (strcmp(b->reg->files[f]->name, fd->dependency[d]) ==
                            0)
                                visit_imports(b, b->reg->files[f], seen,
                                              n_seen);
}

static void protoc_c_member_clash(builder *b) {
        const file_proto **seen = xcalloc(b->reg->n_files + 1, sizeof *seen);
        size_t n_seen = 0;

        visit_imports(b, b->fd, seen, &n_seen);
        free(seen);
        if (b->mf->n_shim > 1)
                qsort(b->mf->shim, b->mf->n_shim, sizeof *b->mf->shim,
                      cmp_strp);
        if (b->mf->n_shim_cxx > 1)
                qsort(b->mf->shim_cxx, b->mf->n_shim_cxx,
                      sizeof *b->mf->shim_cxx, cmp_strp);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

int model_build(mfile *mf, const registry *reg, const file_proto *fd,
                buf *errors, buf *warnings) {
        builder b = {0};
        const char *pkg = fd->package ? fd->package : "";

        memset(mf, 0, sizeof *mf);
        mf->name = fd->name;
        mf->base = names_strip_proto(fd->name);
        mf->guard = names_guard(fd->name);
        b.mf = mf;
        b.reg = reg;
        b.fd = fd;
        b.errors = errors;
        b.warnings = warnings;
        b.pkg_prefix = names_package_prefix(pkg);

        /* The file's own header first, then the others sorted. */
        add_include(mf, fd->name);

        for (size_t i = 0; i < fd->n_message_type; i++) {
                size_t n = 2 + 2 * depth(fd->message_type[i]);
                int32_t *path = xcalloc(n, sizeof *path);

                path[0] = PATH_FILE_MESSAGE;
                path[1] = (int32_t)i;
                walk_message(&b, pkg, fd->message_type[i], path, 2);
                free(path);
        }
        mf->services = xcalloc(fd->n_service, sizeof *mf->services);
        for (size_t i = 0; i < fd->n_service; i++)
                build_service(&b, fd->service[i], i);

        if (mf->n_includes > 2)
                qsort(mf->includes + 1, mf->n_includes - 1,
                      sizeof *mf->includes, cmp_strp);
        check_cnames(&b);
        protoc_c_member_clash(&b);
        free(b.pkg_prefix);
        return b.n_errors;
}

void model_fini(mfile *mf) {
        for (size_t i = 0; i < mf->n_services; i++) {
                mservice *s = &mf->services[i];

                for (size_t j = 0; j < s->n_methods; j++) {
                        mmethod *m = &s->methods[j];

                        free(m->path);
                        free(m->member);
                        free(m->fn);
                        free(m->cb_type);
                        free(m->reply_fn);
                        free(m->dispatch_fn);
                        free(m->complete_fn);
                        free(m->protoc_c_stub);
                        free(m->key_field);
                        free(m->comment);
                }
                free(s->methods);
                free(s->full_name);
                free(s->desc_var);
                free(s->methods_var);
                free(s->handlers_type);
                free(s->serve_fn);
                free(s->topic);
                free(s->comment);
        }
        free(mf->services);
        for (size_t i = 0; i < mf->n_events; i++) {
                mevent *ev = &mf->events[i];

                free(ev->desc_var);
                free(ev->handler_type);
                free(ev->publish_fn);
                free(ev->publish_from_fn);
                free(ev->publish_confirmed_fn);
                free(ev->subscribe_fn);
                free(ev->deliver_fn);
                free(ev->topic);
                free(ev->key_field);
                free(ev->comment);
        }
        free(mf->events);
        for (size_t i = 0; i < mf->n_tables; i++) {
                mtable *tb = &mf->tables[i];

                free(tb->name);
                free(tb->desc_var);
                free(tb->attach_fn);
                free(tb->get_fn);
                free(tb->put_fn);
                free(tb->delete_fn);
                free(tb->scan_fn);
                free(tb->scan_fn_type);
                free(tb->scan_ctx);
                free(tb->scan_entry_fn);
                free(tb->comment);
        }
        free(mf->tables);
        for (size_t i = 0; i < mf->n_includes; i++)
                free(mf->includes[i]);
        free(mf->includes);
        for (size_t i = 0; i < mf->n_shim; i++)
                free(mf->shim[i]);
        free(mf->shim);
        for (size_t i = 0; i < mf->n_shim_cxx; i++)
                free(mf->shim_cxx[i]);
        free(mf->shim_cxx);
        free(mf->base);
        free(mf->guard);
        memset(mf, 0, sizeof *mf);
}
