/*
 * `kbus groups`: consumer groups, their members and assignments, and each
 * partition's committed offset and lag.
 *
 *   kbus groups                 the groups, with state and member count
 *   kbus groups GROUP [-t TOPIC]...
 *                               members, then per partition: committed
 *                               offset, end offset, lag
 *
 * Lag is the partition's high watermark minus the group's committed
 * offset: what the group has not yet finished (kbus commits an offset only
 * once every record before it was handled).
 *
 * The embedded broker (librdkafka's mock cluster) answers neither
 * ListGroups nor DescribeGroups, so there the command cannot list groups
 * or show members; it still shows a named group's committed offsets and
 * lag, on every topic or on the -t topics, through OffsetFetch, which the
 * embedded broker has.  Reading committed offsets joins nothing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"

static void groups_usage(FILE *fp) {
        fprintf(fp,
                "Usage: kbus groups [GROUP [-t TOPIC]...]\n"
                "\n"
                "Without GROUP: every consumer group, its state and members. "
                " With GROUP: its\n"
                "members and their partitions, then per partition the "
                "committed offset, the end\n"
                "offset and the lag (end - committed), and the total lag.\n"
                "\n"
                "  -t, --topic TOPIC       only these topics (default: the "
                "group's assignment,\n"
                "                          or every topic on the embedded "
                "broker); repeatable\n" CLI_KAFKA_HELP
                "  -h, --help              this help\n"
                "\n"
                "The embedded broker (kbus broker) has no ListGroups or "
                "DescribeGroups: there,\n"
                "name the group; members are not shown, offsets and lag "
                "are.\n");
}

static const char *state_name(rd_kafka_consumer_group_state_t s) {
        return rd_kafka_consumer_group_state_name(s);
}

static int list_groups(rd_kafka_t *rk) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_ListConsumerGroups_result_t *res;
        const rd_kafka_ConsumerGroupListing_t **gl;
        size_t n;
        int rc = 0;

        rd_kafka_ListConsumerGroups(rk, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (!ev || rd_kafka_event_error(ev)) {
                fprintf(stderr, "kbus groups: ListConsumerGroups: %s\n",
                        ev ? rd_kafka_event_error_string(ev) : "no answer");
                rc = 1;
                goto out;
        }
        res = rd_kafka_event_ListConsumerGroups_result(ev);
        gl = rd_kafka_ListConsumerGroups_result_valid(res, &n);
        printf("%-50s %-20s\n", "GROUP", "STATE");
        for (size_t i = 0; i < n; i++)
                printf("%-50s %-20s%s\n",
                       rd_kafka_ConsumerGroupListing_group_id(gl[i]),
                       state_name(rd_kafka_ConsumerGroupListing_state(gl[i])),
                       rd_kafka_ConsumerGroupListing_is_simple_consumer_group(
                           gl[i])
                           ? " (simple)"
                           : "");
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* Prints the members of \p group and adds their partitions to \p parts
 * (unless topics were named). */
static int describe_group(rd_kafka_t *rk, const char *group,
                          rd_kafka_topic_partition_list_t *parts, bool add) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev;
        const rd_kafka_DescribeConsumerGroups_result_t *res;
        const rd_kafka_ConsumerGroupDescription_t **gd;
        const char *groups[] = {group};
        size_t n;
        int rc = 0;

        rd_kafka_DescribeConsumerGroups(rk, groups, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (!ev || rd_kafka_event_error(ev)) {
                fprintf(stderr, "kbus groups: DescribeConsumerGroups: %s\n",
                        ev ? rd_kafka_event_error_string(ev) : "no answer");
                rc = 1;
                goto out;
        }
        res = rd_kafka_event_DescribeConsumerGroups_result(ev);
        gd = rd_kafka_DescribeConsumerGroups_result_groups(res, &n);
        for (size_t i = 0; i < n; i++) {
                const rd_kafka_error_t *e =
                    rd_kafka_ConsumerGroupDescription_error(gd[i]);
                size_t members;
                if (e) {
                        fprintf(stderr, "kbus groups: %s: %s\n", group,
                                rd_kafka_error_string(e));
                        rc = 1;
                        continue;
                }
                members = rd_kafka_ConsumerGroupDescription_member_count(gd[i]);
                printf(
                    "group %s: state %s, %zu member%s, assignor %s\n", group,
                    state_name(rd_kafka_ConsumerGroupDescription_state(gd[i])),
                    members, members == 1 ? "" : "s",
                    rd_kafka_ConsumerGroupDescription_partition_assignor(
                        gd[i]));
                for (size_t j = 0; j < members; j++) {
                        const rd_kafka_MemberDescription_t *m =
                            rd_kafka_ConsumerGroupDescription_member(gd[i], j);
                        const rd_kafka_topic_partition_list_t *a =
                            rd_kafka_MemberAssignment_partitions(
                                rd_kafka_MemberDescription_assignment(m));
                        printf("member %s client %s host %s:",
                               rd_kafka_MemberDescription_consumer_id(m),
                               rd_kafka_MemberDescription_client_id(m),
                               rd_kafka_MemberDescription_host(m));
                        for (int p = 0; a && p < a->cnt; p++) {
                                printf(" %s[%" PRId32 "]", a->elems[p].topic,
                                       a->elems[p].partition);
                                if (add)
                                        rd_kafka_topic_partition_list_add(
                                            parts, a->elems[p].topic,
                                            a->elems[p].partition);
                        }
                        printf("\n");
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* Adds every partition of \p topic (every non-internal topic if NULL). */
static int add_partitions(rd_kafka_t *rk, const char *topic,
                          rd_kafka_topic_partition_list_t *parts) {
        /* All topics, even for one: asking for it by name would create
         * it where topics are auto-created. */
        const rd_kafka_metadata_t *md;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
        bool found = !topic;

        if (err) {
                fprintf(stderr, "kbus groups: metadata: %s\n",
                        rd_kafka_err2str(err));
                return 1;
        }
        for (int i = 0; i < md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *t = &md->topics[i];
                if (topic && strcmp(t->topic, topic))
                        continue;
                found = true;
                if (t->err) {
                        fprintf(stderr, "kbus groups: topic %s: %s\n", t->topic,
                                rd_kafka_err2str(t->err));
                        rd_kafka_metadata_destroy(md);
                        return 1;
                }
                if (!topic && !strncmp(t->topic, "__", 2))
                        continue;
                for (int p = 0; p < t->partition_cnt; p++)
                        rd_kafka_topic_partition_list_add(parts, t->topic,
                                                          t->partitions[p].id);
        }
        rd_kafka_metadata_destroy(md);
        if (!found) {
                fprintf(stderr, "kbus groups: no topic %s\n", topic);
                return 1;
        }
        return 0;
}

static int cmp_tp(const void *a, const void *b, void *unused) {
        const rd_kafka_topic_partition_t *x = a, *y = b;
        int c = strcmp(x->topic, y->topic);
        (void)unused;
        return c ? c : x->partition - y->partition;
}

static int show_lag(struct cli_kafka *k, const char *group,
                    rd_kafka_topic_partition_list_t *parts, bool all_topics) {
        /* A consumer in the group that never subscribes: OffsetFetch only,
         * no join, nothing committed. */
        const char *extra[] = {"group.id", group, NULL};
        rd_kafka_t *rk = cli_kafka_new(k, RD_KAFKA_CONSUMER, extra, NULL, NULL);
        rd_kafka_resp_err_t err;
        int64_t total = 0;
        int shown = 0;

        if (!rk)
                return 1;
        rd_kafka_topic_partition_list_sort(parts, cmp_tp, NULL);
        if ((err = rd_kafka_committed(rk, parts, 30000))) {
                fprintf(stderr, "kbus groups: committed offsets of %s: %s\n",
                        group, rd_kafka_err2str(err));
                rd_kafka_destroy(rk);
                return 1;
        }
        printf("%-40s %9s %12s %12s %10s\n", "TOPIC", "PARTITION", "COMMITTED",
               "END", "LAG");
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                int64_t lo, hi, lag;
                /* On every topic, only those the group has offsets in. */
                if (all_topics && tp->offset < 0)
                        continue;
                if (rd_kafka_query_watermark_offsets(
                        rk, tp->topic, tp->partition, &lo, &hi, 10000))
                        lo = hi = -1;
                lag = tp->offset >= 0 && hi >= 0 ? hi - tp->offset
                      : hi >= 0                  ? hi - lo
                                                 : 0;
                if (lag < 0)
                        lag = 0;
                total += lag;
                if (tp->offset >= 0)
                        printf("%-40s %9" PRId32 " %12" PRId64 " %12" PRId64
                               " %10" PRId64 "\n",
                               tp->topic, tp->partition, tp->offset, hi, lag);
                else
                        printf("%-40s %9" PRId32 " %12s %12" PRId64
                               " %10" PRId64 "\n",
                               tp->topic, tp->partition, "-", hi, lag);
                shown++;
        }
        printf("total lag %" PRId64 " over %d partition%s\n", total, shown,
               shown == 1 ? "" : "s");
        if (!shown)
                fprintf(stderr,
                        "kbus groups: group %s has committed no "
                        "offsets%s\n",
                        group, all_topics ? " on any topic" : "");
        rd_kafka_destroy(rk);
        return 0;
}

int kbus_tool_groups(int argc, char **argv) {
        static const struct option longopts[] = {
            {"topic", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            CLI_KAFKA_LONGOPTS,
            {NULL, 0, NULL, 0},
        };
        struct cli_kafka k;
        const char **topics;
        size_t n_topics = 0;
        const char *group = NULL;
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_t *rk = NULL;
        int c, r, rc = EXIT_USAGE;
        bool embedded, every;

        if (cli_kafka_init(&k, "groups", argc))
                return 1;
        if (!(topics = calloc((size_t)argc + 1, sizeof(*topics)))) {
                cli_kafka_fini(&k);
                return 1;
        }
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":t:h" CLI_KAFKA_SHORTOPTS,
                                longopts, NULL)) != -1) {
                if ((r = cli_kafka_opt(&k, c, optarg))) {
                        if (r < 0)
                                goto out;
                        continue;
                }
                switch (c) {
                case 't':
                        topics[n_topics++] = optarg;
                        break;
                case 'h':
                        groups_usage(stdout);
                        rc = 0;
                        goto out;
                default:
                        cli_bad_option("groups", argv, c);
                        goto out;
                }
        }
        if (optind < argc)
                group = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, "kbus groups: one group at a time ('%s')\n",
                        argv[optind]);
                goto out;
        }
        if (n_topics && !group) {
                fprintf(stderr, "kbus groups: -t needs a GROUP\n");
                goto out;
        }
        if ((rc = cli_kafka_ready(&k)))
                goto out;
        rc = 1;
        if (!(rk = cli_kafka_new(&k, RD_KAFKA_CONSUMER, NULL, NULL, NULL)))
                goto out;
        embedded = cli_kafka_is_embedded(rk);
        if (!group) {
                if (embedded) {
                        fprintf(stderr,
                                "kbus groups: the embedded broker cannot "
                                "list groups (it has no ListGroups); name "
                                "one: kbus groups GROUP\n");
                        goto out;
                }
                rc = list_groups(rk);
                goto out;
        }
        parts = rd_kafka_topic_partition_list_new(16);
        if (embedded)
                fprintf(stderr, "kbus groups: the embedded broker has no "
                                "DescribeGroups: members and assignments "
                                "are not shown\n");
        else if (describe_group(rk, group, parts, !n_topics))
                goto out;
        for (size_t i = 0; i < n_topics; i++)
                if (add_partitions(rk, topics[i], parts))
                        goto out;
        /* No topics named and none assigned (or no way to know which):
         * look at every topic, and show those the group has offsets in. */
        every = !parts->cnt;
        if (every && add_partitions(rk, NULL, parts))
                goto out;
        rc = show_lag(&k, group, parts, every);
out:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (rk)
                rd_kafka_destroy(rk);
        free(topics);
        cli_kafka_fini(&k);
        return rc;
}
