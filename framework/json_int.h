/*
 * What json_pool.c and json.c share: the little a pool adds to the
 * protobuf-c descriptors it builds.
 *
 * protobuf-c's descriptors have no place for a field's json_name or for
 * "this message is a map entry", which generated code does not need.  A
 * pool's message descriptors carry them in their reserved pointers:
 * reserved1 is the address of kbus__json_marker (so that json.c can tell
 * them from generated descriptors, whose reserved pointers are NULL) and
 * reserved2 points at a kbus_json_msg_ext.  For generated descriptors
 * json.c derives both from names instead.
 */
#ifndef KBUS_JSON_INT_H
#define KBUS_JSON_INT_H

#include "kbus/json.h"

typedef struct kbus_json_msg_ext {
        const char **json_names; /* per field, in the order of fields[] */
        int map_entry;           /* a map<K, V> field's entry type */
} kbus_json_msg_ext;

extern const char kbus__json_marker[];

/** The extension of \p d when a pool built it, else NULL. */
static inline const kbus_json_msg_ext *
kbus__json_ext(const ProtobufCMessageDescriptor *d) {
        return d->reserved1 == (const void *)kbus__json_marker ? d->reserved2
                                                               : NULL;
}

/** A callback of type kbus_json_call_cb, for a pool's methods. */
void kbus__json_complete(kbus_fn cb, kbus_status status, const char *message,
                         const ProtobufCMessage *reply, void *arg);

/** Size (and alignment) of a value of type \p t in a protobuf-c struct:
 *  what a repeated field's array holds per element. */
size_t kbus__json_value_size(ProtobufCType t);

#endif
