/* ctrace audit: a session against the shipped rules plus a project's
 * policy, as text, SPEC's JSON or SARIF 2.1.0.  Exit 0 clean, 1 when a
 * violation at or above --min-severity was found, 2 on usage or input
 * errors. */
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

enum fmt { F_TEXT, F_JSON, F_SARIF };

static json_t *seq_array(const struct ct_violation *v)
{
	json_t *a = json_array();

	for (uint32_t i = 0; a && i < v->nseq; i++)
		json_array_append_new(a, json_integer((json_int_t)v->seq[i]));
	return a;
}

static int out_json(const struct ct_audit *a, const struct ct_model *m,
		    int min_sev)
{
	char id[17], proc[48];
	json_t *root, *vs, *counts;

	ct_export_session_id(a->session, id);
	vs = json_array();
	counts = json_object();
	for (size_t i = 0; i < a->n; i++) {
		const struct ct_violation *v = &a->v[i];

		if (v->severity < min_sev)
			continue;
		ct_model_proc_id(m, v->proc, proc, sizeof(proc));
		json_array_append_new(vs,
				      json_pack("{s:s, s:s, s:o, s:s, s:s}",
						"rule", v->rule_id, "severity",
						ct_severity_name(v->severity),
						"seq", seq_array(v), "proc",
						proc, "summary", v->summary));
	}
	for (int s = CT_SEV_INFO; s <= CT_SEV_CRITICAL; s++)
		json_object_set_new(counts, ct_severity_name(s),
				    json_integer((json_int_t)a->counts[s]));
	root = json_pack("{s:s, s:o, s:o}", "session", id, "violations", vs,
			 "counts", counts);
	if (!root)
		return CT_ENOMEM;
	json_dumpf(root, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(root);
	return 0;
}

static const char *sarif_level(int sev)
{
	return sev >= CT_SEV_HIGH     ? "error"
	       : sev == CT_SEV_MEDIUM ? "warning"
				      : "note";
}

/* A location GitHub code scanning can show: the first path of the
 * violation's events inside the workspace, relative to it. */
static json_t *physical(struct ct_rtxn *t, uint64_t session,
			const struct ct_violation *v, const char *ws)
{
	size_t wl = strlen(ws);

	for (uint32_t i = 0; i < v->nseq && wl > 1; i++) {
		const void *rec;
		uint32_t proc, len;
		struct ct_event ev;

		if (ct_store_event_get(t, session, v->seq[i], &proc, &rec,
				       &len) != 0 ||
		    ct_event_decode(rec, len, &ev) != 0 ||
		    !(ev.present & CT_F_PATH))
			continue;
		if (ev.path.len > wl + 1 && memcmp(ev.path.p, ws, wl) == 0 &&
		    ev.path.p[wl] == '/') {
			char *rel = ct_utf8_escape(ev.path.p + wl + 1,
						   ev.path.len - wl - 1);
			json_t *j = json_pack(
				"{s:{s:{s:s, s:s}}}", "physicalLocation",
				"artifactLocation", "uri", rel ? rel : "",
				"uriBaseId", "WORKSPACE");

			free(rel);
			return j;
		}
	}
	return NULL;
}

static int out_sarif(struct ct_rtxn *t, const struct ct_ruleset *rs,
		     const struct ct_audit *a, const struct ct_model *m,
		     int min_sev, const char *ws)
{
	char id[17], proc[48];
	json_t *rules = json_array(), *results = json_array();

	ct_export_session_id(a->session, id);
	for (size_t i = 0; i < ct_ruleset_count(rs); i++) {
		struct ct_rule_info ri;

		ct_ruleset_rule(rs, i, &ri);
		json_array_append_new(
			rules,
			json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}}", "id",
				  ri.id, "name", ri.id, "shortDescription",
				  "text", ri.description,
				  "defaultConfiguration", "level",
				  sarif_level(ri.severity), "properties",
				  "severity", ct_severity_name(ri.severity)));
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct ct_violation *v = &a->v[i];
		json_t *locs, *r, *pl;
		char fp[64];

		if (v->severity < min_sev)
			continue;
		ct_model_proc_id(m, v->proc, proc, sizeof(proc));
		locs = json_array();
		pl = physical(t, a->session, v, ws);
		if (pl)
			json_array_append_new(locs, pl);
		json_array_append_new(
			locs, json_pack("{s:[{s:s, s:s}]}", "logicalLocations",
					"name", proc[0] ? proc : "?", "kind",
					"process"));
		snprintf(fp, sizeof(fp), "%s/%" PRIu64, id,
			 v->nseq ? v->seq[0] : 0);
		r = json_pack("{s:s, s:i, s:s, s:{s:s}, s:o, s:{s:s}, "
			      "s:{s:s, s:s, s:s, s:o}}",
			      "ruleId", v->rule_id, "ruleIndex", (int)v->rule,
			      "level", sarif_level(v->severity), "message",
			      "text", v->summary, "locations", locs,
			      "partialFingerprints", "ctraceEvent/v1", fp,
			      "properties", "session", id, "proc", proc,
			      "severity", ct_severity_name(v->severity), "seq",
			      seq_array(v));
		if (r)
			json_array_append_new(results, r);
	}
	char *wsuri = NULL;
	if (asprintf(&wsuri, "file://%s/", ws) < 0)
		wsuri = NULL;
	json_t *root = json_pack(
		"{s:s, s:s, s:[{s:{s:{s:s, s:s, s:s, s:o}}, s:{s:{s:s}}, "
		"s:o}]}",
		"$schema", "https://json.schemastore.org/sarif-2.1.0.json",
		"version", "2.1.0", "runs", "tool", "driver", "name", "ctrace",
		"version", CT_VERSION, "informationUri",
		"https://github.com/ctrace/ctrace", "rules", rules,
		"originalUriBaseIds", "WORKSPACE", "uri",
		wsuri ? wsuri : "file:///", "results", results);
	free(wsuri);
	if (!root)
		return CT_ENOMEM;
	json_dumpf(root, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(root);
	return 0;
}

static void out_text(const struct ct_audit *a, const struct ct_model *m,
		     int min_sev)
{
	struct ct_out o;
	char id[17], proc[48];
	uint64_t shown = 0, below = 0;

	ct_out_open(&o, true);
	ct_export_session_id(a->session, id);
	for (size_t i = 0; i < a->n; i++) {
		const struct ct_violation *v = &a->v[i];
		enum ct_color col = v->severity >= CT_SEV_HIGH	   ? CT_C_RED
				    : v->severity == CT_SEV_MEDIUM ? CT_C_YELLOW
								   : CT_C_DIM;

		if (v->severity < min_sev) {
			below++;
			continue;
		}
		shown++;
		ct_model_proc_id(m, v->proc, proc, sizeof(proc));
		fprintf(o.f, "%s%-8s%s %s%s%s  proc %s\n    %s\n    events:",
			ct_out_color(&o, col), ct_severity_name(v->severity),
			ct_out_color(&o, CT_C_RESET),
			ct_out_color(&o, CT_C_BOLD), v->rule_id,
			ct_out_color(&o, CT_C_RESET), proc[0] ? proc : "?",
			v->summary);
		for (uint32_t j = 0; j < v->nseq; j++)
			fprintf(o.f, " %" PRIu64, v->seq[j]);
		if (v->seq_dropped)
			fprintf(o.f, " (+%u more)", v->seq_dropped);
		fputc('\n', o.f);
	}
	fprintf(o.f, "%s%s: %" PRIu64 " violation%s at or above %s",
		shown ? "\n" : "", id, shown, shown == 1 ? "" : "s",
		ct_severity_name(min_sev));
	if (below)
		fprintf(o.f, " (%" PRIu64 " below)", below);
	fprintf(o.f, "; %" PRIu64 " events checked", a->events);
	if (a->undecoded)
		fprintf(o.f, ", %" PRIu64 " undecodable skipped", a->undecoded);
	if (a->dropped)
		fprintf(o.f, ", %" PRIu64 " violations not kept", a->dropped);
	fputc('\n', o.f);
	ct_out_close(&o);
}

int cmd_audit(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "min-severity", required_argument, NULL, 's' },
		{ "no-default", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *policies[CT_POLICY_MAX], *spec = NULL;
	size_t npol = 0;
	enum fmt fmt = F_TEXT;
	int min_sev = CT_SEV_MEDIUM, c, rc, exit_code;
	bool with_default = true;
	struct ct_cli_checked ck;
	struct ct_session_info si;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hp:f:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (npol == CT_POLICY_MAX)
				return ct_cli_usage_error(
					cli, "too many --policy files");
			policies[npol++] = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				fmt = F_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = F_JSON;
			else if (strcmp(optarg, "sarif") == 0)
				fmt = F_SARIF;
			else
				return ct_cli_usage_error(
					cli,
					"unknown format '%s' (text, json, "
					"sarif)",
					optarg);
			break;
		case 's':
			min_sev = ct_severity_parse(optarg);
			if (!min_sev)
				return ct_cli_usage_error(
					cli,
					"unknown severity '%s' (info, low, "
					"medium, high, critical)",
					optarg);
			break;
		case 'n':
			with_default = false;
			break;
		case 'h':
			ct_cli_want_help(cli, 2, (char *[]){ argv[0], "-h" });
			return 0;
		default:
			return ct_cli_bad_option(cli, c, optopt,
						 argv[optind - 1]);
		}
	}
	rc = ct_cli_session_operand(cli, argc, argv, &spec);
	if (rc)
		return rc;
	rc = ct_cli_checked_open(cli, spec, with_default, policies, npol,
				 "audit the session", &ck);
	if (rc)
		return rc;
	if (fmt == F_JSON) {
		rc = out_json(&ck.a, &ck.m, min_sev);
	} else if (fmt == F_SARIF) {
		char *ws = NULL;

		if (ct_store_session_get(ck.t, ck.id, &si) == 0)
			ws = strndup(si.cwd.p ? si.cwd.p : "", si.cwd.len);
		rc = out_sarif(ck.t, ck.rs, &ck.a, &ck.m, min_sev,
			       ws ? ws : "");
		free(ws);
	} else {
		out_text(&ck.a, &ck.m, min_sev);
		rc = 0;
	}
	if (rc < 0)
		exit_code =
			ct_cli_fail(CT_EXIT_FINDINGS, "%s", ct_strerror(rc));
	else
		exit_code = ct_audit_count(&ck.a, min_sev) ? CT_EXIT_FINDINGS
							   : CT_EXIT_OK;
	ct_cli_checked_close(&ck);
	return exit_code;
}
