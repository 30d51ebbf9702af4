/* The collector: drains a ring into the store.
 *
 * It numbers events (seq, in collection order), turns the shim's
 * (pid, pstart) stamps into process instances with parents, keeps the
 * session's counters, and writes everything in batched transactions.
 * One collector per session; not thread-safe (one thread drives it).
 */
#ifndef CT_COLLECTOR_COLLECTOR_H
#define CT_COLLECTOR_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/store.h"
#include "common/event.h"
#include "common/ring.h"

struct ct_collector;

/* Start collecting into session si (copied, strings included).  When resume is true the session's
 * processes and last seq are loaded from the store first (recovery of a
 * ring whose ctrace run died).  ring may be NULL (events then come only
 * from ct_collector_add). */
int ct_collector_new(struct ct_store *s, struct ct_ring *ring,
		     const struct ct_session_info *si, bool resume,
		     struct ct_collector **out);
void ct_collector_free(struct ct_collector *c);

/* Drain what the ring holds now (up to a batch), committing to the store
 * when the batch is large or old enough.  Returns the number of records
 * taken, or a negative CT_E* code when the store failed (message in
 * ct_store_errmsg()). */
long ct_collector_poll(struct ct_collector *c);

/* Commit what is batched now (and the session record). */
int ct_collector_flush(struct ct_collector *c, bool sync);

/* Record an event ctrace itself observed (a child it reaped, a gap). */
int ct_collector_add(struct ct_collector *c, const struct ct_event *ev);

/* Drain the ring completely, add the gap events only the end of a session
 * can tell (an exec whose image never checked in), fill in end, exit and
 * state, and commit with sync.  exit_code/signal describe the root
 * command (-1/0 when unknown). */
int ct_collector_finish(struct ct_collector *c, uint64_t end, int exit_code,
			int signal, uint32_t state);

/* After the store failed (ct_collector_poll or _finish returned an error):
 * end the session without storing more events.  Takes what is left in the
 * ring out without storing it, and writes the session record alone, as
 * of the last commit that succeeded, with state CT_SESSION_INCOMPLETE and
 * `lost` counting every record not stored.  Returns 0, or the store's
 * error when even that write failed (the session then stays as last
 * stored). */
int ct_collector_abandon(struct ct_collector *c, uint64_t end, int exit_code,
			 int signal);

/* The session as collected so far (counters are current).  Borrowed,
 * valid until the next call on c. */
const struct ct_session_info *
ct_collector_session(const struct ct_collector *c);

/* Called for every event stored (added to the batch: committed later),
 * in seq order, with the instance it belongs to; ev borrows from the
 * record and is valid during the call only. */
typedef void (*ct_collector_stored_fn)(void *arg, uint64_t seq, uint32_t proc,
				       const struct ct_event *ev);
/* Set (or with fn NULL clear) the stored-event callback. */
void ct_collector_on_stored(struct ct_collector *c, ct_collector_stored_fn fn,
			    void *arg);

/* The seq of the last event stored (in the batch, perhaps not yet
 * committed: ct_collector_session()'s last_seq is as of the last
 * commit). */
uint64_t ct_collector_seq(const struct ct_collector *c);

/* The parent of process instance num as known now (0: none, or no such
 * instance). */
uint32_t ct_collector_parent(const struct ct_collector *c, uint32_t num);

/* Monotonic clock in ns, for batching and grace periods. */
uint64_t ct_now_mono(void);
/* CLOCK_REALTIME in ns. */
uint64_t ct_now_real(void);

#endif
