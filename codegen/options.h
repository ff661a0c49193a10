/*
 * Reading kbus's custom options out of descriptor options.
 *
 * protoc hands a plugin the options of each service, method and message as
 * google.protobuf.*Options messages; the plugin's copy of descriptor.proto
 * knows nothing of kbus/options.proto, so (kbus.method) and friends arrive
 * as unknown fields.  Their bytes are a serialized kbus.MethodOptions
 * (etc.), which the protobuf-c code generated from options.proto decodes.
 */
#ifndef KBUS_CODEGEN_OPTIONS_H
#define KBUS_CODEGEN_OPTIONS_H

#include <protobuf-c/protobuf-c.h>

/** Extension numbers from kbus/options.proto. */
#define KBUS_EXT_SERVICE 50901
#define KBUS_EXT_METHOD 50902
#define KBUS_EXT_EVENT 50903
#define KBUS_EXT_TABLE 50904
/** protobuf-c's (pb_c_file) extension of FileOptions. */
#define PB_C_EXT_FILE 1019

/**
 * @brief Decodes extension \p number of the options message \p opts
 *        (NULL is fine) as a message of type \p desc.
 *
 * @param present  set to 1 when the extension is there, else 0.
 * @returns the decoded message (free with protobuf_c_message_free_unpacked),
 *          or NULL when absent or undecodable; *errp is then set to a static
 *          error text when undecodable, NULL otherwise.
 */
ProtobufCMessage *options_get(const ProtobufCMessage *opts, uint32_t number,
                              const ProtobufCMessageDescriptor *desc,
                              int *present, const char **errp);

/**
 * @brief protobuf-c's (pb_c_file).c_package of a FileOptions message, or
 *        NULL when unset.  Read by hand: protobuf-c installs no generated
 *        code for its own protobuf-c.proto.
 */
char *options_c_package(const ProtobufCMessage *file_opts);

#endif /* KBUS_CODEGEN_OPTIONS_H */
