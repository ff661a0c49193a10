/* Generated from shop/v1/common.proto by protoc-gen-kbus. DO NOT EDIT. */
#ifndef KBUS_GEN_SHOP_V1_COMMON_H
#define KBUS_GEN_SHOP_V1_COMMON_H

#include <kbus/kbus.h>

/* protoc-c names a struct member after each method, even a C keyword:
 * hide those while its headers are read. */
#define default default_
#define register register_
#define switch switch_
#include "shop/v1/common.pb-c.h"
#undef default
#undef register
#undef switch

#ifdef __cplusplus
extern "C" {
#endif

/* shop/v1/common.proto has no services and no (kbus.event) messages. */

#ifdef __cplusplus
}
#endif

#endif /* KBUS_GEN_SHOP_V1_COMMON_H */
