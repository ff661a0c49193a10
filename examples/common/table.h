/*
 * A hash table from strings (order ids, accounts, pages, devices, log
 * sources) to pointers, which the examples keep their state in.  Keys are
 * copied; values belong to the caller.  Entries are never removed: the
 * examples only ever add.  Out of memory, it ends the process.
 */
#ifndef KBUS_EXAMPLES_TABLE_H
#define KBUS_EXAMPLES_TABLE_H

#include <stddef.h>

typedef struct table table;

table *table_new(void);

/* Frees the table, calling \p free_value on each value unless NULL. */
void table_free(table *t, void (*free_value)(void *value));

/* The value stored under \p key, or NULL. */
void *table_get(const table *t, const char *key);

/* Stores \p value under \p key, replacing what was there. */
void table_put(table *t, const char *key, void *value);

size_t table_count(const table *t);

/* Calls \p fn for each entry, in no particular order.  \p fn must not add
 * entries. */
void table_foreach(const table *t,
                   void (*fn)(const char *key, void *value, void *arg),
                   void *arg);

#endif
