/* What `audit` and `inspect` share: a session with the rules evaluated
 * over it and its process model loaded. */
#ifndef CT_CLI_CHECKED_H
#define CT_CLI_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer/model.h"
#include "cli/cli.h"
#include "rules/rules.h"

#define CT_POLICY_MAX 64 /* --policy files one command takes */

struct ct_cli_checked {
	struct ct_ruleset *rs;
	struct ct_rtxn *t; /* read transaction the results borrow from */
	uint64_t id;
	struct ct_audit a;
	struct ct_model m;
};

/* Load the rules (the shipped ones when with_default, plus policies),
 * open SESSION spec and evaluate them over it; what names the step in an
 * error ("audit the session").  Returns 0, or an exit code with the
 * message printed and nothing left to release. */
int ct_cli_checked_open(struct ct_cli *cli, const char *spec, bool with_default,
			const char *const *policies, size_t npol,
			const char *what, struct ct_cli_checked *ck);
void ct_cli_checked_close(struct ct_cli_checked *ck);

#endif
