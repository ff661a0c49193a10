/*
 * A tap on stderr for tests: what the process logs, shown as it comes and
 * kept, to be read back.
 */
#ifndef KBUS_TEST_LOG_TAP_H
#define KBUS_TEST_LOG_TAP_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/*
 * Between log_tap_start() and log_tap_stop(), whatever the process writes
 * to stderr (the runtimes' JSON lines, librdkafka's lines routed in, the
 * test's notes) goes through a pipe: a thread copies it to the real stderr
 * at once, so a hung test still shows its log, and keeps it, so that a
 * test can ask whether a fault was felt (a connection refused, a delivery
 * that failed, an assignment lost) instead of trusting that it happened.
 */
static struct {
        bool on;
        int saved; /* the real stderr */
        int rfd;
        pthread_t thread;
        pthread_mutex_t lock;
        char *buf;
        size_t len, cap;
} log_tap = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *log_tap_run(void *arg) {
        char chunk[4096];
        ssize_t n;
        for (;;) {
                n = read(log_tap.rfd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t off = 0, w; off<n; off += w> 0 ? w : n)
                        w = write(log_tap.saved, chunk + off, n - off);
                pthread_mutex_lock(&log_tap.lock);
                if (log_tap.len + n > log_tap.cap) {
                        size_t cap = (log_tap.len + n) * 2;
                        char *b = realloc(log_tap.buf, cap);
                        if (b) {
                                log_tap.buf = b;
                                log_tap.cap = cap;
                        }
                }
                if (log_tap.len + n <= log_tap.cap) {
                        memcpy(log_tap.buf + log_tap.len, chunk, n);
                        log_tap.len += n;
                }
                pthread_mutex_unlock(&log_tap.lock);
        }
        return NULL;
}

static inline void log_tap_start(void) {
        int fds[2];
        assert_false(log_tap.on);
        assert_int_equal(pipe(fds), 0);
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        fflush(stderr);
        log_tap.saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
        assert_true(log_tap.saved >= 0);
        assert_true(dup2(fds[1], 2) == 2);
        close(fds[1]);
        log_tap.rfd = fds[0];
        log_tap.len = 0;
        assert_int_equal(
            pthread_create(&log_tap.thread, NULL, log_tap_run, NULL), 0);
        log_tap.on = true;
}

/* Gives stderr back; what was kept is forgotten.  Safe to call when the
 * tap is off (a failed test's teardown does). */
static inline void log_tap_stop(void) {
        if (!log_tap.on)
                return;
        fflush(stderr);
        /* The pipe's last write end was fd 2: the thread reads to the end
         * of what was written, then sees end of file. */
        dup2(log_tap.saved, 2);
        close(log_tap.saved);
        pthread_join(log_tap.thread, NULL);
        close(log_tap.rfd);
        free(log_tap.buf);
        log_tap.buf = NULL;
        log_tap.len = log_tap.cap = 0;
        log_tap.on = false;
}

/* Copies the line at *at of what was kept (at most \p n - 1 bytes of it)
 * into \p line and moves *at past it; false at the end.  Under the lock. */
static inline bool log_tap_line(size_t *at, char *line, size_t n) {
        char *nl;
        size_t end, len;
        if (*at >= log_tap.len)
                return false;
        nl = memchr(log_tap.buf + *at, '\n', log_tap.len - *at);
        end = nl ? (size_t)(nl - log_tap.buf) : log_tap.len;
        len = end - *at < n - 1 ? end - *at : n - 1;
        memcpy(line, log_tap.buf + *at, len);
        line[len] = '\0';
        *at = end + 1;
        return true;
}

/* How many lines written since log_tap_start() contain every one of the
 * strings given, a list ending with NULL. */
static inline int log_tap_count(const char *needle, ...) {
        const char *needles[8];
        int n_needles = 0, count = 0;
        char line[4096];
        size_t at = 0;
        va_list ap;
        va_start(ap, needle);
        for (const char *x = needle; x && n_needles < 8;
             x = va_arg(ap, const char *))
                needles[n_needles++] = x;
        va_end(ap);
        pthread_mutex_lock(&log_tap.lock);
        while (log_tap_line(&at, line, sizeof(line))) {
                bool all = true;
                for (int i = 0; i < n_needles && all; i++)
                        all = strstr(line, needles[i]) != NULL;
                count += all;
        }
        pthread_mutex_unlock(&log_tap.lock);
        return count;
}

/* The last line written since log_tap_start() that contains \p needle,
 * into \p out; false if there is none. */
static inline bool log_tap_last(const char *needle, char *out, size_t n) {
        char line[4096];
        size_t at = 0;
        bool found = false;
        pthread_mutex_lock(&log_tap.lock);
        while (log_tap_line(&at, line, sizeof(line)))
                if (strstr(line, needle) && n > 0) {
                        size_t len = strlen(line) < n ? strlen(line) : n - 1;
                        memcpy(out, line, len);
                        out[len] = '\0';
                        found = true;
                }
        pthread_mutex_unlock(&log_tap.lock);
        return found;
}

#endif
