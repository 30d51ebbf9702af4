/* Event timestamps against the program's own clock: each open's `ts` must
 * lie between the CLOCK_REALTIME reads just before and just after the
 * call (within SLACK_NS), whether the shim read the clock for it or
 * derived it from the TSC (docs/ring.md, "Timestamps").
 * usage: clock DIR
 * Calls, all open(DIR/<name>, O_RDONLY) of missing files (ENOENT):
 *   - the main thread: bursts back to back (derived from the TSC) with
 *     sleeps of 0.1-3 ms between (the anchor ages out), ~40 ms in all;
 *   - a second thread doing the same at once (anchors are per thread);
 *   - a SIGALRM handler every 200 us, interrupting the main thread's calls
 *     anywhere, also in the middle of updating its anchor.
 * Each expectation carries "ts>=" and "ts<=" bounds (check.py).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "e2e.h"

/* The TSC-derived time is off by what the rate is off over one anchor's
 * ~1 ms of ticks (well under 1 us once the rate is measured); a wrong
 * rate, a mixed-up anchor or a stale one are off by far more. */
#define SLACK_NS 2000
#define MAIN_N 1200
#define THREAD_N 400
#define SIG_MAX 400

struct span {
	uint64_t t0, t1;
	char name[40];
};

static struct span s_main[MAIN_N], s_thread[THREAD_N], s_sig[SIG_MAX];
static volatile sig_atomic_t s_nsig, s_stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void one(struct span *s, const char *prefix, int i)
{
	int fd;

	snprintf(s->name, sizeof(s->name), "%s%d", prefix, i);
	s->t0 = now_ns();
	fd = open(s->name, O_RDONLY);
	s->t1 = now_ns();
	if (fd != -1 || errno != ENOENT)
		FAIL("open %s: %d, errno %d", s->name, fd, errno);
}

/* No stdio in the handler: its spans are printed by main at the end. */
static void on_alarm(int sig)
{
	int saved = errno, n = s_nsig;
	char name[40] = "sig", *p = name + 3;
	int fd;

	(void)sig;
	if (s_stop || n >= SIG_MAX)
		return;
	/* "sig<n>" without snprintf */
	if (n >= 100)
		*p++ = (char)('0' + n / 100);
	if (n >= 10)
		*p++ = (char)('0' + n / 10 % 10);
	*p++ = (char)('0' + n % 10);
	*p = '\0';
	memcpy(s_sig[n].name, name, sizeof(name));
	s_sig[n].t0 = now_ns();
	fd = open(name, O_RDONLY);
	s_sig[n].t1 = now_ns();
	if (fd != -1)
		close(fd);
	s_nsig = n + 1;
	errno = saved;
}

static void pause_us(long us)
{
	struct timespec d = { 0, us * 1000 };

	while (nanosleep(&d, &d) != 0 && errno == EINTR)
		;
}

/* Bursts of 1-60 calls, pauses of 0.1-3 ms between. */
static void run(struct span *s, int n, const char *prefix, unsigned seed)
{
	for (int i = 0; i < n;) {
		int burst = 1 + (int)(rand_r(&seed) % 60);

		for (; burst-- && i < n; i++)
			one(&s[i], prefix, i);
		pause_us(100 + (long)(rand_r(&seed) % 2900));
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	run(s_thread, THREAD_N, "thread", 7);
	return NULL;
}

static void expect_span(const struct span *s, bool counted)
{
	expect("{\"kind\":\"open\",\"path\":\"%s/%s\",\"errno\":\"ENOENT\","
	       "\"ts>=\":%llu,\"ts<=\":%llu%s}",
	       T, s->name, (unsigned long long)(s->t0 - SLACK_NS),
	       (unsigned long long)(s->t1 + SLACK_NS),
	       counted ? ",\"count\":1" : "");
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	struct sigaction sa;
	pthread_t th;

	e2e_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	run(s_main, MAIN_N, "main", 1);
	s_stop = 1;
	memset(&it, 0, sizeof(it));
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	if (s_nsig < 20)
		FAIL("only %d alarms arrived", (int)s_nsig);

	/* the main thread's in call order; the others in any */
	for (int i = 0; i < MAIN_N; i++)
		expect_span(&s_main[i], false);
	for (int i = 0; i < THREAD_N; i++)
		expect_span(&s_thread[i], true);
	for (int i = 0; i < s_nsig; i++)
		expect_span(&s_sig[i], true);
	return 0;
}
