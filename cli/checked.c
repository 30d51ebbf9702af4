#include "cli/checked.h"

#include "common/error.h"

int ct_cli_checked_open(struct ct_cli *cli, const char *spec, bool with_default,
			const char *const *policies, size_t npol,
			const char *what, struct ct_cli_checked *ck)
{
	char err[1024];
	int rc;

	ck->t = NULL;
	if (ct_ruleset_new(&ck->rs) < 0)
		return ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
	rc = ct_ruleset_load_all(ck->rs, with_default, policies, npol, err,
				 sizeof(err));
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_USAGE, "%s", err);
		goto out_rules;
	}
	rc = ct_cli_open_session(cli, spec, &ck->t, &ck->id);
	if (rc)
		goto out_rules;
	rc = ct_rules_eval(ck->rs, ck->t, ck->id, cli->store_dir, &ck->a);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "cannot %s: %s", what,
				 ct_strerror(rc));
		goto out_txn;
	}
	rc = ct_model_load(ck->t, ck->id, &ck->m);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "%s", ct_strerror(rc));
		goto out_audit;
	}
	return 0;
out_audit:
	ct_audit_release(&ck->a);
out_txn:
	if (ck->t)
		ct_store_read_end(ck->t);
out_rules:
	ct_ruleset_free(ck->rs);
	return rc;
}

void ct_cli_checked_close(struct ct_cli_checked *ck)
{
	ct_model_release(&ck->m);
	ct_audit_release(&ck->a);
	if (ck->t)
		ct_store_read_end(ck->t);
	ct_ruleset_free(ck->rs);
}
