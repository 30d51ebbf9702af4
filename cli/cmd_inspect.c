/* ctrace inspect: the session's events with the rules each one hit.  The
 * rules are evaluated first (one pass), then the events are streamed
 * again and printed with their hits. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/export.h"
#include "analyzer/out.h"
#include "cli/checked.h"
#include "cli/cli.h"
#include "common/codec.h"
#include "common/error.h"
#include "rules/rules.h"

#define HITS_MAX 32

struct in_ctx {
	struct ct_out *o;
	const struct ct_model *m;
	const struct ct_audit *a;
	uint64_t start;
	bool anomalies, json;
	uint64_t shown;
	int err;
};

static void put_detail(FILE *f, const struct ct_event *ev)
{
	if (ev->present & CT_F_ARGV) {
		fputc(' ', f);
		ct_out_shell_argv(f, ev->argv_raw, ev->argc);
	}
	if (ev->present & CT_F_PATH) {
		fputc(' ', f);
		ct_out_term(f, ev->path.p, ev->path.len);
	}
	if (ev->present & CT_F_PATH2) {
		fputs(" -> ", f);
		ct_out_term(f, ev->path2.p, ev->path2.len);
	}
	if (ev->kind == CT_KIND_OPEN && (ev->present & CT_F_FLAGS)) {
		char fl[256];

		ct_open_flags_str(ev->flags, fl, sizeof(fl));
		fprintf(f, " %s", fl);
	}
	if (ev->present & CT_F_ADDR) {
		fputc(' ', f);
		ct_out_term(f, ev->addr.p, ev->addr.len);
	}
	if (ev->present & CT_F_REASON) {
		fputs(" (", f);
		ct_out_term(f, ev->reason.p, ev->reason.len);
		fputc(')', f);
	}
	if (ev->kind != CT_KIND_START && ev->kind != CT_KIND_EXIT &&
	    ev->kind != CT_KIND_GAP && ev->result < 0) {
		const char *e =
			ct_errno_name(ev->err ? ev->err : (int)-ev->result);
		fprintf(f, " = %s", e ? e : "error");
	}
}

static int in_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		    uint32_t len)
{
	struct in_ctx *c = arg;
	uint32_t v[HITS_MAX];
	size_t n = ct_audit_event(c->a, seq, v, HITS_MAX);
	struct ct_event ev;
	FILE *f = c->o->f;

	if (n > HITS_MAX)
		n = HITS_MAX;
	if (c->anomalies && n == 0)
		return 0;
	if (ct_event_decode(rec, len, &ev) != 0)
		return 0;
	c->shown++;
	if (c->json) {
		json_t *j = ct_export_event(c->m, seq, proc, &ev), *r;

		if (!j) {
			c->err = CT_ENOMEM;
			return 1;
		}
		r = json_array();
		for (size_t i = 0; r && i < n; i++)
			json_array_append_new(
				r, json_string(c->a->v[v[i]].rule_id));
		json_object_set_new(j, "rules", r ? r : json_array());
		fputs(c->shown > 1 ? ",\n" : "\n", f);
		json_dumpf(j, f, JSON_COMPACT);
		json_decref(j);
		return ferror(f) ? 1 : 0;
	}
	char pid[48], rel[32];
	const char *kind = ct_kind_name(ev.kind);

	ct_model_proc_id(c->m, proc, pid, sizeof(pid));
	ct_fmt_duration(rel, sizeof(rel),
			ev.ts > c->start ? ev.ts - c->start : 0);
	fprintf(f, "%8" PRIu64 " %9s %-10s %s%-7s%s", seq, rel,
		pid[0] ? pid : "?",
		ct_out_color(c->o, n ? CT_C_BOLD : CT_C_RESET),
		kind ? kind : "?", ct_out_color(c->o, CT_C_RESET));
	put_detail(f, &ev);
	for (size_t i = 0; i < n; i++) {
		const struct ct_violation *vi = &c->a->v[v[i]];

		fprintf(f, "%s %s[%s %s]%s", i ? "" : " ",
			ct_out_color(c->o, vi->severity >= CT_SEV_HIGH
						   ? CT_C_RED
						   : CT_C_YELLOW),
			vi->rule_id, ct_severity_name(vi->severity),
			ct_out_color(c->o, CT_C_RESET));
	}
	fputc('\n', f);
	return ferror(f) ? 1 : 0;
}

int cmd_inspect(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "anomalies-only", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *policies[CT_POLICY_MAX], *spec = NULL;
	size_t npol = 0;
	struct in_ctx c = { 0 };
	struct ct_cli_checked ck;
	struct ct_session_info si;
	struct ct_out o;
	int ch, rc, exit_code = CT_EXIT_OK;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":hajp:", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			c.anomalies = true;
			break;
		case 'j':
			c.json = true;
			break;
		case 'p':
			if (npol == CT_POLICY_MAX)
				return ct_cli_usage_error(
					cli, "too many --policy files");
			policies[npol++] = optarg;
			break;
		case 'h':
			ct_cli_want_help(cli, 2, (char *[]){ argv[0], "-h" });
			return 0;
		default:
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
		}
	}
	rc = ct_cli_session_operand(cli, argc, argv, &spec);
	if (rc)
		return rc;
	rc = ct_cli_checked_open(cli, spec, true, policies, npol,
				 "evaluate the rules", &ck);
	if (rc)
		return rc;
	if (ct_store_session_get(ck.t, ck.id, &si) == 0)
		c.start = si.start;
	ct_out_open(&o, !c.json);
	c.o = &o;
	c.m = &ck.m;
	c.a = &ck.a;
	if (c.json)
		fputc('[', o.f);
	rc = ct_store_events_foreach(ck.t, ck.id, 0, in_event, &c);
	if (c.json)
		fputs(c.shown ? "\n]\n" : "]\n", o.f);
	else if (c.anomalies && c.shown == 0)
		fprintf(o.f,
			"no event hit a rule (%" PRIu64 " events checked)\n",
			ck.a.events);
	if (ct_out_close(&o) < 0 || c.err || rc < 0)
		exit_code = ct_cli_fail(CT_EXIT_FINDINGS,
					"error writing the events: %s",
					ct_strerror(c.err    ? c.err
						    : rc < 0 ? rc
							     : CT_EIO));
	ct_cli_checked_close(&ck);
	return exit_code;
}
