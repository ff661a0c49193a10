include examples/hello/local.mk
include examples/order-pipeline/local.mk
