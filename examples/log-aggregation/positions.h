/*
 * positions: log-shipper's position file, where it keeps, per file it
 * follows, the place of the first line not yet known to be delivered.
 *
 * One small text file per shipper, replaced whole on every save (written
 * beside it, synced, renamed over it), so a crash at any moment leaves
 * the old or the new one, never a mix.  A line per followed file:
 *
 *   SEQ SENT DEV INODE FP_LEN FP OFFSET FILE
 *
 * SEQ is the sequence number of the line at OFFSET of the file DEV/INODE
 * (whose first FP_LEN bytes hash to FP, in hex); SENT is the highest
 * sequence number that may have been sent (the lines from SEQ to SENT go
 * out marked as possible repeats after a restart); FILE, the name as the
 * shipper was given it, runs to the end of the line.
 */
#ifndef LOGS_POSITIONS_H
#define LOGS_POSITIONS_H

#include <stddef.h>
#include <stdint.h>

#include "follow.h"

typedef struct position {
        char *file; /* owned */
        uint64_t seq, sent;
        follow_pos at;
} position;

/* Reads \p path into a new array *\p out of *\p n positions (none when
 * the file does not exist).  On a bad file returns -1 with \p err saying
 * "PATH:LINE: what is wrong". */
int positions_load(const char *path, position **out, size_t *n, char *err,
                   size_t errlen);

/* Replaces \p path with the \p n positions, atomically.  Returns -1 with
 * \p err on failure (the old file stays). */
int positions_save(const char *path, const position *p, size_t n, char *err,
                   size_t errlen);

void positions_free(position *p, size_t n);

#endif
