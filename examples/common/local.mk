# examples/common: what more than one example uses.

noinst_LTLIBRARIES += examples/common/libtable.la
examples_common_libtable_la_SOURCES = \
	examples/common/table.c examples/common/table.h
examples_common_cppflags = -I$(srcdir)/examples/common
