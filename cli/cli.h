/*
 * Subcommands of the kbus tool that live in files of their own, and what
 * they share: the options every command that talks to Kafka takes.
 */
#ifndef KBUS_CLI_H
#define KBUS_CLI_H

#include <getopt.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "kbus/kbus.h"

#define EXIT_USAGE 2

/** kbus dlt show|replay ... (dlt.c) */
int kbus_tool_dlt(int argc, char **argv);
/** kbus call ... (call.c) */
int kbus_tool_call(int argc, char **argv);
/** kbus tail ... (tail.c) */
int kbus_tool_tail(int argc, char **argv);
/** kbus topics ... (topics.c) */
int kbus_tool_topics(int argc, char **argv);
/** kbus groups ... (groups.c) */
int kbus_tool_groups(int argc, char **argv);

/* ---- -b, -X, -c (kafka.c) ---- */

/**
 * Where a command finds its cluster: -b BOOTSTRAP, else $KBUS_BOOTSTRAP,
 * else the bootstrap of the -c file; librdkafka properties from the file's
 * kafka/producer/consumer lists, then every -X NAME=VALUE (which win).
 */
struct cli_kafka {
        const char *cmd;         /* "call": messages say "kbus call: ..." */
        const char *bootstrap;   /* -b */
        const char *config_path; /* -c */
        const char **props;      /* -X arguments, as given */
        size_t n_props;
        kbus_config *conf;   /* -c and -X, once cli_kafka_ready() */
        const char *servers; /* the bootstrap list in use */
};

/** getopt letters and long options of the three, and their --help text. */
#define CLI_KAFKA_SHORTOPTS "b:X:c:"
#define CLI_KAFKA_LONGOPTS                                                     \
        {"bootstrap", required_argument, NULL, 'b'},                           \
            {"property", required_argument, NULL, 'X'}, {                      \
                "config", required_argument, NULL, 'c'                         \
        }
#define CLI_KAFKA_HELP                                                         \
        "  -b, --bootstrap LIST    brokers (default: $KBUS_BOOTSTRAP, else "   \
        "the -c file's)\n"                                                     \
        "  -X, --property NAME=VALUE\n"                                        \
        "                          a librdkafka property (security.protocol,"  \
        " sasl.*,\n"                                                           \
        "                          ssl.*, debug...); repeatable; wins over "   \
        "-c\n"                                                                 \
        "  -c, --config FILE       a kbus configuration file: its bootstrap "  \
        "and its kafka,\n"                                                     \
        "                          producer and consumer properties\n"

/** Starts empty; \p argc bounds how many -X there can be. */
int cli_kafka_init(struct cli_kafka *k, const char *cmd, int argc);

/** Takes option \p c if it is one of -b, -X, -c: 1 taken, 0 not ours,
 *  -1 a bad value (reported). */
int cli_kafka_opt(struct cli_kafka *k, int c, const char *arg);

/** Reads -c, applies -X, finds the bootstrap list, and tries the
 *  properties on librdkafka so that a bad one fails before any work.
 *  0, or an exit status (reported). */
int cli_kafka_ready(struct cli_kafka *k);

/**
 * A librdkafka client: bootstrap, client.id, low-latency settings when
 * $KBUS_LOW_LATENCY is 1, the properties, then \p extra (name, value
 * pairs ending in NULL; for group.id and the like).  \p setup (may be
 * NULL) is called on the conf before rd_kafka_new to set callbacks.
 * NULL on error (reported).
 */
rd_kafka_t *cli_kafka_new(struct cli_kafka *k, rd_kafka_type_t type,
                          const char *const *extra,
                          void (*setup)(rd_kafka_conf_t *conf, void *arg),
                          void *arg);

/** Whether the cluster behind \p rk is the embedded broker (librdkafka's
 *  mock cluster), which lacks the admin and group APIs. */
int cli_kafka_is_embedded(rd_kafka_t *rk);

void cli_kafka_fini(struct cli_kafka *k);

/** Whether a librdkafka property holds a secret whose value must never
 *  be shown. */
int cli_secret_property(const char *name);

/** Reports an option getopt_long refused, naming the command. */
void cli_bad_option(const char *cmd, char **argv, int c);

#endif
