/*
 * log-collector: subscribes to logs.v1.LogLine and writes the lines of
 * every file of every host into one output, "SOURCE SEQ LEVEL TEXT" per
 * line, each source's lines once and in order, until SIGINT or SIGTERM.
 *
 *   log-collector [-c FILE] [-b LIST] [-o OUTPUT]
 *
 * What it has written of each source (the last sequence number, and where
 * in the output) is kept in the kbus table "streams" (logs.proto,
 * StreamPosition), so it survives a crash with the consumer group's
 * offsets: a line redelivered after a restart is recognised as written,
 * and a gap is reported only when lines really are missing.
 *
 * The output is not part of the table's guarantee (docs/STATE.md): a
 * crash between writing a line and storing its table change would write
 * it twice when it comes again.  So the first line of a source after a
 * start looks in the output, from where the table says that source's last
 * line was, for lines of the source written after it; they count as
 * written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "logs.kbus.h"
#include "table.h"

#define PROG "log-collector"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-b LIST] [-o OUTPUT]\n"
                "Writes every logs.v1.LogLine to OUTPUT (default: standard "
                "output), one line\n\"SOURCE SEQ LEVEL TEXT\" each (SOURCE "
                "is HOST:FILE, with blanks, '%%' and control\ncharacters as "
                "%%XX; LEVEL is INFO, ERROR, ... or -), until SIGINT or "
                "SIGTERM.\nThe lines of one source come once and in order: "
                "a line it has already (a resend\nafter a shipper's crash, a "
                "redelivery after its own) is dropped, and lines\nmissing "
                "from a source are reported on standard error (\"... lines "
                "N-M missing\").\nWhat was written of each source is kept in "
                "the kbus table \"streams\" of the\nconsumer group "
                "(\"" PROG "\" unless -c says otherwise), so a restart "
                "after a crash\nwrites no line twice; for that, OUTPUT must "
                "be a file (-o).\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -b LIST     the brokers (default: $KBUS_BOOTSTRAP, else "
                "the -c file's)\n"
                "  -o OUTPUT   append to this file\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with `kbus "
                "broker`),\nKBUS_LOG_LEVEL.\n");
}

/* What this process knows a source has in the output beyond the table:
 * lines it wrote itself, or found there after a restart. */
struct mem {
        uint64_t seq; /* the last line of the source in the output; 0: none */
        uint64_t off; /* where it begins */
        bool warned;  /* an unmarked repeat was reported */
};

struct collector {
        kbus_runtime *rt;
        FILE *out;
        const char *output;
        char out_id[64];     /* "DEV:INODE", "" when not a file */
        uint64_t out_off;    /* the output's size as written */
        uint64_t start_size; /* its size at start */
        table *mem;          /* source -> struct mem */
        unsigned long long written, repeats, unmarked, gaps;
};

static const char *level_name(Logs__V1__Level l) {
        switch (l) {
        case LOGS__V1__LEVEL__LEVEL_TRACE:
                return "TRACE";
        case LOGS__V1__LEVEL__LEVEL_DEBUG:
                return "DEBUG";
        case LOGS__V1__LEVEL__LEVEL_INFO:
                return "INFO";
        case LOGS__V1__LEVEL__LEVEL_WARN:
                return "WARN";
        case LOGS__V1__LEVEL__LEVEL_ERROR:
                return "ERROR";
        case LOGS__V1__LEVEL__LEVEL_FATAL:
                return "FATAL";
        default:
                return "-";
        }
}

/* \p src as one word: blanks, '%' and control characters as %XX. */
static void escape(const char *src, char *out, size_t cap) {
        size_t o = 0;
        for (; *src && o + 4 < cap; src++) {
                unsigned char c = (unsigned char)*src;
                if (c <= ' ' || c == '%' || c == 0x7f)
                        o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
                else
                        out[o++] = (char)c;
        }
        out[o] = '\0';
}

/* Looks in the output written before this process started, from \p from,
 * for the lines of source \p word: the last one found goes to \p m. */
static void scan_output(struct collector *co, const char *word, uint64_t from,
                        struct mem *m) {
        FILE *fp = fopen(co->output, "r");
        size_t wlen = strlen(word), cap = 0;
        char *line = NULL;
        ssize_t len;
        uint64_t off = from;

        if (!fp)
                return;
        if (fseeko(fp, (off_t)from, SEEK_SET) == 0) {
                while (off < co->start_size &&
                       (len = getline(&line, &cap, fp)) > 0) {
                        uint64_t seq;
                        if ((size_t)len > wlen && !strncmp(line, word, wlen) &&
                            line[wlen] == ' ' &&
                            sscanf(line + wlen + 1, "%" SCNu64, &seq) == 1 &&
                            seq > m->seq) {
                                m->seq = seq;
                                m->off = off;
                        }
                        off += (uint64_t)len;
                }
        }
        free(line);
        fclose(fp);
}

static void on_line(kbus_call *call, const Logs__V1__LogLine *ll, void *arg) {
        struct collector *co = arg;
        Logs__V1__StreamPosition next = LOGS__V1__STREAM_POSITION__INIT;
        const Logs__V1__StreamPosition *cur = NULL;
        char word[1024];
        struct mem *m;
        uint64_t last, known, off;
        int rc, n;

        rc = logs_v1_stream_position_get(call, NULL, 0, &cur);
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
                return;
        }
        last = cur ? cur->last_seq : 0;
        escape(ll->source, word, sizeof(word));
        if (!(m = table_get(co->mem, ll->source))) {
                m = calloc(1, sizeof(*m));
                if (!m) {
                        kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                                       "out of memory");
                        return;
                }
                table_put(co->mem, ll->source, m);
                /* The first line of the source since the start: lines
                 * written by a process that crashed before their table
                 * changes were stored are in the output, after the one
                 * the table knows. */
                if (cur && co->out_id[0] && !strcmp(cur->output, co->out_id) &&
                    cur->output_offset < co->start_size) {
                        scan_output(co, word, cur->output_offset, m);
                        if (m->seq > cur->last_seq)
                                fprintf(stderr,
                                        PROG ": %s: lines up to %" PRIu64
                                             " are in the output already "
                                             "(written before a restart)\n",
                                        ll->source, m->seq);
                }
        }
        known = last > m->seq ? last : m->seq;
        next.output = co->out_id;
        if (ll->seq <= known) {
                if (ll->seq <= last) {
                        co->repeats++;
                        if (!ll->resent) {
                                co->unmarked++;
                                if (!m->warned)
                                        fprintf(stderr,
                                                PROG
                                                ": %s: line %" PRIu64
                                                " came again after line "
                                                "%" PRIu64
                                                " and is not marked resent: "
                                                "dropped (did the shipper "
                                                "lose its positions?)\n",
                                                ll->source, ll->seq, last);
                                m->warned = true;
                        }
                        kbus_call_ack(call);
                        return;
                }
                /* In the output already: only the table is behind. */
                next.last_seq = ll->seq;
                next.output_offset = ll->seq == m->seq ? m->off
                                     : cur             ? cur->output_offset
                                                       : 0;
                rc = logs_v1_stream_position_put(call, NULL, 0, &next);
                if (rc)
                        kbus_call_fail(call, KBUS_UNAVAILABLE,
                                       kbus_strerror(rc));
                else
                        kbus_call_ack(call);
                return;
        }
        if (ll->seq != known + 1) {
                co->gaps++;
                fprintf(stderr,
                        PROG ": %s: lines %" PRIu64 "-%" PRIu64
                             " missing (line %" PRIu64 " follows line %" PRIu64
                             ")\n",
                        ll->source, known + 1, ll->seq - 1, ll->seq, known);
        }
        off = co->out_off;
        n = fprintf(co->out, "%s %" PRIu64 " %s %s\n", word, ll->seq,
                    level_name(ll->level), ll->text);
        /* Flushed per line, so that a reader (tail -f, a test) sees each
         * line as soon as it is collected, and the scan after a crash
         * finds it. */
        if (n < 0 || fflush(co->out) != 0) {
                fprintf(stderr, PROG ": %s: %s\n",
                        co->output ? co->output : "standard output",
                        strerror(errno));
                kbus_call_fail(call, KBUS_UNAVAILABLE, "cannot write");
                return;
        }
        co->out_off += (uint64_t)n;
        co->written++;
        m->seq = ll->seq;
        m->off = off;
        next.last_seq = ll->seq;
        next.output_offset = off;
        rc = logs_v1_stream_position_put(call, NULL, 0, &next);
        if (rc)
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
        else
                kbus_call_ack(call);
}

static void say_ready(evutil_socket_t fd, short what, void *arg) {
        struct collector *co = arg;
        static bool said;
        if (!said && kbus_runtime_ready(co->rt)) {
                fprintf(stderr, PROG ": ready\n");
                said = true;
        }
}

int main(int argc, char **argv) {
        static struct collector co;
        const char *file = NULL;
        struct timeval every = {0, 100000};
        struct event *tick = NULL;
        struct stat st;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-b") && i + 1 < argc) {
                        setenv("KBUS_BOOTSTRAP", argv[++i], 1);
                } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
                        co.output = argv[++i];
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        co.out = stdout;
        if (co.output && !(co.out = fopen(co.output, "a"))) {
                perror(co.output);
                return 1;
        }
        if (fstat(fileno(co.out), &st) == 0 && S_ISREG(st.st_mode)) {
                snprintf(co.out_id, sizeof(co.out_id), "%ju:%ju",
                         (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
                co.out_off = co.start_size = (uint64_t)st.st_size;
        }
        if (!co.output)
                co.out_id[0] = '\0'; /* standard output: nothing to scan */
        co.mem = table_new();
        if (kbus_runtime_new_from_file(&co.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                if (co.out != stdout)
                        fclose(co.out);
                table_free(co.mem, free);
                return 1;
        }
        /* A broker inside this process would have no lines to give. */
        if (kbus_runtime_mock(co.rt)) {
                fprintf(stderr, PROG ": no broker: give -b LIST, "
                                     "KBUS_BOOTSTRAP or a -c file that sets "
                                     "bootstrap\n");
                kbus_runtime_free(co.rt);
                if (co.out != stdout)
                        fclose(co.out);
                table_free(co.mem, free);
                return 1;
        }
        rc = logs_v1_stream_position_attach(co.rt, NULL);
        if (!rc)
                rc = logs_v1_log_line_subscribe(co.rt, NULL, on_line, &co);
        tick = event_new(kbus_runtime_event_base(co.rt), -1, EV_PERSIST,
                         say_ready, &co);
        if (tick)
                event_add(tick, &every);
        if (!rc)
                rc = kbus_runtime_run(co.rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        if (tick)
                event_free(tick);
        kbus_runtime_free(co.rt);
        fprintf(stderr,
                PROG ": stopped: %llu lines written, %zu source%s seen, %llu "
                     "repeats dropped (%llu not marked resent), %llu gaps\n",
                co.written, table_count(co.mem),
                table_count(co.mem) == 1 ? "" : "s", co.repeats, co.unmarked,
                co.gaps);
        if (co.out != stdout)
                fclose(co.out);
        table_free(co.mem, free);
        return rc ? 1 : 0;
}
