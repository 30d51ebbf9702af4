/* Assorted hooks in one run, mixed the way real programs mix them.
 * usage: misc DIR
 * Expect (paths under DIR): open w twice (O_CREAT|O_TRUNC, then O_TRUNC);
 * failing open/unlink (ENOENT); fopen "a+" -> O_RDWR|O_CREAT|O_APPEND;
 * rename over an existing file; mkstemp DIR/tmp.XXXXXX; symlink path =
 * DIR/target path2 = DIR/ln; chdir sub then open "../rel" -> DIR/rel;
 * syscall(SYS_openat2) of DIR/o2 (source syscall); failing connects to
 * 127.0.0.1:1, [::1]:1 (if IPv6), unix:DIR/sock, unix:@ctrace-abstract;
 * clone() without CLONE_VM whose child opens DIR/cl under its own pid.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "e2e.h"

static int clone_fn(void *arg)
{
	int fd = open((const char *)arg, O_WRONLY | O_CREAT, 0600);

	return fd < 0;
}

int main(int argc, char **argv)
{
	char p[4096];
	int fd, s;

	e2e_init(argc, argv);
	fd = OK(open("w", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	expect("{\"kind\":\"open\",\"path\":\"%s\","
	       "\"flags\":\"O_WRONLY|O_CREAT|O_TRUNC\",\"result\":%d}",
	       e2e_path("w"), fd);
	close(fd);
	fd = OK(open("w", O_WRONLY | O_TRUNC));
	expect("{\"kind\":\"open\",\"path\":\"%s\","
	       "\"flags\":\"O_WRONLY|O_TRUNC\",\"result\":%d}",
	       e2e_path("w"), fd);
	close(fd);
	ERR(open("nope/x", O_RDONLY), ENOENT);
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"errno\":\"ENOENT\"}",
	       e2e_path("nope/x"));
	ERR(unlink("nope"), ENOENT);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"errno\":\"ENOENT\"}",
	       e2e_path("nope"));
	FILE *f = OK_P(fopen("a", "a+"));
	expect("{\"kind\":\"open\",\"path\":\"%s\","
	       "\"flags\":\"O_RDWR|O_CREAT|O_APPEND\",\"result\":%d}",
	       e2e_path("a"), fileno(f));
	fclose(f);
	OK(rename("a", "w"));
	expect("{\"kind\":\"rename\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0}",
	       e2e_path("a"), e2e_path("w"));
	snprintf(p, sizeof(p), "%s/tmp.XXXXXX", T);
	fd = OK(mkstemp(p));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"result\":%d}", p, fd);
	close(fd);
	OK(symlink("target", "ln"));
	expect("{\"kind\":\"symlink\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0}",
	       e2e_path("target"), e2e_path("ln"));
	CHECK(mkdir("sub", 0755) == 0 && chdir("sub") == 0);
	fd = OK(open("../rel", O_WRONLY | O_CREAT, 0644));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"result\":%d}",
	       e2e_path("rel"), fd);
	close(fd);
	CHECK(chdir("..") == 0);

	struct open_how how = { .flags = O_WRONLY | O_CREAT, .mode = 0600 };
	long r = OK(syscall(SYS_openat2, AT_FDCWD, "o2", &how, sizeof(how)));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"source\":\"syscall\","
	       "\"result\":%ld}",
	       e2e_path("o2"), r);
	close((int)r);

	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(1),
				  .sin_addr.s_addr = htonl(0x7f000001) };
	s = OK(socket(AF_INET, SOCK_STREAM, 0));
	ERR(connect(s, (void *)&in, sizeof(in)), ECONNREFUSED);
	expect("{\"kind\":\"connect\",\"addr\":\"127.0.0.1:1\","
	       "\"errno\":\"ECONNREFUSED\"}");
	close(s);
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
				    .sin6_port = htons(1),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	s = socket(AF_INET6, SOCK_STREAM, 0);
	if (s >= 0) {
		errno = 0;
		if (connect(s, (void *)&in6, sizeof(in6)) < 0 &&
		    errno == ECONNREFUSED)
			expect("{\"kind\":\"connect\",\"addr\":\"[::1]:1\","
			       "\"errno\":\"ECONNREFUSED\"}");
		close(s);
	}
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "sock");
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	ERR(connect(s, (void *)&un, sizeof(un)), ENOENT);
	expect("{\"kind\":\"connect\",\"addr\":\"unix:%s/sock\","
	       "\"errno\":\"ENOENT\"}",
	       T);
	close(s);
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, "ctrace-abstract", 15);
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	ERR(connect(s, (void *)&un,
		    offsetof(struct sockaddr_un, sun_path) + 16),
	    ECONNREFUSED);
	expect("{\"kind\":\"connect\",\"addr\":\"unix:@ctrace-abstract\","
	       "\"errno\":\"ECONNREFUSED\"}");
	close(s);

	static char stack[64 * 1024] __attribute__((aligned(16)));
	snprintf(p, sizeof(p), "%s/cl", T);
	pid_t pid = OK(clone(clone_fn, stack + sizeof(stack), SIGCHLD, p));
	e2e_wait(pid, 0);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\",\"result\":3}",
	       pid, p);
	return 0;
}
