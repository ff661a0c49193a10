/*
 * kbus.c: the `kbus` command-line tool.
 *
 * A table of subcommands, each a function given its own argv (argv[0] is
 * the subcommand's name), so a new one (`kbus dlt replay`, `kbus call`)
 * is a function, a usage text and a row in the table.  The tool uses only
 * the public kbus API, as any other program would.
 *
 * Exit status: 0 on success, 1 when the work itself failed, 2 for a usage
 * error (unknown subcommand or option, bad number), as most Unix tools do.
 *
 * `kbus broker` runs the embedded broker as a process for scripts and
 * tests: the bootstrap list is the first line of standard output, flushed
 * at once, so a reader can `read -r` it and connect; everything else goes
 * to standard error.  With --ready-file the list also goes to a file that
 * appears whole (written aside, then renamed) once the brokers listen, so
 * a script can wait for the file instead of racing the shell's redirection.
 * SIGINT or SIGTERM stops it with status 0.  SIGUSR1 takes every broker
 * down (connections closed, new ones refused, data kept) and SIGUSR2 brings
 * them back, so a script can stage a broker outage.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#include "kbus/kbus.h"

#include "cli.h"

/* ------------------------------------------------------------------ */
/* Helpers shared by subcommands                                       */
/* ------------------------------------------------------------------ */

/* Reads a decimal integer option value; the whole text must be the number.
 * On error, names the subcommand and the flag, and returns -1. */
static int parse_int_opt(const char *cmd, const char *flag, const char *text,
                         long min, long max, int *out) {
        char *end;
        long v;

        errno = 0;
        v = strtol(text, &end, 10);
        if (!*text || *end || errno == ERANGE || v < min || v > max) {
                fprintf(stderr,
                        "kbus %s: %s: '%s' is not an integer from %ld to "
                        "%ld\n",
                        cmd, flag, text, min, max);
                return -1;
        }
        *out = (int)v;
        return 0;
}

/* Kafka's rule for topic names.  The embedded broker would take any
 * name, but real clients refuse these, so catch them here. */
static int topic_name_ok(const char *s) {
        size_t n = strlen(s), i;

        if (n == 0 || n > 249 || !strcmp(s, ".") || !strcmp(s, ".."))
                return 0;
        for (i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
                    s[i] != '_' && s[i] != '-')
                        return 0;
        return 1;
}

/* ------------------------------------------------------------------ */
/* kbus broker                                                         */
/* ------------------------------------------------------------------ */

#define BROKER_DEFAULT_PARTITIONS 4 /* what the mock gives auto-created ones */

static void broker_usage(FILE *fp) {
        fprintf(fp,
                "Usage: kbus broker [--brokers N] [--partitions N] "
                "[--topic NAME]... [--ready-file FILE]\n"
                "\n"
                "Runs an embedded Kafka broker (librdkafka's mock cluster) "
                "on loopback until\n"
                "SIGINT or SIGTERM.  The first line of standard output is "
                "its bootstrap list,\n"
                "e.g. 127.0.0.1:40123; logs go to standard error.  Data is "
                "held in memory only.\n"
                "SIGUSR1 takes every broker down (connections closed and "
                "refused, data kept),\n"
                "SIGUSR2 brings them back up: an outage on demand.\n"
                "\n"
                "  -b, --brokers N      number of brokers, 1-64 (default 1)\n"
                "  -p, --partitions N   partitions of each --topic, 1-10000 "
                "(default %d, as\n"
                "                       topics created on first use get)\n"
                "  -t, --topic NAME     create topic NAME at start; "
                "repeatable\n"
                "  -r, --ready-file FILE\n"
                "                       once the brokers listen, write the "
                "bootstrap list to\n"
                "                       FILE, which appears whole at once "
                "(removed at start\n"
                "                       and at exit): wait for it to "
                "exist, then read it\n"
                "  -h, --help           show this help\n",
                BROKER_DEFAULT_PARTITIONS);
}

/* Writes \p line and a newline to \p path so that readers see either no
 * file or the whole line: into a file beside it, then renamed over it. */
static int write_ready_file(const char *path, const char *line) {
        char tmp[PATH_MAX];
        FILE *fp;
        int err;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
            (int)sizeof(tmp)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        if (!(fp = fopen(tmp, "w")))
                return -1;
        if (fprintf(fp, "%s\n", line) < 0 || fflush(fp) != 0) {
                err = errno;
                fclose(fp);
                unlink(tmp);
                errno = err;
                return -1;
        }
        if (fclose(fp) != 0 || rename(tmp, path) != 0) {
                err = errno;
                unlink(tmp);
                errno = err;
                return -1;
        }
        return 0;
}

/* Waits for SIGINT or SIGTERM, which the caller has blocked in every
 * thread (see cmd_broker), and returns the signal's number.  Meanwhile
 * SIGUSR1 and SIGUSR2 (blocked too) take the brokers down and up. */
static int wait_for_stop(const sigset_t *set, kbus_broker *br) {
        int sig = 0;

        for (;;) {
                if (sigwait(set, &sig) != 0)
                        continue;
                if (sig != SIGUSR1 && sig != SIGUSR2)
                        return sig;
                /* -1: every broker.  Leaders stay where they are, so
                 * clients wait for the brokers to come back. */
                kbus_broker_set_up(br, -1, sig == SIGUSR2);
                fprintf(stderr, sig == SIGUSR1
                                    ? "kbus broker: SIGUSR1: brokers down "
                                      "(connections closed and refused; data "
                                      "kept); SIGUSR2 brings them up\n"
                                    : "kbus broker: SIGUSR2: brokers up\n");
        }
}

static int cmd_broker(int argc, char **argv) {
        static const struct option longopts[] = {
            {"brokers", required_argument, NULL, 'b'},
            {"partitions", required_argument, NULL, 'p'},
            {"topic", required_argument, NULL, 't'},
            {"ready-file", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        int n_brokers = 1, partitions = BROKER_DEFAULT_PARTITIONS;
        const char **topics = NULL, *ready_file = NULL;
        int n_topics = 0, c, i, r, sig, status = EXIT_FAILURE;
        kbus_broker *br = NULL;
        char errstr[512];
        sigset_t set;

        /* Topics can only be as many as the arguments: size for that. */
        topics = calloc((size_t)argc, sizeof(*topics));
        if (!topics) {
                fprintf(stderr, "kbus broker: out of memory\n");
                return EXIT_FAILURE;
        }

        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":b:p:t:r:h", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'b':
                        if (parse_int_opt("broker", "--brokers", optarg, 1, 64,
                                          &n_brokers))
                                goto usage_error;
                        break;
                case 'p':
                        if (parse_int_opt("broker", "--partitions", optarg, 1,
                                          10000, &partitions))
                                goto usage_error;
                        break;
                case 't':
                        if (!topic_name_ok(optarg)) {
                                fprintf(stderr,
                                        "kbus broker: --topic: '%s' is not a "
                                        "valid topic name (1-249 characters "
                                        "of a-z A-Z 0-9 . _ -)\n",
                                        optarg);
                                goto usage_error;
                        }
                        /* Naming a topic twice is harmless; creating it
                         * twice is an error in the mock, so skip repeats. */
                        for (i = 0; i < n_topics; i++)
                                if (!strcmp(topics[i], optarg))
                                        break;
                        if (i == n_topics)
                                topics[n_topics++] = optarg;
                        break;
                case 'r':
                        if (!*optarg) {
                                fprintf(stderr, "kbus broker: --ready-file: "
                                                "empty file name\n");
                                goto usage_error;
                        }
                        ready_file = optarg;
                        break;
                case 'h':
                        broker_usage(stdout);
                        free(topics);
                        return EXIT_SUCCESS;
                default:
                        cli_bad_option("broker", argv, c);
                        goto usage_error;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "kbus broker: unexpected argument '%s'\n",
                        argv[optind]);
                goto usage_error;
        }

        /* A file left by an earlier run must not pass for this broker's. */
        if (ready_file && unlink(ready_file) != 0 && errno != ENOENT) {
                fprintf(stderr, "kbus broker: --ready-file %s: %s\n",
                        ready_file, strerror(errno));
                goto done;
        }

        /* Block the signals it waits for before the broker starts its threads:
         * they inherit the mask, so the signals stay pending for sigwait()
         * here instead of killing the process in a librdkafka thread. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        if ((r = pthread_sigmask(SIG_BLOCK, &set, NULL))) {
                fprintf(stderr, "kbus broker: pthread_sigmask: %s\n",
                        strerror(r));
                goto done;
        }
        /* A reader that goes away after the first line must not kill us
         * with SIGPIPE on a later write. */
        signal(SIGPIPE, SIG_IGN);

        if ((r = kbus_broker_new(&br, n_brokers, errstr, sizeof(errstr)))) {
                fprintf(stderr, "kbus broker: %s (%s)\n", errstr,
                        kbus_status_name(r));
                goto done;
        }
        for (i = 0; i < n_topics; i++) {
                if ((r = kbus_broker_create_topic(br, topics[i], partitions))) {
                        fprintf(stderr,
                                "kbus broker: cannot create topic '%s': %s\n",
                                topics[i], kbus_strerror(r));
                        goto done;
                }
        }

        /* The contract with scripts: this line first, and at once. */
        if (printf("%s\n", kbus_broker_bootstrap(br)) < 0 ||
            fflush(stdout) != 0) {
                fprintf(stderr, "kbus broker: cannot write to stdout: %s\n",
                        strerror(errno));
                goto done;
        }

        if (ready_file &&
            write_ready_file(ready_file, kbus_broker_bootstrap(br)) != 0) {
                fprintf(stderr, "kbus broker: --ready-file %s: %s\n",
                        ready_file, strerror(errno));
                goto done;
        }

        fprintf(stderr, "kbus broker: %d broker%s listening on %s\n", n_brokers,
                n_brokers == 1 ? "" : "s", kbus_broker_bootstrap(br));
        for (i = 0; i < n_topics; i++)
                fprintf(stderr,
                        "kbus broker: created topic '%s' with %d "
                        "partition%s\n",
                        topics[i], partitions, partitions == 1 ? "" : "s");
        fprintf(stderr, "kbus broker: running; stop with SIGINT or SIGTERM\n");

        sig = wait_for_stop(&set, br);
        fprintf(stderr, "kbus broker: %s received, stopping\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        status = EXIT_SUCCESS;
        /* The broker is going: its address must not outlive it. */
        if (ready_file)
                unlink(ready_file);

done:
        kbus_broker_free(br);
        free(topics);
        return status;

usage_error:
        free(topics);
        return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* kbus version                                                        */
/* ------------------------------------------------------------------ */

static void version_usage(FILE *fp) {
        fprintf(fp, "Usage: kbus version\n"
                    "\n"
                    "Prints the versions of kbus and of the libraries it "
                    "runs on.\n");
}

static int cmd_version(int argc, char **argv) {
        if (argc == 2 &&
            (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
                version_usage(stdout);
                return EXIT_SUCCESS;
        }
        if (argc > 1) {
                fprintf(stderr, "kbus version: unexpected argument '%s'\n",
                        argv[1]);
                return EXIT_USAGE;
        }
        printf("kbus %s\nlibrdkafka %s\nlibevent %s\n", kbus_version(),
               rd_kafka_version_str(), event_get_version());
        return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The table, and main                                                 */
/* ------------------------------------------------------------------ */

struct subcommand {
        const char *name;
        const char *summary; /* one line for `kbus --help` */
        int (*run)(int argc, char **argv);
};

static const struct subcommand subcommands[] = {
    {"broker", "run an embedded Kafka broker on loopback", cmd_broker},
    {"call", "call a method with JSON, print the reply", kbus_tool_call},
    {"tail", "print the records of topics, decoded, as JSON lines",
     kbus_tool_tail},
    {"topics", "list, describe or create topics", kbus_tool_topics},
    {"groups", "consumer groups: members, offsets and lag", kbus_tool_groups},
    {"dlt", "show or replay dead-lettered records", kbus_tool_dlt},
    {"version", "print versions", cmd_version},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *fp) {
        size_t i;

        fprintf(fp, "Usage: kbus COMMAND [OPTIONS]\n"
                    "\n"
                    "Commands:\n");
        for (i = 0; i < N_SUBCOMMANDS; i++)
                fprintf(fp, "  %-10s %s\n", subcommands[i].name,
                        subcommands[i].summary);
        fprintf(fp, "\n"
                    "Run 'kbus COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
        size_t i;

        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
            !strcmp(argv[1], "help")) {
                usage(stdout);
                return EXIT_SUCCESS;
        }
        if (!strcmp(argv[1], "--version"))
                return cmd_version(1, argv + 1);

        for (i = 0; i < N_SUBCOMMANDS; i++)
                if (!strcmp(argv[1], subcommands[i].name))
                        return subcommands[i].run(argc - 1, argv + 1);

        fprintf(stderr, "kbus: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
}
