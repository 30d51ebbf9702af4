/* vfork + execve with an empty environment, then a failing exec + _exit.
 * usage: vfork_exec DIR
 * Expect: exec of /usr/bin/touch recorded by the vfork child under its
 * raw pid, then touch's start and open of DIR/vf (chain vfork_exec ->
 * touch); a second child: the exec of DIR/missing (one record, -ENOENT:
 * no intent for a file that is not there) and exit 127; the parent's globals intact (its cwd-relative open still
 * lands in DIR, under its own pid, after the children).
 */
#include <fcntl.h>

#include "e2e.h"

int main(int argc, char **argv)
{
	char *envp[] = { NULL };
	pid_t pid;

	e2e_init(argc, argv);
	const char *file = e2e_path("vf");
	const char *missing = e2e_path("missing");
	pid = vfork();
	if (pid == 0) {
		char *a[] = { "touch", (char *)file, NULL };
		execve("/usr/bin/touch", a, envp);
		_exit(127);
	}
	CHECK(pid > 0);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"exe\":\"/usr/bin/touch\","
	       "\"argv\":[\"touch\",\"%s\"],\"result\":0}",
	       pid, file);
	expect("{\"kind\":\"start\",\"pid\":%d,\"exe\":\"/usr/bin/touch\"}",
	       pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\",\"result\":3,"
	       "\"chain\":[\"e2e_vfork_exec\",\"touch\"]}",
	       pid, file);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}", pid);
	e2e_wait(pid, 0);

	pid = vfork();
	if (pid == 0) {
		char *a[] = { "missing", NULL };
		execve(missing, a, envp);
		_exit(errno == ENOENT ? 127 : 126);
	}
	CHECK(pid > 0);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"path\":\"%s\",\"result\":-2,"
	       "\"errno\":\"ENOENT\",\"count\":1}",
	       pid, missing);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":127}", pid);
	e2e_wait(pid, W_EXITCODE(127, 0));

	int fd = OK(open("after", O_WRONLY | O_CREAT, 0600));
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s/after\","
	       "\"result\":%d}",
	       (int)getpid(), T, fd);
	close(fd);
	return 0;
}
