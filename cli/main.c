/* ctrace: the one table of subcommands and the dispatcher. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "collector/store.h"
#include "common/error.h"

int cmd_run(int argc, char **argv, struct ct_cli *cli);
int cmd_sessions(int argc, char **argv, struct ct_cli *cli);
int cmd_show(int argc, char **argv, struct ct_cli *cli);
int cmd_timeline(int argc, char **argv, struct ct_cli *cli);
int cmd_export(int argc, char **argv, struct ct_cli *cli);
int cmd_demo(int argc, char **argv, struct ct_cli *cli);
int cmd_inspect(int argc, char **argv, struct ct_cli *cli);
int cmd_audit(int argc, char **argv, struct ct_cli *cli);
int cmd_rules(int argc, char **argv, struct ct_cli *cli);
int cmd_postmortem(int argc, char **argv, struct ct_cli *cli);
int cmd_stats(int argc, char **argv, struct ct_cli *cli);
int cmd_tree(int argc, char **argv, struct ct_cli *cli);
int cmd_why(int argc, char **argv, struct ct_cli *cli);
int cmd_graph(int argc, char **argv, struct ct_cli *cli);

/* SPEC's commands, in SPEC's order. */
static const struct ct_cmd commands[] = {
	{ "run", cmd_run, CT_CMD_STORE_RW,
	  "ctrace run [--name NAME] [--rules FILE]... [--ring-mib N] "
	  "[--quiet] -- CMD [ARG...]",
	  "run CMD under tracing and record what its process tree does" },
	{ "sessions", cmd_sessions, CT_CMD_STORE_RO,
	  "ctrace sessions [--json] [--limit N]",
	  "list recorded sessions, newest first" },
	{ "show", cmd_show, CT_CMD_STORE_RO,
	  "ctrace show [SESSION] [--all] [--json]",
	  "show one session: command, host, times, exit, counts, gaps, "
	  "capture per process" },
	{ "timeline", cmd_timeline, CT_CMD_STORE_RO,
	  "ctrace timeline [SESSION] [--kind K[,K]] [--pid P] [--since T] "
	  "[--json]",
	  "flat chronological view of a session, one event a line" },
	{ "tree", cmd_tree, CT_CMD_STORE_RO,
	  "ctrace tree [SESSION] [--events] [--depth N] [--json]",
	  "process tree: who spawned whom, with argv, exit and counts" },
	{ "why", cmd_why, CT_CMD_STORE_RO, "ctrace why [SESSION] SEQ [--json]",
	  "the causal chain that led to event SEQ" },
	{ "graph", cmd_graph, CT_CMD_STORE_RO,
	  "ctrace graph [SESSION] [--dot | --json]",
	  "the causal DAG: lineage plus data-flow edges" },
	{ "postmortem", cmd_postmortem, CT_CMD_STORE_RO,
	  "ctrace postmortem [SESSION] [--path GLOB] [--all] [--json]",
	  "everything destroyed or overwritten, by responsible command" },
	{ "inspect", cmd_inspect, CT_CMD_STORE_RO,
	  "ctrace inspect [SESSION] [--anomalies-only] [--policy FILE]... "
	  "[--json]",
	  "events with the rules they hit" },
	{ "audit", cmd_audit, CT_CMD_STORE_RO,
	  "ctrace audit [SESSION] [--policy FILE]... [--format "
	  "text|json|sarif] [--min-severity S] [--no-default]",
	  "check a session against rules (exit 1 on violations)" },
	{ "export", cmd_export, CT_CMD_STORE_RO,
	  "ctrace export [SESSION] --format json|ndjson [-o FILE]",
	  "machine-readable export of a session (SPEC schema)" },
	{ "stats", cmd_stats, CT_CMD_STORE_RO,
	  "ctrace stats [SESSION] [--top N] [--json]",
	  "counts by kind, process and executable; top paths; errors" },
	{ "rules", cmd_rules, 0,
	  "ctrace rules list [--rules FILE]... [--json] | ctrace rules check "
	  "FILE...",
	  "show the loaded rules, or validate rules files" },
	{ "demo", cmd_demo, CT_CMD_STORE_RW, "ctrace demo",
	  "run a built-in scenario under tracing and show what it did" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *f)
{
	fprintf(f, "usage: ctrace COMMAND [ARGS]\n\n"
		   "strace for AI coding agents: record what a process tree "
		   "does, then ask.\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nSESSION is a session id, a unique prefix of one, or "
		   "'latest' (the default).\n"
		   "'ctrace COMMAND -h' shows a command's options.  "
		   "Store: $CTRACE_HOME or ~/.local/share/ctrace.\n");
}

/* Levenshtein distance, capped: names are short. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 64;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t m = del < ins ? del : ins;

			cur[j] = m < sub ? m : sub;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

static int unknown_command(const char *name)
{
	const char *best = NULL;
	size_t bestd = 3;

	fprintf(stderr,
		"ctrace: '%s' is not a ctrace command (see 'ctrace "
		"--help')\n",
		name);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		size_t d = edit_distance(name, commands[i].name);

		if (d < bestd) {
			bestd = d;
			best = commands[i].name;
		}
	}
	if (best)
		fprintf(stderr, "hint: did you mean 'ctrace %s'?\n", best);
	return CT_EXIT_USAGE;
}

/* A damaged data.mdb can make LMDB fault (ct_store_fault_is_corrupt): say
 * so as for a store found corrupt at open, and exit 2.  Any other fault
 * is left to crash as it would. */
static char s_corrupt[PATH_MAX + 128];
static size_t s_corrupt_len;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (!ct_store_fault_is_corrupt(si->si_addr))
		return; /* SA_RESETHAND: the fault recurs, default action */
	if (write(STDERR_FILENO, s_corrupt, s_corrupt_len) < 0)
		_exit(CT_EXIT_USAGE);
	_exit(CT_EXIT_USAGE);
}

static void catch_corrupt(const char *dir)
{
	struct sigaction sa;
	int n = snprintf(s_corrupt, sizeof(s_corrupt),
			 "ctrace: store %s is corrupt: reading it faulted "
			 "(move it aside or set CTRACE_HOME to another "
			 "folder)\n",
			 dir);

	s_corrupt_len = n < 0			      ? 0
			: n >= (int)sizeof(s_corrupt) ? sizeof(s_corrupt) - 1
						      : (size_t)n;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static int open_store(struct ct_cli *cli, unsigned flags)
{
	char err[512] = "";
	int rc;

	rc = ct_store_open(cli->store_dir,
			   flags & CT_CMD_STORE_RO ? CT_STORE_RDONLY : 0,
			   &cli->store, err, sizeof(err));
	if (rc == CT_ENOTFOUND && (flags & CT_CMD_STORE_RO)) {
		cli->store = NULL; /* no store yet reads as empty */
		return 0;
	}
	if (rc < 0)
		return ct_cli_fail(CT_EXIT_USAGE, "%s",
				   err[0] ? err : ct_strerror(rc));
	return 0;
}

int main(int argc, char **argv)
{
	struct ct_cli cli = { .argv0 = argv[0] };
	const struct ct_cmd *cmd = NULL;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		if (argc >= 3 && strcmp(argv[1], "help") == 0) {
			/* "ctrace help CMD" == "ctrace CMD -h" */
			char *hv[] = { argv[2], "-h", NULL };

			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(argv[2], commands[i].name) == 0) {
					cli.cmd = &commands[i];
					ct_cli_want_help(&cli, 2, hv);
					return CT_EXIT_OK;
				}
			return unknown_command(argv[2]);
		}
		print_help(stdout);
		return CT_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("ctrace %s\n", CT_VERSION);
		return CT_EXIT_OK;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "ctrace: unknown option '%s'\n", argv[1]);
		fprintf(stderr, "usage: ctrace COMMAND [ARGS] (see 'ctrace "
				"--help')\n");
		return CT_EXIT_USAGE;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return unknown_command(argv[1]);
	cli.cmd = cmd;
	argc--, argv++;

	if (ct_cli_want_help(&cli, argc, argv))
		return CT_EXIT_OK;

	rc = ct_store_default_dir(cli.store_dir, sizeof(cli.store_dir));
	if (rc < 0)
		return ct_cli_fail(CT_EXIT_USAGE,
				   "cannot locate the store: set CTRACE_HOME "
				   "(or HOME) to a writable folder");
	if (cmd->flags & (CT_CMD_STORE_RO | CT_CMD_STORE_RW)) {
		catch_corrupt(cli.store_dir);
		ct_cli_recover_rings(&cli);
		rc = open_store(&cli, cmd->flags);
		if (rc)
			return rc;
	}
	rc = cmd->fn(argc, argv, &cli);
	if (cli.store)
		ct_store_close(cli.store);
	if (fflush(stdout) != 0 && rc == CT_EXIT_OK)
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "error writing output");
	return rc;
}
