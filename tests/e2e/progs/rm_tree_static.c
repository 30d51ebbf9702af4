/* Built with -static: starts a dynamic shell that deletes a folder.
 * usage: rm_tree_static DIR
 * Expect: each deletion once, recorded by rm's own shim (source libc),
 * with the lineage static program -> sh -> rm; the shell's start once.
 */
#include <sys/stat.h>

#include "e2e.h"

int main(int argc, char **argv)
{
	const char *files[] = { "t/a", "t/b", "t/s/c" };
	pid_t pid;
	FILE *f;

	e2e_init(argc, argv);
	OK(mkdir("t", 0755));
	OK(mkdir("t/s", 0755));
	for (int i = 0; i < 3; i++) {
		f = fopen(files[i], "w");
		CHECK(f);
		fclose(f);
	}
	pid = OK(fork());
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "rm -rf t", (char *)NULL);
		_exit(127);
	}
	e2e_wait(pid, 0);
	CHECK(access("t", F_OK) != 0);
	for (int i = 0; i < 3; i++)
		expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0,"
		       "\"chain\":[\"e2e_rm_tree_static\",\"sh\",\"rm\"],"
		       "\"count\":1}",
		       e2e_path(files[i]));
	expect("{\"kind\":\"rmdir\",\"path\":\"%s\",\"result\":0,"
	       "\"chain\":[\"e2e_rm_tree_static\",\"sh\",\"rm\"],"
	       "\"count\":1}",
	       e2e_path("t/s"));
	expect("{\"kind\":\"rmdir\",\"path\":\"%s\",\"count\":1}",
	       e2e_path("t"));
	expect("{\"kind\":\"start\",\"argv0\":\"sh\",\"count\":1}");
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}", (int)pid);
	return 0;
}
