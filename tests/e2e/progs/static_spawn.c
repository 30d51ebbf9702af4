/* posix_spawn and posix_spawnp of a static binary (e2e_spawnee_static,
 * built next to this program): covered by the seccomp supervisor through
 * the ctrace-spawn helper (docs/static.md, "posix_spawn").
 * usage: static_spawn DIR
 * Expect, for a spawn and a PATH-searched spawn: the spawn event with the
 * static program's pid; its start (source seccomp, once, below this
 * program, no other image for that pid: the helper leaves no trace); its
 * open, rename, unlink and connect once each with source seccomp; its exit
 * code; no gap.  Each case also runs with CTRACE_STATIC=0 (glibc's own
 * posix_spawn, a gap under ctrace) and must give the same result, errno
 * and, for file actions and signal attributes, the same view from inside
 * the child; a failed exec returns its error (EACCES, ENOENT) with no
 * child left over.  Without ctrace both runs are glibc's.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>

#include "e2e.h"

static char prog[PATH_MAX]; /* the static program */

struct res {
	int r, err;
	pid_t pid;
};

/* One spawn, covered (plain false) or glibc's own (CTRACE_STATIC=0). */
static struct res spawn(bool plain, bool search, const char *file,
			const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const *argv,
			char *const *envp)
{
	struct res x = { 0, 0, -1 };

	if (plain)
		CHECK(setenv("CTRACE_STATIC", "0", 1) == 0);
	errno = E2E_SENTINEL;
	if (search)
		x.r = posix_spawnp(&x.pid, file, fa, attr, argv, envp);
	else
		x.r = posix_spawn(&x.pid, file, fa, attr, argv, envp);
	x.err = errno;
	if (plain)
		CHECK(unsetenv("CTRACE_STATIC") == 0);
	return x;
}

static void no_child_left(void)
{
	errno = 0;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		FAIL("a child is left over (errno %d)", errno);
}

static char *slurp(const char *path)
{
	static char buf[2][1 << 16];
	static int i;
	char *b = buf[i++ & 1];
	FILE *f = OK_P(fopen(path, "r"));
	size_t n = fread(b, 1, sizeof(buf[0]) - 1, f);

	b[n] = '\0';
	fclose(f);
	return b;
}

static void copy(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = OK(open(from, O_RDONLY)), out;
	ssize_t n;

	out = OK(open(to, O_WRONLY | O_CREAT | O_TRUNC, mode));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	CHECK(n == 0);
	close(in);
	close(out);
}

/* The static program's files and connect, once each, from pid. */
static void expect_work(pid_t pid, const char *sub, const char *how)
{
	char d[PATH_MAX];

	snprintf(d, sizeof(d), "%s/%s", T, sub);
	expect("{\"kind\":\"start\",\"pid\":%d,\"exe\":\"%s\","
	       "\"source\":\"seccomp\",\"chain\":[\"e2e_static_spawn\","
	       "\"spawnee\"],\"count\":1}",
	       pid, prog);
	/* one image for the pid: the helper's start and exec are absent */
	expect("{\"kind\":\"start\",\"pid\":%d,\"count\":1}", pid);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"absent\":true}", pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s/s.txt\","
	       "\"source\":\"seccomp\",\"count\":1}",
	       pid, d);
	expect("{\"kind\":\"rename\",\"pid\":%d,\"path\":\"%s/s.txt\","
	       "\"path2\":\"%s/t.txt\",\"source\":\"seccomp\",\"count\":1}",
	       pid, d, d);
	expect("{\"kind\":\"unlink\",\"pid\":%d,\"path\":\"%s/t.txt\","
	       "\"source\":\"seccomp\",\"count\":1}",
	       pid, d);
	expect("{\"kind\":\"connect\",\"pid\":%d,\"source\":\"seccomp\","
	       "\"count\":1}",
	       pid);
	/* counted, not ordered: the static child may exit before the
	 * parent's spawn record (written once posix_spawn returns) */
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":%d,"
	       "\"count\":1}",
	       pid, *how == 'p' ? 5 : 7);
	expect("{\"kind\":\"gap\",\"pid\":%d,\"absent\":true}", pid);
}

int main(int argc, char **argv)
{
	char *envp[] = { "A=1", "B=two words", NULL };
	const char *shim = getenv("CTRACE_SHIM");
	char helper[PATH_MAX], path[PATH_MAX * 2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t mask, def, caller, old;
	struct res a, b;
	int me, fd7, fd8, fd9;
	ssize_t n;

	e2e_init(argc, argv);
	me = (int)getpid();
	n = readlink("/proc/self/exe", prog, sizeof(prog) - 1);
	CHECK(n > 0);
	prog[n] = '\0';
	snprintf(strrchr(prog, '/') + 1, sizeof(prog) - (size_t)n,
		 "e2e_spawnee_static");
	if (access(prog, X_OK) != 0) {
		printf("SKIP: %s not built\n", prog);
		return 77;
	}
	OK(mkdir("w1", 0755));
	OK(mkdir("w2", 0755));
	OK(mkdir("bin", 0755));
	OK(mkdir("ne", 0755));
	OK(mkdir("sub", 0755));
	OK(symlink(prog, "bin/prog"));
	OK(symlink(prog, "sub/prog"));
	copy(prog, "ne/prog", 0644); /* static, readable, not executable */

	/* posix_spawn, absolute path */
	char *w1[] = { "spawnee", "work", (char *)e2e_path("w1"), "7", NULL };
	a = spawn(false, false, prog, NULL, NULL, w1, environ);
	CHECK(a.r == 0 && a.pid > 0 && a.err == E2E_SENTINEL);
	e2e_wait(a.pid, W_EXITCODE(7, 0));
	expect("{\"kind\":\"spawn\",\"pid\":%d,\"path\":\"%s\","
	       "\"argv\":[\"spawnee\",\"work\",\"%s\",\"7\"],\"result\":%d}",
	       me, prog, e2e_path("w1"), a.pid);
	expect_work(a.pid, "w1", "x");

	/* posix_spawnp: ne/prog (not executable) is a miss, bin/prog runs;
	 * glibc's child leaves the miss's EACCES in the caller's errno */
	snprintf(path, sizeof(path), "%s:%s", e2e_path("ne"), e2e_path("bin"));
	CHECK(setenv("PATH", path, 1) == 0);
	char *w2[] = { "spawnee", "work", (char *)e2e_path("w2"), "5", NULL };
	a = spawn(false, true, "prog", NULL, NULL, w2, envp);
	CHECK(a.r == 0 && a.pid > 0);
	if (a.err != EACCES)
		FAIL("posix_spawnp after a miss: errno %d, glibc leaves %d",
		     a.err, EACCES);
	e2e_wait(a.pid, W_EXITCODE(5, 0));
	expect("{\"kind\":\"spawn\",\"pid\":%d,\"path\":\"%s/bin/prog\","
	       "\"result\":%d}",
	       me, T, a.pid);
	expect_work(a.pid, "w2", "p");

	/* the same, glibc's own spawn: same result and errno */
	char *p1[] = { "spawnee", "probe", (char *)e2e_path("p1"), NULL };
	b = spawn(true, true, "prog", NULL, NULL, p1, envp);
	CHECK(b.r == 0 && b.err == EACCES);
	e2e_wait(b.pid, 0);

	/* a failing exec: not executable (EACCES), no child left */
	char *ne[] = { "prog", NULL };
	for (int plain = 0; plain < 2; plain++) {
		a = spawn(plain, false, e2e_path("ne/prog"), NULL, NULL, ne,
			  envp);
		if (a.r != EACCES || a.err != EACCES || a.pid != -1)
			FAIL("spawn of ne/prog (plain %d): %d errno %d pid %d",
			     plain, a.r, a.err, (int)a.pid);
		no_child_left();
	}
	expect("{\"kind\":\"spawn\",\"path\":\"%s\",\"result\":-13,"
	       "\"errno\":\"EACCES\"}",
	       e2e_path("ne/prog"));
	/* the covered try started nothing: no gap for it */
	expect("{\"kind\":\"gap\",\"path\":\"%s\",\"count\":1}",
	       e2e_path("ne/prog"));

	/* a static binary the caller sees, gone once the file actions moved
	 * the child to /: ENOENT, from posix_spawn and, with a miss for
	 * EACCES first, EACCES from posix_spawnp, as glibc's search says */
	OK(posix_spawn_file_actions_init(&fa));
	OK(posix_spawn_file_actions_addchdir_np(&fa, "/"));
	for (int plain = 0; plain < 2; plain++) {
		a = spawn(plain, false, "sub/prog", &fa, NULL, ne, envp);
		if (a.r != ENOENT || a.err != ENOENT || a.pid != -1)
			FAIL("spawn of sub/prog in / (plain %d): %d errno %d",
			     plain, a.r, a.err);
		no_child_left();
	}
	snprintf(path, sizeof(path), "%s:sub", e2e_path("ne"));
	CHECK(setenv("PATH", path, 1) == 0);
	for (int plain = 0; plain < 2; plain++) {
		a = spawn(plain, true, "prog", &fa, NULL, ne, envp);
		if (a.r != EACCES || a.err != EACCES || a.pid != -1)
			FAIL("spawnp of prog in / (plain %d): %d errno %d",
			     plain, a.r, a.err);
		no_child_left();
	}
	OK(posix_spawn_file_actions_destroy(&fa));
	expect("{\"kind\":\"spawn\",\"path\":\"%s\",\"result\":-2,"
	       "\"errno\":\"ENOENT\"}",
	       e2e_path("sub/prog"));
	expect("{\"kind\":\"spawn\",\"path\":\"%s\",\"result\":-13,"
	       "\"errno\":\"EACCES\"}",
	       e2e_path("sub/prog"));
	/* a missing file is not a static binary: glibc's own ENOENT */
	a = spawn(false, false, e2e_path("missing"), NULL, NULL, ne, envp);
	CHECK(a.r == ENOENT && a.err == ENOENT);
	no_child_left();

	/* file actions and attributes: the child sees the same either way */
	fd7 = OK(open("/dev/null", O_RDONLY));
	fd8 = OK(open("/dev/zero", O_RDONLY));
	fd9 = OK(open("/dev/null", O_RDONLY | O_CLOEXEC));
	CHECK(fd7 < 20 && fd8 < 20 && fd9 < 20);
	OK(sigaction(SIGTERM, &sa, NULL)); /* ignored: stays ignored */
	OK(sigaction(SIGUSR2, &sa, NULL)); /* ignored, reset by SETSIGDEF */
	sa.sa_handler = SIG_DFL;
	OK(sigaction(SIGHUP, &sa, NULL));
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGWINCH);
	sigemptyset(&def);
	sigaddset(&def, SIGUSR2);
	sigemptyset(&caller);
	sigaddset(&caller, SIGQUIT); /* the caller's mask, replaced */
	OK(sigprocmask(SIG_BLOCK, &caller, &old));
	OK(posix_spawnattr_init(&attr));
	OK(posix_spawnattr_setsigmask(&attr, &mask));
	OK(posix_spawnattr_setsigdefault(&attr, &def));
	OK(posix_spawnattr_setpgroup(&attr, 0));
	OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						   POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETPGROUP));
	OK(posix_spawn_file_actions_init(&fa));
	OK(posix_spawn_file_actions_addopen(
		&fa, 20, "fa.txt", O_WRONLY | O_CREAT | O_APPEND, 0644));
	OK(posix_spawn_file_actions_adddup2(&fa, 20, 21));
	OK(posix_spawn_file_actions_addclose(&fa, fd7));
	OK(posix_spawn_file_actions_addchdir_np(&fa, "w1"));
	char *pa[] = { "probe0", "probe",	(char *)e2e_path("pa"),
		       "",	 " two words ", NULL };
	char *pb[] = { "probe0", "probe",	(char *)e2e_path("pb"),
		       "",	 " two words ", NULL };
	a = spawn(false, false, prog, &fa, &attr, pa, envp);
	CHECK(a.r == 0);
	e2e_wait(a.pid, 0);
	b = spawn(true, false, prog, &fa, &attr, pb, envp);
	CHECK(b.r == 0);
	e2e_wait(b.pid, 0);
	if (a.err != b.err)
		FAIL("errno after spawn: covered %d, glibc %d", a.err, b.err);
	OK(posix_spawn_file_actions_destroy(&fa));
	OK(posix_spawnattr_destroy(&attr));
	{
		char *ra = slurp(e2e_path("pa")), *rb = slurp(e2e_path("pb"));
		char want[256];

		/* the report names its own output file: make them equal */
		char *x = strstr(ra, "/pa>");
		CHECK(x);
		x[2] = 'b';
		if (strcmp(ra, rb) != 0)
			FAIL("the child's view differs:\n--- covered\n%s"
			     "--- glibc\n%s",
			     ra, rb);
		fprintf(stderr, "%s", ra);
		snprintf(want, sizeof(want),
			 "argc 5\nargv[0] <probe0>\nargv[1] <probe>\n"
			 "argv[2] <%s>\nargv[3] <>\nargv[4] < two words >\n",
			 e2e_path("pb"));
		CHECK(strncmp(rb, want, strlen(want)) == 0);
		CHECK(strstr(rb, "\nenv <A=1>\nenv <B=two words>\n"));
		snprintf(want, sizeof(want), "\ncwd %s/w1\n", T);
		CHECK(strstr(rb, want));
		snprintf(want, sizeof(want), "\nfd %d ", fd7);
		CHECK(!strstr(rb, want)); /* closed by the file actions */
		/* fl_flags: O_LARGEFILE (0100000) is the kernel's on x86-64 */
		snprintf(want, sizeof(want),
			 "\nfd %d fd_flags 0 fl_flags 0100000 -> /dev/zero\n",
			 fd8);
		CHECK(strstr(rb, want)); /* inherited */
		snprintf(want, sizeof(want), "\nfd %d ", fd9);
		CHECK(!strstr(rb, want)); /* close-on-exec */
		snprintf(want, sizeof(want),
			 "\nfd 20 fd_flags 0 fl_flags 0102001 -> %s/fa.txt\n"
			 "fd 21 fd_flags 0 fl_flags 0102001 -> %s/fa.txt\n",
			 T, T);
		CHECK(strstr(rb, want));
		CHECK(!strstr(rb, "\nfd 22 "));
		snprintf(want, sizeof(want), "\nblocked %d %d\n", SIGUSR1,
			 SIGWINCH);
		CHECK(strstr(rb, want));
		snprintf(want, sizeof(want), "\nignored %d\n", SIGTERM);
		CHECK(strstr(rb, want));
		CHECK(strstr(rb, "\npgrp_is_self 1 sid_is_self 0 sched 0\n"));
	}
	OK(sigprocmask(SIG_SETMASK, &old, NULL));
	expect("{\"kind\":\"start\",\"pid\":%d,\"argv0\":\"probe0\","
	       "\"source\":\"seccomp\",\"count\":1}",
	       a.pid);
	/* the plain spawn's only: the covered ones leave none */
	expect("{\"kind\":\"gap\",\"pid\":%d,\"path\":\"%s\",\"count\":1}", me,
	       prog);

	/* no process image of the helper anywhere */
	if (shim && strrchr(shim, '/')) {
		snprintf(helper, sizeof(helper), "%.*s/ctrace-spawn",
			 (int)(strrchr(shim, '/') - shim), shim);
		expect("{\"exe\":\"%s\",\"absent\":true}", helper);
		expect("{\"path\":\"%s\",\"absent\":true}", helper);
	}
	return 0;
}
