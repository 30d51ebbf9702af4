/* `ctrace run` as a function, shared with `ctrace demo`. */
#ifndef CT_CLI_RUN_H
#define CT_CLI_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"

struct ct_run_opts {
	const char *name; /* session name, or NULL */
	uint64_t ring_mib; /* ring data size in MiB */
	bool quiet; /* no summary on stderr */
	char **cmd; /* NULL-terminated command to run */
	/* Rules evaluated when the command is done (borrowed); NULL: the
	 * shipped rules.  The hits are counted into the session and listed
	 * in the summary. */
	struct ct_ruleset *rules;
};

#define CT_RING_MIB_DEFAULT 64

/* Run o->cmd under tracing into cli->store (opened read-write).  Sets
 * *session to the new session's id and *status to the exit status ctrace
 * run exits with (the command's, 128+N for signal N, 127/126 when it could
 * not be started).  Returns 0 once the command ran (a store that failed
 * meanwhile is reported on stderr; the status is still the command's), or
 * CT_EXIT_USAGE/CT_EXIT_FINDINGS after printing why ctrace itself failed
 * before starting it. */
int ct_run(struct ct_cli *cli, const struct ct_run_opts *o, uint64_t *session,
	   int *status);

#endif
