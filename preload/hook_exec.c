/* exec and spawn hooks.
 *
 * glibc's exec*, posix_spawn*, system and popen reach the kernel through
 * internal aliases, so each entry point is hooked on its own.  Every one
 * rebuilds the child's environment on the stack (ct_envp_build) so the
 * shim follows the tree even through env -i, records the resolved target,
 * and says when the shim cannot follow (gap).  These hooks may run in a
 * vfork child: they write no global and take their ids from
 * ct_self_checked().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "preload/shim.h"
#include "preload/static.h"
#include "preload/sud.h"
#include "preload/sys.h"

static void proc_kv_build(struct ct_exec *x)
{
	static const char k[] = "CTRACE_PROC=";
	size_t n = sizeof(k) - 1;

	/* A vfork child is not an instance of its own yet: name the parent,
	 * so the new image sees CTRACE_PROC's pid == its ppid and takes the
	 * parent's stamp as parent_start (state.c, ct_init). */
	memcpy(x->proc_kv, k, n);
	n += ct_fmt_u64(x->proc_kv + n, (uint64_t)ct_pid);
	x->proc_kv[n++] = '.';
	n += ct_fmt_u64(x->proc_kv + n, ct_pstart);
	x->proc_kv[n] = '\0';
}

static void gap_emit(struct ct_exec *x, const char *why)
{
	struct ct_event ev;

	ct_event_start(&ev, CT_KIND_GAP, x->ts);
	ev.present = CT_F_REASON | CT_F_EXE | CT_F_PATH;
	ev.reason.p = why;
	ev.reason.len = (uint32_t)strlen(why);
	ev.exe.p = ev.path.p = x->path;
	ev.exe.len = ev.path.len = (uint32_t)x->plen;
	ct_emit(&ev, &x->self);
}

/* Whether opening the file failed in a way an exec of it fails too:
 * nothing there to run.  Not EACCES: a file may be executable without
 * being readable. */
static bool exec_must_fail(int open_err)
{
	return open_err == ENOENT || open_err == ENOTDIR || open_err == ELOOP ||
	       open_err == ENAMETOOLONG;
}

/* ct_exec_begin_src, except that the gap of a spawn of a static binary
 * is returned instead of recorded: spawn_call tries to cover it first. */
static const char *exec_begin(struct ct_exec *x, unsigned source, unsigned kind,
			      enum ct_exec_how how, int dfd, const char *file,
			      char *const *argv)
{
	const char *gap;
	int open_err;

	x->source = source;
	ct_self_checked(&x->self);
	x->ts = ct_now();
	x->argv = argv;
	switch (how) {
	case CT_EXEC_SEARCH:
		x->plen = ct_path_search(file, ct_env_get(environ, "PATH"),
					 x->path, sizeof(x->path));
		if (!x->plen)
			x->plen = strlen(x->path);
		break;
	case CT_EXEC_FD:
		x->plen = ct_path_fd(dfd, x->path, sizeof(x->path));
		break;
	default:
		x->plen = ct_path_abs(dfd, file ? file : "", x->path,
				      sizeof(x->path));
		break;
	}
	proc_kv_build(x);

	gap = ct_exec_gap_err(x->path, &open_err);
	if (gap && kind == CT_KIND_SPAWN &&
	    strncmp(gap, "static binary", 13) == 0)
		return gap;
	if (gap && kind == CT_KIND_EXEC)
		gap = ct_static_prepare(x, gap);
	if (gap)
		gap_emit(x, gap);
	/* The intent is recorded before the call because a successful exec
	 * does not return.  When the file cannot even be looked up, the exec
	 * fails the same way, and its one record, with the error, comes
	 * after the call: Python's subprocess tries execve in every PATH
	 * folder, and each miss was two records.  (Should the file appear in
	 * between, the new image's start event still records it.) */
	if (kind == CT_KIND_EXEC && !exec_must_fail(open_err))
		ct_exec_done(x, kind, 0, 0);
	return NULL;
}

void ct_exec_begin(struct ct_exec *x, unsigned kind, enum ct_exec_how how,
		   int dfd, const char *file, char *const *argv)
{
	ct_exec_begin_src(x, CT_SOURCE_LIBC, kind, how, dfd, file, argv);
}

void ct_exec_begin_src(struct ct_exec *x, unsigned source, unsigned kind,
		       enum ct_exec_how how, int dfd, const char *file,
		       char *const *argv)
{
	const char *gap = exec_begin(x, source, kind, how, dfd, file, argv);

	if (gap)
		gap_emit(x, gap);
}

void ct_exec_done(struct ct_exec *x, unsigned kind, long r, int err)
{
	struct ct_event ev;

	ct_event_start(&ev, kind, kind == CT_KIND_SPAWN ? x->ts : 0);
	ev.source = (uint8_t)x->source;
	ev.present = CT_F_PATH | CT_F_EXE;
	ev.exe.p = ev.path.p = x->path;
	ev.exe.len = ev.path.len = (uint32_t)x->plen;
	if (x->argv) {
		ev.present |= CT_F_ARGV;
		ev.argv_in = x->argv;
	}
	ct_event_result(&ev, r, err);
	ct_emit(&ev, &x->self);
}

/* Call the real exec with the rebuilt envp; record if it returns. */
#define EXEC_BODY(how, dfd, file, argv, envp, call)                    \
	do {                                                           \
		struct ct_exec x;                                      \
		int r_, e_;                                            \
		ct_exec_begin(&x, CT_KIND_EXEC, how, dfd, file, argv); \
		CT_ENVP_ON_STACK(env, envp, x.proc_kv);                \
		bool b_ = ct_sud_exec_begin();                         \
		do {                                                   \
			errno = saved;                                 \
			r_ = call;                                     \
		} while (r_ < 0 && ct_gate_again(NULL));               \
		e_ = errno;                                            \
		ct_sud_exec_end(b_);                                   \
		ct_exec_done(&x, CT_KIND_EXEC, r_, e_);                \
		errno = e_;                                            \
		return r_;                                             \
	} while (0)

CT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(execve)(path, argv, envp);
	EXEC_BODY(CT_EXEC_PATH, AT_FDCWD, path, argv, envp,
		  CT_REAL(execve)(path, argv, env));
}

CT_EXPORT int execv(const char *path, char *const argv[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(execv)(path, argv);
	EXEC_BODY(CT_EXEC_PATH, AT_FDCWD, path, argv, environ,
		  CT_REAL(execve)(path, argv, env));
}

CT_EXPORT int execvp(const char *file, char *const argv[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(execvp)(file, argv);
	EXEC_BODY(CT_EXEC_SEARCH, AT_FDCWD, file, argv, environ,
		  CT_REAL(execvpe)(file, argv, env));
}

CT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(execvpe)(file, argv, envp);
	EXEC_BODY(CT_EXEC_SEARCH, AT_FDCWD, file, argv, envp,
		  CT_REAL(execvpe)(file, argv, env));
}

CT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(fexecve)(fd, argv, envp);
	EXEC_BODY(CT_EXEC_FD, fd, NULL, argv, envp,
		  CT_REAL(fexecve)(fd, argv, env));
}

/* Callers may pass NULL despite glibc's nonnull: check out of line. */
static __attribute__((noinline)) bool path_is_empty(const char *p)
{
	return p && !*p;
}

CT_EXPORT int execveat(int dfd, const char *path, char *const argv[],
		       char *const envp[], int flags)
{
	int saved = errno;
	enum ct_exec_how how = CT_EXEC_PATH;

	if (!ct_on())
		return CT_REAL(execveat)(dfd, path, argv, envp, flags);
	if ((flags & AT_EMPTY_PATH) && path_is_empty(path))
		how = CT_EXEC_FD;
	EXEC_BODY(how, dfd, path, argv, envp,
		  CT_REAL(execveat)(dfd, path, argv, env, flags));
}

/* execl*: the variadic list becomes an argv on the stack. */
#define VA_ARGV(argv, arg0, last, envp_out)     \
	size_t argc_ = 1;                       \
	va_list ap_;                            \
	va_start(ap_, last);                    \
	while (va_arg(ap_, char *))             \
		argc_++;                        \
	va_end(ap_);                            \
	char *argv[argc_ + 1];                  \
	argv[0] = (char *)arg0;                 \
	va_start(ap_, last);                    \
	for (size_t i_ = 1; i_ <= argc_; i_++)  \
		argv[i_] = va_arg(ap_, char *); \
	envp_out = va_arg(ap_, char *const *);  \
	va_end(ap_)

CT_EXPORT int execl(const char *path, const char *arg, ...)
{
	int saved = errno;
	char *const *unused;

	VA_ARGV(argv, arg, arg, unused);
	(void)unused;
	if (!ct_on())
		return CT_REAL(execve)(path, argv, environ);
	EXEC_BODY(CT_EXEC_PATH, AT_FDCWD, path, argv, environ,
		  CT_REAL(execve)(path, argv, env));
}

CT_EXPORT int execlp(const char *file, const char *arg, ...)
{
	int saved = errno;
	char *const *unused;

	VA_ARGV(argv, arg, arg, unused);
	(void)unused;
	if (!ct_on())
		return CT_REAL(execvpe)(file, argv, environ);
	EXEC_BODY(CT_EXEC_SEARCH, AT_FDCWD, file, argv, environ,
		  CT_REAL(execvpe)(file, argv, env));
}

CT_EXPORT int execle(const char *path, const char *arg, ...)
{
	int saved = errno;
	char *const *envp;

	VA_ARGV(argv, arg, arg, envp);
	if (!ct_on())
		return CT_REAL(execve)(path, argv, envp);
	EXEC_BODY(CT_EXEC_PATH, AT_FDCWD, path, argv, envp,
		  CT_REAL(execve)(path, argv, env));
}

/* The real posix_spawn(p), or for a static binary (sgap, exec_begin's
 * deferred gap) the same through the ctrace-spawn helper, which puts the
 * child under the seccomp supervisor (static.c); records the gap when the
 * program could not be covered.  *pid is set on success only, as glibc
 * does. */
static int spawn_call(struct ct_exec *x, const char *sgap, bool search,
		      pid_t *pid, const char *file,
		      const posix_spawn_file_actions_t *fa,
		      const posix_spawnattr_t *attr, char *const argv[],
		      char *const envp[])
{
	char why[CT_STATIC_WHY_MAX];
	pid_t child = 0;
	int r;

	if (!sgap) {
		if (search)
			r = CT_REAL(posix_spawnp)(&child, file, fa, attr, argv,
						  envp);
		else
			r = CT_REAL(posix_spawn)(&child, file, fa, attr, argv,
						 envp);
	} else {
		r = ct_static_spawn(sgap, search, &child, file, fa, attr, argv,
				    envp, why, sizeof(why));
		if (why[0])
			gap_emit(x, why);
	}
	if (!r && pid)
		*pid = child;
	return r;
}

/* posix_spawn returns an error number (glibc also leaves it in errno). */
#define SPAWN_BODY(how, search, pid, file, fa, attr, argv, envp)            \
	do {                                                                \
		struct ct_exec x;                                           \
		const char *sgap_;                                          \
		pid_t child_ = 0;                                           \
		int r_;                                                     \
		sgap_ = exec_begin(&x, CT_SOURCE_LIBC, CT_KIND_SPAWN, how,  \
				   AT_FDCWD, file, argv);                   \
		CT_ENVP_ON_STACK(env, envp, x.proc_kv);                     \
		errno = saved;                                              \
		r_ = spawn_call(&x, sgap_, search, &child_, file, fa, attr, \
				argv, env);                                 \
		saved = errno;                                              \
		if (pid && !r_)                                             \
			*pid = child_;                                      \
		ct_exec_done(&x, CT_KIND_SPAWN, r_ ? -1 : child_, r_);      \
		errno = saved;                                              \
		return r_;                                                  \
	} while (0)

CT_EXPORT int posix_spawn(pid_t *pid, const char *path,
			  const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[],
			  char *const envp[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
	SPAWN_BODY(CT_EXEC_PATH, false, pid, path, fa, attr, argv, envp);
}

CT_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			   const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[],
			   char *const envp[])
{
	int saved = errno;

	if (!ct_on())
		return CT_REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
	SPAWN_BODY(CT_EXEC_SEARCH, true, pid, file, fa, attr, argv, envp);
}

/* ---- system() ----
 * glibc 2.36's system() spawns through an internal posix_spawn with
 * __environ, where no hook sees the child's pid or status.  This is the
 * same algorithm (sysdeps/posix/system.c): SIGINT/SIGQUIT ignored by the
 * first concurrent caller and restored by the last, SIGCHLD blocked,
 * /bin/sh -c spawned with the caller's mask and SIGINT/SIGQUIT reset to
 * default in the child, waitpid retried on EINTR.  The differences: the
 * child's environment carries the shim, the spawn and the exit are
 * recorded, and the reference count is atomic instead of under glibc's
 * lock.  Thread cancellation inside waitpid does not kill the child. */
static struct sigaction s_intr, s_quit;
static _Atomic int s_sys_refs;

static int do_system(const char *line)
{
	struct sigaction sa;
	sigset_t omask, reset;
	posix_spawnattr_t attr;
	char *argv[] = { "sh", "-c", (char *)line, NULL };
	const char *sgap;
	struct ct_exec x;
	pid_t pid = 0;
	int status, r;

	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	if (atomic_fetch_add(&s_sys_refs, 1) == 0) {
		sigaction(SIGINT, &sa, &s_intr);
		sigaction(SIGQUIT, &sa, &s_quit);
	}
	sigaddset(&sa.sa_mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sa.sa_mask, &omask);
	sigemptyset(&reset);
	if (s_intr.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGINT);
	if (s_quit.sa_handler != SIG_IGN)
		sigaddset(&reset, SIGQUIT);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &omask);
	posix_spawnattr_setsigdefault(&attr, &reset);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSIGMASK);

	sgap = exec_begin(&x, CT_SOURCE_LIBC, CT_KIND_SPAWN, CT_EXEC_PATH,
			  AT_FDCWD, "/bin/sh", argv);
	{
		CT_ENVP_ON_STACK(env, environ, x.proc_kv);
		r = spawn_call(&x, sgap, false, &pid, "/bin/sh", NULL, &attr,
			       argv, env);
	}
	posix_spawnattr_destroy(&attr);
	ct_exec_done(&x, CT_KIND_SPAWN, r ? -1 : pid, r);

	if (r == 0) {
		pid_t w;

		do
			w = CT_REAL(waitpid)(pid, &status, 0);
		while (w < 0 && errno == EINTR);
		if (w != pid)
			status = -1;
		else
			ct_record_reaped(pid, status);
	} else {
		/* glibc 2.36: the status of a shell that could not run */
		status = W_EXITCODE(127, 0);
		errno = r;
	}
	if (atomic_fetch_sub(&s_sys_refs, 1) == 1) {
		sigaction(SIGINT, &s_intr, NULL);
		sigaction(SIGQUIT, &s_quit, NULL);
		sigprocmask(SIG_SETMASK, &omask, NULL);
	}
	return status;
}

CT_EXPORT int system(const char *line)
{
	int r;

	if (!ct_on())
		return CT_REAL(system)(line);
	if (!line)
		return do_system("exit 0") == 0;
	r = do_system(line);
	return r;
}

/* ---- popen()/pclose() ----
 * Same reason as system(): glibc's popen spawns with __environ through
 * internal calls and keeps the pid in its private FILE.  This follows
 * libio/iopopen.c: pipe2(O_CLOEXEC), the child's end dup2'ed onto 0 or 1
 * (moved first if it already is that fd), other popen'ed streams closed
 * in the child as POSIX requires, /bin/sh -c spawned, the parent's end
 * turned into a FILE.  The stream -> pid table is a fixed array claimed
 * with CAS; when it is full we fall back to glibc's popen (the spawn is
 * then recorded without pid and the exit is not).  A stream from here
 * closed with fclose() instead of pclose() is not waited for (glibc's
 * would be). */
#define POPEN_MAX 64
static struct {
	_Atomic(FILE *) f;
	int fd;
	pid_t pid;
} s_popen[POPEN_MAX];

static FILE *popen_fallback(const char *cmd, const char *mode)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	struct ct_exec x;
	FILE *f;
	int err;

	ct_exec_begin(&x, CT_KIND_SPAWN, CT_EXEC_PATH, AT_FDCWD, "/bin/sh",
		      argv);
	f = CT_REAL(popen)(cmd, mode);
	err = errno;
	ct_exec_done(&x, CT_KIND_SPAWN, f ? 0 : -1, err);
	errno = err;
	return f;
}

CT_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	int do_read = 0, do_write = 0, do_cloexec = 0;
	int fds[2], parent_end, child_end, child_fd, r, slot = -1;
	posix_spawn_file_actions_t fa;
	const char *sgap;
	struct ct_exec x;
	pid_t pid = 0;
	FILE *f;

	if (!ct_on())
		return CT_REAL(popen)(cmd, mode);
	for (const char *m = mode; *m; m++) {
		switch (*m) {
		case 'r':
			do_read = 1;
			break;
		case 'w':
			do_write = 1;
			break;
		case 'e':
			do_cloexec = 1;
			break;
		default:
			errno = EINVAL;
			return NULL;
		}
	}
	if ((do_read ^ do_write) == 0) {
		errno = EINVAL;
		return NULL;
	}
	for (int i = 0; i < POPEN_MAX && slot < 0; i++) {
		FILE *none = NULL;

		/* (FILE *)1 marks a slot being filled */
		if (atomic_compare_exchange_strong(&s_popen[i].f, &none,
						   (FILE *)1))
			slot = i;
	}
	if (slot < 0)
		return popen_fallback(cmd, mode);

	if (pipe2(fds, O_CLOEXEC) < 0)
		goto out_slot;
	parent_end = do_read ? 0 : 1;
	child_end = do_read ? 1 : 0;
	child_fd = do_read ? 1 : 0;
	posix_spawn_file_actions_init(&fa);
	if (fds[child_end] == child_fd) {
		int tmp = fcntl(child_fd, F_DUPFD_CLOEXEC, 0);

		if (tmp < 0)
			goto out_fail;
		close(fds[child_end]);
		fds[child_end] = tmp;
	}
	if (posix_spawn_file_actions_adddup2(&fa, fds[child_end], child_fd))
		goto out_fail;
	for (int i = 0; i < POPEN_MAX; i++) {
		FILE *o = atomic_load(&s_popen[i].f);

		if (i != slot && o && o != (FILE *)1 &&
		    s_popen[i].fd != child_fd &&
		    posix_spawn_file_actions_addclose(&fa, s_popen[i].fd))
			goto out_fail;
	}

	sgap = exec_begin(&x, CT_SOURCE_LIBC, CT_KIND_SPAWN, CT_EXEC_PATH,
			  AT_FDCWD, "/bin/sh", argv);
	{
		CT_ENVP_ON_STACK(env, environ, x.proc_kv);
		r = spawn_call(&x, sgap, false, &pid, "/bin/sh", &fa, NULL,
			       argv, env);
	}
	ct_exec_done(&x, CT_KIND_SPAWN, r ? -1 : pid, r);
	if (r)
		goto out_fail;
	posix_spawn_file_actions_destroy(&fa);
	close(fds[child_end]);
	if (!do_cloexec)
		fcntl(fds[parent_end], F_SETFD, 0);
	f = fdopen(fds[parent_end], do_read ? "r" : "w");
	if (!f) {
		/* like glibc, the child keeps running; reap it here */
		int err = errno, st;

		close(fds[parent_end]);
		while (CT_REAL(waitpid)(pid, &st, 0) < 0 && errno == EINTR)
			;
		atomic_store(&s_popen[slot].f, NULL);
		errno = err;
		return NULL;
	}
	s_popen[slot].fd = fds[parent_end];
	s_popen[slot].pid = pid;
	atomic_store(&s_popen[slot].f, f);
	return f;

out_fail:
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	close(fds[1]);
	errno = ENOMEM; /* what glibc reports for any spawn failure */
out_slot:
	atomic_store(&s_popen[slot].f, NULL);
	return NULL;
}

CT_EXPORT int pclose(FILE *f)
{
	int slot = -1, st, err;
	bool fail;
	pid_t pid, w;

	for (int i = 0; f && i < POPEN_MAX; i++) {
		FILE *o = f;

		if (atomic_load(&s_popen[i].f) == f &&
		    atomic_compare_exchange_strong(&s_popen[i].f, &o,
						   (FILE *)1)) {
			slot = i;
			break;
		}
	}
	if (slot < 0)
		return CT_REAL(pclose)(f);
	pid = s_popen[slot].pid;
	atomic_store(&s_popen[slot].f, NULL);
	/* glibc's pclose waits for the child even when the flush fails */
	fail = fclose(f) != 0;
	do
		w = CT_REAL(waitpid)(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	err = errno;
	if (ct_on())
		ct_record_reaped(pid, st);
	errno = err;
	return fail ? -1 : st;
}
