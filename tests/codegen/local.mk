# Tests of protoc-gen-kbus, all through the real protoc:
#   golden.sh       output for tests/codegen/protos equals tests/codegen/golden
#   determinism.sh  two runs give the same bytes
#   errors.sh       user errors name file, service/method or message/field
#   compile.sh      generated code compiles with -std=c11 -Wall -Wextra
#                   -Wpedantic -Werror, links with libkbus-wkt, and its
#                   descriptors and trampolines behave (api_test.c, with a
#                   stand-in for libkbus)
# `make update-golden` rewrites the golden files after an intended change.
#
# The scripts read configure's results from tests/codegen/env.sh, written
# below, so that they need no variables from the test harness.

CODEGEN_TESTS = \
	tests/codegen/golden.sh \
	tests/codegen/determinism.sh \
	tests/codegen/errors.sh \
	tests/codegen/compile.sh
TESTS += $(CODEGEN_TESTS)
dist_noinst_SCRIPTS += $(CODEGEN_TESTS)

EXTRA_DIST += \
	tests/codegen/common.sh \
	tests/codegen/api_test.c \
	tests/codegen/protos/hello.proto \
	tests/codegen/protos/nopkg.proto \
	tests/codegen/protos/cpackage.proto \
	tests/codegen/protos/table.proto \
	tests/codegen/protos/shop/v1/common.proto \
	tests/codegen/protos/shop/v1/orders.proto \
	tests/codegen/golden/hello.kbus.c \
	tests/codegen/golden/hello.kbus.h \
	tests/codegen/golden/nopkg.kbus.c \
	tests/codegen/golden/nopkg.kbus.h \
	tests/codegen/golden/cpackage.kbus.c \
	tests/codegen/golden/cpackage.kbus.h \
	tests/codegen/golden/table.kbus.c \
	tests/codegen/golden/table.kbus.h \
	tests/codegen/golden/shop/v1/common.kbus.c \
	tests/codegen/golden/shop/v1/common.kbus.h \
	tests/codegen/golden/shop/v1/orders.kbus.c \
	tests/codegen/golden/shop/v1/orders.kbus.h \
	tests/codegen/errors/streaming.proto \
	tests/codegen/errors/optional.proto \
	tests/codegen/errors/keyfield.proto \
	tests/codegen/errors/options.proto \
	tests/codegen/errors/names.proto \
	tests/codegen/errors/table.proto

# The tests need the plugin and libkbus-wkt (both part of `all`, which
# `make check` builds first) and env.sh.  With .sh in TEST_EXTENSIONS,
# tests/codegen/golden.sh logs to tests/codegen/golden.log.
CODEGEN_TEST_LOGS = $(CODEGEN_TESTS:.sh=.log)
$(CODEGEN_TEST_LOGS): tests/codegen/env.sh protoc-gen-kbus$(EXEEXT) libkbus-wkt.la
tests/codegen/env.sh: Makefile
	$(AM_V_GEN)$(MKDIR_P) tests/codegen && { \
	echo "# Written by make for the codegen tests."; \
	echo "PROTOC='$(PROTOC)'"; \
	echo "PROTO_INCLUDE='$(PROTO_INCLUDE)'"; \
	echo "PROTOBUF_C_INCLUDEDIR='`$(PKG_CONFIG) --variable=includedir libprotobuf-c`'"; \
	echo "PROTOBUF_C_CFLAGS='$(PROTOBUF_C_CFLAGS)'"; \
	echo "PROTOBUF_C_LIBS='$(PROTOBUF_C_LIBS)'"; \
	echo "CC='$(CC)'"; \
	echo "CFLAGS='$(CFLAGS)'"; \
	echo "LDFLAGS='$(LDFLAGS)'"; \
	echo "EXEEXT='$(EXEEXT)'"; \
	echo "abs_top_srcdir='$(abs_top_srcdir)'"; \
	echo "abs_top_builddir='$(abs_top_builddir)'"; \
	} > $@.tmp && mv $@.tmp $@
CLEANFILES += tests/codegen/env.sh

# Rewrites tests/codegen/golden in the source tree.
update-golden: codegen-update-golden
codegen-update-golden: protoc-gen-kbus$(EXEEXT) tests/codegen/env.sh
	KBUS_UPDATE_GOLDEN=1 $(srcdir)/tests/codegen/golden.sh
.PHONY: update-golden codegen-update-golden
