/*
 * hello-server: serves hello.v1.Greeter and publishes hello.v1.Greeted
 * after each greeting.
 *
 *   hello-server [-c FILE]
 *
 * With no configuration it starts an embedded broker of its own and logs
 * its bootstrap list; point clients at it with KBUS_BOOTSTRAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hello.kbus.h"

static void usage(FILE *out) {
        fprintf(out, "usage: hello-server [-c FILE]\n"
                     "Serves hello.v1.Greeter on topic hello.v1.Greeter until "
                     "SIGINT or SIGTERM.\n\n"
                     "  -c FILE   kbus configuration file (libconfig format)\n"
                     "  -h, --help  this help\n\n"
                     "Environment: KBUS_BOOTSTRAP (broker list, default: an "
                     "embedded broker),\n"
                     "KBUS_LOW_LATENCY=1 (for a separately started embedded "
                     "broker), KBUS_LOG_LEVEL.\n");
}

static void say_hello(kbus_call *call, const Hello__V1__HelloRequest *req,
                      void *arg) {
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        Hello__V1__Greeted ev = HELLO__V1__GREETED__INIT;
        char text[512];

        snprintf(text, sizeof(text), "Hello, %s!",
                 req->name[0] ? req->name : "stranger");
        reply.message = text;
        ev.name = req->name;
        ev.message = text;
        /* Published as part of this call: the reply waits until Greeted
         * is delivered, so nobody is greeted without a record of it. */
        int rc = hello_v1_greeted_publish_from(call, &ev);
        if (rc) {
                kbus_call_fail(call, (kbus_status)rc, "cannot publish Greeted");
                return;
        }
        hello_v1_greeter_say_hello_reply(call, &reply);
}

int main(int argc, char **argv) {
        static const hello_v1_greeter_handlers handlers = {
            .say_hello = say_hello,
        };
        const char *file = NULL;
        kbus_runtime *rt;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else {
                        fprintf(stderr, "hello-server: unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (kbus_runtime_new_from_file(&rt, "hello-server", file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "hello-server: %s\n", err);
                return 1;
        }
        rc = hello_v1_greeter_serve(rt, &handlers, NULL);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, "hello-server: %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
