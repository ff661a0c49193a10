/*
 * json.c: the proto3 JSON mapping over protobuf-c messages (see
 * kbus/json.h).
 *
 * Both directions walk a message's fields through its descriptor, so they
 * work for generated descriptors and for a pool's alike; only the json
 * names and map entries are found differently (json_int.h).
 *
 * Output is written by hand into a growing buffer rather than through
 * jansson: jansson prints every double with 17 digits (0.1 becomes
 * 0.10000000000000001) and cannot print a float as the shortest text that
 * reads back as the same float, which the mapping's readers expect.  Input
 * is parsed with jansson, duplicates refused; the decoder then builds the
 * message with the protobuf-c allocator, so that a half-built message on
 * an error is freed by protobuf_c_message_free_unpacked() like any other.
 *
 * Error messages carry the path of the field being read or written:
 * "items[2].quantity", "labels[\"a\"]", "" at the top.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_int.h"
#include "kbus_int.h"

#define MAX_DEPTH 100 /* nesting, in and out: protobuf's own limit */

/* ------------------------------------------------------------------ */
/* Paths and errors                                                    */
/* ------------------------------------------------------------------ */

struct path {
        char buf[512];
        size_t len;
        int truncated;
};

static size_t path_push(struct path *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends to the path; returns the length to restore with path_pop(). */
static size_t path_push(struct path *p, const char *fmt, ...) {
        size_t old = p->len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(p->buf) - p->len) {
                p->truncated = 1;
                p->len = sizeof(p->buf) - 1;
        } else {
                p->len += (size_t)n;
        }
        return old;
}

static void path_pop(struct path *p, size_t len) {
        p->len = len;
        p->buf[len] = '\0';
}

static size_t path_field(struct path *p, const char *name) {
        return path_push(p, p->len ? ".%s" : "%s", name);
}

struct ctx {
        struct path path;
        unsigned flags;
        char *errstr;
        size_t errlen;
        int depth;
};

static int fail(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int code, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        if (!c->errlen)
                return code;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (c->path.len)
                snprintf(c->errstr, c->errlen, "%s%s: %s", c->path.buf,
                         c->path.truncated ? "..." : "", msg);
        else
                snprintf(c->errstr, c->errlen, "%s", msg);
        return code;
}

#define OOM(c) fail((c), KBUS_RESOURCE_EXHAUSTED, "out of memory")

/* ------------------------------------------------------------------ */
/* Descriptor helpers                                                  */
/* ------------------------------------------------------------------ */

static const void *member_c(const ProtobufCMessage *m,
                            const ProtobufCFieldDescriptor *f) {
        return (const char *)m + f->offset;
}

static void *member(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
        return (char *)m + f->offset;
}

static int is_wkt(const ProtobufCMessageDescriptor *d, const char *name) {
        return !strncmp(d->name, "google.protobuf.", 16) &&
               !strcmp(d->name + 16, name);
}

static int is_wrapper(const ProtobufCMessageDescriptor *d) {
        static const char *const names[] = {
            "DoubleValue", "FloatValue",  "Int64Value",
            "UInt64Value", "Int32Value",  "UInt32Value",
            "BoolValue",   "StringValue", "BytesValue",
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (is_wkt(d, names[i]))
                        return 1;
        return 0;
}

/* The json name of field \p i: the pool's, or lowerCamelCase of the proto
 * name for generated descriptors (what protoc derives when no json_name
 * option is given).  \p buf holds it in the second case. */
static const char *json_name(const ProtobufCMessageDescriptor *d, unsigned i,
                             char *buf, size_t n) {
        const kbus_json_msg_ext *ext = kbus__json_ext(d);
        const char *s = d->fields[i].name;
        size_t o = 0;
        int up = 0;

        if (ext)
                return ext->json_names[i];
        for (; *s && o + 1 < n; s++) {
                if (*s == '_') {
                        up = 1;
                        continue;
                }
                buf[o++] = up && *s >= 'a' && *s <= 'z' ? (char)(*s - 32) : *s;
                up = 0;
        }
        buf[o] = '\0';
        return buf;
}

/* Whether repeated field \p f is a map<K, V>: its entries are a message
 * with key = 1 and value = 2, which the pool marks, and which protoc-c
 * names after the field ("labels" -> "LabelsEntry"). */
static int is_map(const ProtobufCFieldDescriptor *f) {
        const ProtobufCMessageDescriptor *e = f->descriptor;
        const kbus_json_msg_ext *ext;
        char want[256];
        size_t o = 0;
        int up = 1;

        if (f->label != PROTOBUF_C_LABEL_REPEATED ||
            f->type != PROTOBUF_C_TYPE_MESSAGE)
                return 0;
        if ((ext = kbus__json_ext(e)))
                return ext->map_entry;
        if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
            strcmp(e->fields[0].name, "key") ||
            strcmp(e->fields[1].name, "value"))
                return 0;
        for (const char *s = f->name; *s && o + 7 < sizeof(want); s++) {
                if (*s == '_') {
                        up = 1;
                        continue;
                }
                want[o++] = up && *s >= 'a' && *s <= 'z' ? (char)(*s - 32) : *s;
                up = 0;
        }
        memcpy(want + o, "Entry", 6);
        return !strcmp(e->short_name, want);
}

static const ProtobufCFieldDescriptor *
field_named(const ProtobufCMessageDescriptor *d, const char *name) {
        return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

/* ------------------------------------------------------------------ */
/* Output buffer                                                       */
/* ------------------------------------------------------------------ */

struct out {
        char *p;
        size_t n, cap;
        int oom;
};

static void put(struct out *o, const char *s, size_t n) {
        if (o->oom)
                return;
        if (o->n + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap : 256;
                char *np;
                while (cap < o->n + n + 1)
                        cap *= 2;
                if (!(np = kbus__realloc(o->p, cap))) {
                        o->oom = 1;
                        return;
                }
                o->p = np;
                o->cap = cap;
        }
        memcpy(o->p + o->n, s, n);
        o->n += n;
        o->p[o->n] = '\0';
}

static void puts_(struct out *o, const char *s) {
        put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...) {
        char buf[64];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0)
                put(o, buf,
                    (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/* A JSON string.  protobuf strings must be UTF-8; a byte that is not
 * becomes U+FFFD rather than invalid JSON. */
static void put_string(struct out *o, const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0, run = 0;

        put(o, "\"", 1);
        while (i < n) {
                unsigned char ch = p[i];
                size_t len = utf8_len(p + i, n - i);
                const char *esc = NULL;
                char ubuf[8];

                if (len && ch >= 0x20 && ch != '"' && ch != '\\') {
                        i += len;
                        run += len;
                        continue;
                }
                put(o, s + i - run, run);
                run = 0;
                if (!len) {
                        esc = "\\ufffd";
                } else if (ch == '"') {
                        esc = "\\\"";
                } else if (ch == '\\') {
                        esc = "\\\\";
                } else if (ch == '\n') {
                        esc = "\\n";
                } else if (ch == '\r') {
                        esc = "\\r";
                } else if (ch == '\t') {
                        esc = "\\t";
                } else {
                        snprintf(ubuf, sizeof(ubuf), "\\u%04x", ch);
                        esc = ubuf;
                }
                puts_(o, esc);
                i++;
        }
        put(o, s + i - run, run);
        put(o, "\"", 1);
}

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(struct out *o, const uint8_t *d, size_t n) {
        char q[4];

        put(o, "\"", 1);
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)d[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t)d[i + 1] << 8;
                if (i + 2 < n)
                        v |= d[i + 2];
                q[0] = b64_std[v >> 18 & 63];
                q[1] = b64_std[v >> 12 & 63];
                q[2] = i + 1 < n ? b64_std[v >> 6 & 63] : '=';
                q[3] = i + 2 < n ? b64_std[v & 63] : '=';
                put(o, q, 4);
        }
        put(o, "\"", 1);
}

/* The shortest text that reads back as the same double (or float). */
static void put_double(struct out *o, double v, int is_float) {
        char buf[40];

        if (isnan(v)) {
                puts_(o, "\"NaN\"");
                return;
        }
        if (isinf(v)) {
                puts_(o, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof(buf), "%.*g", prec, v);
                if (is_float ? (float)strtod(buf, NULL) == (float)v
                             : strtod(buf, NULL) == v)
                        break;
        }
        puts_(o, buf);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

struct enc {
        struct ctx c;
        struct out o;
        int level;
};

static void newline(struct enc *e) {
        if (!(e->c.flags & KBUS_JSON_INDENT))
                return;
        put(&e->o, "\n", 1);
        for (int i = 0; i < e->level; i++)
                put(&e->o, "  ", 2);
}

static int enc_message(struct enc *e, const ProtobufCMessage *m);

/* One value of field \p f at \p p (a member, or an element of a repeated
 * field's array). */
static int enc_value(struct enc *e, const ProtobufCFieldDescriptor *f,
                     const void *p) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                putf(&e->o, "%" PRId32, *(const int32_t *)p);
                break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                putf(&e->o, "%" PRIu32, *(const uint32_t *)p);
                break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                putf(&e->o, "\"%" PRId64 "\"", *(const int64_t *)p);
                break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                putf(&e->o, "\"%" PRIu64 "\"", *(const uint64_t *)p);
                break;
        case PROTOBUF_C_TYPE_FLOAT:
                put_double(&e->o, *(const float *)p, 1);
                break;
        case PROTOBUF_C_TYPE_DOUBLE:
                put_double(&e->o, *(const double *)p, 0);
                break;
        case PROTOBUF_C_TYPE_BOOL:
                puts_(&e->o, *(const protobuf_c_boolean *)p ? "true" : "false");
                break;
        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumDescriptor *ed = f->descriptor;
                int v = *(const int *)p;
                const ProtobufCEnumValue *ev =
                    protobuf_c_enum_descriptor_get_value(ed, v);
                if (!strcmp(ed->name, "google.protobuf.NullValue"))
                        puts_(&e->o, "null");
                else if (ev)
                        put_string(&e->o, ev->name, strlen(ev->name));
                else /* a number this reader does not know: as a number */
                        putf(&e->o, "%d", v);
                break;
        }
        case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(const char *const *)p;
                put_string(&e->o, s ? s : "", s ? strlen(s) : 0);
                break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *b = p;
                put_base64(&e->o, b->data, b->len);
                break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessage *sub =
                    *(const ProtobufCMessage *const *)p;
                if (!sub) {
                        /* only an unset map value gets here: its default */
                        puts_(&e->o, "{}");
                        break;
                }
                return enc_message(e, sub);
        }
        }
        return 0;
}

/* A map key as the JSON object key: always a string. */
static int enc_map_key(struct enc *e, const ProtobufCFieldDescriptor *f,
                       const void *p) {
        if (f->type == PROTOBUF_C_TYPE_STRING)
                return enc_value(e, f, p);
        if (f->type == PROTOBUF_C_TYPE_BOOL) {
                puts_(&e->o, *(const protobuf_c_boolean *)p ? "\"true\""
                                                            : "\"false\"");
                return 0;
        }
        if (f->type == PROTOBUF_C_TYPE_INT64 ||
            f->type == PROTOBUF_C_TYPE_SINT64 ||
            f->type == PROTOBUF_C_TYPE_SFIXED64 ||
            f->type == PROTOBUF_C_TYPE_UINT64 ||
            f->type == PROTOBUF_C_TYPE_FIXED64)
                return enc_value(e, f, p);
        put(&e->o, "\"", 1);
        enc_value(e, f, p);
        put(&e->o, "\"", 1);
        return 0;
}

static size_t elem_size(const ProtobufCFieldDescriptor *f) {
        return kbus__json_value_size(f->type);
}

static int enc_repeated(struct enc *e, const ProtobufCFieldDescriptor *f,
                        const ProtobufCMessage *m) {
        size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
        const char *arr = *(const char *const *)member_c(m, f);
        int map = is_map(f), r;

        put(&e->o, map ? "{" : "[", 1);
        e->level++;
        for (size_t i = 0; i < n; i++) {
                size_t saved = path_push(&e->c.path, "[%zu]", i);
                if (i)
                        put(&e->o, ",", 1);
                newline(e);
                if (map) {
                        const ProtobufCMessage *entry =
                            ((const ProtobufCMessage *const *)arr)[i];
                        const ProtobufCMessageDescriptor *ed = f->descriptor;
                        const ProtobufCFieldDescriptor *kf = &ed->fields[0];
                        const ProtobufCFieldDescriptor *vf = &ed->fields[1];
                        enc_map_key(e, kf, member_c(entry, kf));
                        put(&e->o, e->c.flags & KBUS_JSON_INDENT ? ": " : ":",
                            e->c.flags & KBUS_JSON_INDENT ? 2 : 1);
                        r = enc_value(e, vf, member_c(entry, vf));
                } else {
                        r = enc_value(e, f, arr + i * elem_size(f));
                }
                if (r)
                        return r;
                path_pop(&e->c.path, saved);
        }
        e->level--;
        if (n)
                newline(e);
        put(&e->o, map ? "}" : "]", 1);
        return 0;
}

/* Whether field \p f of \p m is output: set, or any value with
 * EMIT_DEFAULTS except an unset message. */
static int present(const struct enc *e, const ProtobufCMessage *m,
                   const ProtobufCFieldDescriptor *f) {
        const void *p = member_c(m, f);
        const char *q = (const char *)m + f->quantifier_offset;
        int all = e->c.flags & KBUS_JSON_EMIT_DEFAULTS;

        if (f->label == PROTOBUF_C_LABEL_REPEATED)
                return all || *(const size_t *)q > 0;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                return *(const uint32_t *)q == f->id;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                return *(const void *const *)p != NULL;
        if (f->label == PROTOBUF_C_LABEL_REQUIRED)
                return 1;
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
                if (f->type == PROTOBUF_C_TYPE_STRING)
                        return *(const char *const *)p != NULL &&
                               *(const char *const *)p != f->default_value;
                return *(const protobuf_c_boolean *)q || all;
        }
        if (all)
                return 1;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
                return *(const char *const *)p && **(const char *const *)p;
        case PROTOBUF_C_TYPE_BYTES:
                return ((const ProtobufCBinaryData *)p)->len > 0;
        case PROTOBUF_C_TYPE_FLOAT:
                return *(const float *)p != 0 || signbit(*(const float *)p);
        case PROTOBUF_C_TYPE_DOUBLE:
                return *(const double *)p != 0 || signbit(*(const double *)p);
        default:
                return memcmp(p, "\0\0\0\0\0\0\0\0", elem_size(f)) != 0;
        }
}

/* ---- well-known types ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (H. Hinnant's civil calendar algorithms). */
static int64_t days_from_civil(int64_t y, unsigned mo, unsigned d) {
        int64_t era;
        unsigned yoe, doy, doe;

        y -= mo <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *mo, unsigned *d) {
        int64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *mo = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t)yoe + era * 400 + (*mo <= 2);
}

#define TS_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define DUR_MAX 315576000000LL  /* 10,000 years */

/* Nanoseconds as ".123", ".123456" or ".123456789"; nothing for 0. */
static void put_nanos(struct out *o, int32_t nanos) {
        if (!nanos)
                return;
        if (nanos % 1000000 == 0)
                putf(o, ".%03" PRId32, nanos / 1000000);
        else if (nanos % 1000 == 0)
                putf(o, ".%06" PRId32, nanos / 1000);
        else
                putf(o, ".%09" PRId32, nanos);
}

/* seconds (int64, field 1) and nanos (int32, field 2) of a Timestamp or
 * Duration. */
static void secs_nanos(const ProtobufCMessage *m, int64_t *s, int32_t *n) {
        const ProtobufCFieldDescriptor *fs =
            field_named(m->descriptor, "seconds");
        const ProtobufCFieldDescriptor *fn =
            field_named(m->descriptor, "nanos");
        *s = fs ? *(const int64_t *)member_c(m, fs) : 0;
        *n = fn ? *(const int32_t *)member_c(m, fn) : 0;
}

static int enc_timestamp(struct enc *e, const ProtobufCMessage *m) {
        int64_t s, y, days;
        int32_t n;
        unsigned mo, d, sod;

        secs_nanos(m, &s, &n);
        if (s < TS_MIN || s > TS_MAX || n < 0 || n > 999999999)
                return fail(&e->c, KBUS_INVALID_ARGUMENT,
                            "Timestamp out of range (seconds %" PRId64
                            ", nanos %" PRId32 ")",
                            s, n);
        days = (s >= 0 ? s : s - 86399) / 86400;
        sod = (unsigned)(s - days * 86400);
        civil_from_days(days, &y, &mo, &d);
        putf(&e->o, "\"%04" PRId64 "-%02u-%02uT%02u:%02u:%02u", y, mo, d,
             sod / 3600, sod / 60 % 60, sod % 60);
        put_nanos(&e->o, n);
        puts_(&e->o, "Z\"");
        return 0;
}

static int enc_duration(struct enc *e, const ProtobufCMessage *m) {
        int64_t s;
        int32_t n;

        secs_nanos(m, &s, &n);
        if (s < -DUR_MAX || s > DUR_MAX || n < -999999999 || n > 999999999 ||
            (s > 0 && n < 0) || (s < 0 && n > 0))
                return fail(&e->c, KBUS_INVALID_ARGUMENT,
                            "Duration out of range or with mixed signs "
                            "(seconds %" PRId64 ", nanos %" PRId32 ")",
                            s, n);
        putf(&e->o, "\"%s%" PRId64, s < 0 || n < 0 ? "-" : "", s < 0 ? -s : s);
        put_nanos(&e->o, n < 0 ? -n : n);
        puts_(&e->o, "s\"");
        return 0;
}

static int enc_field_mask(struct enc *e, const ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f = field_named(m->descriptor, "paths");
        size_t n =
            f ? *(const size_t *)((const char *)m + f->quantifier_offset) : 0;
        char *const *paths = f ? *(char *const *const *)member_c(m, f) : NULL;
        struct out t = {0};
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                int up = 0;
                if (i)
                        put(&t, ",", 1);
                for (const char *s = paths[i]; *s; s++) {
                        if (*s >= 'A' && *s <= 'Z') {
                                r = fail(&e->c, KBUS_INVALID_ARGUMENT,
                                         "FieldMask path \"%s\" is not "
                                         "snake_case",
                                         paths[i]);
                                goto out;
                        }
                        if (*s == '_') {
                                up = 1;
                                continue;
                        }
                        char ch =
                            up && *s >= 'a' && *s <= 'z' ? (char)(*s - 32) : *s;
                        put(&t, &ch, 1);
                        up = 0;
                }
        }
        put_string(&e->o, t.p ? t.p : "", t.n);
        if (t.oom)
                e->o.oom = 1;
out:
        kbus__free(t.p);
        return r;
}

static int enc_struct_value(struct enc *e, const ProtobufCMessage *m);

static int enc_struct(struct enc *e, const ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f =
            field_named(m->descriptor, "fields");
        if (!f)
                return fail(&e->c, KBUS_INVALID_ARGUMENT, "malformed Struct");
        return enc_repeated(e, f, m);
}

static int enc_list_value(struct enc *e, const ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f =
            field_named(m->descriptor, "values");
        if (!f)
                return fail(&e->c, KBUS_INVALID_ARGUMENT,
                            "malformed ListValue");
        return enc_repeated(e, f, m);
}

static int enc_struct_value(struct enc *e, const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *d = m->descriptor;

        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
                    *(const uint32_t *)((const char *)m +
                                        f->quantifier_offset) != f->id)
                        continue;
                if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
                        double v = *(const double *)member_c(m, f);
                        if (!isfinite(v))
                                return fail(&e->c, KBUS_INVALID_ARGUMENT,
                                            "a Value cannot hold NaN or "
                                            "Infinity");
                }
                return enc_value(e, f, member_c(m, f));
        }
        return fail(&e->c, KBUS_INVALID_ARGUMENT, "Value has no kind set");
}

static int enc_wkt(struct enc *e, const ProtobufCMessage *m, int *done) {
        const ProtobufCMessageDescriptor *d = m->descriptor;

        *done = 1;
        if (is_wkt(d, "Timestamp"))
                return enc_timestamp(e, m);
        if (is_wkt(d, "Duration"))
                return enc_duration(e, m);
        if (is_wkt(d, "FieldMask"))
                return enc_field_mask(e, m);
        if (is_wkt(d, "Struct"))
                return enc_struct(e, m);
        if (is_wkt(d, "ListValue"))
                return enc_list_value(e, m);
        if (is_wkt(d, "Value"))
                return enc_struct_value(e, m);
        if (is_wkt(d, "Any"))
                return fail(&e->c, KBUS_INVALID_ARGUMENT,
                            "google.protobuf.Any is not supported");
        if (is_wrapper(d) && d->n_fields == 1)
                return enc_value(e, &d->fields[0], member_c(m, &d->fields[0]));
        *done = 0;
        return 0;
}

static int enc_message(struct enc *e, const ProtobufCMessage *m) {
        const ProtobufCMessageDescriptor *d = m->descriptor;
        char buf[256];
        int first = 1, r, done;

        if (++e->c.depth > MAX_DEPTH)
                return fail(&e->c, KBUS_INVALID_ARGUMENT,
                            "nested more than %d deep", MAX_DEPTH);
        if ((r = enc_wkt(e, m, &done)) || done) {
                e->c.depth--;
                return r;
        }
        put(&e->o, "{", 1);
        e->level++;
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const char *name = e->c.flags & KBUS_JSON_PROTO_NAMES
                                       ? f->name
                                       : json_name(d, i, buf, sizeof(buf));
                size_t saved;

                if (!present(e, m, f))
                        continue;
                if (!first)
                        put(&e->o, ",", 1);
                first = 0;
                newline(e);
                put_string(&e->o, name, strlen(name));
                put(&e->o, e->c.flags & KBUS_JSON_INDENT ? ": " : ":",
                    e->c.flags & KBUS_JSON_INDENT ? 2 : 1);
                saved = path_field(&e->c.path, name);
                r = f->label == PROTOBUF_C_LABEL_REPEATED
                        ? enc_repeated(e, f, m)
                        : enc_value(e, f, member_c(m, f));
                if (r)
                        return r;
                path_pop(&e->c.path, saved);
        }
        e->level--;
        if (!first)
                newline(e);
        put(&e->o, "}", 1);
        e->c.depth--;
        return 0;
}

int kbus_json_encode(const ProtobufCMessage *msg, unsigned flags, char **jsonp,
                     char *errstr, size_t errlen) {
        struct enc e = {0};
        int r;

        e.c.flags = flags;
        e.c.errstr = errstr;
        e.c.errlen = errlen;
        if (!msg || !jsonp)
                return fail(&e.c, KBUS_INVALID_ARGUMENT,
                            "kbus_json_encode: NULL argument");
        *jsonp = NULL;
        r = enc_message(&e, msg);
        if (!r && e.o.oom)
                r = OOM(&e.c);
        if (r) {
                kbus__free(e.o.p);
                return r;
        }
        *jsonp = e.o.p;
        return 0;
}

int kbus_json_from_protobuf(const ProtobufCMessageDescriptor *desc,
                            const void *data, size_t len, unsigned flags,
                            char **jsonp, char *errstr, size_t errlen) {
        ProtobufCMessage *m;
        int r;

        if (!desc || (!data && len) || !jsonp)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_json_from_protobuf: NULL argument");
        *jsonp = NULL;
        m = protobuf_c_message_unpack(desc, &kbus__pb_allocator, len, data);
        if (!m)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%zu bytes do not decode as %s", len,
                                 desc->name);
        r = kbus_json_encode(m, flags, jsonp, errstr, errlen);
        protobuf_c_message_free_unpacked(m, &kbus__pb_allocator);
        return r;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

static int dec_message(struct ctx *c, const ProtobufCMessageDescriptor *d,
                       json_t *j, ProtobufCMessage **out);

static const char *json_kind(const json_t *j) {
        switch (json_typeof(j)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        default:
                return "null";
        }
}

/* A new message of type \p d in its initial state, as unpack makes it. */
static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *d) {
        ProtobufCMessage *m = kbus__calloc(1, d->sizeof_message);

        if (!m)
                return NULL;
        if (d->message_init) {
                d->message_init(m);
                return m;
        }
        m->descriptor = d;
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                if (f->default_value && f->label != PROTOBUF_C_LABEL_REPEATED &&
                    f->type == PROTOBUF_C_TYPE_STRING)
                        *(const void **)member(m, f) = f->default_value;
        }
        return m;
}

/* Parses all of s as a decimal integer (optional sign); also "1e3" or
 * "5.0" when that is an integer exactly.  0 on success. */
static int parse_int_text(const char *s, int is_unsigned, int64_t *iv,
                          uint64_t *uv) {
        char *end;
        double dv;

        if (!*s || s[0] == ' ' || s[0] == '+')
                return -1;
        errno = 0;
        if (is_unsigned) {
                if (s[0] == '-')
                        goto real;
                *uv = strtoull(s, &end, 10);
        } else {
                *iv = strtoll(s, &end, 10);
        }
        if (!*end && errno != ERANGE)
                return 0;
real:
        errno = 0;
        dv = strtod(s, &end);
        if (*end || errno == ERANGE || !isfinite(dv) || dv != floor(dv) ||
            fabs(dv) > 9007199254740992.0)
                return -1;
        if (is_unsigned) {
                if (dv < 0)
                        return -1;
                *uv = (uint64_t)dv;
        } else {
                *iv = (int64_t)dv;
        }
        return 0;
}

/* Reads an integer field's JSON: a number or a string holding one. */
static int dec_int(struct ctx *c, const ProtobufCFieldDescriptor *f, json_t *j,
                   void *p) {
        int is_unsigned = f->type == PROTOBUF_C_TYPE_UINT32 ||
                          f->type == PROTOBUF_C_TYPE_FIXED32 ||
                          f->type == PROTOBUF_C_TYPE_UINT64 ||
                          f->type == PROTOBUF_C_TYPE_FIXED64;
        int is64 = elem_size(f) == 8;
        int64_t iv = 0;
        uint64_t uv = 0;
        int neg = 0;

        if (json_is_integer(j)) {
                iv = json_integer_value(j);
                neg = iv < 0;
                uv = (uint64_t)iv;
        } else if (json_is_real(j)) {
                double dv = json_real_value(j);
                if (dv != floor(dv))
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "expected an integer, got %g", dv);
                if (fabs(dv) > 9223372036854775807.0)
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "%g is out of range", dv);
                iv = (int64_t)dv;
                neg = dv < 0;
                uv = (uint64_t)iv;
        } else if (json_is_string(j)) {
                if (parse_int_text(json_string_value(j), is_unsigned, &iv, &uv))
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "expected an integer, got \"%s\"",
                                    json_string_value(j));
                if (!is_unsigned) {
                        neg = iv < 0;
                        uv = (uint64_t)iv;
                } else {
                        iv = (int64_t)uv;
                }
        } else {
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "expected an integer, got %s", json_kind(j));
        }
        if (is_unsigned && neg)
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "%" PRId64 " is out of range for an unsigned "
                            "field",
                            iv);
        if (is_unsigned && !is64 && uv > UINT32_MAX)
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "%" PRIu64 " is out of range for uint32", uv);
        if (!is_unsigned && !is64 && (iv < INT32_MIN || iv > INT32_MAX))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "%" PRId64 " is out of range for int32", iv);
        if (is_unsigned && is64)
                *(uint64_t *)p = uv;
        else if (is_unsigned)
                *(uint32_t *)p = (uint32_t)uv;
        else if (is64)
                *(int64_t *)p = iv;
        else
                *(int32_t *)p = (int32_t)iv;
        return 0;
}

static int dec_float(struct ctx *c, const ProtobufCFieldDescriptor *f,
                     json_t *j, void *p) {
        double v;

        if (json_is_number(j)) {
                v = json_number_value(j);
        } else if (json_is_string(j)) {
                const char *s = json_string_value(j);
                char *end;
                if (!strcmp(s, "NaN"))
                        v = NAN;
                else if (!strcmp(s, "Infinity"))
                        v = INFINITY;
                else if (!strcmp(s, "-Infinity"))
                        v = -INFINITY;
                else {
                        errno = 0;
                        v = strtod(s, &end);
                        if (!*s || *end || s[0] == ' ' || !isfinite(v) ||
                            errno == ERANGE)
                                return fail(c, KBUS_INVALID_ARGUMENT,
                                            "expected a number, got \"%s\"", s);
                }
        } else {
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "expected a number, got %s", json_kind(j));
        }
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
                if (isfinite(v) && fabs(v) > FLT_MAX)
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "%g is out of range for float", v);
                *(float *)p = (float)v;
        } else {
                *(double *)p = v;
        }
        return 0;
}

static int b64_val(int ch) {
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        if (ch == '+' || ch == '-')
                return 62;
        if (ch == '/' || ch == '_')
                return 63;
        return -1;
}

/* Standard or URL-safe base64, padding optional. */
static int dec_bytes(struct ctx *c, json_t *j, ProtobufCBinaryData *b) {
        const char *s;
        size_t n, o = 0;
        uint32_t acc = 0;
        int bits = 0;
        uint8_t *d;

        if (!json_is_string(j))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "expected a base64 string, got %s", json_kind(j));
        s = json_string_value(j);
        n = json_string_length(j);
        while (n && s[n - 1] == '=')
                n--;
        if (n % 4 == 1 || json_string_length(j) - n > 2)
                return fail(c, KBUS_INVALID_ARGUMENT, "not valid base64");
        if (!(d = kbus__malloc(n * 3 / 4 + 1)))
                return OOM(c);
        for (size_t i = 0; i < n; i++) {
                int v = b64_val((unsigned char)s[i]);
                if (v < 0) {
                        kbus__free(d);
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "not valid base64 (character %zu)", i + 1);
                }
                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        d[o++] = (uint8_t)(acc >> bits);
                }
        }
        if (b->data)
                kbus__free(b->data);
        b->data = d;
        b->len = o;
        return 0;
}

static int dec_enum(struct ctx *c, const ProtobufCFieldDescriptor *f, json_t *j,
                    int *p, int *skip) {
        const ProtobufCEnumDescriptor *ed = f->descriptor;

        *skip = 0;
        if (!strcmp(ed->name, "google.protobuf.NullValue") && json_is_null(j)) {
                *p = 0;
                return 0;
        }
        if (json_is_string(j)) {
                const ProtobufCEnumValue *v =
                    protobuf_c_enum_descriptor_get_value_by_name(
                        ed, json_string_value(j));
                if (!v) {
                        if (c->flags & KBUS_JSON_IGNORE_UNKNOWN) {
                                *skip = 1;
                                return 0;
                        }
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "\"%s\" is not a value of enum %s",
                                    json_string_value(j), ed->name);
                }
                *p = v->value;
                return 0;
        }
        if (json_is_integer(j)) {
                json_int_t v = json_integer_value(j);
                if (v < INT32_MIN || v > INT32_MAX)
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "%" JSON_INTEGER_FORMAT
                                    " is out of range for enum %s",
                                    v, ed->name);
                *p = (int)v;
                return 0;
        }
        return fail(c, KBUS_INVALID_ARGUMENT,
                    "expected a name of enum %s, got %s", ed->name,
                    json_kind(j));
}

static int dec_string(struct ctx *c, const ProtobufCFieldDescriptor *f,
                      json_t *j, char **p) {
        char *s;

        if (!json_is_string(j))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "expected a string, got %s", json_kind(j));
        if (strlen(json_string_value(j)) != json_string_length(j))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "a string with a NUL character (\\u0000) cannot "
                            "be stored");
        if (!(s = kbus__strdup(json_string_value(j))))
                return OOM(c);
        if (*p && *p != f->default_value)
                kbus__free(*p);
        *p = s;
        return 0;
}

/* One value of field \p f from \p j into \p p.  *skip is set when an
 * unknown enum name was ignored. */
static int dec_value(struct ctx *c, const ProtobufCFieldDescriptor *f,
                     json_t *j, void *p, int *skip) {
        *skip = 0;
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
                return dec_int(c, f, j, p);
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE:
                return dec_float(c, f, j, p);
        case PROTOBUF_C_TYPE_BOOL:
                if (!json_is_boolean(j))
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "expected true or false, got %s",
                                    json_kind(j));
                *(protobuf_c_boolean *)p = json_is_true(j);
                return 0;
        case PROTOBUF_C_TYPE_ENUM:
                return dec_enum(c, f, j, p, skip);
        case PROTOBUF_C_TYPE_STRING:
                return dec_string(c, f, j, p);
        case PROTOBUF_C_TYPE_BYTES:
                return dec_bytes(c, j, p);
        case PROTOBUF_C_TYPE_MESSAGE: {
                ProtobufCMessage *sub = NULL, **slot = p;
                int r = dec_message(c, f->descriptor, j, &sub);
                if (r)
                        return r;
                if (*slot)
                        protobuf_c_message_free_unpacked(*slot,
                                                         &kbus__pb_allocator);
                *slot = sub;
                return 0;
        }
        }
        return fail(c, KBUS_INTERNAL, "unknown field type %d", (int)f->type);
}

/* A map key (always a JSON object key, so text) into the entry's key. */
static int dec_map_key(struct ctx *c, const ProtobufCFieldDescriptor *kf,
                       const char *key, void *p) {
        json_t *j;
        int r, skip;

        if (kf->type == PROTOBUF_C_TYPE_BOOL) {
                if (strcmp(key, "true") && strcmp(key, "false"))
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "map key \"%s\" is not true or false", key);
                *(protobuf_c_boolean *)p = !strcmp(key, "true");
                return 0;
        }
        if (!(j = json_string(key)))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "map key is not valid UTF-8");
        r = dec_value(c, kf, j, p, &skip);
        json_decref(j);
        return r;
}

/* Appends one zeroed element to repeated field \p f; NULL when out of
 * memory.  The count grows only with the array, so a message that fails
 * half-way is still consistent for free_unpacked. */
static void *append(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
        size_t *n = (size_t *)((char *)m + f->quantifier_offset);
        void **arr = member(m, f);
        size_t es = elem_size(f);
        char *na = kbus__realloc(*arr, (*n + 1) * es);

        if (!na)
                return NULL;
        memset(na + *n * es, 0, es);
        *arr = na;
        return na + (*n)++ * es;
}

static int dec_repeated(struct ctx *c, ProtobufCMessage *m,
                        const ProtobufCFieldDescriptor *f, json_t *j) {
        int r, skip;

        if (is_map(f)) {
                const ProtobufCMessageDescriptor *ed = f->descriptor;
                const char *key;
                json_t *v;

                if (!json_is_object(j))
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "expected an object (a map), got %s",
                                    json_kind(j));
                json_object_foreach(j, key, v) {
                        size_t saved = path_push(&c->path, "[\"%s\"]", key);
                        ProtobufCMessage *entry, **slot;

                        if (!(entry = new_message(ed)))
                                return OOM(c);
                        if (!(slot = append(m, f))) {
                                protobuf_c_message_free_unpacked(
                                    entry, &kbus__pb_allocator);
                                return OOM(c);
                        }
                        *slot = entry;
                        if ((r = dec_map_key(c, &ed->fields[0], key,
                                             member(entry, &ed->fields[0]))))
                                return r;
                        if (json_is_null(v) &&
                            !(ed->fields[1].type == PROTOBUF_C_TYPE_MESSAGE &&
                              is_wkt(ed->fields[1].descriptor, "Value")))
                                return fail(c, KBUS_INVALID_ARGUMENT,
                                            "a map value cannot be null");
                        if ((r = dec_value(c, &ed->fields[1], v,
                                           member(entry, &ed->fields[1]),
                                           &skip)))
                                return r;
                        if (ed->fields[1].type == PROTOBUF_C_TYPE_MESSAGE &&
                            !*(void **)member(entry, &ed->fields[1])) {
                                ProtobufCMessage *empty =
                                    new_message(ed->fields[1].descriptor);
                                if (!empty)
                                        return OOM(c);
                                *(void **)member(entry, &ed->fields[1]) = empty;
                        }
                        path_pop(&c->path, saved);
                }
                return 0;
        }
        if (!json_is_array(j))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "expected an array, got %s", json_kind(j));
        for (size_t i = 0; i < json_array_size(j); i++) {
                json_t *v = json_array_get(j, i);
                size_t saved = path_push(&c->path, "[%zu]", i);
                void *slot;

                if (json_is_null(v) && !(f->type == PROTOBUF_C_TYPE_MESSAGE &&
                                         is_wkt(f->descriptor, "Value")))
                        return fail(c, KBUS_INVALID_ARGUMENT,
                                    "an element cannot be null");
                if (!(slot = append(m, f)))
                        return OOM(c);
                if ((r = dec_value(c, f, v, slot, &skip)))
                        return r;
                if (skip) /* an unknown enum name, ignored: drop it */
                        (*(size_t *)((char *)m + f->quantifier_offset))--;
                path_pop(&c->path, saved);
        }
        return 0;
}

/* ---- well-known types ---- */

static int set_secs_nanos(ProtobufCMessage *m, int64_t s, int32_t n) {
        const ProtobufCFieldDescriptor *fs =
            field_named(m->descriptor, "seconds");
        const ProtobufCFieldDescriptor *fn =
            field_named(m->descriptor, "nanos");
        if (!fs || !fn)
                return -1;
        *(int64_t *)member(m, fs) = s;
        *(int32_t *)member(m, fn) = n;
        return 0;
}

/* Up to 9 fraction digits after the '.', as nanoseconds. */
static const char *read_nanos(const char *s, int32_t *nanos) {
        int32_t v = 0;
        int digits = 0;

        while (*s >= '0' && *s <= '9' && digits < 9) {
                v = v * 10 + (*s++ - '0');
                digits++;
        }
        if (!digits || (*s >= '0' && *s <= '9'))
                return NULL;
        while (digits++ < 9)
                v *= 10;
        *nanos = v;
        return s;
}

static int num(const char *s, int n, unsigned *v) {
        *v = 0;
        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                *v = *v * 10 + (unsigned)(s[i] - '0');
        }
        return 0;
}

static int dec_timestamp(struct ctx *c, json_t *j, ProtobufCMessage *m) {
        static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};
        const char *s, *p;
        unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
        int32_t nanos = 0;
        int east = 0;
        int64_t secs;

        if (!json_is_string(j))
                goto bad;
        s = json_string_value(j);
        if (strlen(s) < 20 || num(s, 4, &y) || s[4] != '-' ||
            num(s + 5, 2, &mo) || s[7] != '-' || num(s + 8, 2, &d) ||
            (s[10] != 'T' && s[10] != 't') || num(s + 11, 2, &h) ||
            s[13] != ':' || num(s + 14, 2, &mi) || s[16] != ':' ||
            num(s + 17, 2, &sec))
                goto bad;
        p = s + 19;
        if (*p == '.' && !(p = read_nanos(p + 1, &nanos)))
                goto bad;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if ((*p == '+' || *p == '-') && !num(p + 1, 2, &oh) &&
                   p[3] == ':' && !num(p + 4, 2, &om) && oh < 24 && om < 60) {
                east = *p == '+' ? 1 : -1;
                p += 6;
        } else {
                goto bad;
        }
        if (*p || y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
            (mo == 2 && d == 29 &&
             !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) ||
            h > 23 || mi > 59 || sec > 59)
                goto bad;
        secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
        /* 10:00+02:00 is 08:00Z */
        secs -= east * (int64_t)(oh * 3600 + om * 60);
        if (secs < TS_MIN || secs > TS_MAX)
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "\"%s\" is outside 0001-01-01 to 9999-12-31", s);
        if (set_secs_nanos(m, secs, nanos))
                return fail(c, KBUS_INVALID_ARGUMENT, "malformed Timestamp");
        return 0;
bad:
        return fail(c, KBUS_INVALID_ARGUMENT,
                    "expected an RFC 3339 time such as "
                    "\"2024-05-01T12:30:00Z\", got %s%s%s",
                    json_is_string(j) ? "\"" : "",
                    json_is_string(j) ? json_string_value(j) : json_kind(j),
                    json_is_string(j) ? "\"" : "");
}

static int dec_duration(struct ctx *c, json_t *j, ProtobufCMessage *m) {
        const char *s, *p;
        int neg = 0;
        int64_t secs = 0;
        int32_t nanos = 0;
        int digits = 0;

        if (!json_is_string(j))
                goto bad;
        s = p = json_string_value(j);
        if (*p == '-') {
                neg = 1;
                p++;
        }
        while (*p >= '0' && *p <= '9') {
                if (secs > DUR_MAX)
                        goto range;
                secs = secs * 10 + (*p++ - '0');
                digits++;
        }
        if (!digits)
                goto bad;
        if (*p == '.' && !(p = read_nanos(p + 1, &nanos)))
                goto bad;
        if (strcmp(p, "s"))
                goto bad;
        if (secs > DUR_MAX)
                goto range;
        if (set_secs_nanos(m, neg ? -secs : secs, neg ? -nanos : nanos))
                return fail(c, KBUS_INVALID_ARGUMENT, "malformed Duration");
        return 0;
range:
        return fail(c, KBUS_INVALID_ARGUMENT,
                    "\"%s\" is longer than 10,000 years", s);
bad:
        return fail(c, KBUS_INVALID_ARGUMENT,
                    "expected a duration such as \"1.5s\", got %s%s%s",
                    json_is_string(j) ? "\"" : "",
                    json_is_string(j) ? json_string_value(j) : json_kind(j),
                    json_is_string(j) ? "\"" : "");
}

static int dec_field_mask(struct ctx *c, json_t *j, ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f = field_named(m->descriptor, "paths");
        const char *s;

        if (!f || !json_is_string(j))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "expected a FieldMask string such as "
                            "\"user.displayName,photo\", got %s",
                            json_kind(j));
        s = json_string_value(j);
        while (*s) {
                const char *end = strchr(s, ',');
                size_t n = end ? (size_t)(end - s) : strlen(s), o = 0;
                char *path = kbus__malloc(2 * n + 1), **slot;

                if (!path)
                        return OOM(c);
                for (size_t i = 0; i < n; i++) {
                        if (s[i] == '_') {
                                kbus__free(path);
                                return fail(c, KBUS_INVALID_ARGUMENT,
                                            "FieldMask paths are "
                                            "lowerCamelCase: no '_'");
                        }
                        if (s[i] >= 'A' && s[i] <= 'Z') {
                                path[o++] = '_';
                                path[o++] = (char)(s[i] + 32);
                        } else {
                                path[o++] = s[i];
                        }
                }
                path[o] = '\0';
                if (!(slot = append(m, f))) {
                        kbus__free(path);
                        return OOM(c);
                }
                *slot = path;
                s += n;
                if (*s == ',')
                        s++;
        }
        return 0;
}

/* Sets the oneof member \p name of a Value and returns it. */
static void *value_kind(ProtobufCMessage *m, const char *name) {
        const ProtobufCFieldDescriptor *f = field_named(m->descriptor, name);
        if (!f)
                return NULL;
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
        return member(m, f);
}

static int dec_struct_value(struct ctx *c, json_t *j, ProtobufCMessage *m);

static int dec_struct(struct ctx *c, json_t *j, ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f =
            field_named(m->descriptor, "fields");
        if (!f)
                return fail(c, KBUS_INVALID_ARGUMENT, "malformed Struct");
        return dec_repeated(c, m, f, j);
}

static int dec_list_value(struct ctx *c, json_t *j, ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f =
            field_named(m->descriptor, "values");
        if (!f)
                return fail(c, KBUS_INVALID_ARGUMENT, "malformed ListValue");
        return dec_repeated(c, m, f, j);
}

static int dec_struct_value(struct ctx *c, json_t *j, ProtobufCMessage *m) {
        const ProtobufCFieldDescriptor *f = NULL;
        void *p = NULL;

        switch (json_typeof(j)) {
        case JSON_NULL:
                p = value_kind(m, "null_value");
                if (p)
                        *(int *)p = 0;
                break;
        case JSON_TRUE:
        case JSON_FALSE:
                if ((p = value_kind(m, "bool_value")))
                        *(protobuf_c_boolean *)p = json_is_true(j);
                break;
        case JSON_INTEGER:
        case JSON_REAL:
                if ((p = value_kind(m, "number_value")))
                        *(double *)p = json_number_value(j);
                break;
        case JSON_STRING:
                if ((p = value_kind(m, "string_value"))) {
                        f = field_named(m->descriptor, "string_value");
                        *(char **)p = NULL;
                        return dec_string(c, f, j, p);
                }
                break;
        case JSON_OBJECT:
        case JSON_ARRAY: {
                const char *name =
                    json_is_object(j) ? "struct_value" : "list_value";
                f = field_named(m->descriptor, name);
                if ((p = value_kind(m, name))) {
                        *(void **)p = NULL;
                        return dec_value(c, f, j, p, &(int){0});
                }
                break;
        }
        }
        return p ? 0 : fail(c, KBUS_INVALID_ARGUMENT, "malformed Value");
}

/* The special JSON forms; *done = 0 for an ordinary message. */
static int dec_wkt(struct ctx *c, const ProtobufCMessageDescriptor *d,
                   json_t *j, ProtobufCMessage *m, int *done) {
        int skip;

        *done = 1;
        if (is_wkt(d, "Timestamp"))
                return dec_timestamp(c, j, m);
        if (is_wkt(d, "Duration"))
                return dec_duration(c, j, m);
        if (is_wkt(d, "FieldMask"))
                return dec_field_mask(c, j, m);
        if (is_wkt(d, "Struct"))
                return json_is_object(j)
                           ? dec_struct(c, j, m)
                           : fail(c, KBUS_INVALID_ARGUMENT,
                                  "expected an object, got %s", json_kind(j));
        if (is_wkt(d, "ListValue"))
                return json_is_array(j)
                           ? dec_list_value(c, j, m)
                           : fail(c, KBUS_INVALID_ARGUMENT,
                                  "expected an array, got %s", json_kind(j));
        if (is_wkt(d, "Value"))
                return dec_struct_value(c, j, m);
        if (is_wkt(d, "Any"))
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "google.protobuf.Any is not supported");
        if (is_wrapper(d) && d->n_fields == 1)
                return dec_value(c, &d->fields[0], j, member(m, &d->fields[0]),
                                 &skip);
        *done = 0;
        return 0;
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *d, const char *key, unsigned *ip) {
        char buf[256];

        for (unsigned i = 0; i < d->n_fields; i++)
                if (!strcmp(json_name(d, i, buf, sizeof(buf)), key) ||
                    !strcmp(d->fields[i].name, key)) {
                        *ip = i;
                        return &d->fields[i];
                }
        return NULL;
}

static int dec_fields(struct ctx *c, const ProtobufCMessageDescriptor *d,
                      json_t *j, ProtobufCMessage *m) {
        unsigned char *seen = kbus__calloc(d->n_fields + 1, 1);
        const char *key;
        json_t *v;
        int r = 0;

        if (!seen)
                return OOM(c);
        json_object_foreach(j, key, v) {
                const ProtobufCFieldDescriptor *f;
                unsigned i;
                size_t saved = path_field(&c->path, key);
                int skip = 0;

                if (!(f = find_field(d, key, &i))) {
                        if (c->flags & KBUS_JSON_IGNORE_UNKNOWN) {
                                path_pop(&c->path, saved);
                                continue;
                        }
                        r = fail(c, KBUS_INVALID_ARGUMENT,
                                 "unknown field (%s has no field of that "
                                 "name)",
                                 d->name);
                        break;
                }
                if (seen[i]) {
                        r = fail(c, KBUS_INVALID_ARGUMENT,
                                 "field given twice (as its json name and "
                                 "its proto name)");
                        break;
                }
                seen[i] = 1;
                /* null means "not set", except where null is the value. */
                if (json_is_null(v) &&
                    !(f->type == PROTOBUF_C_TYPE_MESSAGE &&
                      is_wkt(f->descriptor, "Value")) &&
                    !(f->type == PROTOBUF_C_TYPE_ENUM &&
                      !strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)
                                  ->name,
                              "google.protobuf.NullValue"))) {
                        path_pop(&c->path, saved);
                        continue;
                }
                if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                        uint32_t *cs =
                            (uint32_t *)((char *)m + f->quantifier_offset);
                        if (*cs) {
                                const ProtobufCFieldDescriptor *other =
                                    protobuf_c_message_descriptor_get_field(
                                        d, *cs);
                                r = fail(c, KBUS_INVALID_ARGUMENT,
                                         "only one field of a oneof may be "
                                         "set, and %s is already",
                                         other ? other->name : "another");
                                break;
                        }
                        /* The union's bytes may hold another member's type:
                         * start from zero. */
                        memset(member(m, f), 0, elem_size(f));
                }
                if (f->label == PROTOBUF_C_LABEL_REPEATED)
                        r = dec_repeated(c, m, f, v);
                else
                        r = dec_value(c, f, v, member(m, f), &skip);
                if (r)
                        break;
                if (!skip && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
                else if (!skip && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                         f->type != PROTOBUF_C_TYPE_STRING &&
                         f->type != PROTOBUF_C_TYPE_MESSAGE)
                        *(protobuf_c_boolean *)((char *)m +
                                                f->quantifier_offset) = 1;
                path_pop(&c->path, saved);
        }
        kbus__free(seen);
        return r;
}

static int dec_message(struct ctx *c, const ProtobufCMessageDescriptor *d,
                       json_t *j, ProtobufCMessage **out) {
        ProtobufCMessage *m;
        int r, done;

        if (++c->depth > MAX_DEPTH)
                return fail(c, KBUS_INVALID_ARGUMENT,
                            "nested more than %d deep", MAX_DEPTH);
        if (!(m = new_message(d)))
                return OOM(c);
        r = dec_wkt(c, d, j, m, &done);
        if (!r && !done) {
                if (!json_is_object(j))
                        r = fail(c, KBUS_INVALID_ARGUMENT,
                                 "expected an object (%s), got %s", d->name,
                                 json_kind(j));
                else
                        r = dec_fields(c, d, j, m);
        }
        if (r) {
                protobuf_c_message_free_unpacked(m, &kbus__pb_allocator);
                return r;
        }
        c->depth--;
        *out = m;
        return 0;
}

int kbus_json_decode(const ProtobufCMessageDescriptor *desc, const char *json,
                     size_t len, unsigned flags, ProtobufCMessage **msgp,
                     char *errstr, size_t errlen) {
        struct ctx c = {0};
        json_error_t jerr;
        json_t *j;
        int r;

        c.flags = flags;
        c.errstr = errstr;
        c.errlen = errlen;
        if (!desc || !json || !msgp)
                return fail(&c, KBUS_INVALID_ARGUMENT,
                            "kbus_json_decode: NULL argument");
        *msgp = NULL;
        j = json_loadb(
            json, len,
            JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j)
                return fail(&c, KBUS_INVALID_ARGUMENT,
                            "bad JSON at line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
        r = dec_message(&c, desc, j, msgp);
        json_decref(j);
        return r;
}

int kbus_json_to_protobuf(const ProtobufCMessageDescriptor *desc,
                          const char *json, size_t len, unsigned flags,
                          void **datap, size_t *lenp, char *errstr,
                          size_t errlen) {
        ProtobufCMessage *m;
        uint8_t *buf;
        size_t n;
        int r;

        if (!datap || !lenp)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_json_to_protobuf: NULL argument");
        *datap = NULL;
        *lenp = 0;
        if ((r = kbus_json_decode(desc, json, len, flags, &m, errstr, errlen)))
                return r;
        n = protobuf_c_message_get_packed_size(m);
        if (!(buf = kbus__malloc(n ? n : 1))) {
                kbus_json_message_free(m);
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        }
        protobuf_c_message_pack(m, buf);
        kbus_json_message_free(m);
        *datap = buf;
        *lenp = n;
        return 0;
}

void kbus_json_message_free(ProtobufCMessage *msg) {
        if (msg)
                protobuf_c_message_free_unpacked(msg, &kbus__pb_allocator);
}

void kbus_json_free(void *p) {
        kbus__free(p);
}
