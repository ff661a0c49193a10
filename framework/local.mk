# libkbus, its installed files, and the kbus command-line tool.

lib_LTLIBRARIES += libkbus.la
kbusincludedir = $(includedir)/kbus
kbusinclude_HEADERS = framework/include/kbus/kbus.h framework/include/kbus/json.h

libkbus_la_SOURCES = \
	framework/kbus_int.h framework/core.h \
	framework/status.c \
	framework/alloc.c \
	framework/log.c \
	framework/config.c \
	framework/wire.c framework/wire.h \
	framework/offsets.c framework/offsets.h \
	framework/keys.c framework/keys.h \
	framework/replies.c framework/replies.h \
	framework/broker.c \
	framework/runtime.c \
	framework/consumer.c \
	framework/client.c \
	framework/server.c \
	framework/events.c \
	framework/ops.c \
	framework/json.c framework/json_pool.c framework/json_int.h
# The JSON mapping decodes descriptor sets and kbus options with code
# generated into codegen/wkt; it is compiled in (and not exported) rather
# than linked from libkbus-wkt, so that libkbus installs on its own.
nodist_libkbus_la_SOURCES = codegen/wkt/google/protobuf/descriptor.pb-c.c \
	codegen/wkt/kbus/options.pb-c.c
libkbus_la_CPPFLAGS = $(AM_CPPFLAGS) $(RDKAFKA_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(LIBCONFIG_CFLAGS) $(JANSSON_CFLAGS) \
	-I$(top_builddir)/codegen/wkt -DKBUS_VERSION='"$(PACKAGE_VERSION)"'
libkbus_la_LIBADD = $(RDKAFKA_LIBS) $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) $(LIBCONFIG_LIBS) \
	$(JANSSON_LIBS)
$(libkbus_la_OBJECTS): codegen/wkt.stamp
libkbus_la_LDFLAGS = -version-info $(KBUS_LT_VERSION) -export-symbols-regex '^kbus_[^_]'

# The options for .proto files, installed where `pkg-config --variable=protodir kbus` says.
kbusprotodir = $(datadir)/kbus/proto/kbus
dist_kbusproto_DATA = framework/kbus/options.proto

pkgconfig_DATA = framework/kbus.pc
