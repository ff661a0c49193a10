/*
 * log-shipper: follows log files the way `tail -F` does and publishes each
 * line as a logs.v1.LogLine event (host, file, sequence number, level,
 * the time the line says it was logged),
 * keeping in a position file where each file was read to, so that a
 * restart, even after SIGKILL, neither loses nor repeats a line.
 *
 *   log-shipper [OPTIONS] -p POSITIONS FILE...
 *
 * The flow, on one libevent loop:
 *   - a timer looks at every file (follow_check: rotation, truncation)
 *     and then reads lines while fewer than --max-in-flight are on their
 *     way; each line is published with kbus_publish_confirmed();
 *   - each delivery report marks its line delivered; a file's position
 *     moves past a line only once it and every line before it of that file
 *     are delivered; the room it frees lets reading go on;
 *   - the position file is rewritten when positions moved (at most once a
 *     poll), and, before a line beyond the last reservation goes out, with
 *     a new reservation: after a crash, the lines from the saved position
 *     up to the reservation are sent again marked `resent`, the only lines
 *     that may have reached the broker already.
 * A broker outage stops nothing but the delivery reports: reading stops
 * when the bound is reached, and memory with it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "follow.h"
#include "logs.kbus.h"
#include "positions.h"
#include "timestamp.h"

#define PROG "log-shipper"

static void usage(FILE *out) {
        fprintf(
            out,
            "usage: " PROG " [OPTIONS] -p POSITIONS FILE...\n"
            "Follows each FILE the way `tail -F` does, across rotation "
            "(rename and a new\nfile) and truncation (copytruncate), and "
            "publishes each line as a\nlogs.v1.LogLine event with this "
            "host's name, the FILE, a sequence number per\nFILE (from 1, "
            "continuing across rotations) and the level the line names, "
            "if\nany.  Where each FILE was read to is kept in POSITIONS, "
            "moved only past lines\nthe broker has stored: a restart, even "
            "after a crash, resumes there; lines\nthat may have been sent "
            "before the crash go out again marked `resent`.\nWhile the broker "
            "is away, at most --max-in-flight lines wait in memory and\n"
            "reading pauses.  SIGTERM or SIGINT: stop reading, wait up to "
            "--grace-ms for\nthe lines on their way, save the positions, "
            "print a summary, exit 0.\n\n"
            "  -p, --positions FILE    the position file (required); "
            "created if missing\n"
            "  -H, --host NAME         the host named in each line "
            "(default: this host's name)\n"
            "      --once              ship what the files hold now, then "
            "exit: 0 when every\n"
            "                          line was delivered\n"
            "  -n, --max-in-flight N   lines sent and not yet confirmed, at "
            "most (default 1000)\n"
            "      --poll-ms MS        how often the files are looked at "
            "(default 250)\n"
            "      --rotate-wait-ms MS how long a rotated file must stay "
            "unchanged before it\n"
            "                          is closed (default 1000)\n"
            "      --grace-ms MS       how long a stop waits for lines in "
            "flight (default 10000)\n"
            "  -c, --config FILE       kbus configuration file (libconfig "
            "format)\n"
            "  -b, --bootstrap LIST    the brokers (default: $KBUS_BOOTSTRAP, "
            "else the -c file's)\n"
            "  -X, --property NAME=VALUE\n"
            "                          a librdkafka property of the "
            "producer; repeatable\n"
            "  -h, --help              this help\n\n"
            "Levels: TRACE, DEBUG, INFO (NOTICE), WARN (WARNING), ERROR "
            "(ERR), FATAL (CRIT,\nCRITICAL, ALERT, EMERG, PANIC), in any "
            "case, as a word among the first 128\nbytes of the line "
            "(\"2024-05-01 12:00:00 ERROR ...\", \"[warn]\", "
            "\"level=info\").\nA line longer than %d bytes is shipped in "
            "pieces (`continued`),\neach with the line's level and time; "
            "bytes that are not UTF-8 go as '?'.\nLines are never given up: "
            "the producer's message.timeout.ms is 0 (no limit)\nunless -c or "
            "-X sets it; a line that finally fails stops the shipper (exit "
            "1)\nwith its position before that line.\n\n"
            "Times: a line that starts with one (\"2024-05-01T12:00:00.123Z\","
            "\n\"2024-05-01 12:00:00,123\", \"[2024-05-01 12:00:00+02:00]\"; "
            "UTC when no zone is\nnamed) is shipped with it as logged_ms; "
            "one without takes the time of the\nfile's line before it.\n\n"
            "Environment: KBUS_BOOTSTRAP, KBUS_LOW_LATENCY=1 (with `kbus "
            "broker`),\nKBUS_LOG_LEVEL.\n",
            FOLLOW_MAX_LINE);
}

struct logfile;

/* A line on its way to the broker. */
struct sent {
        struct logfile *lf;
        follow_pos start; /* where it begins */
        uint64_t seq;
        bool done, failed;
};

struct shipper;

/* One file followed by name. */
struct logfile {
        struct shipper *sh;
        char *name, *source;
        follow *fw;
        uint64_t seq;       /* of the next line read */
        uint64_t sent;      /* the reservation in the position file */
        uint64_t resend_hi; /* lines up to this one go out marked resent */
        uint64_t published_hi;
        /* The line being shipped in pieces: its level and time go with
         * every piece.  logged_ms is the last time a line named, which a
         * line naming none takes. */
        bool in_line;
        Logs__V1__Level level;
        int64_t logged_ms;
        struct sent *ring; /* lines on their way, oldest first */
        size_t head, n;
        unsigned long long read, shipped;
};

struct shipper {
        kbus_runtime *rt;
        struct event_base *base;
        struct event *tick, *pump, *grace, *sig_int, *sig_term;
        const char *positions, *host;
        struct logfile *files;
        size_t turn; /* the file whose turn it is to be read */
        size_t n_files;
        position *others; /* saved positions of files not followed now */
        size_t n_others;
        size_t max_in_flight, in_flight;
        int64_t full_since; /* when reading stopped for want of room */
        bool full_said;
        int poll_ms, rotate_wait_ms, grace_ms;
        bool once, stopping, failed, dirty, save_failed;
        unsigned long long undelivered;
        char text[FOLLOW_MAX_LINE + 1];
};

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- lines ---- */

static const struct {
        const char *word;
        Logs__V1__Level level;
} level_words[] = {
    {"trace", LOGS__V1__LEVEL__LEVEL_TRACE},
    {"debug", LOGS__V1__LEVEL__LEVEL_DEBUG},
    {"info", LOGS__V1__LEVEL__LEVEL_INFO},
    {"notice", LOGS__V1__LEVEL__LEVEL_INFO},
    {"warn", LOGS__V1__LEVEL__LEVEL_WARN},
    {"warning", LOGS__V1__LEVEL__LEVEL_WARN},
    {"error", LOGS__V1__LEVEL__LEVEL_ERROR},
    {"err", LOGS__V1__LEVEL__LEVEL_ERROR},
    {"fatal", LOGS__V1__LEVEL__LEVEL_FATAL},
    {"crit", LOGS__V1__LEVEL__LEVEL_FATAL},
    {"critical", LOGS__V1__LEVEL__LEVEL_FATAL},
    {"alert", LOGS__V1__LEVEL__LEVEL_FATAL},
    {"emerg", LOGS__V1__LEVEL__LEVEL_FATAL},
    {"panic", LOGS__V1__LEVEL__LEVEL_FATAL},
};

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The first word among the first 128 bytes that names a level. */
static Logs__V1__Level parse_level(const char *s, size_t len) {
        size_t i = 0, end = len < 128 ? len : 128;
        while (i < end) {
                size_t j = i;
                if (!is_alpha(s[i])) {
                        i++;
                        continue;
                }
                while (j < len && is_alpha(s[j]))
                        j++;
                for (size_t k = 0;
                     k < sizeof(level_words) / sizeof(level_words[0]); k++)
                        if (strlen(level_words[k].word) == j - i &&
                            !strncasecmp(s + i, level_words[k].word, j - i))
                                return level_words[k].level;
                i = j;
        }
        return LOGS__V1__LEVEL__LEVEL_UNSPECIFIED;
}

/* The length of the valid UTF-8 sequence at \p s (\p n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        size_t len, i;
        uint32_t c;
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2, c = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3, c = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4, c = s[0] & 0x07;
        else
                return 0;
        if (n < len)
                return 0;
        for (i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
            (len == 4 && (c < 0x10000 || c > 0x10ffff)))
                return 0;
        return len;
}

/* The line as a proto3 string: valid UTF-8, no NUL, no trailing CR. */
static const char *clean_text(struct shipper *sh, const char *line,
                              size_t len) {
        size_t i = 0, o = 0;
        if (len > 0 && line[len - 1] == '\r')
                len--;
        while (i < len) {
                size_t k =
                    line[i] ? utf8_len((const unsigned char *)line + i, len - i)
                            : 0;
                if (k == 0) {
                        sh->text[o++] = '?';
                        i++;
                } else {
                        memcpy(sh->text + o, line + i, k);
                        o += k;
                        i += k;
                }
        }
        sh->text[o] = '\0';
        return sh->text;
}

/* ---- positions ---- */

/* Where \p lf is to be resumed: the first line not known delivered. */
static void position_of(const struct logfile *lf, position *p) {
        p->file = lf->name;
        p->sent = lf->sent;
        if (lf->n) {
                const struct sent *e = &lf->ring[lf->head];
                p->at = e->start;
                p->seq = e->seq;
        } else {
                follow_where(lf->fw, &p->at);
                p->seq = lf->seq;
        }
}

static int save_positions(struct shipper *sh) {
        size_t n = sh->n_files + sh->n_others;
        position *all = calloc(n ? n : 1, sizeof(*all));
        char err[512];
        int rc;

        if (!all) {
                fprintf(stderr, PROG ": %s: out of memory\n", sh->positions);
                return -1;
        }
        for (size_t i = 0; i < sh->n_files; i++)
                position_of(&sh->files[i], &all[i]);
        for (size_t i = 0; i < sh->n_others; i++)
                all[sh->n_files + i] = sh->others[i];
        rc = positions_save(sh->positions, all, n, err, sizeof(err));
        free(all);
        if (rc) {
                if (!sh->save_failed)
                        fprintf(stderr, PROG ": cannot save positions: %s\n",
                                err);
                sh->save_failed = true;
                return -1;
        }
        if (sh->save_failed)
                fprintf(stderr, PROG ": positions saved again\n");
        sh->save_failed = false;
        sh->dirty = false;
        return 0;
}

/* ---- shipping ---- */

static void begin_stop(struct shipper *sh);

static void on_delivered(kbus_status status, const char *message, void *arg) {
        struct sent *e = arg;
        struct logfile *lf = e->lf;
        struct shipper *sh = lf->sh;

        sh->in_flight--;
        sh->full_since = 0;
        if (sh->full_said) {
                fprintf(stderr, PROG ": deliveries resumed\n");
                sh->full_said = false;
        }
        if (status == KBUS_OK) {
                e->done = true;
                lf->shipped++;
        } else {
                e->failed = true;
                sh->undelivered++;
                /* At a stop, lines still queued are dropped: the next start
                 * sends them again.  Otherwise a line the producer gave up
                 * on stops us: skipping it would lose it, and sending it
                 * again could put it after the lines behind it. */
                if (!sh->stopping) {
                        fprintf(stderr,
                                PROG ": %s: line %" PRIu64
                                     " was not delivered (%s): stopping; "
                                     "the next start sends it again\n",
                                lf->name, e->seq,
                                message ? message : kbus_status_name(status));
                        sh->failed = true;
                        begin_stop(sh);
                }
        }
        /* The position moves past delivered lines only, in order. */
        while (lf->n && lf->ring[lf->head].done) {
                lf->head = (lf->head + 1) % sh->max_in_flight;
                lf->n--;
                sh->dirty = true;
        }
        if (sh->stopping) {
                if (sh->in_flight == 0 && sh->grace)
                        event_base_loopexit(sh->base, NULL);
        } else {
                event_active(sh->pump, EV_TIMEOUT, 0);
        }
}

/* Publishes the next line of \p lf; returns 1 when it did, 0 when there
 * was none or no room, -1 when the shipper must stop. */
static int ship_one(struct shipper *sh, struct logfile *lf, int64_t now) {
        Logs__V1__LogLine ll = LOGS__V1__LOG_LINE__INIT;
        const char *line;
        size_t len;
        bool continued;
        follow_pos start;
        struct sent *e;
        int rc;

        /* Delivered lines wait in the ring behind an older one that is
         * not: the ring, too, must have room. */
        if (lf->n >= sh->max_in_flight ||
            !follow_next(lf->fw, now, sh->once, &line, &len, &continued,
                         &start))
                return 0;
        /* Before a line past the reservation goes out, a new one is saved:
         * after a crash, every line that may have been sent is known. */
        if (lf->seq > lf->sent) {
                lf->sent = lf->seq + sh->max_in_flight - 1;
                if (save_positions(sh)) {
                        fprintf(stderr, PROG ": stopping: without a saved "
                                             "position no line may be sent\n");
                        sh->failed = true;
                        return -1;
                }
        }
        ll.source = lf->source;
        ll.host = (char *)sh->host;
        ll.file = lf->name;
        ll.seq = lf->seq;
        ll.time_ms = wall_ms();
        ll.level = lf->level;
        ll.logged_ms = lf->logged_ms;
        if (!lf->in_line) {
                ll.level = parse_level(line, len);
                timestamp_parse(line, len, &ll.logged_ms);
        }
        ll.text = (char *)clean_text(sh, line, len);
        ll.resent = lf->seq <= lf->resend_hi;
        ll.continued = continued;
        e = &lf->ring[(lf->head + lf->n) % sh->max_in_flight];
        *e = (struct sent){.lf = lf, .start = start, .seq = lf->seq};
        rc = logs_v1_log_line_publish_confirmed(sh->rt, &ll, on_delivered, e);
        if (rc == KBUS_RESOURCE_EXHAUSTED)
                return 0; /* the producer is full: after the next report */
        if (rc) {
                fprintf(stderr,
                        PROG ": %s: line %" PRIu64 " cannot be sent: %s\n",
                        lf->name, lf->seq, kbus_strerror(rc));
                sh->failed = true;
                return -1;
        }
        follow_consume(lf->fw);
        lf->in_line = continued;
        lf->level = ll.level;
        lf->logged_ms = ll.logged_ms;
        lf->n++;
        lf->read++;
        lf->published_hi = lf->seq++;
        sh->in_flight++;
        return 1;
}

/* Reads and publishes lines of every file, a few of each in turn, while
 * there is room. */
static void pump(evutil_socket_t fd, short what, void *arg) {
        struct shipper *sh = arg;
        int64_t now = mono_ms();
        bool progress = true;

        while (!sh->stopping && progress && sh->in_flight < sh->max_in_flight) {
                size_t first = sh->turn;
                progress = false;
                /* Taking turns where the last pump stopped: room frees a
                 * few lines at a time, and starting at the first file
                 * every time would let it run ahead of the others.  (Files
                 * far apart in time make lines late in the collector's
                 * windows, which their partitions share.) */
                for (size_t i = 0;
                     i < sh->n_files && sh->in_flight < sh->max_in_flight;
                     i++) {
                        size_t j = (first + i) % sh->n_files;
                        struct logfile *lf = &sh->files[j];
                        sh->turn = (j + 1) % sh->n_files;
                        for (int k = 0;
                             k < 64 && sh->in_flight < sh->max_in_flight; k++) {
                                int r = ship_one(sh, lf, now);
                                if (r < 0) {
                                        begin_stop(sh);
                                        return;
                                }
                                if (r == 0)
                                        break;
                                progress = true;
                        }
                }
        }
        if (sh->in_flight >= sh->max_in_flight && !sh->full_since)
                sh->full_since = now;
        if (sh->once && !sh->stopping && !progress && sh->in_flight == 0)
                begin_stop(sh); /* all there was is delivered */
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
        struct shipper *sh = arg;
        int64_t now = mono_ms();
        for (size_t i = 0; i < sh->n_files; i++)
                follow_check(sh->files[i].fw, now);
        if (sh->full_since && !sh->full_said && now - sh->full_since >= 2000) {
                fprintf(stderr,
                        PROG ": %zu lines on their way and none confirmed "
                             "for 2 s: reading paused until the broker "
                             "confirms some\n",
                        sh->in_flight);
                sh->full_said = true;
        }
        if (sh->dirty)
                save_positions(sh);
        pump(-1, 0, sh);
}

static void on_grace(evutil_socket_t fd, short what, void *arg) {
        struct shipper *sh = arg;
        fprintf(stderr,
                PROG ": %zu lines still on their way after %d ms: they are "
                     "sent again at the next start\n",
                sh->in_flight, sh->grace_ms);
        event_base_loopexit(sh->base, NULL);
}

/* Stops reading; leaves the loop once the lines on their way are
 * delivered, or after --grace-ms. */
static void begin_stop(struct shipper *sh) {
        struct timeval tv = {sh->grace_ms / 1000, (sh->grace_ms % 1000) * 1000};
        if (sh->stopping)
                return;
        sh->stopping = true;
        evtimer_del(sh->tick);
        if (sh->in_flight == 0) {
                event_base_loopexit(sh->base, NULL);
                return;
        }
        if (!sh->once || sh->failed)
                fprintf(stderr,
                        PROG ": stopping: waiting up to %d ms for %zu lines "
                             "on their way\n",
                        sh->grace_ms, sh->in_flight);
        sh->grace = evtimer_new(sh->base, on_grace, sh);
        evtimer_add(sh->grace, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
        struct shipper *sh = arg;
        if (sh->stopping) { /* a second one: leave now */
                event_base_loopexit(sh->base, NULL);
                return;
        }
        fprintf(stderr, PROG ": %s: stopping\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        begin_stop(sh);
}

static void on_note(follow_note what, const char *path, const char *text,
                    void *arg) {
        fprintf(stderr, PROG ": %s: %s%s\n", path,
                what == FOLLOW_LOST ? "LINES MAY BE LOST: " : "", text);
}

/* ---- start and end ---- */

static int number(const char *opt, const char *s, long min, long max,
                  long *out) {
        char *end;
        errno = 0;
        *out = strtol(s, &end, 10);
        if (!*s || *end || errno || *out < min || *out > max) {
                fprintf(stderr,
                        PROG ": %s: '%s' is not an integer from %ld to %ld\n",
                        opt, s, min, max);
                return -1;
        }
        return 0;
}

enum { OPT_ONCE = 256, OPT_POLL, OPT_ROTATE_WAIT, OPT_GRACE };

int main(int argc, char **argv) {
        static const struct option longopts[] = {
            {"positions", required_argument, NULL, 'p'},
            {"host", required_argument, NULL, 'H'},
            {"once", no_argument, NULL, OPT_ONCE},
            {"max-in-flight", required_argument, NULL, 'n'},
            {"poll-ms", required_argument, NULL, OPT_POLL},
            {"rotate-wait-ms", required_argument, NULL, OPT_ROTATE_WAIT},
            {"grace-ms", required_argument, NULL, OPT_GRACE},
            {"config", required_argument, NULL, 'c'},
            {"bootstrap", required_argument, NULL, 'b'},
            {"property", required_argument, NULL, 'X'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        static struct shipper sh;
        const char *config = NULL;
        char **props = calloc((size_t)argc, sizeof(char *));
        size_t n_props = 0;
        char hostname[256], err[512];
        kbus_config *conf = NULL;
        position *saved = NULL;
        size_t n_saved = 0;
        struct timeval poll_tv;
        unsigned long long read = 0, shipped = 0;
        unsigned rotations = 0, truncations = 0;
        int opt, rc = 1;
        long v;

        sh.max_in_flight = 1000;
        sh.poll_ms = 250;
        sh.rotate_wait_ms = 1000;
        sh.grace_ms = 10000;
        if (!props) {
                fprintf(stderr, PROG ": out of memory\n");
                return 1;
        }
        while ((opt = getopt_long(argc, argv, "p:H:n:c:b:X:h", longopts,
                                  NULL)) != -1) {
                switch (opt) {
                case 'p':
                        sh.positions = optarg;
                        break;
                case 'H':
                        sh.host = optarg;
                        break;
                case OPT_ONCE:
                        sh.once = true;
                        break;
                case 'n':
                        if (number("--max-in-flight", optarg, 1, 1000000, &v))
                                goto usage_error;
                        sh.max_in_flight = (size_t)v;
                        break;
                case OPT_POLL:
                        if (number("--poll-ms", optarg, 1, 3600000, &v))
                                goto usage_error;
                        sh.poll_ms = (int)v;
                        break;
                case OPT_ROTATE_WAIT:
                        if (number("--rotate-wait-ms", optarg, 0, 3600000, &v))
                                goto usage_error;
                        sh.rotate_wait_ms = (int)v;
                        break;
                case OPT_GRACE:
                        if (number("--grace-ms", optarg, 0, 3600000, &v))
                                goto usage_error;
                        sh.grace_ms = (int)v;
                        break;
                case 'c':
                        config = optarg;
                        break;
                case 'b':
                        /* The runtime reads the environment last, so -b
                         * goes there to win over the file. */
                        setenv("KBUS_BOOTSTRAP", optarg, 1);
                        break;
                case 'X':
                        if (!strchr(optarg, '=')) {
                                fprintf(stderr,
                                        PROG ": -X: expected NAME=VALUE\n");
                                goto usage_error;
                        }
                        props[n_props++] = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        free(props);
                        return 0;
                default:
                        goto usage_error;
                }
        }
        if (!sh.positions) {
                fprintf(stderr, PROG ": -p POSITIONS is required\n");
                goto usage_error;
        }
        if (optind == argc) {
                fprintf(stderr, PROG ": no FILE to follow\n");
                goto usage_error;
        }
        for (int i = optind; i < argc; i++) {
                if (!argv[i][0] || strchr(argv[i], '\n')) {
                        fprintf(stderr, PROG ": '%s': not a usable file name\n",
                                argv[i]);
                        goto usage_error;
                }
                for (int j = optind; j < i; j++)
                        if (!strcmp(argv[i], argv[j])) {
                                fprintf(stderr, PROG ": %s given twice\n",
                                        argv[i]);
                                goto usage_error;
                        }
        }
        if (!sh.host) {
                if (gethostname(hostname, sizeof(hostname)) != 0)
                        snprintf(hostname, sizeof(hostname), "localhost");
                hostname[sizeof(hostname) - 1] = '\0';
                sh.host = hostname;
        }
        if (positions_load(sh.positions, &saved, &n_saved, err, sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                free(props);
                return 1;
        }

        /* Defaults first, so that the file and -X override them: a line is
         * never given up by the producer (message.timeout.ms 0); the stop
         * waits --grace-ms itself, so the runtime's own wait is none. */
        if (kbus_config_new(&conf) ||
            kbus_config_set(conf, "name", PROG, err, sizeof(err)) ||
            kbus_config_set(conf, "producer.message.timeout.ms", "0", err,
                            sizeof(err)) ||
            (config && kbus_config_load(conf, config, err, sizeof(err))) ||
            kbus_config_set(conf, "shutdown_grace_ms", "0", err, sizeof(err)))
                goto config_error;
        for (size_t i = 0; i < n_props; i++) {
                char name[256];
                const char *eq = strchr(props[i], '=');
                snprintf(name, sizeof(name), "producer.%.*s",
                         (int)(eq - props[i]), props[i]);
                if (kbus_config_set(conf, name, eq + 1, err, sizeof(err)))
                        goto config_error;
        }
        /* The signals are ours from now on: one that comes before the loop
         * runs waits for it, and stops the shipper cleanly then. */
        sh.base = event_base_new();
        if (sh.base) {
                sh.sig_int = evsignal_new(sh.base, SIGINT, on_signal, &sh);
                sh.sig_term = evsignal_new(sh.base, SIGTERM, on_signal, &sh);
        }
        if (!sh.sig_int || !sh.sig_term || evsignal_add(sh.sig_int, NULL) ||
            evsignal_add(sh.sig_term, NULL)) {
                snprintf(err, sizeof(err), "cannot set up the event loop");
                goto config_error;
        }
        if (kbus_runtime_new(&sh.rt, &conf, sh.base, err, sizeof(err)))
                goto config_error;
        /* A broker inside this process would take the lines to nowhere. */
        if (kbus_runtime_mock(sh.rt)) {
                fprintf(stderr, PROG ": no broker: give -b LIST, "
                                     "KBUS_BOOTSTRAP or a -c file that sets "
                                     "bootstrap\n");
                goto done;
        }

        sh.n_files = (size_t)(argc - optind);
        sh.files = calloc(sh.n_files, sizeof(*sh.files));
        sh.others = calloc(n_saved ? n_saved : 1, sizeof(*sh.others));
        if (!sh.files || !sh.others)
                goto oom;
        for (size_t i = 0; i < sh.n_files; i++) {
                struct logfile *lf = &sh.files[i];
                const position *p = NULL;
                lf->sh = &sh;
                lf->name = argv[optind + (int)i];
                for (size_t k = 0; k < n_saved; k++)
                        if (!strcmp(saved[k].file, lf->name))
                                p = &saved[k];
                lf->seq = p ? p->seq : 1;
                lf->sent = lf->resend_hi = p ? p->sent : 0;
                lf->published_hi = lf->seq - 1;
                if (asprintf(&lf->source, "%s:%s", sh.host, lf->name) < 0)
                        lf->source = NULL;
                lf->ring = calloc(sh.max_in_flight, sizeof(*lf->ring));
                lf->fw = follow_new(lf->name, p ? &p->at : NULL,
                                    sh.rotate_wait_ms, mono_ms(), on_note, lf);
                if (!lf->source || !lf->ring || !lf->fw)
                        goto oom;
                if (p && p->sent >= p->seq)
                        fprintf(stderr,
                                PROG ": %s: resuming at line %" PRIu64
                                     "; lines %" PRIu64 "-%" PRIu64
                                     " may have been sent before and go out "
                                     "marked resent\n",
                                lf->name, p->seq, p->seq, p->sent);
        }
        /* Positions of files not followed this time are kept as they are. */
        for (size_t k = 0; k < n_saved; k++) {
                bool followed = false;
                for (int i = optind; i < argc; i++)
                        followed |= !strcmp(saved[k].file, argv[i]);
                if (!followed) {
                        sh.others[sh.n_others++] = saved[k];
                        saved[k].file = NULL;
                }
        }

        sh.tick = event_new(sh.base, -1, EV_PERSIST, on_tick, &sh);
        sh.pump = event_new(sh.base, -1, 0, pump, &sh);
        if (!sh.tick || !sh.pump)
                goto oom;
        poll_tv.tv_sec = sh.poll_ms / 1000;
        poll_tv.tv_usec = (sh.poll_ms % 1000) * 1000;
        evtimer_add(sh.tick, &poll_tv);
        if ((rc = kbus_runtime_start(sh.rt))) {
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
                rc = 1;
                goto done;
        }
        if (save_positions(&sh)) { /* a position file we cannot write */
                rc = 1;
                goto done;
        }
        event_active(sh.tick, EV_TIMEOUT, 0);
        event_base_dispatch(sh.base);

        /* Lines still queued are dropped now (their reports come as
         * failures); their files' positions stay before them. */
        kbus_runtime_free(sh.rt);
        sh.rt = NULL;
        for (size_t i = 0; i < sh.n_files; i++) {
                struct logfile *lf = &sh.files[i];
                /* Nothing more goes out: the reservation shrinks to what
                 * was sent, so that a clean restart marks no line. */
                lf->sent = lf->published_hi > lf->resend_hi ? lf->published_hi
                                                            : lf->resend_hi;
                read += lf->read;
                shipped += lf->shipped;
                rotations += follow_rotations(lf->fw);
                truncations += follow_truncations(lf->fw);
        }
        rc = save_positions(&sh) || sh.failed ? 1 : 0;
        if (sh.once && !sh.failed && sh.undelivered)
                rc = 1;
        fprintf(stderr,
                PROG ": %s: %zu file%s, %llu lines read, %llu shipped, %llu "
                     "to send again at the next start, %u rotation%s, %u "
                     "truncation%s\n",
                sh.once && !sh.failed ? "done" : "stopped", sh.n_files,
                sh.n_files == 1 ? "" : "s", read, shipped, read - shipped,
                rotations, rotations == 1 ? "" : "s", truncations,
                truncations == 1 ? "" : "s");
        goto done;

oom:
        fprintf(stderr, PROG ": out of memory\n");
        rc = 1;
done:
        kbus_runtime_free(sh.rt);
        for (size_t i = 0; i < sh.n_files; i++) {
                follow_free(sh.files[i].fw);
                free(sh.files[i].ring);
                free(sh.files[i].source);
        }
        free(sh.files);
        positions_free(sh.others, sh.n_others);
        positions_free(saved, n_saved);
        if (sh.tick)
                event_free(sh.tick);
        if (sh.pump)
                event_free(sh.pump);
        if (sh.grace)
                event_free(sh.grace);
        if (sh.sig_int)
                event_free(sh.sig_int);
        if (sh.sig_term)
                event_free(sh.sig_term);
        if (sh.base)
                event_base_free(sh.base);
        free(props);
        return rc;

config_error:
        fprintf(stderr, PROG ": %s\n", err);
        kbus_config_free(conf);
        if (sh.sig_int)
                event_free(sh.sig_int);
        if (sh.sig_term)
                event_free(sh.sig_term);
        if (sh.base)
                event_base_free(sh.base);
        positions_free(saved, n_saved);
        free(props);
        return 1;
usage_error:
        usage(stderr);
        free(props);
        return 2;
}
