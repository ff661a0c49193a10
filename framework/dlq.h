/*
 * Dead-lettering one record: its key, value and headers kept as they were,
 * plus the kafka_dlt-* headers that say where it came from and why (see
 * wire.h), written to the record's topic plus the dead-letter suffix.
 *
 * A dead letter that cannot be written is tried again every second, for as
 * long as its owner says to keep trying; one too large for the producer is
 * written without its value.  The owner learns the end once, through the
 * done() function it set: written, or given up (the record must then stay
 * unstored, for redelivery).  done() may be called from inside
 * kbus__dead_letter_send(), and may free the dead letter.
 */
#ifndef KBUS_DLQ_H
#define KBUS_DLQ_H

#include <stdbool.h>

#include <event2/event.h>

#include "kafka.h"

typedef struct kbus_dead_letter {
        kbus_dr dr; /* the dead letter's delivery report */
        /* Set by the owner before sending: */
        void *owner; /* for done() and keep_trying() */
        rd_kafka_t *producer;
        struct event_base *base;
        const rd_kafka_message_t *msg; /* the record (the owner keeps it) */
        const char *group;
        const char *suffix; /* ".DLT" */
        uint32_t attempts;
        const char *error_class; /* "kbus.DecodeError", ... */
        void (*done)(struct kbus_dead_letter *dl, bool written);
        bool (*keep_trying)(struct kbus_dead_letter *dl);
        /* Ours: */
        char *error_message;
        bool without_value; /* too large to copy into the dead letter */
        struct event *timer;
} kbus_dead_letter;

/** Starts writing the dead letter of dl->msg with \p reason (copied). */
void kbus__dead_letter_send(kbus_dead_letter *dl, const char *reason);

/** Frees what the dead letter holds (not dl itself). */
void kbus__dead_letter_fini(kbus_dead_letter *dl);

#endif
