/*
 * Retry policy and backoff; see retry.h.
 */
#include "kbus_int.h"
#include "retry.h"
#include "wire.h"

kbus_retry_policy kbus__retry_policy(const kbus_retry_policy *own,
                                     const kbus_retry_policy *defaults) {
        kbus_retry_policy p = *defaults;
        if (own->max_attempts)
                p.max_attempts = own->max_attempts;
        if (own->initial_backoff_ms)
                p.initial_backoff_ms = own->initial_backoff_ms;
        if (own->max_backoff_ms)
                p.max_backoff_ms = own->max_backoff_ms;
        if (own->multiplier > 0)
                p.multiplier = own->multiplier;
        return p;
}

int64_t kbus__retry_backoff_ms(const kbus_retry_policy *p, uint32_t attempt) {
        double backoff = p->initial_backoff_ms;
        for (uint32_t i = 1; i < attempt && backoff < p->max_backoff_ms; i++)
                backoff *= p->multiplier;
        if (backoff > p->max_backoff_ms)
                backoff = p->max_backoff_ms;
        backoff *= 0.5 + 0.5 * (double)(kbus__random_u64() >> 11) /
                             (double)(1ULL << 53);
        return (int64_t)backoff;
}

bool kbus__retry_allowed(const kbus_retry_policy *p, int code,
                         uint32_t attempt) {
        return kbus_status_is_retriable(code) &&
               code != KBUS_DEADLINE_EXCEEDED && attempt < p->max_attempts;
}
