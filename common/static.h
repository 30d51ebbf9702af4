/* Coverage of static binaries: a seccomp user-notification filter installed
 * just before exec of a static binary, whose listener is handed to the
 * supervisor in `ctrace run` (collector/supervisor.h) over a unix socket.
 * docs/static.md explains the choice and the measurements.
 *
 * Shared by the shim's exec hooks (preload/static.c) and by `ctrace run`
 * for a static root command.  Raw syscalls only (common/sys.h).
 */
#ifndef CT_COMMON_STATIC_H
#define CT_COMMON_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_STATIC_MAGIC 0x31505553u /* "SUP1" */

/* What the process handing over its listener tells the supervisor (sent
 * with the listener fd in SCM_RIGHTS; the supervisor answers one byte). */
struct ct_static_msg {
	uint32_t magic;
	uint32_t flags; /* CT_STATIC_* */
	int32_t pid, tid; /* the process about to exec, and its thread */
	uint64_t pstart; /* its instance stamp (0: unknown) */
};

enum {
	CT_STATIC_NNP = 1u << 0, /* we set PR_SET_NO_NEW_PRIVS for the filter */
	CT_STATIC_KILLABLE = 1u << 1, /* WAIT_KILLABLE_RECV semantics */
};

/* The supervisor's socket: an abstract unix name derived from the uid and
 * the session id (so the exec hooks need no variable of their own beyond
 * CTRACE_SESSION, which they already put back).  Writes a sun_path whose
 * first byte is NUL; returns the address length for bind/connect. */
unsigned ct_static_sockaddr(void *sun, unsigned uid, uint64_t session);

/* Put the calling thread under the filter and hand its listener to the
 * supervisor of session, right before an exec of a static binary.
 * pid/pstart name the instance.  Returns NULL when covered, else why not
 * (a fixed text for a gap event; nothing was installed, except when the
 * supervisor vanished mid-handover: then a detached helper answers the
 * filter so the program is never broken, and the text says so).
 * *nnp is set when no_new_privs had to be set (it stays set).
 * Context: async-signal-safe, no allocation; may run in a vfork child. */
const char *ct_static_cover(uint64_t session, int32_t pid, uint64_t pstart,
			    bool *nnp);

/* Answer every notification of listener with "continue" until no task
 * uses the filter any more.  Used by helpers that keep a filter served
 * when its supervisor is gone.  Context: async-signal-safe. */
void ct_static_serve_continue(int listener);

/* Syscalls the filter stops on (x86-64 numbers), for the supervisor's
 * decoder and the tests.  Terminated by -1. */
extern const int ct_static_nrs[];

#endif
