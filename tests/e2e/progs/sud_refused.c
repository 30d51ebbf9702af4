/* The kernel refuses Syscall User Dispatch (here: a seccomp filter makes
 * prctl(PR_SET_SYSCALL_USER_DISPATCH) fail with EPERM, as a container
 * runtime might): the shim records a gap saying so, the process's start
 * says raw syscalls are not captured (source "libc"), and the libc hooks
 * go on recording; raw calls still work.
 * usage: sud_refused DIR  (re-execs itself as "sud_refused child DIR")
 */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#include "e2e.h"
#include "sud.h"

static void deny_sud(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 59, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

int main(int argc, char **argv)
{
	char *args[4];
	long fd;
	pid_t pid;

	e2e_init(argc, argv);
	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		fd = OK(open("hooked", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		close((int)fd);
		fd = RAW_OK(raw4(SYS_openat, AT_FDCWD, "raw",
				 O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		RAW_IS(raw1(SYS_close, fd), 0);
		return 0;
	}
	/* this process itself is armed */
	expect("{\"kind\":\"start\",\"pid\":%d,\"source\":\"sud\"}",
	       (int)getpid());
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		deny_sud();
		args[0] = argv[0];
		args[1] = "child";
		args[2] = (char *)T;
		args[3] = NULL;
		execv("/proc/self/exe", args);
		_exit(127);
	}
	e2e_wait(pid, 0);
	expect("{\"kind\":\"start\",\"pid\":%d,\"source\":\"libc\"}", pid);
	expect("{\"kind\":\"gap\",\"pid\":%d,\"reason\":\"raw syscalls not "
	       "captured: syscall user dispatch denied (prctl: EPERM)\"}",
	       pid);
	expect("{\"kind\":\"open\",\"pid\":%d,\"path\":\"%s\","
	       "\"source\":\"libc\"}",
	       pid, e2e_path("hooked"));
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"absent\":true}",
	       e2e_path("raw"));
	return 0;
}
