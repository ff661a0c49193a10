/*
 * The account aggregate of the ledger, shared by the ledger (which keeps
 * accounts) and ledger-client (which replays and audits them): an account
 * is the fold of its AccountEvents, by account_apply().
 */
#ifndef LEDGER_ACCOUNT_H
#define LEDGER_ACCOUNT_H

#include "ledger.kbus.h"

/* The topic every account event goes to, keyed by account id. */
#define ACCOUNT_HISTORY_TOPIC "ledger.v1.AccountHistory"

/* Accounts: table "accounts" of the ledger's group, a snapshot every 10
 * events, the last 64 commands of each account remembered. */
extern const kbus_aggregate_desc account_aggregate;

/* Money sent by transfers not settled yet. */
int64_t account_in_transit(const Ledger__V1__Account *a);

/* One line saying what \p ev did, e.g. "deposited 1000" or "sent 300 to
 * bob (transfer t-1)". */
void account_event_text(const Ledger__V1__AccountEvent *ev, char *out,
                        size_t len);

#endif
