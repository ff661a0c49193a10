# The kbus command-line tool: broker, call, tail, topics, groups, and
# dead-letter inspection and replay.

bin_PROGRAMS += kbus
kbus_SOURCES = cli/kbus.c cli/cli.h cli/kafka.c cli/dlt.c cli/call.c \
	cli/tail.c cli/topics.c cli/groups.c
kbus_CPPFLAGS = $(libkbus_la_CPPFLAGS) $(JANSSON_CFLAGS)
kbus_LDADD = libkbus.la $(RDKAFKA_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS) \
	$(PROTOBUF_C_LIBS) -lm
