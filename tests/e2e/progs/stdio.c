/* stdio and temp-file entry points: fopen fopen64 freopen freopen64
 * remove (file, directory, missing) mkstemp mkstemp64 mkostemp mkostemp64
 * mkstemps mkstemps64 mkostemps mkostemps64 tmpfile tmpfile64.
 * usage: stdio DIR
 * Expect: an open per call with the flags glibc derives from the mode
 * string and result = the stream's fd; remove of a file as unlink, of a
 * directory as rmdir only; mkstemp* with the generated name; tmpfile as
 * an O_TMPFILE open of /tmp.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "e2e.h"

static void expect_open(const char *path, const char *flags, int fd)
{
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags\":\"%s\","
	       "\"result\":%d}",
	       path, flags, fd);
}

int main(int argc, char **argv)
{
	char tmpl[4096];
	FILE *f;
	int fd;

	e2e_init(argc, argv);

	f = OK_P(fopen("w", "w"));
	expect_open(e2e_path("w"), "O_WRONLY|O_CREAT|O_TRUNC", fileno(f));
	CHECK(fputs("hi\n", f) >= 0 && fclose(f) == 0);
	f = OK_P(fopen64(e2e_path("w"), "r"));
	expect_open(e2e_path("w"), "O_RDONLY", fileno(f));
	fclose(f);
	f = OK_P(fopen("a", "a+e"));
	expect_open(e2e_path("a"), "O_RDWR|O_CREAT|O_APPEND|O_CLOEXEC",
		    fileno(f));
	fclose(f);
	f = OK_P(fopen("x", "wx"));
	expect_open(e2e_path("x"), "O_WRONLY|O_CREAT|O_EXCL|O_TRUNC",
		    fileno(f));
	fclose(f);
	ERR_P(fopen("x", "wx"), EEXIST);
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"result\":-17,"
	       "\"errno\":\"EEXIST\"}",
	       e2e_path("x"));
	ERR_P(fopen("nodir/f", "r"), ENOENT);
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"flags\":\"O_RDONLY\","
	       "\"result\":-2,\"errno\":\"ENOENT\"}",
	       e2e_path("nodir/f"));

	/* freopen: the stream now reads/writes another file */
	f = OK_P(fopen("w", "r"));
	f = OK_P(freopen("fr", "w", f));
	expect_open(e2e_path("fr"), "O_WRONLY|O_CREAT|O_TRUNC", fileno(f));
	f = OK_P(freopen64("fr", "r+", f));
	expect_open(e2e_path("fr"), "O_RDWR", fileno(f));
	fclose(f);

	/* remove: unlink for a file, rmdir for a directory */
	OK(remove("fr"));
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0}",
	       e2e_path("fr"));
	CHECK(mkdir("d", 0755) == 0);
	/* glibc's remove() leaves unlink's EISDIR behind on success */
	errno = E2E_SENTINEL;
	CHECK(remove("d") == 0 && errno == EISDIR);
	expect("{\"kind\":\"rmdir\",\"path\":\"%s\",\"result\":0}",
	       e2e_path("d"));
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"absent\":true}",
	       e2e_path("d"));
	ERR(remove("fr"), ENOENT);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":-2,"
	       "\"errno\":\"ENOENT\"}",
	       e2e_path("fr"));

	/* mkstemp family: the generated name */
	snprintf(tmpl, sizeof(tmpl), "%s/tmp.XXXXXX", T);
	fd = OK(mkstemp(tmpl));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL", fd);
	CHECK(strncmp(tmpl, T, strlen(T)) == 0 && !strstr(tmpl, "XXXXXX"));
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "%s/tmpo.XXXXXX", T);
	fd = OK(mkostemp(tmpl, O_CLOEXEC));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC", fd);
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "%s/tmps.XXXXXX.c", T);
	fd = OK(mkstemps(tmpl, 2));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL", fd);
	close(fd);
	/* the 64 variants and the suffix-and-flags ones, each its own hook */
	snprintf(tmpl, sizeof(tmpl), "%s/t64.XXXXXX", T);
	fd = OK(mkstemp64(tmpl));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL", fd);
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "%s/to64.XXXXXX", T);
	fd = OK(mkostemp64(tmpl, O_APPEND));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL|O_APPEND", fd);
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "%s/ts64.XXXXXX.h", T);
	fd = OK(mkstemps64(tmpl, 2));
	CHECK(strcmp(tmpl + strlen(tmpl) - 2, ".h") == 0);
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL", fd);
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "%s/tos.XXXXXX.txt", T);
	fd = OK(mkostemps(tmpl, 4, O_CLOEXEC));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC", fd);
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "%s/tos64.XXXXXX.o", T);
	fd = OK(mkostemps64(tmpl, 2, O_APPEND | O_CLOEXEC));
	expect_open(tmpl, "O_RDWR|O_CREAT|O_EXCL|O_APPEND|O_CLOEXEC", fd);
	close(fd);
	snprintf(tmpl, sizeof(tmpl), "nodir/tos64.XXXXXX.o");
	ERR(mkostemps64(tmpl, 2, O_CLOEXEC), ENOENT);
	expect("{\"kind\":\"open\",\"flags\":\"O_RDWR|O_CREAT|O_EXCL|"
	       "O_CLOEXEC\",\"result\":-2,\"errno\":\"ENOENT\"}");
	snprintf(tmpl, sizeof(tmpl), "nodir/tmp.XXXXXX");
	ERR(mkstemp(tmpl), ENOENT);
	expect("{\"kind\":\"open\",\"flags\":\"O_RDWR|O_CREAT|O_EXCL\","
	       "\"result\":-2,\"errno\":\"ENOENT\"}");

	/* tmpfile: an unnamed file in /tmp */
	f = OK_P(tmpfile());
	expect("{\"kind\":\"open\",\"path\":\"/tmp\",\"flags~\":\"O_TMPFILE\","
	       "\"result\":%d}",
	       fileno(f));
	fclose(f);
	f = OK_P(tmpfile64());
	expect("{\"kind\":\"open\",\"path\":\"/tmp\",\"flags~\":\"O_TMPFILE\","
	       "\"result\":%d}",
	       fileno(f));
	fclose(f);
	return 0;
}
