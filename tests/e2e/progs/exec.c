/* Every exec entry point: execve execv execvp execvpe execl execlp execle
 * fexecve execveat (by name and AT_EMPTY_PATH) and syscall(SYS_execve),
 * each from a fork child that runs touch on a file named after the
 * variant; then failing execs in the parent (ENOENT, EACCES).
 * usage: exec DIR
 * Expect per variant: fork (result = child pid); the child's exec of
 * /usr/bin/touch with its argv and result 0, touch's start and its open
 * of DIR/<variant> (chain e2e_exec -> touch), its exit 0.  A failing exec
 * records the intent (result 0) and the failure (-errno).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "e2e.h"

#define TOUCH "/usr/bin/touch"

static char *envp_custom[] = { "E2E_VAR=1", "PATH=/nonexistent", NULL };

static void variant(const char *name)
{
	const char *file = e2e_path(name);
	char *argv[] = { "touch", (char *)file, NULL };
	int fd;

	if (!strcmp(name, "execve")) {
		execve(TOUCH, argv, environ);
	} else if (!strcmp(name, "execv")) {
		execv(TOUCH, argv);
	} else if (!strcmp(name, "execvp")) {
		execvp("touch", argv);
	} else if (!strcmp(name, "execvpe")) {
		/* the search uses the caller's PATH, not envp's */
		execvpe("touch", argv, envp_custom);
	} else if (!strcmp(name, "execl")) {
		execl(TOUCH, "touch", file, (char *)NULL);
	} else if (!strcmp(name, "execlp")) {
		execlp("touch", "touch", file, (char *)NULL);
	} else if (!strcmp(name, "execle")) {
		execle(TOUCH, "touch", file, (char *)NULL, envp_custom);
	} else if (!strcmp(name, "fexecve")) {
		fd = OK(open(TOUCH, O_RDONLY | O_CLOEXEC));
		fexecve(fd, argv, environ);
	} else if (!strcmp(name, "execveat")) {
		fd = OK(open("/usr/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		execveat(fd, "touch", argv, environ, 0);
	} else if (!strcmp(name, "execveat-empty")) {
		fd = OK(open(TOUCH, O_PATH | O_CLOEXEC));
		execveat(fd, "", argv, environ, AT_EMPTY_PATH);
	} else if (!strcmp(name, "execv-rel")) {
		execv("./sub/../tl", argv); /* a symlink to touch */
	} else if (!strcmp(name, "sys-execve")) {
		syscall(SYS_execve, TOUCH, argv, environ);
	}
	FAIL("%s returned: %s", name, strerror(errno));
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"execve",   "execv",	      "execvp",	   "execvpe",
		"execl",    "execlp",	      "execle",	   "fexecve",
		"execveat", "execveat-empty", "execv-rel", "sys-execve",
	};
	const char *missing, *plain;

	e2e_init(argc, argv);
	/* a PATH with a miss before the hit, the same for every run */
	CHECK(setenv("PATH", "/nonexistent:/usr/bin:/bin", 1) == 0);
	CHECK(mkdir("sub", 0755) == 0 && symlink(TOUCH, "tl") == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *file = e2e_path(names[i]);
		pid_t pid = OK(fork());

		if (pid == 0)
			variant(names[i]);
		expect("{\"kind\":\"fork\",\"result\":%d,\"count\":1}", pid);
		if (!strcmp(names[i], "fexecve") ||
		    !strcmp(names[i], "execveat-empty"))
			expect("{\"kind\":\"open\",\"pid\":%d,"
			       "\"path\":\"" TOUCH "\",\"result\":3}",
			       pid);
		if (!strcmp(names[i], "execveat"))
			expect("{\"kind\":\"open\",\"pid\":%d,"
			       "\"path\":\"/usr/bin\",\"flags\":\"O_RDONLY|O_DIRECTORY|O_CLOEXEC\",\"result\":3}",
			       pid);
		/* the path as called, made absolute; start has the real exe */
		const char *path =
			strcmp(names[i], "execv-rel") ? TOUCH : e2e_path("tl");
		expect("{\"kind\":\"exec\",\"pid\":%d,\"path\":\"%s\","
		       "\"exe\":\"%s\",\"argv\":[\"touch\",\"%s\"],"
		       "\"result\":0}",
		       pid, path, path, file);
		expect("{\"kind\":\"start\",\"pid\":%d,\"exe\":\"" TOUCH
		       "\",\"argv\":[\"touch\",\"%s\"],\"cwd\":\"%s\"}",
		       pid, file, T);
		expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\","
		       "\"flags~\":\"O_CREAT\",\"result\":3,"
		       "\"chain\":[\"e2e_exec\",\"touch\"]}",
		       pid, file);
		expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}", pid);
		e2e_wait(pid, 0);
		CHECK(access(file, F_OK) == 0);
	}

	/* failures return to the caller with the exact errno; a file that
	 * is not there is one record, the failure, with no intent before */
	missing = e2e_path("missing");
	char *a[] = { "missing", NULL };
	ERR(execve(missing, a, environ), ENOENT);
	expect("{\"kind\":\"exec\",\"path\":\"%s\",\"result\":0,"
	       "\"absent\":true}",
	       missing);
	expect("{\"kind\":\"exec\",\"path\":\"%s\",\"argv\":[\"missing\"],"
	       "\"result\":-2,\"errno\":\"ENOENT\"}",
	       missing);
	ERR(execve("/etc/passwd/x", a, environ), ENOTDIR);
	expect("{\"kind\":\"exec\",\"path\":\"/etc/passwd/x\",\"count\":1,"
	       "\"result\":-20,\"errno\":\"ENOTDIR\"}");
	char *b[] = { "ctrace-e2e-no-such-command", NULL };
	ERR(execvp(b[0], b), ENOENT);
	expect("{\"kind\":\"exec\",\"argv\":[\"%s\"],\"result\":-2,"
	       "\"errno\":\"ENOENT\"}",
	       b[0]);
	plain = e2e_path("plain");
	close(OK(open(plain, O_WRONLY | O_CREAT, 0644)));
	char *c[] = { "plain", NULL };
	ERR(execv(plain, c), EACCES);
	/* there, so the intent is recorded first: a file may be executable
	 * without being readable, so a failed open does not tell */
	expect("{\"kind\":\"exec\",\"path\":\"%s\",\"argv\":[\"plain\"],"
	       "\"result\":0}",
	       plain);
	expect("{\"kind\":\"exec\",\"path\":\"%s\",\"argv\":[\"plain\"],"
	       "\"result\":-13,\"errno\":\"EACCES\"}",
	       plain);
	ERR(execl(missing, "missing", "x", (char *)NULL), ENOENT);
	expect("{\"kind\":\"exec\",\"path\":\"%s\",\"argv\":[\"missing\","
	       "\"x\"],\"result\":-2,\"errno\":\"ENOENT\"}",
	       missing);
	return 0;
}
