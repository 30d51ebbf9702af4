/* Below a static binary's filter, a shim-loaded program's recorded calls
 * pass the filter in BPF (preload/gate.c): no round trip to a supervisor.
 *
 * usage: static_gate DIR
 * A child puts itself under ctrace's filter (ct_static_filter with
 * SECCOMP_RET_USER_NOTIF, as an exec hook does before a static binary),
 * hands the listener to this process, which answers "continue" to each
 * call and counts them, and execs this program again ("child").  Between
 * two markers (freopen "r+" of /dev/null: an openat with O_RDWR made
 * inside libc, which the gate leaves to libc) the child makes each call
 * the gate covers through libc, fopen, tmpfile and the mkstemp family
 * included, one through syscall() and one raw syscall instruction, and
 * one fopen of a "c" mode, whose open is libc's own.
 * Expect, under ctrace: that fopen's open is the one call stopped between
 * the markers, and each call is recorded once by the shim.  Without
 * ctrace (no shim) every target syscall in the window stops.  The streams
 * and files behave as glibc's in both: an "a" stream's position is the
 * file's end, "e" sets FD_CLOEXEC, also after a freopen, temporary files
 * are 0600 and their names keep the template.  After the window, a thread blocked in open()
 * of a FIFO is cancelled, as in libc.
 */
#include <ctype.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "common/static.h"
#include "sud.h"

#define MAX_STOPS 64

/* the program's own count of target syscalls in the window */
static int n_calls;
#define C(expr) (n_calls++, (expr))

static void marker(FILE *f)
{
	CHECK(freopen("/dev/null", "r+", f) == f);
}

/* a stream on a file ctrace's gate made: what it was opened with */
static void check_stream(FILE *f, bool cloexec, bool rw)
{
	int fd = fileno(f), fdf = fcntl(fd, F_GETFD);

	CHECK(fdf >= 0 && !!(fdf & FD_CLOEXEC) == cloexec);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == (rw ? O_RDWR : O_RDONLY));
}

/* a template filled in: same length, same text around six characters of
 * glibc's alphabet, a new 0600 file */
static void check_temp(const char *tmpl, const char *name, int fd)
{
	size_t n = strlen(tmpl);
	const char *x = strstr(tmpl, "XXXXXX");
	struct stat st;

	CHECK(fd >= 0 && strlen(name) == n);
	CHECK(!strncmp(name, tmpl, (size_t)(x - tmpl)) &&
	      !strcmp(x + 6, name + (x - tmpl) + 6));
	for (int i = 0; i < 6; i++)
		CHECK(isalnum((unsigned char)name[x - tmpl + i]));
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 07777) == 0600 && st.st_size == 0);
}

/* open() is a cancellation point, and stays one through the gate (which
 * makes the call itself, asynchronous cancellation around it): a thread
 * blocked in open() of a FIFO with no writer is cancelled. */
static volatile pid_t blocked_tid;

static void *open_fifo(void *arg)
{
	(void)arg;
	blocked_tid = (pid_t)syscall(SYS_gettid);
	open("fifo", O_RDONLY);
	return NULL; /* only when not cancelled */
}

static char task_state(pid_t tid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

static void cancel_in_open(void)
{
	struct timespec until;
	pthread_t t;
	void *ret = NULL;
	int r;

	OK(mkfifo("fifo", 0600));
	CHECK(pthread_create(&t, NULL, open_fifo, NULL) == 0);
	for (int ms = 0; !blocked_tid || task_state(blocked_tid) != 'S'; ms++) {
		if (ms == 10000)
			FAIL("the thread did not block in open() of a FIFO");
		usleep(1000);
	}
	CHECK(pthread_cancel(t) == 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	r = pthread_timedjoin_np(t, &ret, &until);
	if (r != 0) {
		/* not cancelled: let its open finish, then say so */
		close(open("fifo", O_WRONLY | O_NONBLOCK));
		pthread_join(t, &ret);
		FAIL("a thread blocked in open() was not cancelled");
	}
	CHECK(ret == PTHREAD_CANCELED);
	unlink("fifo");
}

static void child(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	volatile int rdonly = O_RDONLY; /* not a constant: __open_2 */
	char tmpl[] = "tmpXXXXXX", t2[] = "t2XXXXXX", t3[] = "t3XXXXXX.c",
	     t4[] = "t4XXXXXX.c";
	int fd, fd2, fd3, fd4, s, c;
	FILE *m, *f, *fa, *fw, *ft, *fc;
	char buf[8] = "";

	strcpy(sun.sun_path, "sock");
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	OK(bind(s, (void *)&sun, sizeof(sun)));
	OK(listen(s, 1));
	c = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	fd = OK(open("log", O_CREAT | O_WRONLY | O_TRUNC, 0600));
	CHECK(write(fd, "12345", 5) == 5);
	close(fd);

	m = OK_P(fopen("/dev/null", "r"));
	marker(m);
	fd = OK(C(open("a", O_CREAT | O_WRONLY, 0600)));
	close(fd);
	close(OK(C(openat(AT_FDCWD, "a", O_RDONLY))));
	close(OK(C(open("a", rdonly))));
	close(OK(C(openat(AT_FDCWD, "a", rdonly)))); /* __openat_2 */
	close(OK(C(creat("b", 0600))));
	OK(C(truncate("b", 0)));
	OK(C(link("a", "c")));
	OK(C(linkat(AT_FDCWD, "c", AT_FDCWD, "d", 0)));
	OK(C(symlink("a", "e")));
	OK(C(symlinkat("a", AT_FDCWD, "f")));
	OK(C(rename("c", "g")));
	OK(C(renameat(AT_FDCWD, "g", AT_FDCWD, "h")));
	OK(C(renameat2(AT_FDCWD, "h", AT_FDCWD, "i", RENAME_NOREPLACE)));
	OK(C(renameat2(AT_FDCWD, "i", AT_FDCWD, "j", 0)));
	OK(C(mkdir("m", 0700)));
	OK(C(mkdirat(AT_FDCWD, "n", 0700)));
	OK(C(rmdir("m")));
	OK(C(unlinkat(AT_FDCWD, "n", AT_REMOVEDIR)));
	OK(C(chmod("a", 0644)));
	OK(C(fchmodat(AT_FDCWD, "a", 0600, 0)));
	OK(C(unlink("j")));
	OK(C(remove("d")));
	OK(C(mkdir("r", 0700)));
	/* glibc's remove: unlink says EISDIR, rmdir; errno stays EISDIR */
	errno = 0;
	CHECK(C(C(remove("r"))) == 0);
	CHECK(errno == EISDIR);
	ERR(C(open("missing/x", O_RDONLY)), ENOENT);
	ERR(C(unlink("missing")), ENOENT);
	OK(C(connect(c, (void *)&sun, sizeof(sun))));
	OK(C(syscall(SYS_unlinkat, AT_FDCWD, "e", 0)));
	RAW_IS(C(raw1(SYS_unlink, "f")), 0);
	f = OK_P(C(fopen("a", "r")));
	fa = OK_P(C(fopen64("log", "a")));
	fw = OK_P(C(fopen("w", "w+e")));
	ft = OK_P(C(tmpfile()));
	fd = C(mkstemp(tmpl));
	fd2 = C(mkostemp(t2, O_CLOEXEC));
	fd3 = C(mkstemps(t3, 2));
	fd4 = C(mkostemps(t4, 2, O_APPEND));
	fc = OK_P(C(fopen("log", "rc"))); /* libc's own open */
	marker(m);

	check_stream(f, false, false);
	CHECK(ftell(fa) == 5); /* glibc seeks an "a" stream to the end */
	CHECK(fputs("6", fa) >= 0 && fflush(fa) == 0);
	check_stream(fw, true, true);
	CHECK(fputs("w", fw) >= 0 && fseek(fw, 0, SEEK_SET) == 0 &&
	      fread(buf, 1, 1, fw) == 1 && buf[0] == 'w');
	/* glibc's freopen keeps an "e" stream's descriptor close-on-exec */
	CHECK(freopen("w", "r", fw) == fw);
	check_stream(fw, true, false);
	check_stream(ft, false, true);
	CHECK(fputs("t", ft) >= 0 && fseek(ft, 0, SEEK_SET) == 0 &&
	      fread(buf, 1, 1, ft) == 1 && buf[0] == 't');
	check_temp("tmpXXXXXX", tmpl, fd);
	check_temp("t2XXXXXX", t2, fd2);
	check_temp("t3XXXXXX.c", t3, fd3);
	check_temp("t4XXXXXX.c", t4, fd4);
	CHECK((fcntl(fd2, F_GETFD) & FD_CLOEXEC) &&
	      !(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	CHECK(fcntl(fd4, F_GETFL) & O_APPEND);
	CHECK(fread(buf, 1, 6, fc) == 6 && !memcmp(buf, "123456", 6));

	fclose(m);
	fclose(f);
	fclose(fa);
	fclose(fw);
	fclose(ft);
	fclose(fc);
	close(fd);
	close(fd2);
	close(fd3);
	close(fd4);
	close(c);
	close(s);
	unlink(tmpl);
	unlink(t2);
	unlink(t3);
	unlink(t4);
	unlink("log");
	unlink("w");
	unlink("a");
	unlink("b");
	unlink("sock");
	cancel_in_open();
	f = OK_P(fopen("n_calls", "w"));
	fprintf(f, "%d\n", n_calls);
	fclose(f);

	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags~\":\"O_CREAT\","
	       "\"count\":1}",
	       e2e_path("a"));
	expect("{\"kind\":\"rename\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0,\"count\":1}",
	       e2e_path("c"), e2e_path("g"));
	expect("{\"kind\":\"rmdir\",\"path\":\"%s\",\"result\":0,\"count\":1}",
	       e2e_path("r"));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"errno\":\"ENOENT\","
	       "\"count\":1}",
	       e2e_path("missing/x"));
	expect("{\"kind\":\"connect\",\"addr\":\"unix:%s\",\"result\":0,"
	       "\"count\":1}",
	       e2e_path("sock"));
	expect("{\"kind\":\"unlink\",\"source\":\"syscall\",\"path\":\"%s\","
	       "\"result\":0,\"count\":1}",
	       e2e_path("e"));
	expect("{\"kind\":\"unlink\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":0,\"count\":1}",
	       e2e_path("f"));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags~\":\"O_APPEND\","
	       "\"count\":1}",
	       e2e_path("log"));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags~\":\"O_CLOEXEC\","
	       "\"count\":1}",
	       e2e_path("w"));
	expect("{\"kind\":\"open\",\"path\":\"/tmp\",\"flags~\":"
	       "\"O_TMPFILE\",\"count\":1}");
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags~\":\"O_EXCL\","
	       "\"count\":1}",
	       e2e_path(tmpl));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags~\":\"O_CLOEXEC\","
	       "\"count\":1}",
	       e2e_path(t2));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"count\":1}", e2e_path(t3));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags~\":\"O_APPEND\","
	       "\"count\":1}",
	       e2e_path(t4));
}

/* In the forked child: the filter, the listener to the parent, exec. */
static void start(int sock, char **argv)
{
	struct sock_filter f[CT_STATIC_FILTER_MAX];
	struct sock_fprog prog = { 0, f };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	char byte = 'l';
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	long lfd;

	prog.len = (unsigned short)ct_static_filter(f, SECCOMP_RET_USER_NOTIF);
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		      SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	CHECK(lfd >= 0);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &(int){ (int)lfd }, sizeof(int));
	CHECK(sendmsg(sock, &mh, 0) == 1);
	close((int)lfd);
	execl("/proc/self/exe", argv[0], "child", T, (char *)NULL);
	FAIL("exec: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm;
	int fd = -1;

	CHECK(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) == 1);
	cm = CMSG_FIRSTHDR(&mh);
	CHECK(cm && cm->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	int sv[2], lfd, st, markers = 0, stops = 0, want, n = -1;
	int stopped[MAX_STOPS];
	bool traced = getenv("CTRACE_RING") != NULL;
	pid_t pid;
	FILE *f;

	e2e_init(argc, argv);
	if (argc > 2 && !strcmp(argv[1], "child")) {
		child();
		return 0;
	}
	OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = OK(fork());
	if (pid == 0) {
		close(sv[0]);
		start(sv[1], argv);
	}
	close(sv[1]);
	lfd = recv_fd(sv[0]);
	/* serve until the child is gone; it cannot exit while one of its
	 * calls (exit_group included) waits for an answer */
	for (;;) {
		struct pollfd p = { lfd, POLLIN, 0 };
		struct seccomp_notif no;
		struct seccomp_notif_resp re;

		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (poll(&p, 1, 100) <= 0 || !(p.revents & POLLIN))
			continue;
		memset(&no, 0, sizeof(no));
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &no) != 0)
			continue;
		if (no.data.nr == SYS_openat && no.data.args[2] == O_RDWR)
			markers++;
		else if (markers == 1 && stops < MAX_STOPS)
			stopped[stops++] = no.data.nr;
		memset(&re, 0, sizeof(re));
		re.id = no.id;
		re.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &re);
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	f = OK_P(fopen("n_calls", "r"));
	CHECK(fscanf(f, "%d", &n) == 1);
	fclose(f);
	unlink("n_calls");
	/* traced: only the open of fopen's "c" mode, inside libc */
	want = traced ? 1 : n;
	if (markers != 2 || stops != want ||
	    (traced && stopped[0] != SYS_openat)) {
		fprintf(stderr,
			"FAIL: %d markers, %d calls stopped between "
			"them (want %d of %d):",
			markers, stops, want, n);
		for (int i = 0; i < stops; i++)
			fprintf(stderr, " %d", stopped[i]);
		fputc('\n', stderr);
		return 1;
	}
	return 0;
}
