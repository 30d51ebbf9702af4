/* A dynamic parent that execs a static binary (e2e_hello_static, built
 * next to this program) twice: once with CTRACE_STATIC=0, which the shim
 * cannot follow, and once covered by the seccomp supervisor.
 * usage: static_gap DIR
 * Expect: for the first child, before its exec: a gap naming the static
 * exe with its reason, the exec intent; no start from the static program;
 * its exit (code 0) reported by our wait.  For the second: the exec
 * intent, then the static program's start from the supervisor (source
 * seccomp), no gap.
 */
#include <limits.h>

#include "e2e.h"

int main(int argc, char **argv)
{
	char exe[PATH_MAX];
	ssize_t n;
	pid_t pid;

	e2e_init(argc, argv);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	exe[n] = '\0';
	CHECK(strrchr(exe, '/'));
	snprintf(strrchr(exe, '/') + 1, sizeof(exe) - (size_t)n,
		 "e2e_hello_static");
	if (access(exe, X_OK) != 0) {
		printf("SKIP: %s not built\n", exe);
		return 77;
	}

	pid = OK(fork());
	if (pid == 0) {
		setenv("CTRACE_STATIC", "0", 1);
		execl(exe, "e2e_hello_static", (char *)NULL);
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"gap\",\"pid\":%d,\"exe\":\"%s\","
	       "\"reason\":\"static binary: not covered (CTRACE_STATIC=0)\"}",
	       pid, exe);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"exe\":\"%s\","
	       "\"argv\":[\"e2e_hello_static\"],\"result\":0}",
	       pid, exe);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}", pid);
	expect("{\"kind\":\"start\",\"pid\":%d,\"absent\":true}", pid);

	pid = OK(fork());
	if (pid == 0) {
		execl(exe, "e2e_hello_static", (char *)NULL);
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"exe\":\"%s\","
	       "\"source\":\"libc\",\"result\":0}",
	       pid, exe);
	expect("{\"kind\":\"start\",\"pid\":%d,\"exe\":\"%s\","
	       "\"source\":\"seccomp\",\"chain\":[\"e2e_static_gap\","
	       "\"e2e_hello_static\"]}",
	       pid, exe);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}", pid);
	expect("{\"kind\":\"gap\",\"pid\":%d,\"absent\":true}", pid);
	return 0;
}
