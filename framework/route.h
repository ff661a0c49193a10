/*
 * Routes: what a topic of a consumer group carries, and who handles its
 * records.  The record engine hands a record to its route only through the
 * route's ops, the way a protocol plugs into a transport: servers
 * (server.c) and subscribers (events.c) each provide one ops table, and the
 * engine never names them.
 */
#ifndef KBUS_ROUTE_H
#define KBUS_ROUTE_H

#include "kbus_int.h"

struct kbus_call;

typedef struct kbus_route_ops {
        /**
         * A record arrived: decode it and run its handler through
         * kbus__record_run(), or end it (kbus__record_answer(),
         * kbus__record_dead_letter(), kbus__record_finish()).  Sets the
         * call's method, retry policy, flags and wants_reply first.
         */
        void (*dispatch)(struct kbus_call *call);
        /** Calls the user's handler with the decoded input (each attempt). */
        void (*invoke)(struct kbus_call *call);
} kbus_route_ops;

typedef struct kbus_route {
        struct kbus_route *next;
        char *topic;
        const kbus_route_ops *ops;
        uint32_t flags;               /* KBUS_NO_DEAD_LETTER: every record */
        const kbus_service_desc *svc; /* a request topic, or */
        void *handlers;               /* copy of the handler table */
        const kbus_event_desc *ev;    /* an event subscription */
        kbus_fn fn;
        void *arg;
} kbus_route;

#endif
