/* Put itself under a seccomp filter of its own that allows everything,
 * then exec its arguments: what a container runtime does to every
 * process.  The shim below sees a filter (PR_GET_SECCOMP: 2) and takes its
 * gated path (preload/gate.c), whose calls must behave as libc's under any
 * filter, not only ctrace's.
 * usage: own_filter PROG [ARG...]
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 1, f };

	if (argc < 2) {
		fprintf(stderr, "usage: %s PROG [ARG...]\n", argv[0]);
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
		perror("seccomp");
		return 1;
	}
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
