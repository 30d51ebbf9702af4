/* Built -static: exec its arguments.  Under `ctrace run` the exec hook
 * that starts it installs the static-binary filter, so what it execs runs
 * below that filter, as a program a Go agent starts does.
 * usage: exec_static PROG [ARG...]
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROG [ARG...]\n", argv[0]);
		return 2;
	}
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
