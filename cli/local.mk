# The kbus command-line tool: broker, dead-letter inspection and replay.

bin_PROGRAMS += kbus
kbus_SOURCES = cli/kbus.c cli/cli.h cli/dlt.c
kbus_CPPFLAGS = $(libkbus_la_CPPFLAGS) $(JANSSON_CFLAGS)
kbus_LDADD = libkbus.la $(RDKAFKA_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS)
