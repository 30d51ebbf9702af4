/* posix_spawn of a static binary, between the spawn hooks (hook_exec.c)
 * and static.c.  The exec side (ct_static_prepare) is in shim.h.
 */
#ifndef CT_PRELOAD_STATIC_H
#define CT_PRELOAD_STATIC_H

#include "preload/shim.h"

#define CT_STATIC_WHY_MAX 160 /* a gap reason, NUL included */

/* Spawn a static binary (gap is ct_exec_gap()'s verdict on its path),
 * as posix_spawn (search false) or posix_spawnp (search true) of file
 * would, but through the ctrace-spawn helper so that the child execs it
 * under the supervisor's filter (common/static.h).  The returned pid is the
 * static program's; the result, errno and *child (set on success only)
 * are what the plain call would give.  Falls back to the plain call, which
 * cannot cover the program, when there is no session, CTRACE_STATIC=0, no
 * helper or no socket.  why (cap bytes, owned by caller) gets the reason
 * for a gap event, or "" when the program was covered or never ran (the exec failed).
 * envp is the child's environment as the hooks rebuilt it.
 * Context: no allocation, no lock; blocks until the target's exec is done
 * (as glibc's posix_spawn does); writes no global. */
int ct_static_spawn(const char *gap, bool search, pid_t *child,
		    const char *file, const posix_spawn_file_actions_t *fa,
		    const posix_spawnattr_t *attr, char *const argv[],
		    char *const envp[], char *why, size_t cap);

#endif
