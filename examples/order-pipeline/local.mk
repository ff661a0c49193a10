# examples/order-pipeline: the flagship example, an e-commerce order
# pipeline of five services (gateway, orders, inventory, payments,
# shipping) and a load generator (order-load).  See its README.md.

OP_PROTOS = \
	examples/order-pipeline/shop.proto \
	examples/order-pipeline/orders.proto \
	examples/order-pipeline/inventory.proto \
	examples/order-pipeline/payments.proto \
	examples/order-pipeline/shipping.proto
OP_GEN = \
	examples/order-pipeline/shop.pb-c.c examples/order-pipeline/shop.pb-c.h \
	examples/order-pipeline/shop.kbus.c examples/order-pipeline/shop.kbus.h \
	examples/order-pipeline/orders.pb-c.c examples/order-pipeline/orders.pb-c.h \
	examples/order-pipeline/orders.kbus.c examples/order-pipeline/orders.kbus.h \
	examples/order-pipeline/inventory.pb-c.c examples/order-pipeline/inventory.pb-c.h \
	examples/order-pipeline/inventory.kbus.c examples/order-pipeline/inventory.kbus.h \
	examples/order-pipeline/payments.pb-c.c examples/order-pipeline/payments.pb-c.h \
	examples/order-pipeline/payments.kbus.c examples/order-pipeline/payments.kbus.h \
	examples/order-pipeline/shipping.pb-c.c examples/order-pipeline/shipping.pb-c.h \
	examples/order-pipeline/shipping.kbus.c examples/order-pipeline/shipping.kbus.h
# The services' protos import shop.proto: their code names its types.
$(OP_PROTOS:.proto=.kbus-stamp): examples/order-pipeline/shop.proto
BUILT_SOURCES += $(OP_GEN)
CLEANFILES += $(OP_GEN) $(OP_PROTOS:.proto=.kbus-stamp)
EXTRA_DIST += $(OP_PROTOS) \
	examples/order-pipeline/README.md \
	examples/order-pipeline/run-demo.sh \
	examples/order-pipeline/config/gateway.conf \
	examples/order-pipeline/config/orders.conf \
	examples/order-pipeline/config/inventory.conf \
	examples/order-pipeline/config/payments.conf \
	examples/order-pipeline/config/shipping.conf \
	examples/order-pipeline/config/order-load.conf

# What every program of the pipeline links: the helpers and all the
# generated code (the services call each other's Audit methods).
noinst_LTLIBRARIES += examples/order-pipeline/libpipeline.la
examples_order_pipeline_libpipeline_la_SOURCES = \
	examples/order-pipeline/pipeline.c examples/order-pipeline/pipeline.h \
	examples/order-pipeline/catalog.c examples/order-pipeline/catalog.h
nodist_examples_order_pipeline_libpipeline_la_SOURCES = $(OP_GEN)
examples_order_pipeline_libpipeline_la_CPPFLAGS = $(op_cppflags)

op_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) $(LIBEVENT_CFLAGS) \
	-I$(top_builddir)/examples/order-pipeline -I$(srcdir)/examples/order-pipeline \
	$(examples_common_cppflags)
op_ldadd = examples/order-pipeline/libpipeline.la examples/common/libtable.la \
	libkbus.la $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) -lm

noinst_PROGRAMS += \
	examples/order-pipeline/gateway \
	examples/order-pipeline/orders \
	examples/order-pipeline/inventory \
	examples/order-pipeline/payments \
	examples/order-pipeline/shipping \
	examples/order-pipeline/order-load

examples_order_pipeline_gateway_SOURCES = examples/order-pipeline/gateway.c \
	examples/order-pipeline/http_guard.c examples/order-pipeline/http_guard.h
examples_order_pipeline_gateway_CPPFLAGS = $(op_cppflags) $(JANSSON_CFLAGS)
examples_order_pipeline_gateway_LDADD = $(op_ldadd) $(JANSSON_LIBS)

examples_order_pipeline_orders_SOURCES = examples/order-pipeline/orders.c
examples_order_pipeline_orders_CPPFLAGS = $(op_cppflags)
examples_order_pipeline_orders_LDADD = $(op_ldadd)

examples_order_pipeline_inventory_SOURCES = examples/order-pipeline/inventory.c
examples_order_pipeline_inventory_CPPFLAGS = $(op_cppflags)
examples_order_pipeline_inventory_LDADD = $(op_ldadd)

examples_order_pipeline_payments_SOURCES = examples/order-pipeline/payments.c
examples_order_pipeline_payments_CPPFLAGS = $(op_cppflags)
examples_order_pipeline_payments_LDADD = $(op_ldadd)

examples_order_pipeline_shipping_SOURCES = examples/order-pipeline/shipping.c
examples_order_pipeline_shipping_CPPFLAGS = $(op_cppflags)
examples_order_pipeline_shipping_LDADD = $(op_ldadd)

examples_order_pipeline_order_load_SOURCES = examples/order-pipeline/order-load.c
examples_order_pipeline_order_load_CPPFLAGS = $(op_cppflags) $(JANSSON_CFLAGS)
examples_order_pipeline_order_load_LDADD = $(op_ldadd) $(JANSSON_LIBS)
