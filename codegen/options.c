/*
 * Decoding kbus options from unknown fields (see options.h).
 *
 * protobuf-c keeps an unknown field as its tag, wire type and the bytes
 * after the tag; for a length-delimited field those bytes start with the
 * length varint.  An extension set several times (option (kbus.method).a
 * = 1; option (kbus.method).b = 2;) arrives as several fields: protobuf
 * merges repeated occurrences of a message, and the serialized form of a
 * merge is the concatenation, so the payloads are joined and decoded once.
 */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Reads a varint at p[0..n); returns its length, 0 if malformed. */
static size_t read_varint(const uint8_t *p, size_t n, uint64_t *v) {
        uint64_t r = 0;

        for (size_t i = 0; i < n && i < 10; i++) {
                r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
                if ((p[i] & 0x80) == 0) {
                        *v = r;
                        return i + 1;
                }
        }
        return 0;
}

/* The payload of a length-delimited unknown field, or NULL. */
static const uint8_t *payload(const ProtobufCMessageUnknownField *uf,
                              size_t *len) {
        uint64_t n;
        size_t k;

        if (uf->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
                return NULL;
        k = read_varint(uf->data, uf->len, &n);
        if (k == 0 || n != uf->len - k)
                return NULL;
        *len = (size_t)n;
        return uf->data + k;
}

ProtobufCMessage *options_get(const ProtobufCMessage *opts, uint32_t number,
                              const ProtobufCMessageDescriptor *desc,
                              int *present, const char **errp) {
        ProtobufCMessage *m;
        uint8_t *joined = NULL;
        size_t joined_len = 0;

        *present = 0;
        *errp = NULL;
        if (opts == NULL)
                return NULL;
        for (unsigned i = 0; i < opts->n_unknown_fields; i++) {
                const ProtobufCMessageUnknownField *uf =
                    &opts->unknown_fields[i];
                const uint8_t *p;
                size_t n;

                if (uf->tag != number)
                        continue;
                p = payload(uf, &n);
                if (p == NULL) {
                        free(joined);
                        *errp = "malformed option value";
                        return NULL;
                }
                joined = xrealloc(joined, joined_len + n);
                memcpy(joined + joined_len, p, n);
                joined_len += n;
                *present = 1;
        }
        if (!*present)
                return NULL;
        m = protobuf_c_message_unpack(desc, NULL, joined_len, joined);
        free(joined);
        if (m == NULL)
                *errp = "option value does not decode";
        return m;
}

char *options_c_package(const ProtobufCMessage *file_opts) {
        char *pkg = NULL;

        if (file_opts == NULL)
                return NULL;
        for (unsigned i = 0; i < file_opts->n_unknown_fields; i++) {
                const ProtobufCMessageUnknownField *uf =
                    &file_opts->unknown_fields[i];
                const uint8_t *p;
                size_t n, off = 0;

                if (uf->tag != PB_C_EXT_FILE || (p = payload(uf, &n)) == NULL)
                        continue;
                /* Walk ProtobufCFileOptions for field 6, c_package. */
                while (off < n) {
                        uint64_t key, v;
                        size_t k = read_varint(p + off, n - off, &key);

                        if (k == 0)
                                break;
                        off += k;
                        switch (key & 7) {
                        case 0:
                                k = read_varint(p + off, n - off, &v);
                                if (k == 0)
                                        return pkg;
                                off += k;
                                break;
                        case 1:
                                off += 8;
                                break;
                        case 5:
                                off += 4;
                                break;
                        case 2:
                                k = read_varint(p + off, n - off, &v);
                                if (k == 0 || v > n - off - k)
                                        return pkg;
                                off += k;
                                if ((key >> 3) == 6) {
                                        free(pkg);
                                        pkg = xmalloc((size_t)v + 1);
                                        memcpy(pkg, p + off, (size_t)v);
                                        pkg[v] = '\0';
                                }
                                off += (size_t)v;
                                break;
                        default:
                                return pkg;
                        }
                }
        }
        return pkg;
}
