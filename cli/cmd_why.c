/* ctrace why: the causal chain of one event (analyzer/why.c). */
#include <getopt.h>
#include <stdlib.h>

#include "analyzer/export.h"
#include "analyzer/why.h"
#include "cli/cli.h"
#include "common/error.h"

int cmd_why(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ct_why_opts wo = { 0 };
	struct ct_view_stats st = { 0 };
	struct ct_session_info si;
	struct ct_rtxn *t = NULL;
	const char *spec = NULL, *seqarg, *p;
	struct ct_out o = { 0 };
	unsigned long long seq;
	char *end, sid[17];
	const void *rec;
	uint32_t proc, len;
	uint64_t id;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		if (ch == 'j')
			wo.json = true;
		else
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
	}
	if (argc - optind == 2)
		spec = argv[optind++];
	if (argc - optind != 1)
		return argc - optind < 1
			       ? ct_cli_usage_error(cli,
						    "missing SEQ (the event's "
						    "number, from timeline)")
			       : ct_cli_usage_error(cli,
						    "unexpected argument '%s'",
						    argv[argc - 1]);
	seqarg = argv[optind];
	p = seqarg[0] == '#' ? seqarg + 1 : seqarg;
	seq = strtoull(p, &end, 10);
	if (end == p || *end || *p == '-' || seq == 0)
		return ct_cli_usage_error(cli,
					  "SEQ must be an event number (1 or "
					  "more), not '%s'",
					  seqarg);
	if (cli->store && (rc = ct_store_read_begin(cli->store, &t)) < 0)
		return ct_cli_fail(CT_EXIT_USAGE, "%s",
				   ct_store_errmsg(cli->store));
	rc = ct_cli_session(cli, t, spec, &id);
	if (rc)
		goto out_txn;
	rc = ct_store_session_get(t, id, &si);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_USAGE, "cannot read session: %s",
				 ct_strerror(rc));
		goto out_txn;
	}
	ct_export_session_id(id, sid);
	if (seq > si.last_seq ||
	    ct_store_event_get(t, id, seq, &proc, &rec, &len) < 0) {
		rc = ct_cli_fail(CT_EXIT_USAGE,
				 "no event #%llu in session %s (it has events "
				 "1 to %llu; see 'ctrace timeline')",
				 seq, sid, (unsigned long long)si.last_seq);
		goto out_txn;
	}
	if (wo.json)
		o.f = stdout;
	else
		ct_out_open(&o, true);
	rc = ct_why_write(t, id, seq, &wo, &o, &st);
	if (!wo.json && ct_out_close(&o) < 0 && !o.pager && rc == 0)
		rc = CT_EIO;
	if (rc == CT_EIO && o.pager)
		rc = 0; /* the pager quit early: not an error */
	if (rc < 0)
		rc = ct_cli_fail(
			rc == CT_ECORRUPT ? CT_EXIT_USAGE : CT_EXIT_FINDINGS,
			"cannot explain event #%llu: %s", seq, ct_strerror(rc));
	else
		rc = CT_EXIT_OK;
	if (st.undecoded)
		fprintf(stderr,
			"ctrace: warning: %llu events could not be decoded "
			"and were skipped\n",
			(unsigned long long)st.undecoded);
out_txn:
	if (t)
		ct_store_read_end(t);
	return rc;
}
