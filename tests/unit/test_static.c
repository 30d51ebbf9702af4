/* The static-binary filter's BPF program (common/static.c), run by the
 * kernel: a child installs it with SECCOMP_RET_ERRNO(EPERM) as the stop
 * action, so a stopped call is one that fails with EPERM.  What is
 * checked: every target syscall stops, unless its sixth argument is
 * CT_STATIC_PASS, all of it; other syscalls pass. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/static.h"
#include "common/sys.h"

#define MISSING "/nonexistent-ctrace-test/x"

/* One call of nr with pointer arguments at a missing file, the sixth
 * argument a5; returns the kernel's answer (-errno). */
static long call(int nr, long a5)
{
	const long p = (long)MISSING;

	return ct_sys6(nr, nr == SYS_connect ? -1 : p, p, p, p, 0, a5);
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
		if (call(nr, pass) == -EPERM) {
			fprintf(stderr, "syscall %d stopped with the value\n",
				nr);
			_exit(1);
		}
	}
	CHILD_CHECK(call(SYS_unlink, pass) == -ENOENT);
	CHILD_CHECK(call(SYS_openat, pass) == -ENOENT);
	/* everything else passes, whatever its sixth argument */
	CHILD_CHECK(ct_sys0(SYS_getppid) > 0);
	CHILD_CHECK(call(SYS_stat, 0) == -ENOENT);
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
