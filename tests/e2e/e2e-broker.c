/*
 * e2e-broker: the embedded broker for the end-to-end tests, with partition
 * leaders that move on request.
 *
 *   e2e-broker [--brokers N] [--partitions N] [--topic NAME]... [--move NAME]...
 *
 * Like `kbus broker`, it hosts the in-memory cluster (kbus_broker_new),
 * creates the --topic topics, prints the bootstrap list as the first line
 * of standard output and runs until SIGINT or SIGTERM.  In addition, each
 * SIGUSR1 moves the leader of every partition of each --move topic to the
 * next broker (partition p starts on broker p % N + 1 and goes to broker
 * (p + k) % N + 1 on move k), the
 * way a real cluster moves leaders in a rolling restart.  Clients learn of
 * it from NOT_LEADER_FOR_PARTITION errors and a metadata refresh.
 *
 * A test program, so it takes its signals synchronously with sigwait():
 * no handler runs inside the mock cluster's threads.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kbus/kbus.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void usage(FILE *out) {
        fprintf(out,
                "usage: e2e-broker [--brokers N] [--partitions N] "
                "[--topic NAME]... [--move NAME]...\n"
                "The embedded broker for end-to-end tests: prints its "
                "bootstrap list first, runs\nuntil SIGINT or SIGTERM, and "
                "moves the leaders of the --move topics' partitions\nto the "
                "next broker on each SIGUSR1.\n\n"
                "  -b, --brokers N      brokers in the cluster (default 3)\n"
                "  -p, --partitions N   partitions of each --topic (default "
                "4)\n"
                "  -t, --topic NAME     create NAME at start; repeatable\n"
                "  -m, --move NAME      a topic whose leaders SIGUSR1 moves "
                "(also created);\n"
                "                       repeatable\n"
                "  -h, --help           this help\n");
}

static long number(const char *flag, const char *s, long min, long max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v < min || v > max) {
                fprintf(stderr,
                        "e2e-broker: %s needs a number from %ld to "
                        "%ld, not '%s'\n",
                        flag, min, max, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
            {"brokers", required_argument, NULL, 'b'},
            {"partitions", required_argument, NULL, 'p'},
            {"topic", required_argument, NULL, 't'},
            {"move", required_argument, NULL, 'm'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        const char **topics = calloc((size_t)argc + 1, sizeof(*topics));
        const char **moves = calloc((size_t)argc + 1, sizeof(*moves));
        int n_topics = 0, n_moves = 0, opt, sig, n_moved = 0;
        long brokers = 3, partitions = 4;
        kbus_broker *br;
        sigset_t set;
        char err[256];

        if (!topics || !moves) {
                fprintf(stderr, "e2e-broker: out of memory\n");
                return 1;
        }
        while ((opt = getopt_long(argc, argv, "b:p:t:m:h", longopts, NULL)) !=
               -1) {
                switch (opt) {
                case 'b':
                        brokers = number("--brokers", optarg, 1, 64);
                        break;
                case 'p':
                        partitions = number("--partitions", optarg, 1, 1000);
                        break;
                case 't':
                        topics[n_topics++] = optarg;
                        break;
                case 'm':
                        moves[n_moves++] = optarg;
                        topics[n_topics++] = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "e2e-broker: unexpected argument '%s'\n",
                        argv[optind]);
                return 2;
        }

        /* Blocked before the cluster starts its threads, so that they
         * inherit the mask and only sigwait() below sees the signals. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &set, NULL);

        if (kbus_broker_new(&br, (int)brokers, err, sizeof(err))) {
                fprintf(stderr, "e2e-broker: %s\n", err);
                return 1;
        }
        for (int i = 0; i < n_topics; i++) {
                if (kbus_broker_create_topic(br, topics[i], (int)partitions)) {
                        fprintf(stderr,
                                "e2e-broker: cannot create topic "
                                "'%s'\n",
                                topics[i]);
                        kbus_broker_free(br);
                        return 1;
                }
        }
        /* Known leaders to start from, so that every move changes the
         * leader of every partition. */
        for (int t = 0; t < n_moves; t++)
                for (int32_t p = 0; p < partitions; p++)
                        rd_kafka_mock_partition_set_leader(
                            kbus_broker_mock(br), moves[t], p,
                            (int32_t)(p % brokers) + 1);
        printf("%s\n", kbus_broker_bootstrap(br));
        fflush(stdout);
        fprintf(stderr,
                "e2e-broker: %ld brokers at %s; SIGUSR1 moves the "
                "leaders of %d topics\n",
                brokers, kbus_broker_bootstrap(br), n_moves);

        while (sigwait(&set, &sig) == 0 && sig == SIGUSR1) {
                rd_kafka_mock_cluster_t *mc = kbus_broker_mock(br);
                n_moved++;
                for (int t = 0; t < n_moves; t++) {
                        for (int32_t p = 0; p < partitions; p++) {
                                int32_t leader =
                                    (int32_t)((p + n_moved) % brokers) + 1;
                                rd_kafka_resp_err_t e =
                                    rd_kafka_mock_partition_set_leader(
                                        mc, moves[t], p, leader);
                                if (e)
                                        fprintf(stderr,
                                                "e2e-broker: %s [%d]: "
                                                "%s\n",
                                                moves[t], p,
                                                rd_kafka_err2str(e));
                        }
                }
                fprintf(stderr,
                        "e2e-broker: move %d: leaders of %d topics "
                        "moved to the next broker\n",
                        n_moved, n_moves);
        }
        fprintf(stderr, "e2e-broker: stopping after %d leader moves\n",
                n_moved);
        kbus_broker_free(br);
        free(topics);
        free(moves);
        return 0;
}
