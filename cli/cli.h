/*
 * Subcommands of the kbus tool that live in files of their own.
 */
#ifndef KBUS_CLI_H
#define KBUS_CLI_H

#define EXIT_USAGE 2

/** kbus dlt show|replay ... (dlt.c) */
int kbus_tool_dlt(int argc, char **argv);

#endif
