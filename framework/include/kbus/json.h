/*
 * kbus/json.h: protobuf messages as JSON, by the proto3 JSON mapping.
 *
 * For programs at the edges of a kbus system: an HTTP gateway that turns
 * JSON requests into calls, the `kbus` tool, a bridge to a browser.  Two
 * parts:
 *
 * - A descriptor pool (kbus_json_pool) reads a FileDescriptorSet, the file
 *   `protoc --descriptor_set_out=FILE --include_imports` writes, and builds
 *   protobuf-c descriptors from it at run time: messages that
 *   protobuf_c_message_pack() and protobuf_c_message_unpack() handle like
 *   generated ones, the services and methods with their kbus options, and
 *   the event types.  No generated C code is needed.
 * - Conversion between JSON text and protobuf messages, for descriptors
 *   from a pool and generated ones alike.
 *
 * The mapping is proto3's (https://protobuf.dev/programming-guides/proto3/,
 * "JSON Mapping"): field names in lowerCamelCase (the field's json_name;
 * input accepts the proto name too), enums by name (input accepts numbers),
 * 64-bit integers as strings (input accepts numbers), bytes as standard
 * base64 (input accepts the URL-safe alphabet and missing padding), NaN and
 * infinities as "NaN", "Infinity", "-Infinity", maps as objects, fields
 * with default values left out, and the well-known types Timestamp (RFC
 * 3339), Duration ("1.5s"), Empty, FieldMask, Struct, Value, ListValue and
 * the wrappers in their special forms.  google.protobuf.Any and proto2
 * groups are refused with an error.
 *
 * Errors name the field's path in the message, as in
 * "items[2].quantity: expected an integer", or the line and column of a
 * JSON syntax error.
 *
 * Threading: a pool is immutable once built; any thread may use it and its
 * descriptors concurrently.  The conversion functions keep no state.
 */
#ifndef KBUS_JSON_H
#define KBUS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "kbus/kbus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Descriptor pool                                                     */
/* ------------------------------------------------------------------ */

/** @brief Descriptors built from a FileDescriptorSet. */
typedef struct kbus_json_pool kbus_json_pool;

/**
 * @brief Builds a pool from the serialized FileDescriptorSet in
 *        \p data[0..len).
 *
 * Every type a field names must be in the set (so use --include_imports).
 * @returns 0, INVALID_ARGUMENT (not a FileDescriptorSet, a type missing,
 *          a proto2 group) with the reason in \p errstr, or
 *          RESOURCE_EXHAUSTED.
 * @remark \p data is not kept; free the pool with kbus_json_pool_free().
 */
int kbus_json_pool_new(kbus_json_pool **poolp, const void *data, size_t len,
                       char *errstr, size_t errlen);

/** @brief kbus_json_pool_new() on the contents of the file \p path; the
 *         error names the file.  NOT_FOUND when it cannot be read. */
int kbus_json_pool_load(kbus_json_pool **poolp, const char *path, char *errstr,
                        size_t errlen);

/** @brief Frees the pool and every descriptor it made; NULL is fine.
 *  @remark No message made with its descriptors may outlive it. */
void kbus_json_pool_free(kbus_json_pool *pool);

/** @brief The message type of full name \p name ("shop.v1.Order"; a
 *         leading dot is allowed), or NULL. */
const ProtobufCMessageDescriptor *
kbus_json_pool_message(const kbus_json_pool *pool, const char *name);

/** @brief The enum type of full name \p name, or NULL. */
const ProtobufCEnumDescriptor *kbus_json_pool_enum(const kbus_json_pool *pool,
                                                   const char *name);

/** @brief How many services the set defines. */
size_t kbus_json_pool_service_count(const kbus_json_pool *pool);

/**
 * @brief Service \p i (0 <= i < kbus_json_pool_service_count()), with its
 *        request topic and methods as protoc-gen-kbus would generate them
 *        from the same options: path, input and output types, flags,
 *        timeout, key field and retry policy.  Streaming methods are left
 *        out (kbus has none).
 *
 * The methods' complete() calls a client callback of type
 * kbus_json_call_cb, so kbus_call_start() works with them.  Their
 * dispatch() is NULL: a pool's services cannot be served with kbus_serve().
 */
const kbus_service_desc *kbus_json_pool_service(const kbus_json_pool *pool,
                                                size_t i);

/**
 * @brief Finds a method by "/pkg.Service/Method", "pkg.Service/Method" or
 *        "pkg.Service.Method"; NULL if there is none.  *\p svcp (when not
 *        NULL) gets its service.
 */
const kbus_method_desc *kbus_json_pool_method(const kbus_json_pool *pool,
                                              const char *name,
                                              const kbus_service_desc **svcp);

/** @brief How many event types (messages with a (kbus.event) option). */
/** @brief How many messages of the pool are tables ((kbus.table)). */
size_t kbus_json_pool_table_count(const kbus_json_pool *pool);

/** @brief Table \p i (0 <= i < kbus_json_pool_table_count()): its name
 *  (the option's, or the message's simple name) and value type; owned by
 *  the pool. */
const kbus_table_desc *kbus_json_pool_table(const kbus_json_pool *pool,
                                            size_t i);

size_t kbus_json_pool_event_count(const kbus_json_pool *pool);

/** @brief Event type \p i; its deliver() is NULL (no typed subscriber). */
const kbus_event_desc *kbus_json_pool_event(const kbus_json_pool *pool,
                                            size_t i);

/**
 * @brief The client callback type of a pool's methods, for
 *        kbus_call_start(..., (kbus_fn)cb, arg).  \p reply is valid only
 *        during the callback (NULL unless \p status is KBUS_OK); pass it to
 *        kbus_json_encode() to print it.  Called on the runtime's thread.
 */
typedef void (*kbus_json_call_cb)(kbus_status status, const char *message,
                                  const ProtobufCMessage *reply, void *arg);

/* ------------------------------------------------------------------ */
/* Conversion                                                          */
/* ------------------------------------------------------------------ */

/** Output: also fields with default values (0, "", [], {}, the first
 *  enum value); unset message fields stay out. */
#define KBUS_JSON_EMIT_DEFAULTS 0x1u
/** Output: the proto field names ("request_id") instead of json names. */
#define KBUS_JSON_PROTO_NAMES 0x2u
/** Output: indented over several lines, two spaces a level. */
#define KBUS_JSON_INDENT 0x4u
/** Input: skip fields and enum names the message does not know instead of
 *  failing (for readers of newer writers). */
#define KBUS_JSON_IGNORE_UNKNOWN 0x8u

/**
 * @brief Writes \p msg as JSON text.
 * @param jsonp  receives a NUL-terminated string; free it with
 *               kbus_json_free().
 * @returns 0; INVALID_ARGUMENT for a message the mapping cannot express (a
 *          Timestamp out of its range, an Any), naming the field;
 *          RESOURCE_EXHAUSTED.
 */
int kbus_json_encode(const ProtobufCMessage *msg, unsigned flags, char **jsonp,
                     char *errstr, size_t errlen);

/**
 * @brief Reads JSON text \p json[0..len) as a message of type \p desc.
 * @param msgp  receives the message; free it with kbus_json_message_free().
 * @returns 0; INVALID_ARGUMENT with the field's path or the JSON syntax
 *          error's position in \p errstr; RESOURCE_EXHAUSTED.
 */
int kbus_json_decode(const ProtobufCMessageDescriptor *desc, const char *json,
                     size_t len, unsigned flags, ProtobufCMessage **msgp,
                     char *errstr, size_t errlen);

/** @brief Serialized protobuf \p data[0..len) of type \p desc to JSON text
 *         (free with kbus_json_free()).  INVALID_ARGUMENT when the bytes
 *         do not decode as \p desc. */
int kbus_json_from_protobuf(const ProtobufCMessageDescriptor *desc,
                            const void *data, size_t len, unsigned flags,
                            char **jsonp, char *errstr, size_t errlen);

/** @brief JSON text to serialized protobuf of type \p desc; *\p datap
 *         (free with kbus_json_free()) gets *\p lenp bytes, and is not NULL
 *         even when that is 0. */
int kbus_json_to_protobuf(const ProtobufCMessageDescriptor *desc,
                          const char *json, size_t len, unsigned flags,
                          void **datap, size_t *lenp, char *errstr,
                          size_t errlen);

/** @brief Frees a message from kbus_json_decode(); NULL is fine. */
void kbus_json_message_free(ProtobufCMessage *msg);

/** @brief Frees text or bytes these functions returned; NULL is fine. */
void kbus_json_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* KBUS_JSON_H */
