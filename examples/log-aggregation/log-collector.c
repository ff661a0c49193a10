/*
 * log-collector: subscribes to logs.v1.LogLine and writes the lines of
 * every file of every host into one output, "SOURCE SEQ LEVEL TEXT" per
 * line, each source's lines once and in order, until SIGINT or SIGTERM;
 * and counts each source's lines by level per minute of their logged time,
 * publishing a logs.v1.ErrorCount per source and minute once the minute
 * has closed.
 *
 *   log-collector [-c FILE] [-b LIST] [-o OUTPUT] [-g GRACE_MS] [-r MS]
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
 * start, or after the source was another collector's, looks in the
 * output, from where the table says that source's last line was, for
 * lines of the source written after it; they count as written.  Each line
 * goes out in one write(2) in append mode, so that collectors of one host
 * may share an output file and find there what another one wrote.
 *
 * The counts are a kbus window ("errors_per_minute": one minute, tumbling,
 * by the line's logged_ms) fed with each line when it is first taken, the
 * decision that writes it: a line sent again after a shipper's crash,
 * which the table has already, is not counted again.  The window and the
 * table change with one call, so a crash keeps both or neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "logs.kbus.h"
#include "table.h"

#define PROG "log-collector"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-b LIST] [-o OUTPUT] [-g GRACE_MS] "
                "[-r MS]\n"
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
                "(\"" PROG "\" unless -c says otherwise), so a restart\n"
                "after a crash writes no line twice; for that, OUTPUT must be "
                "a file (-o).\nCollectors of one group on one host may append "
                "to one OUTPUT.\n\n"
                "It counts each source's lines per minute of their logged "
                "time (logged_ms, else\ntime_ms): errors (ERROR, FATAL), "
                "warnings (WARN) and all lines.  Once a minute\nhas closed (a "
                "later line of its partition is GRACE_MS past its end) it\n"
                "publishes a logs.v1.ErrorCount and prints \"minute TIME "
                "SOURCE: ...\" on standard\nerror.  A line later still is "
                "counted into its minute, published again with\nthe next "
                "revision, while the minute is kept (-r); one later than "
                "that is\nwritten but not counted, and said so.  The counts "
                "live in the window table\n\"errors_per_minute\" of the group, "
                "restored after a crash like \"streams\".\n\n"
                "  -c FILE      kbus configuration file (libconfig format)\n"
                "  -b LIST      the brokers (default: $KBUS_BOOTSTRAP, else "
                "the -c file's)\n"
                "  -o OUTPUT    append to this file\n"
                "  -g GRACE_MS  how long a minute waits for late lines "
                "(default 10000)\n"
                "  -r MS        how long a closed minute is kept for later "
                "lines (default 600000)\n"
                "  -h, --help   this help\n\n"
                "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with `kbus "
                "broker`),\nKBUS_LOG_LEVEL.\n");
}

/* What this process knows a source has in the output beyond the table:
 * lines it wrote itself, or found there. */
struct mem {
        uint64_t seq; /* the last line of the source in the output; 0: none */
        uint64_t off; /* where it begins */
        /* The last_seq this process last wrote into the table for the
         * source.  The table holds another when the source was another
         * collector's meanwhile, or when a call of ours that wrote a line
         * failed: then the output is looked at again. */
        uint64_t put;
        bool warned; /* an unmarked repeat was reported */
};

struct collector {
        kbus_runtime *rt;
        int fd;             /* the output */
        const char *output; /* its name; NULL: standard output */
        char out_id[64];    /* "DEV:INODE", "" when it cannot be read back */
        char *buf;          /* one line of output */
        size_t cap;
        kbus_window *window; /* "errors_per_minute" */
        table *mem;          /* source -> struct mem */
        unsigned long long written, repeats, unmarked, gaps;
        unsigned long long minutes, updates, not_counted;
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

/* \p src (\p len bytes) as one word: blanks, '%' and control characters
 * as %XX. */
static void escape(const char *src, size_t len, char *out, size_t cap) {
        size_t o = 0;
        for (size_t i = 0; i < len && o + 4 < cap; i++) {
                unsigned char c = (unsigned char)src[i];
                if (c <= ' ' || c == '%' || c == 0x7f)
                        o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
                else
                        out[o++] = (char)c;
        }
        out[o] = '\0';
}

static const char *minute_name(int64_t ms, char buf[32]) {
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%MZ", &tm);
        return buf;
}

/* ---- the output ---- */

/* Looks in the output, from \p from to its end, for the lines of source
 * \p word: the last one found goes to \p m.  Lines that other collectors
 * append meanwhile are of other sources: a source is one collector's at a
 * time. */
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
                while ((len = getline(&line, &cap, fp)) > 0) {
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

/* Appends the line to the output in one write(2), so that collectors
 * sharing the output never mix their lines, and sets *\p off to where it
 * begins.  (A write cut short, by a full disk, goes on with a second one;
 * the line may then be split, and the error is reported anyway.) */
static int write_line(struct collector *co, const char *word,
                      const Logs__V1__LogLine *ll, uint64_t *off) {
        size_t need = strlen(word) + strlen(ll->text) + 64, done = 0;
        int n;

        if (need > co->cap) {
                char *b = realloc(co->buf, need);
                if (!b) {
                        errno = ENOMEM;
                        return -1;
                }
                co->buf = b;
                co->cap = need;
        }
        n = snprintf(co->buf, co->cap, "%s %" PRIu64 " %s %s\n", word, ll->seq,
                     level_name(ll->level), ll->text);
        while (done < (size_t)n) {
                ssize_t w = write(co->fd, co->buf + done, (size_t)n - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                done += (size_t)w;
        }
        *off = 0;
        if (co->out_id[0]) {
                /* In append mode the offset is the end of what was just
                 * written, whatever others appended before it. */
                off_t end = lseek(co->fd, 0, SEEK_CUR);
                if (end < n)
                        return -1;
                *off = (uint64_t)end - (uint64_t)n;
        }
        return 0;
}

/* ---- the counts ---- */

/* The window's aggregate: one more line of the source in the minute.  A
 * line shipped in pieces counts once, at its last piece. */
static int add_line(ProtobufCMessage *value, const ProtobufCMessage *input,
                    void *arg) {
        Logs__V1__LevelCounts *c = (Logs__V1__LevelCounts *)value;
        const Logs__V1__LogLine *ll = (const Logs__V1__LogLine *)input;
        (void)arg;
        if (ll->continued)
                return 0;
        c->lines++;
        if (ll->level >= LOGS__V1__LEVEL__LEVEL_ERROR)
                c->errors++;
        else if (ll->level == LOGS__V1__LEVEL__LEVEL_WARN)
                c->warnings++;
        return 0;
}

/* A closed minute of one source, or one that late lines changed: its
 * counts go out with the call. */
static int emit_minute(kbus_call *call, const void *key, size_t len,
                       int64_t start_ms, int64_t end_ms,
                       const ProtobufCMessage *value, uint32_t revision,
                       void *arg) {
        struct collector *co = arg;
        const Logs__V1__LevelCounts *c = (const Logs__V1__LevelCounts *)value;
        Logs__V1__ErrorCount out = LOGS__V1__ERROR_COUNT__INIT;
        char *source = malloc(len + 1), word[1024], when[32];
        int rc;

        (void)end_ms;
        if (!source)
                return KBUS_RESOURCE_EXHAUSTED;
        memcpy(source, key, len);
        source[len] = '\0';
        out.source = source;
        out.minute_ms = start_ms;
        out.errors = c->errors;
        out.warnings = c->warnings;
        out.lines = c->lines;
        out.revision = revision;
        rc = logs_v1_error_count_publish_from(call, &out);
        free(source);
        if (rc)
                return rc;
        escape(key, len, word, sizeof(word));
        fprintf(stderr,
                PROG ": minute %s %s: %" PRIu64 " errors, %" PRIu64
                     " warnings, %" PRIu64 " lines%s\n",
                minute_name(start_ms, when), word, c->errors, c->warnings,
                c->lines, revision ? " (again: a late line changed it)" : "");
        if (revision)
                co->updates++;
        else
                co->minutes++;
        return 0;
}

/* Counts line \p ll into its minute: by logged_ms, by time_ms when the
 * shipper knew no logged time.  A line too late even for the kept minutes
 * is written all the same, and said so: only its count is refused. */
static int count_line(struct collector *co, kbus_call *call,
                      const Logs__V1__LogLine *ll) {
        Logs__V1__LogLine timed = *ll; /* shallow: only read */
        char when[32];
        int rc;

        if (!timed.logged_ms)
                timed.logged_ms = ll->time_ms;
        if (!timed.logged_ms) {
                co->not_counted++;
                fprintf(stderr,
                        PROG ": %s: line %" PRIu64
                             " has no time: written, not counted\n",
                        ll->source, ll->seq);
                return 0;
        }
        rc = kbus_window_add(call, co->window, &timed.base, co);
        if (rc == KBUS_OUT_OF_RANGE) {
                co->not_counted++;
                fprintf(stderr,
                        PROG ": %s: line %" PRIu64 " of minute %s came after "
                             "the minute was closed and let go: written, not "
                             "counted\n",
                        ll->source, ll->seq,
                        minute_name(timed.logged_ms, when));
                return 0;
        }
        return rc;
}

/* ---- lines ---- */

static void on_line(kbus_call *call, const Logs__V1__LogLine *ll, void *arg) {
        struct collector *co = arg;
        Logs__V1__StreamPosition next = LOGS__V1__STREAM_POSITION__INIT;
        const Logs__V1__StreamPosition *cur = NULL;
        char word[1024];
        struct mem *m;
        uint64_t last, known;
        bool fresh = false;
        int rc;

        rc = logs_v1_stream_position_get(call, NULL, 0, &cur);
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
                return;
        }
        last = cur ? cur->last_seq : 0;
        escape(ll->source, strlen(ll->source), word, sizeof(word));
        if (!(m = table_get(co->mem, ll->source))) {
                m = calloc(1, sizeof(*m));
                if (!m) {
                        kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED,
                                       "out of memory");
                        return;
                }
                table_put(co->mem, ll->source, m);
                fresh = true;
        }
        /* The first line of the source here, or the table went on without
         * us: lines written by a process that died (or a call that failed)
         * before their table changes were stored are in the output, after
         * the one the table knows. */
        if (fresh || m->put != last) {
                m->seq = m->off = 0;
                m->put = last;
                if (cur && co->out_id[0] && !strcmp(cur->output, co->out_id)) {
                        scan_output(co, word, cur->output_offset, m);
                        if (m->seq > last)
                                fprintf(stderr,
                                        PROG ": %s: lines up to %" PRIu64
                                             " are in the output already "
                                             "(written before their table "
                                             "change was stored)\n",
                                        ll->source, m->seq);
                }
        }
        known = last > m->seq ? last : m->seq;
        if (ll->seq <= last) {
                co->repeats++;
                if (!ll->resent) {
                        co->unmarked++;
                        if (!m->warned)
                                fprintf(stderr,
                                        PROG ": %s: line %" PRIu64
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
        if (ll->seq <= known) {
                /* In the output already: only the table and the window
                 * are behind. */
                next.output_offset = ll->seq == m->seq ? m->off
                                     : cur             ? cur->output_offset
                                                       : 0;
        } else {
                if (ll->seq != known + 1) {
                        co->gaps++;
                        fprintf(stderr,
                                PROG ": %s: lines %" PRIu64 "-%" PRIu64
                                     " missing (line %" PRIu64
                                     " follows line %" PRIu64 ")\n",
                                ll->source, known + 1, ll->seq - 1, ll->seq,
                                known);
                }
                if (write_line(co, word, ll, &next.output_offset)) {
                        fprintf(stderr, PROG ": %s: %s\n",
                                co->output ? co->output : "standard output",
                                strerror(errno));
                        kbus_call_fail(call, KBUS_UNAVAILABLE, "cannot write");
                        return;
                }
                co->written++;
                m->seq = ll->seq;
                m->off = next.output_offset;
        }
        /* Counted with the table change that says the line was taken: a
         * redelivery after a crash finds both, or neither. */
        if ((rc = count_line(co, call, ll))) {
                kbus_call_fail(call, rc, "counting a line");
                return;
        }
        next.output = co->out_id;
        next.last_seq = ll->seq;
        rc = logs_v1_stream_position_put(call, NULL, 0, &next);
        if (rc) {
                kbus_call_fail(call, KBUS_UNAVAILABLE, kbus_strerror(rc));
                return;
        }
        m->put = ll->seq;
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

static int number(const char *opt, const char *s, int64_t *out) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0) {
                fprintf(stderr,
                        PROG ": %s needs a number of milliseconds >= 0\n", opt);
                return -1;
        }
        *out = v;
        return 0;
}

int main(int argc, char **argv) {
        static struct collector co;
        kbus_window_desc window = {
            .name = "errors_per_minute",
            .value = &logs__v1__level_counts__descriptor,
            .size_ms = 60000,
            .grace_ms = 10000,
            .time_field = "logged_ms",
            .late = KBUS_WINDOW_LATE_UPDATE,
            .retain_ms = 600000,
            .add = add_line,
            .emit = emit_minute,
        };
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
                } else if (!strcmp(argv[i], "-g") && i + 1 < argc) {
                        if (number("-g", argv[++i], &window.grace_ms))
                                return 2;
                } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
                        if (number("-r", argv[++i], &window.retain_ms))
                                return 2;
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        co.fd = STDOUT_FILENO;
        if (co.output &&
            (co.fd = open(co.output, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                          0644)) < 0) {
                perror(co.output);
                return 1;
        }
        /* Standard output cannot be read back, even when it is a file. */
        if (co.output && fstat(co.fd, &st) == 0 && S_ISREG(st.st_mode))
                snprintf(co.out_id, sizeof(co.out_id), "%ju:%ju",
                         (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
        co.mem = table_new();
        if (kbus_runtime_new_from_file(&co.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                rc = 1;
                goto out;
        }
        /* A broker inside this process would have no lines to give. */
        if (kbus_runtime_mock(co.rt)) {
                fprintf(stderr, PROG ": no broker: give -b LIST, "
                                     "KBUS_BOOTSTRAP or a -c file that sets "
                                     "bootstrap\n");
                kbus_runtime_free(co.rt);
                rc = 1;
                goto out;
        }
        rc = logs_v1_stream_position_attach(co.rt, NULL);
        if (!rc)
                rc = kbus_window_attach(co.rt, &window, NULL, &co.window);
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
                     "repeats dropped (%llu not marked resent), %llu gaps; "
                     "%llu minutes counted, %llu updated by late lines, %llu "
                     "lines not counted\n",
                co.written, table_count(co.mem),
                table_count(co.mem) == 1 ? "" : "s", co.repeats, co.unmarked,
                co.gaps, co.minutes, co.updates, co.not_counted);
        rc = rc ? 1 : 0;
out:
        if (co.fd != STDOUT_FILENO)
                close(co.fd);
        table_free(co.mem, free);
        free(co.buf);
        return rc;
}
