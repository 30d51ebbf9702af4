/* The process model of one session: every process instance with its
 * parent, children, latest image (argv, exe) and how it was created.
 *
 * The store keeps one record per instance (struct ct_proc_info, built by
 * the collector, keyed so that a reused pid is a new instance).  Loading
 * turns those records into a tree and reads each instance's image event.
 * A session has far fewer processes than events, so the table lives in
 * memory; the events stay in LMDB and are streamed.
 *
 * Some facts need the events: how a child was created (fork or
 * posix_spawn: the parent's event names the child's pid), event counts by
 * kind, and which image a process ran at a given moment.  A view that
 * streams the session's events anyway passes each one to ct_procs_note()
 * to learn them on the way; without that, edges read CT_EDGE_CHILD.
 *
 * Lifetime: everything a struct ct_procs hands out (processes, image bytes)
 * is borrowed, valid until ct_procs_release() AND until the read
 * transaction it was loaded from ends (image bytes point into the map).
 */
#ifndef CT_ANALYZER_PROCS_H
#define CT_ANALYZER_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer/model.h"
#include "collector/store.h"
#include "common/event.h"

/* How a process came to be below its parent (the lineage edge). */
enum ct_edge {
	CT_EDGE_ROOT = 0, /* no parent: the command ctrace run started */
	CT_EDGE_CHILD, /* a child; how it was created is not known */
	CT_EDGE_FORK, /* fork/vfork/clone event of the parent */
	CT_EDGE_SPAWN, /* posix_spawn event of the parent */
	CT_EDGE_INFERRED, /* parent guessed from timing (CT_PROC_INFERRED) */
};

/* "root", "child", "fork", "spawn", "inferred". */
const char *ct_edge_name(enum ct_edge e);

/* A program image: what a start (or exec) event says ran.  Byte strings
 * borrowed from the store (see the lifetime note above). */
struct ct_image {
	uint64_t seq; /* the event carrying it; 0 when unknown */
	struct ct_bytes exe; /* len 0 when unknown */
	struct ct_bytes argv_raw; /* msgpack array: walk with ct_strv_next() */
	uint32_t argc;
	uint32_t argv_dropped; /* arguments the shim did not record */
};

struct ct_proc {
	struct ct_proc_info info; /* the store's record, copied */
	struct ct_proc *parent; /* NULL for a root */
	struct ct_proc *child; /* first child, in num (= start) order */
	struct ct_proc *next; /* next sibling */
	uint32_t nchildren;
	uint32_t depth; /* 0 for a root */
	enum ct_edge edge; /* how it hangs below parent */
	bool inferred; /* info.flags & CT_PROC_INFERRED */
	struct ct_image image; /* latest image (info.image_seq) */

	/* Learnt by ct_procs_note() from the events seen so far. */
	uint64_t create_seq; /* the parent's fork/spawn event, 0 unknown */
	uint64_t parent_image_seq; /* parent's image when it made this one */
	uint64_t cur_image_seq; /* image at the last event noted */
	uint32_t nexec; /* successful exec events */
	uint64_t counts[CT_KIND__COUNT]; /* events by kind */
};

struct ct_procs {
	struct ct_model model; /* the raw table (analyzer/model.h) */
	struct ct_proc *v; /* indexed by num - 1; v[i].info.num 0 = a hole */
	size_t n; /* highest num loaded */
	struct ct_proc *roots; /* first root (linked through next) */
	uint32_t nroots;
};

/* Load session's processes from t into ps: tree links, depths, edges from
 * the store alone, and each instance's image (one event read per process).
 * Returns 0, CT_ENOMEM or the store's error; ps is zeroed on failure.
 * Release with ct_procs_release() (before ending t). */
int ct_procs_load(struct ct_rtxn *t, uint64_t session, struct ct_procs *ps);
void ct_procs_release(struct ct_procs *ps);

/* Refine the model with one event of the session, in seq order (the
 * caller's ct_store_events_foreach callback calls it with what it got):
 * counts, fork/spawn edges, current images.  Cheap: O(1) per event, plus
 * O(children) on fork/spawn events. */
void ct_procs_note(struct ct_procs *ps, uint64_t seq, uint32_t proc,
		   const struct ct_event *ev);

/* The instance numbered num, or NULL when unknown (borrowed). */
struct ct_proc *ct_procs_get(const struct ct_procs *ps, uint32_t num);

/* The chain root -> ... -> num into out (root first, num last).  Returns
 * the chain's length; only the first cap entries (from the root) are
 * written when it is longer.  0 when num is unknown.  Never loops, even
 * on a corrupt store with a parent cycle. */
size_t ct_procs_chain(const struct ct_procs *ps, uint32_t num,
		      struct ct_proc **out, size_t cap);

/* Read the image event at seq (a start or exec event) from t.  Returns 0,
 * CT_ENOTFOUND, CT_ECORRUPT (it does not decode) or the store's error.
 * seq 0 gives an empty image and 0. */
int ct_procs_image(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		   struct ct_image *img);

/* argv[0] of an image; false (and *out empty) when it has none. */
bool ct_image_argv0(const struct ct_image *img, struct ct_bytes *out);

/* Short program name of an image: basename of exe, else of argv[0], else
 * "?"; terminal-safe (escaped, out.h), NUL-terminated, cut to cap.
 * Returns the length written. */
size_t ct_image_name(const struct ct_image *img, char *buf, size_t cap);

/* The image as one line: argv quoted for a POSIX shell (escaped, never
 * raw control characters), or the exe when there is no argv, or "?".
 * Longer than width characters (0: no limit) ends in "...".  Writes a
 * NUL-terminated string into buf (cut to cap).  Returns the length
 * written. */
size_t ct_image_cmdline(const struct ct_image *img, size_t width, char *buf,
			size_t cap);

/* Same for a process's latest image. */
size_t ct_proc_cmdline(const struct ct_proc *p, size_t width, char *buf,
		       size_t cap);

/* SPEC's `proc` id "<pid>.<gen>" of p into buf.  Returns its length. */
size_t ct_proc_id(const struct ct_proc *p, char *buf, size_t cap);

/* The arrow of a text chain leading into child: " -> ", or
 * CT_PROC_ARROW_INFERRED when child's parent was guessed from timing, so
 * that the guess reads in words, not only in colour. */
#define CT_PROC_ARROW_INFERRED " -(inferred)-> "
const char *ct_proc_arrow(const struct ct_proc *child);

/* The command chain of num as one line: each step's cmdline cut to width,
 * joined by ct_proc_arrow(), root first, e.g.
 * "claude -> bash -c 'source ... eval ...' -> rm -rf build".  Returns
 * the length written (cut to cap). */
size_t ct_procs_chain_label(const struct ct_procs *ps, uint32_t num,
			    size_t width, char *buf, size_t cap);

#endif
