/*
 * Option parsing shared by sensor-sim, averager and rules.
 */
#include <stdio.h>
#include <stdlib.h>

#include "stream.h"

double stream_parse_number(const char *prog, const char *flag, const char *s,
                           double min) {
        char *end;
        double v = strtod(s, &end);
        if (*s == '\0' || *end != '\0' || v < min) {
                fprintf(stderr, "%s: %s needs a number >= %g, got '%s'\n", prog,
                        flag, min, s);
                exit(2);
        }
        return v;
}
