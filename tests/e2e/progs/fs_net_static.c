/* Built with -static: covered by the seccomp supervisor of ctrace run.
 * usage: fs_net_static DIR
 * Creates, renames and deletes files (relative paths and a dirfd), makes
 * and removes a folder, connects to a loopback listener of its own, forks
 * a child that execs /bin/true, and does trapped calls under a storm of
 * SIGALRM (SA_RESTART, as Go, Rust's signal-hook and musl's signal() set
 * it): no call may fail, and each is recorded once although a signal may
 * interrupt the supervisor's wait and restart it (docs/static.md says
 * what a handler without SA_RESTART sees).
 * Expect: each call once with source "seccomp" and an absolute path; the
 * fork; /bin/true's own shim start exactly once, below this program; the
 * exits with their codes.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "e2e.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct sigaction act = { .sa_handler = on_alarm,
				 .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	int fd, dfd, ls, cs, me = (int)getpid();
	pid_t pid;

	e2e_init(argc, argv);
	fd = OK(open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644));
	CHECK(write(fd, "x", 1) == 1);
	close(fd);
	expect("{\"kind\":\"start\",\"pid\":%d,\"source\":\"seccomp\","
	       "\"argv0\":\"e2e_fs_net_static\"}",
	       me);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\","
	       "\"source\":\"seccomp\",\"flags~\":\"O_CREAT\"}",
	       me, e2e_path("a.txt"));
	OK(rename("a.txt", "b.txt"));
	expect("{\"kind\":\"rename\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"source\":\"seccomp\"}",
	       e2e_path("a.txt"), e2e_path("b.txt"));
	OK(mkdir("d", 0755));
	expect("{\"kind\":\"mkdir\",\"path\":\"%s\",\"source\":\"seccomp\"}",
	       e2e_path("d"));
	dfd = OK(open("d", O_RDONLY | O_DIRECTORY));
	fd = OK(openat(dfd, "in.txt", O_CREAT | O_WRONLY, 0600));
	close(fd);
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"source\":\"seccomp\"}",
	       e2e_path("d/in.txt"));
	OK(unlinkat(dfd, "in.txt", 0));
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"source\":\"seccomp\"}",
	       e2e_path("d/in.txt"));
	close(dfd);
	OK(rmdir("d"));
	expect("{\"kind\":\"rmdir\",\"path\":\"%s\",\"source\":\"seccomp\"}",
	       e2e_path("d"));
	OK(unlink("b.txt"));
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"source\":\"seccomp\","
	       "\"count\":1}",
	       e2e_path("b.txt"));

	ls = OK(socket(AF_INET, SOCK_STREAM, 0));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	OK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)));
	OK(listen(ls, 1));
	OK(getsockname(ls, (struct sockaddr *)&sa, &sl));
	cs = OK(socket(AF_INET, SOCK_STREAM, 0));
	OK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)));
	expect("{\"kind\":\"connect\",\"pid\":%d,\"addr\":\"127.0.0.1:%u\","
	       "\"source\":\"seccomp\"}",
	       me, ntohs(sa.sin_port));
	close(cs);
	close(ls);

	/* Signals while calls wait for the supervisor: restarted, once. */
	sigemptyset(&act.sa_mask);
	OK(sigaction(SIGALRM, &act, NULL));
	OK(setitimer(ITIMER_REAL, &it, NULL));
	for (int i = 0; i < 3000; i++) {
		errno = 0;
		if (unlink("never-there") != -1 || errno != ENOENT)
			FAIL("unlink under signals: errno %d (%s)", errno,
			     strerror(errno));
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			FAIL("open under signals: %s", strerror(errno));
		close(fd);
	}
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	OK(setitimer(ITIMER_REAL, &it, NULL));
	fprintf(stderr, "fs_net_static: %d alarms\n", (int)alarms);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"source\":\"seccomp\","
	       "\"count\":3000}",
	       e2e_path("never-there"));

	pid = OK(fork());
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"fork\",\"pid\":%d,\"result\":%d}", me, (int)pid);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"path\":\"/bin/true\","
	       "\"argv\":[\"true\"],\"source\":\"seccomp\"}",
	       (int)pid);
	expect("{\"kind\":\"start\",\"pid\":%d,\"argv0\":\"true\","
	       "\"chain\":[\"e2e_fs_net_static\",\"true\"],\"count\":1}",
	       (int)pid);
	expect("{\"kind\":\"start\",\"pid\":%d,\"source\":\"seccomp\","
	       "\"count\":0}",
	       (int)pid);
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}", (int)pid);
	expect("{\"kind\":\"gap\",\"absent\":true}");
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0,"
	       "\"source\":\"seccomp\"}",
	       me);
	return 0;
}
