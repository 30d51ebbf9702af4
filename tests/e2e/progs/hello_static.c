/* Built with -static: the shim cannot load into it.
 * usage: hello_static [DIR]
 * As the root of `ctrace run` (with DIR): nothing of it is recorded from
 * the inside (no start); ctrace run records a gap naming it and why, and
 * its exit.
 * Exec'd without arguments (by static_gap): prints nothing, exits 0.
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argv;
	if (argc < 2)
		return 0;
	printf("{\"kind\":\"start\",\"absent\":true}\n");
	printf("{\"kind\":\"gap\",\"pid\":%d,\"source\":\"ctrace\","
	       "\"reason\":\"static binary: the shim cannot load into it\"}\n",
	       (int)getpid());
	printf("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0,"
	       "\"source\":\"ctrace\"}\n",
	       (int)getpid());
	return 0;
}
