/* Generated from shop/v1/common.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_SHOP_V1_COMMON_H
#define KBUS_GEN_SHOP_V1_COMMON_H

#include <kbus/kbus.h>

#include "shop/v1/common.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* shop/v1/common.proto has no services and no (kbus.event) messages. */

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_SHOP_V1_COMMON_H */
