# examples/activity-tracking: web front ends (web-sim) publish page views;
# page-counter counts them per page and minute in a kbus window; top-pages
# ranks the pages of each minute.  See its README.md.

ACTIVITY_GEN = \
	examples/activity-tracking/activity.pb-c.c examples/activity-tracking/activity.pb-c.h \
	examples/activity-tracking/activity.kbus.c examples/activity-tracking/activity.kbus.h
BUILT_SOURCES += $(ACTIVITY_GEN)
CLEANFILES += $(ACTIVITY_GEN) examples/activity-tracking/activity.kbus-stamp
EXTRA_DIST += examples/activity-tracking/activity.proto \
	examples/activity-tracking/README.md

activity_cppflags = $(AM_CPPFLAGS) $(KBUS_GEN_CPPFLAGS) \
	-I$(top_builddir)/examples/activity-tracking

noinst_PROGRAMS += examples/activity-tracking/web-sim \
	examples/activity-tracking/page-counter \
	examples/activity-tracking/top-pages
examples_activity_tracking_web_sim_SOURCES = \
	examples/activity-tracking/web-sim.c
nodist_examples_activity_tracking_web_sim_SOURCES = $(ACTIVITY_GEN)
# web-sim paces itself (-r), and page-counter and top-pages say "ready",
# with a libevent timer on the runtime's base.
examples_activity_tracking_web_sim_CPPFLAGS = $(activity_cppflags) \
	$(LIBEVENT_CFLAGS)
examples_activity_tracking_web_sim_LDADD = libkbus.la $(PROTOBUF_C_LIBS) \
	$(LIBEVENT_LIBS)
examples_activity_tracking_page_counter_SOURCES = \
	examples/activity-tracking/page-counter.c
nodist_examples_activity_tracking_page_counter_SOURCES = $(ACTIVITY_GEN)
examples_activity_tracking_page_counter_CPPFLAGS = $(activity_cppflags) \
	$(LIBEVENT_CFLAGS)
examples_activity_tracking_page_counter_LDADD = libkbus.la \
	$(PROTOBUF_C_LIBS) $(LIBEVENT_LIBS)
examples_activity_tracking_top_pages_SOURCES = \
	examples/activity-tracking/top-pages.c
nodist_examples_activity_tracking_top_pages_SOURCES = $(ACTIVITY_GEN)
examples_activity_tracking_top_pages_CPPFLAGS = $(activity_cppflags) \
	$(LIBEVENT_CFLAGS)
examples_activity_tracking_top_pages_LDADD = libkbus.la \
	$(PROTOBUF_C_LIBS) $(LIBEVENT_LIBS)
