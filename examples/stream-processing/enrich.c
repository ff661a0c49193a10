/*
 * enrich: the pipeline's first stage.  Subscribes to iot.v1.Reading and
 * publishes each reading again as an iot.v1.EnrichedReading carrying the
 * site of its device, looked up in a table.
 *
 *   enrich [-c FILE] [-s SITES]
 *
 * The table comes from SITES, lines "DEVICE SITE", or else is the
 * built-in one below.  Devices in neither get the site "unassigned": a
 * reading is never dropped for want of metadata.
 *
 * Each EnrichedReading is published as part of handling its Reading, which
 * is acknowledged only once the EnrichedReading is delivered; if it is
 * not, the runtime retries the Reading, which publishes it again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot.kbus.h"
#include "table.h"

#define PROG "enrich"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-s SITES]\n"
                "Turns iot.v1.Reading into iot.v1.EnrichedReading, adding "
                "each device's site,\nuntil SIGINT or SIGTERM.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -s SITES    the device table, lines \"DEVICE SITE\" "
                "(default: built in,\n"
                "              dev-1 to dev-5)\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

static const char *const builtin[][2] = {
    {"dev-1", "plant-north"}, {"dev-2", "plant-north"},
    {"dev-3", "plant-south"}, {"dev-4", "warehouse"},
    {"dev-5", "warehouse"},
};

static void site_put(table *sites, const char *device, const char *site) {
        char *copy = strdup(site);
        if (!copy) {
                perror(PROG);
                exit(1);
        }
        free(table_get(sites, device));
        table_put(sites, device, copy);
}

/* Reads lines "DEVICE SITE"; blank lines and lines starting with '#' are
 * skipped.  A bad line is reported with its number. */
static int sites_load(table *sites, const char *path) {
        char line[512], device[128], site[128], extra;
        FILE *f = fopen(path, "r");
        int rc = 0, lineno = 0;
        if (!f) {
                perror(path);
                return -1;
        }
        while (!rc && fgets(line, sizeof(line), f)) {
                lineno++;
                if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
                        continue;
                if (sscanf(line, "%127s %127s %c", device, site, &extra) != 2) {
                        fprintf(stderr,
                                PROG ": %s:%d: expected \"DEVICE SITE\", "
                                     "got: %s",
                                path, lineno, line);
                        rc = -1;
                } else {
                        site_put(sites, device, site);
                }
        }
        fclose(f);
        return rc;
}

static void on_reading(kbus_call *call, const Iot__V1__Reading *r, void *arg) {
        Iot__V1__EnrichedReading er = IOT__V1__ENRICHED_READING__INIT;
        er.device_id = r->device_id;
        er.seq = r->seq;
        er.temperature = r->temperature;
        er.time_ms = r->time_ms;
        er.site = table_get(arg, r->device_id);
        if (!er.site)
                er.site = "unassigned";
        int rc = iot_v1_enriched_reading_publish_from(call, &er);
        /* A full producer queue is RESOURCE_EXHAUSTED (nothing was
         * queued), which is retriable: failing the call has the runtime
         * try the reading again later, and the device's later readings
         * wait for it. */
        if (rc)
                kbus_call_fail(call, (kbus_status)rc, "cannot publish");
        else
                kbus_call_ack(call);
}

int main(int argc, char **argv) {
        table *sites_table = table_new();
        const char *file = NULL, *sites = NULL;
        kbus_runtime *rt;
        char err[512];
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
                        sites = argv[++i];
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (sites) {
                rc = sites_load(sites_table, sites);
        } else {
                for (size_t i = 0; i < sizeof(builtin) / sizeof(*builtin); i++)
                        site_put(sites_table, builtin[i][0], builtin[i][1]);
        }
        if (!rc && kbus_runtime_new_from_file(&rt, PROG, file, NULL, err,
                                              sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                rc = 1;
        }
        if (rc) {
                table_free(sites_table, free);
                return 1;
        }
        rc = iot_v1_reading_subscribe(rt, NULL, on_reading, sites_table);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        table_free(sites_table, free);
        return rc ? 1 : 0;
}
