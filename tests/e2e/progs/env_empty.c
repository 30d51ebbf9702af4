/* `env -i`-style execs: a child's environment emptied or replaced must
 * still be traced, and must reach the program as given (plus only the
 * shim's own variables).
 * usage: env_empty DIR
 * Expect: the unlink and rmdir of grandchildren run by /bin/sh started
 * with an empty envp (execve, execle, posix_spawn) and through `env -i`,
 * with chain e2e_env_empty -> sh -> rm/rmdir; /usr/bin/env run with
 * envp {"E2E_ONLY=1"} prints E2E_ONLY=1 and nothing foreign; after
 * clearenv() (environ NULL) system() and execv() children still traced.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>

#include "e2e.h"

static char *empty[] = { NULL };

static pid_t sh_child(int how, const char *cmd)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	pid_t pid;

	if (how == 2) {
		CHECK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, empty) ==
		      0);
		return pid;
	}
	pid = OK(fork());
	if (pid)
		return pid;
	if (how == 0)
		execve("/bin/sh", argv, empty);
	else if (how == 1)
		execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, empty);
	else
		execl("/usr/bin/env", "env", "-i", "/bin/sh", "-c", cmd,
		      (char *)NULL);
	_exit(127);
}

/* Lines the shim may add to a child's environment. */
static bool shim_var(const char *line)
{
	return !strncmp(line, "CTRACE_", 7) ||
	       !strncmp(line, "LD_PRELOAD=", 11) ||
	       !strcmp(line, "UV_USE_IO_URING=0\n");
}

int main(int argc, char **argv)
{
	static const char *const how_name[] = { "execve", "execle", "spawn",
						"env-i" };
	char cmd[256], line[4096];
	int seen = 0;

	e2e_init(argc, argv);
	for (int how = 0; how < 4; how++) {
		const char *f = e2e_path(how_name[how]);
		pid_t pid;

		snprintf(cmd, sizeof(cmd),
			 "echo x > %s; rm %s; mkdir %s.d; rmdir %s.d", f, f, f,
			 f);
		pid = sh_child(how, cmd);
		e2e_wait(pid, 0);
		CHECK(access(f, F_OK) != 0);
		expect("{\"kind\":\"open\",\"path\":\"%s\","
		       "\"flags\":\"O_WRONLY|O_CREAT|O_TRUNC\","
		       "\"chain\":[\"e2e_env_empty\",\"sh\"]}",
		       f);
		expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0,"
		       "\"chain\":[\"e2e_env_empty\",\"sh\",\"rm\"]}",
		       f);
		expect("{\"kind\":\"rmdir\",\"path\":\"%s.d\",\"result\":0,"
		       "\"chain\":[\"e2e_env_empty\",\"sh\",\"rmdir\"]}",
		       f);
	}

	/* the environment a child gets: ours, plus the shim's variables */
	pid_t pid = OK(fork());
	if (pid == 0) {
		char *a[] = { "env", NULL };
		char *e[] = { "E2E_ONLY=1", NULL };
		int fd = open("envout", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) != 1)
			_exit(126);
		execve("/usr/bin/env", a, e);
		_exit(127);
	}
	e2e_wait(pid, 0);
	FILE *f = OK_P(fopen("envout", "r"));
	while (fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "E2E_ONLY=1\n"))
			seen++;
		else if (!shim_var(line))
			FAIL("foreign variable in the child: %s", line);
	}
	fclose(f);
	CHECK(seen == 1);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"exe\":\"/usr/bin/env\","
	       "\"argv\":[\"env\"],\"result\":0}",
	       pid);
	expect("{\"kind\":\"start\",\"pid\":%d,\"exe\":\"/usr/bin/env\"}", pid);

	/* clearenv(): environ is NULL; system() and execv() still traced */
	CHECK(clearenv() == 0);
	CHECK(system("echo x > cleared; rm cleared") == 0);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0,"
	       "\"chain\":[\"e2e_env_empty\",\"sh\",\"rm\"]}",
	       e2e_path("cleared"));
	pid = OK(fork());
	if (pid == 0) {
		execv("/usr/bin/mkdir",
		      (char *[]){ "mkdir", "cleared.d", NULL });
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"mkdir\",\"pid\":%d,\"path\":\"%s\","
	       "\"result\":0,\"chain\":[\"e2e_env_empty\",\"mkdir\"]}",
	       pid, e2e_path("cleared.d"));
	return 0;
}
