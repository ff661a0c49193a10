/*
 * follow: one log file followed by name across rotations; see follow.h.
 *
 * The files a name led to are a list of segments, read in order: the head
 * is being read; a segment the name no longer leads to is "detached" and
 * is closed once read to its end and quiet; the last one, unless
 * detached, is the file at the name now.  A copy left by copytruncate is
 * put before the truncated file, so its last lines come first.
 */
#include "follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024) /* more than FOLLOW_MAX_LINE + 1 */
#define WIN 64               /* bytes before the read position, kept */

struct seg {
        struct seg *next;
        int fd;
        follow_pos id;      /* the file; id.off is unused */
        uint64_t off;       /* the next byte to read */
        uint64_t size;      /* at the last look */
        int64_t changed_ms; /* when size last changed */
        bool detached;      /* the name leads elsewhere now */
        bool copy;          /* left by copytruncate: it does not grow */
        /* The last bytes read, up to off: a copy must have them there. */
        char win[WIN];
        size_t win_len;
};

struct follow {
        char *path, *dir, *base;
        struct seg *head;
        int rotate_wait_ms;
        follow_note_fn note;
        void *arg;
        unsigned rotations, truncations;
        bool open_failed; /* said once, not at every look */
        size_t pending;   /* bytes the line follow_next() gave takes up */
        /* What was last read of the head segment. */
        const struct seg *buf_seg;
        uint64_t buf_off;
        size_t buf_len;
        char buf[BUF_SIZE];
};

static void say(follow *f, follow_note what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(follow *f, follow_note what, const char *fmt, ...) {
        char text[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (f->note)
                f->note(what, f->path, text, f->arg);
}

static uint64_t fnv1a(const char *p, size_t n) {
        uint64_t h = 14695981039346656037ULL;
        while (n--) {
                h ^= (unsigned char)*p++;
                h *= 1099511628211ULL;
        }
        return h;
}

/* Whether the first \p id->fp_len bytes of \p fd are the ones \p id names;
 * *\p size gets the file's size. */
static bool same_start(int fd, const follow_pos *id, uint64_t *size) {
        char b[FOLLOW_FP_MAX];
        struct stat st;
        if (fstat(fd, &st) != 0)
                return false;
        *size = (uint64_t)st.st_size;
        if (id->fp_len == 0)
                return true;
        return pread(fd, b, id->fp_len, 0) == (ssize_t)id->fp_len &&
               fnv1a(b, id->fp_len) == id->fp;
}

/* Checks that \p s still starts as it did, and lets its fingerprint
 * cover more of it while it is short.  Returns false when the start
 * changed: the file was truncated and written again. */
static bool seg_verify(struct seg *s) {
        char b[FOLLOW_FP_MAX];
        ssize_t n = pread(s->fd, b, FOLLOW_FP_MAX, 0);
        if (n < (ssize_t)s->id.fp_len ||
            (s->id.fp_len && fnv1a(b, s->id.fp_len) != s->id.fp))
                return false;
        if ((uint32_t)n > s->id.fp_len) {
                s->id.fp_len = (uint32_t)n;
                s->id.fp = fnv1a(b, (size_t)n);
        }
        return true;
}

/* Whether \p fd has the \p len bytes of \p b just before byte \p end. */
static bool same_bytes(int fd, uint64_t end, const char *b, size_t len) {
        char got[WIN];
        return len == 0 ||
               (pread(fd, got, len, (off_t)(end - len)) == (ssize_t)len &&
                !memcmp(got, b, len));
}

static struct seg *seg_new(int fd, const struct stat *st, int64_t now_ms) {
        struct seg *s = calloc(1, sizeof(*s));
        if (!s) {
                close(fd);
                return NULL;
        }
        s->fd = fd;
        s->id.dev = (uint64_t)st->st_dev;
        s->id.ino = (uint64_t)st->st_ino;
        s->size = (uint64_t)st->st_size;
        s->changed_ms = now_ms;
        return s;
}

static void seg_free(struct seg *s) {
        if (s) {
                close(s->fd);
                free(s);
        }
}

static struct seg *tail_of(follow *f) {
        struct seg *s = f->head;
        while (s && s->next)
                s = s->next;
        return s;
}

static void append(follow *f, struct seg *s) {
        struct seg **pp = &f->head;
        while (*pp)
                pp = &(*pp)->next;
        *pp = s;
}

/* Opens the file at the name as the new last segment, read from 0. */
static void open_name(follow *f, int64_t now_ms) {
        struct stat st;
        struct seg *s;
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                if (!f->open_failed)
                        say(f, FOLLOW_INFO, "cannot read it: %s",
                            fd < 0 ? strerror(errno) : "not a regular file");
                f->open_failed = true;
                if (fd >= 0)
                        close(fd);
                return;
        }
        f->open_failed = false;
        if ((s = seg_new(fd, &st, now_ms)))
                append(f, s);
}

/* Looks beside the name for a file named after it (app.log.1,
 * app.log-20240501): the one with inode \p want->ino when \p by_inode;
 * else the newest one, not inode \p not_ino, that starts as \p want says
 * and has the \p win_len bytes of \p win just before byte \p want->off.
 * Returns an open descriptor and its stat, or -1. */
static int find_beside(follow *f, const follow_pos *want, bool by_inode,
                       uint64_t not_ino, const char *win, size_t win_len,
                       struct stat *out, char *name, size_t name_len) {
        size_t blen = strlen(f->base);
        DIR *d = opendir(f->dir);
        struct dirent *e;
        int best = -1;

        if (!d)
                return -1;
        while ((e = readdir(d))) {
                char p[4096];
                struct stat st;
                uint64_t size;
                int fd;
                if (strncmp(e->d_name, f->base, blen) || !e->d_name[blen])
                        continue;
                if (snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name) >=
                    (int)sizeof(p))
                        continue;
                if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
                        continue;
                if (by_inode ? (uint64_t)st.st_dev != want->dev ||
                                   (uint64_t)st.st_ino != want->ino
                             : (uint64_t)st.st_ino == not_ino ||
                                   (uint64_t)st.st_size < want->off)
                        continue;
                if (best >= 0 && !by_inode && st.st_mtime < out->st_mtime)
                        continue;
                if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
                        continue;
                if (!by_inode && (!same_start(fd, want, &size) ||
                                  !same_bytes(fd, want->off, win, win_len))) {
                        close(fd);
                        continue;
                }
                if (best >= 0)
                        close(best);
                best = fd;
                fstat(fd, out);
                snprintf(name, name_len, "%s", p);
                if (by_inode)
                        break;
        }
        closedir(d);
        return best;
}

/* \p s, read up to s->off, was truncated (or truncated and written
 * again): what was not read yet is taken from a copy beside it if there
 * is one, then \p s is read again from its start. */
static void truncated(follow *f, struct seg *s, int64_t now_ms) {
        follow_pos want = s->id;
        struct stat st;
        char name[4096];
        int fd = -1;

        f->truncations++;
        want.off = s->off;
        if (s->off > 0 && s->id.fp_len > 0)
                fd = find_beside(f, &want, false, s->id.ino, s->win, s->win_len,
                                 &st, name, sizeof(name));
        if (fd >= 0) {
                struct seg *c = seg_new(fd, &st, now_ms);
                struct seg **pp = &f->head;
                if (c) {
                        c->id.fp_len = s->id.fp_len;
                        c->id.fp = s->id.fp;
                        c->off = s->off;
                        c->detached = c->copy = true;
                        while (*pp != s)
                                pp = &(*pp)->next;
                        c->next = s;
                        *pp = c;
                        say(f, FOLLOW_TRUNCATED,
                            "truncated; its lines after byte %" PRIu64
                            " are read from the copy %s first",
                            s->off, name);
                }
        } else if (s->off > 0) {
                say(f, FOLLOW_LOST,
                    "truncated after %" PRIu64
                    " bytes were read, and no copy of it was found beside "
                    "it: lines written after that and before the "
                    "truncation, if any, were not read",
                    s->off);
        } else {
                say(f, FOLLOW_TRUNCATED, "truncated");
        }
        s->off = 0;
        s->id.fp_len = 0;
        s->id.fp = 0;
        s->win_len = 0;
        if (f->buf_seg == s)
                f->buf_seg = NULL;
        seg_verify(s);
}

/* Starts from a saved position: in the file at the name, in the file it
 * was renamed to, or, if that file was truncated meanwhile, in its copy. */
static void resume_at(follow *f, const follow_pos *pos, int64_t now_ms) {
        struct stat st;
        struct seg *s;
        char name[4096];
        uint64_t size;
        int fd;

        if (stat(f->path, &st) == 0 && (uint64_t)st.st_dev == pos->dev &&
            (uint64_t)st.st_ino == pos->ino &&
            (fd = open(f->path, O_RDONLY | O_CLOEXEC)) >= 0) {
                fstat(fd, &st);
                if (!(s = seg_new(fd, &st, now_ms)))
                        return;
                s->id = *pos;
                s->off = pos->off;
                append(f, s);
                if (!same_start(fd, pos, &size) || size < pos->off) {
                        say(f, FOLLOW_INFO,
                            "truncated while the shipper was stopped");
                        truncated(f, s, now_ms);
                }
                return;
        }
        fd = find_beside(f, pos, true, 0, NULL, 0, &st, name, sizeof(name));
        if (fd >= 0 && same_start(fd, pos, &size) && size >= pos->off) {
                if ((s = seg_new(fd, &st, now_ms))) {
                        s->id = *pos;
                        s->off = pos->off;
                        s->detached = true;
                        append(f, s);
                        f->rotations++;
                        say(f, FOLLOW_ROTATED,
                            "rotated while the shipper was stopped: the rest "
                            "of %s is read first",
                            name);
                }
        } else {
                if (fd >= 0)
                        close(fd);
                say(f, FOLLOW_LOST,
                    "the file the saved position is in (inode %" PRIu64
                    ") is neither at the name nor beside it: lines written "
                    "to it after byte %" PRIu64 ", if any, are lost",
                    pos->ino, pos->off);
        }
        if (stat(f->path, &st) == 0)
                open_name(f, now_ms);
}

follow *follow_new(const char *path, const follow_pos *resume,
                   int rotate_wait_ms, int64_t now_ms, follow_note_fn note,
                   void *arg) {
        follow *f = calloc(1, sizeof(*f));
        const char *slash = strrchr(path, '/');
        struct stat st;

        if (!f || !(f->path = strdup(path)))
                goto fail;
        f->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path))
                       : strdup(".");
        f->base = strdup(slash ? slash + 1 : path);
        if (!f->dir || !f->base)
                goto fail;
        f->rotate_wait_ms = rotate_wait_ms;
        f->note = note;
        f->arg = arg;
        if (resume && resume->ino)
                resume_at(f, resume, now_ms);
        else if (stat(path, &st) == 0)
                open_name(f, now_ms);
        return f;
fail:
        follow_free(f);
        return NULL;
}

void follow_free(follow *f) {
        if (!f)
                return;
        while (f->head) {
                struct seg *s = f->head;
                f->head = s->next;
                seg_free(s);
        }
        free(f->path);
        free(f->dir);
        free(f->base);
        free(f);
}

void follow_check(follow *f, int64_t now_ms) {
        struct seg *t = tail_of(f), *s;
        struct stat st;

        if (stat(f->path, &st) != 0) {
                if (t && !t->detached) {
                        t->detached = true;
                        t->changed_ms = now_ms;
                        f->rotations++;
                        say(f, FOLLOW_ROTATED,
                            "renamed or removed: reading the file to its end");
                }
        } else if (!t || t->detached || (uint64_t)st.st_dev != t->id.dev ||
                   (uint64_t)st.st_ino != t->id.ino) {
                if (t && !t->detached) {
                        t->detached = true;
                        t->changed_ms = now_ms;
                        f->rotations++;
                        say(f, FOLLOW_ROTATED,
                            "rotated: a new file has the name; the old one "
                            "is read to its end first");
                }
                open_name(f, now_ms);
        } else if (!seg_verify(t) || (uint64_t)st.st_size < t->off) {
                truncated(f, t, now_ms);
        }
        for (s = f->head; s; s = s->next) {
                if (s->detached && fstat(s->fd, &st) == 0 &&
                    (uint64_t)st.st_size != s->size) {
                        s->size = (uint64_t)st.st_size;
                        s->changed_ms = now_ms;
                }
        }
}

/* Reads the head segment from its read position into the buffer. */
static void refill(follow *f, struct seg *s) {
        ssize_t n = pread(s->fd, f->buf, BUF_SIZE, (off_t)s->off);
        f->buf_seg = s;
        f->buf_off = s->off;
        f->buf_len = n > 0 ? (size_t)n : 0;
}

int follow_next(follow *f, int64_t now_ms, bool drain, const char **line,
                size_t *len, bool *continued, follow_pos *start) {
        f->pending = 0;
        for (;;) {
                struct seg *s = f->head;
                const char *p = NULL, *nl = NULL;
                size_t avail = 0;
                bool fresh = false;

                if (!s)
                        return 0;
                for (;;) {
                        if (f->buf_seg == s && s->off >= f->buf_off &&
                            s->off <= f->buf_off + f->buf_len) {
                                p = f->buf + (s->off - f->buf_off);
                                avail = f->buf_off + f->buf_len - s->off;
                                nl = memchr(p, '\n',
                                            avail < FOLLOW_MAX_LINE + 1
                                                ? avail
                                                : FOLLOW_MAX_LINE + 1);
                        }
                        if (nl || avail > FOLLOW_MAX_LINE || fresh)
                                break;
                        refill(f, s);
                        fresh = true;
                        /* What was read must come from the file that
                         * starts as this one did: else it was truncated
                         * and written again. */
                        if (!s->copy && !seg_verify(s)) {
                                truncated(f, s, now_ms);
                                break;
                        }
                }
                if (f->head != s || f->buf_seg != s)
                        continue; /* a copy to read first, or a restart */
                start->dev = s->id.dev;
                start->ino = s->id.ino;
                start->fp_len = s->id.fp_len;
                start->fp = s->id.fp;
                start->off = s->off;
                *line = p;
                if (nl) {
                        *len = (size_t)(nl - p);
                        *continued = false;
                        f->pending = *len + 1;
                        return 1;
                }
                if (avail > FOLLOW_MAX_LINE) {
                        /* Cut before a UTF-8 character, not inside it. */
                        size_t cut = FOLLOW_MAX_LINE;
                        while (cut > FOLLOW_MAX_LINE - 3 &&
                               ((unsigned char)p[cut] & 0xc0) == 0x80)
                                cut--;
                        *len = cut;
                        *continued = true;
                        f->pending = cut;
                        return 1;
                }
                /* At the end of the segment, with avail bytes of a line
                 * not ended yet. */
                if (!s->detached ||
                    (!s->copy && !drain &&
                     now_ms - s->changed_ms < f->rotate_wait_ms))
                        return 0;
                if (avail > 0) { /* it will never be ended now */
                        *len = avail;
                        *continued = false;
                        f->pending = avail;
                        return 1;
                }
                f->head = s->next;
                if (f->buf_seg == s)
                        f->buf_seg = NULL;
                seg_free(s);
        }
}

void follow_consume(follow *f) {
        struct seg *s = f->head;
        size_t n = f->pending, keep;
        const char *p;
        if (!s || !n)
                return;
        /* The line is in the buffer still: keep its last bytes. */
        p = f->buf + (s->off - f->buf_off);
        if (n >= WIN) {
                memcpy(s->win, p + n - WIN, WIN);
                s->win_len = WIN;
        } else {
                keep = s->win_len + n > WIN ? WIN - n : s->win_len;
                memmove(s->win, s->win + s->win_len - keep, keep);
                memcpy(s->win + keep, p, n);
                s->win_len = keep + n;
        }
        s->off += n;
        f->pending = 0;
}

void follow_where(const follow *f, follow_pos *pos) {
        memset(pos, 0, sizeof(*pos));
        if (f->head) {
                *pos = f->head->id;
                pos->off = f->head->off;
        }
}

unsigned follow_rotations(const follow *f) {
        return f->rotations;
}

unsigned follow_truncations(const follow *f) {
        return f->truncations;
}
