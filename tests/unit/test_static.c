/* The static-binary filter's BPF program (common/static.c), run by the
 * kernel: a child installs it with SECCOMP_RET_ERRNO(EPERM) as the stop
 * action, so a stopped call is one that fails with EPERM.  What is
 * checked: every target syscall stops, unless its sixth argument is
 * CT_STATIC_PASS, all of it; other syscalls pass. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/static.h"
#include "common/sys.h"

#define MISSING "/nonexistent-ctrace-test/x"

/* One call of nr on a missing file, with valid flags and modes (garbage
 * ones could fail for reasons of their own), and a5 as the sixth
 * argument; returns the kernel's answer (-errno).  Through with a5, each
 * one fails with ENOENT (EBADF for connect on fd -1). */
static long call(int nr, long a5)
{
	static const struct {
		uint64_t flags, mode, resolve;
	} how; /* openat2's, all zero */
	const long p = (long)MISSING, at = AT_FDCWD;

	switch (nr) {
	case SYS_openat:
		return ct_sys6(nr, at, p, O_RDONLY, 0, 0, a5);
	case SYS_openat2:
		return ct_sys6(nr, at, p, (long)&how, sizeof(how), 0, a5);
	case SYS_unlinkat:
	case SYS_mkdirat:
	case SYS_fchmodat:
	case SYS_fchmodat2:
		return ct_sys6(nr, at, p, 0, 0, 0, a5);
	case SYS_renameat:
	case SYS_renameat2:
	case SYS_linkat:
		return ct_sys6(nr, at, p, at, p, 0, a5);
	case SYS_symlinkat:
		return ct_sys6(nr, p, at, p, 0, 0, a5);
	case SYS_execveat:
		return ct_sys6(nr, at, p, 0, 0, 0, a5);
	case SYS_connect:
		return ct_sys6(nr, -1, 0, 0, 0, 0, a5);
	default: /* open, creat, unlink, rmdir, rename, link, symlink,
		  * mkdir, chmod, truncate, execve: paths, then zeros */
		return ct_sys6(nr, p,
			       nr == SYS_rename || nr == SYS_link ||
					       nr == SYS_symlink
				       ? p
				       : 0,
			       0, 0, 0, a5);
	}
}

/* In the child: each failed check is reported as its line (exit code). */
#define CHILD_CHECK(c)                                                  \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "line %d: %s\n", __LINE__, #c); \
			_exit(1);                                       \
		}                                                       \
	} while (0)

static void child(void)
{
	struct sock_filter f[CT_STATIC_FILTER_MAX];
	struct sock_fprog prog;
	const long pass = (long)CT_STATIC_PASS;

	prog.len =
		(unsigned short)ct_static_filter(f, SECCOMP_RET_ERRNO | EPERM);
	prog.filter = f;
	CHILD_CHECK(prog.len <= CT_STATIC_FILTER_MAX);
	CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHILD_CHECK(ct_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) ==
		    0);
	for (int i = 0; ct_static_nrs[i] >= 0; i++) {
		int nr = ct_static_nrs[i];

		if (nr == SYS_exit_group)
			continue;
		/* stopped without the value, or with half of it */
		if (call(nr, 0) != -EPERM ||
		    call(nr, (long)0xffffffff) != -EPERM ||
		    call(nr, pass & 0xffffffffl) != -EPERM ||
		    call(nr, pass & ~0xffffffffl) != -EPERM ||
		    call(nr, pass ^ 1) != -EPERM) {
			fprintf(stderr, "syscall %d not stopped\n", nr);
			_exit(1);
		}
		/* through with it: the kernel's own answer */
		if (call(nr, pass) != (nr == SYS_connect ? -EBADF : -ENOENT)) {
			fprintf(stderr, "syscall %d: %ld with the value\n", nr,
				call(nr, pass));
			_exit(1);
		}
	}
	/* everything else passes, whatever its sixth argument */
	CHILD_CHECK(ct_sys0(SYS_getppid) > 0);
	CHILD_CHECK(ct_sys2(SYS_stat, MISSING, &(struct stat){ 0 }) == -ENOENT);
	CHILD_CHECK(ct_sys2(SYS_access, MISSING, F_OK) == -ENOENT);
	_exit(0);
}

static void test_static__filter(void **state)
{
	int st;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child();
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static__filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
