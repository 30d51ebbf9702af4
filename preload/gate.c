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
 * CT_REAL as before.  fopen, tmpfile and the mkstemp family, whose open
 * libc makes inside, are rebuilt from glibc's steps around a gated open
 * (below).  What libc does inside freopen, opendir and the exec family
 * still goes through the supervisor (docs/static.md, "Not counted twice,
 * and who pays").  Under any other filter the sixth argument is ignored
 * like before.
 *
 * Through syscall(), not the shim's raw gadget: the opens and connect are
 * cancellation points, done as glibc does (asynchronous cancellation
 * around the call in a multi-threaded process), and a cancellation
 * unwinds from inside the call, which needs syscall()'s unwind table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/static.h"
#include "preload/shim.h"
#include "preload/sys.h"

bool ct_gated;

/* libc's own, for what the gates hand back to it */
static struct {
	__typeof__(__open_2) *open_2, *open64_2;
	__typeof__(__openat_2) *openat_2, *openat64_2;
	__typeof__(fchmodat) *fchmodat;
	__typeof__(fopen) *fopen, *fopen64;
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

/* ---- stdio and temporary files ----
 * glibc's fopen, tmpfile and mkstemp family make their open inside libc,
 * where the gates above cannot reach.  Here they are made of the same
 * steps glibc 2.36 takes, with the open through the gate:
 *
 * - fopen (_IO_new_file_fopen): one open with the flags of the mode,
 *   mode 0666 when it creates; for "a" without "+", a seek to the end;
 *   then the FILE.  The FILE comes from fdopen, with the mode's r/w/a,
 *   "+" and "m", and the two _flags2 bits fopen keeps for a later
 *   freopen ("e", "m"): the same stream (file jumps, flags, no cached
 *   offset), at the cost of fdopen's fcntl(F_GETFL), the one call strace
 *   shows more.  Modes with "c" (no cancellation) or a ",ccs=" conversion are
 *   left to libc.  Out of memory for the FILE, glibc fails before the
 *   open; this fails after it and closes the descriptor.
 * - tmpfile (stdio-common/tmpfile.c): an O_TMPFILE open in P_tmpdir; if
 *   that fails, a tmpfXXXXXX file there, unlinked; then fdopen "w+b",
 *   exactly as glibc does.
 * - the mkstemp family (sysdeps/posix/tempname.c, __GT_FILE): the same
 *   algorithm, so the same kind of names, the same tries and errors;
 *   the names themselves are random in both. */
static __typeof__(fdopen) *s_fdopen;

/* libio.h's _IO_FLAGS2_MMAP and _IO_FLAGS2_CLOEXEC: fopen sets them for
 * "m" and "e", and freopen reads them (a freopen'ed stream of an "e" one
 * keeps FD_CLOEXEC); fdopen does not.  The values are glibc 2.36's. */
#define FLAGS2_MMAP 0x1
#define FLAGS2_CLOEXEC 0x40

/* The mode's open flags, fdopen's mode (r/w/a, "+", "m") and the _flags2
 * bits, or false for what libc must do itself.  glibc reads six
 * modifiers. */
static bool fopen_mode(const char *mode, int *flags, char fd_mode[4],
		       int *flags2, bool *seek_end)
{
	bool plus = false, mmap = false;
	int fl;

	if (!mode || (fl = ct_fopen_flags(mode)) < 0 || strchr(mode, ','))
		return false;
	for (int i = 1; i < 7 && mode[i]; i++) {
		if (mode[i] == 'c')
			return false;
		plus |= mode[i] == '+';
		mmap |= mode[i] == 'm';
	}
	*flags = fl;
	*flags2 = (mmap ? FLAGS2_MMAP : 0) |
		  (fl & O_CLOEXEC ? FLAGS2_CLOEXEC : 0);
	*seek_end = mode[0] == 'a' && !plus;
	fd_mode[0] = mode[0];
	fd_mode[1] = plus ? '+' : mmap ? 'm' : '\0';
	fd_mode[2] = plus && mmap ? 'm' : '\0';
	fd_mode[3] = '\0';
	return true;
}

/* fdopen, or close and fail keeping fdopen's errno */
static FILE *stream_of(int fd, const char *mode)
{
	FILE *f = s_fdopen(fd, mode);
	int e;

	if (!f) {
		e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

static FILE *fopen_gated(const char *path, const char *mode,
			 __typeof__(fopen) *libc)
{
	char m[4];
	bool seek_end;
	int fl, fl2, fd, e;
	FILE *f;

	if (!fopen_mode(mode, &fl, m, &fl2, &seek_end))
		return libc(path, mode);
	fd = (int)pass_cancel(SYS_openat, AT_FDCWD, (long)path, fl,
			      __OPEN_NEEDS_MODE(fl) ? 0666 : 0);
	if (fd < 0)
		return NULL;
	if (seek_end && lseek(fd, 0, SEEK_END) < 0 && errno != ESPIPE) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	f = stream_of(fd, m);
	if (f)
		f->_flags2 |= fl2;
	return f;
}

static FILE *g_fopen(const char *path, const char *mode)
{
	return fopen_gated(path, mode, s_libc.fopen);
}

static FILE *g_fopen64(const char *path, const char *mode)
{
	return fopen_gated(path, mode, s_libc.fopen64);
}

/* glibc's random_bits: the first value from a linear congruential step
 * over the clock, the next ones (a name taken, or a value that would
 * bias the digits) from getrandom */
static uint64_t random_bits(uint64_t var, bool use_getrandom)
{
	struct timespec ts;
	uint64_t r;

	if (use_getrandom &&
	    getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	var ^= (uint64_t)ts.tv_nsec;
	return 2862933555777941757ull * var + 3037000493ull;
}

/* glibc's __gen_tempname(tmpl, suffixlen, flags, __GT_FILE) */
static int gen_tempfile(char *tmpl, int suffixlen, int flags)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	/* 62^10 < 2^64: ten base-62 digits from each value below this */
	const uint64_t power = 839299365868340224ull,
		       unfair_min = UINT64_MAX - UINT64_MAX % power;
	int save = errno, vdigits = 0;
	uint64_t v = (uint64_t)(uintptr_t)&v / _Alignof(max_align_t);
	bool use_getrandom = false;
	size_t len = strlen(tmpl);
	char *xs;

	if (len < 6 + (size_t)suffixlen ||
	    strspn(tmpl + len - 6 - suffixlen, "X") < 6) {
		errno = EINVAL;
		return -1;
	}
	xs = tmpl + len - 6 - suffixlen;
	for (unsigned count = 0; count < TMP_MAX; count++) {
		int fd;

		for (int i = 0; i < 6; i++) {
			if (vdigits == 0) {
				do {
					v = random_bits(v, use_getrandom);
					use_getrandom = true;
				} while (unfair_min <= v);
				vdigits = 10;
			}
			xs[i] = letters[v % 62];
			v /= 62;
			vdigits--;
		}
		fd = (int)pass_cancel(
			SYS_openat, AT_FDCWD, (long)tmpl,
			(flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			errno = save;
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static int g_mkstemp(char *tmpl)
{
	return gen_tempfile(tmpl, 0, 0);
}

static int g_mkostemp(char *tmpl, int flags)
{
	return gen_tempfile(tmpl, 0, flags);
}

static int g_mkstemps(char *tmpl, int suffixlen)
{
	if (suffixlen < 0) {
		errno = EINVAL;
		return -1;
	}
	return gen_tempfile(tmpl, suffixlen, 0);
}

static int g_mkostemps(char *tmpl, int suffixlen, int flags)
{
	if (suffixlen < 0) {
		errno = EINVAL;
		return -1;
	}
	return gen_tempfile(tmpl, suffixlen, flags);
}

static FILE *g_tmpfile(void)
{
	char tmpl[] = P_tmpdir "/tmpfXXXXXX";
	struct stat st;
	int fd;

	fd = (int)pass_cancel(SYS_openat, AT_FDCWD, (long)P_tmpdir,
			      O_RDWR | O_TMPFILE | O_EXCL, 0600);
	if (fd < 0) {
		/* __path_search(buf, FILENAME_MAX, NULL, "tmpf", 0) */
		if (stat(P_tmpdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			errno = ENOENT;
			return NULL;
		}
		fd = gen_tempfile(tmpl, 0, 0);
		if (fd < 0)
			return NULL;
		(void)g_unlink(tmpl);
	}
	return stream_of(fd, "w+b");
}

/* What libc does inside freopen, opendir, the exec family and fopen of a
 * "c" or ",ccs=" mode still stops at the filter, and a signal that lands
 * before the supervisor has received the call fails it with EINTR
 * (docs/static.md, "Signals"); a process with the shim is not traced for
 * that.  None of these fails with EINTR bare unless it opens a FIFO or a
 * character device, which can sleep once running: for everything else,
 * the hooks of fopen and the exec family call again. */
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
	    !CT_REAL(fchmodat) || !CT_REAL(fopen) || !CT_REAL(fopen64) ||
	    !ct_real_resolve("fdopen", (void **)&s_fdopen))
		return;
	s_libc.open_2 = ct_real.__open_2;
	s_libc.open64_2 = ct_real.__open64_2;
	s_libc.openat_2 = ct_real.__openat_2;
	s_libc.openat64_2 = ct_real.__openat64_2;
	s_libc.fchmodat = ct_real.fchmodat;
	s_libc.fopen = ct_real.fopen;
	s_libc.fopen64 = ct_real.fopen64;
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
	ct_real.fopen = g_fopen;
	ct_real.fopen64 = g_fopen64;
	ct_real.tmpfile = g_tmpfile;
	ct_real.tmpfile64 = g_tmpfile;
	ct_real.mkstemp = g_mkstemp;
	ct_real.mkstemp64 = g_mkstemp;
	ct_real.mkostemp = g_mkostemp;
	ct_real.mkostemp64 = g_mkostemp;
	ct_real.mkstemps = g_mkstemps;
	ct_real.mkstemps64 = g_mkstemps;
	ct_real.mkostemps = g_mkostemps;
	ct_real.mkostemps64 = g_mkostemps;
	ct_gated = true;
}
