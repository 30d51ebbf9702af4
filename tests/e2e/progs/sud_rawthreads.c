/* Raw threads (the program's own clone(CLONE_VM|CLONE_THREAD), sharing
 * the main thread's thread pointer) trapping at the same time as the main
 * thread, in three rounds so that the slots of exited raw threads are
 * reused, and a raw fork from a raw thread.  Every raw openat recorded;
 * the main thread's errno untouched by the raw threads' traps.
 * usage: sud_rawthreads DIR
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>

#include "e2e.h"
#include "sud.h"

#define NTHREADS 8
#define ROUNDS 3
#define LOOPS 200

static volatile int g_ctid[NTHREADS];
static volatile long g_fails;
static volatile int g_fork_status = -1;

static void opens(void)
{
	for (int i = 0; i < LOOPS; i++) {
		long fd = raw4(SYS_openat, AT_FDCWD, "/dev/null",
			       O_RDONLY | O_CLOEXEC, 0);

		if (fd < 0)
			__atomic_add_fetch(&g_fails, 1, __ATOMIC_RELAXED);
		raw1(SYS_close, fd);
	}
}

static void opens_then_fork(void)
{
	int st = 0;
	long pid;

	opens();
	pid = raw0(SYS_fork);
	if (pid == 0) {
		raw4(SYS_openat, AT_FDCWD, "/dev/zero", O_RDONLY | O_CLOEXEC,
		     0);
		raw1(SYS_exit_group, 5);
	}
	if (pid < 0 || raw4(SYS_wait4, pid, &st, 0, 0) != pid)
		__atomic_add_fetch(&g_fails, 1, __ATOMIC_RELAXED);
	g_fork_status = st;
}

int main(int argc, char **argv)
{
	const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES |
				    CLONE_SIGHAND | CLONE_THREAD |
				    CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;

	e2e_init(argc, argv);
	expect("{\"bare\":true}");
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < NTHREADS; i++) {
			bool forks = r == ROUNDS - 1 && i == 0;

			g_ctid[i] = 1;
			RAW_OK(raw_clone(
				flags,
				stack_top(64 * 1024,
					  forks ? opens_then_fork : opens),
				NULL, (int *)&g_ctid[i], 0));
		}
		errno = E2E_SENTINEL;
		opens();
		if (errno != E2E_SENTINEL)
			FAIL("errno changed to %d", errno);
		for (int i = 0; i < NTHREADS; i++)
			while (g_ctid[i] != 0)
				raw6(SYS_futex, (long)&g_ctid[i], FUTEX_WAIT, 1,
				     0, 0, 0);
	}
	CHECK(g_fails == 0);
	CHECK(WIFEXITED(g_fork_status) && WEXITSTATUS(g_fork_status) == 5);
	printf("%d rounds of %d raw threads, %d opens each\n", ROUNDS, NTHREADS,
	       LOOPS);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"/dev/null\","
	       "\"count\":%d}",
	       ROUNDS * (NTHREADS + 1) * LOOPS);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"/dev/zero\","
	       "\"count\":1}");
	return 0;
}
