/* Shared by the e2e programs (included, not built on its own).
 *
 * Each program runs under `ctrace run` in a fresh folder given as its last
 * argument (see ../check.py).  It does two things:
 *   - checks what it sees itself (results, errno, exit statuses) and on a
 *     difference prints "FAIL: ..." on stderr and exits 1;
 *   - prints on stdout one JSON object per line for each event it expects
 *     ctrace to have recorded, in the order the calls were made.
 * A program must also pass its own checks when run without ctrace.
 */
#ifndef CT_E2E_PROGS_H
#define CT_E2E_PROGS_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* errno is set to this before a call that must succeed: a hook that leaks
 * its own errno into the program shows up as a changed value. */
#define E2E_SENTINEL 4242

/* The test folder (last argument), absolute and without symlinks. */
static const char *T;

#define FAIL(...)                                                     \
	do {                                                          \
		fprintf(stderr, "FAIL: %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                         \
		fputc('\n', stderr);                                  \
		exit(1);                                              \
	} while (0)

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			FAIL("%s (errno %d %s)", #c, errno, strerror(errno)); \
	} while (0)

/* expr must succeed (>= 0) and leave errno alone.  Value: expr. */
#define OK(expr)                                                               \
	({                                                                     \
		errno = E2E_SENTINEL;                                          \
		__typeof__(expr) r_ = (expr);                                  \
		int e_ = errno;                                                \
		if (r_ < 0)                                                    \
			FAIL("%s failed: %s", #expr, strerror(e_));            \
		if (e_ != E2E_SENTINEL)                                        \
			FAIL("%s: errno changed to %d on success", #expr, e_); \
		r_;                                                            \
	})

/* Pointer-returning expr must succeed (non-NULL), errno untouched. */
#define OK_P(expr)                                                             \
	({                                                                     \
		errno = E2E_SENTINEL;                                          \
		__typeof__(expr) r_ = (expr);                                  \
		int e_ = errno;                                                \
		if (!r_)                                                       \
			FAIL("%s failed: %s", #expr, strerror(e_));            \
		if (e_ != E2E_SENTINEL)                                        \
			FAIL("%s: errno changed to %d on success", #expr, e_); \
		r_;                                                            \
	})

/* expr must fail with -1 and errno exactly err. */
#define ERR(expr, err)                                                      \
	do {                                                                \
		errno = 0;                                                  \
		long r_ = (long)(expr);                                     \
		int e_ = errno;                                             \
		if (r_ != -1)                                               \
			FAIL("%s returned %ld, expected -1 with %s", #expr, \
			     r_, #err);                                     \
		if (e_ != (err))                                            \
			FAIL("%s: errno %d (%s), expected %s", #expr, e_,   \
			     strerror(e_), #err);                           \
	} while (0)

/* Pointer-returning expr must fail with NULL and errno exactly err. */
#define ERR_P(expr, err)                                                  \
	do {                                                              \
		errno = 0;                                                \
		const void *r_ = (expr);                                  \
		int e_ = errno;                                           \
		if (r_)                                                   \
			FAIL("%s succeeded, expected %s", #expr, #err);   \
		if (e_ != (err))                                          \
			FAIL("%s: errno %d (%s), expected %s", #expr, e_, \
			     strerror(e_), #err);                         \
	} while (0)

/* One expectation line (printf format, newline added). */
static inline __attribute__((format(printf, 1, 2))) void expect(const char *fmt,
								...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Set T from the last argument, line-buffer stdout (no buffered line may
 * be copied into a fork child or lost at exec) and chdir into T. */
static inline void e2e_init(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		exit(2);
	}
	T = argv[argc - 1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (chdir(T) != 0)
		FAIL("chdir %s: %s", T, strerror(errno));
}

/* Wait for pid; its wait status must be want (W_EXITCODE(code, sig)). */
static inline void e2e_wait(pid_t pid, int want)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		FAIL("waitpid %d: %s", (int)pid, strerror(errno));
	if (st != want)
		FAIL("child %d: wait status %#x, expected %#x", (int)pid, st,
		     want);
}

/* "<dir>/<name>" into a static buffer from a small ring of them. */
static inline const char *e2e_path(const char *name)
{
	static char buf[8][4096];
	static int i;
	char *p = buf[i++ & 7];

	snprintf(p, sizeof(buf[0]), "%s/%s", T, name);
	return p;
}

#endif
