/* Namespace changes with cwd-relative and absolute paths: rename (also
 * over an existing file), renameat, renameat2 (RENAME_NOREPLACE failing
 * with EEXIST, RENAME_EXCHANGE), link, linkat, symlink, symlinkat, unlink,
 * unlinkat (file and AT_REMOVEDIR), rmdir; each failure's errno.
 * usage: fs_names DIR
 * Expect: path = source, path2 = destination (symlink: path = target made
 * absolute from the link's folder, path2 = the link); rmdir for unlinkat
 * with AT_REMOVEDIR.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "e2e.h"

static void mk(const char *name)
{
	close(OK(open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644)));
}

static void expect2(const char *kind, const char *a, const char *b)
{
	expect("{\"kind\":\"%s\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0}",
	       kind, e2e_path(a), e2e_path(b));
}

static void expect2_err(const char *kind, const char *a, const char *b, int r,
			const char *err)
{
	expect("{\"kind\":\"%s\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":%d,\"errno\":\"%s\"}",
	       kind, e2e_path(a), e2e_path(b), r, err);
}

static void expect1(const char *kind, const char *a, int r, const char *err)
{
	if (r == 0)
		expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":0}", kind,
		       e2e_path(a));
	else
		expect("{\"kind\":\"%s\",\"path\":\"%s\",\"result\":%d,"
		       "\"errno\":\"%s\"}",
		       kind, e2e_path(a), r, err);
}

int main(int argc, char **argv)
{
	e2e_init(argc, argv);
	CHECK(mkdir("sub", 0755) == 0);
	mk("a");
	mk("b");

	OK(rename("a", "b")); /* over an existing file */
	expect2("rename", "a", "b");
	ERR(rename("a", "c"), ENOENT);
	expect2_err("rename", "a", "c", -2, "ENOENT");
	OK(renameat(AT_FDCWD, "b", AT_FDCWD, e2e_path("sub/c")));
	expect2("rename", "b", "sub/c");
	mk("d");
	ERR(renameat2(AT_FDCWD, "d", AT_FDCWD, "sub/c", RENAME_NOREPLACE),
	    EEXIST);
	expect2_err("rename", "d", "sub/c", -17, "EEXIST");
	OK(renameat2(AT_FDCWD, "d", AT_FDCWD, "sub/c", RENAME_EXCHANGE));
	expect2("rename", "d", "sub/c");
	OK(renameat2(AT_FDCWD, "sub/./c", AT_FDCWD, "e", 0));
	expect2("rename", "sub/c", "e");

	OK(link("e", "sub/hard"));
	expect2("link", "e", "sub/hard");
	ERR(link("e", "sub/hard"), EEXIST);
	expect2_err("link", "e", "sub/hard", -17, "EEXIST");
	ERR(link("missing", "x"), ENOENT);
	expect2_err("link", "missing", "x", -2, "ENOENT");
	OK(linkat(AT_FDCWD, "sub/hard", AT_FDCWD, e2e_path("hard2"), 0));
	expect2("link", "sub/hard", "hard2");

	OK(symlink("../e", "sub/soft")); /* relative to the link's folder */
	expect2("symlink", "e", "sub/soft");
	OK(symlink("/etc/hostname", "abs"));
	expect("{\"kind\":\"symlink\",\"path\":\"/etc/hostname\","
	       "\"path2\":\"%s\",\"result\":0}",
	       e2e_path("abs"));
	ERR(symlink("e", "sub/soft"), EEXIST);
	expect2_err("symlink", "sub/e", "sub/soft", -17, "EEXIST");
	OK(symlinkat("hard", AT_FDCWD, "sub/soft2"));
	expect2("symlink", "sub/hard", "sub/soft2");

	OK(unlink("sub/soft")); /* the link, not its target */
	expect1("unlink", "sub/soft", 0, NULL);
	CHECK(access("e", F_OK) == 0);
	ERR(unlink("sub/soft"), ENOENT);
	expect1("unlink", "sub/soft", -2, "ENOENT");
	ERR(unlink("sub"), EISDIR);
	expect1("unlink", "sub", -21, "EISDIR");
	OK(unlinkat(AT_FDCWD, "sub/soft2", 0));
	expect1("unlink", "sub/soft2", 0, NULL);
	ERR(rmdir("sub"), ENOTEMPTY);
	expect1("rmdir", "sub", -39, "ENOTEMPTY");
	OK(unlinkat(AT_FDCWD, e2e_path("sub/hard"), 0));
	expect1("unlink", "sub/hard", 0, NULL);
	ERR(unlinkat(AT_FDCWD, "e", AT_REMOVEDIR), ENOTDIR);
	expect1("rmdir", "e", -20, "ENOTDIR");
	OK(unlinkat(AT_FDCWD, "sub", AT_REMOVEDIR));
	expect1("rmdir", "sub", 0, NULL);
	ERR(rmdir("sub"), ENOENT);
	expect1("rmdir", "sub", -2, "ENOENT");
	OK(rmdir(mkdir("sub2", 0700) == 0 ? "sub2/" : "?"));
	expect1("rmdir", "sub2", 0, NULL);
	return 0;
}
