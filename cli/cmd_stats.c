/* ctrace stats: a session's events counted every way a reader asks. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/out.h"
#include "analyzer/stats.h"
#include "cli/cli.h"
#include "common/error.h"

#define TOP_DEFAULT 10

int cmd_stats(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "top", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ct_stats *st = NULL;
	struct ct_rtxn *t = NULL;
	const char *spec = NULL;
	size_t top = TOP_DEFAULT;
	bool json = false;
	struct ct_out o;
	uint64_t id;
	char *end;
	long v;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":n:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v <= 0 || v > 1000000)
				return ct_cli_usage_error(
					cli,
					"--top needs a positive number, not "
					"'%s'",
					optarg);
			top = (size_t)v;
			break;
		case 'j':
			json = true;
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
	rc = ct_stats_build(t, id, &st);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "cannot read session: %s",
				 ct_strerror(rc));
		goto out_txn;
	}
	if (json) {
		rc = ct_stats_print_json(st, stdout, top);
		if (fflush(stdout) != 0 || ferror(stdout))
			rc = CT_EIO;
	} else {
		ct_out_open(&o, true);
		ct_stats_print_text(st, &o, top);
		rc = ct_out_close(&o) < 0 && !o.pager ? CT_EIO : 0;
	}
	if (rc < 0)
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "error writing output: %s",
				 ct_strerror(rc));
	else
		rc = CT_EXIT_OK;
	if (ct_stats_undecoded(st))
		fprintf(stderr,
			"ctrace: warning: %llu events could not be decoded "
			"and were skipped\n",
			(unsigned long long)ct_stats_undecoded(st));
	ct_stats_free(st);
out_txn:
	if (t)
		ct_store_read_end(t);
	return rc;
}
