/*
 * An append-only journal: the durable state of a service of the order
 * pipeline, one text line per change, in <state dir>/<name>.journal.
 *
 * A service replays its journal at start to rebuild its tables, then
 * appends a line for each change and acknowledges the record that caused
 * it only once the line is on disk.  Offsets are stored only for
 * acknowledged records, so after a crash the service finds in the journal
 * everything it had acknowledged, and gets redelivered everything else.
 *
 * Appends are group-committed: lines are written at once, and one
 * fdatasync() on the next turn of the event loop makes every line written
 * meanwhile durable, then calls their callbacks.  Without a state
 * directory the journal keeps nothing (the callbacks still run, on the
 * next turn of the loop), for trying things out.
 *
 * A journal that cannot write or sync ends the process (exit status 1)
 * after logging why: its state in memory would run ahead of the disk, and
 * a restart, which replays the journal and gets the unacknowledged records
 * redelivered, is the one way back to a state that is both durable and
 * consistent.
 */
#ifndef ORDER_PIPELINE_JOURNAL_H
#define ORDER_PIPELINE_JOURNAL_H

#include <stddef.h>

struct event_base;
typedef struct journal journal;

/* Called once per line at open, oldest first; \p line has no newline and
 * may be changed (split in place). */
typedef void (*journal_replay_fn)(char *line, void *arg);

/* Called on the loop thread when a line is durable. */
typedef void (*journal_done_fn)(void *arg);

/*
 * Opens (creating it if need be) \p dir/\p name.journal and replays it.
 * \p dir NULL: no file.  A line cut short by a crash is dropped, with a
 * warning.  Prints what is wrong and returns -1 on failure.
 */
int journal_open(journal **jp, struct event_base *base, const char *dir,
                 const char *name, journal_replay_fn replay, void *arg);

/* Writes a line (printf-style, no newline) and calls \p done (may be NULL)
 * once it is durable. */
void journal_append(journal *j, journal_done_fn done, void *arg,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Lines written since open, replayed ones included. */
unsigned long journal_lines(const journal *j);

/* Makes what was written durable and closes the file.  Callbacks still
 * pending are not called: their records were not acknowledged, so they
 * will be delivered again.  NULL is fine. */
void journal_free(journal *j);

/* Splits \p line on blanks into at most \p max fields, the last taking the
 * rest of the line; returns the number of fields. */
int journal_split(char *line, char **fields, int max);

#endif
