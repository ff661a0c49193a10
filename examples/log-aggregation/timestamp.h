/*
 * timestamp: the time a log line says it was written, for log-shipper.
 *
 * Most log formats start a line with its time: RFC 3339 and ISO 8601
 * ("2024-05-01T12:00:00.123Z", "2024-05-01T14:00:00+02:00"), the same with
 * a blank for the T ("2024-05-01 12:00:00,123", as Python's logging and
 * log4j write it), sometimes in brackets ("[2024-05-01 12:00:00]").  Such
 * a time, at the very start of the line, is what the collector's windows
 * count by: when the line was logged, not when it was read.
 *
 * Times without a zone are taken as UTC: a log file does not say which
 * zone its writer meant, and guessing the shipper's own would make the same
 * file mean different times on different hosts.
 */
#ifndef LOGS_TIMESTAMP_H
#define LOGS_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

/* Reads the timestamp that the \p len bytes at \p s start with, optionally
 * after one '[': YYYY-MM-DD, 'T', 't' or a blank, hh:mm:ss, optionally a
 * fraction after '.' or ',', optionally 'Z', 'z', +hh:mm, +hhmm or +hh
 * (or '-'), then the end, or a character that is neither a digit nor a
 * letter (so "2024-05-01T12:00:00.5Zebra" is not one).  Returns 1 with
 * *\p ms, Unix epoch milliseconds (the fraction cut to milliseconds); 0
 * when the line does not start with a valid time. */
int timestamp_parse(const char *s, size_t len, int64_t *ms);

#endif
