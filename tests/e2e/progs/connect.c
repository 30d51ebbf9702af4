/* connect(): to a loopback TCP listener of our own (IPv4, IPv6 when the
 * host has it), to a closed port (ECONNREFUSED), to unix sockets by
 * absolute, relative and abstract name, and to a missing socket file.
 * usage: connect DIR
 * Expect: addr "127.0.0.1:PORT", "[::1]:PORT", "unix:/abs/path",
 * "unix:@name"; result 0 or -errno with its name.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "e2e.h"

static int listener(int family, struct sockaddr *sa, socklen_t len,
		    bool do_listen)
{
	int s = OK(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));

	CHECK(bind(s, sa, len) == 0);
	if (do_listen)
		CHECK(listen(s, 8) == 0);
	CHECK(getsockname(s, sa, &len) == 0);
	return s;
}

static void expect_connect(const char *addr, int r, const char *err)
{
	if (r == 0)
		expect("{\"kind\":\"connect\",\"addr\":\"%s\",\"result\":0}",
		       addr);
	else
		expect("{\"kind\":\"connect\",\"addr\":\"%s\",\"result\":%d,"
		       "\"errno\":\"%s\"}",
		       addr, r, err);
}

int main(int argc, char **argv)
{
	char addr[256];
	int l, s;

	e2e_init(argc, argv);

	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	l = listener(AF_INET, (void *)&in, sizeof(in), true);
	s = OK(socket(AF_INET, SOCK_STREAM, 0));
	OK(connect(s, (void *)&in, sizeof(in)));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(in.sin_port));
	expect_connect(addr, 0, NULL);
	close(s);
	close(l);
	/* bound but not listening: nobody accepts on that port */
	in.sin_port = 0;
	l = listener(AF_INET, (void *)&in, sizeof(in), false);
	s = OK(socket(AF_INET, SOCK_STREAM, 0));
	ERR(connect(s, (void *)&in, sizeof(in)), ECONNREFUSED);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(in.sin_port));
	expect_connect(addr, -111, "ECONNREFUSED");
	close(s);
	close(l);

	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l >= 0 && bind(l, (void *)&in6, sizeof(in6)) == 0) {
		socklen_t len = sizeof(in6);

		CHECK(listen(l, 8) == 0);
		CHECK(getsockname(l, (void *)&in6, &len) == 0);
		s = OK(socket(AF_INET6, SOCK_STREAM, 0));
		OK(connect(s, (void *)&in6, sizeof(in6)));
		snprintf(addr, sizeof(addr), "[::1]:%d", ntohs(in6.sin6_port));
		expect_connect(addr, 0, NULL);
		close(s);
	}
	if (l >= 0)
		close(l);

	/* unix: absolute, then the same socket by a cwd-relative name */
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/sock", T);
	l = listener(AF_UNIX, (void *)&un, sizeof(un), true);
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	OK(connect(s, (void *)&un, sizeof(un)));
	snprintf(addr, sizeof(addr), "unix:%s/sock", T);
	expect_connect(addr, 0, NULL);
	close(s);
	snprintf(un.sun_path, sizeof(un.sun_path), "sock");
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	OK(connect(s, (void *)&un, sizeof(un)));
	expect_connect(addr, 0, NULL);
	close(s);
	close(l);
	snprintf(un.sun_path, sizeof(un.sun_path), "nosock");
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	ERR(connect(s, (void *)&un, sizeof(un)), ENOENT);
	snprintf(addr, sizeof(addr), "unix:%s/nosock", T);
	expect_connect(addr, -2, "ENOENT");
	close(s);

	/* abstract: no file, the name after '@' */
	char name[64];
	int n = snprintf(name, sizeof(name), "ctrace-e2e-%d", (int)getpid());
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, name, (size_t)n);
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				     1 + (size_t)n);
	l = listener(AF_UNIX, (void *)&un, alen, true);
	s = OK(socket(AF_UNIX, SOCK_STREAM, 0));
	OK(connect(s, (void *)&un, alen));
	snprintf(addr, sizeof(addr), "unix:@%s", name);
	expect_connect(addr, 0, NULL);
	close(s);
	close(l);
	return 0;
}
