/* Raw syscalls (the syscall instruction in this program, not libc) from
 * the main thread, from several threads, from a raw fork child and from a
 * signal handler: each target call recorded with source "sud", and each
 * result exactly what the kernel gives without ctrace.
 * usage: sud_raw DIR
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include "e2e.h"
#include "sud.h"

#define NTHREADS 4

static void *thread_main(void *arg)
{
	long i = (long)arg;
	char name[32];
	const char *p;
	long fd;

	snprintf(name, sizeof(name), "t%ld", i);
	p = e2e_path(name);
	fd = RAW_OK(raw4(SYS_openat, AT_FDCWD, p,
			 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	RAW_IS(raw1(SYS_close, fd), 0);
	RAW_IS(raw1(SYS_unlink, p), 0);
	return (void *)fd;
}

static const char *g_sig_path;
static volatile long g_sig_r = 1;

static void on_usr1(int sig)
{
	(void)sig;
	g_sig_r = raw3(SYS_unlinkat, AT_FDCWD, g_sig_path, 0);
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	const char *a, *b, *d, *f;
	long fd, r, pid;
	int st;

	e2e_init(argc, argv);
	/* output and exit status as without ctrace (check.py) */
	expect("{\"bare\":true}");
	/* e2e_path's buffers are reused: keep copies */
	a = strdup(e2e_path("a"));
	b = strdup(e2e_path("b"));
	d = strdup(e2e_path("dir"));

	/* main thread: open, rename over nothing, mkdir, failures */
	fd = RAW_OK(raw4(SYS_openat, AT_FDCWD, "a",
			 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":%ld,\"flags~\":\"O_EXCL\"}",
	       a, fd);
	RAW_IS(raw3(SYS_write, fd, "hello\n", 6), 6);
	RAW_IS(raw1(SYS_close, fd), 0);
	RAW_IS(raw4(SYS_openat, AT_FDCWD, "a",
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644),
	       -EEXIST);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":-17,\"errno\":\"EEXIST\"}",
	       a);
	RAW_IS(raw5(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, b, 0), 0);
	expect("{\"kind\":\"rename\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"path2\":\"%s\",\"result\":0}",
	       a, b);
	RAW_IS(raw2(SYS_mkdir, d, 0755), 0);
	expect("{\"kind\":\"mkdir\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":0}",
	       d);
	RAW_IS(raw2(SYS_chmod, b, 0600), 0);
	expect("{\"kind\":\"chmod\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":0}",
	       b);
	RAW_IS(raw2(SYS_truncate, b, 2), 0);
	expect("{\"kind\":\"truncate\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":0}",
	       b);
	RAW_IS(raw1(SYS_rmdir, d), 0);
	expect("{\"kind\":\"rmdir\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":0}",
	       d);
	RAW_IS(raw1(SYS_unlink, "nope"), -ENOENT);
	expect("{\"kind\":\"unlink\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":-2}",
	       e2e_path("nope"));
	/* a raw chdir keeps later relative paths right */
	RAW_IS(raw2(SYS_mkdir, "sub", 0755), 0);
	RAW_IS(raw1(SYS_chdir, "sub"), 0);
	fd = RAW_OK(raw4(SYS_openat, AT_FDCWD, "rel",
			 O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	RAW_IS(raw1(SYS_close, fd), 0);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s/sub/rel\","
	       "\"result\":%ld}",
	       T, fd);
	RAW_IS(raw1(SYS_chdir, ".."), 0);

	/* threads */
	for (long i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&th[i], NULL, thread_main, (void *)i) ==
		      0);
	for (long i = 0; i < NTHREADS; i++) {
		char name[32];

		CHECK(pthread_join(th[i], NULL) == 0);
		snprintf(name, sizeof(name), "t%ld", i);
		/* the fds are racy between threads: not printed, so that
		 * the output stays the same as without ctrace */
		expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
		       "\"flags~\":\"O_CREAT\",\"count\":1}",
		       e2e_path(name));
		expect("{\"kind\":\"unlink\",\"source\":\"sud\",\"path\":\"%s\","
		       "\"result\":0,\"count\":1}",
		       e2e_path(name));
	}

	/* a raw fork child: its own raw open, then a raw exit_group */
	pid = RAW_OK(raw0(SYS_fork));
	if (pid == 0) {
		f = e2e_path("child");
		fd = raw4(SYS_openat, AT_FDCWD, f,
			  O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		raw1(SYS_exit_group, fd >= 0 ? 7 : 99);
	}
	expect("{\"kind\":\"fork\",\"source\":\"sud\",\"result\":%ld,"
	       "\"count\":1}",
	       pid);
	CHECK(waitpid((pid_t)pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"pid\":%ld,\"count\":1}",
	       e2e_path("child"), pid);
	expect("{\"kind\":\"exit\",\"pid\":%ld,\"exit_code\":7}", pid);

	/* a signal handler's raw unlink */
	g_sig_path = b;
	CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
	RAW_IS(raw3(SYS_tgkill, raw0(SYS_getpid), raw0(SYS_gettid), SIGUSR1),
	       0);
	CHECK(g_sig_r == 0);
	expect("{\"kind\":\"unlink\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":0}",
	       b);

	/* the content the raw calls left */
	r = access(b, F_OK);
	CHECK(r == -1 && errno == ENOENT);
	return 0;
}
