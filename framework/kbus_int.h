/*
 * Internal declarations shared by libkbus's modules.  Nothing here is
 * installed; only kbus.h is public.
 */
#ifndef KBUS_INT_H
#define KBUS_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kbus/kbus.h"

/* ---- alloc.c: every allocation goes through here, so tests can make
 * allocation N fail. ---- */
void *kbus__malloc(size_t n);
void *kbus__calloc(size_t n, size_t size);
void *kbus__realloc(void *p, size_t n);
char *kbus__strdup(const char *s);
void kbus__free(void *p);
/** Makes the allocation after the next \p n succeed-ones fail; -1: never. */
void kbus__alloc_fail_after(long n);
/** Makes one allocation of exactly \p size bytes fail: the one after the
 *  next \p n of that size.  For tests that aim at one object. */
void kbus__alloc_fail_size(size_t size, long n);
/** protobuf-c allocator routed through the hook. */
extern ProtobufCAllocator kbus__pb_allocator;

/* ---- log.c: JSON-lines logs on stderr ---- */
/* The levels are public: enum kbus_log_level in kbus.h. */
extern int kbus__log_min_level;
/** Parses "debug", "info", "warn" ("warning"), "error" in any case; -1 if
 *  none of them. */
int kbus__log_level_parse(const char *s);
/** Sets kbus__log_min_level from KBUS_LOG_LEVEL when that is set and valid;
 *  kbus_log() does it once, before its first line. */
void kbus__log_level_from_env(void);
/**
 * Writes one JSON line: {"ts":..,"level":..,"component":..,"msg":..} plus
 * "trace_id" when \p traceparent is a valid W3C traceparent.
 */
void kbus__log(int level, const char *component, const char *traceparent,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define KBUS_LOG(level, comp, ...)                                             \
        do {                                                                   \
                if ((level) >= kbus__log_min_level)                            \
                        kbus__log((level), (comp), NULL, __VA_ARGS__);         \
        } while (0)
#define KBUS_LOGT(level, comp, tp, ...)                                        \
        do {                                                                   \
                if ((level) >= kbus__log_min_level)                            \
                        kbus__log((level), (comp), (tp), __VA_ARGS__);         \
        } while (0)

/* ---- config.c ---- */

/** An ordered list of librdkafka "name=value" properties. */
typedef struct kbus_props {
        size_t n, cap;
        char **names;
        char **values;
} kbus_props;

/** Adds or replaces \p name. */
int kbus__props_set(kbus_props *p, const char *name, const char *value);
void kbus__props_fini(kbus_props *p);

struct kbus_config {
        char *bootstrap;    /* "embedded" or host:port list */
        char *name;         /* application name */
        char *group;        /* consumer group (default: name) */
        int low_latency;    /* -1: auto (embedded), 0, 1 */
        char *reply_topic;  /* NULL: generated per instance */
        int64_t timeout_ms; /* default call deadline */
        int64_t shutdown_grace_ms;
        int max_in_flight;        /* per partition */
        int max_uncommitted;      /* per partition, past the oldest open */
        int ordering;             /* kbus_ordering */
        int client_max_in_flight; /* pending calls per runtime */
        int log_level;            /* enum kbus_log_level */
        kbus_retry_policy retry;  /* defaults for handlers */
        char *dlt_suffix;         /* ".DLT" */
        char *http;               /* operations endpoint "host:port", or NULL */
        char *state_dir;          /* table snapshots, or NULL: none */
        int64_t checkpoint_interval_ms; /* between table snapshots */
        int broker_count;               /* brokers of an embedded cluster */
        int broker_partitions;          /* partitions of topics it creates */
        kbus_props kafka;               /* every client */
        kbus_props producer;            /* the producer only */
        kbus_props consumer;            /* consumers only */
};

/** Splits "host:port" (config key http) into \p host (when not NULL; at
 *  most \p hostlen bytes with the NUL) and *\p portp (when not NULL);
 *  -1 unless the port is all digits, 0 to 65535, and the host not empty. */
int kbus__hostport_parse(const char *s, char *host, size_t hostlen, int *portp);

/** Applies KBUS_BOOTSTRAP, KBUS_GROUP, KBUS_LOG_LEVEL, KBUS_LOW_LATENCY. */
int kbus__config_apply_env(kbus_config *conf, char *errstr, size_t errlen);

/** A deep copy of \p src into a new *\p dstp; RESOURCE_EXHAUSTED when out
 *  of memory (then *dstp is NULL). */
int kbus__config_copy(const kbus_config *src, kbus_config **dstp);

/** Formats into errstr (when errlen > 0) and returns \p code. */
int kbus__err(char *errstr, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Milliseconds since the Unix epoch, wall clock. */
int64_t kbus__now_ms(void);

#endif /* KBUS_INT_H */
