/*
 * `kbus topics`: list and describe topics, and create the ones a set of
 * services uses.
 *
 *   kbus topics [--describe] [--all] [TOPIC...]
 *   kbus topics create -d DESCRIPTOR_SET [--group GROUP] [--partitions N]
 *                      [--replication R]
 *
 * create derives the topics from the descriptor set the way the runtime
 * names them (docs/WIRE.md, section 2): each service's request topic, each
 * event type's topic, and their dead-letter topics (suffix from the -c
 * file's dlt_suffix, default ".DLT") unless dead-lettering is off for all
 * their methods or for the event; with --group, the changelog topic of
 * each state table, "<group>.<table>.changelog", compacted (docs/STATE.md).
 * It creates them through the Admin API and says which already existed.
 *
 * The embedded broker (librdkafka's mock cluster) does not answer
 * CreateTopics; there the missing topics are created by auto-creation (a
 * metadata request), with the partition count the broker gives every
 * auto-created topic, and the command says so.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "kbus/json.h"

static void topics_usage(FILE *fp) {
        fprintf(fp,
                "Usage: kbus topics [--describe] [--all] [TOPIC...]\n"
                "       kbus topics create -d DESCRIPTOR_SET [--group GROUP] "
                "[--partitions N]\n"
                "                          [--replication R]\n"
                "\n"
                "Lists topics with their partition count and how many "
                "records they hold; with\n"
                "--describe, each partition's leader, replicas, in-sync "
                "replicas and low and high\n"
                "offsets.  create makes every topic the services of "
                "DESCRIPTOR_SET use: request\n"
                "and event topics and their dead-letter topics, with --group "
                "the compacted\n"
                "changelog topics of its state tables, and reports those that "
                "existed.\n"
                "\n"
                "  -D, --describe          one line per partition\n"
                "  -a, --all               include internal topics "
                "(__consumer_offsets...)\n"
                "  -d, --descriptors FILE  create: the services' descriptor "
                "set\n"
                "  -g, --group GROUP       create: the consumer group whose "
                "tables' changelogs\n"
                "                          to create "
                "(GROUP.TABLE.changelog)\n"
                "  -p, --partitions N      create: partitions (default: the "
                "broker's default)\n"
                "  -r, --replication R     create: replication factor "
                "(default: the broker's)\n" CLI_KAFKA_HELP
                "  -h, --help              this help\n"
                "\n"
                "The embedded broker (kbus broker) has no CreateTopics: "
                "create makes missing\n"
                "topics there by auto-creation, with the partitions it gives "
                "every new topic\n"
                "(4, or kbus broker --partitions), and says so.\n");
}

static int cmp_topic(const void *a, const void *b) {
        return strcmp(((const rd_kafka_metadata_topic_t *)a)->topic,
                      ((const rd_kafka_metadata_topic_t *)b)->topic);
}

static int cmp_part(const void *a, const void *b) {
        return ((const rd_kafka_metadata_partition_t *)a)->id -
               ((const rd_kafka_metadata_partition_t *)b)->id;
}

/* "1,2,3" into buf, "-" for none. */
static const char *ids(char *buf, size_t len, const int32_t *v, int n) {
        size_t o = 0;

        buf[0] = '\0';
        for (int i = 0; i < n && o < len; i++)
                o += (size_t)snprintf(buf + o, len - o, "%s%" PRId32,
                                      i ? "," : "", v[i]);
        return n ? buf : "-";
}

static int list_topics(rd_kafka_t *rk, bool describe, bool all, char **names,
                       int n_names) {
        const rd_kafka_metadata_t *md;
        rd_kafka_metadata_topic_t *topics;
        rd_kafka_resp_err_t err;
        int rc = 0, shown = 0;

        if ((err = rd_kafka_metadata(rk, 1, NULL, &md, 10000))) {
                fprintf(stderr, "kbus topics: metadata: %s\n",
                        rd_kafka_err2str(err));
                return 1;
        }
        topics = malloc((size_t)(md->topic_cnt ? md->topic_cnt : 1) *
                        sizeof(*topics));
        if (!topics) {
                rd_kafka_metadata_destroy(md);
                return 1;
        }
        memcpy(topics, md->topics, (size_t)md->topic_cnt * sizeof(*topics));
        qsort(topics, (size_t)md->topic_cnt, sizeof(*topics), cmp_topic);
        if (describe)
                printf("%-40s %9s %6s %-12s %-12s %12s %12s\n", "TOPIC",
                       "PARTITION", "LEADER", "REPLICAS", "ISR", "LOW", "HIGH");
        else
                printf("%-50s %10s %12s\n", "TOPIC", "PARTITIONS", "RECORDS");
        for (int i = 0; i < n_names; i++) {
                bool found = false;
                for (int j = 0; j < md->topic_cnt; j++)
                        found |= !strcmp(topics[j].topic, names[i]);
                if (!found) {
                        fprintf(stderr, "kbus topics: no topic %s\n", names[i]);
                        rc = 1;
                }
        }
        for (int i = 0; i < md->topic_cnt; i++) {
                rd_kafka_metadata_topic_t *t = &topics[i];
                rd_kafka_metadata_partition_t *parts;
                int64_t records = 0;
                char rb[256], ib[256];
                bool wanted = !n_names;

                for (int j = 0; j < n_names; j++)
                        wanted |= !strcmp(t->topic, names[j]);
                if (!wanted ||
                    (!all && !n_names && !strncmp(t->topic, "__", 2)))
                        continue;
                if (t->err) {
                        printf("%-40s error: %s\n", t->topic,
                               rd_kafka_err2str(t->err));
                        continue;
                }
                parts =
                    malloc((size_t)(t->partition_cnt ? t->partition_cnt : 1) *
                           sizeof(*parts));
                if (!parts)
                        continue;
                memcpy(parts, t->partitions,
                       (size_t)t->partition_cnt * sizeof(*parts));
                qsort(parts, (size_t)t->partition_cnt, sizeof(*parts),
                      cmp_part);
                for (int p = 0; p < t->partition_cnt; p++) {
                        int64_t lo = -1, hi = -1;
                        rd_kafka_resp_err_t werr =
                            rd_kafka_query_watermark_offsets(
                                rk, t->topic, parts[p].id, &lo, &hi, 10000);
                        if (!werr)
                                records += hi - lo;
                        if (!describe)
                                continue;
                        printf("%-40s %9" PRId32 " %6" PRId32 " %-12s %-12s ",
                               t->topic, parts[p].id, parts[p].leader,
                               ids(rb, sizeof(rb), parts[p].replicas,
                                   parts[p].replica_cnt),
                               ids(ib, sizeof(ib), parts[p].isrs,
                                   parts[p].isr_cnt));
                        if (werr)
                                printf("%s\n", rd_kafka_err2str(werr));
                        else
                                printf("%12" PRId64 " %12" PRId64 "\n", lo, hi);
                }
                if (!describe)
                        printf("%-50s %10d %12" PRId64 "\n", t->topic,
                               t->partition_cnt, records);
                free(parts);
                shown++;
        }
        free(topics);
        rd_kafka_metadata_destroy(md);
        return rc;
}

/* ---- create ---- */

struct wanted {
        char **names;
        const char **why;
        size_t n, cap;
};

static int want(struct wanted *w, const char *name, const char *suffix,
                const char *why) {
        char *s;
        size_t len = strlen(name) + (suffix ? strlen(suffix) : 0) + 1;

        if (!(s = malloc(len)))
                return -1;
        snprintf(s, len, "%s%s", name, suffix ? suffix : "");
        for (size_t i = 0; i < w->n; i++)
                if (!strcmp(w->names[i], s)) {
                        free(s);
                        return 0;
                }
        if (w->n == w->cap) {
                size_t cap = w->cap ? 2 * w->cap : 16;
                char **nn = realloc(w->names, cap * sizeof(*nn));
                const char **nw;
                if (!nn) {
                        free(s);
                        return -1;
                }
                w->names = nn;
                if (!(nw = realloc(w->why, cap * sizeof(*nw)))) {
                        free(s);
                        return -1;
                }
                w->why = nw;
                w->cap = cap;
        }
        w->names[w->n] = s;
        w->why[w->n++] = why;
        return 0;
}

#define WHY_CHANGELOG "changelog of a state table, compacted"
#define WHY_COMPACTED "events, compacted"

/* Every topic the services and events of \p pool use, and with \p group
 * the changelogs of its tables. */
static int wanted_topics(const kbus_json_pool *pool, const char *dlt,
                         const char *group, struct wanted *w) {
        for (size_t i = 0; group && i < kbus_json_pool_table_count(pool); i++) {
                const kbus_table_desc *t = kbus_json_pool_table(pool, i);
                char name[512];
                snprintf(name, sizeof(name), "%s.%s", group, t->name);
                if (want(w, name, ".changelog", WHY_CHANGELOG))
                        return -1;
        }
        for (size_t i = 0; i < kbus_json_pool_service_count(pool); i++) {
                const kbus_service_desc *svc = kbus_json_pool_service(pool, i);
                bool dead_letters = false;
                for (size_t j = 0; j < svc->n_methods; j++)
                        dead_letters |=
                            !(svc->methods[j].flags & KBUS_NO_DEAD_LETTER);
                if (want(w, svc->topic, NULL, "requests") ||
                    (dead_letters &&
                     want(w, svc->topic, dlt, "dead-lettered requests")))
                        return -1;
        }
        for (size_t i = 0; i < kbus_json_pool_event_count(pool); i++) {
                const kbus_event_desc *ev = kbus_json_pool_event(pool, i);
                if (want(w, ev->topic, NULL,
                         ev->flags & KBUS_EVENT_COMPACTED ? WHY_COMPACTED
                                                          : "events") ||
                    (!(ev->flags & KBUS_NO_DEAD_LETTER) &&
                     want(w, ev->topic, dlt, "dead-lettered events")))
                        return -1;
        }
        return 0;
}

/* The partition count of \p topic, 0 if it does not exist, -1 on error.
 * All topics are asked for: asking for one by name creates it where
 * topics are auto-created. */
static int partitions_of(rd_kafka_t *rk, const char *topic) {
        const rd_kafka_metadata_t *md = NULL;
        int n = -1;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 10000))
                return -1;
        n = 0;
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, topic))
                        n = md->topics[i].err ? -1
                                              : md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
        return n;
}

/* Asks for \p topic by name, which makes a broker that auto-creates
 * topics create it. */
static void touch_topic(rd_kafka_t *rk, const char *topic) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const rd_kafka_metadata_t *md = NULL;

        if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000))
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static int create_embedded(struct cli_kafka *k, struct wanted *w,
                           long partitions, long replication) {
        rd_kafka_t *rk = cli_kafka_new(k, RD_KAFKA_PRODUCER, NULL, NULL, NULL);
        int rc = 0;

        if (!rk)
                return 1;
        fprintf(stderr,
                "kbus topics: the embedded broker has no CreateTopics: "
                "missing topics are made by auto-creation, with the "
                "partitions it gives every new topic%s\n",
                partitions > 0 || replication > 0
                    ? "; --partitions and --replication cannot be applied"
                    : "");
        for (size_t i = 0; i < w->n; i++) {
                int n = partitions_of(rk, w->names[i]);
                if (n > 0) {
                        printf("exists   %-50s %d partitions (%s)\n",
                               w->names[i], n, w->why[i]);
                        continue;
                }
                touch_topic(rk, w->names[i]);
                for (int tries = 0; n <= 0 && tries < 50; tries++) {
                        if ((n = partitions_of(rk, w->names[i])) <= 0)
                                rd_kafka_poll(rk, 100);
                }
                if (n <= 0) {
                        fprintf(stderr, "kbus topics: %s was not created\n",
                                w->names[i]);
                        rc = 1;
                        continue;
                }
                printf("created  %-50s %d partitions (%s; auto-created%s)\n",
                       w->names[i], n, w->why[i],
                       strcmp(w->why[i], WHY_CHANGELOG) &&
                               strcmp(w->why[i], WHY_COMPACTED)
                           ? ""
                           : ": the embedded broker does not compact");
        }
        rd_kafka_destroy(rk);
        return rc;
}

static int create_admin(rd_kafka_t *rk, struct wanted *w, long partitions,
                        long replication) {
        rd_kafka_NewTopic_t **nt = calloc(w->n, sizeof(*nt));
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *ao =
            rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **results;
        char err[512];
        size_t n;
        int rc = 0;

        rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, err,
                                                    sizeof(err));
        rd_kafka_AdminOptions_set_request_timeout(ao, 30000, err, sizeof(err));
        for (size_t i = 0; i < w->n; i++) {
                if (!(nt[i] = rd_kafka_NewTopic_new(
                          w->names[i], partitions > 0 ? (int)partitions : -1,
                          replication > 0 ? (int)replication : -1, err,
                          sizeof(err)))) {
                        fprintf(stderr, "kbus topics: %s: %s\n", w->names[i],
                                err);
                        rc = 1;
                        goto out;
                }
                /* A changelog keeps the last value of each key, and its
                 * uncommitted tail whole (docs/STATE.md). */
                if (!strcmp(w->why[i], WHY_CHANGELOG)) {
                        rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy",
                                                     "compact");
                        rd_kafka_NewTopic_set_config(
                            nt[i], "min.compaction.lag.ms", "3600000");
                } else if (!strcmp(w->why[i], WHY_COMPACTED)) {
                        rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy",
                                                     "compact");
                }
        }
        rd_kafka_CreateTopics(rk, nt, w->n, ao, q);
        ev = rd_kafka_queue_poll(q, 60000);
        if (!ev || rd_kafka_event_error(ev)) {
                fprintf(stderr, "kbus topics: CreateTopics: %s\n",
                        ev ? rd_kafka_event_error_string(ev) : "no answer");
                rc = 1;
                goto out;
        }
        res = rd_kafka_event_CreateTopics_result(ev);
        results = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_topic_result_name(results[i]);
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
                const char *why = "";
                for (size_t j = 0; j < w->n; j++)
                        if (!strcmp(w->names[j], name))
                                why = w->why[j];
                if (!e)
                        printf("created  %-50s (%s)\n", name, why);
                else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        printf("exists   %-50s (%s)\n", name, why);
                else {
                        printf("failed   %-50s %s\n", name,
                               rd_kafka_topic_result_error_string(results[i]));
                        rc = 1;
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        for (size_t i = 0; i < w->n; i++)
                if (nt[i])
                        rd_kafka_NewTopic_destroy(nt[i]);
        free(nt);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_queue_destroy(q);
        return rc;
}

int kbus_tool_topics(int argc, char **argv) {
        static const struct option longopts[] = {
            {"describe", no_argument, NULL, 'D'},
            {"all", no_argument, NULL, 'a'},
            {"descriptors", required_argument, NULL, 'd'},
            {"group", required_argument, NULL, 'g'},
            {"partitions", required_argument, NULL, 'p'},
            {"replication", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            CLI_KAFKA_LONGOPTS,
            {NULL, 0, NULL, 0},
        };
        struct cli_kafka k;
        struct wanted w = {0};
        kbus_json_pool *pool = NULL;
        const char *desc_path = NULL, *dlt, *group = NULL;
        bool describe = false, all = false, create = false;
        long partitions = 0, replication = 0;
        rd_kafka_t *rk = NULL;
        char err[1024], *end;
        int c, r, rc = EXIT_USAGE;

        if (argc > 1 && !strcmp(argv[1], "create")) {
                create = true;
                argc--;
                argv++;
        }
        if (cli_kafka_init(&k, create ? "topics create" : "topics", argc))
                return 1;
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":Dad:g:p:r:h" CLI_KAFKA_SHORTOPTS,
                                longopts, NULL)) != -1) {
                if ((r = cli_kafka_opt(&k, c, optarg))) {
                        if (r < 0)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'D':
                        describe = true;
                        break;
                case 'a':
                        all = true;
                        break;
                case 'd':
                        desc_path = optarg;
                        break;
                case 'g':
                        group = optarg;
                        break;
                case 'p':
                case 'r':
                        errno = 0;
                        *(c == 'p' ? &partitions : &replication) =
                            strtol(optarg, &end, 10);
                        if (!*optarg || *end || errno ||
                            (c == 'p' ? partitions : replication) < 1 ||
                            (c == 'p' ? partitions : replication) > 100000) {
                                fprintf(stderr,
                                        "kbus %s: %s: '%s' is not a "
                                        "positive integer\n",
                                        k.cmd,
                                        c == 'p' ? "--partitions"
                                                 : "--replication",
                                        optarg);
                                goto out;
                        }
                        break;
                case 'h':
                        topics_usage(stdout);
                        rc = 0;
                        goto out;
                default:
                        cli_bad_option("topics", argv, c);
                        goto out;
                }
        }
        if (create) {
                if (optind < argc) {
                        fprintf(stderr,
                                "kbus topics create: unexpected "
                                "argument '%s'\n",
                                argv[optind]);
                        goto out;
                }
                if (!desc_path) {
                        fprintf(stderr, "kbus topics create: -d "
                                        "DESCRIPTOR_SET is required\n");
                        goto out;
                }
                if (kbus_json_pool_load(&pool, desc_path, err, sizeof(err))) {
                        fprintf(stderr, "kbus topics create: %s\n", err);
                        goto out;
                }
        } else if (desc_path || group || partitions || replication) {
                fprintf(stderr, "kbus topics: -d, --group, --partitions and "
                                "--replication are for 'kbus topics "
                                "create'\n");
                goto out;
        }
        if ((rc = cli_kafka_ready(&k)))
                goto out;
        rc = 1;
        if (!create) {
                if ((rk = cli_kafka_new(&k, RD_KAFKA_CONSUMER, NULL, NULL,
                                        NULL)))
                        rc = list_topics(rk, describe, all, argv + optind,
                                         argc - optind);
                goto out;
        }
        dlt = k.config_path ? kbus_config_get(k.conf, "dlt_suffix") : NULL;
        if (!group && kbus_json_pool_table_count(pool))
                fprintf(stderr,
                        "kbus topics create: %s has %zu state tables; give "
                        "--group to create their changelog topics\n",
                        desc_path, kbus_json_pool_table_count(pool));
        if (wanted_topics(pool, dlt ? dlt : ".DLT", group, &w)) {
                fprintf(stderr, "kbus topics create: out of memory\n");
                goto out;
        }
        if (!w.n) {
                fprintf(stderr,
                        "kbus topics create: %s has no services and "
                        "no events\n",
                        desc_path);
                goto out;
        }
        if (!(rk = cli_kafka_new(&k, RD_KAFKA_PRODUCER, NULL, NULL, NULL)))
                goto out;
        if (cli_kafka_is_embedded(rk))
                rc = create_embedded(&k, &w, partitions, replication);
        else
                rc = create_admin(rk, &w, partitions, replication);
out:
        if (rk)
                rd_kafka_destroy(rk);
        for (size_t i = 0; i < w.n; i++)
                free(w.names[i]);
        free(w.names);
        free(w.why);
        kbus_json_pool_free(pool);
        cli_kafka_fini(&k);
        return rc;
}
