/* connect() and the generic syscall() entry.
 */
#include <linux/openat2.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>

#include "preload/shim.h"
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
 * rename and execve through it, bypassing every other hook.  Those numbers
 * are recorded like their libc counterparts (source "syscall"); all others
 * pass straight through.  Variadic: six longs are read, as glibc does. */
static long sys_fs(long nr, const long *a, long (*real)(long, ...))
{
	struct ct_fsrec fr;
	long r;
	int err;

	memset(&fr, 0, sizeof(fr));
	fr.source = CT_SOURCE_SYSCALL;
	fr.ts = ct_now();
	fr.dfd = fr.dfd2 = AT_FDCWD;
	fr.existed = -1;
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
		fr.kind = CT_KIND_OPEN;
		fr.path = (const char *)a[0];
		fr.flags = (uint32_t)a[1];
		fr.mode = (uint32_t)a[2];
		break;
#endif
#ifdef SYS_creat
	case SYS_creat:
		fr.kind = CT_KIND_OPEN;
		fr.path = (const char *)a[0];
		fr.flags = O_CREAT | O_WRONLY | O_TRUNC;
		fr.mode = (uint32_t)a[1];
		break;
#endif
	case SYS_openat:
		fr.kind = CT_KIND_OPEN;
		fr.dfd = (int)a[0];
		fr.path = (const char *)a[1];
		fr.flags = (uint32_t)a[2];
		fr.mode = (uint32_t)a[3];
		break;
#ifdef SYS_openat2
	case SYS_openat2: {
		const struct open_how *how = (const void *)a[2];

		fr.kind = CT_KIND_OPEN;
		fr.dfd = (int)a[0];
		fr.path = (const char *)a[1];
		if (how && (size_t)a[3] >= sizeof(uint64_t) * 2) {
			fr.flags = (uint32_t)how->flags;
			fr.mode = (uint32_t)how->mode;
		}
		break;
	}
#endif
#ifdef SYS_unlink
	case SYS_unlink:
		fr.kind = CT_KIND_UNLINK;
		fr.path = (const char *)a[0];
		break;
#endif
#ifdef SYS_rmdir
	case SYS_rmdir:
		fr.kind = CT_KIND_RMDIR;
		fr.path = (const char *)a[0];
		break;
#endif
	case SYS_unlinkat:
		fr.kind =
			(a[2] & AT_REMOVEDIR) ? CT_KIND_RMDIR : CT_KIND_UNLINK;
		fr.dfd = (int)a[0];
		fr.path = (const char *)a[1];
		break;
#ifdef SYS_rename
	case SYS_rename:
		fr.kind = CT_KIND_RENAME;
		fr.path = (const char *)a[0];
		fr.path2 = (const char *)a[1];
		break;
#endif
#ifdef SYS_renameat
	case SYS_renameat:
#endif
	case SYS_renameat2:
		fr.kind = CT_KIND_RENAME;
		fr.dfd = (int)a[0];
		fr.path = (const char *)a[1];
		fr.dfd2 = (int)a[2];
		fr.path2 = (const char *)a[3];
		break;
	default:
		return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	if (fr.kind == CT_KIND_OPEN) {
		fr.present = CT_F_FLAGS;
		if (__OPEN_NEEDS_MODE((int)fr.flags))
			fr.present |= CT_F_MODE;
		if (ct_open_wants_existed((int)fr.flags))
			fr.existed = ct_exists(fr.dfd, fr.path, false);
	} else if (fr.kind == CT_KIND_RENAME) {
		fr.existed = ct_exists(fr.dfd2, fr.path2, true);
	}
	r = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	err = errno;
	ct_fs_record(&fr, r, err, NULL);
	errno = err;
	return r;
}

static long sys_exec(long nr, const long *a, long (*real)(long, ...))
{
	int saved = errno;
	bool at = nr == SYS_execveat;
	int dfd = at ? (int)a[0] : AT_FDCWD;
	const char *path = (const char *)a[at ? 1 : 0];
	char *const *argv = (char *const *)a[at ? 2 : 1];
	char *const *envp = (char *const *)a[at ? 3 : 2];
	enum ct_exec_how how = CT_EXEC_PATH;
	struct ct_exec x;
	long r;
	int err;

	if (at && (a[4] & AT_EMPTY_PATH) && path && !*path)
		how = CT_EXEC_FD;
	ct_exec_begin(&x, CT_KIND_EXEC, how, dfd, path, argv);
	CT_ENVP_ON_STACK(env, envp, x.proc_kv);
	errno = saved;
	if (at)
		r = real(nr, a[0], a[1], a[2], (long)env, a[4]);
	else
		r = real(nr, a[0], a[1], (long)env);
	err = errno;
	ct_exec_done(&x, CT_KIND_EXEC, r, err);
	errno = err;
	return r;
}

CT_EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!ct_on())
		return CT_REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == SYS_execve || nr == SYS_execveat)
		return sys_exec(nr, a, CT_REAL(syscall));
	return sys_fs(nr, a, CT_REAL(syscall));
}
