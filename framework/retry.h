/*
 * Retry policy and backoff, the one algorithm for every retry kbus makes:
 * a handler's failed attempt (servers and subscribers) and a client's
 * resend of an idempotent request.  The delay before attempt n+1 is
 * initial * multiplier^(n-1), capped at max, then scaled by a random factor
 * in [0.5, 1) so that many retries do not hit a recovering dependency at
 * once.  Pure functions: the caller owns its timer.
 */
#ifndef KBUS_RETRY_H
#define KBUS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "kbus/kbus.h"

/** The policy in force: \p own's fields where set, else \p defaults'. */
kbus_retry_policy kbus__retry_policy(const kbus_retry_policy *own,
                                     const kbus_retry_policy *defaults);

/** The delay before the next attempt, after \p attempt failed ones. */
int64_t kbus__retry_backoff_ms(const kbus_retry_policy *p, uint32_t attempt);

/** Whether a failure with \p code after \p attempt attempts may be tried
 *  again: a retriable status other than DEADLINE_EXCEEDED (the caller has
 *  given up), and attempts left. */
bool kbus__retry_allowed(const kbus_retry_policy *p, int code,
                         uint32_t attempt);

#endif
