/* The _FORTIFY_SOURCE open entry points __open_2 __open64_2 __openat_2
 * __openat64_2.  With -D_FORTIFY_SOURCE=2 and -O1, open()/openat() whose
 * flags the compiler cannot see and that pass no mode are routed there
 * (bits/fcntl2.h); the flags come from a volatile so that happens (checked
 * with objdump by the test's author, see below).
 * usage: fortify DIR
 * Expect: each open with its absolute path, flags and result; failures
 * with ENOENT.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "e2e.h"

#if !defined(__USE_FORTIFY_LEVEL) || __USE_FORTIFY_LEVEL < 1
#error "build with -O1 -D_FORTIFY_SOURCE=2 (tests/e2e/CMakeLists.txt)"
#endif

static volatile int v_rdonly = O_RDONLY;
static volatile int v_trunc = O_WRONLY | O_TRUNC;

static void expect_open(const char *name, const char *flags, int r)
{
	if (r >= 0)
		expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags\":\"%s\","
		       "\"result\":%d}",
		       e2e_path(name), flags, r);
	else
		expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags\":\"%s\","
		       "\"result\":-2,\"errno\":\"ENOENT\"}",
		       e2e_path(name), flags);
}

int main(int argc, char **argv)
{
	int fd, dfd;

	e2e_init(argc, argv);
	/* the file to open: created with a constant-flag open (not fortified) */
	close(OK(open("f", O_WRONLY | O_CREAT, 0644)));
	expect_open("f", "O_WRONLY|O_CREAT", 3);

	fd = OK(open("f", v_rdonly)); /* __open_2 */
	expect_open("f", "O_RDONLY", fd);
	close(fd);
	fd = OK(open64(e2e_path("f"), v_trunc)); /* __open64_2 */
	expect_open("f", "O_WRONLY|O_TRUNC", fd);
	close(fd);
	ERR(open("nope", v_rdonly), ENOENT);
	expect_open("nope", "O_RDONLY", -1);

	CHECK(mkdir("d", 0755) == 0);
	dfd = OK(open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	close(OK(openat(dfd, "g", O_WRONLY | O_CREAT, 0600)));
	fd = OK(openat(dfd, "g", v_rdonly)); /* __openat_2 */
	expect_open("d/g", "O_RDONLY", fd);
	close(fd);
	fd = OK(openat64(dfd, "g", v_trunc)); /* __openat64_2 */
	expect_open("d/g", "O_WRONLY|O_TRUNC", fd);
	close(fd);
	ERR(openat(dfd, "nope", v_rdonly), ENOENT);
	expect_open("d/nope", "O_RDONLY", -1);
	fd = OK(openat(AT_FDCWD, "f", v_rdonly)); /* __openat_2, cwd */
	expect_open("f", "O_RDONLY", fd);
	close(fd);

	/* and the symbols called directly, as other compilers' code does */
	fd = OK(__open_2(e2e_path("f"), O_RDONLY));
	expect_open("f", "O_RDONLY", fd);
	close(fd);
	fd = OK(__openat64_2(dfd, "g", O_RDONLY));
	expect_open("d/g", "O_RDONLY", fd);
	close(fd);
	close(dfd);
	return 0;
}
