/*
 * `kbus dlt`: look at and replay dead-lettered records.
 *
 *   kbus dlt show   -t TOPIC.DLT [-b BOOTSTRAP] [-n MAX]
 *   kbus dlt replay -t TOPIC.DLT [-b BOOTSTRAP] [--to TOPIC] [--group G]
 *                   [-n MAX] [--dry-run]
 *
 * show prints one JSON line per dead letter: where it came from, why it
 * was dead-lettered (the kafka_dlt-* headers), its key and size.
 *
 * replay sends each dead letter back to its original topic (or --to),
 * with its key, value and original headers, minus the kafka_dlt-* ones the
 * dead-lettering added.  Its progress is a consumer group's committed
 * offsets (default group "kbus-dlt-replay"), committed only after every
 * record of the run was delivered: a run that fails part way replays those
 * records again next time (at least once, never lost), and a finished run
 * is not repeated.  It reads up to the end the topic had when it started.
 *
 * This is a command-line tool: it may block, and uses librdkafka directly.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "wire.h" /* header names only: the tool uses the public API */

struct dlt_opts {
        struct cli_kafka k;
        const char *topic;
        const char *to;
        const char *group;
        long limit;
        bool dry_run;
};

static void dlt_usage(FILE *fp) {
        fprintf(
            fp,
            "Usage: kbus dlt show   -t TOPIC.DLT [-b BOOTSTRAP] [-X N=V]... "
            "[-c FILE] [-n MAX]\n"
            "       kbus dlt replay -t TOPIC.DLT [-b BOOTSTRAP] [-X N=V]... "
            "[-c FILE]\n"
            "                       [--to TOPIC] [--group GROUP] [-n MAX] "
            "[--dry-run]\n"
            "\n"
            "show:   print each dead letter as one JSON line (origin, "
            "reason, attempts, key)\n"
            "replay: send dead letters back to their original topic (or "
            "--to), without the\n"
            "        kafka_dlt-* headers; progress is kept as GROUP's "
            "committed offsets\n"
            "        (default kbus-dlt-replay), committed once all were "
            "delivered\n"
            "\n"
            "  -t, --topic TOPIC     the dead-letter topic\n"
            "  -n, --max N           stop after N records\n"
            "      --to TOPIC        replay to TOPIC instead of the "
            "original topic\n"
            "      --group GROUP     consumer group keeping replay "
            "progress\n"
            "      --dry-run         say what would be replayed; send "
            "nothing\n" CLI_KAFKA_HELP "  -h, --help            this help\n");
}

struct replay {
        const struct dlt_opts *o;
        rd_kafka_t *producer;
        long sent, failed, skipped;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
        struct replay *r = opaque;
        if (m->err) {
                r->failed++;
                fprintf(stderr, "kbus dlt: not delivered to %s: %s\n",
                        rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        }
}

static void replay_setup(rd_kafka_conf_t *conf, void *arg) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, arg);
}

/* A consumer (in \p group, if any) or, when \p r is given, a producer
 * whose delivery failures are counted in \p r. */
static rd_kafka_t *client(rd_kafka_type_t type, const struct dlt_opts *o,
                          const char *group, struct replay *r) {
        const char *extra[] = {"group.id", group, NULL};

        return cli_kafka_new((struct cli_kafka *)&o->k, type,
                             group ? extra : NULL, r ? replay_setup : NULL, r);
}

/* Assigns every partition of o->topic from the group's committed offsets
 * (or the beginning); *endsp gets each partition's end at this moment. */
static rd_kafka_topic_partition_list_t *assign_all(rd_kafka_t *rk,
                                                   const struct dlt_opts *o,
                                                   bool committed,
                                                   int64_t **endsp) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_resp_err_t err;
        int n;

        err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        rd_kafka_topic_destroy(rkt);
        if (err || md->topic_cnt != 1 || md->topics[0].err ||
            md->topics[0].partition_cnt == 0) {
                fprintf(stderr, "kbus dlt: topic %s: %s\n", o->topic,
                        rd_kafka_err2str(
                            err ? err
                            : md->topic_cnt
                                ? md->topics[0].err
                                : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
                if (md)
                        rd_kafka_metadata_destroy(md);
                return NULL;
        }
        n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        l = rd_kafka_topic_partition_list_new(n);
        *endsp = calloc((size_t)n, sizeof(**endsp));
        for (int p = 0; p < n; p++) {
                int64_t lo, hi;
                rd_kafka_topic_partition_list_add(l, o->topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
                if (rd_kafka_query_watermark_offsets(rk, o->topic, p, &lo, &hi,
                                                     10000))
                        hi = 0;
                (*endsp)[p] = hi;
        }
        if (committed && (err = rd_kafka_committed(rk, l, 10000))) {
                fprintf(stderr, "kbus dlt: committed offsets of %s: %s\n",
                        o->group, rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(l);
                free(*endsp);
                return NULL;
        }
        for (int i = 0; i < l->cnt; i++)
                if (l->elems[i].offset < 0)
                        l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        return l;
}

/* Reads records until every partition reached its end, \p max records
 * were seen, or nothing came for 10 s; calls \p fn for each. */
static long consume_to_end(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l,
                           const int64_t *ends, long max,
                           bool (*fn)(rd_kafka_message_t *m, void *arg),
                           void *arg) {
        long seen = 0;
        time_t idle_since = time(NULL);
        int n = l->cnt;
        int64_t *next = calloc((size_t)n, sizeof(*next));
        bool ok = true;

        for (int p = 0; p < n; p++)
                next[p] = l->elems[p].offset >= 0 ? l->elems[p].offset : 0;
        for (;;) {
                bool done = true;
                for (int p = 0; p < n; p++)
                        if (next[p] < ends[p])
                                done = false;
                if (done || (max && seen >= max) || !ok ||
                    time(NULL) - idle_since > 10)
                        break;
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
                if (!m)
                        continue;
                if (m->err) {
                        /* Errors do not count as progress. */
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fprintf(stderr, "kbus dlt: %s\n",
                                        rd_kafka_message_errstr(m));
                } else if (m->partition < n) {
                        idle_since = time(NULL);
                        next[m->partition] = m->offset + 1;
                        ok = fn(m, arg);
                        seen++;
                }
                rd_kafka_message_destroy(m);
        }
        for (int p = 0; p < n; p++)
                l->elems[p].offset = next[p];
        free(next);
        return ok ? seen : -1;
}

static const void *header(const rd_kafka_message_t *m, const char *name,
                          size_t *size) {
        rd_kafka_headers_t *h;
        const void *v;
        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, name, &v, size))
                return NULL;
        return v;
}

static json_t *text_or_hex(const void *v, size_t n) {
        const unsigned char *s = v;
        char *hex;
        json_t *j;
        bool printable = true;
        for (size_t i = 0; i < n; i++)
                if (!isprint(s[i]))
                        printable = false;
        if (printable)
                return json_stringn(v, n);
        hex = malloc(2 * n + 3);
        strcpy(hex, "0x");
        for (size_t i = 0; i < n; i++)
                sprintf(hex + 2 + 2 * i, "%02x", s[i]);
        j = json_string(hex);
        free(hex);
        return j;
}

static uint64_t be(const void *v, size_t n) {
        const unsigned char *b = v;
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
                x = x << 8 | b[i];
        return x;
}

static json_t *describe(const rd_kafka_message_t *m) {
        json_t *o = json_object();
        const void *v;
        size_t n;

        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(
            o, "key", m->key ? text_or_hex(m->key, m->key_len) : json_null());
        json_object_set_new(o, "value_bytes", json_integer((json_int_t)m->len));
        if ((v = header(m, KBUS_H_DLT_TOPIC, &n)))
                json_object_set_new(o, "original_topic", text_or_hex(v, n));
        if ((v = header(m, KBUS_H_DLT_PARTITION, &n)) && n == 4)
                json_object_set_new(o, "original_partition",
                                    json_integer((json_int_t)be(v, 4)));
        if ((v = header(m, KBUS_H_DLT_OFFSET, &n)) && n == 8)
                json_object_set_new(o, "original_offset",
                                    json_integer((json_int_t)be(v, 8)));
        if ((v = header(m, KBUS_H_DLT_GROUP, &n)))
                json_object_set_new(o, "group", text_or_hex(v, n));
        if ((v = header(m, KBUS_H_DLT_FQCN, &n)))
                json_object_set_new(o, "error", text_or_hex(v, n));
        if ((v = header(m, KBUS_H_DLT_MESSAGE, &n)))
                json_object_set_new(o, "reason", text_or_hex(v, n));
        if ((v = header(m, KBUS_H_ATTEMPTS, &n)))
                json_object_set_new(o, "attempts", text_or_hex(v, n));
        return o;
}

static bool show_one(rd_kafka_message_t *m, void *arg) {
        json_t *o = describe(m);
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(line);
        free(line);
        json_decref(o);
        return true;
}

static bool replay_one(rd_kafka_message_t *m, void *arg) {
        struct replay *r = arg;
        char topic[512];
        const void *v;
        size_t n;
        rd_kafka_headers_t *orig, *h;
        rd_kafka_resp_err_t err;

        if (r->o->to) {
                snprintf(topic, sizeof(topic), "%s", r->o->to);
        } else if ((v = header(m, KBUS_H_DLT_TOPIC, &n)) && n < sizeof(topic)) {
                memcpy(topic, v, n);
                topic[n] = '\0';
        } else {
                fprintf(stderr,
                        "kbus dlt: %s [%" PRId32 "] offset %" PRId64
                        ": no kafka_dlt-original-topic header; use --to\n",
                        rd_kafka_topic_name(m->rkt), m->partition, m->offset);
                r->skipped++;
                return false;
        }
        if (r->o->dry_run) {
                json_t *o = describe(m);
                char *line;
                json_object_set_new(o, "replay_to", json_string(topic));
                line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                puts(line);
                free(line);
                json_decref(o);
                return true;
        }
        h = rd_kafka_headers_new(8);
        if (!rd_kafka_message_headers(m, &orig)) {
                const char *name;
                for (size_t i = 0;
                     !rd_kafka_header_get_all(orig, i, &name, &v, &n); i++)
                        if (strncmp(name, KBUS_H_DLT_PREFIX,
                                    strlen(KBUS_H_DLT_PREFIX)))
                                rd_kafka_header_add(h, name, -1, v, (ssize_t)n);
        }
        err = rd_kafka_producev(r->producer, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(m->key, m->key_len),
                                RD_KAFKA_V_VALUE(m->payload, m->len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (err) {
                rd_kafka_headers_destroy(h);
                fprintf(stderr, "kbus dlt: cannot produce to %s: %s\n", topic,
                        rd_kafka_err2str(err));
                r->failed++;
                return false;
        }
        r->sent++;
        rd_kafka_poll(r->producer, 0);
        return true;
}

static int run(bool replay, const struct dlt_opts *o) {
        /* show commits nothing; its group only keeps librdkafka from
         * complaining that there is none. */
        rd_kafka_t *consumer = client(
            RD_KAFKA_CONSUMER, o, replay ? o->group : "kbus-dlt-show", NULL);
        rd_kafka_topic_partition_list_t *l;
        struct replay r = {o, NULL, 0, 0, 0};
        int64_t *ends = NULL;
        long seen;
        int rc = 0;

        if (!consumer)
                return 1;
        l = assign_all(consumer, o, replay, &ends);
        if (!l) {
                rd_kafka_destroy(consumer);
                return 1;
        }
        if (replay && !o->dry_run &&
            !(r.producer = client(RD_KAFKA_PRODUCER, o, NULL, &r))) {
                rc = 1;
                goto out;
        }
        seen = consume_to_end(consumer, l, ends, o->limit,
                              replay ? replay_one : show_one, &r);
        if (replay && !o->dry_run) {
                while (rd_kafka_outq_len(r.producer) > 0 &&
                       rd_kafka_flush(r.producer, 30000) == 0)
                        ;
                if (rd_kafka_outq_len(r.producer) > 0)
                        r.failed += rd_kafka_outq_len(r.producer);
                if (seen < 0 || r.failed) {
                        fprintf(stderr,
                                "kbus dlt: %ld sent, %ld failed, %ld skipped; "
                                "progress not committed, run again\n",
                                r.sent, r.failed, r.skipped);
                        rc = 1;
                } else if (seen > 0) {
                        rd_kafka_resp_err_t err =
                            rd_kafka_commit(consumer, l, 0);
                        if (err) {
                                fprintf(stderr,
                                        "kbus dlt: commit: %s (the records "
                                        "were replayed; a rerun repeats "
                                        "them)\n",
                                        rd_kafka_err2str(err));
                                rc = 1;
                        }
                }
                if (!rc)
                        fprintf(stderr,
                                "kbus dlt: replayed %ld records "
                                "from %s\n",
                                r.sent, o->topic);
        } else if (seen < 0) {
                rc = 1;
        }
out:
        rd_kafka_topic_partition_list_destroy(l);
        free(ends);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
        if (r.producer)
                rd_kafka_destroy(r.producer);
        return rc;
}

int kbus_tool_dlt(int argc, char **argv) {
        static const struct option longopts[] = {
            {"topic", required_argument, NULL, 't'},
            {"max", required_argument, NULL, 'n'},
            {"to", required_argument, NULL, 'T'},
            {"group", required_argument, NULL, 'g'},
            {"dry-run", no_argument, NULL, 'd'},
            {"help", no_argument, NULL, 'h'},
            CLI_KAFKA_LONGOPTS,
            {NULL, 0, NULL, 0},
        };
        struct dlt_opts o = {0};
        const char *action;
        char *end;
        int c, r, rc = EXIT_USAGE;

        if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
                dlt_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_USAGE : 0;
        }
        action = argv[1];
        if (strcmp(action, "show") && strcmp(action, "replay")) {
                fprintf(stderr,
                        "kbus dlt: unknown action '%s' (show, "
                        "replay)\n",
                        action);
                return EXIT_USAGE;
        }
        o.group = "kbus-dlt-replay";
        if (cli_kafka_init(&o.k, "dlt", argc))
                return 1;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "t:n:h" CLI_KAFKA_SHORTOPTS,
                                longopts, NULL)) != -1) {
                if ((r = cli_kafka_opt(&o.k, c, optarg))) {
                        if (r < 0)
                                goto out;
                        continue;
                }
                switch (c) {
                case 't':
                        o.topic = optarg;
                        break;
                case 'T':
                        o.to = optarg;
                        break;
                case 'g':
                        o.group = optarg;
                        break;
                case 'd':
                        o.dry_run = true;
                        break;
                case 'n':
                        o.limit = strtol(optarg, &end, 10);
                        if (*end || o.limit <= 0) {
                                fprintf(stderr,
                                        "kbus dlt: --max needs a "
                                        "positive number, got '%s'\n",
                                        optarg);
                                goto out;
                        }
                        break;
                case 'h':
                        dlt_usage(stdout);
                        rc = 0;
                        goto out;
                default:
                        dlt_usage(stderr);
                        goto out;
                }
        }
        if (optind < argc - 1) {
                fprintf(stderr, "kbus dlt: unexpected argument '%s'\n",
                        argv[optind + 1]);
                goto out;
        }
        if (!o.topic) {
                fprintf(stderr, "kbus dlt: --topic is required\n");
                goto out;
        }
        if ((rc = cli_kafka_ready(&o.k)))
                goto out;
        rc = run(!strcmp(action, "replay"), &o);
out:
        cli_kafka_fini(&o.k);
        return rc;
}
