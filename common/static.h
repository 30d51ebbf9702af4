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
#include <sys/syscall.h>

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

/* Parse a session id as ctrace writes it in CTRACE_SESSION: exactly 16
 * lower-case hex digits.  Returns false for anything else.
 * Context: async-signal-safe. */
bool ct_static_session_parse(const char *s, uint64_t *out);

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

/* posix_spawn of a static binary (preload/static.c, preload/spawn_helper.c,
 * docs/static.md "posix_spawn"): glibc's spawn child execs where no hook
 * runs, so the shim spawns CT_SPAWN_HELPER, a static program installed
 * beside the shim, with the caller's file actions, attributes and rebuilt
 * environment; the helper puts itself under the filter (ct_static_cover)
 * and execs the target in place, so the pid posix_spawn returns is the
 * static program's.
 *
 * The helper's argv: CT_SPAWN_ARG_* below, then the target's argv
 * unchanged (its argv[0] included).  The mode is "x" (execve file), "p"
 * (PATH search of file along the PATH argument, as posix_spawnp) or "d"
 * (PATH search, PATH unset: glibc's default).
 *
 * It reports over a SOCK_SEQPACKET connection to the abstract unix name
 * given (the spawning thread's listener, checked with SO_PEERCRED), one
 * byte of kind first:
 *   CT_SPAWN_COVER  + the gap reason, empty when covered (always first)
 *   CT_SPAWN_MISS   + int errno: a PATH candidate failed, search goes on
 *   CT_SPAWN_FAIL   + int errno: the exec failed, the helper exits
 * and the connection closes without a FAIL when the exec succeeded (the
 * socket is close-on-exec).  A helper that cannot connect exits with
 * CT_SPAWN_NOCHAN before anything else and without exec'ing. */
#define CT_SPAWN_HELPER "ctrace-spawn"
#define CT_SPAWN_MAGIC "ctrace-spawn-1"
enum {
	CT_SPAWN_ARG_MAGIC = 1,
	CT_SPAWN_ARG_MODE,
	CT_SPAWN_ARG_FILE,
	CT_SPAWN_ARG_PATH,
	CT_SPAWN_ARG_SOCK,
	CT_SPAWN_ARG_SESSION,
	CT_SPAWN_ARGS, /* index of the target's argv[0] */
};
enum {
	CT_SPAWN_COVER = 'c',
	CT_SPAWN_MISS = 'm',
	CT_SPAWN_FAIL = 'e',
};
#define CT_SPAWN_NOCHAN 126
#define CT_SPAWN_MSG_MAX 160 /* largest report, kind byte included */

/* Syscalls the filter stops on (x86-64 numbers), for the supervisor's
 * decoder and the tests.  Terminated by -1.  The newer ones, for headers
 * older than the kernel: */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
extern const int ct_static_nrs[];

/* A target syscall whose sixth argument (unused by all of them) is this
 * passes the filter without stopping: shim-loaded programs below a static
 * binary issue what their shim records this way (preload/gate.c), so they
 * do not pay the supervisor's round trip for it.  Not a secret: a program
 * that sets it is not recorded by the supervisor, as one that drops the
 * shim is not recorded by it (docs/threat-model.md). */
#define CT_STATIC_PASS 0xc7ace0a55c7ace00ull

/* The filter's BPF program: the arch check, one comparison per target
 * syscall, CT_STATIC_PASS, then `stop` (SECCOMP_RET_USER_NOTIF for the
 * supervisor; tests use SECCOMP_RET_ERRNO to see what is stopped).
 * Writes at most CT_STATIC_FILTER_MAX instructions to f (struct
 * sock_filter); returns how many.  Context: async-signal-safe. */
#define CT_STATIC_FILTER_MAX 64
size_t ct_static_filter(void *f, uint32_t stop);

#endif
