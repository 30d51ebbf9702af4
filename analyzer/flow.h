/* Data-flow edges of a session: process B read, executed or renamed a file
 * that an earlier, different process A of the session wrote, created or
 * renamed into place.
 *
 * Built by streaming the session's events once, in seq order, through
 * ct_flow_note() while a map path -> last writer follows every write,
 * rename and delete.  Memory grows with the number of distinct paths
 * written and of distinct edges, not with the number of events.
 *
 * What counts (docs/analyzer.md):
 *  writes:  open with O_WRONLY/O_RDWR/O_CREAT/O_TRUNC that succeeded,
 *           truncate, rename (its target), link and symlink (the new name);
 *  reads:   open for reading that succeeded (not of a directory), the
 *           image a process started (start: exe) or exec'd (exec: path),
 *           rename (its source);
 *  forgets: unlink, rmdir and the source of a rename drop the path's
 *           writer, so a later file of the same name starts fresh.
 * Files under /dev, /proc and /sys are not followed.  Edges are kept once
 * per (writer, reader, path): the first read.
 */
#ifndef CT_ANALYZER_FLOW_H
#define CT_ANALYZER_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "common/event.h"

enum ct_flow_op {
	CT_FLOW_NONE = 0,
	/* writer side */
	CT_FLOW_WROTE, /* open for writing an existing file */
	CT_FLOW_CREATED, /* open with O_CREAT of a file that did not exist */
	CT_FLOW_TRUNCATED, /* truncate, or open with O_TRUNC */
	CT_FLOW_RENAMED_INTO, /* rename target */
	CT_FLOW_LINKED, /* link/symlink new name */
	/* reader side */
	CT_FLOW_READ, /* open for reading */
	CT_FLOW_EXECUTED, /* start (exe) or exec (path) */
	CT_FLOW_RENAMED, /* rename source */
};

/* "wrote", "created", "truncated", "renamed into", "linked", "read",
 * "executed", "renamed". */
const char *ct_flow_op_name(enum ct_flow_op op);

/* One side of an edge. */
struct ct_flow_end {
	uint32_t proc; /* process instance number */
	uint64_t seq; /* its event */
	uint64_t ts;
	uint8_t op; /* enum ct_flow_op */
};

struct ct_flow_edge {
	struct ct_flow_end src; /* the writer */
	struct ct_flow_end dst; /* the reader, later than src */
	const char *path; /* borrowed, valid until ct_flow_free(); bytes */
	uint32_t path_len;
};

struct ct_flow;

/* New empty flow (owned by caller, free with ct_flow_free()).  Returns 0 or
 * CT_ENOMEM. */
int ct_flow_new(struct ct_flow **out);
void ct_flow_free(struct ct_flow *f);

/* Feed one event (in seq order).  Returns 0 or CT_ENOMEM (the flow stays
 * usable but misses what this event said). */
int ct_flow_note(struct ct_flow *f, uint64_t seq, uint32_t proc,
		 const struct ct_event *ev);

/* Every edge found so far, in the order found (= the reader's seq order).
 * Borrowed, valid until the next ct_flow_note() or ct_flow_free(). */
const struct ct_flow_edge *ct_flow_edges(const struct ct_flow *f, size_t *n);

/* The last writer of path as of the events noted so far; false when no
 * process of the session wrote it (or it was deleted since).  out may
 * be NULL. */
bool ct_flow_writer(const struct ct_flow *f, const char *path, size_t len,
		    struct ct_flow_end *out);

#endif
