/*
 * What the three programs of the stream-processing example share: the
 * command line and runtime setup every one of them does the same way.
 */
#ifndef STREAM_H
#define STREAM_H

#include <kbus/kbus.h>

/*
 * Creates a runtime named \p name, with the configuration file \p file
 * (NULL: none) loaded over the defaults; returns 0 or prints why not and
 * returns 1.
 */
int stream_runtime_new(kbus_runtime **rtp, const char *name, const char *file);

/* Parses \p s as a number for option \p flag; exits with status 2 if it is
 * not one, or is below \p min. */
double stream_parse_number(const char *prog, const char *flag, const char *s,
                           double min);

#endif
