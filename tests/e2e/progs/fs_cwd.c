/* chdir and fchdir, then cwd-relative calls: each resolves against the
 * new cwd, including "..", a chdir through a symlink and a failed chdir
 * that leaves the cwd alone.
 * usage: fs_cwd DIR
 * Expect: chdir events with the new cwd as path; the later relative
 * opens/unlinks/renames with absolute paths under it.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "e2e.h"

static void ev(const char *kind, const char *a, int r)
{
	expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":%d}", kind,
	       e2e_path(a), r);
}

int main(int argc, char **argv)
{
	int fd, dfd;

	e2e_init(argc, argv);
	expect("{\"kind\":\"chdir\",\"path\":\"%s\",\"result\":0}", T);
	CHECK(mkdir("a", 0755) == 0 && mkdir("a/b", 0755) == 0);
	CHECK(symlink("a/b", "lnk") == 0);

	OK(chdir("a"));
	ev("chdir", "a", 0);
	fd = OK(open("f", O_WRONLY | O_CREAT, 0644));
	ev("open", "a/f", fd);
	close(fd);
	OK(chdir("b/.."));
	ev("chdir", "a", 0);
	OK(rename("f", "b/f"));
	expect("{\"kind\":\"rename\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0}",
	       e2e_path("a/f"), e2e_path("a/b/f"));
	ERR(chdir("missing"), ENOENT);
	expect("{\"kind\":\"chdir\",\"path\":\"%s\",\"result\":-2,"
	       "\"errno\":\"ENOENT\"}",
	       e2e_path("a/missing"));
	fd = OK(open("still-a", O_WRONLY | O_CREAT, 0644)); /* cwd unchanged */
	ev("open", "a/still-a", fd);
	close(fd);

	/* through a symlink: the cwd is the folder it points to */
	OK(chdir(e2e_path("lnk")));
	ev("chdir", "a/b", 0);
	OK(unlink("f"));
	ev("unlink", "a/b/f", 0);

	/* fchdir: to a folder held open */
	dfd = OK(open(T, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	OK(fchdir(dfd));
	expect("{\"kind\":\"chdir\",\"path\":\"%s\",\"result\":0}", T);
	OK(mkdir("c", 0755));
	ev("mkdir", "c", 0);
	close(dfd);
	ERR(fchdir(dfd), EBADF);
	expect("{\"kind\":\"chdir\",\"result\":-9,\"errno\":\"EBADF\"}");
	expect("{\"kind\":\"chdir\",\"path\":\"\",\"absent\":true}");
	OK(rmdir("c"));
	ev("rmdir", "c", 0);
	OK(chdir(".."));
	fd = OK(open(strrchr(T, '/') + 1, O_RDONLY | O_DIRECTORY));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"result\":%d}", T, fd);
	close(fd);
	return 0;
}
