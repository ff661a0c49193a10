# Bad input: malformed requests, events and replies sent with kafka-python
# to real kbus processes (hello-server, ledger-sub, reply-probe) on an
# embedded broker; each is dead-lettered or dropped and counted with one
# log line, and the process keeps serving (ledger-sub is built in
# tests/faults).

badinput_tests = tests/badinput/requests_test.sh \
	tests/badinput/events_test.sh tests/badinput/replies_test.sh \
	tests/badinput/oversize_test.sh
TESTS += $(badinput_tests)
EXTRA_DIST += $(badinput_tests) tests/badinput/badinput.py

check_PROGRAMS += tests/badinput/reply-probe
tests_badinput_reply_probe_SOURCES = tests/badinput/reply-probe.c
nodist_tests_badinput_reply_probe_SOURCES = $(HELLO_GEN)
tests_badinput_reply_probe_CPPFLAGS = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	$(LIBEVENT_CFLAGS) -I$(top_builddir)/examples/hello
tests_badinput_reply_probe_LDADD = libkbus.la $(LIBEVENT_LIBS) \
	$(PROTOBUF_C_LIBS)

