/* Raw process and thread creation (DESIGN.md section 6):
 *  1. a raw clone of a thread onto its own stack (re-issued naively from
 *     a SIGSYS handler, the child would return on the handler's stack);
 *  2. a raw vfork whose child issues a raw execve (a vfork child would run
 *     on the handler's frames; as a fork it is traced, exec included);
 *  3. a raw clone of a spawn-style CLONE_VM|CLONE_VFORK child on its own
 *     stack that execs;
 *  4. a raw stackless clone (a fork);
 *  5. a raw thread with a thread pointer of its own (CLONE_SETTLS, as Go
 *     makes them) into a block the shim must never write.
 * The raw threads are armed: their raw openat is recorded with their tid.
 * usage: sud_clone DIR
 */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>

#include "e2e.h"
#include "sud.h"

static const char *g_thread_path;
static volatile long g_thread_fd = -100;
static char *const g_true_argv[] = { "true", NULL };
extern char **environ;

/* On a raw thread: raw syscalls only (it shares our TLS). */
static void thread_fn(void)
{
	long fd = raw4(SYS_openat, AT_FDCWD, g_thread_path,
		       O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0)
		raw3(SYS_write, fd, "raw thread\n", 11);
	raw1(SYS_close, fd);
	g_thread_fd = fd;
}

/* 5: the thread's TLS block, its thread pointer at the middle (where a
 * TCB's self pointer goes), the rest a pattern that must stay. */
#define TLS_WORDS 1024
#define TLS_FILL 0xa5a5a5a5a5a5a5a5ull
static uint64_t g_tls[TLS_WORDS];
static const char *g_tls_path;
static volatile long g_tls_fd = -100;
static volatile unsigned long g_tls_fs;

static void tls_fn(void)
{
	unsigned long fs = 0;
	long fd = raw4(SYS_openat, AT_FDCWD, g_tls_path,
		       O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	raw1(SYS_close, fd);
	raw2(SYS_arch_prctl, ARCH_GET_FS, &fs);
	g_tls_fs = fs;
	g_tls_fd = fd;
}

static void spawn_fn(void)
{
	raw3(SYS_execve, "/bin/true", g_true_argv, environ);
	raw1(SYS_exit_group, 127);
}

int main(int argc, char **argv)
{
	static volatile int ctid;
	long pid, tid;
	char buf[32];
	int st, fd;

	e2e_init(argc, argv);
	/* output and exit status as without ctrace (check.py) */
	expect("{\"bare\":true}");

	/* 1. a raw thread */
	g_thread_path = strdup(e2e_path("from_thread"));
	ctid = 1;
	tid = RAW_OK(raw_clone(
		CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID,
		stack_top(64 * 1024, thread_fn), NULL, (int *)&ctid, 0));
	while (ctid != 0)
		raw6(SYS_futex, (long)&ctid, FUTEX_WAIT, 1, 0, 0, 0);
	CHECK(g_thread_fd >= 0);
	fd = OK(open(g_thread_path, O_RDONLY));
	CHECK(read(fd, buf, sizeof(buf)) == 11);
	close(fd);
	CHECK(tid > 0 && tid != getpid() && tid <= 4194304);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"tid\":%ld,\"result\":%ld,\"count\":1}",
	       g_thread_path, tid, g_thread_fd);

	/* 2. raw vfork + raw execve in the child */
	pid = RAW_OK(raw0(SYS_vfork));
	if (pid == 0) {
		raw3(SYS_execve, "/bin/true", g_true_argv, environ);
		raw1(SYS_exit_group, 127);
	}
	CHECK(waitpid((pid_t)pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect("{\"kind\":\"fork\",\"source\":\"sud\",\"result\":%ld,"
	       "\"count\":1}",
	       pid);
	expect("{\"kind\":\"exec\",\"source\":\"sud\",\"pid\":%ld,"
	       "\"path\":\"/bin/true\",\"count\":1}",
	       pid);
	expect("{\"kind\":\"start\",\"pid\":%ld,\"argv0\":\"true\","
	       "\"count\":1}",
	       pid);

	/* 3. spawn-style: CLONE_VM|CLONE_VFORK on a stack of its own */
	pid = RAW_OK(raw_clone(CLONE_VM | CLONE_VFORK | SIGCHLD,
			       stack_top(64 * 1024, spawn_fn), NULL, NULL, 0));
	CHECK(waitpid((pid_t)pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect("{\"kind\":\"fork\",\"source\":\"sud\",\"result\":%ld,"
	       "\"count\":1}",
	       pid);

	/* 4. a stackless raw clone: a fork */
	pid = RAW_OK(raw5(SYS_clone, SIGCHLD, 0, 0, 0, 0));
	if (pid == 0) {
		raw4(SYS_openat, AT_FDCWD, "from_clone_child",
		     O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		raw1(SYS_exit_group, 3);
	}
	CHECK(waitpid((pid_t)pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	expect("{\"kind\":\"fork\",\"source\":\"sud\",\"result\":%ld,"
	       "\"count\":1}",
	       pid);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"pid\":%ld,"
	       "\"path\":\"%s\",\"count\":1}",
	       pid, e2e_path("from_clone_child"));

	/* 5. a raw thread with its own thread pointer */
	g_tls_path = strdup(e2e_path("from_tls_thread"));
	for (int i = 0; i < TLS_WORDS; i++)
		g_tls[i] = TLS_FILL;
	g_tls[TLS_WORDS / 2] = (uintptr_t)&g_tls[TLS_WORDS / 2];
	ctid = 1;
	tid = RAW_OK(raw_clone(CLONE_VM | CLONE_FS | CLONE_FILES |
				       CLONE_SIGHAND | CLONE_THREAD |
				       CLONE_SYSVSEM | CLONE_SETTLS |
				       CLONE_CHILD_CLEARTID,
			       stack_top(64 * 1024, tls_fn), NULL, (int *)&ctid,
			       (uintptr_t)&g_tls[TLS_WORDS / 2]));
	while (ctid != 0)
		raw6(SYS_futex, (long)&ctid, FUTEX_WAIT, 1, 0, 0, 0);
	CHECK(g_tls_fd >= 0);
	CHECK(g_tls_fs == (uintptr_t)&g_tls[TLS_WORDS / 2]);
	for (int i = 0; i < TLS_WORDS; i++)
		if (i != TLS_WORDS / 2 && g_tls[i] != TLS_FILL)
			FAIL("the thread's TLS word %d changed",
			     i - TLS_WORDS / 2);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"tid\":%ld,\"result\":%ld,\"count\":1}",
	       g_tls_path, tid, g_tls_fd);
	return 0;
}
