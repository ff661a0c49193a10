/*
 * The products of the example shop.  One of them, the limited edition,
 * has little stock, so that a run of a thousand orders sells it out and
 * shows orders REJECTED for want of stock.
 */
#include <string.h>

#include "catalog.h"

const struct product catalog[] = {
    {"KB-65", "65% mechanical keyboard", 8900, 1500},
    {"MS-PRO", "Wireless mouse", 3900, 1500},
    {"HS-BT", "Bluetooth headset", 5900, 1500},
    {"CB-USBC", "USB-C cable, 2 m", 900, 2000},
    {"MON-27", "27-inch monitor", 24900, 1000},
    {"DOCK-4K", "4K docking station", 15900, 1000},
    {"PAD-XL", "XL desk mat", 1900, 1500},
    {"KB-LTD", "Limited edition keyboard", 14900, 40},
};

const size_t catalog_size = sizeof(catalog) / sizeof(catalog[0]);

int catalog_index(const char *sku) {
        for (size_t i = 0; i < catalog_size; i++)
                if (!strcmp(catalog[i].sku, sku))
                        return (int)i;
        return -1;
}

const struct product *catalog_find(const char *sku) {
        int i = catalog_index(sku);
        return i < 0 ? NULL : &catalog[i];
}
