/* ct-bench-hook: the workloads scripts/bench-hook times.
 *
 * usage: ct-bench-hook loop ITERS REPS
 *        ct-bench-hook flood PROCS EVENTS
 *        ct-bench-hook opens N
 *        ct-bench-hook lat libc|raw ITERS
 *
 * loop:  REPS times, ITERS iterations of open("/dev/null", O_RDONLY) +
 *        close; prints the median ns per iteration over the reps:
 *          loop_ns MEDIAN
 *        Run bare and under `ctrace run`, the difference is what the shim
 *        adds to one hooked call (close is not hooked).
 * flood: forks PROCS producers that wait on a pipe, releases them at once
 *        and has them make EVENTS hooked calls in total (split evenly);
 *        each call is open("", O_RDONLY), which fails with ENOENT in the
 *        kernel's first step, so the producers run as fast as a hooked
 *        call can and the pipeline behind them is what is measured.
 *        Prints the CLOCK_REALTIME at which the producers were released:
 *          flood_start_ns T
 *        The caller (under `ctrace run`) takes the time when ctrace has
 *        stored everything and divides the stored events by the span.
 *
 * opens: N iterations of open("/dev/null", O_RDONLY) + close, nothing
 *        printed: the "open loop" workload of scripts/bench, timed from
 *        outside like the other workloads.
 * lat:   ITERS calls of open("/dev/null", O_RDONLY), each timed on its own
 *        with CLOCK_MONOTONIC (the close after it is not timed), after
 *        ITERS / 10 untimed ones; prints the distribution of one call:
 *          lat_p50_ns P50
 *          lat_p99_ns P99
 *          lat_mean_ns MEAN
 *        "libc" calls open() through libc (the hooked path); "raw" issues
 *        openat and close from a syscall instruction in this program, which
 *        only Syscall User Dispatch can see.  Run bare and under `ctrace
 *        run`: the differences are what capture adds to one call (the
 *        clock reads are in both).
 *
 * Plain libc only: the program must load the shim like any traced program.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS_MAX 64

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int loop(long iters, int reps)
{
	double ns[REPS_MAX];
	int r, fd;

	/* One untimed warm-up rep: page faults, first-call symbol binding. */
	for (r = -1; r < reps; r++) {
		uint64_t t0 = now_ns(CLOCK_MONOTONIC);

		for (long i = 0; i < iters; i++) {
			fd = open("/dev/null", O_RDONLY);
			if (fd < 0) {
				perror("ct-bench-hook: open /dev/null");
				return 1;
			}
			close(fd);
		}
		if (r >= 0)
			ns[r] = (double)(now_ns(CLOCK_MONOTONIC) - t0) /
				(double)iters;
	}
	qsort(ns, (size_t)reps, sizeof(ns[0]), cmp_double);
	printf("loop_ns %.1f\n",
	       reps % 2 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2);
	return 0;
}

static int opens(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0) {
			perror("ct-bench-hook: open /dev/null");
			return 1;
		}
		close(fd);
	}
	return 0;
}

#if defined(__x86_64__)
static inline long raw3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}
#else
static inline long raw3(long n, long a, long b, long c)
{
	return syscall(n, a, b, c); /* no raw path elsewhere: same as libc */
}
#endif

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int lat(bool raw, long iters)
{
	uint32_t *ns = malloc((size_t)iters * sizeof(*ns));
	double sum = 0;
	long fd;

	if (!ns) {
		perror("ct-bench-hook: malloc");
		return 1;
	}
	/* warm-up: page faults, lazy binding, the ring's first pages */
	for (long i = -iters / 10; i < iters; i++) {
		uint64_t t0 = now_ns(CLOCK_MONOTONIC), t1;

		if (raw)
			fd = raw3(SYS_openat, AT_FDCWD, (long)"/dev/null",
				  O_RDONLY);
		else
			fd = open("/dev/null", O_RDONLY);
		t1 = now_ns(CLOCK_MONOTONIC);
		if (fd < 0) {
			fprintf(stderr,
				"ct-bench-hook: open /dev/null failed\n");
			free(ns);
			return 1;
		}
		if (raw)
			raw3(SYS_close, fd, 0, 0);
		else
			close((int)fd);
		if (i >= 0) {
			ns[i] = (uint32_t)(t1 - t0);
			sum += (double)(t1 - t0);
		}
	}
	qsort(ns, (size_t)iters, sizeof(ns[0]), cmp_u32);
	printf("lat_p50_ns %u\nlat_p99_ns %u\nlat_mean_ns %.1f\n",
	       ns[iters / 2], ns[iters * 99 / 100], sum / (double)iters);
	free(ns);
	return 0;
}

static int flood(int procs, long events)
{
	int go[2], failed = 0;
	uint64_t t0;
	pid_t pid;

	if (pipe(go) < 0) {
		perror("ct-bench-hook: pipe");
		return 1;
	}
	for (int p = 0; p < procs; p++) {
		long n = events / procs + (p < events % procs);

		pid = fork();
		if (pid < 0) {
			perror("ct-bench-hook: fork");
			return 1;
		}
		if (pid == 0) {
			char c;

			close(go[1]);
			/* EOF on the pipe is the start signal */
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			for (long i = 0; i < n; i++)
				if (open("", O_RDONLY) >= 0)
					_exit(3); /* "" never opens */
			_exit(0);
		}
	}
	close(go[0]);
	t0 = now_ns(CLOCK_REALTIME);
	close(go[1]);
	for (int p = 0; p < procs; p++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	}
	printf("flood_start_ns %llu\n", (unsigned long long)t0);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "loop")) {
		long iters = atol(argv[2]);
		int reps = atoi(argv[3]);

		if (iters > 0 && reps > 0 && reps <= REPS_MAX)
			return loop(iters, reps);
	} else if (argc == 4 && !strcmp(argv[1], "flood")) {
		int procs = atoi(argv[2]);
		long events = atol(argv[3]);

		if (procs > 0 && procs <= 1024 && events > 0)
			return flood(procs, events);
	} else if (argc == 3 && !strcmp(argv[1], "opens")) {
		long n = atol(argv[2]);

		if (n > 0)
			return opens(n);
	} else if (argc == 4 && !strcmp(argv[1], "lat")) {
		long iters = atol(argv[3]);
		bool raw = !strcmp(argv[2], "raw");

		if (iters >= 100 && (raw || !strcmp(argv[2], "libc")))
			return lat(raw, iters);
	}
	fprintf(stderr, "usage: ct-bench-hook loop ITERS REPS\n"
			"       ct-bench-hook flood PROCS EVENTS\n"
			"       ct-bench-hook opens N\n"
			"       ct-bench-hook lat libc|raw ITERS\n");
	return 2;
}
