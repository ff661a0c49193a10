/*
 * Subcommands of the kbus tool that live in files of their own.
 */
#ifndef KBUS_TOOL_H
#define KBUS_TOOL_H

#define EXIT_USAGE 2

/** kbus dlt show|replay ... (kbus_dlt.c) */
int kbus_tool_dlt(int argc, char **argv);

#endif
