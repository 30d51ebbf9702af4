/* creat, truncate, truncate64, mkdir, chmod, fchmodat (cwd-relative), each
 * succeeding and failing.
 * usage: fs_create DIR
 * Expect: creat as an open O_WRONLY|O_CREAT|O_TRUNC; truncate/chmod/mkdir
 * events with absolute paths and results, errno names on failure.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "e2e.h"

static void expect_ok(const char *kind, const char *name)
{
	expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":0}", kind,
	       e2e_path(name));
}

static void expect_err(const char *kind, const char *name, int r,
		       const char *err)
{
	expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":%d,"
	       "\"errno\":\"%s\"}",
	       kind, e2e_path(name), r, err);
}

int main(int argc, char **argv)
{
	struct stat st;
	int fd;

	e2e_init(argc, argv);

	fd = OK(creat("c", 0644));
	expect("{\"kind\":\"open\",\"path\":\"%s\","
	       "\"flags\":\"O_WRONLY|O_CREAT|O_TRUNC\",\"result\":%d}",
	       e2e_path("c"), fd);
	CHECK(write(fd, "0123456789", 10) == 10);
	close(fd);
	fd = OK(creat64(e2e_path("c"), 0644)); /* clobbers it */
	expect("{\"kind\":\"open\",\"path\":\"%s\","
	       "\"flags\":\"O_WRONLY|O_CREAT|O_TRUNC\",\"result\":%d}",
	       e2e_path("c"), fd);
	CHECK(write(fd, "0123456789", 10) == 10);
	close(fd);
	ERR(creat("nodir/c", 0644), ENOENT);
	expect_err("open", "nodir/c", -2, "ENOENT");

	OK(truncate("c", 3));
	expect_ok("truncate", "c");
	CHECK(stat("c", &st) == 0 && st.st_size == 3);
	OK(truncate64(e2e_path("c"), 0));
	expect_ok("truncate", "c");
	ERR(truncate("missing", 0), ENOENT);
	expect_err("truncate", "missing", -2, "ENOENT");
	CHECK(mkdir("sub", 0755) == 0);
	expect_ok("mkdir", "sub");
	ERR(truncate("sub", 0), EISDIR);
	expect_err("truncate", "sub", -21, "EISDIR");

	ERR(mkdir("sub", 0755), EEXIST);
	expect_err("mkdir", "sub", -17, "EEXIST");
	OK(mkdir("sub/../sub2", 0700));
	expect_ok("mkdir", "sub2");
	ERR(mkdir("nodir/sub", 0755), ENOENT);
	expect_err("mkdir", "nodir/sub", -2, "ENOENT");

	OK(chmod("c", 0600));
	expect_ok("chmod", "c");
	CHECK(stat("c", &st) == 0 && (st.st_mode & 0777) == 0600);
	ERR(chmod("missing", 0600), ENOENT);
	expect_err("chmod", "missing", -2, "ENOENT");
	OK(fchmodat(AT_FDCWD, "sub2", 0755, 0));
	expect_ok("chmod", "sub2");
	ERR(fchmodat(AT_FDCWD, "missing", 0600, 0), ENOENT);
	expect_err("chmod", "missing", -2, "ENOENT");
	return 0;
}
