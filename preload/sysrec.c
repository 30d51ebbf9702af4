/* Raw syscall numbers as events: shared by the syscall() hook (source
 * "syscall") and the SIGSYS handler of Syscall User Dispatch (source
 * "sud"), so both record a call exactly as the libc hooks would record its
 * libc counterpart.  The caller says how to perform the call; nothing here
 * may issue the target syscall itself.
 */
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>

#include "common/static.h"
#include "preload/sud.h"
#include "preload/sys.h"

/* Fill fr for a file-system target; false when nr is not one. */
static bool fs_decode(long nr, const long *a, struct ct_fsrec *fr)
{
	memset(fr, 0, sizeof(*fr));
	fr->dfd = fr->dfd2 = AT_FDCWD;
	fr->existed = -1;
	switch (nr) {
	case SYS_open:
		fr->kind = CT_KIND_OPEN;
		fr->path = (const char *)a[0];
		fr->flags = (uint32_t)a[1];
		fr->mode = (uint32_t)a[2];
		break;
	case SYS_creat:
		fr->kind = CT_KIND_OPEN;
		fr->path = (const char *)a[0];
		fr->flags = O_CREAT | O_WRONLY | O_TRUNC;
		fr->mode = (uint32_t)a[1];
		break;
	case SYS_openat:
		fr->kind = CT_KIND_OPEN;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		fr->flags = (uint32_t)a[2];
		fr->mode = (uint32_t)a[3];
		break;
	case SYS_openat2: {
		/* the kernel copies how; a bad pointer fails the call with
		 * EFAULT, so only a plausible size is read here */
		const struct open_how *how = (const void *)a[2];

		fr->kind = CT_KIND_OPEN;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		if (how && (size_t)a[3] >= sizeof(uint64_t) * 2) {
			fr->flags = (uint32_t)how->flags;
			fr->mode = (uint32_t)how->mode;
		}
		break;
	}
	case SYS_truncate:
		fr->kind = CT_KIND_TRUNCATE;
		fr->path = (const char *)a[0];
		break;
	case SYS_unlink:
		fr->kind = CT_KIND_UNLINK;
		fr->path = (const char *)a[0];
		break;
	case SYS_rmdir:
		fr->kind = CT_KIND_RMDIR;
		fr->path = (const char *)a[0];
		break;
	case SYS_unlinkat:
		fr->kind =
			(a[2] & AT_REMOVEDIR) ? CT_KIND_RMDIR : CT_KIND_UNLINK;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		fr->present = CT_F_FLAGS;
		fr->flags = (uint32_t)a[2];
		break;
	case SYS_rename:
		fr->kind = CT_KIND_RENAME;
		fr->path = (const char *)a[0];
		fr->path2 = (const char *)a[1];
		break;
	case SYS_renameat:
	case SYS_renameat2:
		fr->kind = CT_KIND_RENAME;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		fr->dfd2 = (int)a[2];
		fr->path2 = (const char *)a[3];
		if (nr == SYS_renameat2) {
			fr->present = CT_F_FLAGS;
			fr->flags = (uint32_t)a[4];
		}
		break;
	case SYS_link:
		fr->kind = CT_KIND_LINK;
		fr->path = (const char *)a[0];
		fr->path2 = (const char *)a[1];
		break;
	case SYS_linkat:
		fr->kind = CT_KIND_LINK;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		fr->dfd2 = (int)a[2];
		fr->path2 = (const char *)a[3];
		fr->present = CT_F_FLAGS;
		fr->flags = (uint32_t)a[4];
		break;
	case SYS_symlink:
		fr->kind = CT_KIND_SYMLINK;
		fr->path = (const char *)a[0];
		fr->path2 = (const char *)a[1];
		fr->link_target = true;
		break;
	case SYS_symlinkat:
		fr->kind = CT_KIND_SYMLINK;
		fr->path = (const char *)a[0];
		fr->dfd2 = (int)a[1];
		fr->path2 = (const char *)a[2];
		fr->link_target = true;
		break;
	case SYS_mkdir:
		fr->kind = CT_KIND_MKDIR;
		fr->path = (const char *)a[0];
		fr->present = CT_F_MODE;
		fr->mode = (uint32_t)a[1];
		break;
	case SYS_mkdirat:
		fr->kind = CT_KIND_MKDIR;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		fr->present = CT_F_MODE;
		fr->mode = (uint32_t)a[2];
		break;
	case SYS_chmod:
		fr->kind = CT_KIND_CHMOD;
		fr->path = (const char *)a[0];
		fr->present = CT_F_MODE;
		fr->mode = (uint32_t)a[1];
		break;
	case SYS_fchmodat:
	case SYS_fchmodat2:
		fr->kind = CT_KIND_CHMOD;
		fr->dfd = (int)a[0];
		fr->path = (const char *)a[1];
		fr->present = CT_F_MODE;
		fr->mode = (uint32_t)a[2];
		if (nr == SYS_fchmodat2) {
			fr->present |= CT_F_FLAGS;
			fr->flags = (uint32_t)a[3];
		}
		break;
	case SYS_chdir:
		fr->kind = CT_KIND_CHDIR;
		fr->path = (const char *)a[0];
		break;
	case SYS_fchdir:
		fr->kind = CT_KIND_CHDIR;
		fr->dfd = (int)a[0];
		fr->path = "";
		fr->present = CT_F_FD;
		fr->fd = (int)a[0];
		break;
	default:
		return false;
	}
	return true;
}

bool ct_sysrec_wanted(long nr)
{
	struct ct_fsrec fr;
	static const long a[6];

	switch (nr) {
	case SYS_execve:
	case SYS_execveat:
	case SYS_connect:
	case SYS_exit_group:
		return true;
	default:
		return fs_decode(nr, a, &fr);
	}
}

static long do_fs(struct ct_fsrec *fr, long nr, const long *a,
		  ct_sysrec_perform_fn perform)
{
	char cwd[CT_PATH_MAX];
	long r;

	fr->ts = ct_now();
	if (fr->kind == CT_KIND_OPEN) {
		fr->present |= CT_F_FLAGS;
		if (__OPEN_NEEDS_MODE((int)fr->flags))
			fr->present |= CT_F_MODE;
		if (ct_open_wants_existed((int)fr->flags))
			fr->existed = ct_exists(fr->dfd, fr->path, false);
	} else if (fr->kind == CT_KIND_RENAME) {
		fr->existed = ct_exists(fr->dfd2, fr->path2, true);
	}
	r = perform(nr, a);
	if (fr->kind == CT_KIND_CHDIR && r == 0) {
		/* as the chdir hooks: the kernel's cwd, exact */
		ct_cwd_refresh();
		if (ct_cwd_copy(cwd, sizeof(cwd))) {
			fr->path = cwd;
			fr->dfd = AT_FDCWD;
		}
	}
	ct_fs_record(fr, r, r < 0 ? (int)-r : 0, NULL);
	return r;
}

static long do_exec(long nr, const long *a, unsigned source,
		    ct_sysrec_perform_fn perform)
{
	bool at = nr == SYS_execveat;
	int dfd = at ? (int)a[0] : AT_FDCWD;
	const char *path = (const char *)a[at ? 1 : 0];
	char *const *argv = (char *const *)a[at ? 2 : 1];
	char *const *envp = (char *const *)a[at ? 3 : 2];
	enum ct_exec_how how = CT_EXEC_PATH;
	struct ct_exec x;
	long b[6];
	long r;

	if (at && (a[4] & AT_EMPTY_PATH) && path && !*path)
		how = CT_EXEC_FD;
	ct_exec_begin_src(&x, source, CT_KIND_EXEC, how, dfd, path, argv);
	CT_ENVP_ON_STACK(env, envp, x.proc_kv);
	memcpy(b, a, sizeof(b));
	b[at ? 3 : 2] = (long)env;
	r = perform(nr, b);
	ct_exec_done(&x, CT_KIND_EXEC, r, r < 0 ? (int)-r : 0);
	return r;
}

static long do_connect(const long *a, unsigned source,
		       ct_sysrec_perform_fn perform)
{
	const struct sockaddr *sa = (const struct sockaddr *)a[1];
	socklen_t len = (socklen_t)a[2];
	struct ct_event ev;
	char addr[128];
	uint64_t ts = ct_now();
	long r = perform(SYS_connect, a);

	ct_event_start(&ev, CT_KIND_CONNECT, ts);
	ev.source = (uint8_t)source;
	/* the kernel copied sa without a fault: it is readable */
	ev.addr.len = r == -EFAULT ? 0
				   : (uint32_t)ct_fmt_sockaddr(sa, len, addr,
							       sizeof(addr));
	if (ev.addr.len > 5 && memcmp(addr, "unix:", 5) == 0 &&
	    addr[5] != '/' && addr[5] != '@') {
		char rel[sizeof(addr)];

		memcpy(rel, addr + 5, ev.addr.len - 4);
		ev.addr.len = 5 + (uint32_t)ct_path_abs(AT_FDCWD, rel, addr + 5,
							sizeof(addr) - 5);
	}
	if (ev.addr.len) {
		ev.present = CT_F_ADDR | CT_F_FD;
		ev.addr.p = addr;
		ev.fd = (int32_t)a[0];
		ct_event_result(&ev, r, r < 0 ? (int)-r : 0);
		ct_emit(&ev, NULL);
	}
	return r;
}

/* A call recorded here passes a static ancestor's filter without its
 * supervisor (gate.c).  Not an exec: the supervisor learns of a new image
 * from it.  The sixth argument is unused by every kind recorded. */
static const long *gated(const long *a, long *pa)
{
	if (!ct_gated)
		return a;
	memcpy(pa, a, 6 * sizeof(*a));
	pa[5] = (long)CT_STATIC_PASS;
	return pa;
}

long ct_sysrec_call(long nr, const long *a, unsigned source,
		    ct_sysrec_perform_fn perform)
{
	struct ct_fsrec fr;
	long pa[6];

	switch (nr) {
	case SYS_execve:
	case SYS_execveat:
		return do_exec(nr, a, source, perform);
	case SYS_connect:
		return do_connect(gated(a, pa), source, perform);
	case SYS_exit_group:
		ct_record_exit((int)a[0]);
		return perform(nr, a);
	default:
		break;
	}
	if (!fs_decode(nr, a, &fr))
		return perform(nr, a);
	fr.source = source;
	return do_fs(&fr, nr, gated(a, pa), perform);
}
