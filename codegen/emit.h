/*
 * Printing a file's model (model.h) as <file>.kbus.h and <file>.kbus.c.
 *
 * Output depends on the model alone, in declaration order, so the same
 * .proto always gives the same bytes.
 */
#ifndef KBUS_CODEGEN_EMIT_H
#define KBUS_CODEGEN_EMIT_H

#include "buf.h"
#include "model.h"

/** @brief Appends the text of <file>.kbus.h to \p out. */
void emit_header(buf *out, const mfile *mf);

/** @brief Appends the text of <file>.kbus.c to \p out. */
void emit_source(buf *out, const mfile *mf);

#endif /* KBUS_CODEGEN_EMIT_H */
