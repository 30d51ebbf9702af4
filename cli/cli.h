/* The command table and what subcommands share.  One file per subcommand
 * (cmd_<name>.c) defines `int cmd_<name>(int argc, char **argv,
 * struct ct_cli *cli)`; main.c lists them once in its table. */
#ifndef CT_CLI_CLI_H
#define CT_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "collector/store.h"

/* Exit codes (SPEC): */
#define CT_EXIT_OK 0
#define CT_EXIT_FINDINGS 1 /* findings, or the operation failed */
#define CT_EXIT_USAGE 2 /* usage or input error */

/* Flags telling the dispatcher what to prepare before calling fn. */
enum {
	CT_CMD_STORE_RO = 1u << 0, /* open the store read-only into cli->store
				    * (a missing store reads as empty) */
	CT_CMD_STORE_RW = 1u << 1, /* open (create) the store read-write */
};

struct ct_cli;
typedef int (*ct_cmd_fn)(int argc, char **argv, struct ct_cli *cli);

struct ct_cmd {
	const char *name;
	ct_cmd_fn fn;
	unsigned flags;
	const char *usage; /* "ctrace timeline [SESSION] [--kind K[,K]] ..." */
	const char *help; /* one line for `ctrace --help` */
};

struct ct_cli {
	const struct ct_cmd *cmd;
	struct ct_store *store; /* NULL when the store does not exist (RO) */
	char store_dir[4096];
	const char *argv0; /* path ctrace was started as */
};

/* Print "ctrace CMD: MSG" + a usage hint on stderr; returns CT_EXIT_USAGE. */
int ct_cli_usage_error(const struct ct_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "ctrace: MSG" on stderr; returns code. */
int ct_cli_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help; prints the command's usage+help. */
bool ct_cli_want_help(const struct ct_cli *cli, int argc, char **argv);

/* Report a getopt_long() failure: c is what it returned ('?' or ':'),
 * optopt_ its optopt, arg the argument it stopped at (argv[optind - 1]).
 * Returns CT_EXIT_USAGE.  Run getopt_long with opterr = 0 and an optstring
 * that starts with ":" (after "+" if any). */
int ct_cli_bad_option(const struct ct_cli *cli, int c, int optopt_,
		      const char *arg);

/* Resolve SESSION (NULL = latest) inside t, printing the error (no such
 * session / ambiguous prefix + hint) itself.  Returns 0 or CT_EXIT_USAGE.
 * t may be NULL (the store does not exist): then it reports that no
 * session was recorded yet. */
int ct_cli_session(struct ct_cli *cli, struct ct_rtxn *t, const char *spec,
		   uint64_t *id);

/* After option parsing: the optional SESSION operand at argv[optind] into
 * *spec (left as is without one); anything after it is a usage error.
 * Returns 0 or CT_EXIT_USAGE (message printed). */
int ct_cli_session_operand(const struct ct_cli *cli, int argc, char **argv,
			   const char **spec);

/* Begin a read transaction on cli->store and resolve spec in it.  Returns
 * 0 with *t (NULL when there is no store: then nothing resolves) and *id
 * set; or an exit code, the message printed and no transaction left. */
int ct_cli_open_session(struct ct_cli *cli, const char *spec,
			struct ct_rtxn **t, uint64_t *id);

/* Recover rings left behind by a ctrace run that died: drain each into its
 * session (state CT_SESSION_RECOVERED).  Called by the dispatcher before
 * any command that opens the store.  Defined in cmd_run.c. */
void ct_cli_recover_rings(struct ct_cli *cli);

#endif
