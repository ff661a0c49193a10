/*
 * hello-client: calls hello.v1.Greeter/SayHello and prints the replies.
 *
 *   hello-client [-c FILE] [-n COUNT] [-t TIMEOUT_MS] [NAME]
 *
 * All COUNT calls are in flight at once; the program exits when each has
 * been answered or has failed, with status 1 if any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hello.kbus.h"

static void usage(FILE *out) {
        fprintf(out,
                "usage: hello-client [-c FILE] [-n COUNT] [-t TIMEOUT_MS] "
                "[NAME]\n"
                "Calls hello.v1.Greeter/SayHello COUNT times (default 1) "
                "for NAME (default \"world\").\n\n"
                "  -c FILE        kbus configuration file (libconfig format)\n"
                "  -n COUNT       number of calls, all in flight at once\n"
                "  -t TIMEOUT_MS  deadline of each call (default 5000)\n"
                "  -h, --help     this help\n\n"
                "Environment: KBUS_BOOTSTRAP (the server's broker list), "
                "KBUS_LOW_LATENCY=1 for an\nembedded broker started with "
                "`kbus broker`, KBUS_LOG_LEVEL.\n");
}

struct state {
        kbus_runtime *rt;
        long remaining;
        long failed;
};

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        struct state *st = arg;
        if (status == KBUS_OK) {
                printf("%s\n", reply->message);
        } else {
                fprintf(stderr, "hello-client: %s: %s\n",
                        kbus_status_name(status), message);
                st->failed++;
        }
        if (--st->remaining == 0)
                kbus_runtime_shutdown(st->rt);
}

static long parse_count(const char *flag, const char *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v <= 0) {
                fprintf(stderr,
                        "hello-client: %s needs a positive number, "
                        "got '%s'\n",
                        flag, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        const char *file = NULL;
        struct state st = {0};
        kbus_call_opts *opts = NULL;
        long count = 1, timeout = 5000;
        char err[512];
        int rc = 0;

        req.name = "world";
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
                        count = parse_count("-n", argv[++i]);
                } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
                        timeout = parse_count("-t", argv[++i]);
                } else if (argv[i][0] != '-') {
                        req.name = argv[i];
                } else {
                        fprintf(stderr, "hello-client: unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (kbus_runtime_new_from_file(&st.rt, "hello-client", file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "hello-client: %s\n", err);
                return 1;
        }
        /* Declared before start: the reply consumer is assigned and the
         * request topic's leaders are looked up at once, so the first
         * call does not wait for either. */
        rc = kbus_client_prepare(st.rt, &hello_v1_greeter__service);
        if (!rc)
                rc = kbus_runtime_start(st.rt);
        if (rc) {
                fprintf(stderr, "hello-client: %s\n", kbus_strerror(rc));
                kbus_runtime_free(st.rt);
                return 1;
        }
        if (kbus_call_opts_new(&opts) == 0)
                kbus_call_opts_set_timeout(opts, timeout);
        for (long i = 0; i < count; i++) {
                rc = hello_v1_greeter_say_hello(st.rt, &req, opts, on_reply,
                                                &st);
                if (rc) {
                        fprintf(stderr, "hello-client: call %ld: %s\n", i + 1,
                                kbus_strerror(rc));
                        st.failed++;
                        continue;
                }
                st.remaining++;
        }
        kbus_call_opts_free(opts);
        if (st.remaining > 0)
                rc = kbus_runtime_run(st.rt);
        kbus_runtime_free(st.rt);
        return rc || st.failed ? 1 : 0;
}
