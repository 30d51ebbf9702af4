/* posix_spawn, posix_spawnp (empty environment), a failing posix_spawn,
 * system() and popen()/pclose() in both directions.
 * usage: spawn DIR
 * Expect: spawn events with result = the child's pid (the shell's pid for
 * system and popen, which the shell reports itself with $$), the
 * children's own events with their chain, their exits with the status
 * the parent saw; a failing spawn with -ENOENT.  Children may run before
 * the parent records the spawn, so their events are matched by count.
 */
#include <fcntl.h>
#include <spawn.h>

#include "e2e.h"

static int read_pid(const char *file)
{
	FILE *f = OK_P(fopen(file, "r"));
	int pid = 0;

	CHECK(fscanf(f, "%d", &pid) == 1 && pid > 0);
	fclose(f);
	return pid;
}

int main(int argc, char **argv)
{
	char *envp[] = { NULL };
	char line[64];
	pid_t pid;
	int st, r;
	FILE *f;

	e2e_init(argc, argv);

	/* posix_spawn: errno untouched, pid returned */
	const char *ps = e2e_path("ps");
	char *a[] = { "touch", (char *)ps, NULL };
	errno = E2E_SENTINEL;
	r = posix_spawn(&pid, "/usr/bin/touch", NULL, NULL, a, environ);
	CHECK(r == 0 && pid > 0 && errno == E2E_SENTINEL);
	expect("{\"kind\":\"spawn\",\"path\":\"/usr/bin/touch\","
	       "\"exe\":\"/usr/bin/touch\",\"argv\":[\"touch\",\"%s\"],"
	       "\"result\":%d}",
	       ps, pid);
	expect("{\"kind\":\"start\",\"pid\":%d,\"exe\":\"/usr/bin/touch\","
	       "\"count\":1}",
	       pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\",\"result\":3,"
	       "\"chain\":[\"e2e_spawn\",\"touch\"],\"count\":1}",
	       pid, ps);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0,\"count\":1}",
	       pid);
	e2e_wait(pid, 0);

	/* posix_spawnp: PATH search, empty environment still traced */
	/* (no miss in PATH: glibc's search itself would leave ENOENT) */
	CHECK(setenv("PATH", "/usr/bin:/bin", 1) == 0);
	const char *psp = e2e_path("psp");
	char *b[] = { "touch", (char *)psp, NULL };
	errno = E2E_SENTINEL;
	r = posix_spawnp(&pid, "touch", NULL, NULL, b, envp);
	CHECK(r == 0 && pid > 0 && errno == E2E_SENTINEL);
	expect("{\"kind\":\"spawn\",\"exe\":\"/usr/bin/touch\","
	       "\"argv\":[\"touch\",\"%s\"],\"result\":%d}",
	       psp, pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\","
	       "\"chain\":[\"e2e_spawn\",\"touch\"],\"count\":1}",
	       pid, psp);
	e2e_wait(pid, 0);

	/* a failing spawn: the error is returned (glibc 2.36 also leaves it
	 * in errno, shim or not) */
	const char *missing = e2e_path("missing");
	char *c[] = { "missing", NULL };
	errno = E2E_SENTINEL;
	r = posix_spawn(&pid, missing, NULL, NULL, c, environ);
	CHECK(r == ENOENT && errno == ENOENT);
	expect("{\"kind\":\"spawn\",\"path\":\"%s\",\"argv\":[\"missing\"],"
	       "\"result\":-2,\"errno\":\"ENOENT\"}",
	       missing);

	/* system(): the shell's exit status as the caller sees it */
	errno = E2E_SENTINEL;
	st = system("echo $$ > syspid; rm ps; exit 3");
	CHECK(errno == E2E_SENTINEL);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	pid = read_pid("syspid");
	expect("{\"kind\":\"spawn\",\"exe\":\"/bin/sh\",\"argv\":[\"sh\","
	       "\"-c\",\"echo $$ > syspid; rm ps; exit 3\"],\"result\":%d}",
	       pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s/syspid\","
	       "\"flags~\":\"O_TRUNC\",\"count\":1}",
	       pid, T);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0,"
	       "\"chain\":[\"e2e_spawn\",\"sh\",\"rm\"],\"count\":1}",
	       ps);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":3,\"count\":1}",
	       pid);
	CHECK(system(NULL) == 1);

	/* popen "r": the shell says its pid, pclose returns its status */
	errno = E2E_SENTINEL;
	f = OK_P(popen("echo $$; exit 5", "r"));
	CHECK(fgets(line, sizeof(line), f));
	pid = atoi(line);
	CHECK(pid > 0);
	st = pclose(f);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
	expect("{\"kind\":\"spawn\",\"exe\":\"/bin/sh\",\"argv\":[\"sh\","
	       "\"-c\",\"echo $$; exit 5\"],\"result\":%d}",
	       pid);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":5,\"count\":1}",
	       pid);

	/* popen "w": the shell writes what we send into a file */
	f = OK_P(popen("echo $$ > popid; cat > pw", "w"));
	CHECK(fputs("x\n", f) >= 0);
	CHECK(pclose(f) == 0);
	pid = read_pid("popid");
	expect("{\"kind\":\"spawn\",\"exe\":\"/bin/sh\",\"result\":%d}", pid);
	expect("{\"kind\":\"open\",\"path\":\"%s/pw\",\"flags~\":\"O_TRUNC\","
	       "\"chain\":[\"e2e_spawn\",\"sh\"],\"count\":1}",
	       T);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0,\"count\":1}",
	       pid);
	f = OK_P(fopen("pw", "r"));
	CHECK(fgets(line, sizeof(line), f) && !strcmp(line, "x\n"));
	fclose(f);
	return 0;
}
