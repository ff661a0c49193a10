/*
 * log-collector: subscribes to logs.v1.LogLine and writes every line it
 * receives to one output, "SOURCE SEQ TEXT" per line, until SIGINT or
 * SIGTERM.
 *
 *   log-collector [-c FILE] [-o OUTPUT]
 *
 * Lines of different sources interleave in the output as they arrive; the
 * lines of one source come out in the order that source wrote them,
 * because they share a key.  The collector checks that order with the
 * sequence numbers and reports a gap or a line out of order on stderr
 * (a repeated line, after a redelivery, is dropped).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logs.kbus.h"
#include "table.h"

#define PROG "log-collector"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-o OUTPUT]\n"
                "Writes every logs.v1.LogLine to OUTPUT (default: standard "
                "output) as\n\"SOURCE SEQ TEXT\" until SIGINT or "
                "SIGTERM.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -o OUTPUT   append to this file\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

struct source {
        uint64_t last_seq;
};

struct collector {
        FILE *out;
        table *sources; /* name -> struct source */
};

static struct source *source_get(struct collector *co, const char *name) {
        struct source *src = table_get(co->sources, name);
        if (!src && (src = calloc(1, sizeof(*src))))
                table_put(co->sources, name, src);
        return src;
}

static void on_line(kbus_call *call, const Logs__V1__LogLine *ll, void *arg) {
        struct collector *co = arg;
        struct source *src = source_get(co, ll->source);

        if (!src) {
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        if (ll->seq <= src->last_seq) {
                kbus_call_ack(call);
                return;
        }
        if (ll->seq != src->last_seq + 1)
                fprintf(stderr,
                        PROG ": %s: line %" PRIu64 " follows line %" PRIu64
                             ": lines missing\n",
                        ll->source, ll->seq, src->last_seq);
        src->last_seq = ll->seq;
        fprintf(co->out, "%s %" PRIu64 " %s\n", ll->source, ll->seq, ll->text);
        /* Flushed per line so that a reader (tail -f, a test) sees each
         * line as soon as it is collected. */
        fflush(co->out);
        kbus_call_ack(call);
}

int main(int argc, char **argv) {
        static struct collector co;
        const char *file = NULL, *output = NULL;
        kbus_runtime *rt;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
                        output = argv[++i];
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        co.out = stdout;
        if (output && !(co.out = fopen(output, "a"))) {
                perror(output);
                return 1;
        }
        co.sources = table_new();
        if (kbus_runtime_new_from_file(&rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                if (co.out != stdout)
                        fclose(co.out);
                table_free(co.sources, free);
                return 1;
        }
        rc = logs_v1_log_line_subscribe(rt, NULL, on_line, &co);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        if (co.out != stdout)
                fclose(co.out);
        table_free(co.sources, free);
        return rc ? 1 : 0;
}
