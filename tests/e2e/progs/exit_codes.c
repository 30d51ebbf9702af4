/* How processes end: exit, _exit, _Exit, a code above 255, return from
 * main (a re-exec of ourselves), death by signal; reaped with waitpid,
 * wait, wait3, wait4 and waitid.  The root itself returns 7.
 * usage: exit_codes DIR     (exit_codes --ret DIR: main returns 6)
 * Expect: one exit event per child with the code its parent saw (or the
 * signal), and {"exit":7} for ctrace run.
 */
#include <signal.h>
#include <sys/resource.h>

#include "e2e.h"

static void expect_exit(pid_t pid, const char *what)
{
	expect("{\"kind\":\"exit\",\"pid\":%d,%s,\"count\":1}", pid, what);
}

int main(int argc, char **argv)
{
	struct rusage ru;
	siginfo_t si;
	pid_t pid;
	int st;

	if (argc == 3 && !strcmp(argv[1], "--ret"))
		return 6;
	e2e_init(argc, argv);

	pid = OK(fork());
	if (pid == 0)
		exit(3);
	expect_exit(pid, "\"exit_code\":3");
	e2e_wait(pid, W_EXITCODE(3, 0));

	pid = OK(fork());
	if (pid == 0)
		_exit(4);
	expect_exit(pid, "\"exit_code\":4");
	errno = E2E_SENTINEL;
	CHECK(wait(&st) == pid && st == W_EXITCODE(4, 0));
	CHECK(errno == E2E_SENTINEL);

	pid = OK(fork());
	if (pid == 0)
		_Exit(5);
	expect_exit(pid, "\"exit_code\":5");
	CHECK(wait4(pid, &st, 0, &ru) == pid && st == W_EXITCODE(5, 0));

	pid = OK(fork());
	if (pid == 0)
		exit(256 + 9); /* the parent sees 9 */
	expect_exit(pid, "\"exit_code\":9");
	CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED) == 0);
	CHECK(si.si_code == CLD_EXITED && si.si_status == 9);

	pid = OK(fork());
	if (pid == 0) {
		execl("/proc/self/exe", "e2e_exit_codes", "--ret", T,
		      (char *)NULL);
		_exit(127);
	}
	expect_exit(pid, "\"exit_code\":6");
	e2e_wait(pid, W_EXITCODE(6, 0));

	pid = OK(fork());
	if (pid == 0) {
		raise(SIGKILL);
		_exit(127);
	}
	expect_exit(pid, "\"signal\":9");
	e2e_wait(pid, SIGKILL);

	/* Death by a signal is seen only by the parent's wait: wait3's own
	 * hook must record it. */
	pid = OK(fork());
	if (pid == 0) {
		raise(SIGKILL);
		_exit(127);
	}
	expect_exit(pid, "\"signal\":9");
	errno = E2E_SENTINEL;
	CHECK(wait3(&st, 0, &ru) == pid && st == SIGKILL);
	CHECK(errno == E2E_SENTINEL);

	/* waiting for nothing fails with ECHILD */
	ERR(waitpid(-1, &st, 0), ECHILD);

	expect_exit(getpid(), "\"exit_code\":7");
	expect("{\"exit\":7}");
	return 7;
}
