/*
 * ledger: an account ledger kept by event sourcing.
 *
 *   ledger [-c FILE]
 *
 * Serves ledger.v1.Ledger.  Each account is a kbus aggregate (account.c):
 * a command loads it (its latest snapshot plus at most 10 events after
 * it), checks the rule it must keep (no balance below zero), appends
 * events, and answers.  kbus writes the account back to the table
 * "accounts" of the group "ledger" and every event to the history topic
 * ledger.v1.AccountHistory, once the command completes; a crash at any
 * point leaves both as if the command had run exactly once, or not at all.
 *
 * Every command carries an id, and an account remembers the ids of its
 * last 64 commands with their answers: a command sent again is answered
 * as the first time, never applied twice.
 *
 * A transfer is a saga over two accounts, each step a command keyed by
 * the account it changes, sent with the step before it (kbus_call_send):
 *   Transfer (keyed by from): money leaves `from`, in transit;
 *   Credit   (keyed by to):   `to` receives it, or refuses it;
 *   Settle   (keyed by from): the transfer is done, or the money returns.
 * Each step is applied once however often it is delivered (a copy of a
 * credit is known by its sender's sequence number, of a settlement by the
 * transfer no longer in transit), and the next is sent only once its own
 * changes are written, so money is never made or lost: at any moment the balances plus the money in transit are the
 * deposits minus the withdrawals.
 *
 * Prints "ready" on standard output once its consumer group has joined
 * and its accounts are restored: requests sent then are handled at once.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "account.h"

static void usage(FILE *out) {
        fprintf(out,
                "usage: ledger [-c FILE]\n"
                "Serves ledger.v1.Ledger: accounts kept as event-sourced "
                "aggregates in the table\n\"accounts\" of group \"ledger\", "
                "their events on " ACCOUNT_HISTORY_TOPIC ".\n"
                "Prints \"ready\" once requests are handled at once; runs "
                "until SIGINT or SIGTERM.\n\n"
                "  -c FILE     kbus configuration file (libconfig format; "
                "state_dir keeps\n              snapshots of the table for "
                "faster restarts)\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list; with the default "
                "embedded broker the\nledger starts empty every time), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

static const kbus_method_desc *credit_method, *settle_method;

/* Completes \p agg's command with the account's balance. */
static void reply_balance(kbus_aggregate *agg, const char *id) {
        const Ledger__V1__Account *a =
            (const Ledger__V1__Account *)kbus_aggregate_state(agg);
        Ledger__V1__BalanceReply reply = LEDGER__V1__BALANCE_REPLY__INIT;
        reply.account_id = (char *)id;
        reply.balance = a->balance;
        reply.version = kbus_aggregate_version(agg);
        reply.in_transit = account_in_transit(a);
        kbus_aggregate_reply(agg, &reply.base);
}

static bool valid(kbus_call *call, const char *id, int64_t amount,
                  const char *command_id) {
        const char *why = !id[0]           ? "account_id is empty"
                          : amount <= 0    ? "amount must be positive"
                          : !command_id[0] ? "command_id is empty"
                                           : NULL;
        if (why)
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT, why);
        return !why;
}

/* The version a command expects, 0 meaning any. */
static int64_t expected(uint64_t v) {
        return v ? (int64_t)v : KBUS_VERSION_ANY;
}

static void deposit(kbus_call *call, const Ledger__V1__DepositRequest *req,
                    void *arg) {
        Ledger__V1__AccountEvent ev = LEDGER__V1__ACCOUNT_EVENT__INIT;
        Ledger__V1__AccountEvent__Deposited d =
            LEDGER__V1__ACCOUNT_EVENT__DEPOSITED__INIT;
        kbus_aggregate *agg;

        (void)arg;
        if (!valid(call, req->account_id, req->amount, req->command_id) ||
            kbus_aggregate_load(call, &account_aggregate, NULL, 0,
                                req->command_id, NULL, &agg))
                return;
        d.amount = req->amount;
        ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_DEPOSITED;
        ev.deposited = &d;
        if (kbus_aggregate_append(agg, expected(req->expected_version),
                                  &ev.base))
                return;
        reply_balance(agg, req->account_id);
}

/* Refuses \p agg's command unless its balance covers \p amount; true when
 * it does. */
static bool covers(kbus_aggregate *agg, int64_t amount) {
        const Ledger__V1__Account *a =
            (const Ledger__V1__Account *)kbus_aggregate_state(agg);
        char why[128];
        if (a->balance >= amount)
                return true;
        snprintf(why, sizeof(why),
                 "insufficient funds: balance %" PRId64 ", asked for %" PRId64,
                 a->balance, amount);
        kbus_aggregate_refuse(agg, KBUS_FAILED_PRECONDITION, why);
        return false;
}

static void withdraw(kbus_call *call, const Ledger__V1__WithdrawRequest *req,
                     void *arg) {
        Ledger__V1__AccountEvent ev = LEDGER__V1__ACCOUNT_EVENT__INIT;
        Ledger__V1__AccountEvent__Withdrawn w =
            LEDGER__V1__ACCOUNT_EVENT__WITHDRAWN__INIT;
        kbus_aggregate *agg;

        (void)arg;
        if (!valid(call, req->account_id, req->amount, req->command_id) ||
            kbus_aggregate_load(call, &account_aggregate, NULL, 0,
                                req->command_id, NULL, &agg) ||
            !covers(agg, req->amount))
                return;
        w.amount = req->amount;
        ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_WITHDRAWN;
        ev.withdrawn = &w;
        if (kbus_aggregate_append(agg, expected(req->expected_version),
                                  &ev.base))
                return;
        reply_balance(agg, req->account_id);
}

/* Step 1 of a transfer, on `from`. */
static void transfer(kbus_call *call, const Ledger__V1__TransferRequest *req,
                     void *arg) {
        Ledger__V1__AccountEvent ev = LEDGER__V1__ACCOUNT_EVENT__INIT;
        Ledger__V1__AccountEvent__TransferSent s =
            LEDGER__V1__ACCOUNT_EVENT__TRANSFER_SENT__INIT;
        Ledger__V1__CreditRequest credit = LEDGER__V1__CREDIT_REQUEST__INIT;
        kbus_aggregate *agg;
        int rc;

        (void)arg;
        if (!valid(call, req->from, req->amount, req->transfer_id))
                return;
        if (!req->to[0] || !strcmp(req->to, req->from)) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "`to` must name another account");
                return;
        }
        /* The transfer id is the command id of this step and the
         * correlation id of every event of the saga. */
        if (kbus_aggregate_load(call, &account_aggregate, NULL, 0,
                                req->transfer_id, req->transfer_id, &agg) ||
            !covers(agg, req->amount))
                return;
        s.transfer_id = req->transfer_id;
        s.to = req->to;
        s.amount = req->amount;
        ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_SENT;
        ev.sent = &s;
        if (kbus_aggregate_append(agg, KBUS_VERSION_ANY, &ev.base))
                return;
        credit.transfer_id = req->transfer_id;
        credit.from = req->from;
        credit.to = req->to;
        credit.amount = req->amount;
        credit.seq = kbus_aggregate_version(agg);
        /* Sent once the debit is written, never without it. */
        rc = kbus_call_send(call, &ledger_v1_ledger__service, credit_method,
                            &credit.base);
        if (rc) {
                kbus_aggregate_fail(agg, (kbus_status)rc,
                                    "cannot send the credit");
                return;
        }
        reply_balance(agg, req->from);
}

/* The ids of a transfer's later steps: "<transfer id>/credit", ... */
static void step_id(char *out, size_t len, const char *transfer_id,
                    const char *step) {
        snprintf(out, len, "%s/%s", transfer_id, step);
}

/* Step 2, on `to`: credit it, or refuse (an account never opened), and
 * tell `from` either way. */
static void credit(kbus_call *call, const Ledger__V1__CreditRequest *req,
                   void *arg) {
        Ledger__V1__AccountEvent ev = LEDGER__V1__ACCOUNT_EVENT__INIT;
        Ledger__V1__AccountEvent__TransferReceived r =
            LEDGER__V1__ACCOUNT_EVENT__TRANSFER_RECEIVED__INIT;
        Ledger__V1__SettleRequest settle = LEDGER__V1__SETTLE_REQUEST__INIT;
        kbus_aggregate *agg;
        char id[300], why[300] = "";
        int rc;

        (void)arg;
        step_id(id, sizeof(id), req->transfer_id, "credit");
        /* A copy of this credit, sent again after a crash, may come after
         * more commands than `to` remembers: the sender's sequence number
         * knows it. */
        if (kbus_aggregate_load(call, &account_aggregate, NULL, 0, id,
                                req->transfer_id, &agg) ||
            kbus_aggregate_from(agg, req->from, req->seq))
                return;
        settle.transfer_id = req->transfer_id;
        settle.from = req->from;
        settle.to = req->to;
        settle.amount = req->amount;
        if (kbus_aggregate_version(agg) == 0) {
                snprintf(why, sizeof(why), "no account %s", req->to);
                settle.refused = why;
        } else {
                r.transfer_id = req->transfer_id;
                r.from = req->from;
                r.amount = req->amount;
                ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_RECEIVED;
                ev.received = &r;
                if (kbus_aggregate_append(agg, KBUS_VERSION_ANY, &ev.base))
                        return;
        }
        rc = kbus_call_send(call, &ledger_v1_ledger__service, settle_method,
                            &settle.base);
        if (rc)
                kbus_aggregate_fail(agg, (kbus_status)rc,
                                    "cannot send the settlement");
        else if (why[0])
                /* Remembered as refused, so that the credit can never be
                 * made later, once the money went back. */
                kbus_aggregate_refuse(agg, KBUS_FAILED_PRECONDITION, why);
        else
                kbus_aggregate_reply(agg, NULL);
}

/* Whether transfer \p id of \p agg's account is in transit. */
static bool in_transit(kbus_aggregate *agg, const char *id) {
        const Ledger__V1__Account *a =
            (const Ledger__V1__Account *)kbus_aggregate_state(agg);
        for (size_t i = 0; i < a->n_outgoing; i++)
                if (!strcmp(a->outgoing[i]->transfer_id, id))
                        return true;
        return false;
}

/* Step 3, on `from`: the transfer is done, or its money comes back. */
static void settle(kbus_call *call, const Ledger__V1__SettleRequest *req,
                   void *arg) {
        Ledger__V1__AccountEvent ev = LEDGER__V1__ACCOUNT_EVENT__INIT;
        Ledger__V1__AccountEvent__TransferSettled s =
            LEDGER__V1__ACCOUNT_EVENT__TRANSFER_SETTLED__INIT;
        Ledger__V1__AccountEvent__TransferReturned r =
            LEDGER__V1__ACCOUNT_EVENT__TRANSFER_RETURNED__INIT;
        kbus_aggregate *agg;
        char id[300];

        (void)arg;
        step_id(id, sizeof(id), req->transfer_id, "settle");
        if (kbus_aggregate_load(call, &account_aggregate, NULL, 0, id,
                                req->transfer_id, &agg))
                return;
        if (!in_transit(agg, req->transfer_id)) {
                /* Settled already: a copy sent again after a crash. */
                kbus_aggregate_reply(agg, NULL);
                return;
        }
        if (req->refused[0]) {
                r.transfer_id = req->transfer_id;
                r.amount = req->amount;
                r.reason = req->refused;
                ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_RETURNED;
                ev.returned = &r;
        } else {
                s.transfer_id = req->transfer_id;
                ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_SETTLED;
                ev.settled = &s;
        }
        if (kbus_aggregate_append(agg, KBUS_VERSION_ANY, &ev.base))
                return;
        kbus_aggregate_reply(agg, NULL);
}

static void get_balance(kbus_call *call,
                        const Ledger__V1__GetBalanceRequest *req, void *arg) {
        kbus_aggregate *agg;
        (void)arg;
        if (kbus_aggregate_load(call, &account_aggregate, NULL, 0, NULL, NULL,
                                &agg))
                return;
        if (kbus_aggregate_version(agg) == 0) {
                kbus_aggregate_fail(agg, KBUS_NOT_FOUND, "no such account");
                return;
        }
        reply_balance(agg, req->account_id);
}

static const kbus_method_desc *method(const char *name) {
        for (size_t i = 0; i < ledger_v1_ledger__service.n_methods; i++)
                if (!strcmp(ledger_v1_ledger__service.methods[i].name, name))
                        return &ledger_v1_ledger__service.methods[i];
        return NULL;
}

/* Says "ready" once, when the runtime is: its group joined and its
 * accounts restored. */
static void say_ready(evutil_socket_t fd, short what, void *arg) {
        static bool said;
        (void)fd;
        (void)what;
        if (!said && kbus_runtime_ready(arg)) {
                printf("ready\n");
                fflush(stdout);
                said = true;
        }
}

int main(int argc, char **argv) {
        static const ledger_v1_ledger_handlers handlers = {
            .deposit = deposit,
            .withdraw = withdraw,
            .transfer = transfer,
            .get_balance = get_balance,
            .credit = credit,
            .settle = settle,
        };
        const struct timeval every = {0, 50000};
        const char *file = NULL;
        struct event *tick = NULL;
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
                        fprintf(stderr, "ledger: unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        credit_method = method("Credit");
        settle_method = method("Settle");
        if (kbus_runtime_new_from_file(&rt, "ledger", file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "ledger: %s\n", err);
                return 1;
        }
        rc = kbus_aggregate_attach(rt, &account_aggregate, NULL);
        if (!rc)
                rc = ledger_v1_ledger_serve(rt, &handlers, NULL);
        if (!rc) {
                tick = event_new(kbus_runtime_event_base(rt), -1, EV_PERSIST,
                                 say_ready, rt);
                if (!tick || event_add(tick, &every))
                        rc = KBUS_RESOURCE_EXHAUSTED;
        }
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, "ledger: %s\n", kbus_strerror(rc));
        if (tick)
                event_free(tick);
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
