# libkbus, its installed files, and the kbus command-line tool.

lib_LTLIBRARIES += libkbus.la
kbusincludedir = $(includedir)/kbus
kbusinclude_HEADERS = framework/include/kbus/kbus.h

libkbus_la_SOURCES = \
	framework/kbus_int.h framework/core.h \
	framework/status.c \
	framework/alloc.c \
	framework/log.c \
	framework/config.c \
	framework/setup.c \
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
	framework/ops.c
libkbus_la_CPPFLAGS = $(AM_CPPFLAGS) $(RDKAFKA_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(PROTOBUF_C_CFLAGS) $(LIBCONFIG_CFLAGS) -DKBUS_VERSION='"$(PACKAGE_VERSION)"'
libkbus_la_LIBADD = $(RDKAFKA_LIBS) $(LIBEVENT_LIBS) $(PROTOBUF_C_LIBS) $(LIBCONFIG_LIBS)
libkbus_la_LDFLAGS = -version-info $(KBUS_LT_VERSION) -export-symbols-regex '^kbus_[^_]'

# The options for .proto files, installed where `pkg-config --variable=protodir kbus` says.
kbusprotodir = $(datadir)/kbus/proto/kbus
dist_kbusproto_DATA = framework/kbus/options.proto

pkgconfig_DATA = framework/kbus.pc
