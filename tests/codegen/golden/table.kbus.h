/* Generated from table.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_TABLE_H
#define KBUS_GEN_TABLE_H

#include <kbus/kbus.h>

#include "table.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* event demo.v1.Balance */

/**
 * @brief The event demo.v1.Balance.
 *
 * An account's balance: kept in a table, and published on each change.
 *
 * Published to topic "demo.v1.Balance", keyed by its field account.
 */
extern const kbus_event_desc demo_v1_balance__event;

/**
 * @brief A subscriber of demo.v1.Balance events.
 *
 * Runs on the runtime's loop thread and must complete @p call exactly once,
 * now or later: kbus_call_ack(), or kbus_call_fail() to retry or dead-letter.
 */
typedef void (*demo_v1_balance_handler)(kbus_call *call,
                                        const Demo__V1__Balance *ev,
                                        void *arg);

/**
 * @brief Publishes @p ev to topic "demo.v1.Balance".
 *
 * @returns 0 once handed to the producer; KBUS_RESOURCE_EXHAUSTED when its
 *         queue is full (nothing is queued then).
 */
int demo_v1_balance_publish(kbus_runtime *rt, const Demo__V1__Balance *ev);

/**
 * @brief Publishes @p ev to topic "demo.v1.Balance" as part of handling @p call.
 *
 * The call's outcome waits until @p ev is delivered; if it cannot be,
 * the call fails with KBUS_UNAVAILABLE.  See kbus_call_publish().
 */
int demo_v1_balance_publish_from(kbus_call *call,
                                 const Demo__V1__Balance *ev);

/**
 * @brief Publishes @p ev to topic "demo.v1.Balance"; @p cb learns its outcome.
 *
 * @p cb is called exactly once, with KBUS_OK once @p ev is written or an
 * error once it finally is not.  See kbus_publish_confirmed().
 */
int demo_v1_balance_publish_confirmed(kbus_runtime *rt,
                                      const Demo__V1__Balance *ev,
                                      kbus_delivery_fn cb, void *arg);

/**
 * @brief Subscribes @p fn to demo.v1.Balance events.
 *
 * @param group  consumer group; NULL for the configured one.  Each group
 *              receives every event once.
 */
int demo_v1_balance_subscribe(kbus_runtime *rt, const char *group,
                              demo_v1_balance_handler fn, void *arg);

/* table demo.v1.Count */

/**
 * @brief The table "Count" of demo.v1.Count values.
 *
 * How many times each key was seen.
 *
 * Owned by one consumer group, and split into the same partitions as the
 * topics the group reads.  Changelog topic: "<group>.Count.changelog".
 * See kbus_table_desc and docs/STATE.md.
 */
extern const kbus_table_desc demo_v1_count__table;

/**
 * @brief Keeps the table "Count" for consumer group @p group.
 *
 * Call before kbus_runtime_start().  See kbus_table_attach().
 * @param group  NULL for the runtime's group.
 */
int demo_v1_count_attach(kbus_runtime *rt, const char *group);

/**
 * @brief Reads the entry with @p key of the table "Count" as @p call sees it.
 *
 * In the partition of @p call's record, with the call's own earlier puts
 * and deletes applied.
 * @param key  @p len bytes; NULL for the key of @p call's record.
 * @param out  the value, owned by @p call and valid until it completes;
 *             NULL unless 0 is returned.  May be NULL to test for @p key.
 * @returns 0, KBUS_NOT_FOUND, or another error of kbus_table_get().
 * @remark Loop thread, inside a handler, before it completes @p call.
 */
int demo_v1_count_get(kbus_call *call, const void *key, size_t len,
                      const Demo__V1__Count **out);

/**
 * @brief Sets the entry with @p key of the table "Count" to @p value.
 *
 * Part of @p call's outcome: written to the changelog once @p call
 * completes successfully, dropped if it fails.  @p key as for
 * demo_v1_count_get().  See kbus_table_put().
 */
int demo_v1_count_put(kbus_call *call, const void *key, size_t len,
                      const Demo__V1__Count *value);

/**
 * @brief Deletes the entry with @p key of the table "Count".
 *
 * Part of @p call's outcome, like a put: a tombstone on the changelog.
 * See kbus_table_delete().
 */
int demo_v1_count_delete(kbus_call *call, const void *key, size_t len);

/**
 * @brief Called by demo_v1_count_scan() for each entry.
 *
 * @p key and @p value are valid during the call only.  A non-zero return
 * stops the scan, and the scan returns it.
 */
typedef int (*demo_v1_count_scan_fn)(const void *key, size_t len,
                                     const Demo__V1__Count *value, void *arg);

/**
 * @brief Calls @p fn for each entry of the table "Count" in @p call's partition.
 *
 * The partition of @p call's record, in no particular order; the call's
 * own writes are not included.
 * @returns 0, what @p fn returned to stop, or an error of
 *         kbus_table_scan().
 */
int demo_v1_count_scan(kbus_call *call, demo_v1_count_scan_fn fn, void *arg);

/* table demo.v1.Stock */

/**
 * @brief The table "inventory.stock-levels_v2" of demo.v1.Stock values.
 *
 * Owned by one consumer group, and split into the same partitions as the
 * topics the group reads.  Changelog topic: "<group>.inventory.stock-levels_v2.changelog".
 * See kbus_table_desc and docs/STATE.md.
 */
extern const kbus_table_desc demo_v1_stock__table;

/**
 * @brief Keeps the table "inventory.stock-levels_v2" for consumer group @p group.
 *
 * Call before kbus_runtime_start().  See kbus_table_attach().
 * @param group  NULL for the runtime's group.
 */
int demo_v1_stock_attach(kbus_runtime *rt, const char *group);

/**
 * @brief Reads the entry with @p key of the table "inventory.stock-levels_v2" as @p call sees it.
 *
 * In the partition of @p call's record, with the call's own earlier puts
 * and deletes applied.
 * @param key  @p len bytes; NULL for the key of @p call's record.
 * @param out  the value, owned by @p call and valid until it completes;
 *             NULL unless 0 is returned.  May be NULL to test for @p key.
 * @returns 0, KBUS_NOT_FOUND, or another error of kbus_table_get().
 * @remark Loop thread, inside a handler, before it completes @p call.
 */
int demo_v1_stock_get(kbus_call *call, const void *key, size_t len,
                      const Demo__V1__Stock **out);

/**
 * @brief Sets the entry with @p key of the table "inventory.stock-levels_v2" to @p value.
 *
 * Part of @p call's outcome: written to the changelog once @p call
 * completes successfully, dropped if it fails.  @p key as for
 * demo_v1_stock_get().  See kbus_table_put().
 */
int demo_v1_stock_put(kbus_call *call, const void *key, size_t len,
                      const Demo__V1__Stock *value);

/**
 * @brief Deletes the entry with @p key of the table "inventory.stock-levels_v2".
 *
 * Part of @p call's outcome, like a put: a tombstone on the changelog.
 * See kbus_table_delete().
 */
int demo_v1_stock_delete(kbus_call *call, const void *key, size_t len);

/**
 * @brief Called by demo_v1_stock_scan() for each entry.
 *
 * @p key and @p value are valid during the call only.  A non-zero return
 * stops the scan, and the scan returns it.
 */
typedef int (*demo_v1_stock_scan_fn)(const void *key, size_t len,
                                     const Demo__V1__Stock *value, void *arg);

/**
 * @brief Calls @p fn for each entry of the table "inventory.stock-levels_v2" in @p call's partition.
 *
 * The partition of @p call's record, in no particular order; the call's
 * own writes are not included.
 * @returns 0, what @p fn returned to stop, or an error of
 *         kbus_table_scan().
 */
int demo_v1_stock_scan(kbus_call *call, demo_v1_stock_scan_fn fn, void *arg);

/* table demo.v1.Balance */

/**
 * @brief The table "balances" of demo.v1.Balance values.
 *
 * An account's balance: kept in a table, and published on each change.
 *
 * Owned by one consumer group, and split into the same partitions as the
 * topics the group reads.  Changelog topic: "<group>.balances.changelog".
 * See kbus_table_desc and docs/STATE.md.
 */
extern const kbus_table_desc demo_v1_balance__table;

/**
 * @brief Keeps the table "balances" for consumer group @p group.
 *
 * Call before kbus_runtime_start().  See kbus_table_attach().
 * @param group  NULL for the runtime's group.
 */
int demo_v1_balance_attach(kbus_runtime *rt, const char *group);

/**
 * @brief Reads the entry with @p key of the table "balances" as @p call sees it.
 *
 * In the partition of @p call's record, with the call's own earlier puts
 * and deletes applied.
 * @param key  @p len bytes; NULL for the key of @p call's record.
 * @param out  the value, owned by @p call and valid until it completes;
 *             NULL unless 0 is returned.  May be NULL to test for @p key.
 * @returns 0, KBUS_NOT_FOUND, or another error of kbus_table_get().
 * @remark Loop thread, inside a handler, before it completes @p call.
 */
int demo_v1_balance_get(kbus_call *call, const void *key, size_t len,
                        const Demo__V1__Balance **out);

/**
 * @brief Sets the entry with @p key of the table "balances" to @p value.
 *
 * Part of @p call's outcome: written to the changelog once @p call
 * completes successfully, dropped if it fails.  @p key as for
 * demo_v1_balance_get().  See kbus_table_put().
 */
int demo_v1_balance_put(kbus_call *call, const void *key, size_t len,
                        const Demo__V1__Balance *value);

/**
 * @brief Deletes the entry with @p key of the table "balances".
 *
 * Part of @p call's outcome, like a put: a tombstone on the changelog.
 * See kbus_table_delete().
 */
int demo_v1_balance_delete(kbus_call *call, const void *key, size_t len);

/**
 * @brief Called by demo_v1_balance_scan() for each entry.
 *
 * @p key and @p value are valid during the call only.  A non-zero return
 * stops the scan, and the scan returns it.
 */
typedef int (*demo_v1_balance_scan_fn)(const void *key, size_t len,
                                       const Demo__V1__Balance *value,
                                       void *arg);

/**
 * @brief Calls @p fn for each entry of the table "balances" in @p call's partition.
 *
 * The partition of @p call's record, in no particular order; the call's
 * own writes are not included.
 * @returns 0, what @p fn returned to stop, or an error of
 *         kbus_table_scan().
 */
int demo_v1_balance_scan(kbus_call *call, demo_v1_balance_scan_fn fn,
                         void *arg);

/* table demo.v1.Order.Line */

/**
 * @brief The table "Line" of demo.v1.Order.Line values.
 *
 * The lines of an order, by line id.
 *
 * Owned by one consumer group, and split into the same partitions as the
 * topics the group reads.  Changelog topic: "<group>.Line.changelog".
 * See kbus_table_desc and docs/STATE.md.
 */
extern const kbus_table_desc demo_v1_order_line__table;

/**
 * @brief Keeps the table "Line" for consumer group @p group.
 *
 * Call before kbus_runtime_start().  See kbus_table_attach().
 * @param group  NULL for the runtime's group.
 */
int demo_v1_order_line_attach(kbus_runtime *rt, const char *group);

/**
 * @brief Reads the entry with @p key of the table "Line" as @p call sees it.
 *
 * In the partition of @p call's record, with the call's own earlier puts
 * and deletes applied.
 * @param key  @p len bytes; NULL for the key of @p call's record.
 * @param out  the value, owned by @p call and valid until it completes;
 *             NULL unless 0 is returned.  May be NULL to test for @p key.
 * @returns 0, KBUS_NOT_FOUND, or another error of kbus_table_get().
 * @remark Loop thread, inside a handler, before it completes @p call.
 */
int demo_v1_order_line_get(kbus_call *call, const void *key, size_t len,
                           const Demo__V1__Order__Line **out);

/**
 * @brief Sets the entry with @p key of the table "Line" to @p value.
 *
 * Part of @p call's outcome: written to the changelog once @p call
 * completes successfully, dropped if it fails.  @p key as for
 * demo_v1_order_line_get().  See kbus_table_put().
 */
int demo_v1_order_line_put(kbus_call *call, const void *key, size_t len,
                           const Demo__V1__Order__Line *value);

/**
 * @brief Deletes the entry with @p key of the table "Line".
 *
 * Part of @p call's outcome, like a put: a tombstone on the changelog.
 * See kbus_table_delete().
 */
int demo_v1_order_line_delete(kbus_call *call, const void *key, size_t len);

/**
 * @brief Called by demo_v1_order_line_scan() for each entry.
 *
 * @p key and @p value are valid during the call only.  A non-zero return
 * stops the scan, and the scan returns it.
 */
typedef int (*demo_v1_order_line_scan_fn)(const void *key, size_t len,
                const Demo__V1__Order__Line *value, void *arg);

/**
 * @brief Calls @p fn for each entry of the table "Line" in @p call's partition.
 *
 * The partition of @p call's record, in no particular order; the call's
 * own writes are not included.
 * @returns 0, what @p fn returned to stop, or an error of
 *         kbus_table_scan().
 */
int demo_v1_order_line_scan(kbus_call *call, demo_v1_order_line_scan_fn fn,
                            void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_TABLE_H */
