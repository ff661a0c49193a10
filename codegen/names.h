/*
 * Names: protobuf-c's C names for proto types, and kbus's own identifiers.
 *
 * Generated kbus code refers to the structs and descriptors that protoc-c
 * emits, so the rules here must give exactly protoc-c 1.4's spelling:
 *
 *   type        .foo_bar.v1.HTTPGateway.Inner  ->  FooBar__V1__HTTPGateway__Inner
 *   descriptor  (same)  ->  foo_bar__v1__httpgateway__inner__descriptor
 *
 * kbus identifiers are snake_case and acronym-aware instead
 * (HTTPGateway -> http_gateway), prefixed by the lower-cased package with
 * dots turned into underscores: foo_bar_v1_http_gateway.
 */
#ifndef KBUS_CODEGEN_NAMES_H
#define KBUS_CODEGEN_NAMES_H

#include <stdbool.h>

/**
 * @brief protobuf-c's C type of the message or enum \p full_name (no
 *        leading dot).  \p package is the file's proto package, replaced by
 *        \p c_package (protobuf-c's file option) when that is non-NULL.
 */
char *names_c_type(const char *full_name, const char *package,
                   const char *c_package);

/** @brief protobuf-c's lower-case name, as used for "<name>__descriptor". */
char *names_c_lower(const char *full_name, const char *package,
                    const char *c_package);

/** @brief "SayHello" -> "say_hello", "HTTPGateway" -> "http_gateway". */
char *names_snake(const char *camel);

/** @brief "hello.v1" -> "hello_v1"; "" for no package. */
char *names_package_prefix(const char *package);

/** @brief Joins \p prefix and the snake_case of each dotted part of
 *         \p rel_name ("Order.Item") with '_'. */
char *names_kbus(const char *prefix, const char *rel_name);

/**
 * @brief Whether \p s cannot be a struct member name: a C or C++ keyword,
 *        or a standard macro name (bool, assert, errno...).
 */
bool names_is_reserved(const char *s);

/** @brief "dir/x.proto" -> "dir/x" (protoc-c also strips ".protodevel"). */
char *names_strip_proto(const char *file);

/** @brief An include guard for \p file: "KBUS_GEN_DIR_X_H". */
char *names_guard(const char *file);

#endif /* KBUS_CODEGEN_NAMES_H */
