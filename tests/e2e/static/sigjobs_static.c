/* Built with -static.  usage: sigjobs_static DIR CAT
 * What a static program whose tasks the seccomp supervisor traces
 * (docs/static.md, "Signals") must still see, printed one fact a line so
 * that a run under `ctrace run` can be compared with a bare one:
 *   - a child that catches SIGUSR1 (no SA_RESTART) makes target calls,
 *     stops itself with SIGSTOP: its parent sees it stopped, continues it
 *     and sees it continued, then its exit status;
 *   - every SIGUSR1 sent reaches its handler once;
 *   - an open of a FIFO with no writer, cut by SIGALRM without
 *     SA_RESTART, still fails with EINTR (it sleeps once running);
 *   - a program it execs (CAT, dynamic) is not traced: TracerPid 0, where
 *     this program was ("tracer before exec", which differs); exec'd from
 *     the main thread of a child, then from a second thread of this
 *     process (the exec'ing thread takes the leader's tid).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t usr1, alrm;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void on_alrm(int sig)
{
	(void)sig;
	alrm++;
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* target calls: the supervisor sees (and traces) the task */
static void touch(const char *dir, int n)
{
	char p[4200];

	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/t%d", dir, i);
		close(open(p, O_CREAT | O_WRONLY, 0644));
		unlink(p);
	}
}

static int stopper(const char *dir)
{
	install(SIGUSR1, on_usr1);
	touch(dir, 20);
	for (int i = 0; i < 5; i++) {
		kill(getpid(), SIGUSR1);
		touch(dir, 2);
	}
	raise(SIGSTOP);
	touch(dir, 5);
	return usr1 == 5 ? 7 : 100 + usr1;
}

static int tracer_pid(void)
{
	char buf[4096], *t;
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	t = strstr(buf, "TracerPid:");
	return t ? atoi(t + 10) : -1;
}

static const char *cat;

static void *exec_cat(void *arg)
{
	touch(arg, 20);
	execl(cat, cat, "/proc/self/status", (char *)NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	char fifo[4200];
	int st, fd, e;
	pid_t c;

	if (argc != 3)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);

	c = fork();
	if (c == 0)
		_exit(stopper(argv[1]));
	if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st))
		return 3;
	printf("stopped by %s\n", WSTOPSIG(st) == SIGSTOP ? "SIGSTOP" : "?");
	kill(c, SIGCONT);
	if (waitpid(c, &st, WCONTINUED) != c || !WIFCONTINUED(st))
		return 4;
	printf("continued\n");
	if (waitpid(c, &st, 0) != c)
		return 5;
	printf("exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	install(SIGALRM, on_alrm);
	touch(argv[1], 20);
	snprintf(fifo, sizeof(fifo), "%s/fifo", argv[1]);
	if (mkfifo(fifo, 0600) != 0)
		return 6;
	alarm(1);
	fd = open(fifo, O_RDONLY);
	e = errno;
	printf("fifo open %s, alarms %d\n",
	       fd < 0 && e == EINTR ? "EINTR" : "not interrupted", (int)alrm);
	unlink(fifo);

	/* under ctrace: the supervisor (not compared with the bare run) */
	printf("tracer before exec %s\n", tracer_pid() ? "yes" : "no");
	cat = argv[2];
	c = fork();
	if (c == 0)
		exec_cat(argv[1]);
	if (c < 0 || waitpid(c, &st, 0) != c || st != 0)
		return 8;
	pthread_create(&th, NULL, exec_cat, argv[1]);
	pause();
	return 9;
}
