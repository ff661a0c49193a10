# protoc-gen-kbus, the protoc plugin that writes typed kbus stubs, and
# libkbus-wkt, protobuf-c code for the protobuf well-known types.
#
# GENERATING CODE IN ANOTHER FRAGMENT
#
# KBUS_PROTOC runs protoc with the in-tree plugin and the include paths for
# kbus/options.proto and google/protobuf/*.proto.  The pattern rules below
# run it for any DIR/NAME.proto of the tree that a fragment lists
# generated files of: the four files DIR/NAME.pb-c.[ch] and
# DIR/NAME.kbus.[ch] go to the build tree (so that VPATH builds and `make
# distcheck` work), the .proto stays in the source tree, and the stamp
# DIR/NAME.kbus-stamp records the run.  A fragment only declares; for
# examples/hello/hello.proto:
#
#   HELLO_GEN = examples/hello/hello.pb-c.c examples/hello/hello.pb-c.h \
#   	examples/hello/hello.kbus.c examples/hello/hello.kbus.h
#   BUILT_SOURCES += $(HELLO_GEN)
#   CLEANFILES += $(HELLO_GEN) examples/hello/hello.kbus-stamp
#   EXTRA_DIST += examples/hello/hello.proto
#
#   nodist_hello_server_SOURCES = $(HELLO_GEN)
#   hello_server_CPPFLAGS = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
#   	-I$(top_builddir)/examples/hello
#   hello_server_LDADD = libkbus.la libkbus-wkt.la $(PROTOBUF_C_LIBS)
#
# (The lists stay literal: automake must see the sources of a program.)
# A .proto that imports another of its directory depends on it as well:
#   examples/order-pipeline/orders.kbus-stamp: examples/order-pipeline/shop.proto
# KBUS_GEN_CPPFLAGS finds kbus/options.pb-c.h and google/protobuf/*.pb-c.h,
# which protoc-c's headers include whenever the .proto imports them;
# libkbus-wkt.la is needed only when a message uses a well-known type
# (Timestamp, Empty...).  Every .proto gets both .kbus files, minimal ones
# when it has no service and no event, so the rule always makes all four.

KBUS_PROTOC = $(PROTOC) --plugin=protoc-gen-kbus=$(top_builddir)/protoc-gen-kbus$(EXEEXT) \
	-I$(top_srcdir)/framework -I$(PROTO_INCLUDE)
KBUS_PROTOC_DEPS = protoc-gen-kbus$(EXEEXT) codegen/wkt.stamp
KBUS_GEN_CPPFLAGS = -I$(top_builddir)/codegen/wkt $(PROTOBUF_C_CFLAGS)

# The one rule for every .proto (GNU make pattern rules; configure.ac
# passes -Wno-portability to automake).  $< is the .proto as VPATH found
# it, so -I$(<D) is its source directory, where its imports live.
%.kbus-stamp: %.proto $(KBUS_PROTOC_DEPS)
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(KBUS_PROTOC) -I$(<D) --c_out=$(@D) --kbus_out=$(@D) $< && touch $@
# One run makes all four files.  When one is missing while the stamp is
# there (deleted by hand), the stamp goes and protoc runs again.
%.pb-c.c %.pb-c.h %.kbus.c %.kbus.h: %.kbus-stamp
	@for f in $*.pb-c.c $*.pb-c.h $*.kbus.c $*.kbus.h; do \
		test -f $$f || { rm -f $<; $(MAKE) $(AM_MAKEFLAGS) $<; break; }; \
	done
# The stamps are intermediate files to make: keep them, or every build
# would run protoc again.
.PRECIOUS: %.kbus-stamp

# protobuf-c code generated with protoc-c into codegen/wkt: the plugin's
# own descriptor.proto, plugin.proto and kbus/options.proto, the
# aggregates' kbus/aggregate.proto, and the
# well-known types for libkbus-wkt.  Debian ships none of it.
KBUS_WKT_PROTOS = \
	google/protobuf/any.proto \
	google/protobuf/api.proto \
	google/protobuf/duration.proto \
	google/protobuf/empty.proto \
	google/protobuf/field_mask.proto \
	google/protobuf/source_context.proto \
	google/protobuf/struct.proto \
	google/protobuf/timestamp.proto \
	google/protobuf/type.proto \
	google/protobuf/wrappers.proto
KBUS_WKT_C = \
	codegen/wkt/google/protobuf/any.pb-c.c \
	codegen/wkt/google/protobuf/api.pb-c.c \
	codegen/wkt/google/protobuf/duration.pb-c.c \
	codegen/wkt/google/protobuf/empty.pb-c.c \
	codegen/wkt/google/protobuf/field_mask.pb-c.c \
	codegen/wkt/google/protobuf/source_context.pb-c.c \
	codegen/wkt/google/protobuf/struct.pb-c.c \
	codegen/wkt/google/protobuf/timestamp.pb-c.c \
	codegen/wkt/google/protobuf/type.pb-c.c \
	codegen/wkt/google/protobuf/wrappers.pb-c.c \
	codegen/wkt/google/protobuf/descriptor.pb-c.c
KBUS_WKT_H = \
	codegen/wkt/google/protobuf/any.pb-c.h \
	codegen/wkt/google/protobuf/api.pb-c.h \
	codegen/wkt/google/protobuf/duration.pb-c.h \
	codegen/wkt/google/protobuf/empty.pb-c.h \
	codegen/wkt/google/protobuf/field_mask.pb-c.h \
	codegen/wkt/google/protobuf/source_context.pb-c.h \
	codegen/wkt/google/protobuf/struct.pb-c.h \
	codegen/wkt/google/protobuf/timestamp.pb-c.h \
	codegen/wkt/google/protobuf/type.pb-c.h \
	codegen/wkt/google/protobuf/wrappers.pb-c.h \
	codegen/wkt/google/protobuf/descriptor.pb-c.h
KBUS_OPTIONS_GEN = codegen/wkt/kbus/options.pb-c.c codegen/wkt/kbus/options.pb-c.h
KBUS_AGGREGATE_GEN = codegen/wkt/kbus/aggregate.pb-c.c codegen/wkt/kbus/aggregate.pb-c.h
KBUS_PLUGIN_PROTO_GEN = \
	codegen/wkt/google/protobuf/compiler/plugin.pb-c.c \
	codegen/wkt/google/protobuf/compiler/plugin.pb-c.h
KBUS_WKT_GEN = $(KBUS_WKT_C) $(KBUS_WKT_H) $(KBUS_OPTIONS_GEN) $(KBUS_AGGREGATE_GEN) \
	$(KBUS_PLUGIN_PROTO_GEN)

# (No `rm -rf codegen/wkt` first: configure puts automake's .deps
# directories for these sources in there.)
codegen/wkt.stamp: framework/kbus/options.proto framework/kbus/aggregate.proto
	$(AM_V_GEN)$(MKDIR_P) codegen/wkt && \
	$(PROTOC_C) -I$(PROTO_INCLUDE) --c_out=codegen/wkt \
		$(KBUS_WKT_PROTOS) google/protobuf/descriptor.proto \
		google/protobuf/compiler/plugin.proto && \
	$(PROTOC_C) -I$(top_srcdir)/framework -I$(PROTO_INCLUDE) \
		--c_out=codegen/wkt kbus/options.proto kbus/aggregate.proto && \
	touch $@
$(KBUS_WKT_GEN): codegen/wkt.stamp
	@test -f $@ || { rm -f codegen/wkt.stamp; \
		$(MAKE) $(AM_MAKEFLAGS) codegen/wkt.stamp; }

BUILT_SOURCES += $(KBUS_WKT_GEN)
CLEANFILES += $(KBUS_WKT_GEN) codegen/wkt.stamp

# The plugin.  It compiles the descriptor code into itself rather than
# linking libkbus-wkt, so that protoc can run it from the build tree
# without a libtool wrapper.
bin_PROGRAMS += protoc-gen-kbus
protoc_gen_kbus_SOURCES = \
	codegen/protoc-gen-kbus.c \
	codegen/buf.c codegen/buf.h \
	codegen/names.c codegen/names.h \
	codegen/options.c codegen/options.h \
	codegen/model.c codegen/model.h \
	codegen/emit.c codegen/emit.h
nodist_protoc_gen_kbus_SOURCES = \
	codegen/wkt/google/protobuf/descriptor.pb-c.c \
	codegen/wkt/google/protobuf/descriptor.pb-c.h \
	$(KBUS_PLUGIN_PROTO_GEN) $(KBUS_OPTIONS_GEN)
protoc_gen_kbus_CPPFLAGS = -I$(top_builddir)/codegen/wkt -I$(srcdir)/codegen \
	$(PROTOBUF_C_CFLAGS)
protoc_gen_kbus_LDADD = $(PROTOBUF_C_LIBS)
# Also when built alone (`make protoc-gen-kbus`), without BUILT_SOURCES.
$(protoc_gen_kbus_OBJECTS): codegen/wkt.stamp

# libkbus-wkt: the well-known types plus descriptor.proto,
# kbus/options.proto and kbus/aggregate.proto (an aggregate's history), whose headers protoc-c output includes when a .proto
# imports them.  Headers go to $(includedir)/kbus-wkt, found through
# `pkg-config --cflags kbus-wkt`.
lib_LTLIBRARIES += libkbus-wkt.la
nodist_libkbus_wkt_la_SOURCES = $(KBUS_WKT_C) codegen/wkt/kbus/options.pb-c.c \
	codegen/wkt/kbus/aggregate.pb-c.c
libkbus_wkt_la_CPPFLAGS = -I$(top_builddir)/codegen/wkt $(PROTOBUF_C_CFLAGS)
libkbus_wkt_la_LIBADD = $(PROTOBUF_C_LIBS)
libkbus_wkt_la_LDFLAGS = -version-info 0:0:0
$(libkbus_wkt_la_OBJECTS): codegen/wkt.stamp

kbuswktdir = $(includedir)/kbus-wkt/google/protobuf
nodist_kbuswkt_HEADERS = $(KBUS_WKT_H)
kbuswktkbusdir = $(includedir)/kbus-wkt/kbus
nodist_kbuswktkbus_HEADERS = codegen/wkt/kbus/options.pb-c.h \
	codegen/wkt/kbus/aggregate.pb-c.h

# configure.ac belongs to the whole tree, so the .pc file is made here.
pkgconfig_DATA += codegen/kbus-wkt.pc
codegen/kbus-wkt.pc: codegen/kbus-wkt.pc.in Makefile
	$(AM_V_GEN)$(MKDIR_P) codegen && sed \
		-e 's|@prefix[@]|$(prefix)|g' \
		-e 's|@exec_prefix[@]|$(exec_prefix)|g' \
		-e 's|@libdir[@]|$(libdir)|g' \
		-e 's|@includedir[@]|$(includedir)|g' \
		-e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
		$(srcdir)/codegen/kbus-wkt.pc.in > $@.tmp && mv $@.tmp $@
CLEANFILES += codegen/kbus-wkt.pc
EXTRA_DIST += codegen/kbus-wkt.pc.in
