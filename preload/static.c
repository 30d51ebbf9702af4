/* Exec of a static binary: instead of only a gap, put the exec'ing thread
 * under the seccomp filter whose listener the supervisor in `ctrace run`
 * serves (common/static.h, docs/static.md).  The filter survives the exec
 * and is inherited by everything the static program starts.
 */
#include <poll.h>
#include <string.h>
#include <sys/un.h>

#include "common/static.h"
#include "common/sys.h"
#include "preload/shim.h"
#include "preload/static.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The session id, from the CTRACE_SESSION entry the constructor built. */
static bool session_of(uint64_t *out)
{
	static const char pre[] = "CTRACE_SESSION=";

	for (int i = 0; i < ct_envfix.nkv; i++) {
		const char *kv = ct_envfix.kv[i];

		if (kv && strncmp(kv, pre, sizeof(pre) - 1) == 0)
			return ct_static_session_parse(kv + sizeof(pre) - 1,
						       out);
	}
	return false;
}

/* NULL when a static target can be covered (session set), else the
 * reason for the gap. */
static const char *coverable(const char *gap, uint64_t *session)
{
	const char *off = ct_env_get(environ, "CTRACE_STATIC");

	if (strncmp(gap, "static binary", 13) != 0 || !session_of(session))
		return gap;
	if (off && strcmp(off, "0") == 0)
		return "static binary: not covered (CTRACE_STATIC=0)";
	return NULL;
}

const char *ct_static_prepare(const struct ct_exec *x, const char *gap)
{
	const char *why;
	uint64_t session;
	bool nnp;

	why = coverable(gap, &session);
	if (why)
		return why;
	return ct_static_cover(session, x->self.pid, x->self.pstart, &nnp);
}

/* ---- posix_spawn of a static binary ----
 * glibc's spawn child is a CLONE_VM|CLONE_VFORK clone that applies the
 * file actions and attributes and calls its internal __execve: no hook
 * runs between them, and the filter must be installed in the task that
 * execs.  So the child is made to exec ctrace-spawn (static, beside the
 * shim) with everything posix_spawn applies, and the helper, under the
 * filter, execs the target in place; it tells this thread over a socket
 * whether it was covered and how each exec attempt failed, so the result
 * and errno are the plain call's (common/static.h has the protocol). */

static void why_set(char *why, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(why, s, n);
	why[n] = '\0';
}

static int plain_spawn(bool search, pid_t *child, const char *file,
		       const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[],
		       char *const envp[])
{
	if (search)
		return CT_REAL(posix_spawnp)(child, file, fa, attr, argv, envp);
	return CT_REAL(posix_spawn)(child, file, fa, attr, argv, envp);
}

/* <dir of the shim>/ctrace-spawn, if it is there and executable. */
static bool helper_path(char *out, size_t cap)
{
	const char *shim = ct_envfix.shim, *slash;
	size_t d;

	if (!shim)
		return false;
	slash = strrchr(shim, '/');
	if (!slash)
		return false;
	d = (size_t)(slash - shim) + 1;
	if (d + sizeof(CT_SPAWN_HELPER) > cap)
		return false;
	memcpy(out, shim, d);
	memcpy(out + d, CT_SPAWN_HELPER, sizeof(CT_SPAWN_HELPER));
	return ct_sys_faccessat(AT_FDCWD, out, X_OK) == 0;
}

/* A listening socket under an autobound abstract name, written to name
 * (without its leading NUL); -1 on failure. */
static int chan_listen(char *name, size_t cap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sun);
	size_t n;
	int s;

	s = (int)ct_sys3(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	/* an address of just the family: the kernel picks a free name */
	if (ct_sys3(SYS_bind, s, &sun, sizeof(sa_family_t)) < 0 ||
	    ct_sys3(SYS_getsockname, s, &sun, &len) < 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) + 1 ||
	    ct_sys2(SYS_listen, s, 4) < 0)
		goto out_close;
	n = len - offsetof(struct sockaddr_un, sun_path) - 1;
	if (n >= cap || memchr(sun.sun_path + 1, '\0', n))
		goto out_close;
	memcpy(name, sun.sun_path + 1, n);
	name[n] = '\0';
	return s;
out_close:
	ct_sys_close(s);
	return -1;
}

enum helper_end {
	HELPER_RUNS, /* connected: the returned fd */
	HELPER_NOCHAN, /* exited without connecting, reaped: nothing ran */
	HELPER_GONE, /* ended otherwise (killed): the caller's to reap */
};

/* Wait for the helper's connection, or for it to end without one. */
static int chan_accept(int ls, pid_t hpid, enum helper_end *end)
{
	int pfd = (int)ct_sys2(SYS_pidfd_open, hpid, 0);
	int c = -1;

	*end = HELPER_GONE;
	for (;;) {
		struct pollfd p[2] = { { .fd = ls, .events = POLLIN },
				       { .fd = pfd, .events = POLLIN } };
		siginfo_t si;
		long r;

		/* without pidfds (before 5.3): look every 10 ms */
		r = ct_sys3(SYS_poll, p, pfd >= 0 ? 2 : 1, pfd >= 0 ? -1 : 10);
		if (r == -EINTR)
			continue;
		if (r < 0)
			break; /* let it run; the caller gets its pid */
		if (p[0].revents & POLLIN) {
			struct ucred cr;
			socklen_t cl = sizeof(cr);

			c = (int)ct_sys4(SYS_accept4, ls, 0, 0, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			/* the name is public: only the helper may report */
			if (ct_sys6(SYS_getsockopt, c, SOL_SOCKET, SO_PEERCRED,
				    (long)&cr, (long)&cl, 0) == 0 &&
			    cr.pid == hpid) {
				*end = HELPER_RUNS;
				break;
			}
			ct_sys_close(c);
			c = -1;
			continue;
		}
		if (pfd >= 0 && !p[1].revents)
			continue;
		memset(&si, 0, sizeof(si));
		r = ct_sys6(SYS_waitid, P_PID, hpid, (long)&si,
			    WEXITED | WNOHANG | WNOWAIT, 0, 0);
		if (r == 0 && si.si_pid != hpid)
			continue; /* still running */
		if (r == 0 && si.si_code == CLD_EXITED &&
		    si.si_status == CT_SPAWN_NOCHAN) {
			ct_sys4(SYS_wait4, hpid, 0, 0, 0);
			*end = HELPER_NOCHAN;
		} else if (r == -ECHILD) {
			/* SIGCHLD ignored: reaped already; nothing says it
			 * exec'd, so start the program the plain way */
			*end = HELPER_NOCHAN;
		}
		break;
	}
	if (pfd >= 0)
		ct_sys_close(pfd);
	return c;
}

int ct_static_spawn(const char *gap, bool search, pid_t *child,
		    const char *file, const posix_spawn_file_actions_t *fa,
		    const posix_spawnattr_t *attr, char *const argv[],
		    char *const envp[], char *why, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char helper[CT_PATH_MAX],
		name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char sess[17];
	const char *reason, *path = "", *mode = "x";
	size_t argc = 0;
	uint64_t session;
	enum helper_end end;
	pid_t hpid = 0;
	int ls, c, r, miss = 0;

	why[0] = '\0';
	reason = coverable(gap, &session);
	if (reason)
		goto plain;
	reason = "static binary: no " CT_SPAWN_HELPER " beside the shim for "
		 "posix_spawn; not covered";
	if (!helper_path(helper, sizeof(helper)))
		goto plain;
	reason = "static binary: no unix socket for the posix_spawn helper; "
		 "not covered";
	ls = chan_listen(name, sizeof(name));
	if (ls < 0)
		goto plain;
	for (int i = 15; i >= 0; i--)
		sess[15 - i] = hex[(session >> (i * 4)) & 15];
	sess[16] = '\0';
	if (search) {
		/* posix_spawnp searches the PATH of the caller's environ */
		path = ct_env_get(environ, "PATH");
		mode = path ? "p" : "d";
		if (!path)
			path = "";
	}
	while (argv && argv[argc])
		argc++;

	{
		char *hargv[CT_SPAWN_ARGS + argc + 1];

		hargv[0] = (char *)CT_SPAWN_HELPER;
		hargv[CT_SPAWN_ARG_MAGIC] = (char *)CT_SPAWN_MAGIC;
		hargv[CT_SPAWN_ARG_MODE] = (char *)mode;
		hargv[CT_SPAWN_ARG_FILE] = (char *)(file ? file : "");
		hargv[CT_SPAWN_ARG_PATH] = (char *)path;
		hargv[CT_SPAWN_ARG_SOCK] = name;
		hargv[CT_SPAWN_ARG_SESSION] = sess;
		for (size_t i = 0; i <= argc; i++)
			hargv[CT_SPAWN_ARGS + i] = argc ? argv[i] : NULL;
		/* the file actions and attributes apply to the helper, and
		 * what they set up survives its exec of the target; an error
		 * here is one of theirs (the helper was checked above) */
		r = CT_REAL(posix_spawn)(&hpid, helper, fa, attr, hargv, envp);
	}
	if (r) {
		ct_sys_close(ls);
		return r;
	}
	c = chan_accept(ls, hpid, &end);
	ct_sys_close(ls);
	if (end == HELPER_NOCHAN) {
		reason = "static binary: the posix_spawn helper could not "
			 "report; not covered";
		goto plain;
	}
	if (end == HELPER_GONE) {
		*child = hpid;
		return 0;
	}
	for (;;) {
		char msg[CT_SPAWN_MSG_MAX];
		long n = ct_sys6(SYS_recvfrom, c, (long)msg, sizeof(msg), 0, 0,
				 0);
		int e;

		if (n == -EINTR)
			continue;
		if (n <= 0)
			break; /* closed on exec (or the helper died) */
		if (msg[0] == CT_SPAWN_COVER) {
			why_set(why, cap, msg + 1, (size_t)n - 1);
			continue;
		}
		if (n != 1 + (long)sizeof(e))
			continue;
		memcpy(&e, msg + 1, sizeof(e));
		if (msg[0] == CT_SPAWN_MISS) {
			miss = e;
		} else if (msg[0] == CT_SPAWN_FAIL) {
			/* as glibc: the failed child is reaped, the error is
			 * returned and left in errno */
			ct_sys_close(c);
			while (ct_sys4(SYS_wait4, hpid, 0, 0, 0) == -EINTR)
				;
			why[0] = '\0'; /* nothing ran */
			errno = e;
			return e;
		}
	}
	ct_sys_close(c);
	/* glibc's search leaves the last miss's errno behind (shared TLS) */
	if (miss)
		errno = miss;
	*child = hpid;
	return 0;

plain:
	why_set(why, cap, reason, strlen(reason));
	return plain_spawn(search, child, file, fa, attr, argv, envp);
}
