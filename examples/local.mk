include examples/hello/local.mk
