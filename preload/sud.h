/* Raw syscalls: Syscall User Dispatch and the shared record builder.
 *
 * sysrec.c  which raw syscall numbers are events, and how to record one
 *           around a caller-supplied way of performing it (shared by the
 *           syscall() hook and the SIGSYS handler)
 * sud.c     Syscall User Dispatch: arming, the SIGSYS handler, the
 *           program-facing signal hooks that keep it working, and the
 *           libc gadget every raw syscall of the shim goes through
 *
 * DESIGN.md section 6 lists the traps each part answers; the .c files say
 * which code answers which.  Context as in shim.h unless said otherwise.
 */
#ifndef CT_PRELOAD_SUD_H
#define CT_PRELOAD_SUD_H

#include <stdbool.h>
#include <stdint.h>

#include "preload/shim.h"

/* ---- the shared record builder (sysrec.c) ---- */
/* Performs syscall nr with args a[0..5]; returns the kernel's value
 * (>= 0, or -errno) and leaves errno alone. */
typedef long (*ct_sysrec_perform_fn)(long nr, const long *a);

/* True when nr is a syscall ct_sysrec_call records. */
bool ct_sysrec_wanted(long nr);

/* Perform nr through perform and record it as source (CT_SOURCE_*) when
 * it is a target: file-system kinds, chdir/fchdir (refreshing the cwd
 * cache), execve/execveat (the child's envp rebuilt on this stack, as the
 * exec hooks do), connect, exit_group.  fork-like calls are the caller's.
 * Returns the kernel's value.  Stack: up to ~20 KB plus the envp. */
long ct_sysrec_call(long nr, const long *a, unsigned source,
		    ct_sysrec_perform_fn perform);

/* ---- Syscall User Dispatch (sud.c) ---- */
/* ct_sud_on, ct_sud_armed, ct_sud_arm_thread: see shim.h (ct_on() arms
 * threads lazily). */

/* Constructor: find libc's code and a `syscall; ret` in it, install the
 * SIGSYS handler and arm the calling thread.  CTRACE_SUD=0 in envp turns
 * it off.  Returns 0, or -errno / CT_E* with *why set to a static text
 * saying what refused (for the gap event).  Not async-signal-safe. */
int ct_sud_init(char **envp, const char **why);
/* In a fork child (any path): the setting is not inherited, re-arm. */
void ct_sud_child(void);
/* Record a gap saying why raw syscalls are not captured. */
void ct_sud_gap(const char *why);
/* Around a libc exec in the exec hooks: when the program wished SIGSYS
 * blocked (it is kept unblocked for us), block it for real so a
 * successful exec hands the program's mask to the new image, whose
 * constructor reads the wish back.  begin returns whether it blocked;
 * pass that to end, called when the exec returned (failed). */
bool ct_sud_exec_begin(void);
void ct_sud_exec_end(bool blocked);

#endif
