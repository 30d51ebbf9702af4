/* Event load for the fault suite: unlink()s of missing files, each one an
 * `unlink` event with a path that names who made it:
 *
 *	<dir>/<tag>.<proc>.<thread>.<i>
 *
 * ft_writer [-p PROCS] [-c CONCURRENT] [-t THREADS] [-n EVENTS] [-u USLEEP]
 *           [-x] [-L LATFILE] DIR TAG
 *
 * -p  fork PROCS short-lived processes (default 0: this process writes)
 * -c  at most CONCURRENT of them at once (default 16)
 * -t  threads per writing process (default 1)
 * -n  events per thread (default 1000)
 * -u  microseconds to sleep between events (default 0)
 * -x  each writing process execs this program again (a new image)
 * -L  append the slowest single call, in microseconds, to LATFILE
 *
 * Every call must fail with ENOENT and leave errno ENOENT: a hook that
 * changed either shows up as "FAIL" and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dir, *tag;
static long nthreads = 1, nevents = 1000, usleep_us;
static _Atomic uint64_t max_ns;
static _Atomic int failed;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct job {
	long proc, thread;
};

static void *writer(void *arg)
{
	const struct job *j = arg;
	char path[4096];

	for (long i = 0; i < nevents; i++) {
		snprintf(path, sizeof(path), "%s/%s.%ld.%ld.%ld", dir, tag,
			 j->proc, j->thread, i);
		errno = 0;
		uint64_t t0 = now_ns();
		int r = unlink(path);
		uint64_t dt = now_ns() - t0;
		int e = errno;
		if (r != -1 || e != ENOENT) {
			fprintf(stderr, "FAIL: unlink %s: %d errno %d\n", path,
				r, e);
			failed = 1;
			return NULL;
		}
		uint64_t m = max_ns;
		while (dt > m && !__atomic_compare_exchange_n(
					 &max_ns, &m, dt, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		if (usleep_us)
			usleep((useconds_t)usleep_us);
	}
	return NULL;
}

static int run_threads(long proc, const char *latfile)
{
	pthread_t th[256];
	struct job jobs[256];
	long n = nthreads > 256 ? 256 : nthreads;

	for (long t = 1; t < n; t++) {
		jobs[t] = (struct job){ proc, t };
		if (pthread_create(&th[t], NULL, writer, &jobs[t])) {
			fprintf(stderr, "FAIL: pthread_create\n");
			return 1;
		}
	}
	jobs[0] = (struct job){ proc, 0 };
	writer(&jobs[0]);
	for (long t = 1; t < n; t++)
		pthread_join(th[t], NULL);
	if (latfile) {
		FILE *f = fopen(latfile, "a");
		if (f) {
			fprintf(f, "%llu\n",
				(unsigned long long)(max_ns / 1000));
			fclose(f);
		}
	}
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	long procs = 0, conc = 16, self_proc = -1;
	const char *latfile = NULL;
	int exec_self = 0, c;

	while ((c = getopt(argc, argv, "p:c:t:n:u:xL:P:")) != -1) {
		switch (c) {
		case 'p':
			procs = atol(optarg);
			break;
		case 'c':
			conc = atol(optarg);
			break;
		case 't':
			nthreads = atol(optarg);
			break;
		case 'n':
			nevents = atol(optarg);
			break;
		case 'u':
			usleep_us = atol(optarg);
			break;
		case 'x':
			exec_self = 1;
			break;
		case 'L':
			latfile = optarg;
			break;
		case 'P':
			self_proc = atol(optarg);
			break; /* internal (-x) */
		default:
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: ft_writer [opts] DIR TAG\n");
		return 2;
	}
	dir = argv[optind];
	tag = argv[optind + 1];
	if (self_proc >= 0 || procs == 0)
		return run_threads(self_proc < 0 ? 0 : self_proc, latfile);

	long started = 0, running = 0, bad = 0;
	while (started < procs || running > 0) {
		while (started < procs && running < conc) {
			pid_t pid = fork();
			if (pid < 0) {
				perror("fork");
				return 1;
			}
			if (pid == 0) {
				if (exec_self) {
					char pb[32], tb[32], nb[32], ub[32];
					snprintf(pb, sizeof(pb), "%ld",
						 started);
					snprintf(tb, sizeof(tb), "%ld",
						 nthreads);
					snprintf(nb, sizeof(nb), "%ld",
						 nevents);
					snprintf(ub, sizeof(ub), "%ld",
						 usleep_us);
					char *av[] = { "/proc/self/exe",
						       "-P",
						       pb,
						       "-t",
						       tb,
						       "-n",
						       nb,
						       "-u",
						       ub,
						       (char *)dir,
						       (char *)tag,
						       NULL };
					execv("/proc/self/exe", av);
					_exit(127);
				}
				_exit(run_threads(started, latfile));
			}
			started++;
			running++;
		}
		int st;
		if (wait(&st) > 0) {
			running--;
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				bad++;
		}
	}
	if (bad)
		fprintf(stderr, "FAIL: %ld writer processes failed\n", bad);
	return bad ? 1 : 0;
}
