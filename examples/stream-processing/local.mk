# examples/stream-processing: a multi-stage IoT pipeline, sensor-sim ->
# enrich -> averager -> rules -> actions, each stage a separate process
# joined by keyed events; devices publishes the registrations enrich reads.
# See its README.md.

IOT_GEN = \
	examples/stream-processing/iot.pb-c.c examples/stream-processing/iot.pb-c.h \
	examples/stream-processing/iot.kbus.c examples/stream-processing/iot.kbus.h
BUILT_SOURCES += $(IOT_GEN)
CLEANFILES += $(IOT_GEN) examples/stream-processing/iot.kbus-stamp
EXTRA_DIST += examples/stream-processing/iot.proto \
	examples/stream-processing/README.md

iot_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/stream-processing
iot_ldadd = libkbus.la $(PROTOBUF_C_LIBS)
iot_common = examples/stream-processing/stream.c \
	examples/stream-processing/stream.h

noinst_PROGRAMS += examples/stream-processing/sensor-sim \
	examples/stream-processing/enrich examples/stream-processing/averager \
	examples/stream-processing/rules examples/stream-processing/actions \
	examples/stream-processing/devices
examples_stream_processing_sensor_sim_SOURCES = \
	examples/stream-processing/sensor-sim.c $(iot_common)
nodist_examples_stream_processing_sensor_sim_SOURCES = $(IOT_GEN)
# sensor-sim paces its rounds with a libevent timer on the runtime's base.
examples_stream_processing_sensor_sim_CPPFLAGS = $(iot_cppflags) \
	$(LIBEVENT_CFLAGS)
examples_stream_processing_sensor_sim_LDADD = $(iot_ldadd) $(LIBEVENT_LIBS)
examples_stream_processing_enrich_SOURCES = \
	examples/stream-processing/enrich.c
nodist_examples_stream_processing_enrich_SOURCES = $(IOT_GEN)
examples_stream_processing_enrich_CPPFLAGS = $(iot_cppflags)
examples_stream_processing_enrich_LDADD = $(iot_ldadd)
# averager says "ready" from a libevent timer on the runtime's base.
examples_stream_processing_averager_SOURCES = \
	examples/stream-processing/averager.c $(iot_common)
nodist_examples_stream_processing_averager_SOURCES = $(IOT_GEN)
examples_stream_processing_averager_CPPFLAGS = $(iot_cppflags) \
	$(LIBEVENT_CFLAGS)
examples_stream_processing_averager_LDADD = $(iot_ldadd) $(LIBEVENT_LIBS)
examples_stream_processing_rules_SOURCES = \
	examples/stream-processing/rules.c $(iot_common)
nodist_examples_stream_processing_rules_SOURCES = $(IOT_GEN)
examples_stream_processing_rules_CPPFLAGS = $(iot_cppflags)
examples_stream_processing_rules_LDADD = $(iot_ldadd)
examples_stream_processing_actions_SOURCES = \
	examples/stream-processing/actions.c
nodist_examples_stream_processing_actions_SOURCES = $(IOT_GEN)
examples_stream_processing_actions_CPPFLAGS = $(iot_cppflags)
examples_stream_processing_actions_LDADD = $(iot_ldadd)
examples_stream_processing_devices_SOURCES = \
	examples/stream-processing/devices.c
nodist_examples_stream_processing_devices_SOURCES = $(IOT_GEN)
examples_stream_processing_devices_CPPFLAGS = $(iot_cppflags)
examples_stream_processing_devices_LDADD = $(iot_ldadd)
