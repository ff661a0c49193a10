/* Generated from shop/v1/common.proto by protoc-gen-kbus. DO NOT EDIT. */
#include "shop/v1/common.kbus.h"
