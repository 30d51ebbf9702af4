/* `ctrace tree`: the process tree of a session, streamed from the store.
 *
 * One pass over the events counts them by kind per process and learns
 * how each child was made (analyzer/procs.h); with events, the pass also
 * keeps each process's event numbers (8 bytes an event, never the events
 * themselves), which are read back one by one under their process.
 */
#ifndef CT_ANALYZER_TREE_H
#define CT_ANALYZER_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "analyzer/out.h"
#include "collector/store.h"

struct ct_tree_opts {
	bool events; /* nest each process's events under it */
	uint32_t depth; /* show processes down to this depth; 0: all */
	bool json; /* JSON instead of text */
};

struct ct_view_stats {
	uint64_t undecoded; /* records skipped: they did not decode */
};

/* Write session's tree to o->f.  Returns 0, CT_ENOTFOUND (no such
 * session), CT_ENOMEM, CT_EIO (writing failed) or the store's error.
 * st may be NULL. */
int ct_tree_write(struct ct_rtxn *t, uint64_t session,
		  const struct ct_tree_opts *opts, struct ct_out *o,
		  struct ct_view_stats *st);

#endif
