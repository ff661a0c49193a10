/*
 * ledger-client: runs ledger operations and prints the outcome of each;
 * with `run`, many at once, as a load generator that keeps a record of
 * every answer.
 *
 *   ledger-client [-c FILE] [-t TIMEOUT_MS] [-r RETRIES] [-i ID] OP...
 *   OP: deposit ACCOUNT AMOUNT | withdraw ACCOUNT AMOUNT |
 *       transfer FROM TO AMOUNT | balance ACCOUNT | audit ACCOUNT
 *   ledger-client run [-c FILE] [-t TIMEOUT_MS] [-n OPS] [-j IN_FLIGHT]
 *       [-a ACCOUNTS] [-s SEED] [-i ID] [-o LOG] [-T SECONDS] [-R PERCENT]
 *
 * Every operation that changes an account carries a command id, "ID-N"
 * for the Nth operation (ID: -i, or one made of the time and the process
 * id).  A call that ends in DEADLINE_EXCEEDED, UNAVAILABLE or
 * RESOURCE_EXHAUSTED is sent again with the same id, so its outcome is
 * learnt without the risk of applying it twice: the ledger answers a
 * command it applied before as it did then.  Running the same command
 * line again with the same -i does the same.
 *
 * Calls run in order, each after the previous one's answer, and print
 * "OK ACCOUNT BALANCE VERSION [in-transit N]" or "STATUS ACCOUNT:
 * message".  Audits run last: each prints the account's history read from
 * the topic ledger.v1.AccountHistory, one event a line with its time,
 * cause and correlation id, then "replayed ACCOUNT: balance=B
 * in-transit=T version=V", the state a replay from scratch gives.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "account.h"

static void usage(FILE *out) {
        fprintf(
            out,
            "usage: ledger-client [-c FILE] [-t TIMEOUT_MS] [-r RETRIES] "
            "[-i ID] OP...\n"
            "       ledger-client run [-c FILE] [-t TIMEOUT_MS] [-n OPS] "
            "[-j IN_FLIGHT]\n"
            "                     [-a ACCOUNTS] [-s SEED] [-i ID] [-o LOG] "
            "[-T SECONDS] [-R PERCENT]\n"
            "Runs ledger operations in order; OP is one of\n"
            "  deposit ACCOUNT AMOUNT | withdraw ACCOUNT AMOUNT |\n"
            "  transfer FROM TO AMOUNT | balance ACCOUNT | audit ACCOUNT\n"
            "(amounts in cents).  Prints \"OK ACCOUNT BALANCE VERSION\" (and "
            "\"in-transit N\"\nwhile transfers are on their way) or \"STATUS "
            "ACCOUNT: message\" for each; audits\nrun last and print the "
            "account's history and the state it replays to.  Exits 1\nif "
            "any operation failed.\n\n"
            "  -c FILE        kbus configuration file (libconfig format)\n"
            "  -t TIMEOUT_MS  deadline of each call (default 5000)\n"
            "  -r RETRIES     times a call ending DEADLINE_EXCEEDED, "
            "UNAVAILABLE or\n"
            "                 RESOURCE_EXHAUSTED is sent again with the same "
            "command id\n"
            "                 (default 5)\n"
            "  -i ID          command ids ID-1, ID-2, ... (default: made of "
            "the time and\n"
            "                 the process id); the same ID again repeats the "
            "same commands\n"
            "  -h, --help     this help\n\n"
            "run: sends OPS random operations (default 500), IN_FLIGHT at "
            "once (4), over\naccounts a0..a<ACCOUNTS-1> (8): transfers, "
            "some to accounts never opened\n(ghost0..ghost3: returned), "
            "deposits and withdrawals.  Prints \"ready\" once its\nreply "
            "consumer is, then \"done ops=N ok=... ops/s=...\".  Calls are "
            "sent again\nuntil answered, for at most SECONDS (120) in all; "
            "PERCENT (10) of the answered\nones are sent once more and must "
            "get the same answer.  LOG gets a line per\noperation: \"ID KIND "
            "ACCOUNT TO AMOUNT STATUS\".\n\n"
            "Environment: KBUS_BOOTSTRAP (the ledger's broker list), "
            "KBUS_LOW_LATENCY=1,\nKBUS_LOG_LEVEL.\n");
}

enum kind { OP_DEPOSIT, OP_WITHDRAW, OP_TRANSFER, OP_BALANCE, OP_AUDIT };
static const char *const kind_names[] = {"deposit", "withdraw", "transfer",
                                         "balance", "audit"};

struct client;

struct op {
        struct client *cl;
        enum kind kind;
        char account[32], to[32];
        int64_t amount;
        char id[96];
        int tries;
        bool repeating; /* sent again to check the answer */
        /* The first answer, for the repeat to match. */
        kbus_status status;
        char answer[256];
};

struct client {
        kbus_runtime *rt;
        kbus_call_opts *opts;
        bool run_mode;
        int retries;
        /* in order (list mode) */
        struct op *ops;
        int n_ops, next;
        /* at random (run mode) */
        long total, started, answered, ok, refused, resent, repeats, mismatches;
        int in_flight, max_in_flight, accounts, repeat_percent;
        unsigned seed;
        const char *prefix;
        FILE *log;
        int64_t t0_ms, give_up_after_ms, give_up_at_ms;
        struct event *tick;
        int failed;
};

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_op(struct op *op);
static void run_next(struct client *cl);
static void run_more(struct client *cl);

static bool worth_again(kbus_status s) {
        return s == KBUS_DEADLINE_EXCEEDED || s == KBUS_UNAVAILABLE ||
               s == KBUS_RESOURCE_EXHAUSTED;
}

/* What an answer says, to print it and to compare a repeat's with it. */
static void answer_text(const struct op *op, kbus_status status,
                        const char *message,
                        const Ledger__V1__BalanceReply *reply, char *out,
                        size_t len) {
        if (status != KBUS_OK)
                snprintf(out, len, "%s %s: %s", kbus_status_name(status),
                         op->account, message);
        else if (reply->in_transit)
                snprintf(out, len,
                         "OK %s %" PRId64 " %" PRIu64 " in-transit %" PRId64,
                         reply->account_id, reply->balance, reply->version,
                         reply->in_transit);
        else
                snprintf(out, len, "OK %s %" PRId64 " %" PRIu64,
                         reply->account_id, reply->balance, reply->version);
}

/* A repeat must get the answer the first call got.  A refusal's message
 * may be missing from one of them (a reply sent again after a crash
 * carries its status only), so refusals compare by status. */
static void check_repeat(struct op *op, kbus_status status, const char *text) {
        struct client *cl = op->cl;
        bool same = status == op->status &&
                    (status != KBUS_OK || !strcmp(text, op->answer));
        cl->repeats++;
        if (!same) {
                cl->mismatches++;
                printf("repeat-mismatch %s first=[%s] again=[%s]\n", op->id,
                       op->answer, text);
        }
}

/* The final answer of a run-mode operation. */
static void run_answered(struct op *op, kbus_status status, const char *text) {
        struct client *cl = op->cl;
        if (op->repeating) {
                check_repeat(op, status, text);
        } else {
                op->status = status;
                snprintf(op->answer, sizeof(op->answer), "%s", text);
                cl->answered++;
                if (status == KBUS_OK)
                        cl->ok++;
                else
                        cl->refused++;
                if (cl->log)
                        fprintf(cl->log, "%s %s %s %s %" PRId64 " %s\n", op->id,
                                kind_names[op->kind], op->account,
                                op->kind == OP_TRANSFER ? op->to : "-",
                                op->amount, kbus_status_name(status));
                if ((int)(rand_r(&cl->seed) % 100) < cl->repeat_percent) {
                        op->repeating = true;
                        op->tries = 0;
                        send_op(op);
                        return;
                }
        }
        free(op);
        cl->in_flight--;
        run_more(cl);
}

/* The answer to \p op, or why it could not be sent (\p sent false). */
static void answered(struct op *op, kbus_status status, const char *message,
                     const Ledger__V1__BalanceReply *reply, bool sent) {
        struct client *cl = op->cl;
        char text[256];

        if (sent && worth_again(status) &&
            (cl->run_mode ? now_ms() < cl->give_up_at_ms
                          : op->tries <= cl->retries)) {
                /* The outcome is unknown: ask again, same command id. */
                if (cl->run_mode)
                        cl->resent++;
                else
                        fprintf(stderr,
                                "ledger-client: %s %s: %s; sending it again "
                                "with command id %s\n",
                                kind_names[op->kind], op->account,
                                kbus_status_name(status), op->id);
                send_op(op);
                return;
        }
        answer_text(op, status, message, reply, text, sizeof(text));
        if (cl->run_mode) {
                if (worth_again(status) || !sent)
                        cl->failed++; /* gave up: outcome unknown */
                run_answered(op, status, text);
                return;
        }
        printf("%s\n", text);
        fflush(stdout);
        if (status != KBUS_OK)
                cl->failed++;
        run_next(cl);
}

static void on_reply(kbus_status status, const char *message,
                     const Ledger__V1__BalanceReply *reply, void *arg) {
        answered(arg, status, message, reply, true);
}

/* Sends \p op (again, when it was sent before). */
static void send_op(struct op *op) {
        struct client *cl = op->cl;
        int rc;

        op->tries++;
        if (op->kind == OP_DEPOSIT) {
                Ledger__V1__DepositRequest req =
                    LEDGER__V1__DEPOSIT_REQUEST__INIT;
                req.account_id = op->account;
                req.amount = op->amount;
                req.command_id = op->id;
                rc = ledger_v1_ledger_deposit(cl->rt, &req, cl->opts, on_reply,
                                              op);
        } else if (op->kind == OP_WITHDRAW) {
                Ledger__V1__WithdrawRequest req =
                    LEDGER__V1__WITHDRAW_REQUEST__INIT;
                req.account_id = op->account;
                req.amount = op->amount;
                req.command_id = op->id;
                rc = ledger_v1_ledger_withdraw(cl->rt, &req, cl->opts, on_reply,
                                               op);
        } else if (op->kind == OP_TRANSFER) {
                Ledger__V1__TransferRequest req =
                    LEDGER__V1__TRANSFER_REQUEST__INIT;
                req.from = op->account;
                req.to = op->to;
                req.amount = op->amount;
                req.transfer_id = op->id;
                rc = ledger_v1_ledger_transfer(cl->rt, &req, cl->opts, on_reply,
                                               op);
        } else {
                Ledger__V1__GetBalanceRequest req =
                    LEDGER__V1__GET_BALANCE_REQUEST__INIT;
                req.account_id = op->account;
                rc = ledger_v1_ledger_get_balance(cl->rt, &req, cl->opts,
                                                  on_reply, op);
        }
        if (rc == 0)
                return;
        /* Not sent: said as an answer would be, and not tried again. */
        answered(op, (kbus_status)rc, "cannot send", NULL, false);
}

/* ---- in order ---- */

static void run_next(struct client *cl) {
        while (cl->next < cl->n_ops) {
                struct op *op = &cl->ops[cl->next++];
                if (op->kind != OP_AUDIT) {
                        send_op(op);
                        return;
                }
        }
        kbus_runtime_shutdown(cl->rt);
}

static void rfc3339(int64_t ms, char out[32]) {
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + strlen(out), 32 - strlen(out), ".%03dZ",
                 (int)(ms % 1000));
}

static int print_event(uint64_t version, int64_t time_ms, const char *cause,
                       const char *correlation, const ProtobufCMessage *event,
                       const ProtobufCMessage *state, void *arg) {
        const Ledger__V1__Account *a = (const Ledger__V1__Account *)state;
        char when[32], what[300];
        (void)arg;
        rfc3339(time_ms, when);
        account_event_text((const Ledger__V1__AccountEvent *)event, what,
                           sizeof(what));
        printf("v%" PRIu64 " %s %s; balance=%" PRId64
               " cause=%s correlation=%s\n",
               version, when, what, a->balance, cause, correlation);
        return 0;
}

/* Prints \p account's history and the state a replay from scratch gives. */
static int audit(struct client *cl, const char *account) {
        ProtobufCMessage *state = NULL;
        const Ledger__V1__Account *a;
        uint64_t version = 0;
        int rc;

        printf("audit %s\n", account);
        rc = kbus_aggregate_replay(cl->rt, &account_aggregate, account,
                                   strlen(account), print_event, NULL, &state,
                                   &version, 30000);
        if (rc) {
                printf("%s %s: cannot replay its history\n",
                       kbus_status_name(rc), account);
                return rc;
        }
        a = (const Ledger__V1__Account *)state;
        printf("replayed %s: balance=%" PRId64 " in-transit=%" PRId64
               " version=%" PRIu64 "\n",
               account, a->balance, account_in_transit(a), version);
        fflush(stdout);
        protobuf_c_message_free_unpacked(state, NULL);
        return 0;
}

/* ---- at random ---- */

/* Starts operations until IN_FLIGHT are on their way, or shuts down once
 * all are answered. */
static void run_more(struct client *cl) {
        while (cl->in_flight < cl->max_in_flight && cl->started < cl->total) {
                struct op *op = calloc(1, sizeof(*op));
                int r = (int)(rand_r(&cl->seed) % 100);
                int from = (int)(rand_r(&cl->seed) % (unsigned)cl->accounts);
                int to =
                    (int)(rand_r(&cl->seed) % (unsigned)(cl->accounts - 1));
                if (!op) {
                        fprintf(stderr, "ledger-client: out of memory\n");
                        cl->failed++;
                        break;
                }
                op->cl = cl;
                snprintf(op->id, sizeof(op->id), "%s-%ld", cl->prefix,
                         ++cl->started);
                snprintf(op->account, sizeof(op->account), "a%d", from);
                op->amount = 1 + (int64_t)(rand_r(&cl->seed) % 2000);
                if (r < 40) {
                        op->kind = OP_TRANSFER;
                        snprintf(op->to, sizeof(op->to), "a%d",
                                 to >= from ? to + 1 : to);
                } else if (r < 50) {
                        op->kind = OP_TRANSFER;
                        snprintf(op->to, sizeof(op->to), "ghost%d", r % 4);
                } else if (r < 75) {
                        op->kind = OP_DEPOSIT;
                } else {
                        op->kind = OP_WITHDRAW;
                }
                cl->in_flight++;
                send_op(op);
        }
        if (cl->in_flight == 0 && cl->started == cl->total) {
                double s = (double)(now_ms() - cl->t0_ms) / 1000.0;
                printf("done ops=%ld ok=%ld refused=%ld resent=%ld "
                       "repeats=%ld mismatches=%ld unknown=%d seconds=%.1f "
                       "ops/s=%.0f\n",
                       cl->answered, cl->ok, cl->refused, cl->resent,
                       cl->repeats, cl->mismatches, cl->failed, s,
                       s > 0 ? (double)cl->answered / s : 0.0);
                fflush(stdout);
                kbus_runtime_shutdown(cl->rt);
        }
}

/* Waits for the runtime to be ready (its reply consumer fetching), then
 * starts. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
        struct client *cl = arg;
        (void)fd;
        (void)what;
        if (!kbus_runtime_ready(cl->rt))
                return;
        event_del(cl->tick);
        if (!cl->run_mode) {
                run_next(cl);
                return;
        }
        printf("ready\n");
        fflush(stdout);
        cl->t0_ms = now_ms();
        cl->give_up_at_ms = cl->t0_ms + cl->give_up_after_ms;
        run_more(cl);
}

static long parse_number(const char *what, const char *s, long min) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v < min) {
                fprintf(stderr,
                        "ledger-client: %s needs a number of at least %ld, "
                        "got '%s'\n",
                        what, min, s);
                exit(2);
        }
        return v;
}

static void copy_name(char *dst, size_t len, const char *src) {
        if (strlen(src) >= len || !src[0]) {
                fprintf(stderr,
                        "ledger-client: account names are 1 to %zu "
                        "characters: '%s'\n",
                        len - 1, src);
                exit(2);
        }
        strcpy(dst, src);
}

int main(int argc, char **argv) {
        struct client cl = {0};
        const char *file = NULL, *id = NULL, *log = NULL;
        const struct timeval every = {0, 20000};
        long timeout = 5000;
        char err[512], made_id[64];
        int rc = 0, i = 1, cmd_n = 0, calls = 0;

        cl.retries = 5;
        cl.total = 500;
        cl.max_in_flight = 4;
        cl.accounts = 8;
        cl.seed = 1;
        cl.repeat_percent = 10;
        cl.give_up_after_ms = 120000;
        if (argc > 1 && !strcmp(argv[1], "run")) {
                cl.run_mode = true;
                i = 2;
        }
        if (!cl.run_mode && !(cl.ops = calloc((size_t)argc, sizeof(*cl.ops))))
                return 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                bool more = i + 1 < argc;
                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(a, "-c") && more) {
                        file = argv[++i];
                } else if (!strcmp(a, "-t") && more) {
                        timeout = parse_number("-t", argv[++i], 1);
                } else if (!strcmp(a, "-r") && more && !cl.run_mode) {
                        cl.retries = (int)parse_number("-r", argv[++i], 0);
                } else if (!strcmp(a, "-i") && more) {
                        id = argv[++i];
                } else if (cl.run_mode && more && a[0] == '-' &&
                           strchr("njasoTR", a[1]) && !a[2]) {
                        const char *v = argv[++i];
                        switch (a[1]) {
                        case 'n':
                                cl.total = parse_number("-n", v, 1);
                                break;
                        case 'j':
                                cl.max_in_flight =
                                    (int)parse_number("-j", v, 1);
                                break;
                        case 'a':
                                cl.accounts = (int)parse_number("-a", v, 2);
                                break;
                        case 's':
                                cl.seed = (unsigned)parse_number("-s", v, 0);
                                break;
                        case 'o':
                                log = v;
                                break;
                        case 'T':
                                cl.give_up_after_ms =
                                    1000 * parse_number("-T", v, 1);
                                break;
                        case 'R':
                                cl.repeat_percent =
                                    (int)parse_number("-R", v, 0);
                                break;
                        }
                } else if (!cl.run_mode &&
                           (!strcmp(a, "deposit") || !strcmp(a, "withdraw")) &&
                           i + 2 < argc) {
                        struct op *op = &cl.ops[cl.n_ops++];
                        op->kind = a[0] == 'd' ? OP_DEPOSIT : OP_WITHDRAW;
                        copy_name(op->account, sizeof(op->account),
                                  argv[i + 1]);
                        op->amount = parse_number(a, argv[i + 2], 1);
                        i += 2;
                } else if (!cl.run_mode && !strcmp(a, "transfer") &&
                           i + 3 < argc) {
                        struct op *op = &cl.ops[cl.n_ops++];
                        op->kind = OP_TRANSFER;
                        copy_name(op->account, sizeof(op->account),
                                  argv[i + 1]);
                        copy_name(op->to, sizeof(op->to), argv[i + 2]);
                        op->amount = parse_number(a, argv[i + 3], 1);
                        i += 3;
                } else if (!cl.run_mode &&
                           (!strcmp(a, "balance") || !strcmp(a, "audit")) &&
                           more) {
                        struct op *op = &cl.ops[cl.n_ops++];
                        op->kind = a[0] == 'b' ? OP_BALANCE : OP_AUDIT;
                        copy_name(op->account, sizeof(op->account), argv[++i]);
                } else {
                        fprintf(stderr, "ledger-client: bad argument '%s'\n",
                                a);
                        usage(stderr);
                        return 2;
                }
        }
        if (!cl.run_mode && cl.n_ops == 0) {
                usage(stderr);
                return 2;
        }
        if (!id) {
                snprintf(made_id, sizeof(made_id), "%lx%05lx", (long)time(NULL),
                         (long)getpid() & 0xfffff);
                id = made_id;
        }
        cl.prefix = id;
        for (int k = 0; !cl.run_mode && k < cl.n_ops; k++)
                if (cl.ops[k].kind != OP_BALANCE && cl.ops[k].kind != OP_AUDIT)
                        snprintf(cl.ops[k].id, sizeof(cl.ops[k].id), "%s-%d",
                                 id, ++cmd_n);
        for (int k = 0; !cl.run_mode && k < cl.n_ops; k++)
                cl.ops[k].cl = &cl;
        if (log && !(cl.log = fopen(log, "w"))) {
                perror(log);
                return 1;
        }
        if (kbus_runtime_new_from_file(&cl.rt, "ledger-client", file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "ledger-client: %s\n", err);
                return 1;
        }
        if (kbus_call_opts_new(&cl.opts) == 0)
                kbus_call_opts_set_timeout(cl.opts, timeout);
        /* Declared before start: the reply consumer is assigned and the
         * ledger topic's leaders are looked up at once, and the runtime
         * is ready only when replies can come in. */
        rc = kbus_client_prepare(cl.rt, &ledger_v1_ledger__service);
        if (!rc) {
                cl.tick = event_new(kbus_runtime_event_base(cl.rt), -1,
                                    EV_PERSIST, on_tick, &cl);
                if (!cl.tick || event_add(cl.tick, &every))
                        rc = KBUS_RESOURCE_EXHAUSTED;
        }
        for (int k = 0; !cl.run_mode && k < cl.n_ops; k++)
                calls += cl.ops[k].kind != OP_AUDIT;
        if (!rc && (cl.run_mode || calls))
                rc = kbus_runtime_run(cl.rt);
        if (rc)
                fprintf(stderr, "ledger-client: %s\n", kbus_strerror(rc));
        /* The audits, last: they read the history with a consumer of their
         * own, which blocks, so outside the loop. */
        for (int k = 0; !rc && k < cl.n_ops; k++)
                if (!cl.run_mode && cl.ops[k].kind == OP_AUDIT &&
                    audit(&cl, cl.ops[k].account))
                        cl.failed++;
        if (cl.tick)
                event_free(cl.tick);
        kbus_call_opts_free(cl.opts);
        kbus_runtime_free(cl.rt);
        if (cl.log)
                fclose(cl.log);
        free(cl.ops);
        return rc || cl.failed || cl.mismatches ? 1 : 0;
}
