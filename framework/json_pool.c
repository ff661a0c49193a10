/*
 * json_pool.c: protobuf-c descriptors built at run time from a
 * FileDescriptorSet (see kbus/json.h).
 *
 * The set is decoded with the protobuf-c code generated from
 * descriptor.proto.  Every message and enum of every file gets a
 * descriptor laid out as protoc-c would lay out its C struct: the
 * ProtobufCMessage header, then per field its value, a has_ flag before
 * proto2 optional scalars, a count before repeated fields, and for a oneof
 * one case word followed by a union of its members.  With those,
 * protobuf_c_message_pack() and _unpack() do all the binary work, and
 * json.c only walks fields.
 *
 * Building runs in two passes: the first names every type (so that a
 * field can point at a type declared after it, or in another file), the
 * second fills fields in.  Everything a pool makes lives in one arena,
 * freed at once.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "kbus/options.pb-c.h"

#include "json_int.h"
#include "kbus_int.h"

const char kbus__json_marker[] = "kbus-json-pool";

/* ---- arena ---- */

struct chunk {
        struct chunk *next;
        size_t used, cap;
        alignas(max_align_t) unsigned char mem[];
};

/* Zeroed memory that lives as long as the pool. */
static void *arena_alloc(struct chunk **arena, size_t n) {
        struct chunk *c = *arena;
        size_t align = alignof(max_align_t);

        n = (n + align - 1) / align * align;
        if (!c || c->cap - c->used < n) {
                size_t cap = n > 16384 ? n : 16384;
                c = kbus__malloc(sizeof(*c) + cap);
                if (!c)
                        return NULL;
                c->next = *arena;
                c->used = 0;
                c->cap = cap;
                *arena = c;
        }
        c->used += n;
        return memset(c->mem + c->used - n, 0, n);
}

static char *arena_strdup(struct chunk **arena, const char *s) {
        size_t n = strlen(s) + 1;
        char *p = arena_alloc(arena, n);
        return p ? memcpy(p, s, n) : NULL;
}

/* ---- the pool ---- */

enum type_kind { T_MESSAGE, T_ENUM };

struct type {
        const char *name; /* full name, no leading dot */
        enum type_kind kind;
        void *desc; /* struct msg * or ProtobufCEnumDescriptor * */
};

struct msg {
        ProtobufCMessageDescriptor d; /* first: protobuf-c sees this */
        kbus_json_msg_ext ext;
        const Google__Protobuf__DescriptorProto *proto;
        int proto3;
};

struct kbus_json_pool {
        Google__Protobuf__FileDescriptorSet *set;
        struct chunk *arena;
        struct type *types; /* sorted by name */
        size_t n_types;
        struct msg *msgs;
        size_t n_msgs;
        ProtobufCEnumDescriptor *enums;
        size_t n_enums;
        kbus_service_desc *svcs;
        size_t n_svcs;
        kbus_event_desc *events;
        size_t n_events;
        kbus_table_desc *tables;
        size_t n_tables;
};

struct build {
        kbus_json_pool *pool;
        char *errstr;
        size_t errlen;
};

#define OOM(b)                                                                 \
        kbus__err((b)->errstr, (b)->errlen, KBUS_RESOURCE_EXHAUSTED,           \
                  "out of memory")

static char *join(struct build *b, const char *prefix, const char *name) {
        size_t pn = strlen(prefix), nn = strlen(name);
        char *s = arena_alloc(&b->pool->arena, pn + nn + 2);

        if (!s)
                return NULL;
        if (pn) {
                memcpy(s, prefix, pn);
                s[pn++] = '.';
        }
        memcpy(s + pn, name, nn + 1);
        return s;
}

/* ---- pass 1: count and name every type ---- */

static void count_message(const Google__Protobuf__DescriptorProto *mp,
                          size_t *n_msgs, size_t *n_enums) {
        (*n_msgs)++;
        *n_enums += mp->n_enum_type;
        for (size_t i = 0; i < mp->n_nested_type; i++)
                count_message(mp->nested_type[i], n_msgs, n_enums);
}

static int name_enum(struct build *b, const char *prefix, const char *package,
                     const Google__Protobuf__EnumDescriptorProto *ep) {
        kbus_json_pool *pool = b->pool;
        ProtobufCEnumDescriptor *ed = &pool->enums[pool->n_enums];
        struct type *t = &pool->types[pool->n_types++];

        ed->magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
        if (!(ed->name = join(b, prefix, ep->name)))
                return OOM(b);
        ed->short_name = ep->name;
        ed->c_name = ep->name;
        ed->package_name = package;
        /* Values are filled in pass 2; reserved1 keeps the proto. */
        ed->reserved1 = (void *)ep;
        t->name = ed->name;
        t->kind = T_ENUM;
        t->desc = ed;
        pool->n_enums++;
        return 0;
}

static int name_message(struct build *b, const char *prefix,
                        const char *package, int proto3,
                        const Google__Protobuf__DescriptorProto *mp) {
        kbus_json_pool *pool = b->pool;
        struct msg *m = &pool->msgs[pool->n_msgs++];
        struct type *t = &pool->types[pool->n_types++];
        int r;

        m->d.magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
        if (!(m->d.name = join(b, prefix, mp->name)))
                return OOM(b);
        m->d.short_name = mp->name;
        m->d.c_name = mp->name;
        m->d.package_name = package;
        m->d.reserved1 = (void *)kbus__json_marker;
        m->d.reserved2 = &m->ext;
        m->proto = mp;
        m->proto3 = proto3;
        m->ext.map_entry =
            mp->options && mp->options->has_map_entry && mp->options->map_entry;
        t->name = m->d.name;
        t->kind = T_MESSAGE;
        t->desc = m;
        for (size_t i = 0; i < mp->n_enum_type; i++)
                if ((r = name_enum(b, m->d.name, package, mp->enum_type[i])))
                        return r;
        for (size_t i = 0; i < mp->n_nested_type; i++)
                if ((r = name_message(b, m->d.name, package, proto3,
                                      mp->nested_type[i])))
                        return r;
        return 0;
}

static int cmp_type(const void *a, const void *b) {
        return strcmp(((const struct type *)a)->name,
                      ((const struct type *)b)->name);
}

static const struct type *find_type(const kbus_json_pool *pool,
                                    const char *name) {
        struct type key = {0};

        if (!pool || !name)
                return NULL;
        key.name = name[0] == '.' ? name + 1 : name;
        return bsearch(&key, pool->types, pool->n_types, sizeof(key), cmp_type);
}

/* ---- pass 2: enums ---- */

static int cmp_enum_value(const void *a, const void *b) {
        int x = ((const ProtobufCEnumValue *)a)->value;
        int y = ((const ProtobufCEnumValue *)b)->value;
        return (x > y) - (x < y);
}

static int cmp_value_index(const void *a, const void *b) {
        return strcmp(((const ProtobufCEnumValueIndex *)a)->name,
                      ((const ProtobufCEnumValueIndex *)b)->name);
}

/* Values sorted by number without repeats (aliases share one), names
 * sorted for bsearch, and the ranges protobuf-c looks numbers up in. */
static int build_enum(struct build *b, ProtobufCEnumDescriptor *ed) {
        const Google__Protobuf__EnumDescriptorProto *ep = ed->reserved1;
        struct chunk **arena = &b->pool->arena;
        size_t n = ep->n_value, nv = 0, nr = 0;
        ProtobufCEnumValue *all, *vals;
        ProtobufCEnumValueIndex *byname;
        ProtobufCIntRange *ranges;

        ed->reserved1 = NULL;
        all = arena_alloc(arena, (n ? n : 1) * sizeof(*all));
        vals = arena_alloc(arena, (n ? n : 1) * sizeof(*vals));
        byname = arena_alloc(arena, (n ? n : 1) * sizeof(*byname));
        ranges = arena_alloc(arena, (n + 1) * sizeof(*ranges));
        if (!all || !vals || !byname || !ranges)
                return OOM(b);
        for (size_t i = 0; i < n; i++) {
                all[i].name = ep->value[i]->name;
                all[i].c_name = ep->value[i]->name;
                all[i].value = ep->value[i]->number;
        }
        /* A stable sort keeps the first name of an alias first. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i;
                     j > 0 && cmp_enum_value(&all[j - 1], &all[j]) > 0; j--) {
                        ProtobufCEnumValue t = all[j];
                        all[j] = all[j - 1];
                        all[j - 1] = t;
                }
        for (size_t i = 0; i < n; i++)
                if (!nv || vals[nv - 1].value != all[i].value)
                        vals[nv++] = all[i];
        for (size_t i = 0; i < n; i++) {
                ProtobufCEnumValue key = {.value = ep->value[i]->number};
                ProtobufCEnumValue *v =
                    bsearch(&key, vals, nv, sizeof(key), cmp_enum_value);
                byname[i].name = ep->value[i]->name;
                byname[i].index = (unsigned)(v - vals);
        }
        qsort(byname, n, sizeof(*byname), cmp_value_index);
        for (size_t i = 0; i < nv; i++)
                if (i == 0 || vals[i].value != vals[i - 1].value + 1) {
                        ranges[nr].start_value = vals[i].value;
                        ranges[nr].orig_index = (unsigned)i;
                        nr++;
                }
        ranges[nr].start_value = 0;
        ranges[nr].orig_index = (unsigned)nv;
        ed->n_values = (unsigned)nv;
        ed->values = vals;
        ed->n_value_names = (unsigned)n;
        ed->values_by_name = byname;
        ed->n_value_ranges = (unsigned)nr;
        ed->value_ranges = ranges;
        return 0;
}

/* ---- pass 2: messages ---- */

/* The lowerCamelCase name protoc gives a field without a json_name. */
static char *camel(struct build *b, const char *name) {
        char *s = arena_alloc(&b->pool->arena, strlen(name) + 1), *o = s;
        int up = 0;

        if (!s)
                return NULL;
        for (; *name; name++) {
                if (*name == '_') {
                        up = 1;
                } else if (up && *name >= 'a' && *name <= 'z') {
                        *o++ = (char)(*name - 'a' + 'A');
                        up = 0;
                } else {
                        *o++ = *name;
                        up = 0;
                }
        }
        return s;
}

static ProtobufCType pb_type(int t) {
        switch (t) {
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE:
                return PROTOBUF_C_TYPE_DOUBLE;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT:
                return PROTOBUF_C_TYPE_FLOAT;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64:
                return PROTOBUF_C_TYPE_INT64;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64:
                return PROTOBUF_C_TYPE_UINT64;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32:
                return PROTOBUF_C_TYPE_INT32;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64:
                return PROTOBUF_C_TYPE_FIXED64;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32:
                return PROTOBUF_C_TYPE_FIXED32;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL:
                return PROTOBUF_C_TYPE_BOOL;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING:
                return PROTOBUF_C_TYPE_STRING;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE:
                return PROTOBUF_C_TYPE_MESSAGE;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES:
                return PROTOBUF_C_TYPE_BYTES;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32:
                return PROTOBUF_C_TYPE_UINT32;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM:
                return PROTOBUF_C_TYPE_ENUM;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32:
                return PROTOBUF_C_TYPE_SFIXED32;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64:
                return PROTOBUF_C_TYPE_SFIXED64;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32:
                return PROTOBUF_C_TYPE_SINT32;
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64:
                return PROTOBUF_C_TYPE_SINT64;
        default:
                return (ProtobufCType)-1; /* groups */
        }
}

size_t kbus__json_value_size(ProtobufCType t) {
        switch (t) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(void *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        default:
                return 4;
        }
}

static size_t value_align(ProtobufCType t) {
        return t == PROTOBUF_C_TYPE_BYTES ? alignof(ProtobufCBinaryData)
                                          : kbus__json_value_size(t);
}

static size_t place(size_t *at, size_t size, size_t align) {
        size_t off = (*at + align - 1) / align * align;
        *at = off + size;
        return off;
}

static int packable(ProtobufCType t) {
        return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
               t != PROTOBUF_C_TYPE_MESSAGE;
}

static int cmp_field_id(const void *a, const void *b) {
        uint32_t x = ((const ProtobufCFieldDescriptor *)a)->id;
        uint32_t y = ((const ProtobufCFieldDescriptor *)b)->id;
        return (x > y) - (x < y);
}

static int build_message(struct build *b, struct msg *m) {
        const Google__Protobuf__DescriptorProto *mp = m->proto;
        struct chunk **arena = &b->pool->arena;
        size_t n = mp->n_field, n_oneofs = mp->n_oneof_decl, at, nr = 0;
        int r = KBUS_INVALID_ARGUMENT;
        ProtobufCFieldDescriptor *fields;
        unsigned *byname;
        ProtobufCIntRange *ranges;
        size_t *oneof_size, *oneof_align;
        const char **json_names;
        size_t *oneof_case, *oneof_off;

        fields = arena_alloc(arena, (n ? n : 1) * sizeof(*fields));
        byname = arena_alloc(arena, (n ? n : 1) * sizeof(*byname));
        ranges = arena_alloc(arena, (n + 1) * sizeof(*ranges));
        json_names = arena_alloc(arena, (n ? n : 1) * sizeof(*json_names));
        /* Per oneof: its case word's offset, its union's offset, size
         * and alignment. */
        oneof_case = kbus__calloc(n_oneofs + 1, sizeof(size_t));
        oneof_off = kbus__calloc(n_oneofs + 1, sizeof(size_t));
        oneof_size = kbus__calloc(n_oneofs + 1, sizeof(size_t));
        oneof_align = kbus__calloc(n_oneofs + 1, sizeof(size_t));
        if (!fields || !byname || !ranges || !json_names || !oneof_case ||
            !oneof_off || !oneof_size || !oneof_align) {
                r = OOM(b);
                goto fail;
        }

        /* Types, labels and flags first; the layout needs the oneofs'
         * member sizes before it can place anything. */
        for (size_t i = 0; i < n; i++) {
                const Google__Protobuf__FieldDescriptorProto *fp = mp->field[i];
                ProtobufCFieldDescriptor *f = &fields[i];
                int in_oneof = fp->has_oneof_index && !fp->proto3_optional &&
                               fp->oneof_index >= 0 &&
                               (size_t)fp->oneof_index < n_oneofs;

                f->name = fp->name;
                f->id = (uint32_t)fp->number;
                f->type = pb_type(fp->type);
                if ((int)f->type < 0) {
                        kbus__err(b->errstr, b->errlen, KBUS_INVALID_ARGUMENT,
                                  "%s.%s: proto2 groups are not supported",
                                  m->d.name, fp->name);
                        goto fail;
                }
                if (f->type == PROTOBUF_C_TYPE_MESSAGE ||
                    f->type == PROTOBUF_C_TYPE_ENUM) {
                        const struct type *t =
                            find_type(b->pool, fp->type_name);
                        if (!t || (t->kind == T_MESSAGE) !=
                                      (f->type == PROTOBUF_C_TYPE_MESSAGE)) {
                                kbus__err(
                                    b->errstr, b->errlen, KBUS_INVALID_ARGUMENT,
                                    "%s.%s: type %s is not in the "
                                    "descriptor set (was it written "
                                    "with --include_imports?)",
                                    m->d.name, fp->name,
                                    fp->type_name ? fp->type_name : "(none)");
                                goto fail;
                        }
                        f->descriptor = t->desc;
                }
                switch (fp->label) {
                case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED:
                        f->label = PROTOBUF_C_LABEL_REPEATED;
                        if (packable(f->type) &&
                            (fp->options && fp->options->has_packed
                                 ? fp->options->packed
                                 : m->proto3))
                                f->flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
                        break;
                case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED:
                        f->label = PROTOBUF_C_LABEL_REQUIRED;
                        break;
                default:
                        f->label = m->proto3 && !fp->proto3_optional
                                       ? PROTOBUF_C_LABEL_NONE
                                       : PROTOBUF_C_LABEL_OPTIONAL;
                        break;
                }
                if (in_oneof) {
                        size_t o = (size_t)fp->oneof_index;
                        f->flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
                        if (kbus__json_value_size(f->type) > oneof_size[o])
                                oneof_size[o] = kbus__json_value_size(f->type);
                        if (value_align(f->type) > oneof_align[o])
                                oneof_align[o] = value_align(f->type);
                }
                /* proto3 strings start as "" (as protoc-c's do), so that
                 * unpacked messages never hold NULL for a string. */
                if (f->type == PROTOBUF_C_TYPE_STRING &&
                    f->label == PROTOBUF_C_LABEL_NONE && !in_oneof)
                        f->default_value = protobuf_c_empty_string;
                json_names[i] =
                    fp->json_name ? fp->json_name : camel(b, fp->name);
                if (!json_names[i]) {
                        r = OOM(b);
                        goto fail;
                }
        }

        /* Layout, in declaration order, as protoc-c writes the struct. */
        at = sizeof(ProtobufCMessage);
        for (size_t o = 0; o < n_oneofs; o++)
                oneof_case[o] = (size_t)-1;
        for (size_t i = 0; i < n; i++) {
                const Google__Protobuf__FieldDescriptorProto *fp = mp->field[i];
                ProtobufCFieldDescriptor *f = &fields[i];

                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        size_t o = (size_t)fp->oneof_index;
                        if (oneof_case[o] == (size_t)-1) {
                                oneof_case[o] = place(&at, sizeof(uint32_t),
                                                      sizeof(uint32_t));
                                oneof_off[o] =
                                    place(&at, oneof_size[o], oneof_align[o]);
                        }
                        f->quantifier_offset = (unsigned)oneof_case[o];
                        f->offset = (unsigned)oneof_off[o];
                } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        f->quantifier_offset = (unsigned)place(
                            &at, sizeof(size_t), alignof(size_t));
                        f->offset = (unsigned)place(&at, sizeof(void *),
                                                    alignof(void *));
                } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                           f->type != PROTOBUF_C_TYPE_STRING &&
                           f->type != PROTOBUF_C_TYPE_MESSAGE) {
                        f->quantifier_offset =
                            (unsigned)place(&at, sizeof(protobuf_c_boolean),
                                            alignof(protobuf_c_boolean));
                        f->offset =
                            (unsigned)place(&at, kbus__json_value_size(f->type),
                                            value_align(f->type));
                } else {
                        f->offset =
                            (unsigned)place(&at, kbus__json_value_size(f->type),
                                            value_align(f->type));
                }
        }
        m->d.sizeof_message = (at + alignof(max_align_t) - 1) /
                              alignof(max_align_t) * alignof(max_align_t);

        /* protobuf-c wants fields sorted by number, with ranges of
         * consecutive numbers, and an index sorted by name.  The json
         * names follow their fields. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i;
                     j > 0 && cmp_field_id(&fields[j - 1], &fields[j]) > 0;
                     j--) {
                        ProtobufCFieldDescriptor t = fields[j];
                        const char *jn = json_names[j];
                        fields[j] = fields[j - 1];
                        fields[j - 1] = t;
                        json_names[j] = json_names[j - 1];
                        json_names[j - 1] = jn;
                }
        for (size_t i = 0; i < n; i++) {
                byname[i] = (unsigned)i;
                if (i == 0 || fields[i].id != fields[i - 1].id + 1) {
                        ranges[nr].start_value = (int)fields[i].id;
                        ranges[nr].orig_index = (unsigned)i;
                        nr++;
                }
        }
        ranges[nr].start_value = 0;
        ranges[nr].orig_index = (unsigned)n;
        /* Insertion sorts: a message has few fields, and qsort's
         * comparator could not see fields[] without a global. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(fields[byname[j - 1]].name,
                                                   fields[byname[j]].name) > 0;
                     j--) {
                        unsigned t = byname[j];
                        byname[j] = byname[j - 1];
                        byname[j - 1] = t;
                }
        m->d.n_fields = (unsigned)n;
        m->d.fields = fields;
        m->d.fields_sorted_by_name = byname;
        m->d.n_field_ranges = (unsigned)nr;
        m->d.field_ranges = ranges;
        m->ext.json_names = json_names;
        r = 0;
fail:
        kbus__free(oneof_case);
        kbus__free(oneof_off);
        kbus__free(oneof_size);
        kbus__free(oneof_align);
        return r;
}

/* ---- kbus options ---- */

/* Reads a varint at p[0..n); its length, 0 if malformed. */
static size_t read_varint(const uint8_t *p, size_t n, uint64_t *v) {
        uint64_t r = 0;

        for (size_t i = 0; i < n && i < 10; i++) {
                r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80)) {
                        *v = r;
                        return i + 1;
                }
        }
        return 0;
}

/*
 * The kbus option extension \p number of an options message, decoded as
 * \p desc; NULL when absent.  protobuf-c keeps an extension it does not
 * know as an unknown field whose data starts with the length varint; one
 * set in several statements arrives as several fields, whose payloads
 * concatenated are the merged message.
 */
static ProtobufCMessage *kbus_option(struct build *b,
                                     const ProtobufCMessage *opts,
                                     uint32_t number,
                                     const ProtobufCMessageDescriptor *desc,
                                     const char *where, int *errp) {
        ProtobufCMessage *m = NULL;
        uint8_t *joined = NULL;
        size_t joined_len = 0;
        int present = 0;

        *errp = 0;
        if (!opts)
                return NULL;
        for (unsigned i = 0; i < opts->n_unknown_fields; i++) {
                const ProtobufCMessageUnknownField *uf =
                    &opts->unknown_fields[i];
                uint64_t len;
                size_t k;
                uint8_t *nj;

                if (uf->tag != number)
                        continue;
                k = read_varint(uf->data, uf->len, &len);
                if (uf->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
                    !k || len != uf->len - k)
                        goto malformed;
                nj = kbus__realloc(joined, joined_len + (size_t)len + 1);
                if (!nj) {
                        kbus__free(joined);
                        *errp = OOM(b);
                        return NULL;
                }
                joined = nj;
                memcpy(joined + joined_len, uf->data + k, (size_t)len);
                joined_len += (size_t)len;
                present = 1;
        }
        if (present) {
                m = protobuf_c_message_unpack(desc, &kbus__pb_allocator,
                                              joined_len, joined);
                if (!m)
                        goto malformed;
        }
        kbus__free(joined);
        return m;
malformed:
        kbus__free(joined);
        *errp = kbus__err(b->errstr, b->errlen, KBUS_INVALID_ARGUMENT,
                          "%s: malformed kbus option", where);
        return NULL;
}

static void retry_from(kbus_retry_policy *r, const Kbus__RetryPolicy *p) {
        if (!p)
                return;
        if (p->has_max_attempts)
                r->max_attempts = p->max_attempts;
        if (p->has_initial_backoff_ms)
                r->initial_backoff_ms = p->initial_backoff_ms;
        if (p->has_max_backoff_ms)
                r->max_backoff_ms = p->max_backoff_ms;
        if (p->has_multiplier)
                r->multiplier = p->multiplier;
}

static int build_service(struct build *b, const char *package,
                         const Google__Protobuf__ServiceDescriptorProto *sp,
                         kbus_service_desc *svc) {
        struct chunk **arena = &b->pool->arena;
        kbus_method_desc *methods;
        Kbus__ServiceOptions *so;
        size_t nm = 0;
        int err;

        if (!(svc->name = join(b, package, sp->name)))
                return OOM(b);
        so = (Kbus__ServiceOptions *)kbus_option(
            b, sp->options ? &sp->options->base : NULL, 50901,
            &kbus__service_options__descriptor, svc->name, &err);
        if (err)
                return err;
        svc->topic = so && so->topic && *so->topic
                         ? arena_strdup(arena, so->topic)
                         : svc->name;
        if (so)
                protobuf_c_message_free_unpacked(&so->base,
                                                 &kbus__pb_allocator);
        if (!svc->topic)
                return OOM(b);
        methods = arena_alloc(arena, (sp->n_method ? sp->n_method : 1) *
                                         sizeof(*methods));
        if (!methods)
                return OOM(b);
        for (size_t i = 0; i < sp->n_method; i++) {
                const Google__Protobuf__MethodDescriptorProto *mp =
                    sp->method[i];
                kbus_method_desc *md = &methods[nm];
                const struct type *in = find_type(b->pool, mp->input_type);
                const struct type *out = find_type(b->pool, mp->output_type);
                Kbus__MethodOptions *mo;
                size_t plen;
                char *path;

                if (mp->client_streaming || mp->server_streaming)
                        continue;
                if (!in || !out || in->kind != T_MESSAGE ||
                    out->kind != T_MESSAGE)
                        return kbus__err(b->errstr, b->errlen,
                                         KBUS_INVALID_ARGUMENT,
                                         "%s.%s: a type it uses is not in "
                                         "the descriptor set",
                                         svc->name, mp->name);
                plen = strlen(svc->name) + strlen(mp->name) + 3;
                if (!(path = arena_alloc(arena, plen)))
                        return OOM(b);
                snprintf(path, plen, "/%s/%s", svc->name, mp->name);
                md->name = mp->name;
                md->path = path;
                md->input = &((struct msg *)in->desc)->d;
                md->output = &((struct msg *)out->desc)->d;
                md->complete = kbus__json_complete;
                mo = (Kbus__MethodOptions *)kbus_option(
                    b, mp->options ? &mp->options->base : NULL, 50902,
                    &kbus__method_options__descriptor, path, &err);
                if (err)
                        return err;
                if (mo) {
                        if (mo->has_timeout_ms)
                                md->timeout_ms = mo->timeout_ms;
                        if (mo->has_one_way && mo->one_way)
                                md->flags |= KBUS_METHOD_ONE_WAY;
                        if (mo->has_idempotent && mo->idempotent)
                                md->flags |= KBUS_METHOD_IDEMPOTENT;
                        if (mo->has_dead_letter && !mo->dead_letter)
                                md->flags |= KBUS_NO_DEAD_LETTER;
                        if (mo->key_field && *mo->key_field &&
                            !(md->key_field =
                                  arena_strdup(arena, mo->key_field)))
                                err = OOM(b);
                        retry_from(&md->retry, mo->retry);
                        protobuf_c_message_free_unpacked(&mo->base,
                                                         &kbus__pb_allocator);
                        if (err)
                                return err;
                }
                nm++;
        }
        svc->methods = methods;
        svc->n_methods = nm;
        return 0;
}

static int build_events(struct build *b) {
        kbus_json_pool *pool = b->pool;
        int err;

        pool->events =
            arena_alloc(&pool->arena, (pool->n_msgs ? pool->n_msgs : 1) *
                                          sizeof(*pool->events));
        if (!pool->events)
                return OOM(b);
        for (size_t i = 0; i < pool->n_msgs; i++) {
                struct msg *m = &pool->msgs[i];
                kbus_event_desc *ev = &pool->events[pool->n_events];
                Kbus__EventOptions *eo = (Kbus__EventOptions *)kbus_option(
                    b, m->proto->options ? &m->proto->options->base : NULL,
                    50903, &kbus__event_options__descriptor, m->d.name, &err);

                if (err)
                        return err;
                if (!eo)
                        continue;
                ev->type = m->d.name;
                ev->message = &m->d;
                ev->topic = eo->topic && *eo->topic
                                ? arena_strdup(&pool->arena, eo->topic)
                                : m->d.name;
                if (eo->key_field && *eo->key_field)
                        ev->key_field =
                            arena_strdup(&pool->arena, eo->key_field);
                if (eo->has_dead_letter && !eo->dead_letter)
                        ev->flags |= KBUS_NO_DEAD_LETTER;
                if (eo->has_compacted && eo->compacted)
                        ev->flags |= KBUS_EVENT_COMPACTED;
                retry_from(&ev->retry, eo->retry);
                err = !ev->topic ||
                      (eo->key_field && *eo->key_field && !ev->key_field);
                protobuf_c_message_free_unpacked(&eo->base,
                                                 &kbus__pb_allocator);
                if (err)
                        return OOM(b);
                pool->n_events++;
        }
        return 0;
}

/* The messages with (kbus.table): a table of that value type each. */
static int build_tables(struct build *b) {
        kbus_json_pool *pool = b->pool;
        int err;

        pool->tables =
            arena_alloc(&pool->arena, (pool->n_msgs ? pool->n_msgs : 1) *
                                          sizeof(*pool->tables));
        if (!pool->tables)
                return OOM(b);
        for (size_t i = 0; i < pool->n_msgs; i++) {
                struct msg *m = &pool->msgs[i];
                kbus_table_desc *t = &pool->tables[pool->n_tables];
                Kbus__TableOptions *to = (Kbus__TableOptions *)kbus_option(
                    b, m->proto->options ? &m->proto->options->base : NULL,
                    50904, &kbus__table_options__descriptor, m->d.name, &err);

                if (err)
                        return err;
                if (!to)
                        continue;
                t->value = &m->d;
                t->name = to->name && *to->name
                              ? arena_strdup(&pool->arena, to->name)
                              : m->d.short_name;
                protobuf_c_message_free_unpacked(&to->base,
                                                 &kbus__pb_allocator);
                if (!t->name)
                        return OOM(b);
                pool->n_tables++;
        }
        return 0;
}

/* ---- public ---- */

int kbus_json_pool_new(kbus_json_pool **poolp, const void *data, size_t len,
                       char *errstr, size_t errlen) {
        struct build b = {NULL, errstr, errlen};
        kbus_json_pool *pool;
        size_t n_msgs = 0, n_enums = 0, n_svcs = 0;
        int r;

        if (!poolp || (!data && len))
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_json_pool_new: NULL argument");
        *poolp = NULL;
        if (!(pool = kbus__calloc(1, sizeof(*pool))))
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        b.pool = pool;
        pool->set = google__protobuf__file_descriptor_set__unpack(
            &kbus__pb_allocator, len, data);
        if (!pool->set) {
                r = kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                              "not a FileDescriptorSet (write one with "
                              "protoc --descriptor_set_out=FILE "
                              "--include_imports)");
                goto fail;
        }
        for (size_t f = 0; f < pool->set->n_file; f++) {
                const Google__Protobuf__FileDescriptorProto *fp =
                    pool->set->file[f];
                n_enums += fp->n_enum_type;
                n_svcs += fp->n_service;
                for (size_t i = 0; i < fp->n_message_type; i++)
                        count_message(fp->message_type[i], &n_msgs, &n_enums);
        }
        pool->msgs = arena_alloc(&pool->arena,
                                 (n_msgs ? n_msgs : 1) * sizeof(*pool->msgs));
        pool->enums = arena_alloc(&pool->arena, (n_enums ? n_enums : 1) *
                                                    sizeof(*pool->enums));
        pool->types = arena_alloc(&pool->arena, (n_msgs + n_enums + 1) *
                                                    sizeof(*pool->types));
        pool->svcs = arena_alloc(&pool->arena,
                                 (n_svcs ? n_svcs : 1) * sizeof(*pool->svcs));
        if (!pool->msgs || !pool->enums || !pool->types || !pool->svcs) {
                r = OOM(&b);
                goto fail;
        }

        for (size_t f = 0; f < pool->set->n_file; f++) {
                const Google__Protobuf__FileDescriptorProto *fp =
                    pool->set->file[f];
                const char *package = fp->package ? fp->package : "";
                int proto3 = fp->syntax && !strcmp(fp->syntax, "proto3");

                for (size_t i = 0; i < fp->n_enum_type; i++)
                        if ((r = name_enum(&b, package, package,
                                           fp->enum_type[i])))
                                goto fail;
                for (size_t i = 0; i < fp->n_message_type; i++)
                        if ((r = name_message(&b, package, package, proto3,
                                              fp->message_type[i])))
                                goto fail;
        }
        qsort(pool->types, pool->n_types, sizeof(*pool->types), cmp_type);
        for (size_t i = 1; i < pool->n_types; i++)
                if (!strcmp(pool->types[i].name, pool->types[i - 1].name)) {
                        r = kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                      "type %s is defined twice",
                                      pool->types[i].name);
                        goto fail;
                }
        for (size_t i = 0; i < pool->n_enums; i++)
                if ((r = build_enum(&b, &pool->enums[i])))
                        goto fail;
        for (size_t i = 0; i < pool->n_msgs; i++)
                if ((r = build_message(&b, &pool->msgs[i])))
                        goto fail;
        for (size_t f = 0; f < pool->set->n_file; f++) {
                const Google__Protobuf__FileDescriptorProto *fp =
                    pool->set->file[f];
                for (size_t i = 0; i < fp->n_service; i++)
                        if ((r = build_service(
                                 &b, fp->package ? fp->package : "",
                                 fp->service[i], &pool->svcs[pool->n_svcs++])))
                                goto fail;
        }
        if ((r = build_events(&b)) || (r = build_tables(&b)))
                goto fail;
        *poolp = pool;
        return 0;
fail:
        kbus_json_pool_free(pool);
        return r;
}

int kbus_json_pool_load(kbus_json_pool **poolp, const char *path, char *errstr,
                        size_t errlen) {
        FILE *fp;
        unsigned char *buf = NULL, *nb;
        size_t n = 0, cap = 0, got;
        int r;

        if (!poolp || !path)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_json_pool_load: NULL argument");
        if (!(fp = fopen(path, "rb")))
                return kbus__err(errstr, errlen, KBUS_NOT_FOUND, "%s: %s", path,
                                 strerror(errno));
        do {
                if (n == cap) {
                        cap = cap ? cap * 2 : 65536;
                        if (!(nb = kbus__realloc(buf, cap))) {
                                kbus__free(buf);
                                fclose(fp);
                                return kbus__err(errstr, errlen,
                                                 KBUS_RESOURCE_EXHAUSTED,
                                                 "out of memory");
                        }
                        buf = nb;
                }
                got = fread(buf + n, 1, cap - n, fp);
                n += got;
        } while (got > 0);
        if (ferror(fp)) {
                kbus__free(buf);
                fclose(fp);
                return kbus__err(errstr, errlen, KBUS_NOT_FOUND,
                                 "%s: read error", path);
        }
        fclose(fp);
        r = kbus_json_pool_new(poolp, buf, n, errstr, errlen);
        kbus__free(buf);
        if (r && errlen) {
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "%s", errstr);
                snprintf(errstr, errlen, "%s: %s", path, tmp);
        }
        return r;
}

void kbus_json_pool_free(kbus_json_pool *pool) {
        struct chunk *c, *next;

        if (!pool)
                return;
        for (c = pool->arena; c; c = next) {
                next = c->next;
                kbus__free(c);
        }
        if (pool->set)
                protobuf_c_message_free_unpacked(&pool->set->base,
                                                 &kbus__pb_allocator);
        kbus__free(pool);
}

const ProtobufCMessageDescriptor *
kbus_json_pool_message(const kbus_json_pool *pool, const char *name) {
        const struct type *t = find_type(pool, name);
        return t && t->kind == T_MESSAGE ? &((struct msg *)t->desc)->d : NULL;
}

const ProtobufCEnumDescriptor *kbus_json_pool_enum(const kbus_json_pool *pool,
                                                   const char *name) {
        const struct type *t = find_type(pool, name);
        return t && t->kind == T_ENUM ? t->desc : NULL;
}

size_t kbus_json_pool_service_count(const kbus_json_pool *pool) {
        return pool ? pool->n_svcs : 0;
}

const kbus_service_desc *kbus_json_pool_service(const kbus_json_pool *pool,
                                                size_t i) {
        return pool && i < pool->n_svcs ? &pool->svcs[i] : NULL;
}

const kbus_method_desc *kbus_json_pool_method(const kbus_json_pool *pool,
                                              const char *name,
                                              const kbus_service_desc **svcp) {
        const char *s, *sep;
        size_t slen;

        if (!pool || !name)
                return NULL;
        s = name[0] == '/' ? name + 1 : name;
        /* The method is after the last '/', or else the last '.'. */
        if (!(sep = strrchr(s, '/')) && !(sep = strrchr(s, '.')))
                return NULL;
        slen = (size_t)(sep - s);
        for (size_t i = 0; i < pool->n_svcs; i++) {
                const kbus_service_desc *svc = &pool->svcs[i];
                if (strlen(svc->name) != slen || strncmp(svc->name, s, slen))
                        continue;
                for (size_t j = 0; j < svc->n_methods; j++)
                        if (!strcmp(svc->methods[j].name, sep + 1)) {
                                if (svcp)
                                        *svcp = svc;
                                return &svc->methods[j];
                        }
        }
        return NULL;
}

size_t kbus_json_pool_table_count(const kbus_json_pool *pool) {
        return pool ? pool->n_tables : 0;
}

const kbus_table_desc *kbus_json_pool_table(const kbus_json_pool *pool,
                                            size_t i) {
        return pool && i < pool->n_tables ? &pool->tables[i] : NULL;
}

size_t kbus_json_pool_event_count(const kbus_json_pool *pool) {
        return pool ? pool->n_events : 0;
}

const kbus_event_desc *kbus_json_pool_event(const kbus_json_pool *pool,
                                            size_t i) {
        return pool && i < pool->n_events ? &pool->events[i] : NULL;
}

void kbus__json_complete(kbus_fn cb, kbus_status status, const char *message,
                         const ProtobufCMessage *reply, void *arg) {
        if (cb)
                ((kbus_json_call_cb)(void (*)(void))cb)(status, message, reply,
                                                        arg);
}
