/* Below a static binary: the shim's calls pass ctrace's seccomp filter.
 *
 * The filter installed before the exec of a static binary (common/static.c)
 * is inherited by everything below it, shim-loaded programs included, and
 * cannot be removed.  It stops each target syscall and the supervisor
 * passes it on unrecorded when the caller has the shim (the shim records
 * it), but the round trip costs ~4 µs a call.  The filter lets a target
 * syscall through in BPF when its sixth argument, unused by every one of
 * them, is CT_STATIC_PASS.
 *
 * So in a process under a seccomp filter (PR_GET_SECCOMP: 2) the real
 * functions of the libc wrappers that are one syscall are replaced by
 * these, which issue that same syscall (as glibc 2.36 does, number and
 * arguments; strace shows no difference) through libc's syscall() with
 * CT_STATIC_PASS as the sixth argument.  The hooks call them through
 * CT_REAL as before.  What libc does inside other functions (fopen,
 * opendir, mkstemp, the exec family's search) still goes through the
 * supervisor (docs/static.md, "Not counted twice, and who pays").  Under
 * any other filter the sixth argument is ignored like before.
 *
 * Through syscall(), not the shim's raw gadget: the opens and connect are
 * cancellation points, done as glibc does (asynchronous cancellation
 * around the call in a multi-threaded process), and a cancellation
 * unwinds from inside the call, which needs syscall()'s unwind table.
 */
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>

#include "common/static.h"
#include "preload/shim.h"
#include "preload/sys.h"

bool ct_gated;

/* libc's own, for what the gates hand back to it */
static struct {
	__typeof__(__open_2) *open_2, *open64_2;
	__typeof__(__openat_2) *openat_2, *openat64_2;
	__typeof__(fchmodat) *fchmodat;
} s_libc;

static long pass(long nr, long a, long b, long c, long d, long e)
{
	return CT_REAL(syscall)(nr, a, b, c, d, e, (long)CT_STATIC_PASS);
}

/* glibc's SYSCALL_CANCEL */
static long pass_cancel(long nr, long a, long b, long c, long d)
{
	int old;
	long r;

	if (__libc_single_threaded)
		return pass(nr, a, b, c, d, 0);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
	r = pass(nr, a, b, c, d, 0);
	pthread_setcanceltype(old, NULL);
	return r;
}

static int g_open(const char *path, int flags, ...)
{
	return (int)pass_cancel(SYS_openat, AT_FDCWD, (long)path, flags,
				CT_OPEN_MODE(flags));
}

static int g_openat(int dfd, const char *path, int flags, ...)
{
	return (int)pass_cancel(SYS_openat, dfd, (long)path, flags,
				CT_OPEN_MODE(flags));
}

/* _FORTIFY_SOURCE's: libc's own fails the process on a missing mode */
static int g_open_2(const char *path, int flags)
{
	if (__OPEN_NEEDS_MODE(flags))
		return s_libc.open_2(path, flags);
	return g_open(path, flags);
}

static int g_open64_2(const char *path, int flags)
{
	if (__OPEN_NEEDS_MODE(flags))
		return s_libc.open64_2(path, flags);
	return g_open(path, flags);
}

static int g_openat_2(int dfd, const char *path, int flags)
{
	if (__OPEN_NEEDS_MODE(flags))
		return s_libc.openat_2(dfd, path, flags);
	return g_openat(dfd, path, flags);
}

static int g_openat64_2(int dfd, const char *path, int flags)
{
	if (__OPEN_NEEDS_MODE(flags))
		return s_libc.openat64_2(dfd, path, flags);
	return g_openat(dfd, path, flags);
}

static int g_creat(const char *path, mode_t mode)
{
	return (int)pass_cancel(SYS_creat, (long)path, mode, 0, 0);
}

static int g_truncate(const char *path, off_t len)
{
	return (int)pass(SYS_truncate, (long)path, len, 0, 0, 0);
}

static int g_unlink(const char *path)
{
	return (int)pass(SYS_unlink, (long)path, 0, 0, 0, 0);
}

static int g_unlinkat(int dfd, const char *path, int flags)
{
	return (int)pass(SYS_unlinkat, dfd, (long)path, flags, 0, 0);
}

static int g_rmdir(const char *path)
{
	return (int)pass(SYS_rmdir, (long)path, 0, 0, 0, 0);
}

static int g_rename(const char *old, const char *new)
{
	return (int)pass(SYS_rename, (long)old, (long)new, 0, 0, 0);
}

static int g_renameat(int ofd, const char *old, int nfd, const char *new)
{
	return (int)pass(SYS_renameat, ofd, (long)old, nfd, (long)new, 0);
}

/* glibc 2.36 built for kernels without renameat2: renameat for no flags,
 * and EINVAL where the kernel has no renameat2 */
static int g_renameat2(int ofd, const char *old, int nfd, const char *new,
		       unsigned flags)
{
	long r;

	if (flags == 0)
		return g_renameat(ofd, old, nfd, new);
	r = pass(SYS_renameat2, ofd, (long)old, nfd, (long)new, flags);
	if (r != 0 && errno == ENOSYS) {
		errno = EINVAL;
		return -1;
	}
	return (int)r;
}

static int g_link(const char *old, const char *new)
{
	return (int)pass(SYS_link, (long)old, (long)new, 0, 0, 0);
}

static int g_linkat(int ofd, const char *old, int nfd, const char *new,
		    int flags)
{
	return (int)pass(SYS_linkat, ofd, (long)old, nfd, (long)new, flags);
}

static int g_symlink(const char *target, const char *path)
{
	return (int)pass(SYS_symlink, (long)target, (long)path, 0, 0, 0);
}

static int g_symlinkat(const char *target, int dfd, const char *path)
{
	return (int)pass(SYS_symlinkat, (long)target, dfd, (long)path, 0, 0);
}

static int g_mkdir(const char *path, mode_t mode)
{
	return (int)pass(SYS_mkdir, (long)path, mode, 0, 0, 0);
}

static int g_mkdirat(int dfd, const char *path, mode_t mode)
{
	return (int)pass(SYS_mkdirat, dfd, (long)path, mode, 0, 0);
}

static int g_chmod(const char *path, mode_t mode)
{
	return (int)pass(SYS_chmod, (long)path, mode, 0, 0, 0);
}

/* with AT_SYMLINK_NOFOLLOW glibc 2.36 goes through an O_PATH descriptor
 * and /proc: left to libc */
static int g_fchmodat(int dfd, const char *path, mode_t mode, int flags)
{
	if (flags != 0)
		return s_libc.fchmodat(dfd, path, mode, flags);
	return (int)pass(SYS_fchmodat, dfd, (long)path, mode, 0, 0);
}

static int g_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (int)pass_cancel(SYS_connect, fd, (long)sa, len, 0);
}

/* What libc does inside fopen, mkstemp, tmpfile and the exec family still
 * stops at the filter, and a signal that lands before the supervisor has
 * received the call fails it with EINTR (docs/static.md, "Signals"); a
 * process with the shim is not traced for that.  None of these fails with
 * EINTR bare unless it opens a FIFO or a character device, which can
 * sleep once running: for everything else, the hooks call again. */
bool ct_gate_again(const char *path)
{
	struct stat st;

	if (!ct_gated || errno != EINTR)
		return false;
	return !path || ct_sys_fstatat(AT_FDCWD, path, &st, 0) != 0 ||
	       !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode));
}

void ct_gate_init(void)
{
	/* once: a second pass would take the gates for libc's own */
	if (ct_gated)
		return;
	/* 2: a filter; 1 (strict) cannot reach a constructor */
	if (ct_sys6(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0, 0) != 2 ||
	    !CT_REAL(syscall) || !CT_REAL(__open_2) || !CT_REAL(__open64_2) ||
	    !CT_REAL(__openat_2) || !CT_REAL(__openat64_2) ||
	    !CT_REAL(fchmodat))
		return;
	s_libc.open_2 = ct_real.__open_2;
	s_libc.open64_2 = ct_real.__open64_2;
	s_libc.openat_2 = ct_real.__openat_2;
	s_libc.openat64_2 = ct_real.__openat64_2;
	s_libc.fchmodat = ct_real.fchmodat;
	ct_real.open = g_open;
	ct_real.open64 = g_open;
	ct_real.openat = g_openat;
	ct_real.openat64 = g_openat;
	ct_real.__open_2 = g_open_2;
	ct_real.__open64_2 = g_open64_2;
	ct_real.__openat_2 = g_openat_2;
	ct_real.__openat64_2 = g_openat64_2;
	ct_real.creat = g_creat;
	ct_real.creat64 = g_creat;
	ct_real.truncate = g_truncate;
	ct_real.truncate64 = g_truncate;
	ct_real.unlink = g_unlink;
	ct_real.unlinkat = g_unlinkat;
	ct_real.rmdir = g_rmdir;
	ct_real.rename = g_rename;
	ct_real.renameat = g_renameat;
	ct_real.renameat2 = g_renameat2;
	ct_real.link = g_link;
	ct_real.linkat = g_linkat;
	ct_real.symlink = g_symlink;
	ct_real.symlinkat = g_symlinkat;
	ct_real.mkdir = g_mkdir;
	ct_real.mkdirat = g_mkdirat;
	ct_real.chmod = g_chmod;
	ct_real.fchmodat = g_fchmodat;
	ct_real.connect = g_connect;
	ct_gated = true;
}
