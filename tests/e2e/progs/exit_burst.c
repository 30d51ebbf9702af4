/* The root's own exit record after a burst: with ctrace run (its parent)
 * stopped, 20,000 opens of /dev/null, then SIGCONT to it and exit 3 at
 * once.  When ctrace run reaps it, most of the burst and the exit record
 * the shim wrote last are still in the ring: they are stored first, so
 * the exit is the shim's ("libc") and ctrace run's own record of the
 * reaping is the repeat that is dropped.  Run bare, the parent is check.py
 * (stopped and continued alike).
 * usage: exit_burst DIR
 * Expect: one exit of the root, code 3, source "libc"; {"exit":3}.
 */
#include <fcntl.h>
#include <signal.h>

#include "e2e.h"

int main(int argc, char **argv)
{
	e2e_init(argc, argv);
	OK(kill(getppid(), SIGSTOP));
	for (int i = 0; i < 20000; i++)
		close(OK(open("/dev/null", O_RDONLY)));
	expect("{\"kind\":\"open\",\"path\":\"/dev/null\",\"count\":20000}");
	expect("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":3,"
	       "\"source\":\"libc\",\"count\":1}",
	       (int)getpid());
	expect("{\"exit\":3}");
	fflush(stdout);
	OK(kill(getppid(), SIGCONT));
	exit(3);
}
