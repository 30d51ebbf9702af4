/* connect() and the generic syscall() entry.
 */
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>

#include "preload/shim.h"
#include "preload/sud.h"
#include "preload/sys.h"

CT_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct ct_event ev;
	char addr[128];
	uint64_t ts;
	int r, err;

	if (!ct_on())
		return CT_REAL(connect)(fd, sa, len);
	ts = ct_now();
	r = CT_REAL(connect)(fd, sa, len);
	err = errno;
	ct_event_start(&ev, CT_KIND_CONNECT, ts);
	ev.addr.len = (uint32_t)ct_fmt_sockaddr(sa, len, addr, sizeof(addr));
	if (ev.addr.len > 5 && memcmp(addr, "unix:", 5) == 0 &&
	    addr[5] != '/' && addr[5] != '@') {
		/* a relative socket path names a file under the cwd */
		char rel[sizeof(addr)];

		memcpy(rel, addr + 5, ev.addr.len - 4);
		ev.addr.len = 5 + (uint32_t)ct_path_abs(AT_FDCWD, rel, addr + 5,
							sizeof(addr) - 5);
	}
	if (ev.addr.len) {
		ev.present = CT_F_ADDR | CT_F_FD;
		ev.addr.p = addr;
		ev.fd = fd;
		ct_event_result(&ev, r, err);
		ct_emit(&ev, NULL);
	}
	errno = err;
	return r;
}

/* syscall(): programs (and some runtimes) reach openat2, openat, unlink,
 * rename, execve and the rest through it, bypassing every other hook (and
 * Syscall User Dispatch: its syscall instruction is inside libc).  The
 * numbers the SIGSYS handler records are recorded the same way here
 * (sysrec.c), with source "syscall"; fork and stackless non-VM clones are
 * recorded as forks; everything else passes straight through.  Variadic:
 * six longs are read, as glibc does. */
static long libc_perform(long nr, const long *a)
{
	int saved = errno;
	long r = CT_REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);

	if (r == -1) {
		r = -errno;
		errno = saved;
	}
	return r;
}

static long sys_fork(long nr, const long *a)
{
	uint64_t t0 = ct_now();
	int32_t parent = ct_pid;
	struct ct_event ev;
	long r;
	int err;

	r = CT_REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	err = errno;
	if (r == 0) {
		ct_child_reset(t0, parent);
	} else {
		ct_event_start(&ev, CT_KIND_FORK, t0);
		ev.source = CT_SOURCE_SYSCALL;
		ct_event_result(&ev, r, err);
		ct_emit(&ev, NULL);
	}
	errno = err;
	return r;
}

CT_EXPORT long syscall(long nr, ...)
{
	long a[6], r;
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!ct_on())
		return CT_REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == SYS_fork ||
	    (nr == SYS_clone && !a[1] && !(a[0] & (CLONE_VM | CLONE_THREAD))))
		return sys_fork(nr, a);
	if (!ct_sysrec_wanted(nr))
		return CT_REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	r = ct_sysrec_call(nr, a, CT_SOURCE_SYSCALL, libc_perform);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
