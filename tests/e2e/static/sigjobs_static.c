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

/* TracerPid of /proc/<path>/status */
static int tracer_pid(const char *path)
{
	char buf[4096], *t, p[128];
	int fd;

	snprintf(p, sizeof(p), "/proc/%s/status", path);
	fd = open(p, O_RDONLY);
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
static volatile int spin_tid, spin_go;

/* no system call a filter stops until told to end */
static void *spin(void *arg)
{
	(void)arg;
	spin_tid = (int)gettid();
	while (!spin_go)
		;
	return NULL;
}

/* Whether a new thread and a new child of this (traced) process are
 * traced before they make any call the supervisor sees. */
static void new_tasks(void)
{
	char path[64];
	pthread_t th;
	int fds[2], st;
	pid_t c;
	char b;

	pthread_create(&th, NULL, spin, NULL);
	while (!spin_tid)
		;
	snprintf(path, sizeof(path), "self/task/%d", spin_tid);
	printf("new thread traced %s\n", tracer_pid(path) ? "yes" : "no");
	spin_go = 1;
	pthread_join(th, NULL);
	if (pipe(fds) != 0)
		exit(10);
	c = fork();
	if (c == 0) {
		close(fds[1]);
		_exit(read(fds[0], &b, 1) == 0 ? 0 : 11);
	}
	snprintf(path, sizeof(path), "%d", (int)c);
	printf("new child traced %s\n", tracer_pid(path) ? "yes" : "no");
	close(fds[1]);
	if (waitpid(c, &st, 0) != c || st != 0)
		exit(12);
}

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
	printf("tracer before exec %s\n", tracer_pid("self") ? "yes" : "no");
	new_tasks();
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
