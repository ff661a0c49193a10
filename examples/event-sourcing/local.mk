# examples/event-sourcing: an account ledger whose accounts are kbus
# event-sourced aggregates (docs/AGGREGATES.md).  See its README.md.

LEDGER_GEN = \
	examples/event-sourcing/ledger.pb-c.c examples/event-sourcing/ledger.pb-c.h \
	examples/event-sourcing/ledger.kbus.c examples/event-sourcing/ledger.kbus.h
BUILT_SOURCES += $(LEDGER_GEN)
CLEANFILES += $(LEDGER_GEN) examples/event-sourcing/ledger.kbus-stamp
EXTRA_DIST += examples/event-sourcing/ledger.proto \
	examples/event-sourcing/README.md

ledger_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) $(LIBEVENT_CFLAGS) \
	-I$(top_builddir)/examples/event-sourcing -I$(srcdir)/examples/event-sourcing

noinst_PROGRAMS += examples/event-sourcing/ledger \
	examples/event-sourcing/ledger-client
examples_event_sourcing_ledger_SOURCES = examples/event-sourcing/ledger.c \
	examples/event-sourcing/account.c examples/event-sourcing/account.h
nodist_examples_event_sourcing_ledger_SOURCES = $(LEDGER_GEN)
examples_event_sourcing_ledger_CPPFLAGS = $(ledger_cppflags)
examples_event_sourcing_ledger_LDADD = libkbus.la $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS)
examples_event_sourcing_ledger_client_SOURCES = \
	examples/event-sourcing/ledger-client.c \
	examples/event-sourcing/account.c examples/event-sourcing/account.h
nodist_examples_event_sourcing_ledger_client_SOURCES = $(LEDGER_GEN)
examples_event_sourcing_ledger_client_CPPFLAGS = $(ledger_cppflags)
examples_event_sourcing_ledger_client_LDADD = libkbus.la $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS)
