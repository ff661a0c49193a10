/*
 * What the programs of the stream-processing example share: the
 * parsing of their numeric options.
 */
#ifndef STREAM_H
#define STREAM_H

/* Parses \p s as a number for option \p flag; exits with status 2 if it is
 * not one, or is below \p min. */
double stream_parse_number(const char *prog, const char *flag, const char *s,
                           double min);

#endif
