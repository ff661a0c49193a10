/*
 * setup.c: a runtime from an application name, a configuration file and
 * the environment, the sequence every kbus program starts with.  It lives
 * apart from runtime.c because it only strings public calls together.
 */
#include "kbus_int.h"

int kbus_runtime_new_from_file(kbus_runtime **rtp, const char *name,
                               const char *path, struct event_base *base,
                               char *errstr, size_t errlen) {
        kbus_config *conf = NULL;
        int rc;

        if (!rtp || !name)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_runtime_new_from_file: NULL argument");
        *rtp = NULL;
        if (kbus_config_new(&conf))
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        /* The name first, so that a file can still rename the program;
         * kbus_runtime_new() applies the environment over both. */
        if ((rc = kbus_config_set(conf, "name", name, errstr, errlen)) ||
            (path && (rc = kbus_config_load(conf, path, errstr, errlen))) ||
            (rc = kbus_runtime_new(rtp, &conf, base, errstr, errlen))) {
                kbus_config_free(conf);
                *rtp = NULL;
                return rc;
        }
        return KBUS_OK;
}
