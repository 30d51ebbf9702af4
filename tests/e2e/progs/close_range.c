/* Programs that close every fd they did not open (close_range, closefrom,
 * CLOSE_RANGE_CLOEXEC before exec) stay traced, and so do their children.
 * usage: close_range DIR
 * Expect: after close_range(3, ~0U, 0) our own unlink of DIR/self; a fork
 * child that runs closefrom(3) then execs rm DIR/child (chain
 * e2e_close_range -> rm); a child that marks every fd close-on-exec then
 * execs sh, whose rm removes DIR/grandchild.
 */
#include <fcntl.h>
#include <linux/close_range.h>

#include "e2e.h"

static void mk(const char *name)
{
	close(OK(open(name, O_WRONLY | O_CREAT, 0644)));
}

int main(int argc, char **argv)
{
	pid_t pid;

	e2e_init(argc, argv);
	mk("self");
	mk("child");
	mk("grandchild");

	OK(close_range(3, ~0U, 0));
	OK(unlink("self"));
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0,"
	       "\"pid\":%d}",
	       e2e_path("self"), (int)getpid());

	pid = OK(fork());
	if (pid == 0) {
		closefrom(3);
		execl("/usr/bin/rm", "rm", e2e_path("child"), (char *)NULL);
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"exec\",\"pid\":%d,\"exe\":\"/usr/bin/rm\","
	       "\"result\":0}",
	       pid);
	expect("{\"kind\":\"unlink\",\"pid\":%d,\"path\":\"%s\",\"result\":0,"
	       "\"chain\":[\"e2e_close_range\",\"rm\"]}",
	       pid, e2e_path("child"));

	pid = OK(fork());
	if (pid == 0) {
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		execl("/bin/sh", "sh", "-c", "rm grandchild; true",
		      (char *)NULL);
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0,"
	       "\"chain\":[\"e2e_close_range\",\"sh\",\"rm\"]}",
	       e2e_path("grandchild"));
	CHECK(access("self", F_OK) != 0 && access("child", F_OK) != 0 &&
	      access("grandchild", F_OK) != 0);
	/* after all that, our own later events still arrive */
	mk("last");
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"pid\":%d}",
	       e2e_path("last"), (int)getpid());
	return 0;
}
