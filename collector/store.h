/* The store: one LMDB environment holding every session, its processes
 * and its events.  Keys, values and indexes are documented in
 * docs/store.md.  Any number of ctrace processes may open one store;
 * LMDB serialises their write transactions.
 *
 * Reading happens inside a read transaction (struct ct_rtxn); everything a
 * read function hands out borrows from the LMDB map (or the transaction)
 * and is valid until ct_store_read_end(), but for the record an event
 * callback gets (below).  Writing goes through a batch (struct ct_wbatch)
 * that collects records in memory and writes them in one transaction,
 * growing the map and retrying on MDB_MAP_FULL.
 */
#ifndef CT_COLLECTOR_STORE_H
#define CT_COLLECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

struct ct_store;
struct ct_rtxn;
struct ct_wbatch;

#define CT_STORE_RDONLY 0x1u /* do not create; fail if absent */

/* Resolve the store folder: $CTRACE_HOME, else
 * ${XDG_DATA_HOME:-$HOME/.local/share}/ctrace.  Returns 0 or CT_EINVAL
 * (no HOME, or too long for cap). */
int ct_store_default_dir(char *buf, size_t cap);

/* Open (and unless CT_STORE_RDONLY create, mode 0700 folder / 0600 files)
 * the store in dir.  On failure returns a negative CT_E* code and writes a
 * one-line message naming the path and a fix into errbuf, e.g.
 * "cannot open store /x: permission denied (set CTRACE_HOME to a writable
 * folder)".  A read-only open of a missing store returns CT_ENOTFOUND. */
int ct_store_open(const char *dir, unsigned flags, struct ct_store **out,
		  char *errbuf, size_t errlen);
void ct_store_close(struct ct_store *s);
const char *ct_store_dir(const struct ct_store *s);

/* For a SIGSEGV/SIGBUS handler: is a fault at addr in this thread a store
 * whose file is damaged?  True inside a call into LMDB, which checksums
 * nothing and can follow a damaged page anywhere, or at an address in (or
 * up to 4 GiB past) the map of the store opened last, where a value with
 * a damaged size ends.  Context: async-signal-safe. */
bool ct_store_fault_is_corrupt(const void *addr);

enum ct_session_state {
	CT_SESSION_RUNNING = 1, /* a ctrace run is (or was) collecting */
	CT_SESSION_DONE = 2, /* finished normally */
	CT_SESSION_RECOVERED = 3, /* its ctrace run died; ring drained later */
	CT_SESSION_INCOMPLETE = 4, /* the store failed (disk or map full):
				    * events after that are counted lost */
};

/* Session metadata (SPEC's session object).  For writing, argv_in is read
 * (NULL-terminated, borrowed); for reading, argc/argv_raw are set (walk
 * with ct_strv_next()). */
struct ct_session_info {
	uint64_t id;
	uint32_t state; /* enum ct_session_state */
	int32_t run_pid; /* pid of the ctrace run that collects it */
	uint64_t start, end; /* ns since epoch; end 0 while running */
	int32_t exit_code; /* -1 when not exited normally */
	int32_t signal; /* 0 unless killed by a signal */
	uint64_t events, processes, lost, gaps, deleted, rule_hits;
	uint64_t last_seq; /* highest seq stored */
	/* Ring records the collector had drained when it last committed
	 * (the ring header's `produced` then).  A recovery counts what the
	 * ring says was drained beyond this as lost: taken from the ring by
	 * a collector that died before storing it. */
	uint64_t ring_consumed;
	struct ct_bytes name, cwd, user, host, git_branch, git_commit, version;
	struct ct_bytes ring; /* ring path, for recovery */
	char *const *argv_in;
	uint32_t argc;
	struct ct_bytes argv_raw;
};

/* Flags of a process instance. */
enum {
	CT_PROC_EXITED = 1u << 0, /* exit_code valid */
	CT_PROC_SIGNALED = 1u << 1, /* signal valid */
	CT_PROC_INFERRED = 1u << 2, /* parent inferred from timing */
	CT_PROC_SHIM = 1u << 3, /* a shim checked in (start event) */
	CT_PROC_GAP = 1u << 4, /* an image ran untraced (see gaps) */
	CT_PROC_RAW = 1u << 5, /* its latest image's shim captured raw
				* syscalls too (start event source "sud") */
	CT_PROC_SECCOMP = 1u << 6, /* its latest image ran without a shim,
				    * under the seccomp supervisor (start or
				    * fork event source "seccomp") */
};

/* A process instance (SPEC's process object).  num is its number in the
 * session (1, 2, ...), rendered as `proc` "<pid>.<n>" by the views where n
 * counts instances of the same pid.  argv/exe/cwd are not copied here:
 * image_seq names the event (start or exec) that carries them. */
struct ct_proc_info {
	uint32_t num;
	uint32_t parent; /* num of the parent instance, 0 for the root */
	uint32_t pid_gen; /* 1 for the first instance of this pid, ... */
	uint32_t flags;
	int32_t pid, ppid;
	uint64_t pstart; /* the shim's instance stamp (event.pstart) */
	uint64_t start, end; /* ns since epoch; end 0 if not seen to end */
	int32_t exit_code, signal;
	uint64_t events;
	uint64_t image_seq; /* event with the latest argv/exe (0: none) */
	uint64_t start_seq; /* first event of this instance */
};

/* --- reading --- */
/* Record decoders validate everything: a bad record gives CT_ECORRUPT (an
 * unknown record version CT_EVERSION), never a crash.  A read transaction
 * pins its snapshot; do not commit a batch from a thread that holds one
 * on the same store (a map resize then fails with CT_EBUSY). */
int ct_store_read_begin(struct ct_store *s, struct ct_rtxn **out);
void ct_store_read_end(struct ct_rtxn *t);

/* "latest" (or NULL), a full 16-hex-digit id, or a unique prefix of one
 * (at least 4 hex digits, either case).  Returns 0, CT_ENOTFOUND or
 * CT_EAMBIG; CT_EINVAL when spec is not hex or shorter than 4 digits. */
int ct_store_session_resolve(struct ct_rtxn *t, const char *spec, uint64_t *id);
int ct_store_session_get(struct ct_rtxn *t, uint64_t id,
			 struct ct_session_info *out);
/* Newest first.  fn returns 0 to go on, non-zero to stop (returned).
 * Session records that do not decode are skipped, as by "latest" in
 * ct_store_session_resolve(), and counted: see ct_store_damaged(). */
typedef int (*ct_session_fn)(void *arg, const struct ct_session_info *si);
int ct_store_sessions_foreach(struct ct_rtxn *t, ct_session_fn fn, void *arg);
/* Damaged session records skipped so far in this read transaction. */
uint64_t ct_store_damaged(const struct ct_rtxn *t);

/* Events of one session with seq >= from_seq, in seq order.  rec is the
 * record exactly as ct_wbatch_event() was given it (the store keeps a
 * compact form and writes the record back); it is valid until fn returns:
 * copy what must outlive the call.  A record the store cannot write back
 * (a damaged compact form or strings table) arrives with len 0, which
 * ct_event_decode() refuses: callers count it as undecodable.  A value
 * that is not an event at all ends the walk with CT_ECORRUPT. */
typedef int (*ct_event_fn)(void *arg, uint64_t seq, uint32_t proc,
			   const void *rec, uint32_t len);
int ct_store_events_foreach(struct ct_rtxn *t, uint64_t session,
			    uint64_t from_seq, ct_event_fn fn, void *arg);
/* One event; *rec is valid until ct_store_read_end() (a written-back
 * record is kept by the transaction until then).  CT_ECORRUPT when it
 * cannot be written back. */
int ct_store_event_get(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		       uint32_t *proc, const void **rec, uint32_t *len);

/* Process instances of one session in num order. */
typedef int (*ct_proc_fn)(void *arg, const struct ct_proc_info *pi);
int ct_store_procs_foreach(struct ct_rtxn *t, uint64_t session, ct_proc_fn fn,
			   void *arg);
int ct_store_proc_get(struct ct_rtxn *t, uint64_t session, uint32_t num,
		      struct ct_proc_info *out);

/* --- writing --- */
/* A batch owns copies of everything added to it. */
int ct_wbatch_new(struct ct_store *s, struct ct_wbatch **out);
void ct_wbatch_free(struct ct_wbatch *b);
/* rec: any bytes (len <= UINT32_MAX - 16); a readable event record is
 * stored in a compact form (paths and the process context interned per
 * session, docs/store.md), anything else as given.  Readers get rec back
 * byte for byte either way.  The first event of a session in a batch
 * reserves string ids in a write transaction of its own. */
int ct_wbatch_event(struct ct_wbatch *b, uint64_t session, uint64_t seq,
		    uint32_t proc, const void *rec, uint32_t len);
/* The same, for a caller that has decoded rec already: ev must be what
 * ct_event_decode(rec, len) gave (pointers into rec), or NULL when it did
 * not decode.  Saves the store a decode per event. */
int ct_wbatch_event_ev(struct ct_wbatch *b, uint64_t session, uint64_t seq,
		       uint32_t proc, const struct ct_event *ev,
		       const void *rec, uint32_t len);
int ct_wbatch_proc(struct ct_wbatch *b, uint64_t session,
		   const struct ct_proc_info *pi);
int ct_wbatch_session(struct ct_wbatch *b, const struct ct_session_info *si);
size_t ct_wbatch_count(const struct ct_wbatch *b);
/* Write everything in one transaction (later puts of the same key win),
 * then empty the batch.  On MDB_MAP_FULL the map is doubled and the
 * transaction retried.  sync forces the data to disk before returning.
 * On failure the batch is kept and an error message is available from
 * ct_store_errmsg(). */
int ct_wbatch_commit(struct ct_wbatch *b, bool sync);

/* Delete a session and everything under it. */
int ct_store_session_delete(struct ct_store *s, uint64_t session);

/* Last one-line error message of this store handle (never NULL). */
const char *ct_store_errmsg(const struct ct_store *s);

#endif
