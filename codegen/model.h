/*
 * The model: what protoc-gen-kbus will write for one .proto file.
 *
 * Building the model is where every decision is taken: names are mangled,
 * kbus options decoded and validated, user errors collected.  emit.c then
 * only prints the model, so naming and printing cannot disagree.
 */
#ifndef KBUS_CODEGEN_MODEL_H
#define KBUS_CODEGEN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "google/protobuf/compiler/plugin.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__FileDescriptorProto file_proto;
typedef Google__Protobuf__DescriptorProto message_proto;

/** Method flags, printed as kbus.h's KBUS_* macros. */
#define MODEL_ONE_WAY 0x1
#define MODEL_IDEMPOTENT 0x2
#define MODEL_NO_DEAD_LETTER 0x4
#define MODEL_COMPACTED 0x8

/** A message type of any file in the request, with its protobuf-c names. */
typedef struct mtype {
        char *full_name; /**< "hello.v1.HelloRequest" */
        char *c_type;    /**< "Hello__V1__HelloRequest" */
        char *c_desc;    /**< "hello__v1__hello_request__descriptor" */
        const message_proto *msg;
        const file_proto *file;
} mtype;

/** Every message type of the request, sorted by full name. */
typedef struct registry {
        mtype *types;
        size_t n;
        file_proto *const *files; /**< every file of the request */
        size_t n_files;
} registry;

/** kbus.RetryPolicy; 0 everywhere means the runtime's defaults. */
typedef struct mretry {
        uint32_t max_attempts;
        uint32_t initial_backoff_ms;
        uint32_t max_backoff_ms;
        double multiplier;
} mretry;

typedef struct mmethod {
        const char *name;    /**< "SayHello" */
        char *path;          /**< "/hello.v1.Greeter/SayHello" */
        char *member;        /**< handler table member, "say_hello" */
        char *fn;            /**< client stub */
        char *cb_type;       /**< client callback typedef */
        char *reply_fn;      /**< typed reply; NULL for one-way methods */
        char *dispatch_fn;   /**< static trampoline to the handler */
        char *complete_fn;   /**< static trampoline to the callback */
        char *protoc_c_stub; /**< protoc-c's own stub, to avoid clashes */
        const mtype *in;
        const mtype *out;
        unsigned flags; /**< MODEL_* */
        int64_t timeout_ms;
        char *key_field; /**< NULL when none */
        mretry retry;
        char *comment; /**< the proto's leading comment, or NULL */
} mmethod;

typedef struct mservice {
        char *full_name;   /**< "hello.v1.Greeter" */
        char *desc_var;    /**< "hello_v1_greeter__service" */
        char *methods_var; /**< static method table */
        char *handlers_type;
        char *serve_fn;
        char *topic;
        mmethod *methods;
        size_t n_methods;
        char *comment;
} mservice;

typedef struct mevent {
        const mtype *msg;
        char *desc_var; /**< "hello_v1_greeted__event" */
        char *handler_type;
        char *publish_fn;
        char *publish_from_fn;      /**< publishes while handling a kbus_call */
        char *publish_confirmed_fn; /**< publishes with a delivery callback */
        char *subscribe_fn;
        char *deliver_fn; /**< static trampoline to the subscriber */
        char *topic;
        char *key_field;
        unsigned flags;
        mretry retry;
        char *comment;
} mevent;

/** A message with (kbus.table): a state table of such values. */
typedef struct mtable {
        const mtype *msg;
        char *name; /**< "Count": the changelog is "<group>.Count.changelog" */
        char *desc_var; /**< "demo_v1_count__table" */
        char *attach_fn;
        char *get_fn;
        char *put_fn;
        char *delete_fn;
        char *scan_fn;
        char *scan_fn_type;  /**< the typed scan callback */
        char *scan_ctx;      /**< struct tag of the scan trampoline's state */
        char *scan_entry_fn; /**< static trampoline to the scan callback */
        char *comment;
} mtable;

typedef struct mfile {
        const char *name; /**< "dir/hello.proto" */
        char *base;       /**< "dir/hello" */
        char *guard;
        char **includes; /**< protobuf-c headers, own first, then sorted */
        size_t n_includes;
        /** C keywords to #define away while protoc-c headers are read
         *  (see model.c, protoc_c_member_clash), sorted. */
        char **shim;
        size_t n_shim;
        char **shim_cxx; /**< the same for C++-only keywords */
        size_t n_shim_cxx;
        mservice *services;
        size_t n_services;
        mevent *events;
        size_t n_events;
        mtable *tables;
        size_t n_tables;
} mfile;

/** @brief Indexes every message of every file in \p req. */
void registry_build(
    registry *reg, const Google__Protobuf__Compiler__CodeGeneratorRequest *req);
void registry_fini(registry *reg);
/** @brief The type named \p name (a leading '.' is ignored), or NULL. */
const mtype *registry_find(const registry *reg, const char *name);

/**
 * @brief Builds the model of \p fd.
 *
 * User errors are appended to \p errors, one line each, naming the file
 * and the service and method or message and field; warnings (the .proto
 * is fine but another tool will trip over it) go to \p warnings.
 * @returns the number of errors found; the model is usable only if 0.
 */
int model_build(mfile *mf, const registry *reg, const file_proto *fd,
                buf *errors, buf *warnings);
void model_fini(mfile *mf);

#endif /* KBUS_CODEGEN_MODEL_H */
