/* fork, _Fork and clone() without CLONE_VM: each child works under its
 * own pid and exits with a code the parent checks.
 * usage: fork DIR
 * Expect per child: the parent's fork event (result = child pid), the
 * child's open of DIR/<name> under its own pid with chain e2e_fork, its
 * exit code; the parent's own events after the children carry its pid.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>

#include "e2e.h"

static int child_open(const char *name)
{
	int fd = open(e2e_path(name), O_WRONLY | O_CREAT | O_EXCL, 0600);

	return fd < 0 ? 100 : 0;
}

static int clone_fn(void *arg)
{
	return child_open(arg) ? 100 : 6;
}

static void expect_child(pid_t pid, const char *name, int code)
{
	expect("{\"kind\":\"fork\",\"pid\":%d,\"result\":%d,\"count\":1}",
	       (int)getpid(), pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\","
	       "\"flags\":\"O_WRONLY|O_CREAT|O_EXCL\",\"result\":3,"
	       "\"chain\":[\"e2e_fork\"]}",
	       pid, e2e_path(name));
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":%d}", pid, code);
}

int main(int argc, char **argv)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	pid_t pid;

	e2e_init(argc, argv);

	pid = OK(fork());
	if (pid == 0)
		_exit(child_open("forked") ? 100 : 4);
	expect_child(pid, "forked", 4);
	e2e_wait(pid, W_EXITCODE(4, 0));

	pid = OK(_Fork());
	if (pid == 0)
		_exit(child_open("_Fork") ? 100 : 5);
	expect_child(pid, "_Fork", 5);
	e2e_wait(pid, W_EXITCODE(5, 0));

	pid = OK(clone(clone_fn, stack + sizeof(stack), SIGCHLD,
		       (void *)"cloned"));
	expect_child(pid, "cloned", 6);
	e2e_wait(pid, W_EXITCODE(6, 0));

	/* the parent is still itself */
	int fd = OK(open("parent", O_WRONLY | O_CREAT, 0600));
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s/parent\","
	       "\"result\":%d}",
	       (int)getpid(), T, fd);
	close(fd);
	return 0;
}
