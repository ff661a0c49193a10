/*
 * The kbus benchmark's shared parts: options, the environment every case
 * runs in (one event_base, one embedded broker), the interface both sides
 * of a comparison implement, and small helpers for time, statistics and
 * resident memory.
 *
 * Each case is measured for two sides that do the same work on the same
 * broker with the same librdkafka settings: "kbus" (side_kbus.c, the typed
 * stubs and libkbus) and "raw" (side_raw.c, librdkafka by hand, written
 * the way a careful C programmer would).  Both run their librdkafka queues
 * on the one event_base, bridged the same way, so the comparison measures
 * what kbus adds and nothing else.
 */
#ifndef KBUS_BENCH_H
#define KBUS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include <kbus/kbus.h>

#include "bench.pb-c.h"

/* Bytes of the body field: with the other fields, a packed Tick, Ping or
 * Pong comes to about 100 bytes. */
#define BENCH_BODY_LEN 88
/* Distinct keys of the events; case (f) needs 1,000. */
#define BENCH_KEYS 1000
/* Deadline of every call: long enough that none expires in a run. */
#define BENCH_TIMEOUT_MS 30000
/* Partitions of every request and event topic: the embedded broker's
 * default, which kbus also uses. */
#define BENCH_PARTITIONS 4
/* Partitions of the input and changelog of case (g): as many as (b), so
 * that a round of as many records stays within the broker's 5 MB per
 * partition. */
#define BENCH_TABLE_PARTITIONS 8

/* --producer options at most. */
#define BENCH_MAX_PROPS 8

typedef struct bench_opts {
        int rounds;            /* kbus/raw alternations per case */
        int order_rounds;      /* rounds of case (f) */
        long pub_count;        /* (a) events per round */
        long sub_count;        /* (b) records per round */
        double lat_secs;       /* (c) seconds of one-at-a-time calls */
        double tput_secs;      /* (d) seconds per depth */
        long mem_calls;        /* (e) calls in flight at once */
        double soak_secs;      /* (e) soak duration */
        double soak_rate;      /* (e) calls per second during the soak */
        long order_key_count;  /* (f) records with per-key ordering */
        long order_part_count; /* (f) records one at a time */
        double order_secs;     /* (f) longest measurement of either ordering */
        int order_max;         /* (f) max_in_flight with per-key ordering */
        long table_count;      /* (g) events per round */
        int table_max_in_flight; /* (g) kbus's max_in_flight; 0: default */
        long restore_entries;    /* (h) entries of the restored partition */
        const char *cases;       /* letters of the cases to run */
        /* "NAME=VALUE" librdkafka properties for both sides' producers */
        const char *producer_props[BENCH_MAX_PROPS];
        int n_producer_props;
        bool quick;
} bench_opts;

typedef struct bench_env {
        struct event_base *base;
        kbus_broker *broker; /* NULL in a child: the parent's runs */
        const char *bootstrap;
        bench_opts opts;
        unsigned long seq; /* for fresh topic and group names */
        char run_id[16];   /* distinguishes runs on a shared broker */
} bench_env;

/* (h) One restore: partition 0 of table "counts" of \p group, whose
 * changelog \p changelog holds \p entries records (one per key, each an
 * Int64Value of \p value_len bytes), written by kbus handling the events
 * of \p topic (one partition, all handled and committed). */
typedef struct bench_restore {
        const char *topic, *group, *changelog, *fence_topic;
        long entries;
        size_t value_len;
        /* kbus: heap bytes a table runtime takes from its start to its
         * readiness with nothing to restore (measured by the fill) */
        double kbus_fixed;
        /* out: heap bytes per entry beyond the packed value, right after
         * the restore and, for kbus, once a first record has come (which
         * lets kbus forget what it keeps to recognise redeliveries) */
        double bytes_restored, bytes_steady;
} bench_restore;

/* Called by an RPC side once per completed call; ok is false for any
 * status but OK. */
typedef void (*bench_rpc_done_fn)(void *arg, bool ok);

/* What each side implements.  Every function runs the shared loop itself
 * as long as it needs to; none leaves anything running when it returns,
 * except an RPC pair between rpc_open() and rpc_close(). */
typedef struct bench_side {
        const char *name;
        /* (a) Publishes n events to topic; returns events per second, from
         * the first publish until every event was acknowledged. */
        double (*publish)(bench_env *env, const char *topic, long n);
        /* (b) Consumes n events already in topic in a new consumer group;
         * returns records per second from the first record to the n-th. */
        double (*subscribe)(bench_env *env, const char *topic,
                            const char *group, long n);
        /* (c, d, e) A server of bench.v1.Echo on request topic
         * req_topic and a client calling it with replies on partition 0
         * of reply_topic (both topics exist already); returns once a
         * first call has been answered, or NULL on failure.
         * done(arg, ok) is called once for each call started with
         * rpc_call(). */
        void *(*rpc_open)(bench_env *env, const char *tag,
                          const char *req_topic, const char *reply_topic,
                          bench_rpc_done_fn done, void *arg);
        /* Starts one call; 0 on success. */
        int (*rpc_call)(void *h, int64_t seq);
        void (*rpc_close)(void *h);
        /* (g) Consumes n events already in topic (BENCH_TABLE_PARTITIONS) in a new
         * consumer group, keeping a count per key: for each event, read
         * the key's count, add one, write it (a changelog record on
         * changelog, partition = the event's), and store the event's
         * offset only once that record is delivered.  Returns records per
         * second from the first record until every write is delivered. */
        double (*table_update)(bench_env *env, const char *topic,
                               const char *group, const char *changelog,
                               const char *fence_topic, long n);
        /* (h) Rebuilds the table partition of \p r from its changelog;
         * returns changelog records per second, from the assignment until
         * the partition is whole, and fills r's outputs. */
        double (*table_restore)(bench_env *env, bench_restore *r);
} bench_side;

extern const bench_side bench_side_kbus;
extern const bench_side bench_side_raw;

/* ---- bench.c ---- */

/** Seconds on the monotonic clock. */
double bench_now(void);
/** Wall-clock Unix epoch milliseconds, as kbus-deadline uses. */
int64_t bench_epoch_ms(void);

/** Runs the loop until *done is true or \p seconds pass; returns *done. */
bool bench_run_until(bench_env *env, volatile bool *done, double seconds);
/** Runs the loop for \p seconds. */
void bench_run_for(bench_env *env, double seconds);

/** A fresh name "bench.<what>.<run>.<n>" in \p buf. */
const char *bench_name(bench_env *env, char *buf, size_t len, const char *what);
/** Creates \p topic on the embedded broker with \p partitions
 *  partitions (the parent's broker only; a child's topics are created by
 *  the parent before it starts). */
void bench_topic(bench_env *env, const char *topic, int partitions);

/** Fills \p t as event number \p seq: key "k<seq mod 1000>", the body. */
void bench_tick(Bench__V1__Tick *t, int64_t seq, char keybuf[16]);
/** Fills \p p as call number \p seq. */
void bench_ping(Bench__V1__Ping *p, int64_t seq, char keybuf[16]);
/** The body bytes every message carries. */
extern uint8_t bench_body[BENCH_BODY_LEN];

/** Fills \p t as event number \p seq with key "k<seq mod keys>". */
void bench_tick_keyed(Bench__V1__Tick *t, int64_t seq, long keys,
                      char keybuf[16]);

/** Heap bytes in use (malloc's, every arena, mmapped chunks included). */
double bench_heap_bytes(void);

/** A value of /proc/self/status in kB ("VmHWM", "VmRSS"); -1 if absent. */
long bench_status_kb(const char *field);

/** Sorts \p v and returns its median (0 for n == 0). */
double bench_median(double *v, size_t n);
/** The \p p-th percentile (0-100) of sorted \p v, nearest rank. */
double bench_percentile(const double *v, size_t n, double p);

/** Progress on stderr, prefixed "bench: ". */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The watchdog.  Every step of a case (one side of one round, say) says
 * what it is and how long it may take; a step still running after that,
 * wherever it is stuck (the loop, or a blocking librdkafka call such as a
 * consumer close or a destroy), ends the program with exit status 3 and a
 * line naming the step.  SIGTERM and SIGINT end it at once, naming the step
 * they interrupted.  Either way the memory case's children are killed too.
 * Only async-signal-safe calls run in the handler.
 */
/** Installs the handlers of SIGTERM, SIGINT (unless ignored) and SIGALRM. */
void bench_watch_init(void);
/** Names the step now running, \p fmt..., and gives it \p seconds (times
 *  5 under a wrapper such as valgrind, KBUS_TEST_WRAP); 0 disarms. */
void bench_watch(unsigned seconds, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Child processes to kill if the program is ended by a signal: \p pid is
 *  added, or removed when \p add is false. */
void bench_watch_child(pid_t pid, bool add);

/* ---- side_raw.c: also used to fill topics for both sides ---- */

/** Produces \p n events numbered from \p first, with the headers kbus
 *  puts on events, to \p topic, and waits until all are acknowledged.
 *  Returns 0 or -1. */
int bench_raw_fill(bench_env *env, const char *topic, long first, long n);
/** The same with keys "k<seq mod keys>". */
int bench_raw_fill_keyed(bench_env *env, const char *topic, long first, long n,
                         long keys);

/* ---- side_kbus.c: case (f), kbus on both sides of the ratio ---- */

/** Consumes up to \p n events already in \p topic, for at most \p secs
 *  seconds after the first, with handlers that complete 5 ms later, under
 *  \p ordering; returns records completed per second. */
double bench_kbus_ordered(bench_env *env, const char *topic, const char *group,
                          long n, double secs, kbus_ordering ordering,
                          int max_in_flight);

/* ---- side_kbus.c: case (h), the changelog both sides restore ---- */

/** Writes the changelog of \p r: a kbus runtime of r->group keeping
 *  table "counts" handles r->entries events with distinct keys, produced
 *  to r->topic once it is ready.  Sets r->kbus_fixed and r->value_len.
 *  Returns 0 or -1. */
int bench_kbus_table_fill(bench_env *env, bench_restore *r);

#endif /* KBUS_BENCH_H */
