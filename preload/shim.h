/* The shim's internal contracts (not installed, not exported).
 *
 * state.c   per-process state, constructor, real symbols, cwd cache, emit
 * path.c    absolute, lexically normalised paths (pure, unit-tested)
 * envp.c    the child's environment, built on the caller's stack (pure)
 * fmt.c     numbers and socket addresses as text (pure)
 * elf.c     can the shim load into an exec target? (static / setuid)
 * resolve.c the real symbols without dlsym, for the constructor (resolve.h)
 * gate.c    below a static binary: real calls that pass its filter
 * hook_*.c  the exported hooks: thin trampolines around record builders
 *
 * Every function here is async-signal-safe, allocates nothing, takes no
 * lock and leaves errno alone, unless it says otherwise.
 */
#ifndef CT_PRELOAD_SHIM_H
#define CT_PRELOAD_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/event.h"
#include "common/ring.h"

#define CT_EXPORT __attribute__((visibility("default")))
#define CT_TLS __thread __attribute__((tls_model("initial-exec")))

/* glibc exports these without declaring them (outside _FORTIFY_SOURCE). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dfd, const char *path, int flags);
int __openat64_2(int dfd, const char *path, int flags);
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
		      void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

/* ---- real symbols (state.c) ---- */
struct ct_real {
#define CT_HOOK(name) __typeof__(name) *name;
#include "preload/hooks.def"
#undef CT_HOOK
};
extern struct ct_real ct_real;

/* Resolve one symbol with dlsym(RTLD_NEXT) and store it in *slot; used
 * when a hook runs before the constructor.  Not async-signal-safe (dlsym),
 * which is why the constructor resolves everything up front. */
void *ct_real_resolve(const char *name, void **slot);

#define CT_REAL(name)                                         \
	(__builtin_expect(ct_real.name != NULL, 1)            \
		 ? ct_real.name                               \
		 : (__typeof__(ct_real.name))ct_real_resolve( \
			   #name, (void **)&ct_real.name))

/* Under a seccomp filter, the real functions of the one-syscall wrappers
 * become calls that pass ctrace's static-binary filter (gate.c); sets
 * ct_gated.  Constructor only, after the real symbols are resolved. */
void ct_gate_init(void);
extern bool ct_gated;
/* A call that failed with errno should be made again: under a filter, a
 * signal cut it short before it was made (gate.c).  path: what it opens,
 * NULL if it opens nothing that can sleep. */
bool ct_gate_again(const char *path);

/* ---- per-process state (state.c) ---- */
extern bool ct_active; /* ring attached: record */
extern struct ct_ring ct_ring;
extern int32_t ct_pid; /* cached getpid of this instance */
extern int32_t ct_ppid; /* cached getppid at constructor / fork */
extern uint64_t ct_pstart; /* instance stamp, see event.h pstart */
extern uint64_t ct_parent_start; /* parent's pstart when known, else 0 */
extern bool ct_exit_done; /* this instance already recorded its exit */
extern CT_TLS int ct_guard; /* >0: the shim itself is running */

/* Fixed strings for the child's environment, built by the constructor and
 * read-only afterwards (so a vfork child may read them). */
struct ct_envfix {
	const char *shim; /* absolute path of the shim */
	size_t shim_len;
	const char *ring_val; /* value of CTRACE_RING */
	const char *kv[5]; /* "CTRACE_RING=..", "CTRACE_SESSION=..",
				  * "CTRACE_SHIM=..", "UV_USE_IO_URING=0",
				  * "LD_PRELOAD=<shim>" (last) */
	int nkv;
};
extern struct ct_envfix ct_envfix;

/* Set up from environ when a hook runs before the constructor (another
 * library's constructor opening files, e.g. libselinux reading
 * /proc/filesystems); the constructor then only records the start. */
extern bool ct_ready;
void ct_setup_early(void);

/* Syscall User Dispatch (sud.c, sud.h): on in this process, and this
 * thread armed.  A hook running in a thread that was never armed (one
 * glibc or a runtime started without our pthread_create) arms it.
 * Arming unblocks SIGSYS in the thread (the program's wish is kept and
 * shown back by the mask hooks). */
extern bool ct_sud_on;
extern CT_TLS bool ct_sud_armed;
void ct_sud_arm_thread(void);

/* True when a hook should record: ring attached and not inside the shim. */
static inline bool ct_on(void)
{
	if (__builtin_expect(!ct_ready, 0))
		ct_setup_early();
	if (__builtin_expect(ct_sud_on && !ct_sud_armed, 0))
		ct_sud_arm_thread();
	return __builtin_expect(ct_active && ct_guard == 0, 1);
}

/* Who is recording.  Normally the caches; inside a vfork child (raw pid !=
 * ct_pid) the raw ids with pstart 0, and then nothing global may be
 * written, since the memory is the parent's. */
struct ct_self {
	int32_t pid, tid, ppid;
	uint64_t pstart;
	bool vfork;
};
void ct_self_cached(struct ct_self *s);
/* One getpid syscall: detects a vfork child. */
void ct_self_checked(struct ct_self *s);

uint64_t ct_now(void);

/* Fill the header fields every event carries and clear all the others. */
void ct_event_start(struct ct_event *ev, unsigned kind, uint64_t ts);
/* The same without clearing the optional fields: for hot-path builders
 * that set each optional field whose CT_F_* bit they set in present (the
 * encoder reads no other; argv_in only with CT_F_ARGV).  ts 0: now. */
static inline void ct_event_head(struct ct_event *ev, unsigned kind,
				 uint64_t ts)
{
	ev->kind = (uint8_t)kind;
	ev->source = CT_SOURCE_LIBC;
	ev->present = 0;
	ev->ts = ts ? ts : ct_now();
	ev->result = 0;
	ev->err = 0;
}
/* Set result/err from a libc-style return (r < 0 => -err). */
void ct_event_result(struct ct_event *ev, long r, int err);
/* Encode ev into the ring as self (NULL: the cached process state). */
void ct_emit(struct ct_event *ev, const struct ct_self *self);

/* Instance reset in a fork child (fork hook, atfork handler, clone
 * trampoline).  t0: the parent's stamp for this child. */
void ct_child_reset(uint64_t t0, int32_t parent_pid);

/* Forget this thread's cached per-thread state (tid, fork mark, guard):
 * for TLS copied from another thread (sud.c's raw threads). */
void ct_thread_forget(void);

/* Tell the atfork child handler the stamp and parent of the fork about to
 * happen in this thread (t0 0: no fork in progress). */
void ct_fork_mark(uint64_t t0, int32_t parent);

/* Record this instance's exit once (exit, _exit, main's return). */
void ct_record_exit(int code);
/* Record that child pid was reaped with wait status st by us. */
void ct_record_reaped(pid_t pid, int st);

/* ---- cwd cache (state.c) ---- */
/* Copy the cached cwd into out (cap bytes).  Returns its length, 0 when
 * unknown. */
size_t ct_cwd_copy(char *out, size_t cap);
/* Re-read the cwd with a raw getcwd after a successful chdir/fchdir. */
void ct_cwd_refresh(void);

/* ---- paths (path.c) ---- */
/* Append path p to the absolute, normalised prefix out[0..len) (len 0 with
 * p absolute is fine), resolving ".", ".." and repeated "/" lexically.
 * Returns the new length; out is NUL terminated; cut at cap - 1. */
size_t ct_path_push(char *out, size_t len, size_t cap, const char *p);
/* out = normalise(base "/" p); base may be NULL when p is absolute. */
size_t ct_path_join(const char *base, const char *p, char *out, size_t cap);
/* When p is absolute and already what ct_path_push(out, 0, cap, p) would
 * make of it (no empty, "." or ".." component, no trailing '/', shorter
 * than cap), its length; else 0.  Lets a hook record the caller's string
 * as it is instead of copying it. */
size_t ct_path_plain(const char *p, size_t cap);
/* Absolute path of p relative to dfd (AT_FDCWD: the cwd cache; else
 * readlink of /proc/self/fd/dfd).  p "" means dfd itself.  When the base
 * cannot be found, p is copied as given.  Returns the length. */
size_t ct_path_abs(int dfd, const char *p, char *out, size_t cap);
/* The target of fd (readlink /proc/self/fd/N).  Returns length or 0. */
size_t ct_path_fd(int fd, char *out, size_t cap);
/* PATH search like execvp: the first PATH entry where dir/file is an
 * executable regular file.  file containing '/' is made absolute.  Returns
 * the length, or 0 when not found (out then holds file as given). */
size_t ct_path_search(const char *file, const char *path_env, char *out,
		      size_t cap);
/* Value of name in envp (name without '='), or NULL. */
const char *ct_env_get(char *const *envp, const char *name);

/* ---- child environment (envp.c) ---- */
/* Slots needed for the new envp of a child (entries + ours + NULL). */
size_t ct_envp_slots(char *const *envp);
/* Bytes needed for a rebuilt "LD_PRELOAD=" string (at least 1). */
size_t ct_envp_buf_need(char *const *envp, const struct ct_envfix *fix);
/* Build the child's envp into out (nout slots, from ct_envp_slots): the
 * entries of envp minus LD_PRELOAD, CTRACE_*, UV_USE_IO_URING, then ours
 * and proc_kv ("CTRACE_PROC=pid.pstart").  An LD_PRELOAD that lacks the
 * shim gets it prepended (string built in buf).  An envp that names
 * another ring (nested ctrace) is passed on untouched.  Returns out, or
 * envp itself in that case. */
char *const *ct_envp_build(char *const *envp, const struct ct_envfix *fix,
			   const char *proc_kv, char **out, size_t nout,
			   char *buf, size_t bufcap);

/* The new envp on the caller's stack (VLAs in the calling frame). */
#define CT_ENVP_ON_STACK(var, envp, proc_kv)                                 \
	size_t var##_n = ct_envp_slots(envp);                                \
	size_t var##_bn = ct_envp_buf_need(envp, &ct_envfix);                \
	char *var##_v[var##_n];                                              \
	char var##_b[var##_bn];                                              \
	char *const *var = ct_envp_build(envp, &ct_envfix, proc_kv, var##_v, \
					 var##_n, var##_b, var##_bn)

/* ---- text (fmt.c) ---- */
/* Decimal of v into buf; returns length (no NUL). buf >= 21 bytes. */
size_t ct_fmt_u64(char *buf, uint64_t v);
/* Parse "<pid>.<pstart>"; returns true when well formed. */
bool ct_parse_proc(const char *s, int32_t *pid, uint64_t *pstart);
/* "1.2.3.4:80", "[::1]:443", "unix:/p", "unix:@abstract", "unix:".
 * Returns the length (0: family not recorded).  NUL terminated. */
size_t ct_fmt_sockaddr(const struct sockaddr *sa, socklen_t len, char *out,
		       size_t cap);
/* Open flags glibc's fopen uses for a mode string ("r+e" ...). */
int ct_fopen_flags(const char *mode);

/* ---- exec targets: ct_exec_gap() in common/elf.h ---- */
#include "common/elf.h"

/* ---- file-system records (hook_fs.c) ---- */
struct ct_fsrec {
	unsigned kind; /* CT_KIND_* */
	unsigned source; /* 0: CT_SOURCE_LIBC */
	uint64_t ts; /* when the call was made */
	int dfd; /* path relative to this (AT_FDCWD: cwd) */
	const char *path; /* NULL: no path */
	int dfd2;
	const char *path2; /* NULL: no path2 */
	uint32_t present; /* extra CT_F_* bits: FLAGS, MODE, FD */
	uint32_t flags, mode;
	int fd;
	int existed; /* -1: not checked, else 0/1 */
	bool link_target; /* path is a symlink's content: resolve against
			     * the directory of path2 */
};
/* Build and emit the event for fr with result r (libc style: < 0 means
 * failure with err).  self NULL: the cached process state. */
void ct_fs_record(const struct ct_fsrec *fr, long r, int err,
		  const struct ct_self *self);
/* The mode argument of an open-like variadic function (flags its last
 * named parameter): read only when the flags say there is one, as libc
 * does.  Needs <stdarg.h>. */
#define CT_OPEN_MODE(flags)                         \
	({                                          \
		unsigned m_ = 0;                    \
		if (__OPEN_NEEDS_MODE(flags)) {     \
			va_list ap_;                \
			va_start(ap_, flags);       \
			m_ = va_arg(ap_, unsigned); \
			va_end(ap_);                \
		}                                   \
		m_;                                 \
	})
/* Would an open with these flags clobber or create: check existence. */
static inline bool ct_open_wants_existed(int flags)
{
	return (flags & O_TRUNC) || ((flags & O_CREAT) && !(flags & O_EXCL) &&
				     (flags & O_ACCMODE) != O_RDONLY);
}
/* One raw faccessat(F_OK) / lstat: 1 exists, 0 not. */
int ct_exists(int dfd, const char *path, bool nofollow);

/* ---- shared by the exec hooks (hook_exec.c) ---- */
struct ct_exec {
	struct ct_self self;
	unsigned source; /* CT_SOURCE_* of the exec/spawn event */
	uint64_t ts;
	char *const *argv;
	size_t plen;
	char proc_kv[48]; /* "CTRACE_PROC=<pid>.<pstart>" */
	char path[CT_PATH_MAX];
};
enum ct_exec_how {
	CT_EXEC_PATH, /* file relative to dfd */
	CT_EXEC_SEARCH, /* execvp-style PATH search (PATH of environ) */
	CT_EXEC_FD, /* the file open as dfd */
};
/* Resolve the target, record gap events when the shim cannot follow it
 * and, for kind CT_KIND_EXEC, the intent (result 0) unless the file is
 * not there to run (then only ct_exec_done records); fill proc_kv.  For
 * CT_KIND_SPAWN nothing is recorded until ct_exec_done.  Writes no global
 * (may run in a vfork child). */
void ct_exec_begin(struct ct_exec *x, unsigned kind, enum ct_exec_how how,
		   int dfd, const char *file, char *const *argv);
/* The same, for an exec captured another way (source CT_SOURCE_*). */
void ct_exec_begin_src(struct ct_exec *x, unsigned source, unsigned kind,
		       enum ct_exec_how how, int dfd, const char *file,
		       char *const *argv);
/* Record the outcome: an exec that returned (r < 0), or a spawn (r = child
 * pid, or < 0 with err). */
void ct_exec_done(struct ct_exec *x, unsigned kind, long r, int err);

/* ---- static exec targets (static.c) ---- */
/* gap is ct_exec_gap()'s verdict on x->path, about to be exec'd by this
 * thread.  For a static binary, put the thread under the seccomp filter of
 * the session's supervisor: returns NULL when covered, else the reason
 * for the gap event (gap itself when it is not about a static binary). */
const char *ct_static_prepare(const struct ct_exec *x, const char *gap);

#endif
