/* ctrace postmortem: what a session destroyed, by responsible command. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/out.h"
#include "analyzer/postmortem.h"
#include "cli/cli.h"
#include "common/error.h"

int cmd_postmortem(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ct_pm_options po = { 0 };
	struct ct_postmortem *pm = NULL;
	struct ct_rtxn *t = NULL;
	const char *spec = NULL;
	bool json = false, all = false;
	struct ct_out o;
	uint64_t id;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":p:ajh", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (!optarg[0])
				return ct_cli_usage_error(
					cli, "--path needs a glob, e.g. "
					     "'*/build/*' or /home/me/src");
			po.glob = optarg;
			break;
		case 'a':
			all = true;
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
	rc = ct_postmortem_build(t, id, &po, &pm);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "cannot read session: %s",
				 ct_strerror(rc));
		goto out_txn;
	}
	if (json) {
		memset(&o, 0, sizeof(o));
		o.f = stdout;
		rc = ct_postmortem_print_json(pm, stdout);
	} else {
		ct_out_open(&o, true);
		ct_postmortem_print_text(pm, &o, all);
		rc = 0;
	}
	if ((json ? (fflush(stdout) != 0 || ferror(stdout))
		  : ct_out_close(&o) < 0 && !o.pager))
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "error writing output");
	else if (rc < 0)
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "%s", ct_strerror(rc));
	else
		rc = CT_EXIT_OK;
	if (ct_postmortem_undecoded(pm))
		fprintf(stderr,
			"ctrace: warning: %llu events could not be decoded "
			"and were skipped\n",
			(unsigned long long)ct_postmortem_undecoded(pm));
	ct_postmortem_free(pm);
out_txn:
	if (t)
		ct_store_read_end(t);
	return rc;
}
