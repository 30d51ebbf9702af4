/* Threads that start with SIGSYS blocked, which an armed thread must take
 * (a SIGSYS forced while blocked kills the process):
 *  1. a timer_create SIGEV_THREAD callback: glibc starts it with every
 *     signal blocked and without our pthread_create, so it is armed at its
 *     first hook call (open); then a raw openat and a dlopen, whose loader
 *     syscalls trap;
 *  2. a thread whose pthread_attr_setsigmask_np mask blocks SIGSYS;
 *  3. a thread that inherits a SIGSYS blocked with pthread_sigmask.
 * Each thread's raw openat is recorded, and each sees the mask it would
 * have without ctrace (the output is compared with a bare run).
 * usage: sud_threads DIR
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "e2e.h"
#include "sud.h"

#define SIGSYS_BIT (1ull << (SIGSYS - 1))

/* What one thread did, printed by main in a fixed order. */
struct seen {
	bool raw_blocked_first; /* raw rt_sigprocmask before any hook */
	long open_fd; /* libc open (timer only) */
	long raw_fd; /* raw openat */
	bool raw_blocked; /* raw rt_sigprocmask after it */
	bool libc_blocked; /* pthread_sigmask after it */
	bool usr2_blocked;
	bool unblocked; /* SIGSYS after pthread_sigmask(SIG_UNBLOCK) */
	char lib[512]; /* dlopen'd object's path (timer only) */
	const char *name;
};

static struct seen g_timer = { .name = "timer" };
static struct seen g_attr = { .name = "attr" };
static struct seen g_inherit = { .name = "inherit" };
static sem_t g_done;

static bool raw_sigsys_blocked(void)
{
	uint64_t m = 0;

	RAW_IS(raw4(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, sizeof(m)), 0);
	return (m & SIGSYS_BIT) != 0;
}

static long raw_create(const char *name)
{
	long fd = RAW_OK(raw4(SYS_openat, AT_FDCWD, name,
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));

	RAW_IS(raw3(SYS_write, fd, name, strlen(name)), (long)strlen(name));
	RAW_IS(raw1(SYS_close, fd), 0);
	return fd;
}

/* The part every thread does after its start. */
static void probe(struct seen *s, const char *raw_name)
{
	sigset_t m, u;

	s->raw_fd = raw_create(raw_name);
	s->raw_blocked = raw_sigsys_blocked();
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &m) == 0);
	s->libc_blocked = sigismember(&m, SIGSYS) == 1;
	s->usr2_blocked = sigismember(&m, SIGUSR2) == 1;
	sigemptyset(&u);
	sigaddset(&u, SIGSYS);
	CHECK(pthread_sigmask(SIG_UNBLOCK, &u, &m) == 0);
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &m) == 0);
	s->unblocked = sigismember(&m, SIGSYS) == 0;
	/* still armed with SIGSYS unblocked: one more raw call */
	raw_create(raw_name);
}

static void on_timer(union sigval v)
{
	struct seen *s = v.sival_ptr;
	struct link_map *lm = NULL;
	const char *(*version)(void);
	void *h;

	s->raw_blocked_first = raw_sigsys_blocked();
	/* the first hook call arms this thread */
	s->open_fd = open("timer_open", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(s->open_fd >= 0);
	close((int)s->open_fd);
	probe(s, "timer_raw");
	/* ld.so's own syscalls trap: SIGSYS must be deliverable */
	h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		FAIL("dlopen libz.so.1: %s", dlerror());
	CHECK(dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name);
	snprintf(s->lib, sizeof(s->lib), "%s", lm->l_name);
	version = (const char *(*)(void))dlsym(h, "zlibVersion");
	CHECK(version && version()[0] == '1');
	sem_post(&g_done);
}

static void *thread_main(void *arg)
{
	struct seen *s = arg;
	char name[32];

	s->raw_blocked_first = raw_sigsys_blocked();
	snprintf(name, sizeof(name), "%s_raw", s->name);
	probe(s, name);
	return NULL;
}

static void report(const struct seen *s, const char *raw_name)
{
	printf("%s: SIGSYS blocked at start %d, after raw call %d/%d, "
	       "SIGUSR2 %d, unblocked %d, raw fd %ld\n",
	       s->name, s->raw_blocked_first, s->raw_blocked, s->libc_blocked,
	       s->usr2_blocked, s->unblocked, s->raw_fd);
	expect("{\"kind\":\"open\",\"source\":\"sud\",\"path\":\"%s\","
	       "\"result\":%ld,\"count\":2}",
	       e2e_path(raw_name), s->raw_fd);
}

int main(int argc, char **argv)
{
	struct sigevent sev;
	struct itimerspec its;
	pthread_attr_t attr;
	pthread_t th;
	sigset_t m, old;
	timer_t tm;

	e2e_init(argc, argv);
	expect("{\"bare\":true}");
	CHECK(sem_init(&g_done, 0, 0) == 0);

	/* 1. a timer_create SIGEV_THREAD callback */
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = on_timer;
	sev.sigev_value.sival_ptr = &g_timer;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tm) == 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 1000000;
	CHECK(timer_settime(tm, 0, &its, NULL) == 0);
	while (sem_wait(&g_done) != 0)
		CHECK(errno == EINTR);
	CHECK(timer_delete(tm) == 0);
	printf("timer: libc open fd %ld, loaded %s\n", g_timer.open_fd,
	       strrchr(g_timer.lib, '/') ? strrchr(g_timer.lib, '/') + 1
					 : g_timer.lib);
	expect("{\"kind\":\"open\",\"source\":\"libc\",\"path\":\"%s\","
	       "\"result\":%ld}",
	       e2e_path("timer_open"), g_timer.open_fd);
	report(&g_timer, "timer_raw");
	expect("{\"kind\":\"open\",\"source\":\"loader\",\"path\":\"%s\"}",
	       g_timer.lib);

	/* 2. SIGSYS (and SIGUSR2) blocked by the thread attribute */
	CHECK(pthread_attr_init(&attr) == 0);
	sigemptyset(&m);
	sigaddset(&m, SIGSYS);
	sigaddset(&m, SIGUSR2);
	CHECK(pthread_attr_setsigmask_np(&attr, &m) == 0);
	CHECK(pthread_create(&th, &attr, thread_main, &g_attr) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(pthread_attr_destroy(&attr) == 0);
	report(&g_attr, "attr_raw");

	/* 3. SIGSYS blocked here, inherited by the new thread */
	sigemptyset(&m);
	sigaddset(&m, SIGSYS);
	CHECK(pthread_sigmask(SIG_BLOCK, &m, &old) == 0);
	CHECK(pthread_create(&th, NULL, thread_main, &g_inherit) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
	report(&g_inherit, "inherit_raw");
	return 0;
}
