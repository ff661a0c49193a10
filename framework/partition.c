/*
 * A partition this process owns; see partition.h.
 */
#include <inttypes.h>
#include <string.h>

#include "partition.h"

kbus_partition *kbus__partition_new(struct kbus_group *g, rd_kafka_t *rk,
                                    const char *group_id, const char *topic,
                                    int32_t partition, kbus_ordering ordering,
                                    int max_in_flight,
                                    uint64_t max_uncommitted) {
        kbus_partition *p = kbus__calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        kbus__offsets_init(&p->offsets);
        kbus__ring_init(&p->wait, sizeof(rd_kafka_message_t *));
        /* Room reserved up front: a fetched record can always be held
         * while the first ones wait, without allocating. */
        if (!(p->topic = kbus__strdup(topic)) || !kbus__keys_init(&p->keys) ||
            !kbus__ring_reserve(&p->wait, 64) ||
            !(p->rkt = rd_kafka_topic_new(rk, topic, NULL))) {
                kbus__partition_free(p);
                return NULL;
        }
        p->g = g;
        p->rk = rk;
        p->group_id = group_id;
        p->partition = partition;
        p->ordering = ordering;
        p->max_in_flight = ordering == KBUS_ORDER_PARTITION ? 1 : max_in_flight;
        p->wait_high =
            p->max_in_flight * 2 > 1000 ? (size_t)p->max_in_flight * 2 : 1000;
        p->max_uncommitted = max_uncommitted;
        p->committed = KBUS_COMMITTED_UNKNOWN;
        return p;
}

void kbus__partition_free(kbus_partition *p) {
        if (!p)
                return;
        while (p->wait.n) {
                rd_kafka_message_t *m;
                kbus__ring_pop(&p->wait, &m);
                rd_kafka_message_destroy(m);
        }
        while (p->spare) {
                struct kbus_spare *s = p->spare;
                p->spare = s->next;
                kbus__free(s);
        }
        kbus__ring_fini(&p->wait);
        kbus__keys_fini(&p->keys);
        kbus__offsets_fini(&p->offsets);
        if (p->rkt)
                rd_kafka_topic_destroy(p->rkt);
        kbus__free(p->topic);
        kbus__free(p);
}

/* Besides the handler slots, a record stuck in its handler (or in retries)
 * holds back every later offset; max_uncommitted records from it, the
 * partition waits for it. */
bool kbus__partition_has_room(kbus_partition *p) {
        uint64_t open = kbus__offsets_open(&p->offsets);
        if (p->holds > 0)
                return false;
        if (open < p->max_uncommitted) {
                p->uncommitted_full = false;
                return p->in_flight < p->max_in_flight;
        }
        if (!p->uncommitted_full) {
                p->uncommitted_full = true;
                KBUS_LOG(KBUS_LOG_WARN, "consumer",
                         "group %s: %s [%" PRId32 "]: offset %" PRId64
                         " is not finished, and the %" PRIu64
                         " records after it cannot be committed before it "
                         "(max_uncommitted %" PRIu64 "): no more records "
                         "of the partition start until it ends",
                         p->group_id, p->topic, p->partition,
                         kbus__offsets_oldest(&p->offsets), open - 1,
                         p->max_uncommitted);
        }
        return false;
}

void kbus__partition_pause(kbus_partition *p, bool pause) {
        rd_kafka_topic_partition_list_t *l;
        if (p->paused == pause)
                return;
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        if (pause)
                rd_kafka_pause_partitions(p->rk, l);
        else
                rd_kafka_resume_partitions(p->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        p->paused = pause;
}

bool kbus__partition_store(kbus_partition *p, int64_t next) {
        bool was_due = p->store_due;
        p->store_next = next;
        p->store_due = true;
        return !was_due;
}

void kbus__partition_flush(kbus_partition *p) {
        int64_t next = p->store_next;
        rd_kafka_resp_err_t err;
        if (!p->store_due)
                return;
        p->store_due = false;
        /* This form takes the offset of the last record handled and adds
         * one itself; it is the cheap one, without a partition list. */
        err = rd_kafka_offset_store(p->rkt, p->partition, next - 1);
        if (err)
                KBUS_LOG(KBUS_LOG_DEBUG, "consumer",
                         "cannot store offset %" PRId64 " of %s [%" PRId32
                         "]: %s",
                         next, p->topic, p->partition, rd_kafka_err2str(err));
}
