/* Helpers every subcommand shares: error lines, -h, SESSION resolution. */
#include "cli/cli.h"

#include <unistd.h>

#include <stdarg.h>
#include <string.h>

#include "common/error.h"

int ct_cli_usage_error(const struct ct_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ctrace %s: ", cli->cmd ? cli->cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cli->cmd)
		fprintf(stderr, "usage: %s\n       (see 'ctrace %s -h')\n",
			cli->cmd->usage, cli->cmd->name);
	return CT_EXIT_USAGE;
}

int ct_cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("ctrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

bool ct_cli_want_help(const struct ct_cli *cli, int argc, char **argv)
{
	/* Stop at "--": what follows belongs to a traced command.  `run`
	 * also takes its command without "--", from its first word on. */
	bool run = strcmp(cli->cmd->name, "run") == 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 || (run && argv[i][0] != '-'))
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			printf("usage: %s\n\n%s\n", cli->cmd->usage,
			       cli->cmd->help);
			return true;
		}
	}
	return false;
}

int ct_cli_bad_option(const struct ct_cli *cli, int c, int optopt_,
		      const char *arg)
{
	/* For long options glibc sets optopt to the option's val, so the
	 * word the user typed is the better name for it. */
	bool is_long = arg && strncmp(arg, "--", 2) == 0;
	int n = is_long ? (int)strcspn(arg, "=") : 0;

	if (c == ':') {
		if (is_long)
			return ct_cli_usage_error(
				cli, "option '%.*s' needs a value", n, arg);
		return ct_cli_usage_error(cli, "option '-%c' needs a value",
					  optopt_);
	}
	if (is_long && optopt_)
		return ct_cli_usage_error(cli, "option '%.*s' takes no value",
					  n, arg);
	if (is_long || !optopt_)
		return ct_cli_usage_error(cli, "unknown option '%s'", arg);
	return ct_cli_usage_error(cli, "unknown option '-%c'", optopt_);
}

int ct_cli_session(struct ct_cli *cli, struct ct_rtxn *t, const char *spec,
		   uint64_t *id)
{
	bool latest = !spec || strcmp(spec, "latest") == 0;
	int rc;

	if (!t) {
		fprintf(stderr,
			"ctrace: no sessions recorded yet in %s (run 'ctrace "
			"run -- CMD' first)\n",
			cli->store_dir);
		return CT_EXIT_USAGE;
	}
	rc = ct_store_session_resolve(t, spec, id);
	if (rc == 0)
		return 0;
	if (rc == CT_ENOTFOUND && latest)
		fprintf(stderr,
			"ctrace: no sessions recorded yet in %s (run 'ctrace "
			"run -- CMD' first)\n",
			cli->store_dir);
	else if (rc == CT_ENOTFOUND)
		fprintf(stderr,
			"ctrace: no session matches '%s' (see 'ctrace "
			"sessions')\n",
			spec);
	else if (rc == CT_EINVAL)
		fprintf(stderr,
			"ctrace: '%s' is not a session id (give 'latest', an id, "
			"or at least 4 of its hex digits; see 'ctrace "
			"sessions')\n",
			spec);
	else if (rc == CT_EAMBIG)
		fprintf(stderr,
			"ctrace: session prefix '%s' is ambiguous (give more "
			"digits; see 'ctrace sessions')\n",
			spec);
	else
		fprintf(stderr, "ctrace: cannot read sessions in %s: %s\n",
			cli->store_dir, ct_strerror(rc));
	return CT_EXIT_USAGE;
}

int ct_cli_session_operand(const struct ct_cli *cli, int argc, char **argv,
			   const char **spec)
{
	if (optind < argc)
		*spec = argv[optind++];
	if (optind < argc)
		return ct_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);
	return 0;
}

int ct_cli_open_session(struct ct_cli *cli, const char *spec,
			struct ct_rtxn **t, uint64_t *id)
{
	int rc;

	*t = NULL;
	if (cli->store && ct_store_read_begin(cli->store, t) < 0)
		return ct_cli_fail(CT_EXIT_USAGE, "%s",
				   ct_store_errmsg(cli->store));
	rc = ct_cli_session(cli, *t, spec, id);
	if (rc && *t) {
		ct_store_read_end(*t);
		*t = NULL;
	}
	return rc;
}
