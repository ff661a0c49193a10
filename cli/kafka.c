/*
 * kafka.c: the options every kbus command that talks to Kafka takes, and
 * the librdkafka clients made from them.
 *
 * A command reaches a secured cluster the way its services do: the same
 * kbus configuration file (-c) gives the bootstrap list and the kafka,
 * producer and consumer property lists, and -X adds or overrides single
 * properties.  Secrets pass through to librdkafka and are never printed:
 * an error about a secret property names the property, not the value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_secret_property(const char *name) {
        static const char *const words[] = {
            "password",    "secret",  "jaas", "sasl.oauthbearer.config",
            "ssl.key.pem", "ssl_key", "token"};
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(name, words[i]))
                        return 1;
        return 0;
}

void cli_bad_option(const char *cmd, char **argv, int c) {
        const char *arg = argv[optind - 1];

        if (c == ':')
                fprintf(stderr, "kbus %s: option '%s' needs a value\n", cmd,
                        arg);
        else if (optopt)
                fprintf(stderr, "kbus %s: unknown option '-%c'\n", cmd, optopt);
        else
                fprintf(stderr, "kbus %s: unknown option '%s'\n", cmd, arg);
        fprintf(stderr, "Try 'kbus %s --help'.\n", cmd);
}

int cli_kafka_init(struct cli_kafka *k, const char *cmd, int argc) {
        memset(k, 0, sizeof(*k));
        k->cmd = cmd;
        k->props = calloc((size_t)argc + 1, sizeof(*k->props));
        if (!k->props) {
                fprintf(stderr, "kbus %s: out of memory\n", cmd);
                return -1;
        }
        return 0;
}

int cli_kafka_opt(struct cli_kafka *k, int c, const char *arg) {
        switch (c) {
        case 'b':
                k->bootstrap = arg;
                return 1;
        case 'c':
                k->config_path = arg;
                return 1;
        case 'X': {
                const char *eq = strchr(arg, '=');
                if (!eq || eq == arg) {
                        /* The argument is not echoed: a mistyped
                         * "sasl.password:..." would show the secret. */
                        fprintf(stderr,
                                "kbus %s: -X wants NAME=VALUE (an argument "
                                "without '=' or without a name was given)\n",
                                k->cmd);
                        return -1;
                }
                k->props[k->n_props++] = arg;
                return 1;
        }
        default:
                return 0;
        }
}

/* Sets one property, reporting librdkafka's reason unless the value is a
 * secret (its messages quote the value). */
static int conf_set(const struct cli_kafka *k, rd_kafka_conf_t *conf,
                    const char *name, const char *value) {
        char err[512];

        if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) ==
            RD_KAFKA_CONF_OK)
                return 0;
        if (cli_secret_property(name))
                fprintf(stderr,
                        "kbus %s: librdkafka refused property %s (its value "
                        "is not shown)\n",
                        k->cmd, name);
        else
                fprintf(stderr, "kbus %s: librdkafka property %s: %s\n", k->cmd,
                        name, err);
        return -1;
}

static rd_kafka_conf_t *make_conf(struct cli_kafka *k, rd_kafka_type_t type,
                                  const char *const *extra) {
        /* The embedded broker answers an idle fetch only after
         * fetch.wait.max.ms (see docs/BROKER.md). */
        static const char *const low_latency_consumer[] = {
            "fetch.wait.max.ms",
            "10",
            "fetch.error.backoff.ms",
            "10",
            "topic.metadata.refresh.interval.ms",
            "1000",
            NULL};
        static const char *const low_latency_producer[] = {
            "linger.ms", "1", "topic.metadata.refresh.interval.ms", "1000",
            NULL};
        const char *const *low_latency = type == RD_KAFKA_PRODUCER
                                             ? low_latency_producer
                                             : low_latency_consumer;
        const char *ll = getenv("KBUS_LOW_LATENCY"), *name, *value;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const char *list = type == RD_KAFKA_PRODUCER ? "producer" : "consumer";

        if (conf_set(k, conf, "bootstrap.servers", k->servers) ||
            conf_set(k, conf, "client.id", "kbus-cli") ||
            conf_set(k, conf, "socket.nagle.disable", "true"))
                goto fail;
        if (type == RD_KAFKA_PRODUCER &&
            (conf_set(k, conf, "partitioner", "murmur2_random") ||
             conf_set(k, conf, "enable.idempotence", "true") ||
             conf_set(k, conf, "max.in.flight.requests.per.connection", "1")))
                goto fail;
        if (type == RD_KAFKA_CONSUMER &&
            (conf_set(k, conf, "enable.auto.commit", "false") ||
             conf_set(k, conf, "enable.auto.offset.store", "false") ||
             conf_set(k, conf, "enable.partition.eof", "false")))
                goto fail;
        if (ll && !strcmp(ll, "1"))
                for (size_t i = 0; low_latency[i]; i += 2)
                        if (conf_set(k, conf, low_latency[i],
                                     low_latency[i + 1]))
                                goto fail;
        for (size_t i = 0;
             !kbus_config_prop(k->conf, "kafka", i, &name, &value); i++)
                if (conf_set(k, conf, name, value))
                        goto fail;
        for (size_t i = 0; !kbus_config_prop(k->conf, list, i, &name, &value);
             i++)
                if (conf_set(k, conf, name, value))
                        goto fail;
        for (size_t i = 0; extra && extra[i]; i += 2)
                if (conf_set(k, conf, extra[i], extra[i + 1]))
                        goto fail;
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

int cli_kafka_ready(struct cli_kafka *k) {
        char err[512];
        const char *env = getenv("KBUS_BOOTSTRAP");
        rd_kafka_conf_t *conf;

        if (kbus_config_new(&k->conf)) {
                fprintf(stderr, "kbus %s: out of memory\n", k->cmd);
                return 1;
        }
        if (k->config_path &&
            kbus_config_load(k->conf, k->config_path, err, sizeof(err))) {
                fprintf(stderr, "kbus %s: %s\n", k->cmd, err);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < k->n_props; i++) {
                const char *arg = k->props[i], *eq = strchr(arg, '=');
                char key[300];

                snprintf(key, sizeof(key), "kafka.%.*s", (int)(eq - arg), arg);
                if (kbus_config_set(k->conf, key, eq + 1, err, sizeof(err))) {
                        fprintf(stderr, "kbus %s: -X %.*s: %s\n", k->cmd,
                                (int)(eq - arg), arg,
                                cli_secret_property(key) ? "refused" : err);
                        return EXIT_USAGE;
                }
        }
        k->servers = k->bootstrap && *k->bootstrap ? k->bootstrap
                     : env && *env                 ? env
                     : k->config_path ? kbus_config_get(k->conf, "bootstrap")
                                      : NULL;
        if (!k->servers || !strcmp(k->servers, "embedded")) {
                fprintf(stderr,
                        "kbus %s: no brokers: give -b HOST:PORT, set "
                        "KBUS_BOOTSTRAP, or a -c file with a bootstrap list "
                        "(a kbus broker prints its own on its first "
                        "line)\n",
                        k->cmd);
                return EXIT_USAGE;
        }
        /* Try both kinds now, so that a bad -X fails before any work. */
        if (!(conf = make_conf(k, RD_KAFKA_PRODUCER, NULL)))
                return EXIT_USAGE;
        rd_kafka_conf_destroy(conf);
        if (!(conf = make_conf(k, RD_KAFKA_CONSUMER, NULL)))
                return EXIT_USAGE;
        rd_kafka_conf_destroy(conf);
        return 0;
}

rd_kafka_t *cli_kafka_new(struct cli_kafka *k, rd_kafka_type_t type,
                          const char *const *extra,
                          void (*setup)(rd_kafka_conf_t *conf, void *arg),
                          void *arg) {
        rd_kafka_conf_t *conf = make_conf(k, type, extra);
        char err[512];
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        if (setup)
                setup(conf, arg);
        if (!(rk = rd_kafka_new(type, conf, err, sizeof(err)))) {
                fprintf(stderr, "kbus %s: %s\n", k->cmd, err);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

int cli_kafka_is_embedded(rd_kafka_t *rk) {
        /* librdkafka's mock cluster names itself "mockCluster..." */
        char *id = rd_kafka_clusterid(rk, 10000);
        int mock = id && !strncmp(id, "mockCluster", 11);

        if (id)
                rd_kafka_mem_free(rk, id);
        return mock;
}

void cli_kafka_fini(struct cli_kafka *k) {
        kbus_config_free(k->conf);
        free(k->props);
        memset(k, 0, sizeof(*k));
}
