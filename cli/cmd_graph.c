/* ctrace graph: the causal DAG (analyzer/graph.c does the work). */
#include <getopt.h>
#include <stdlib.h>

#include "analyzer/graph.h"
#include "cli/cli.h"
#include "common/error.h"

int cmd_graph(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "dot", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum ct_graph_format fmt = CT_GRAPH_TEXT;
	struct ct_view_stats st = { 0 };
	struct ct_rtxn *t = NULL;
	const char *spec = NULL;
	struct ct_out o = { 0 };
	uint64_t id;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":djh", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
		case 'j':
			if (fmt != CT_GRAPH_TEXT)
				return ct_cli_usage_error(
					cli, "--dot and --json exclude each "
					     "other");
			fmt = ch == 'd' ? CT_GRAPH_DOT : CT_GRAPH_JSON;
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
	/* DOT and JSON are for programs: never paged or coloured. */
	if (fmt != CT_GRAPH_TEXT)
		o.f = stdout;
	else
		ct_out_open(&o, true);
	rc = ct_graph_write(t, id, fmt, &o, &st);
	if (fmt == CT_GRAPH_TEXT && ct_out_close(&o) < 0 && !o.pager && rc == 0)
		rc = CT_EIO;
	if (rc == CT_EIO && o.pager)
		rc = 0; /* the pager quit early: not an error */
	if (rc < 0)
		rc = ct_cli_fail(rc == CT_ENOTFOUND || rc == CT_ECORRUPT
					 ? CT_EXIT_USAGE
					 : CT_EXIT_FINDINGS,
				 "cannot draw the graph: %s", ct_strerror(rc));
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
