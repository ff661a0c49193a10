/*
 * The append-only journal of a service: see journal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "journal.h"
#include "pipeline.h"

struct waiter {
        journal_done_fn done;
        void *arg;
};

struct journal {
        int fd; /* -1 without a state directory */
        char *path;
        off_t size;
        unsigned long lines;
        struct event *sync_ev;
        struct waiter *waiters;
        size_t n_waiters, cap_waiters;
};

/* See journal.h: a journal that fails stops the service. */
static void fatal(journal *j, const char *what, int err) {
        kbus_log(KBUS_LOG_ERROR, "journal %s: %s: %s; stopping, a "
                 "restart replays the journal", j->path, what,
                 strerror(err));
        exit(1);
}

static void on_sync(evutil_socket_t fd, short what, void *arg) {
        journal *j = arg;
        struct waiter *w = j->waiters;
        size_t n = j->n_waiters;

        /* Take the batch first: callbacks may append again, and those lines
         * belong to the next sync. */
        j->waiters = NULL;
        j->n_waiters = j->cap_waiters = 0;
        if (j->fd >= 0 && fdatasync(j->fd) != 0)
                fatal(j, "fdatasync", errno);
        for (size_t i = 0; i < n; i++)
                if (w[i].done)
                        w[i].done(w[i].arg);
        free(w);
}

/* Reads the file, replays its whole lines and drops a torn last one. */
static int replay_file(journal *j, journal_replay_fn replay, void *arg) {
        FILE *f = fdopen(dup(j->fd), "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        off_t good = 0;

        if (!f) {
                fprintf(stderr, "%s: %s: %s\n", pipeline_prog, j->path,
                        strerror(errno));
                return -1;
        }
        while ((n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] != '\n') {
                        kbus_log(KBUS_LOG_WARN,
                                 "journal %s: dropping a last line cut "
                                 "short by a crash (%zd bytes)",
                                 j->path, n);
                        break;
                }
                good += n;
                line[n - 1] = '\0';
                j->lines++;
                if (replay)
                        replay(line, arg);
        }
        free(line);
        fclose(f);
        if (ftruncate(j->fd, good) != 0 || lseek(j->fd, good, SEEK_SET) < 0) {
                fprintf(stderr, "%s: %s: %s\n", pipeline_prog, j->path,
                        strerror(errno));
                return -1;
        }
        j->size = good;
        return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir) {
        char *path = pipeline_xstrdup(dir);
        int rc = 0;
        for (char *p = path + 1; *p && rc == 0; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(path, 0755) != 0 && errno != EEXIST)
                        rc = -1;
                *p = '/';
        }
        if (rc == 0 && mkdir(path, 0755) != 0 && errno != EEXIST)
                rc = -1;
        free(path);
        return rc;
}

int journal_open(journal **jp, struct event_base *base, const char *dir,
                 const char *name, journal_replay_fn replay, void *arg) {
        journal *j = pipeline_xcalloc(1, sizeof(*j));
        size_t len;

        j->fd = -1;
        j->sync_ev = event_new(base, -1, 0, on_sync, j);
        if (!j->sync_ev) {
                fprintf(stderr, "%s: cannot make an event\n", pipeline_prog);
                goto fail;
        }
        if (!dir) {
                *jp = j;
                return 0;
        }
        len = strlen(dir) + strlen(name) + 16;
        j->path = pipeline_xmalloc(len);
        snprintf(j->path, len, "%s/%s.journal", dir, name);
        if (make_dirs(dir) != 0) {
                fprintf(stderr, "%s: state directory %s: %s\n", pipeline_prog,
                        dir, strerror(errno));
                goto fail;
        }
        j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (j->fd < 0) {
                fprintf(stderr, "%s: %s: %s\n", pipeline_prog, j->path,
                        strerror(errno));
                goto fail;
        }
        if (replay_file(j, replay, arg))
                goto fail;
        /* A new file's name must survive a crash too. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
        }
        *jp = j;
        return 0;
fail:
        if (j->fd >= 0)
                close(j->fd);
        if (j->sync_ev)
                event_free(j->sync_ev);
        free(j->path);
        free(j);
        return -1;
}

/* Writes all of \p buf; returns 0 or an errno value. */
static int write_all(journal *j, const char *buf, size_t len) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(j->fd, buf + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno;
                done += (size_t)n;
        }
        j->size += (off_t)len;
        return 0;
}

void journal_append(journal *j, journal_done_fn done, void *arg,
                    const char *fmt, ...) {
        char buf[4096];
        va_list ap;
        int n, err;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
                /* The services' lines are far shorter: a bug, not a state
                 * to carry on from. */
                kbus_log(KBUS_LOG_ERROR, "journal: a line of %d bytes "
                         "is too long", n);
                abort();
        }
        /* One change, one line: a newline inside would split it. */
        for (int i = 0; i < n; i++)
                if (buf[i] == '\n' || buf[i] == '\r')
                        buf[i] = ' ';
        buf[n++] = '\n';
        if (j->fd >= 0 && (err = write_all(j, buf, (size_t)n)) != 0)
                fatal(j, "write", err);
        j->lines++;
        if (j->n_waiters == j->cap_waiters) {
                j->cap_waiters = j->cap_waiters ? 2 * j->cap_waiters : 16;
                j->waiters = pipeline_xrealloc(
                    j->waiters, j->cap_waiters * sizeof(*j->waiters));
        }
        j->waiters[j->n_waiters].done = done;
        j->waiters[j->n_waiters].arg = arg;
        if (j->n_waiters++ == 0)
                event_active(j->sync_ev, EV_TIMEOUT, 0);
}

unsigned long journal_lines(const journal *j) { return j->lines; }

void journal_free(journal *j) {
        if (!j)
                return;
        if (j->fd >= 0) {
                if (fdatasync(j->fd) != 0)
                        kbus_log(KBUS_LOG_ERROR,
                                 "journal %s: fdatasync: %s", j->path,
                                 strerror(errno));
                close(j->fd);
        }
        event_free(j->sync_ev);
        free(j->waiters);
        free(j->path);
        free(j);
}

int journal_split(char *line, char **fields, int max) {
        int n = 0;
        char *p = line;
        while (n < max) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                fields[n++] = p;
                if (n == max)
                        break;
                while (*p && *p != ' ')
                        p++;
                if (!*p)
                        break;
                *p++ = '\0';
        }
        return n;
}
