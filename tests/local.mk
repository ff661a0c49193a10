# Every test; each area keeps its own fragment.
include tests/unit/local.mk
include tests/codegen/local.mk
include tests/integration/local.mk
include tests/interop/local.mk
include tests/fuzz/local.mk
include tests/faults/local.mk
include tests/badinput/local.mk
include tests/bench/local.mk
include tests/e2e/local.mk
include tests/examples/local.mk
include tests/cli/local.mk
include tests/state/local.mk
