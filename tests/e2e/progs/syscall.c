/* libc's syscall() reaching file calls directly: openat2, openat, open,
 * unlinkat, renameat2, unlink; other numbers pass through untouched.
 * usage: syscall DIR
 * Expect: the same events as the libc calls (source "syscall"), absolute
 * paths, results and errno names.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include "e2e.h"

static void ev(const char *kind, const char *a, const char *flags, long r,
	       const char *err)
{
	char fl[128] = "";

	if (flags)
		snprintf(fl, sizeof(fl), "\"flags\":\"%s\",", flags);
	if (r >= 0)
		expect("{\"kind\":\"%s\",\"path\":\"%s\",%s\"result\":%ld,"
		       "\"source\":\"syscall\"}",
		       kind, e2e_path(a), fl, r);
	else
		expect("{\"kind\":\"%s\",\"path\":\"%s\",%s\"result\":%ld,"
		       "\"errno\":\"%s\",\"source\":\"syscall\"}",
		       kind, e2e_path(a), fl, r, err);
}

int main(int argc, char **argv)
{
	struct open_how how = { .flags = O_WRONLY | O_CREAT, .mode = 0600 };
	long r;

	e2e_init(argc, argv);
	r = OK(syscall(SYS_openat2, AT_FDCWD, "o2", &how, sizeof(how)));
	ev("open", "o2", "O_WRONLY|O_CREAT", r, NULL);
	close((int)r);
	how.flags = O_RDONLY;
	how.mode = 0; /* openat2 refuses a mode without O_CREAT */
	how.resolve = RESOLVE_BENEATH;
	ERR(syscall(SYS_openat2, AT_FDCWD, "/etc/hostname", &how, sizeof(how)),
	    EXDEV);
	expect("{\"kind\":\"open\",\"path\":\"/etc/hostname\",\"result\":-18,"
	       "\"errno\":\"EXDEV\",\"source\":\"syscall\"}");

	r = OK(syscall(SYS_openat, AT_FDCWD, "o3", O_WRONLY | O_CREAT | O_TRUNC,
		       0600));
	ev("open", "o3", "O_WRONLY|O_CREAT|O_TRUNC", r, NULL);
	close((int)r);
	ERR(syscall(SYS_openat, AT_FDCWD, "nodir/x", O_RDONLY), ENOENT);
	ev("open", "nodir/x", "O_RDONLY", -2, "ENOENT");
	r = OK(syscall(SYS_open, "o4", O_WRONLY | O_CREAT | O_EXCL, 0600));
	ev("open", "o4", "O_WRONLY|O_CREAT|O_EXCL", r, NULL);
	close((int)r);

	OK(syscall(SYS_renameat2, AT_FDCWD, "o3", AT_FDCWD, "o5", 0));
	expect("{\"kind\":\"rename\",\"path\":\"%s\",\"path2\":\"%s\","
	       "\"result\":0,\"source\":\"syscall\"}",
	       e2e_path("o3"), e2e_path("o5"));
	OK(syscall(SYS_unlinkat, AT_FDCWD, "o5", 0));
	ev("unlink", "o5", NULL, 0, NULL);
	OK(syscall(SYS_unlink, "o4"));
	ev("unlink", "o4", NULL, 0, NULL);
	ERR(syscall(SYS_unlinkat, AT_FDCWD, "o5", 0), ENOENT);
	ev("unlink", "o5", NULL, -2, "ENOENT");

	/* untouched numbers: plain results, errno alone on success */
	CHECK(OK(syscall(SYS_getpid)) == getpid());
	ERR(syscall(SYS_close, -1), EBADF);
	return 0;
}
