/*
 * ledger: an account ledger kept by event sourcing.
 *
 *   ledger [-c FILE]
 *
 * The topic ledger.v1.AccountEvents is the source of truth.  At start the
 * ledger reads it from the beginning, in a consumer group of its own that
 * no earlier run has used (so the broker has no committed offset for it
 * and the runtime's auto.offset.reset=earliest applies), and rebuilds every
 * balance from the events.  Only when it has read up to the end offsets it
 * found at start does it serve the ledger.v1.Ledger RPC.  Each accepted
 * Deposit or Withdraw is appended as an AccountEvent before the balance in
 * memory changes, and the caller is answered once the event is delivered.
 *
 * The end offsets come from librdkafka directly (a short-lived handle
 * querying watermarks), because the kbus API has no call for them.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "ledger.kbus.h"
#include "table.h"

#define EVENT_TOPIC "ledger.v1.AccountEvents"

static void usage(FILE *out) {
        fprintf(out,
                "usage: ledger [-c FILE]\n"
                "Rebuilds account balances by replaying the topic " EVENT_TOPIC
                " from the\nbeginning, prints \"ready\" on "
                "stdout, then serves ledger.v1.Ledger until SIGINT or "
                "SIGTERM.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list; with the default "
                "embedded broker the\nledger starts empty every time), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

struct account {
        int64_t balance;
        uint64_t version;
        /* The request that made the latest change, by its record: if it
         * comes back, it must not change the balance twice. */
        int32_t last_partition;
        int64_t last_offset;
};

/* Replay progress of one partition: the events below end_offset existed
 * when the ledger started, and must all be applied before it serves. */
struct part {
        int64_t end_offset;
};

struct ledger {
        kbus_runtime *rt;
        table *accounts; /* account id -> struct account */
        struct part *parts;
        int n_parts;
        int64_t to_replay; /* events still to apply before serving */
        int64_t replayed;
        bool serving;
};

static struct account *account_find(struct ledger *lg, const char *id,
                                    bool create) {
        struct account *a = table_get(lg->accounts, id);
        if (a || !create)
                return a;
        if (!(a = calloc(1, sizeof(*a))))
                return NULL;
        a->last_offset = -1;
        table_put(lg->accounts, id, a);
        return a;
}

static void ledger_fini(struct ledger *lg) {
        table_free(lg->accounts, free);
        free(lg->parts);
}

/* ---- the RPC ---- */

static void reply_balance(kbus_call *call, const struct account *a,
                          const char *id) {
        Ledger__V1__BalanceReply reply = LEDGER__V1__BALANCE_REPLY__INIT;
        reply.account_id = (char *)id;
        reply.balance = a->balance;
        reply.version = a->version;
        /* All three methods reply with the same message type, so one
         * reply function serves them. */
        ledger_v1_ledger_deposit_reply(call, &reply);
}

/* Appends the change of \p delta that took account \p id to \p version
 * and \p balance_after, as part of handling \p call: its reply waits for
 * the event's delivery. */
static int append(kbus_call *call, const char *id, uint64_t version,
                  int64_t balance_after, int64_t delta) {
        Ledger__V1__AccountEvent ev = LEDGER__V1__ACCOUNT_EVENT__INIT;
        Ledger__V1__AccountCredited credited =
            LEDGER__V1__ACCOUNT_CREDITED__INIT;
        Ledger__V1__AccountDebited debited = LEDGER__V1__ACCOUNT_DEBITED__INIT;

        ev.account_id = (char *)id;
        ev.version = version;
        ev.balance_after = balance_after;
        if (delta > 0) {
                credited.amount = delta;
                ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_CREDITED;
                ev.credited = &credited;
        } else {
                debited.amount = -delta;
                ev.change_case = LEDGER__V1__ACCOUNT_EVENT__CHANGE_DEBITED;
                ev.debited = &debited;
        }
        return ledger_v1_account_event_publish_from(call, &ev);
}

/* Appends one change and applies it.  The event goes first: a change that
 * could not be appended never happened. */
static void change(kbus_call *call, struct ledger *lg, const char *id,
                   int64_t delta) {
        struct account *a = account_find(lg, id, delta > 0);
        int64_t balance = a ? a->balance : 0;
        int32_t partition = kbus_call_partition(call);
        int64_t offset = kbus_call_offset(call);
        int rc;

        if (!a && delta > 0) {
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        if (a && a->last_partition == partition && a->last_offset == offset) {
                /* This request's change is made: it is back because its
                 * event was not delivered (the runtime retries it), or
                 * after a rebalance.  Publish the same event again (a
                 * replay applies each version once) rather than change
                 * the balance twice. */
                rc = append(call, id, a->version, a->balance, delta);
        } else if (balance + delta < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg),
                         "insufficient funds: balance %" PRId64
                         ", withdrawal %" PRId64,
                         balance, -delta);
                kbus_call_fail(call, KBUS_FAILED_PRECONDITION, msg);
                return;
        } else {
                rc = append(call, id, a->version + 1, balance + delta, delta);
                if (!rc) {
                        a->balance += delta;
                        a->version++;
                        a->last_partition = partition;
                        a->last_offset = offset;
                }
        }
        if (rc) {
                /* RESOURCE_EXHAUSTED (queue full) is retriable: nothing
                 * was queued, and the request is tried again. */
                kbus_call_fail(call, (kbus_status)rc,
                               "cannot append the event");
                return;
        }
        reply_balance(call, a, id);
}

static bool valid_amount(kbus_call *call, const char *id, int64_t amount) {
        if (!id[0]) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "account_id is empty");
                return false;
        }
        if (amount <= 0) {
                kbus_call_fail(call, KBUS_INVALID_ARGUMENT,
                               "amount must be positive");
                return false;
        }
        return true;
}

static void deposit(kbus_call *call, const Ledger__V1__DepositRequest *req,
                    void *arg) {
        if (valid_amount(call, req->account_id, req->amount))
                change(call, arg, req->account_id, req->amount);
}

static void withdraw(kbus_call *call, const Ledger__V1__WithdrawRequest *req,
                     void *arg) {
        if (valid_amount(call, req->account_id, req->amount))
                change(call, arg, req->account_id, -req->amount);
}

static void get_balance(kbus_call *call,
                        const Ledger__V1__GetBalanceRequest *req, void *arg) {
        struct account *a = account_find(arg, req->account_id, false);
        if (!a) {
                kbus_call_fail(call, KBUS_NOT_FOUND, "no such account");
                return;
        }
        reply_balance(call, a, req->account_id);
}

/* ---- the replay ---- */

static int start_serving(struct ledger *lg) {
        static const ledger_v1_ledger_handlers handlers = {
            .deposit = deposit,
            .withdraw = withdraw,
            .get_balance = get_balance,
        };
        int rc = ledger_v1_ledger_serve(lg->rt, &handlers, lg);
        if (rc) {
                fprintf(stderr, "ledger: cannot serve: %s\n",
                        kbus_strerror(rc));
                kbus_runtime_shutdown(lg->rt);
                return rc;
        }
        lg->serving = true;
        printf("ready: %" PRId64 " events replayed, %zu accounts\n",
               lg->replayed, table_count(lg->accounts));
        fflush(stdout);
        return 0;
}

static void apply(struct ledger *lg, const Ledger__V1__AccountEvent *ev) {
        struct account *a = account_find(lg, ev->account_id, true);
        int64_t delta = 0;

        if (!a)
                return;
        /* Versions make replay idempotent: an event read twice (after a
         * producer retry, say) is applied once. */
        if (ev->version <= a->version)
                return;
        if (ev->version != a->version + 1)
                fprintf(stderr,
                        "ledger: account %s: version %" PRIu64
                        " follows %" PRIu64 ": events are missing\n",
                        ev->account_id, ev->version, a->version);
        if (ev->change_case == LEDGER__V1__ACCOUNT_EVENT__CHANGE_CREDITED)
                delta = ev->credited->amount;
        else if (ev->change_case == LEDGER__V1__ACCOUNT_EVENT__CHANGE_DEBITED)
                delta = -ev->debited->amount;
        a->balance += delta;
        a->version = ev->version;
        if (a->balance != ev->balance_after)
                fprintf(stderr,
                        "ledger: account %s: replayed balance %" PRId64
                        ", event says %" PRId64 "\n",
                        ev->account_id, a->balance, ev->balance_after);
}

static void on_event(kbus_call *call, const Ledger__V1__AccountEvent *ev,
                     void *arg) {
        struct ledger *lg = arg;
        int32_t p = kbus_call_partition(call);

        /* Events at or past the start's end offsets are the ones this run
         * appended itself: already applied when they were accepted. */
        if (!lg->serving && p >= 0 && p < lg->n_parts &&
            kbus_call_offset(call) < lg->parts[p].end_offset) {
                apply(lg, ev);
                lg->replayed++;
                if (--lg->to_replay == 0)
                        start_serving(lg);
        }
        kbus_call_ack(call);
}

/* Finds the end offset of every partition of the event topic, and how many
 * events lie before them.  A topic that does not exist yet is empty. */
static int query_end_offsets(struct ledger *lg, const char *bootstrap) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_t *rk;
        int rc = -1;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err,
                              sizeof(err)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "ledger: %s\n", err);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "ledger: %s\n", err);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rkt = rd_kafka_topic_new(rk, EVENT_TOPIC, NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        if (e) {
                fprintf(stderr, "ledger: metadata of %s: %s\n", EVENT_TOPIC,
                        rd_kafka_err2str(e));
                goto out;
        }
        if (md->topic_cnt != 1 || md->topics[0].err ||
            md->topics[0].partition_cnt == 0) {
                rc = 0; /* no topic: nothing to replay */
                goto out;
        }
        lg->n_parts = md->topics[0].partition_cnt;
        lg->parts = calloc((size_t)lg->n_parts, sizeof(*lg->parts));
        if (!lg->parts)
                goto out;
        for (int i = 0; i < md->topics[0].partition_cnt; i++) {
                int32_t id = md->topics[0].partitions[i].id;
                int64_t low, high;
                if (id < 0 || id >= lg->n_parts)
                        continue;
                e = rd_kafka_query_watermark_offsets(rk, EVENT_TOPIC, id, &low,
                                                     &high, 10000);
                if (e) {
                        fprintf(stderr, "ledger: end offset of %s [%d]: %s\n",
                                EVENT_TOPIC, id, rd_kafka_err2str(e));
                        goto out;
                }
                lg->parts[id].end_offset = high;
                lg->to_replay += high - low;
        }
        rc = 0;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return rc;
}

int main(int argc, char **argv) {
        static struct ledger lg;
        const char *file = NULL;
        char err[512], group[128];
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
        if (kbus_runtime_new_from_file(&lg.rt, "ledger", file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, "ledger: %s\n", err);
                return 1;
        }
        lg.accounts = table_new();
        if (query_end_offsets(&lg, kbus_runtime_bootstrap(lg.rt))) {
                kbus_runtime_free(lg.rt);
                ledger_fini(&lg);
                return 1;
        }
        /* A group id no earlier run has used: the replay starts at the
         * beginning of the topic, whatever earlier runs committed. */
        snprintf(group, sizeof(group), "ledger-replay-%ld-%ld",
                 (long)time(NULL), (long)getpid());
        rc = ledger_v1_account_event_subscribe(lg.rt, group, on_event, &lg);
        if (!rc && lg.to_replay == 0)
                rc = start_serving(&lg);
        if (!rc)
                rc = kbus_runtime_run(lg.rt);
        if (rc)
                fprintf(stderr, "ledger: %s\n", kbus_strerror(rc));
        kbus_runtime_free(lg.rt);
        ledger_fini(&lg);
        return rc ? 1 : 0;
}
