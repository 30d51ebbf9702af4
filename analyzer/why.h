/* `ctrace why SEQ`: the causal chain of one event.
 *
 * Lineage: root -> ... -> the event's process, each step with its command
 * line (the image it ran at the time of the event), start time and edge
 * (fork, spawn, child, inferred; "+ exec" when it replaced its image).
 * Data flow: the files behind the event (the last writer of the path it
 * touched) and the inputs of each process of the chain written by other
 * processes of the session, followed back recursively (bounded).
 * One pass over the events up to SEQ, through analyzer/flow.h.
 */
#ifndef CT_ANALYZER_WHY_H
#define CT_ANALYZER_WHY_H

#include <stdbool.h>
#include <stdint.h>

#include "analyzer/out.h"
#include "analyzer/tree.h"
#include "collector/store.h"

struct ct_why_opts {
	bool json;
	uint32_t flow_depth; /* levels of data flow followed back; 0: 3 */
	uint32_t flow_width; /* inputs shown per process; 0: 5 */
};

/* Write the chain of event seq of session to o->f.  Returns 0,
 * CT_ENOTFOUND (no such event), CT_ECORRUPT (it does not decode),
 * CT_ENOMEM, CT_EIO (writing failed) or the store's error.  st may be
 * NULL. */
int ct_why_write(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		 const struct ct_why_opts *opts, struct ct_out *o,
		 struct ct_view_stats *st);

#endif
