/* `ctrace graph`: the causal DAG of a session.  Nodes are process
 * instances; edges are lineage (parent -> child: fork, spawn, child,
 * inferred) and data flow (writer => reader, one edge per pair of
 * processes with the number of files and the first few paths).  One pass
 * over the events (analyzer/procs.h, analyzer/flow.h). */
#ifndef CT_ANALYZER_GRAPH_H
#define CT_ANALYZER_GRAPH_H

#include <stdint.h>

#include "analyzer/out.h"
#include "analyzer/tree.h"
#include "collector/store.h"

enum ct_graph_format {
	CT_GRAPH_TEXT = 0,
	CT_GRAPH_DOT, /* Graphviz; labels escaped for DOT strings */
	CT_GRAPH_JSON, /* {"session","nodes":[],"edges":[]} */
};

/* Write session's graph in fmt to o->f.  Returns 0, CT_ENOTFOUND,
 * CT_ENOMEM, CT_EIO (writing failed) or the store's error.  st may be
 * NULL. */
int ct_graph_write(struct ct_rtxn *t, uint64_t session,
		   enum ct_graph_format fmt, struct ct_out *o,
		   struct ct_view_stats *st);

#endif
