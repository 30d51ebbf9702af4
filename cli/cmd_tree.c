/* ctrace tree: who spawned whom (analyzer/tree.c does the work). */
#include <getopt.h>
#include <stdlib.h>

#include "analyzer/tree.h"
#include "cli/cli.h"
#include "common/error.h"

int cmd_tree(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "events", no_argument, NULL, 'e' },
		{ "depth", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ct_tree_opts to = { 0 };
	struct ct_view_stats st = { 0 };
	struct ct_rtxn *t = NULL;
	const char *spec = NULL;
	struct ct_out o = { 0 };
	uint64_t id;
	char *end;
	long v;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":ed:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			to.events = true;
			break;
		case 'd':
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 1 || v > 1000000)
				return ct_cli_usage_error(
					cli,
					"--depth needs a number of levels "
					"(1 or more), not '%s'",
					optarg);
			to.depth = (uint32_t)v;
			break;
		case 'j':
			to.json = true;
			break;
		default:
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
		}
	}
	rc = ct_cli_session_operand(cli, argc, argv, &spec);
	if (rc)
		return rc;
	rc = ct_cli_open_session(cli, spec, &t, &id);
	if (rc)
		return rc;
	if (to.json)
		o.f = stdout;
	else
		ct_out_open(&o, true);
	rc = ct_tree_write(t, id, &to, &o, &st);
	if (!to.json && ct_out_close(&o) < 0 && !o.pager && rc == 0)
		rc = CT_EIO;
	if (rc == CT_EIO && o.pager)
		rc = 0; /* the pager quit early: not an error */
	if (rc < 0)
		rc = ct_cli_fail(rc == CT_ENOTFOUND || rc == CT_ECORRUPT
					 ? CT_EXIT_USAGE
					 : CT_EXIT_FINDINGS,
				 "cannot show the tree: %s", ct_strerror(rc));
	else
		rc = CT_EXIT_OK;
	if (st.undecoded)
		fprintf(stderr,
			"ctrace: warning: %llu events could not be decoded "
			"and were skipped\n",
			(unsigned long long)st.undecoded);
	if (t)
		ct_store_read_end(t);
	return rc;
}
