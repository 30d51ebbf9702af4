/* Small stacks (DESIGN.md section 6): the SIGSYS handler needs far more
 * stack than a program's small thread stack or its own small sigaltstack
 * leaves.
 *  1. raw opens deep in a thread with a PTHREAD_STACK_MIN stack;
 *  2. raw opens from a SA_ONSTACK handler running on the program's own
 *     8 KiB sigaltstack.
 * usage: sud_stack DIR
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include "e2e.h"
#include "sud.h"

static const char *g_path;
static volatile long g_fd = -100;

static long open_deep(int depth)
{
	volatile char pad[1024];

	pad[0] = (char)depth;
	if (depth > 0)
		return open_deep(depth - 1) + pad[0] - depth;
	return raw4(SYS_openat, AT_FDCWD, g_path,
		    O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

static void *small(void *arg)
{
	(void)arg;
	/* ~8 KiB of the 16 KiB used before the trap */
	g_fd = open_deep(8);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	g_fd = raw4(SYS_openat, AT_FDCWD, g_path,
		    O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t th;
	struct sigaction sa;
	stack_t ss;

	e2e_init(argc, argv);
	/* output and exit status as without ctrace (check.py) */
	expect("{\"bare\":true}");

	g_path = strdup(e2e_path("small_thread"));
	CHECK(pthread_attr_init(&attr) == 0);
	CHECK(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN) == 0);
	CHECK(pthread_create(&th, &attr, small, NULL) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(g_fd >= 0);
	RAW_IS(raw1(SYS_close, g_fd), 0);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":%ld}",
	       g_path, g_fd);

	g_path = strdup(e2e_path("small_altstack"));
	ss.ss_sp = malloc(8192);
	ss.ss_size = 8192;
	ss.ss_flags = 0;
	CHECK(ss.ss_sp && sigaltstack(&ss, NULL) == 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	g_fd = -100;
	CHECK(raise(SIGUSR1) == 0);
	CHECK(g_fd >= 0);
	RAW_IS(raw1(SYS_close, g_fd), 0);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":%ld}",
	       g_path, g_fd);
	return 0;
}
