# Every test; each area keeps its own fragment.
include tests/unit/local.mk
include tests/codegen/local.mk
include tests/integration/local.mk
include tests/interop/local.mk
