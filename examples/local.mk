include examples/common/local.mk
include examples/hello/local.mk
include examples/order-pipeline/local.mk
include examples/event-sourcing/local.mk
include examples/stream-processing/local.mk
include examples/activity-tracking/local.mk
include examples/log-aggregation/local.mk
