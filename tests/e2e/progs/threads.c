/* Many threads opening and unlinking at once.
 * usage: threads DIR
 * Expect: for t in 0..7, i in 0..99: open DIR/t-<t>-<i> (O_CREAT|O_EXCL)
 * and its unlink, each with the thread's own tid (distinct from the
 * others'); 800 of each, none lost.
 */
#include <fcntl.h>
#include <pthread.h>

#include "e2e.h"

#define NTHREADS 8
#define NFILES 100

static pid_t g_tid[NTHREADS];

static void *work(void *arg)
{
	long t = (long)arg;
	char p[4096];

	g_tid[t] = gettid();
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/t-%ld-%d", T, t, i);
		errno = E2E_SENTINEL;
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || errno != E2E_SENTINEL)
			return (void *)1;
		close(fd);
		if (unlink(p) != 0 || errno != E2E_SENTINEL)
			return (void *)1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	void *ret;

	e2e_init(argc, argv);
	for (long t = 0; t < NTHREADS; t++)
		CHECK(pthread_create(&th[t], NULL, work, (void *)t) == 0);
	for (int t = 0; t < NTHREADS; t++) {
		CHECK(pthread_join(th[t], &ret) == 0);
		if (ret)
			FAIL("thread %d failed", t);
	}
	for (int t = 0; t < NTHREADS; t++) {
		CHECK(g_tid[t] != getpid());
		for (int u = 0; u < t; u++)
			CHECK(g_tid[t] != g_tid[u]);
		expect("{\"kind\":\"open\",\"tid\":%d,\"pid\":%d,"
		       "\"flags\":\"O_WRONLY|O_CREAT|O_EXCL\",\"count\":%d}",
		       g_tid[t], (int)getpid(), NFILES);
		expect("{\"kind\":\"unlink\",\"tid\":%d,\"result\":0,"
		       "\"count\":%d}",
		       g_tid[t], NFILES);
		expect("{\"kind\":\"unlink\",\"tid\":%d,\"path\":\"%s/t-%d-0\","
		       "\"count\":1}",
		       g_tid[t], T, t);
		expect("{\"kind\":\"unlink\",\"tid\":%d,\"path\":\"%s/t-%d-%d\","
		       "\"count\":1}",
		       g_tid[t], T, t, NFILES - 1);
	}
	expect("{\"kind\":\"unlink\",\"count\":%d}", NTHREADS * NFILES);
	expect("{\"kind\":\"open\",\"flags~\":\"O_EXCL\",\"count\":%d}",
	       NTHREADS * NFILES);
	return 0;
}
