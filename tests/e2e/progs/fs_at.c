/* dirfd-relative *at calls: openat, mkdirat, renameat (two dirfds),
 * renameat2, linkat, symlinkat, fchmodat, unlinkat, and a dirfd whose
 * folder was renamed after it was opened; an absolute path ignores the
 * dirfd; a bad dirfd fails with EBADF.
 * usage: fs_at DIR
 * Expect: every path absolute, resolved against the folder the dirfd
 * refers to at the time of the call.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "e2e.h"

static void ev1(const char *kind, const char *a, int r, const char *err)
{
	if (r >= 0)
		expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":%d}", kind,
		       e2e_path(a), r);
	else
		expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":%d,"
		       "\"errno\":\"%s\"}",
		       kind, e2e_path(a), r, err);
}

static void ev2(const char *kind, const char *a, const char *b)
{
	expect("{\"kind\":\"%s\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0}",
	       kind, e2e_path(a), e2e_path(b));
}

int main(int argc, char **argv)
{
	int d, d2, fd;

	e2e_init(argc, argv);
	CHECK(mkdir("d", 0755) == 0 && mkdir("d2", 0755) == 0);
	/* not from our cwd: the dirfds must be what resolves */
	CHECK(chdir("/") == 0);
	d = OK(open(e2e_path("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	d2 = OK(open(e2e_path("d2"), O_PATH | O_DIRECTORY | O_CLOEXEC));

	fd = OK(openat(d, "f", O_WRONLY | O_CREAT | O_EXCL, 0600));
	ev1("open", "d/f", fd, NULL);
	close(fd);
	ERR(openat(d, "missing/f", O_RDONLY), ENOENT);
	ev1("open", "d/missing/f", -2, "ENOENT");
	fd = OK(openat(d, e2e_path("abs"), O_WRONLY | O_CREAT, 0600));
	ev1("open", "abs", fd, NULL);
	close(fd);
	OK(mkdirat(d, "sub", 0755));
	ev1("mkdir", "d/sub", 0, NULL);
	OK(renameat(d, "f", d2, "g"));
	ev2("rename", "d/f", "d2/g");
	OK(renameat2(d2, "g", d, "sub/../h", RENAME_NOREPLACE));
	ev2("rename", "d2/g", "d/h");
	OK(linkat(d, "h", d2, "hl", 0));
	ev2("link", "d/h", "d2/hl");
	OK(symlinkat("../d/h", d2, "sl"));
	ev2("symlink", "d/h", "d2/sl");
	OK(fchmodat(d2, "hl", 0640, 0));
	ev1("chmod", "d2/hl", 0, NULL);
	OK(unlinkat(d2, "sl", 0));
	ev1("unlink", "d2/sl", 0, NULL);
	OK(unlinkat(d, "sub", AT_REMOVEDIR));
	ev1("rmdir", "d/sub", 0, NULL);
	ERR(unlinkat(d, "sub", AT_REMOVEDIR), ENOENT);
	ev1("rmdir", "d/sub", -2, "ENOENT");

	/* the folder behind d moves: later calls land in its new place */
	OK(renameat(AT_FDCWD, e2e_path("d"), AT_FDCWD, e2e_path("moved")));
	ev2("rename", "d", "moved");
	fd = OK(openat(d, "after", O_WRONLY | O_CREAT, 0600));
	ev1("open", "moved/after", fd, NULL);
	close(fd);
	OK(unlinkat(d, "h", 0));
	ev1("unlink", "moved/h", 0, NULL);

	/* a closed dirfd: EBADF, no file touched */
	close(d2);
	ERR(unlinkat(d2, "hl", 0), EBADF);
	expect("{\"kind\":\"unlink\",\"result\":-9,\"errno\":\"EBADF\"}");
	close(d);
	return 0;
}
