/*
 * ledger-client: runs ledger operations one after another and prints the
 * outcome of each.
 *
 *   ledger-client [-c FILE] [-t TIMEOUT_MS] OP...
 *   OP: deposit ACCOUNT AMOUNT | withdraw ACCOUNT AMOUNT | balance ACCOUNT
 *
 * The operations run in order, each after the previous one's reply, so
 * that a script can rely on their effects being applied in that order.
 * Each prints one line: "OK ACCOUNT BALANCE VERSION" or "STATUS ACCOUNT:
 * message".  The exit status is 0 when every operation succeeded, 1 when
 * any did not.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.kbus.h"

static void usage(FILE *out) {
        fprintf(out,
                "usage: ledger-client [-c FILE] [-t TIMEOUT_MS] OP...\n"
                "Runs ledger operations in order; OP is one of\n"
                "  deposit ACCOUNT AMOUNT | withdraw ACCOUNT AMOUNT | "
                "balance ACCOUNT\n"
                "(amounts in cents).  Prints \"OK ACCOUNT BALANCE VERSION\" "
                "or \"STATUS ACCOUNT: message\"\nfor each; exits 1 if any "
                "failed.\n\n"
                "  -c FILE        kbus configuration file (libconfig format)\n"
                "  -t TIMEOUT_MS  deadline of each call (default 5000)\n"
                "  -h, --help     this help\n\n"
                "Environment: KBUS_BOOTSTRAP (the ledger's broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

enum op_kind { OP_DEPOSIT, OP_WITHDRAW, OP_BALANCE };

struct op {
        enum op_kind kind;
        char *account;
        int64_t amount;
};

struct state {
        kbus_runtime *rt;
        kbus_call_opts *opts;
        struct op *ops;
        int n_ops;
        int next;
        int failed;
};

static void run_next(struct state *st);

static void on_reply(kbus_status status, const char *message,
                     const Ledger__V1__BalanceReply *reply, void *arg) {
        struct state *st = arg;
        const struct op *op = &st->ops[st->next - 1];
        if (status == KBUS_OK) {
                printf("OK %s %" PRId64 " %" PRIu64 "\n", reply->account_id,
                       reply->balance, reply->version);
        } else {
                printf("%s %s: %s\n", kbus_status_name(status), op->account,
                       message);
                st->failed++;
        }
        fflush(stdout);
        run_next(st);
}

/* Starts the next operation, or shuts down after the last one. */
static void run_next(struct state *st) {
        while (st->next < st->n_ops) {
                const struct op *op = &st->ops[st->next++];
                int rc;
                if (op->kind == OP_DEPOSIT) {
                        Ledger__V1__DepositRequest req =
                            LEDGER__V1__DEPOSIT_REQUEST__INIT;
                        req.account_id = op->account;
                        req.amount = op->amount;
                        rc = ledger_v1_ledger_deposit(st->rt, &req, st->opts,
                                                      on_reply, st);
                } else if (op->kind == OP_WITHDRAW) {
                        Ledger__V1__WithdrawRequest req =
                            LEDGER__V1__WITHDRAW_REQUEST__INIT;
                        req.account_id = op->account;
                        req.amount = op->amount;
                        rc = ledger_v1_ledger_withdraw(st->rt, &req, st->opts,
                                                       on_reply, st);
                } else {
                        Ledger__V1__GetBalanceRequest req =
                            LEDGER__V1__GET_BALANCE_REQUEST__INIT;
                        req.account_id = op->account;
                        rc = ledger_v1_ledger_get_balance(
                            st->rt, &req, st->opts, on_reply, st);
                }
                if (rc == 0)
                        return;
                printf("%s %s: cannot send\n", kbus_status_name(rc),
                       op->account);
                st->failed++;
        }
        kbus_runtime_shutdown(st->rt);
}

static long parse_number(const char *what, const char *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v <= 0) {
                fprintf(stderr,
                        "ledger-client: %s needs a positive number, "
                        "got '%s'\n",
                        what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        struct state st = {0};
        const char *file = NULL;
        long timeout = 5000;
        char err[512];
        int rc = 0, i;

        st.ops = calloc((size_t)argc, sizeof(*st.ops));
        if (!st.ops)
                return 1;
        for (i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
                        timeout = parse_number("-t", argv[++i]);
                } else if ((!strcmp(argv[i], "deposit") ||
                            !strcmp(argv[i], "withdraw")) &&
                           i + 2 < argc) {
                        struct op *op = &st.ops[st.n_ops++];
                        op->kind = argv[i][0] == 'd' ? OP_DEPOSIT : OP_WITHDRAW;
                        op->account = argv[i + 1];
                        op->amount = parse_number(argv[i], argv[i + 2]);
                        i += 2;
                } else if (!strcmp(argv[i], "balance") && i + 1 < argc) {
                        struct op *op = &st.ops[st.n_ops++];
                        op->kind = OP_BALANCE;
                        op->account = argv[++i];
                } else {
                        fprintf(stderr, "ledger-client: bad argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (st.n_ops == 0) {
                usage(stderr);
                return 2;
        }
        if (kbus_runtime_new_from_file(&st.rt, "ledger-client", file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "ledger-client: %s\n", err);
                return 1;
        }
        /* Declared before start: the reply consumer is assigned and the
         * ledger topic's leaders are looked up at once, so the first call
         * does not wait for either. */
        rc = kbus_client_prepare(st.rt, &ledger_v1_ledger__service);
        if (!rc)
                rc = kbus_runtime_start(st.rt);
        if (rc) {
                fprintf(stderr, "ledger-client: %s\n", kbus_strerror(rc));
                kbus_runtime_free(st.rt);
                return 1;
        }
        if (kbus_call_opts_new(&st.opts) == 0)
                kbus_call_opts_set_timeout(st.opts, timeout);
        run_next(&st);
        rc = kbus_runtime_run(st.rt);
        kbus_call_opts_free(st.opts);
        kbus_runtime_free(st.rt);
        free(st.ops);
        return rc || st.failed ? 1 : 0;
}
