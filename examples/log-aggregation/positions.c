/*
 * positions: log-shipper's position file; see positions.h.
 */
#include "positions.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER                                                                 \
        "# log-shipper positions 1: SEQ SENT DEV INODE FP_LEN FP OFFSET FILE"

int positions_load(const char *path, position **out, size_t *n, char *err,
                   size_t errlen) {
        FILE *fp = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0, lineno = 0;
        ssize_t len;
        position *v = NULL;

        *out = NULL;
        *n = 0;
        if (!fp) {
                if (errno == ENOENT)
                        return 0;
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return -1;
        }
        while ((len = getline(&line, &cap, fp)) >= 0) {
                position p = {0};
                int file_at = -1;
                unsigned fp_len;
                lineno++;
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                if (lineno == 1) {
                        if (strcmp(line, HEADER)) {
                                snprintf(err, errlen,
                                         "%s:1: not a log-shipper position "
                                         "file (its first line should be "
                                         "\"%s\")",
                                         path, HEADER);
                                goto fail;
                        }
                        continue;
                }
                if (sscanf(line,
                           "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                           " %u %" SCNx64 " %" SCNu64 " %n",
                           &p.seq, &p.sent, &p.at.dev, &p.at.ino, &fp_len,
                           &p.at.fp, &p.at.off, &file_at) != 7 ||
                    file_at < 0 || !line[file_at] || fp_len > FOLLOW_FP_MAX ||
                    p.seq == 0) {
                        snprintf(err, errlen,
                                 "%s:%zu: expected \"SEQ SENT DEV INODE "
                                 "FP_LEN FP OFFSET FILE\" with SEQ > 0 and "
                                 "FP_LEN <= %d",
                                 path, lineno, FOLLOW_FP_MAX);
                        goto fail;
                }
                p.at.fp_len = fp_len;
                position *nv = realloc(v, (*n + 1) * sizeof(*v));
                if (!nv || !(p.file = strdup(line + file_at))) {
                        if (nv)
                                v = nv;
                        snprintf(err, errlen, "%s: out of memory", path);
                        goto fail;
                }
                v = nv;
                v[(*n)++] = p;
        }
        if (ferror(fp)) {
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                goto fail;
        }
        free(line);
        fclose(fp);
        *out = v;
        return 0;
fail:
        free(line);
        fclose(fp);
        positions_free(v, *n);
        *n = 0;
        return -1;
}

int positions_save(const char *path, const position *p, size_t n, char *err,
                   size_t errlen) {
        char tmp[4096];
        FILE *fp;
        int e;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
                snprintf(err, errlen, "%s: name too long", path);
                return -1;
        }
        if (!(fp = fopen(tmp, "w"))) {
                snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
                return -1;
        }
        fprintf(fp, "%s\n", HEADER);
        for (size_t i = 0; i < n; i++)
                fprintf(fp,
                        "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                        " %u %016" PRIx64 " %" PRIu64 " %s\n",
                        p[i].seq, p[i].sent, p[i].at.dev, p[i].at.ino,
                        (unsigned)p[i].at.fp_len, p[i].at.fp, p[i].at.off,
                        p[i].file);
        /* Synced before the rename: after a power cut the name holds the
         * old positions or the new ones, never an empty file. */
        if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
                e = errno;
                fclose(fp);
                unlink(tmp);
                snprintf(err, errlen, "%s: %s", tmp, strerror(e));
                return -1;
        }
        if (fclose(fp) != 0 || rename(tmp, path) != 0) {
                e = errno;
                unlink(tmp);
                snprintf(err, errlen, "%s: %s", path, strerror(e));
                return -1;
        }
        return 0;
}

void positions_free(position *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(p[i].file);
        free(p);
}
