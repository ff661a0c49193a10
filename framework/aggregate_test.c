/*
 * Event-sourced aggregates (framework/aggregate.c) through a runtime on
 * the embedded broker.  The aggregate is a list of names: each event
 * (HelloRequest) adds its name, and the state (HelloReply) is the names so
 * far, "a,b,c,", so that any event applied twice, lost or out of order
 * shows.  Commands are SayHello requests "ID CMD OP ARGS"; the replies
 * say "STATE@VERSION".  Checked:
 *   - each command's load applies at most snapshot_every events, and the
 *     state is the fold of every event (snapshots every 10 of 25);
 *   - an append at a version other than the expected one fails the call
 *     with ABORTED and nothing of the command is written, an earlier
 *     append of the same command included;
 *   - a command id applied before is answered with the first reply, and
 *     a refused one with the first refusal, without running again; the id
 *     on another request is refused; an id forgotten (more than
 *     `remember` later commands) runs again;
 *   - a command from an ordered source with a number at or below the
 *     highest seen from it is a copy, dropped, also after a restore;
 *   - a replay of the history topic from scratch gives the state and
 *     version a load gives, each event with its version, cause,
 *     correlation and time;
 *   - another runtime of the group restores the aggregate from the
 *     changelog and loads the same state.
 * Every topic has one partition, so any id belongs to the record's.
 */
#include <inttypes.h>

#include "core.h"
#include "harness.h"
#include "hello.kbus.h"

#include <librdkafka/rdkafka_mock.h>

#define TOPIC "agg.cmds"
#define GROUP "agg-test"
#define HISTORY "agg.history"
#define EVERY 10
#define REMEMBER 6

static int applies; /* calls of apply(), all in all */

static int apply(kbus_fold *fold, const ProtobufCMessage *state,
                 const ProtobufCMessage *event) {
        const Hello__V1__HelloReply *s = (const Hello__V1__HelloReply *)state;
        const Hello__V1__HelloRequest *e =
            (const Hello__V1__HelloRequest *)event;
        Hello__V1__HelloReply next = HELLO__V1__HELLO_REPLY__INIT;
        char buf[1024];

        applies++;
        if (!strcmp(e->name, "poison"))
                return KBUS_FAILED_PRECONDITION;
        snprintf(buf, sizeof(buf), "%s%s,", s->message, e->name);
        next.message = buf;
        return kbus_fold_set(fold, &next.base);
}

static const kbus_aggregate_desc names = {
    .name = "names",
    .history_topic = HISTORY,
    .state = &hello__v1__hello_reply__descriptor,
    .event = &hello__v1__hello_request__descriptor,
    .apply = apply,
    .snapshot_every = EVERY,
    .remember = REMEMBER,
};

/* What the server saw of each command, by the order it ran in. */
static int load_applies_max, load_applies_last;
static int loads;

/* "ID CMD OP ARG EXPECTED": CMD "-" for none; OP add (ARG: names joined
 * by '+', the last appended at EXPECTED, the others at any version),
 * refuse, get. */
static void say_hello(kbus_call *call, const Hello__V1__HelloRequest *req,
                      void *arg) {
        char id[32] = "", cmd[32] = "", op[16] = "", names_arg[256] = "";
        long long expected = KBUS_VERSION_ANY;
        Hello__V1__HelloReply reply = HELLO__V1__HELLO_REPLY__INIT;
        const Hello__V1__HelloReply *st;
        kbus_aggregate *agg;
        char out[1100], *save = NULL, *name;
        int before = applies;

        (void)arg;
        sscanf(req->name, "%31s %31s %15s %255s %lld", id, cmd, op, names_arg,
               &expected);
        if (kbus_aggregate_load(call, &names, id, strlen(id),
                                strcmp(cmd, "-") ? cmd : NULL, NULL, &agg))
                return;
        loads++;
        load_applies_last = applies - before;
        if (load_applies_last > load_applies_max)
                load_applies_max = load_applies_last;
        if (!strcmp(op, "from")) {
                /* ARG is the source, EXPECTED its sequence number. */
                Hello__V1__HelloRequest ev = HELLO__V1__HELLO_REQUEST__INIT;
                snprintf(out, sizeof(out), "%s%lld", names_arg, expected);
                ev.name = out;
                if (kbus_aggregate_from(agg, names_arg, (uint64_t)expected) ||
                    kbus_aggregate_append(agg, KBUS_VERSION_ANY, &ev.base))
                        return;
        }
        if (!strcmp(op, "refuse")) {
                kbus_aggregate_refuse(agg, KBUS_FAILED_PRECONDITION, "no");
                return;
        }
        if (!strcmp(op, "add")) {
                for (name = strtok_r(names_arg, "+", &save); name;
                     name = strtok_r(NULL, "+", &save)) {
                        Hello__V1__HelloRequest ev =
                            HELLO__V1__HELLO_REQUEST__INIT;
                        ev.name = name;
                        /* strtok_r leaves save at "" after the last. */
                        if (kbus_aggregate_append(
                                agg,
                                save && *save ? KBUS_VERSION_ANY : expected,
                                &ev.base))
                                return;
                }
        }
        st = (const Hello__V1__HelloReply *)kbus_aggregate_state(agg);
        snprintf(out, sizeof(out), "%s@%" PRIu64, st->message,
                 kbus_aggregate_version(agg));
        reply.message = out;
        kbus_aggregate_reply(agg, &reply.base);
}

static kbus_service_desc svc;
static kbus_method_desc methods[1];

static kbus_runtime *server(void) {
        static const hello_v1_greeter_handlers h = {.say_hello = say_hello};
        kbus_runtime *rt = test_runtime(GROUP, GROUP);
        assert_int_equal(kbus_aggregate_attach(rt, &names, NULL), 0);
        assert_int_equal(kbus_aggregate_attach(rt, &names, NULL),
                         KBUS_ALREADY_EXISTS);
        assert_int_equal(kbus_serve(rt, &svc, &h, sizeof(h), NULL), 0);
        assert_int_equal(kbus_runtime_start(rt), 0);
        assert_true(run_until_ready(rt, 60));
        return rt;
}

struct answer {
        bool done;
        kbus_status status;
        char text[1100];
};

static void on_reply(kbus_status status, const char *message,
                     const Hello__V1__HelloReply *reply, void *arg) {
        struct answer *a = arg;
        a->status = status;
        snprintf(a->text, sizeof(a->text), "%s",
                 status == KBUS_OK ? reply->message : message);
        a->done = true;
}

static kbus_call_opts *opts;

/* Runs one command and returns its answer. */
static struct answer call(kbus_runtime *cl, const char *fmt, ...) {
        Hello__V1__HelloRequest req = HELLO__V1__HELLO_REQUEST__INIT;
        struct answer a = {0};
        char text[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        req.name = text;
        assert_int_equal(
            hello_v1_greeter_say_hello(cl, &req, opts, on_reply, &a), 0);
        if (!run_until(&a.done, 60))
                fail_msg("no answer to \"%s\"", text);
        return a;
}

static void expect(struct answer a, kbus_status status, const char *text,
                   const char *what) {
        if (a.status != status || (text && strcmp(a.text, text)))
                fail_msg("%s: %s \"%s\", want %s \"%s\"", what,
                         kbus_status_name(a.status), a.text,
                         kbus_status_name(status), text ? text : "...");
}

/* The names 0..n-1 as the state lists them. */
static void names_upto(char *out, size_t len, int n) {
        out[0] = '\0';
        for (int i = 0; i < n; i++)
                snprintf(out + strlen(out), len - strlen(out), "n%d,", i);
}

struct seen {
        uint64_t versions;
        bool in_order, causes_ok;
        char last_state[1100];
};

static int on_history(uint64_t version, int64_t time_ms, const char *cause,
                      const char *correlation, const ProtobufCMessage *event,
                      const ProtobufCMessage *state, void *arg) {
        struct seen *s = arg;
        char want[32];
        (void)event;
        if (version != s->versions + 1 || time_ms <= 0)
                s->in_order = false;
        /* Commands c1..c25 appended one event each, then x2, r1... */
        if (version <= 25)
                snprintf(want, sizeof(want), "c%" PRIu64, version);
        else
                snprintf(want, sizeof(want), "%s", cause);
        /* Without a command id, the correlation id is the trace id. */
        if (strcmp(cause, want) ||
            (cause[0] ? strcmp(correlation, cause) : strlen(correlation) != 32))
                s->causes_ok = false;
        s->versions = version;
        snprintf(s->last_state, sizeof(s->last_state), "%s",
                 ((const Hello__V1__HelloReply *)state)->message);
        return 0;
}

static void test_aggregate(void **state) {
        rd_kafka_mock_cluster_t *mock = kbus_broker_mock(test_broker);
        kbus_runtime *cl = test_runtime("agg-test-client", NULL);
        kbus_runtime *srv;
        ProtobufCMessage *replayed = NULL;
        struct seen seen = {0, true, true, ""};
        char want[1100], text[1100];
        uint64_t version = 0;
        struct answer a, first;

        (void)state;
        svc = hello_v1_greeter__service;
        svc.topic = TOPIC;
        methods[0] = svc.methods[0];
        methods[0].retry.max_attempts = 1; /* ABORTED is answered at once */
        svc.methods = methods;
        assert_int_equal(rd_kafka_mock_topic_create(mock, TOPIC, 1, 1), 0);
        assert_int_equal(rd_kafka_mock_topic_create(mock, HISTORY, 1, 1), 0);
        assert_int_equal(
            rd_kafka_mock_topic_create(mock, GROUP ".names.changelog", 1, 1),
            0);
        assert_int_equal(kbus_call_opts_new(&opts), 0);
        assert_int_equal(kbus_call_opts_set_topic(opts, TOPIC), 0);
        kbus_call_opts_set_timeout(opts, 20000);
        srv = server();

        /* 25 events, one per command: each load applies at most 10. */
        for (int i = 0; i < 25; i++) {
                a = call(cl, "a1 c%d add n%d %d", i + 1, i, i);
                names_upto(want, sizeof(want), i + 1);
                snprintf(text, sizeof(text), "%s@%d", want, i + 1);
                expect(a, KBUS_OK, text, "append");
        }
        assert_true(load_applies_max <= EVERY - 1);
        assert_int_equal(load_applies_max, EVERY - 1);
        a = call(cl, "a1 - get");
        names_upto(want, sizeof(want), 25);
        snprintf(text, sizeof(text), "%s@25", want);
        expect(a, KBUS_OK, text, "get");
        assert_int_equal(load_applies_last, 5); /* snapshot at 20 */

        /* Not at the expected version: ABORTED, and nothing written, the
         * command's first append included. */
        a = call(cl, "a1 x1 add y+z 7");
        expect(a, KBUS_ABORTED, NULL, "stale expected version");
        snprintf(text, sizeof(text), "%s@25", want);
        expect(call(cl, "a1 - get"), KBUS_OK, text, "after the conflict");
        a = call(cl, "a1 x2 add y+z 26");
        snprintf(text, sizeof(text), "%sy,z,@27", want);
        expect(a, KBUS_OK, text, "at the expected version");
        assert_int_equal(kbus_runtime_stat(srv, KBUS_STAT_AGGREGATE_CONFLICTS),
                         1);

        /* A repeated command is answered as the first time. */
        first = call(cl, "a1 r1 add q -1");
        expect(first, KBUS_OK, NULL, "r1");
        a = call(cl, "a1 r1 add q -1");
        expect(a, KBUS_OK, first.text, "r1 again");
        a = call(cl, "a1 r2 refuse");
        expect(a, KBUS_FAILED_PRECONDITION, "no", "r2");
        a = call(cl, "a1 r2 refuse");
        expect(a, KBUS_FAILED_PRECONDITION, "no", "r2 again");
        /* Remembered as refused: the same id cannot now be accepted. */
        a = call(cl, "a1 r2 add late -1");
        expect(a, KBUS_INVALID_ARGUMENT, NULL, "r2 on another request");
        assert_int_equal(kbus_runtime_stat(srv, KBUS_STAT_COMMANDS_REPEATED),
                         2);
        expect(call(cl, "a1 - get"), KBUS_OK, first.text, "after repeats");

        /* An event that does not apply fails the command, writing
         * nothing. */
        a = call(cl, "a1 p1 add poison -1");
        expect(a, KBUS_FAILED_PRECONDITION, NULL, "poison");
        expect(call(cl, "a1 - get"), KBUS_OK, first.text, "after poison");

        /* After REMEMBER later commands, r1 is forgotten: it runs again. */
        for (int i = 0; i < REMEMBER; i++)
                expect(call(cl, "a1 f%d refuse", i), KBUS_FAILED_PRECONDITION,
                       "no", "filler");
        a = call(cl, "a1 r1 add q -1");
        snprintf(text, sizeof(text), "%sy,z,q,q,@29", want);
        expect(a, KBUS_OK, text, "r1 forgotten");

        /* Numbered commands of ordered sources: a number not above the
         * highest seen is a copy, whatever the command id. */
        expect(call(cl, "a1 - from s 5"), KBUS_OK, NULL, "s5");
        expect(call(cl, "a1 - from s 3"), KBUS_ALREADY_EXISTS, NULL, "s3");
        expect(call(cl, "a1 - from s 5"), KBUS_ALREADY_EXISTS, NULL,
               "s5 again");
        expect(call(cl, "a1 - from t 1"), KBUS_OK, NULL, "t1");
        a = call(cl, "a1 - from s 6");
        snprintf(text, sizeof(text), "%sy,z,q,q,s5,t1,s6,@32", want);
        expect(a, KBUS_OK, text, "s6");

        /* A replay from scratch reads the history: the same state. */
        assert_int_equal(kbus_aggregate_replay(cl, &names, "a1", 2, on_history,
                                               &seen, &replayed, &version,
                                               30000),
                         0);
        assert_int_equal(version, 32);
        assert_true(seen.in_order);
        assert_true(seen.causes_ok);
        snprintf(text, sizeof(text), "%sy,z,q,q,s5,t1,s6,", want);
        assert_string_equal(((Hello__V1__HelloReply *)replayed)->message, text);
        assert_string_equal(seen.last_state, text);
        protobuf_c_message_free_unpacked(replayed, NULL);
        /* An aggregate without events. */
        assert_int_equal(kbus_aggregate_replay(cl, &names, "nobody", 6, NULL,
                                               NULL, &replayed, &version,
                                               30000),
                         0);
        assert_int_equal(version, 0);
        assert_string_equal(((Hello__V1__HelloReply *)replayed)->message, "");
        protobuf_c_message_free_unpacked(replayed, NULL);
        kbus_runtime_free(srv);

        /* Another runtime of the group restores it from the changelog,
         * commands remembered included. */
        srv = server();
        snprintf(text, sizeof(text), "%sy,z,q,q,s5,t1,s6,@32", want);
        expect(call(cl, "a1 - get"), KBUS_OK, text, "restored");
        expect(call(cl, "a1 - from s 6"), KBUS_ALREADY_EXISTS, NULL,
               "s6 after the restore");
        assert_true(load_applies_last <= EVERY - 1);
        snprintf(text, sizeof(text), "%sy,z,q,q,@29", want);
        expect(call(cl, "a1 r1 add q -1"), KBUS_OK, text,
               "r1 after the restore");
        assert_int_equal(kbus_runtime_stat(srv, KBUS_STAT_COMMANDS_REPEATED),
                         2);
        kbus_runtime_free(srv);
        kbus_call_opts_free(opts);
        kbus_runtime_free(cl);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_aggregate),
        };
        int rc;
        harness_up();
        rc = cmocka_run_group_tests(tests, NULL, NULL);
        harness_down();
        return rc;
}
