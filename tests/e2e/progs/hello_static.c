/* Built with -static: no shim can load into it; the seccomp supervisor of
 * ctrace run covers it instead (docs/static.md).
 * usage: hello_static [DIR]
 * As the root of `ctrace run` (with DIR): its start is recorded by the
 * supervisor (source seccomp), no gap, and its exit.
 * Exec'd without arguments (by static_gap): prints nothing, exits 0.
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argv;
	if (argc < 2)
		return 0;
	printf("{\"kind\":\"start\",\"pid\":%d,\"source\":\"seccomp\","
	       "\"count\":1}\n",
	       (int)getpid());
	printf("{\"kind\":\"gap\",\"absent\":true}\n");
	printf("{\"kind\":\"exit\",\"pid\":%d,\"exit_code\":0}\n",
	       (int)getpid());
	return 0;
}
