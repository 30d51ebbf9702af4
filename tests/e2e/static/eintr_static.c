/* Built with -static, and again dynamic as eintr_gated (run below a static
 * parent, where libc's own calls inside execve stop at the filter).  usage: eintr_static N restart|norestart
 * N rounds of file syscalls (open O_CREAT, rename, unlink, mkdir, rmdir,
 * an open of a missing file, fopen, mkstemp, tmpfile and an execve of a
 * missing file) in a fresh folder under TMPDIR, under a
 * SIGALRM every 100 us whose handler is installed with or without
 * SA_RESTART.  None of these calls sleeps interruptibly on a local file
 * system, so run bare none of them fails with EINTR; an EINTR means the
 * call was interrupted somewhere else (the seccomp supervisor's wait,
 * docs/static.md "Signals").  An interrupted call is retried, so the work
 * completes either way.  Prints "eintr E signals S failed F"; exit 0 when
 * no call failed for another reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static long eintr, failed;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* r is the call's result: count EINTR (and say retry), other failures
 * except the expected errno. */
static int seen(long r, int expected)
{
	if (r >= 0 || errno == expected)
		return 0;
	if (errno == EINTR) {
		eintr++;
		return 1;
	}
	failed++;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	const char *tmp = getenv("TMPDIR");
	char dir[4096], a[4200], b[4200], d[4200], miss[4200], t[4200];
	char *const args[] = { miss, NULL };
	long n = argc > 1 ? atol(argv[1]) : 0;

	if (argc != 3 || n <= 0)
		return 2;
	snprintf(dir, sizeof(dir), "%s/eintr-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 2;
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(d, sizeof(d), "%s/d", dir);
	snprintf(miss, sizeof(miss), "%s/missing", dir);
	if (strcmp(argv[2], "restart") == 0)
		sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	/* The first call a process makes once it catches a signal is the
	 * one the supervisor learns that from (it traces the process from
	 * then on): a signal before the supervisor has that call still
	 * fails it (docs/static.md, "Signals", the last of its list).  Make it
	 * before the storm starts; the test is about every call after. */
	unlink(miss);
	setitimer(ITIMER_REAL, &it, NULL);
	for (long i = 0; i < n; i++) {
		int fd;

		while ((fd = open(a, O_CREAT | O_WRONLY, 0644)) < 0 &&
		       seen(fd, 0))
			;
		if (fd >= 0)
			close(fd);
		while (seen(rename(a, b), 0))
			;
		while (seen(unlink(b), 0))
			;
		while (seen(mkdir(d, 0755), 0))
			;
		while (seen(rmdir(d), 0))
			;
		while (seen(open(miss, O_RDONLY), ENOENT))
			;
		FILE *f;
		while (!(f = fopen(a, "w")) && seen(-1, 0))
			;
		if (f)
			fclose(f);
		while (seen(unlink(a), 0))
			;
		do
			snprintf(t, sizeof(t), "%s/tXXXXXX", dir);
		while ((fd = mkstemp(t)) < 0 && seen(fd, 0));
		if (fd >= 0) {
			close(fd);
			unlink(t);
		}
		while (!(f = tmpfile()) && seen(-1, 0))
			;
		if (f)
			fclose(f);
		while (seen(execve(miss, args, NULL), ENOENT))
			;
	}
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &it, NULL);
	rmdir(dir);
	printf("eintr %ld signals %ld failed %ld\n", eintr, (long)alarms,
	       failed);
	return failed ? 1 : 0;
}
