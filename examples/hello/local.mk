# examples/hello: the smallest kbus service and client.

HELLO_GEN = examples/hello/hello.pb-c.c examples/hello/hello.pb-c.h \
	examples/hello/hello.kbus.c examples/hello/hello.kbus.h
BUILT_SOURCES += $(HELLO_GEN)
CLEANFILES += $(HELLO_GEN) examples/hello/hello.kbus-stamp
EXTRA_DIST += examples/hello/hello.proto

hello_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) -I$(top_builddir)/examples/hello
hello_ldadd = libkbus.la $(PROTOBUF_C_LIBS)

noinst_PROGRAMS += examples/hello/hello-server examples/hello/hello-client
examples_hello_hello_server_SOURCES = examples/hello/hello-server.c
nodist_examples_hello_hello_server_SOURCES = $(HELLO_GEN)
examples_hello_hello_server_CPPFLAGS = $(hello_cppflags)
examples_hello_hello_server_LDADD = $(hello_ldadd)
examples_hello_hello_client_SOURCES = examples/hello/hello-client.c
nodist_examples_hello_hello_client_SOURCES = $(HELLO_GEN)
examples_hello_hello_client_CPPFLAGS = $(hello_cppflags)
examples_hello_hello_client_LDADD = $(hello_ldadd)
