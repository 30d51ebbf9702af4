/* Programs that fight over SIGSYS and signal masks while issuing raw
 * syscalls (DESIGN.md section 6), each of which breaks a naive Syscall
 * User Dispatch shim:
 *  1. its own SIGSYS handler (sigaction) and its own seccomp filter that
 *     traps getcpu into that handler (the shim must keep its handler and
 *     chain to the program's for seccomp traps);
 *  2. SIGSYS blocked through sigprocmask and through raw rt_sigprocmask
 *     (a forced SIGSYS while blocked kills the process);
 *  3. raw rt_sigprocmask (the handler's return would undo it);
 *  4. a handler installed by raw rt_sigaction with its own restorer, which
 *     returns through a raw rt_sigreturn, and whose mask blocks SIGSYS.
 * usage: sud_signals DIR
 */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <ucontext.h>

#include "e2e.h"
#include "sud.h"

#define TRAP_NR SYS_getcpu
#define TRAP_VALUE 4242

struct ksa {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

static volatile int g_traps, g_usr2;
static volatile long g_usr2_fd = -1;
static const char *g_usr2_path;

/* Our seccomp trap: emulate getcpu as the value TRAP_VALUE. */
static void on_sigsys(int sig, siginfo_t *si, void *p)
{
	ucontext_t *uc = p;

	(void)sig;
	if (si->si_code != 1 /* SYS_SECCOMP */ || si->si_syscall != TRAP_NR)
		return;
	g_traps++;
	uc->uc_mcontext.gregs[REG_RAX] = TRAP_VALUE;
}

/* Runs with every signal blocked (mask below), SIGSYS included. */
static void on_usr2(int sig, siginfo_t *si, void *p)
{
	(void)sig;
	(void)si;
	(void)p;
	g_usr2++;
	g_usr2_fd = raw4(SYS_openat, AT_FDCWD, g_usr2_path,
			 O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

void my_restorer(void);
__asm__(".text\n"
	"my_restorer:\n"
	"	mov $15, %rax\n"
	"	syscall\n"
	"	hlt\n");

static void seccomp_trap_getcpu(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRAP_NR, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

static long raw_open(const char *name)
{
	long fd = RAW_OK(raw4(SYS_openat, AT_FDCWD, name,
			      O_WRONLY | O_CREAT | O_CLOEXEC, 0644));

	RAW_IS(raw1(SYS_close, fd), 0);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":%ld}",
	       e2e_path(name), fd);
	return fd;
}

int main(int argc, char **argv)
{
	struct sigaction sa, old;
	struct ksa k;
	sigset_t set, cur;
	unsigned long kset, kold;

	e2e_init(argc, argv);
	/* output and exit status as without ctrace (check.py) */
	expect("{\"bare\":true}");

	/* 1. own SIGSYS handler + own seccomp filter */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGSYS, &sa, NULL) == 0);
	CHECK(sigaction(SIGSYS, NULL, &old) == 0);
	CHECK(old.sa_sigaction == on_sigsys);
	seccomp_trap_getcpu();
	RAW_IS(raw3(TRAP_NR, 0, 0, 0), TRAP_VALUE);
	CHECK(g_traps == 1);
	CHECK(syscall(TRAP_NR, 0, 0, 0) == TRAP_VALUE);
	CHECK(g_traps == 2);
	raw_open("after_seccomp");

	/* 2. SIGSYS blocked, through libc and raw */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	raw_open("blocked_libc");
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(sigismember(&cur, SIGSYS));
	CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
	kset = 1ul << (SIGSYS - 1);
	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_BLOCK, &kset, NULL, 8), 0);
	raw_open("blocked_raw");
	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &kold, 8), 0);
	CHECK(kold & kset);
	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_UNBLOCK, &kset, NULL, 8), 0);

	/* 3. raw rt_sigprocmask must stick */
	kset = 1ul << (SIGUSR1 - 1);
	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_BLOCK, &kset, NULL, 8), 0);
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(sigismember(&cur, SIGUSR1));
	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &kold, 8), 0);
	CHECK(kold & kset);
	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_UNBLOCK, &kset, NULL, 8), 0);
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(!sigismember(&cur, SIGUSR1));
	RAW_IS(raw4(SYS_rt_sigprocmask, 99, &kset, NULL, 8), -EINVAL);

	/* 4. raw rt_sigaction with our own restorer and a full mask */
	g_usr2_path = strdup(e2e_path("from_usr2"));
	memset(&k, 0, sizeof(k));
	k.handler = (void *)on_usr2;
	k.flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */;
	k.restorer = (void *)my_restorer;
	k.mask = ~0ul;
	RAW_IS(raw4(SYS_rt_sigaction, SIGUSR2, &k, NULL, 8), 0);
	for (int i = 0; i < 3; i++) {
		RAW_IS(raw3(SYS_tgkill, raw0(SYS_getpid), raw0(SYS_gettid),
			    SIGUSR2),
		       0);
		CHECK(g_usr2 == i + 1);
		CHECK(g_usr2_fd >= 0);
		RAW_IS(raw1(SYS_close, g_usr2_fd), 0);
		expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
		       "\"result\":%ld}",
		       g_usr2_path, g_usr2_fd);
	}
	/* the mask after the handler: as before it (nothing blocked) */
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(!sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGSYS));
	raw_open("end");
	return 0;
}
