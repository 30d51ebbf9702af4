/* ctrace rules: list the loaded rules, or check rules files. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/out.h"
#include "cli/cli.h"
#include "common/error.h"
#include "rules/rules.h"

static int check(struct ct_cli *cli, int argc, char **argv)
{
	int bad = 0;

	if (argc < 1)
		return ct_cli_usage_error(cli, "rules check needs a FILE");
	for (int i = 0; i < argc; i++) {
		struct ct_ruleset *rs;
		char err[1024];
		int rc;

		if (ct_ruleset_new(&rs) < 0)
			return ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
		rc = ct_ruleset_load_file(rs, argv[i], err, sizeof(err));
		if (rc < 0) {
			char safe[1100];

			ct_out_term_buf(safe, sizeof(safe), err, strlen(err));
			fprintf(stderr, "%s\n", safe);
			bad++;
		} else {
			size_t n = ct_ruleset_count(rs);

			printf("%s: ok, %zu rule%s\n", argv[i], n,
			       n == 1 ? "" : "s");
		}
		ct_ruleset_free(rs);
	}
	return bad ? CT_EXIT_FINDINGS : CT_EXIT_OK;
}

static int list(struct ct_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	struct ct_ruleset *rs;
	char err[1024];
	bool json = false;
	int c, rc;

	if (ct_ruleset_new(&rs) < 0)
		return ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
	rc = ct_ruleset_load_default(rs, err, sizeof(err));
	if (rc < 0) {
		ct_ruleset_free(rs);
		return ct_cli_fail(CT_EXIT_USAGE, "%s", err);
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":r:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rc = ct_ruleset_load_file(rs, optarg, err, sizeof(err));
			if (rc < 0) {
				ct_ruleset_free(rs);
				return ct_cli_fail(CT_EXIT_USAGE, "%s", err);
			}
			break;
		case 'j':
			json = true;
			break;
		default:
			ct_ruleset_free(rs);
			return ct_cli_bad_option(cli, c, optopt,
						 argv[optind - 1]);
		}
	}
	if (optind < argc) {
		ct_ruleset_free(rs);
		return ct_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);
	}
	json_t *arr = json ? json_array() : NULL;
	for (size_t i = 0; i < ct_ruleset_count(rs); i++) {
		struct ct_rule_info ri;

		ct_ruleset_rule(rs, i, &ri);
		if (json) {
			json_t *o = json_pack(
				"{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:i}",
				"id", ri.id, "severity",
				ct_severity_name(ri.severity), "type", ri.kind,
				"description", ri.description, "file", ri.file,
				"line", (int)ri.line, "silenced", ri.silenced,
				"allows", (int)ri.allows);
			if (o)
				json_array_append_new(arr, o);
			continue;
		}
		printf("%-32s %-8s %-9s ", ri.id, ct_severity_name(ri.severity),
		       ri.kind);
		ct_out_term(stdout, ri.description, strlen(ri.description));
		if (ri.silenced)
			fputs(" [silenced by an allow entry]", stdout);
		else if (ri.allows)
			printf(" [%u allow entr%s]", ri.allows,
			       ri.allows == 1 ? "y" : "ies");
		fputc('\n', stdout);
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
	}
	ct_ruleset_free(rs);
	return CT_EXIT_OK;
}

int cmd_rules(int argc, char **argv, struct ct_cli *cli)
{
	if (argc < 2)
		return ct_cli_usage_error(cli, "say 'list' or 'check FILE'");
	if (strcmp(argv[1], "list") == 0)
		return list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0) {
		int i = 2;

		if (i < argc && strcmp(argv[i], "--") == 0)
			i++;
		return check(cli, argc - i, argv + i);
	}
	return ct_cli_usage_error(cli, "unknown subcommand '%s' (list, check)",
				  argv[1]);
}
