/* vfork children under the shim: a child that _exits, one that execs,
 * one whose exec fails and reports errno through the shared memory, one
 * that unlinks (a hooked call) before exec.  Prints what the parent sees;
 * run with and without ctrace, the output must be the same.
 *
 * ft_vfork DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	volatile int shared = 0;
	char path[4096];
	int st, saved;
	pid_t pid;

	if (argc != 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	errno = 1234;
	pid = vfork();
	if (pid == 0)
		_exit(7);
	saved = errno;
	waitpid(pid, &st, 0);
	printf("_exit child: status %d, parent errno kept %d\n",
	       WEXITSTATUS(st), saved == 1234);

	pid = vfork();
	if (pid == 0) {
		shared = 1;
		execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("exec child: status %d, wrote shared %d\n", WEXITSTATUS(st),
	       shared);

	pid = vfork();
	if (pid == 0) {
		execl("/nonexistent/prog", "x", (char *)NULL);
		shared = errno;
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("failed exec: status %d, child errno %s\n", WEXITSTATUS(st),
	       strerrorname_np(shared));

	snprintf(path, sizeof(path), "%s/vf", argv[1]);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	pid = vfork();
	if (pid == 0) {
		shared = unlink(path) == 0 ? 100 : errno;
		char *av[] = { "true", NULL };
		execve("/bin/true", av, environ);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("unlink in child: %d, file gone %d, status %d\n", shared,
	       access(path, F_OK) != 0, WEXITSTATUS(st));
	return 0;
}
