/* ct-bench-sud: what Syscall User Dispatch adds to a syscall.
 *
 * usage: ct-bench-sud libc|raw|rawopen ITERS REPS
 *
 * libc:    getppid() through libc (inside the allowed region: never traps)
 * raw:     getppid from a syscall instruction in this program (traps under
 *          dispatch, performed and not recorded)
 * rawopen: raw openat("/dev/null") + raw close (traps twice, records one
 *          open event)
 * Prints the median ns per iteration over REPS reps (after one warm-up):
 *   ns MEDIAN
 * Run under `ctrace run` with and without CTRACE_SUD=0: the difference is
 * the cost per call (scripts/bench, latency section).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REPS_MAX 64

static inline long raw3(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run(int mode, long iters)
{
	for (long i = 0; i < iters; i++) {
		if (mode == 0) {
			getppid();
		} else if (mode == 1) {
			raw3(SYS_getppid, 0, 0, 0);
		} else {
			long fd = raw3(SYS_openat, AT_FDCWD, (long)"/dev/null",
				       O_RDONLY);

			raw3(SYS_close, fd, 0, 0);
		}
	}
}

int main(int argc, char **argv)
{
	double ns[REPS_MAX];
	long iters;
	int reps, mode;

	if (argc != 4) {
		fprintf(stderr, "usage: %s libc|raw|rawopen ITERS REPS\n",
			argv[0]);
		return 2;
	}
	mode = !strcmp(argv[1], "libc") ? 0 : !strcmp(argv[1], "raw") ? 1 : 2;
	iters = atol(argv[2]);
	reps = atoi(argv[3]);
	if (iters <= 0 || reps <= 0 || reps > REPS_MAX)
		return 2;
	run(mode, iters / 10 + 1);
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = now_ns();

		run(mode, iters);
		ns[r] = (double)(now_ns() - t0) / (double)iters;
	}
	qsort(ns, (size_t)reps, sizeof(ns[0]), cmp_double);
	printf("ns %.1f\n", ns[reps / 2]);
	return 0;
}
