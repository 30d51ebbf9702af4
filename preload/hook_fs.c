/* File-system hooks: open family, namespace changes, chdir.
 *
 * Each hook: if not recording, call the real function and return.  Else
 * note the time (and for clobbering opens whether the target existed),
 * call the real function, record, and hand back the real call's errno.
 */
#include <stdarg.h>
#include <string.h>

#include "preload/shim.h"
#include "preload/sys.h"

int ct_exists(int dfd, const char *path, bool nofollow)
{
	struct stat st;

	if (!path)
		return 0;
	if (nofollow)
		return ct_sys_fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
	return ct_sys_faccessat(dfd, path, F_OK) == 0;
}

/* The absolute path of path relative to dfd: the caller's string itself
 * when it is already absolute and normal (most are), else normalised into
 * buf (CT_PATH_MAX bytes).  Either way NUL terminated at len. */
static struct ct_bytes fs_path(int dfd, const char *path, char *buf)
{
	struct ct_bytes b;
	size_t n = ct_path_plain(path, CT_PATH_MAX);

	if (n) {
		b.p = path;
	} else {
		n = ct_path_abs(dfd, path, buf, CT_PATH_MAX);
		b.p = buf;
	}
	b.len = (uint32_t)n;
	return b;
}

void ct_fs_record(const struct ct_fsrec *fr, long r, int err,
		  const struct ct_self *self)
{
	struct ct_event ev;
	char p1[CT_PATH_MAX], p2[CT_PATH_MAX];

	/* Not ct_event_start: clearing the whole struct was a fifth of the
	 * record's cost; every optional field whose bit is set below is
	 * also set (ct_event_head()). */
	ct_event_head(&ev, fr->kind, fr->ts);
	if (fr->source)
		ev.source = (uint8_t)fr->source;
	ev.present = fr->present;
	ev.flags = fr->flags;
	ev.mode = fr->mode;
	ev.fd = fr->fd;
	if (fr->path2) {
		ev.present |= CT_F_PATH2;
		ev.path2 = fs_path(fr->dfd2, fr->path2, p2);
	}
	if (fr->path && fr->link_target && fr->path[0] != '/' && fr->path2 &&
	    ev.path2.p[0] == '/') {
		/* a relative symlink points from the link's directory */
		size_t n = ev.path2.len;

		memcpy(p1, ev.path2.p, n + 1);
		while (n > 1 && p1[n - 1] != '/')
			n--;
		ev.present |= CT_F_PATH;
		ev.path.len = (uint32_t)ct_path_push(p1, n > 1 ? n - 1 : 1,
						     sizeof(p1), fr->path);
		ev.path.p = p1;
	} else if (fr->path) {
		ev.present |= CT_F_PATH;
		ev.path = fs_path(fr->dfd, fr->path, p1);
	}
	/* nothing to name (fchdir or "" on a bad dirfd): leave it out */
	if ((ev.present & CT_F_PATH) && ev.path.len == 0)
		ev.present &= ~(uint32_t)CT_F_PATH;
	if ((ev.present & CT_F_PATH2) && ev.path2.len == 0)
		ev.present &= ~(uint32_t)CT_F_PATH2;
	if (fr->existed >= 0) {
		ev.present |= CT_F_EXISTED;
		ev.existed = (uint8_t)fr->existed;
	}
	ct_event_result(&ev, r, err);
	ct_emit(&ev, self);
}

/* ---- open family ---- */

static void open_pre(struct ct_fsrec *fr, int dfd, const char *path, int flags,
		     unsigned mode)
{
	memset(fr, 0, sizeof(*fr));
	fr->kind = CT_KIND_OPEN;
	fr->ts = ct_now();
	fr->dfd = dfd;
	fr->path = path;
	fr->present = CT_F_FLAGS;
	fr->flags = (uint32_t)flags;
	if (__OPEN_NEEDS_MODE(flags)) {
		fr->present |= CT_F_MODE;
		fr->mode = mode;
	}
	fr->existed =
		ct_open_wants_existed(flags) ? ct_exists(dfd, path, false) : -1;
}

static int open_post(struct ct_fsrec *fr, long r)
{
	int err = errno;

	ct_fs_record(fr, r, err, NULL);
	errno = err;
	return (int)r;
}

#define DEF_OPEN(name)                                                   \
	CT_EXPORT int name(const char *path, int flags, ...)             \
	{                                                                \
		unsigned mode = CT_OPEN_MODE(flags);                     \
		struct ct_fsrec fr;                                      \
		if (!ct_on())                                            \
			return CT_REAL(name)(path, flags, mode);         \
		open_pre(&fr, AT_FDCWD, path, flags, mode);              \
		return open_post(&fr, CT_REAL(name)(path, flags, mode)); \
	}
DEF_OPEN(open)
DEF_OPEN(open64)

#define DEF_OPENAT(name)                                                      \
	CT_EXPORT int name(int dfd, const char *path, int flags, ...)         \
	{                                                                     \
		unsigned mode = CT_OPEN_MODE(flags);                          \
		struct ct_fsrec fr;                                           \
		if (!ct_on())                                                 \
			return CT_REAL(name)(dfd, path, flags, mode);         \
		open_pre(&fr, dfd, path, flags, mode);                        \
		return open_post(&fr, CT_REAL(name)(dfd, path, flags, mode)); \
	}
DEF_OPENAT(openat)
DEF_OPENAT(openat64)

#define DEF_OPEN2(name)                                            \
	CT_EXPORT int name(const char *path, int flags)            \
	{                                                          \
		struct ct_fsrec fr;                                \
		if (!ct_on())                                      \
			return CT_REAL(name)(path, flags);         \
		open_pre(&fr, AT_FDCWD, path, flags, 0);           \
		return open_post(&fr, CT_REAL(name)(path, flags)); \
	}
DEF_OPEN2(__open_2)
DEF_OPEN2(__open64_2)

#define DEF_OPENAT2(name)                                               \
	CT_EXPORT int name(int dfd, const char *path, int flags)        \
	{                                                               \
		struct ct_fsrec fr;                                     \
		if (!ct_on())                                           \
			return CT_REAL(name)(dfd, path, flags);         \
		open_pre(&fr, dfd, path, flags, 0);                     \
		return open_post(&fr, CT_REAL(name)(dfd, path, flags)); \
	}
DEF_OPENAT2(__openat_2)
DEF_OPENAT2(__openat64_2)

#define DEF_CREAT(name)                                                     \
	CT_EXPORT int name(const char *path, mode_t mode)                   \
	{                                                                   \
		struct ct_fsrec fr;                                         \
		if (!ct_on())                                               \
			return CT_REAL(name)(path, mode);                   \
		open_pre(&fr, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, \
			 mode);                                             \
		return open_post(&fr, CT_REAL(name)(path, mode));           \
	}
DEF_CREAT(creat)
DEF_CREAT(creat64)

static FILE *fopen_post(struct ct_fsrec *fr, FILE *f)
{
	int err = errno;

	ct_fs_record(fr, f ? fileno(f) : -1, err, NULL);
	errno = err;
	return f;
}

#define DEF_FOPEN(name)                                          \
	CT_EXPORT FILE *name(const char *path, const char *mode) \
	{                                                        \
		struct ct_fsrec fr;                              \
		int fl;                                          \
		if (!ct_on() || !path || !mode ||                \
		    (fl = ct_fopen_flags(mode)) < 0)             \
			return CT_REAL(name)(path, mode);        \
		open_pre(&fr, AT_FDCWD, path, fl, 0666);         \
		FILE *f_;                                        \
		while (!(f_ = CT_REAL(name)(path, mode)) &&      \
		       ct_gate_again(path))                      \
			;                                        \
		return fopen_post(&fr, f_);                      \
	}
DEF_FOPEN(fopen)
DEF_FOPEN(fopen64)

#define DEF_FREOPEN(name)                                                 \
	CT_EXPORT FILE *name(const char *path, const char *mode, FILE *f) \
	{                                                                 \
		struct ct_fsrec fr;                                       \
		int fl;                                                   \
		if (!ct_on() || !path || !mode ||                         \
		    (fl = ct_fopen_flags(mode)) < 0)                      \
			return CT_REAL(name)(path, mode, f);              \
		open_pre(&fr, AT_FDCWD, path, fl, 0666);                  \
		return fopen_post(&fr, CT_REAL(name)(path, mode, f));     \
	}
DEF_FREOPEN(freopen)
DEF_FREOPEN(freopen64)

/* mkstemp and friends fill in the template: record after the call. */
static int mkstemp_post(char *tmpl, int extra, int r)
{
	int err = errno;
	struct ct_fsrec fr;

	open_pre(&fr, AT_FDCWD, NULL, O_RDWR | O_CREAT | O_EXCL | extra, 0600);
	fr.path = tmpl;
	fr.existed = -1;
	ct_fs_record(&fr, r, err, NULL);
	errno = err;
	return r;
}

#define DEF_MKSTEMP(name)                                      \
	CT_EXPORT int name(char *tmpl)                         \
	{                                                      \
		int r = CT_REAL(name)(tmpl);                   \
		return ct_on() ? mkstemp_post(tmpl, 0, r) : r; \
	}
DEF_MKSTEMP(mkstemp)
DEF_MKSTEMP(mkstemp64)

#define DEF_MKOSTEMP(name)                                         \
	CT_EXPORT int name(char *tmpl, int flags)                  \
	{                                                          \
		int r = CT_REAL(name)(tmpl, flags);                \
		return ct_on() ? mkstemp_post(tmpl, flags, r) : r; \
	}
DEF_MKOSTEMP(mkostemp)
DEF_MKOSTEMP(mkostemp64)

#define DEF_MKSTEMPS(name)                                     \
	CT_EXPORT int name(char *tmpl, int suffixlen)          \
	{                                                      \
		int r = CT_REAL(name)(tmpl, suffixlen);        \
		return ct_on() ? mkstemp_post(tmpl, 0, r) : r; \
	}
DEF_MKSTEMPS(mkstemps)
DEF_MKSTEMPS(mkstemps64)

#define DEF_MKOSTEMPS(name)                                        \
	CT_EXPORT int name(char *tmpl, int suffixlen, int flags)   \
	{                                                          \
		int r = CT_REAL(name)(tmpl, suffixlen, flags);     \
		return ct_on() ? mkstemp_post(tmpl, flags, r) : r; \
	}
DEF_MKOSTEMPS(mkostemps)
DEF_MKOSTEMPS(mkostemps64)

/* glibc's tmpfile opens an O_TMPFILE in /tmp (P_tmpdir). */
#define DEF_TMPFILE(name)                                                      \
	CT_EXPORT FILE *name(void)                                             \
	{                                                                      \
		struct ct_fsrec fr;                                            \
		if (!ct_on())                                                  \
			return CT_REAL(name)();                                \
		open_pre(&fr, AT_FDCWD, P_tmpdir, O_RDWR | O_EXCL | O_TMPFILE, \
			 0600);                                                \
		fr.existed = -1;                                               \
		return fopen_post(&fr, CT_REAL(name)());                       \
	}
DEF_TMPFILE(tmpfile)
DEF_TMPFILE(tmpfile64)

/* ---- single-path calls ---- */

static void fs_init(struct ct_fsrec *fr, unsigned kind, int dfd,
		    const char *path)
{
	memset(fr, 0, sizeof(*fr));
	fr->kind = kind;
	fr->ts = ct_now();
	fr->dfd = dfd;
	fr->path = path;
	fr->dfd2 = AT_FDCWD;
	fr->existed = -1;
}

static long fs_post(struct ct_fsrec *fr, long r)
{
	int err = errno;

	ct_fs_record(fr, r, err, NULL);
	errno = err;
	return r;
}

#define DEF_TRUNCATE(name)                                          \
	CT_EXPORT int name(const char *path, off_t len)             \
	{                                                           \
		struct ct_fsrec fr;                                 \
		if (!ct_on())                                       \
			return CT_REAL(name)(path, len);            \
		fs_init(&fr, CT_KIND_TRUNCATE, AT_FDCWD, path);     \
		return (int)fs_post(&fr, CT_REAL(name)(path, len)); \
	}
DEF_TRUNCATE(truncate)
DEF_TRUNCATE(truncate64)

CT_EXPORT int unlink(const char *path)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(unlink)(path);
	fs_init(&fr, CT_KIND_UNLINK, AT_FDCWD, path);
	return (int)fs_post(&fr, CT_REAL(unlink)(path));
}

CT_EXPORT int unlinkat(int dfd, const char *path, int flags)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(unlinkat)(dfd, path, flags);
	fs_init(&fr, (flags & AT_REMOVEDIR) ? CT_KIND_RMDIR : CT_KIND_UNLINK,
		dfd, path);
	fr.present = CT_F_FLAGS;
	fr.flags = (uint32_t)flags;
	return (int)fs_post(&fr, CT_REAL(unlinkat)(dfd, path, flags));
}

CT_EXPORT int rmdir(const char *path)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(rmdir)(path);
	fs_init(&fr, CT_KIND_RMDIR, AT_FDCWD, path);
	return (int)fs_post(&fr, CT_REAL(rmdir)(path));
}

/* glibc 2.36 remove(): unlink, and on EISDIR rmdir.  Done here with the
 * same two calls so the record says which one removed the path. */
CT_EXPORT int remove(const char *path)
{
	struct ct_fsrec fr;
	int r;

	if (!ct_on())
		return CT_REAL(remove)(path);
	fs_init(&fr, CT_KIND_UNLINK, AT_FDCWD, path);
	r = CT_REAL(unlink)(path);
	if (r != 0 && errno == EISDIR) {
		fs_init(&fr, CT_KIND_RMDIR, AT_FDCWD, path);
		r = CT_REAL(rmdir)(path);
	}
	return (int)fs_post(&fr, r);
}

static void rename_init(struct ct_fsrec *fr, int od, const char *op, int nd,
			const char *np)
{
	fs_init(fr, CT_KIND_RENAME, od, op);
	fr->dfd2 = nd;
	fr->path2 = np;
	fr->existed = ct_exists(nd, np, true);
}

CT_EXPORT int rename(const char *op, const char *np)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(rename)(op, np);
	rename_init(&fr, AT_FDCWD, op, AT_FDCWD, np);
	return (int)fs_post(&fr, CT_REAL(rename)(op, np));
}

CT_EXPORT int renameat(int od, const char *op, int nd, const char *np)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(renameat)(od, op, nd, np);
	rename_init(&fr, od, op, nd, np);
	return (int)fs_post(&fr, CT_REAL(renameat)(od, op, nd, np));
}

CT_EXPORT int renameat2(int od, const char *op, int nd, const char *np,
			unsigned flags)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(renameat2)(od, op, nd, np, flags);
	rename_init(&fr, od, op, nd, np);
	fr.present = CT_F_FLAGS;
	fr.flags = flags;
	return (int)fs_post(&fr, CT_REAL(renameat2)(od, op, nd, np, flags));
}

CT_EXPORT int link(const char *op, const char *np)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(link)(op, np);
	fs_init(&fr, CT_KIND_LINK, AT_FDCWD, op);
	fr.path2 = np;
	return (int)fs_post(&fr, CT_REAL(link)(op, np));
}

CT_EXPORT int linkat(int od, const char *op, int nd, const char *np, int flags)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(linkat)(od, op, nd, np, flags);
	fs_init(&fr, CT_KIND_LINK, od, op);
	fr.dfd2 = nd;
	fr.path2 = np;
	fr.present = CT_F_FLAGS;
	fr.flags = (uint32_t)flags;
	return (int)fs_post(&fr, CT_REAL(linkat)(od, op, nd, np, flags));
}

/* symlink: path = what the link points to (made absolute from the link's
 * directory), path2 = the link created. */
CT_EXPORT int symlink(const char *target, const char *lp)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(symlink)(target, lp);
	fs_init(&fr, CT_KIND_SYMLINK, AT_FDCWD, target);
	fr.path2 = lp;
	fr.link_target = true;
	return (int)fs_post(&fr, CT_REAL(symlink)(target, lp));
}

CT_EXPORT int symlinkat(const char *target, int nd, const char *lp)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(symlinkat)(target, nd, lp);
	fs_init(&fr, CT_KIND_SYMLINK, AT_FDCWD, target);
	fr.dfd2 = nd;
	fr.path2 = lp;
	fr.link_target = true;
	return (int)fs_post(&fr, CT_REAL(symlinkat)(target, nd, lp));
}

CT_EXPORT int mkdir(const char *path, mode_t mode)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(mkdir)(path, mode);
	fs_init(&fr, CT_KIND_MKDIR, AT_FDCWD, path);
	fr.present = CT_F_MODE;
	fr.mode = mode;
	return (int)fs_post(&fr, CT_REAL(mkdir)(path, mode));
}

CT_EXPORT int mkdirat(int dfd, const char *path, mode_t mode)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(mkdirat)(dfd, path, mode);
	fs_init(&fr, CT_KIND_MKDIR, dfd, path);
	fr.present = CT_F_MODE;
	fr.mode = mode;
	return (int)fs_post(&fr, CT_REAL(mkdirat)(dfd, path, mode));
}

CT_EXPORT int chmod(const char *path, mode_t mode)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(chmod)(path, mode);
	fs_init(&fr, CT_KIND_CHMOD, AT_FDCWD, path);
	fr.present = CT_F_MODE;
	fr.mode = mode;
	return (int)fs_post(&fr, CT_REAL(chmod)(path, mode));
}

CT_EXPORT int fchmodat(int dfd, const char *path, mode_t mode, int flags)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(fchmodat)(dfd, path, mode, flags);
	fs_init(&fr, CT_KIND_CHMOD, dfd, path);
	fr.present = CT_F_MODE | CT_F_FLAGS;
	fr.mode = mode;
	fr.flags = (uint32_t)flags;
	return (int)fs_post(&fr, CT_REAL(fchmodat)(dfd, path, mode, flags));
}

/* chdir: after success, refresh the cwd cache from the kernel (exact even
 * through symlinks and ".."), then record the new cwd.  In a vfork child
 * the cache is the parent's: leave it alone and record the path given. */
static int chdir_post(struct ct_fsrec *fr, int r)
{
	int err = errno;
	struct ct_self self;
	char cwd[CT_PATH_MAX];

	ct_self_checked(&self);
	if (r == 0 && !self.vfork) {
		ct_cwd_refresh();
		if (ct_cwd_copy(cwd, sizeof(cwd))) {
			fr->path = cwd;
			fr->dfd = AT_FDCWD;
		}
	}
	ct_fs_record(fr, r, err, &self);
	errno = err;
	return r;
}

CT_EXPORT int chdir(const char *path)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(chdir)(path);
	fs_init(&fr, CT_KIND_CHDIR, AT_FDCWD, path);
	return chdir_post(&fr, CT_REAL(chdir)(path));
}

CT_EXPORT int fchdir(int fd)
{
	struct ct_fsrec fr;

	if (!ct_on())
		return CT_REAL(fchdir)(fd);
	fs_init(&fr, CT_KIND_CHDIR, fd, "");
	fr.present = CT_F_FD;
	fr.fd = fd;
	return chdir_post(&fr, CT_REAL(fchdir)(fd));
}
