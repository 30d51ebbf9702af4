/* The seccomp supervisor of `ctrace run`: serves the user-notification
 * listeners of static binaries (common/static.h) and records their target
 * syscalls into the session's ring with source "seccomp".
 *
 * A process of its own (its own session; a child that sends its parent
 * no SIGCHLD, so ctrace run's waitpid(-1) never sees it).  It holds the session's abstract unix socket, takes
 * each listener handed over by an exec hook (or by ctrace run for a static
 * root command), and answers every notification with "continue" after
 * recording it into the ring as one more producer: the traced program's
 * call runs exactly as it would have, so its outcome is not observed
 * (result 0).  It outlives ctrace run: killed, ctrace run leaves the
 * listeners served and the events in the ring for the next ctrace command
 * to recover.  docs/static.md has the design, the measurements and the
 * limits.
 */
#ifndef CT_COLLECTOR_SUPERVISOR_H
#define CT_COLLECTOR_SUPERVISOR_H

#include <stdint.h>

#include "common/ring.h"

struct ct_supervisor;

/* Bind the socket of session and start the supervisor process, which
 * writes into ring (its mapping is inherited; the ring must outlive this
 * call in the caller only as long as the caller needs it).  Call while the
 * caller is single-threaded (no atfork handlers run).
 * Returns 0 or a negative CT_E* code (the socket name is taken, no
 * process): static binaries then get a gap from their exec hook. */
int ct_supervisor_start(struct ct_ring *ring, uint64_t session,
			struct ct_supervisor **out);

/* End the session for the supervisor and free s: events it received
 * before are in the ring when this returns (or after 5 s without its
 * answer), it takes no new listeners, records nothing more, and answers
 * "continue" to the filters still in use until no task uses them, so
 * static processes that outlive the session are never broken.  Call
 * before draining the ring for the last time.  NULL is a no-op.  Without
 * this call (ctrace run killed) the supervisor goes on recording into the
 * ring until its covered processes are gone. */
void ct_supervisor_stop(struct ct_supervisor *s);

#endif
