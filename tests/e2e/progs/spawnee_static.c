/* Built with -static: the program static_spawn starts with posix_spawn(p),
 * covered by the seccomp supervisor through the ctrace-spawn helper.
 * usage: spawnee_static DIR            (as the root of ctrace run)
 *        spawnee_static work DIR CODE  (spawned: files and a connect)
 *        spawnee_static probe OUT ...  (spawned: writes what it sees)
 * work: creates DIR/s.txt, renames it to DIR/t.txt, deletes it, connects
 * to a loopback listener of its own, exits with CODE.  As the root it does
 * the same, prints the events it expects (each once, source seccomp) and
 * exits 0.  probe: writes to OUT its argv, environment, cwd, open fds
 * (flags and targets), blocked signals, ignored and default dispositions,
 * process group and session, scheduler, so that static_spawn can compare
 * a covered spawn with a plain one.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

static int work(const char *dir, unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char a[PATH_MAX], b[PATH_MAX];
	int fd, ls, cs;

	snprintf(a, sizeof(a), "%s/s.txt", dir);
	snprintf(b, sizeof(b), "%s/t.txt", dir);
	fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) != 0)
		return 1;
	if (rename(a, b) != 0 || unlink(b) != 0)
		return 1;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
		return 1;
	cs = socket(AF_INET, SOCK_STREAM, 0);
	if (cs < 0 || connect(cs, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return 1;
	close(cs);
	close(ls);
	*port = ntohs(sa.sin_port);
	return 0;
}

static char rep[1 << 16];
static size_t rn;

static void __attribute__((format(printf, 1, 2))) put(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (rn < sizeof(rep))
		rn += (size_t)vsnprintf(rep + rn, sizeof(rep) - rn, fmt, ap);
	va_end(ap);
}

static int probe(const char *out, int argc, char **argv)
{
	char buf[PATH_MAX];
	sigset_t mask;
	int fd;

	/* everything is read before OUT is opened */
	put("argc %d\n", argc);
	for (int i = 0; i < argc; i++)
		put("argv[%d] <%s>\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		put("env <%s>\n", *e);
	if (getcwd(buf, sizeof(buf)))
		put("cwd %s\n", buf);
	for (fd = 0; fd < 1024; fd++) {
		char link[64];
		int fdfl = fcntl(fd, F_GETFD), fl;
		ssize_t n;

		if (fdfl < 0)
			continue;
		fl = fcntl(fd, F_GETFL);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		put("fd %d fd_flags %d fl_flags %#o -> %s\n", fd, fdfl, fl,
		    buf);
	}
	sigprocmask(SIG_BLOCK, NULL, &mask);
	put("blocked");
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&mask, s) == 1)
			put(" %d", s);
	put("\nignored");
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			put(" %d", s);
	}
	put("\nnot default");
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
			put(" %d", s);
	}
	put("\npgrp_is_self %d sid_is_self %d sched %d\n",
	    getpgrp() == getpid(), getsid(0) == getpid(),
	    sched_getscheduler(0));
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, rep, rn) != (ssize_t)rn || close(fd) != 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned port = 0;
	int me = (int)getpid();
	char cwd[PATH_MAX];

	if (argc >= 3 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2], argc, argv);
	if (argc >= 4 && strcmp(argv[1], "work") == 0)
		return work(argv[2], &port) ? 1 : atoi(argv[3]);
	if (argc != 2 || !getcwd(cwd, sizeof(cwd)))
		return 2;
	if (work(argv[1], &port))
		return 1;
	printf("{\"kind\":\"start\",\"pid\":%d,\"source\":\"seccomp\","
	       "\"count\":1}\n",
	       me);
	printf("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s/s.txt\","
	       "\"source\":\"seccomp\",\"count\":1}\n",
	       me, argv[1]);
	printf("{\"kind\":\"rename\",\"pid\":%d,\"path\":\"%s/s.txt\","
	       "\"path2\":\"%s/t.txt\",\"source\":\"seccomp\",\"count\":1}\n",
	       me, argv[1], argv[1]);
	printf("{\"kind\":\"unlink\",\"pid\":%d,\"path\":\"%s/t.txt\","
	       "\"source\":\"seccomp\",\"count\":1}\n",
	       me, argv[1]);
	printf("{\"kind\":\"connect\",\"pid\":%d,\"addr\":\"127.0.0.1:%u\","
	       "\"source\":\"seccomp\",\"count\":1}\n",
	       me, port);
	printf("{\"kind\":\"gap\",\"absent\":true}\n");
	printf("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}\n", me);
	return 0;
}
