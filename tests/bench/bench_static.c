/* What covering a static binary costs, and how the two mechanisms of
 * DESIGN.md section 6 behave (docs/static.md has the figures).
 *
 *   ct-bench-static loop N       N trapped calls (unlink of a missing
 *                                file) and N untrapped ones (getppid);
 *                                ns per call of each.  Run bare and under
 *                                `ctrace run`: the difference of the first
 *                                is the cost per recorded syscall.
 *   ct-bench-static notify N     the same loop in a child under a seccomp
 *                                user-notification filter answered
 *                                "continue" by this process (mechanism
 *                                only, nothing recorded).
 *   ct-bench-static notify-sync N  the same with the listener in
 *                                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP mode
 *                                (6.6+: the supervisor is woken on the
 *                                trapping task's CPU), as ctrace does.
 *   ct-bench-static notify-block N  the same as notify with the answering
 *                                process blocked in NOTIF_RECV instead of
 *                                poll.
 *   ct-bench-static ptrace N     the same loop in a child under a
 *                                SECCOMP_RET_TRACE filter, this process its
 *                                tracer (seccomp stop + syscall-exit stop
 *                                for the result, as a recorder needs).
 *   ct-bench-static signals N    with a SIGUSR1 handler (SA_RESTART), after
 *                                20 trapped calls: ns per signal sent to
 *                                itself and handled (under `ctrace run`
 *                                the process is traced for its signals:
 *                                each one is a stop, docs/static.md).
 *   ct-bench-static forks N      the same set-up, then us per fork +
 *                                _exit + waitpid (under `ctrace run`, each
 *                                child is traced from its start).
 *   ct-bench-static stdio N      N rounds of fopen + fclose of /dev/null
 *                                and N of mkstemp + close + unlink in
 *                                the current folder: ns per round of
 *                                each (below a static parent, libc's own
 *                                opens in these; preload/gate.c).
 *   ct-bench-static exec PROG ARG...  exec PROG: under `ctrace run`, a
 *                                static parent for a shim-loaded program.
 * Add "sig" after N: SIGALRM every 100 us with a handler without
 * SA_RESTART; the loop counts EINTR failures instead of failing.
 * Built -static, so `ctrace run` covers it through the supervisor; built
 * again dynamic as ct-bench-static-dyn, whose loop under `ctrace run`
 * alone and below `ct-bench-static exec` shows what a static ancestor
 * adds to a shim-loaded program's recorded calls (preload/gate.c).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static volatile sig_atomic_t alarms;

static void on_alarm(int s)
{
	(void)s;
	alarms++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The measured loop: prints ns per trapped / untrapped call, EINTRs. */
static void loop(long n, int sig)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	long eintr = 0, other = 0;
	double t0, t1, t2;

	if (sig) {
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (unlink("/nonexistent/ct-bench") == 0)
			other++;
		else if (errno == EINTR)
			eintr++;
		else if (errno != ENOENT)
			other++;
	}
	t1 = now();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	t2 = now();
	if (sig) {
		it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &it, NULL);
	}
	printf("trapped %.0f ns/call, untrapped %.0f ns/call, EINTR %ld of "
	       "%ld (%ld signals), unexpected %ld\n",
	       (t1 - t0) / n, (t2 - t1) / n, eintr, n, (long)alarms, other);
	fflush(stdout);
}

static int stdio(long n)
{
	double t0, t1, t2;

	t0 = now();
	for (long i = 0; i < n; i++) {
		FILE *f = fopen("/dev/null", "r");

		if (!f) {
			perror("fopen /dev/null");
			return 1;
		}
		fclose(f);
	}
	t1 = now();
	for (long i = 0; i < n; i++) {
		char tmpl[] = "ct-bench-XXXXXX";
		int fd = mkstemp(tmpl);

		if (fd < 0) {
			perror("mkstemp");
			return 1;
		}
		close(fd);
		unlink(tmpl);
	}
	t2 = now();
	printf("fopen+fclose %.0f ns/round, mkstemp+close+unlink %.0f "
	       "ns/round\n",
	       (t1 - t0) / n, (t2 - t1) / n);
	return 0;
}

static int filter(unsigned action, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unlink, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}

static int run_notify(long n, int sig, int sync, int block)
{
	int sv[2], lfd = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { "x", 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		char ack;
		int fd = filter(SECCOMP_RET_USER_NOTIF,
				SECCOMP_FILTER_FLAG_NEW_LISTENER |
					(1u << 5) /* WAIT_KILLABLE_RECV */);

		if (fd < 0)
			_exit(2);
		memset(cbuf, 0, sizeof(cbuf));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		sendmsg(sv[1], &mh, 0);
		close(fd);
		if (read(sv[1], &ack, 1) != 1)
			_exit(3);
		loop(n, sig);
		_exit(0);
	}
	{
		char cbuf[CMSG_SPACE(sizeof(int))], x;
		struct iovec iov = { &x, 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };

		if (recvmsg(sv[0], &mh, 0) == 1 && CMSG_FIRSTHDR(&mh))
			memcpy(&lfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)),
			       sizeof(int));
		if (sync) {
			unsigned long fl = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;

			if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, fl) != 0)
				perror("SECCOMP_IOCTL_NOTIF_SET_FLAGS");
		}
		if (write(sv[0], "k", 1) != 1)
			return 1;
	}
	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		struct pollfd pf = { .fd = lfd, .events = POLLIN };

		if (!block) {
			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				break;
			if (!(pf.revents & POLLIN))
				break; /* POLLHUP: the child is gone */
		}
		memset(&req, 0, sizeof(req));
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
			/* a blocking RECV fails (ENOENT) once no task is left */
			if (block && waitpid(pid, NULL, WNOHANG) == pid)
				return 0;
			continue;
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
	waitpid(pid, NULL, 0);
	return 0;
}

static int run_ptrace(long n, int sig)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		raise(SIGSTOP);
		if (filter(SECCOMP_RET_TRACE, 0) < 0)
			_exit(2);
		loop(n, sig);
		_exit(0);
	}
	waitpid(pid, &st, WUNTRACED);
	if (ptrace(PTRACE_SEIZE, pid, 0,
		   PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL) != 0) {
		perror("ptrace");
		return 1;
	}
	kill(pid, SIGCONT);
	for (;;) {
		int sig_in = 0;

		if (waitpid(pid, &st, __WALL) != pid || WIFEXITED(st) ||
		    WIFSIGNALED(st))
			break;
		if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
			/* to the syscall-exit stop, where the result is */
			ptrace(PTRACE_SYSCALL, pid, 0, 0);
			continue;
		}
		if (WIFSTOPPED(st) && WSTOPSIG(st) != SIGTRAP &&
		    (st >> 16) == 0)
			sig_in = WSTOPSIG(st); /* signal-delivery stop */
		if ((st >> 16) == PTRACE_EVENT_STOP)
			sig_in = 0;
		ptrace(PTRACE_CONT, pid, 0, sig_in);
	}
	return 0;
}

/* signals / forks: a process that catches a signal and has made target
 * calls, as one the supervisor traces */
static int run_caught(long n, int forks)
{
	struct sigaction sa = { .sa_handler = on_alarm,
				.sa_flags = SA_RESTART };
	double t0, t1;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < 20; i++)
		unlink("/nonexistent/ct-bench");
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (!forks) {
			kill(getpid(), SIGUSR1);
			continue;
		}
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		if (p < 0 || waitpid(p, NULL, 0) != p)
			return 1;
	}
	t1 = now();
	if (forks)
		printf("%.1f us per fork + _exit + waitpid\n",
		       (t1 - t0) / n / 1e3);
	else
		printf("%.0f ns per signal (%ld handled)\n", (t1 - t0) / n,
		       (long)alarms);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 100000;
	int sig = argc > 3 && strcmp(argv[3], "sig") == 0;

	if (argc > 2 && strcmp(argv[1], "exec") == 0) {
		execv(argv[2], argv + 2);
		perror(argv[2]);
		return 127;
	}
	if (argc < 2 || n <= 0) {
		fprintf(stderr,
			"usage: %s loop|notify|notify-sync|notify-block|ptrace N "
			"[sig]\n       %s signals|forks|stdio N\n"
			"       %s exec PROG ARG...\n",
			argv[0], argv[0], argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "loop") == 0) {
		loop(n, sig);
		return 0;
	}
	if (strcmp(argv[1], "notify") == 0)
		return run_notify(n, sig, 0, 0);
	if (strcmp(argv[1], "notify-sync") == 0)
		return run_notify(n, sig, 1, 0);
	if (strcmp(argv[1], "notify-block") == 0)
		return run_notify(n, sig, 0, 1);
	if (strcmp(argv[1], "ptrace") == 0)
		return run_ptrace(n, sig);
	if (strcmp(argv[1], "signals") == 0)
		return run_caught(n, 0);
	if (strcmp(argv[1], "forks") == 0)
		return run_caught(n, 1);
	if (strcmp(argv[1], "stdio") == 0)
		return stdio(n);
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
