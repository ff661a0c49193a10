/*
 * The shop's products: what orders prices orders with, what inventory
 * stocks at start, and what order-load picks from.  A real shop keeps
 * this in a database; a table compiled in keeps the example small.
 */
#ifndef ORDER_PIPELINE_CATALOG_H
#define ORDER_PIPELINE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

struct product {
        const char *sku;
        const char *name;
        int64_t price_cents;
        int64_t initial_stock; /* units inventory starts with */
};

extern const struct product catalog[];
extern const size_t catalog_size;

/* The product with \p sku, or NULL. */
const struct product *catalog_find(const char *sku);

/* Its index in catalog[], or -1. */
int catalog_index(const char *sku);

#endif
