/*
 * Runtime setup and option parsing shared by sensor-sim, enrich and rules.
 */
#include <stdio.h>
#include <stdlib.h>

#include "stream.h"

int stream_runtime_new(kbus_runtime **rtp, const char *name,
                       const char *file) {
        kbus_config *conf = NULL;
        char err[512] = "out of memory";

        if (kbus_config_new(&conf) ||
            kbus_config_set(conf, "name", name, err, sizeof(err)) ||
            (file && kbus_config_load(conf, file, err, sizeof(err))) ||
            kbus_runtime_new(rtp, &conf, NULL, err, sizeof(err))) {
                fprintf(stderr, "%s: %s\n", name, err);
                kbus_config_free(conf);
                return 1;
        }
        return 0;
}

double stream_parse_number(const char *prog, const char *flag, const char *s,
                           double min) {
        char *end;
        double v = strtod(s, &end);
        if (*s == '\0' || *end != '\0' || v < min) {
                fprintf(stderr, "%s: %s needs a number >= %g, got '%s'\n",
                        prog, flag, min, s);
                exit(2);
        }
        return v;
}
