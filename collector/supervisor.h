/* The seccomp supervisor of `ctrace run`: serves the user-notification
 * listeners of static binaries (common/static.h) and records their target
 * syscalls into the session's ring with source "seccomp".
 *
 * One thread.  It binds the session's abstract unix socket, takes each
 * listener handed over by an exec hook (or by ctrace run for a static root
 * command), and answers every notification with "continue" after
 * recording it: the traced program's call runs exactly as it would have,
 * so its outcome is not observed (result 0).  docs/static.md has the
 * design, the measurements and the limits.
 */
#ifndef CT_COLLECTOR_SUPERVISOR_H
#define CT_COLLECTOR_SUPERVISOR_H

#include <stdint.h>

#include "common/ring.h"

struct ct_supervisor;

/* Bind the socket of session (ring: where events go, borrowed until
 * ct_supervisor_stop) and start the thread.  Returns 0 or a negative CT_E*
 * code (the socket name is taken, no threads): static binaries then get a
 * gap from their exec hook. */
int ct_supervisor_start(struct ct_ring *ring, uint64_t session,
			struct ct_supervisor **out);

/* Stop the thread (events it recorded are in the ring when this returns)
 * and free s.  Filters still in use, and the socket, are handed to a
 * detached helper process that answers "continue" until no task uses them,
 * so static processes that outlive the session are never broken.  Call
 * before draining the ring for the last time.  NULL is a no-op. */
void ct_supervisor_stop(struct ct_supervisor *s);

#endif
