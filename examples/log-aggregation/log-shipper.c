/*
 * log-shipper: reads log lines from standard input (or a file) and
 * publishes each as a logs.v1.LogLine event of one source, numbered from 1,
 * until end of input.
 *
 *   some-program 2>&1 | log-shipper [-c FILE] -s SOURCE
 *   log-shipper [-c FILE] -s SOURCE -f LOGFILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logs.kbus.h"

#define PROG "log-shipper"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] -s SOURCE [-f LOGFILE]\n"
                "Publishes each line of LOGFILE (default: standard input) "
                "as a logs.v1.LogLine\nof SOURCE, waits until each is "
                "stored or has finally failed, then exits:\n0 when every "
                "line was stored, 1 otherwise.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -s SOURCE   the name of the process whose log this is\n"
                "  -f LOGFILE  read this file instead of standard input\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* What the broker did with the lines. */
static struct {
        unsigned long long delivered, failed;
        char why[128];
} tally;

static void on_delivery(kbus_status status, const char *message, void *arg) {
        if (status == KBUS_OK) {
                tally.delivered++;
                return;
        }
        tally.failed++;
        snprintf(tally.why, sizeof(tally.why), "%s", message);
        fprintf(stderr, PROG ": a line was not shipped: %s\n", message);
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
        const char *file = NULL, *source = NULL, *logfile = NULL;
        kbus_runtime *rt;
        char err[512];
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        uint64_t seq = 0;
        FILE *in = stdin;
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
                        source = argv[++i];
                } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
                        logfile = argv[++i];
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (!source || !source[0]) {
                fprintf(stderr, PROG ": -s SOURCE is required\n");
                usage(stderr);
                return 2;
        }
        if (logfile && !(in = fopen(logfile, "r"))) {
                perror(logfile);
                return 1;
        }
        if (kbus_runtime_new_from_file(&rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                if (in != stdin)
                        fclose(in);
                return 1;
        }
        /* Lines are queued as they are read and confirmed one by one; the
         * loop need not run: kbus_runtime_flush() waits for the producer
         * (when its queue is full, and at the end) and runs the callbacks.
         * The producer keeps one partition's records in order, so the
         * source's lines reach the topic in the order they were read. */
        while ((len = getline(&line, &cap, in)) >= 0) {
                Logs__V1__LogLine ll = LOGS__V1__LOG_LINE__INIT;
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                ll.source = (char *)source;
                ll.seq = ++seq;
                ll.time_ms = now_ms();
                ll.text = line;
                /* A full queue (the broker slow or away) waits; it does not
                 * drop the line. */
                while ((rc = logs_v1_log_line_publish_confirmed(
                            rt, &ll, on_delivery, NULL)) ==
                       KBUS_RESOURCE_EXHAUSTED)
                        kbus_runtime_flush(rt, 100);
                if (rc) /* too large, say: that line only */
                        on_delivery(rc, kbus_strerror(rc), NULL);
        }
        free(line);
        if (in != stdin)
                fclose(in);
        kbus_runtime_flush(rt, -1); /* until delivered or timed out */
        kbus_runtime_free(rt);
        fprintf(stderr, PROG ": %llu lines shipped", tally.delivered);
        if (tally.failed)
                fprintf(stderr, ", %llu not shipped (%s)", tally.failed,
                        tally.why);
        fputc('\n', stderr);
        rc = tally.failed || tally.delivered != seq;
        return rc ? 1 : 0;
}
