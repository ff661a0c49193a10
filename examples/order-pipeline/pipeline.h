/*
 * What the programs of the order pipeline share: clocks, random ids, and
 * checking command-line values and the ids that travel in events.  (They
 * start their runtimes with kbus_runtime_new_from_file() and log with
 * kbus_log().)
 *
 * Example code: an allocation failure ends the program with a message
 * (pipeline_xmalloc and friends) rather than being threaded through every
 * handler.
 */
#ifndef ORDER_PIPELINE_PIPELINE_H
#define ORDER_PIPELINE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kbus/kbus.h>

/* The program's name, for messages; set by pipeline_init(). */
extern const char *pipeline_prog;

/* Sets the program name (also the component of its kbus_log() lines)
 * and seeds the random generator. */
void pipeline_init(const char *prog);

/* Wall-clock time, Unix epoch milliseconds (what events carry). */
int64_t pipeline_now_ms(void);

/* Monotonic time in milliseconds, for measuring. */
double pipeline_mono_ms(void);

/* \p prefix followed by 16 random hex digits, e.g. "o-3f9c...". */
void pipeline_random_id(char *out, size_t size, const char *prefix);

/* A uniform random number in [0, 1). */
double pipeline_random(void);

/*
 * Ids and tokens that the services write into their journals and events:
 * 1 to 64 characters of A-Z a-z 0-9 . _ : @ -, so that a journal line can
 * be split on blanks.
 */
bool pipeline_token_ok(const char *s);

/* Parses a whole decimal integer within [min, max], or exits with status 2
 * naming \p flag. */
long pipeline_parse_long(const char *flag, const char *s, long min, long max);

/* Parses a whole decimal number within [min, max], or exits with status 2. */
double pipeline_parse_double(const char *flag, const char *s, double min,
                             double max);

/*
 * A table key of the partition of \p call's record, made from \p base:
 * "<base>/<n>" with the smallest n that falls into that partition (the
 * table refuses keys of other partitions, and says so with
 * KBUS_INVALID_ARGUMENT).  A handler keeps a second entry about its
 * record's key this way (the step of an order, the line of an order at a
 * product) in the one partition it may write.  The same base always gives
 * the same key while the partition count stays.
 * @returns 0, or KBUS_OUT_OF_RANGE when no n below 1024 fits.
 */
int pipeline_local_key(kbus_call *call, const kbus_table_desc *t,
                       const char *base, char *out, size_t size);

/*
 * The partition of \p key among \p partitions, as kbus's producers choose
 * it (Kafka's murmur2 partitioner, as Java clients): how order-load sends
 * one Audit request to each partition.
 */
int32_t pipeline_partition_of(const char *key, int32_t partitions);

/* Allocation that ends the program when memory runs out. */
void *pipeline_xmalloc(size_t size);
void *pipeline_xcalloc(size_t n, size_t size);
void *pipeline_xrealloc(void *p, size_t size);
char *pipeline_xstrdup(const char *s);

#endif
