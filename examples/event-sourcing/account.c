/*
 * The account aggregate: how each AccountEvent changes an Account.  This
 * function is the only place that does, whether the ledger loads an
 * account (its snapshot, then the events after it) or a replay folds its
 * whole history, so the two cannot disagree.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"

int64_t account_in_transit(const Ledger__V1__Account *a) {
        int64_t sum = 0;
        for (size_t i = 0; i < a->n_outgoing; i++)
                sum += a->outgoing[i]->amount;
        return sum;
}

/* The state after \p ev, set with kbus_fold_set().  A balance below zero
 * or a settlement of an unknown transfer means the events are wrong: the
 * event is refused, and so is the command appending it (or the load). */
static int account_apply(kbus_fold *fold, const ProtobufCMessage *state,
                         const ProtobufCMessage *event) {
        const Ledger__V1__Account *a = (const Ledger__V1__Account *)state;
        const Ledger__V1__AccountEvent *ev =
            (const Ledger__V1__AccountEvent *)event;
        Ledger__V1__Account next = *a; /* fields still point into a */
        Ledger__V1__Account__Outgoing sent =
            LEDGER__V1__ACCOUNT__OUTGOING__INIT;
        Ledger__V1__Account__Outgoing **out = NULL;
        const char *done = NULL; /* a transfer leaving the list */
        int rc;

        switch (ev->change_case) {
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_DEPOSITED:
                next.balance += ev->deposited->amount;
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_WITHDRAWN:
                next.balance -= ev->withdrawn->amount;
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_SENT:
                next.balance -= ev->sent->amount;
                if (!(out = malloc((a->n_outgoing + 1) * sizeof(*out))))
                        return KBUS_RESOURCE_EXHAUSTED;
                if (a->n_outgoing) /* (memcpy wants a source, even of none) */
                        memcpy(out, a->outgoing, a->n_outgoing * sizeof(*out));
                sent.transfer_id = ev->sent->transfer_id;
                sent.to = ev->sent->to;
                sent.amount = ev->sent->amount;
                out[a->n_outgoing] = &sent;
                next.outgoing = out;
                next.n_outgoing = a->n_outgoing + 1;
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_RECEIVED:
                next.balance += ev->received->amount;
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_SETTLED:
                done = ev->settled->transfer_id;
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_RETURNED:
                next.balance += ev->returned->amount;
                done = ev->returned->transfer_id;
                break;
        default:
                return KBUS_INVALID_ARGUMENT;
        }
        if (done) {
                size_t n = 0;
                if (!(out = malloc((a->n_outgoing + 1) * sizeof(*out))))
                        return KBUS_RESOURCE_EXHAUSTED;
                for (size_t i = 0; i < a->n_outgoing; i++)
                        if (strcmp(a->outgoing[i]->transfer_id, done))
                                out[n++] = a->outgoing[i];
                if (n == a->n_outgoing) {
                        free(out);
                        return KBUS_FAILED_PRECONDITION;
                }
                next.outgoing = out;
                next.n_outgoing = n;
        }
        rc = next.balance < 0 ? KBUS_FAILED_PRECONDITION
                              : kbus_fold_set(fold, &next.base);
        free(out);
        return rc;
}

const kbus_aggregate_desc account_aggregate = {
    .name = "accounts",
    .history_topic = ACCOUNT_HISTORY_TOPIC,
    .state = &ledger__v1__account__descriptor,
    .event = &ledger__v1__account_event__descriptor,
    .apply = account_apply,
    .snapshot_every = 10,
    .remember = 64,
};

void account_event_text(const Ledger__V1__AccountEvent *ev, char *out,
                        size_t len) {
        switch (ev->change_case) {
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_DEPOSITED:
                snprintf(out, len, "deposited %" PRId64, ev->deposited->amount);
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_WITHDRAWN:
                snprintf(out, len, "withdrew %" PRId64, ev->withdrawn->amount);
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_SENT:
                snprintf(out, len, "sent %" PRId64 " to %s (transfer %s)",
                         ev->sent->amount, ev->sent->to, ev->sent->transfer_id);
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_RECEIVED:
                snprintf(out, len, "received %" PRId64 " from %s (transfer %s)",
                         ev->received->amount, ev->received->from,
                         ev->received->transfer_id);
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_SETTLED:
                snprintf(out, len, "transfer %s settled",
                         ev->settled->transfer_id);
                break;
        case LEDGER__V1__ACCOUNT_EVENT__CHANGE_RETURNED:
                snprintf(out, len,
                         "got %" PRId64 " back: transfer %s refused (%s)",
                         ev->returned->amount, ev->returned->transfer_id,
                         ev->returned->reason);
                break;
        default:
                snprintf(out, len, "unknown change");
        }
}
