/*
 * follow: reads one log file by its name the way `tail -F` does, line by
 * line, across rotations, for log-shipper.
 *
 * A name may lead to several files over time.  Rotation by renaming (the
 * file moves to app.log.1, a new app.log appears) is seen when the name
 * leads to another inode: the old file is read to its end first, and
 * closed once it has not grown for the rotation wait (a writer may still
 * hold it open for a moment).  Rotation by copy and truncation
 * (logrotate's copytruncate) is seen when the file shrinks below the
 * read position or its first bytes change: what was not read yet is read
 * from the copy (a file beside it, named after it, that starts with the
 * same bytes and has the bytes last read where they were read), then the
 * file is read again from its start.
 *
 * Every line comes with the position where it starts (follow_pos), which
 * names its file by device, inode and a fingerprint of its first bytes, so
 * that a position saved by one process is found again by the next, even
 * after a rotation (the renamed file is looked for beside the name).
 *
 * Only polling (stat, fstat, pread), no threads, nothing blocks but disk
 * reads: follow_check() from a timer, follow_next() whenever the caller
 * wants lines.
 */
#ifndef LOGS_FOLLOW_H
#define LOGS_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a file's start that identify it beside its inode. */
#define FOLLOW_FP_MAX 256
/* A longer line comes in pieces of this many bytes. */
#define FOLLOW_MAX_LINE 16384

/* A place in a file: which file, and the byte offset of a line's start.
 * ino 0 means "the file at the name, from its start". */
typedef struct follow_pos {
        uint64_t dev, ino;
        uint32_t fp_len; /* bytes of the file's start the fingerprint covers */
        uint64_t fp;     /* FNV-1a of those bytes */
        uint64_t off;
} follow_pos;

typedef struct follow follow;

/* What follow_check() and follow_new() tell their caller. */
typedef enum follow_note {
        FOLLOW_ROTATED,   /* the name leads to a new file */
        FOLLOW_TRUNCATED, /* the file was truncated */
        FOLLOW_LOST,      /* lines may be lost (text says which) */
        FOLLOW_INFO,      /* anything else worth a line */
} follow_note;

/* Called with a sentence about \p path (no newline). */
typedef void (*follow_note_fn)(follow_note what, const char *path,
                               const char *text, void *arg);

/* Follows \p path (copied) from \p resume, or from the start of the file
 * at the name when \p resume is NULL or has ino 0.  The file need not
 * exist yet.  Returns NULL when out of memory. */
follow *follow_new(const char *path, const follow_pos *resume,
                   int rotate_wait_ms, int64_t now_ms, follow_note_fn note,
                   void *arg);

void follow_free(follow *f);

/* Looks at the name and at the files being read: notices a new file at
 * the name, a truncation, a file that stopped growing.  \p now_ms is a
 * monotonic clock in milliseconds. */
void follow_check(follow *f, int64_t now_ms);

/* The next line, if a whole one is there: returns 1 with *\p line and
 * *\p len (without the newline; valid until the next call), *\p start
 * (where it begins) and *\p continued (a piece of a longer line, more to
 * come); 0 when there is none now.  The line stays next until
 * follow_consume().  With \p drain, a file is taken as finished at its
 * end, rotated or not, as a one-off run does; its unterminated last line
 * is not returned then (the next run reads it whole). */
int follow_next(follow *f, int64_t now_ms, bool drain, const char **line,
                size_t *len, bool *continued, follow_pos *start);

/* Moves past the line follow_next() returned. */
void follow_consume(follow *f);

/* The position of the next line to read (ino 0 when no file is open). */
void follow_where(const follow *f, follow_pos *pos);

/* Rotations and truncations seen. */
unsigned follow_rotations(const follow *f);
unsigned follow_truncations(const follow *f);

#endif
