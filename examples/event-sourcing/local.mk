# examples/event-sourcing: an account ledger whose event topic is the
# source of truth; `ledger` rebuilds its balances by replay at each start.
# See its README.md.

LEDGER_GEN = \
	examples/event-sourcing/ledger.pb-c.c examples/event-sourcing/ledger.pb-c.h \
	examples/event-sourcing/ledger.kbus.c examples/event-sourcing/ledger.kbus.h
BUILT_SOURCES += $(LEDGER_GEN)
CLEANFILES += $(LEDGER_GEN) examples/event-sourcing/ledger.kbus-stamp
EXTRA_DIST += examples/event-sourcing/ledger.proto \
	examples/event-sourcing/README.md

ledger_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/event-sourcing

noinst_PROGRAMS += examples/event-sourcing/ledger \
	examples/event-sourcing/ledger-client
examples_event_sourcing_ledger_SOURCES = examples/event-sourcing/ledger.c
nodist_examples_event_sourcing_ledger_SOURCES = $(LEDGER_GEN)
# The ledger asks librdkafka for end offsets itself (see ledger.c).
examples_event_sourcing_ledger_CPPFLAGS = $(ledger_cppflags) $(RDKAFKA_CFLAGS) \
	$(examples_common_cppflags)
examples_event_sourcing_ledger_LDADD = examples/common/libtable.la \
	libkbus.la $(PROTOBUF_C_LIBS) $(RDKAFKA_LIBS)
examples_event_sourcing_ledger_client_SOURCES = \
	examples/event-sourcing/ledger-client.c
nodist_examples_event_sourcing_ledger_client_SOURCES = $(LEDGER_GEN)
examples_event_sourcing_ledger_client_CPPFLAGS = $(ledger_cppflags)
examples_event_sourcing_ledger_client_LDADD = libkbus.la $(PROTOBUF_C_LIBS)
