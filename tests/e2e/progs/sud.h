/* Raw syscalls for the Syscall User Dispatch programs (sud_*.c): the
 * `syscall` instruction in the program's own code, never libc's, as Bun
 * and Go issue them.  Returns the kernel's value (>= 0 or -errno). */
#ifndef CT_E2E_SUD_H
#define CT_E2E_SUD_H

#include <stdint.h>
#include <sys/syscall.h>

#include "e2e.h"

static inline long raw6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define raw0(n) raw6((n), 0, 0, 0, 0, 0, 0)
#define raw1(n, a) raw6((n), (long)(a), 0, 0, 0, 0, 0)
#define raw2(n, a, b) raw6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define raw3(n, a, b, c) raw6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define raw4(n, a, b, c, d) \
	raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define raw5(n, a, b, c, d, e) \
	raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* A raw call that must return want exactly. */
#define RAW_IS(expr, want)                                                    \
	({                                                                    \
		long r_ = (expr), w_ = (want);                                \
		if (r_ != w_)                                                 \
			FAIL("%s returned %ld, expected %ld", #expr, r_, w_); \
		r_;                                                           \
	})
/* A raw call that must succeed (>= 0). */
#define RAW_OK(expr)                                                      \
	({                                                                \
		long r_ = (expr);                                         \
		if (r_ < 0)                                               \
			FAIL("%s failed: %s", #expr, strerror((int)-r_)); \
		r_;                                                       \
	})

/* raw_clone(flags, newsp, ptid, ctid, tls): the child pops the function
 * stored at newsp and calls it, then exits; the parent returns the id.  Only the sud_*
 * programs that start raw threads call it. */
long raw_clone(unsigned long flags, void *newsp, int *ptid, int *ctid,
	       unsigned long tls);
__asm__(".text\n"
	"raw_clone:\n"
	"	mov %rcx, %r10\n"
	"	mov $56, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	pop %rax\n"
	"	and $-16, %rsp\n"
	"	call *%rax\n"
	"	mov $60, %eax\n"
	"	xor %edi, %edi\n"
	"	syscall\n"
	"	hlt\n");

/* A stack of size bytes for raw_clone, with fn stored at its top for the
 * child to pop and call. */
static inline void *stack_top(size_t size, void (*fn)(void))
{
	char *s = malloc(size);
	void **top;

	CHECK(s != NULL);
	top = (void **)((((uintptr_t)s + size) & ~(uintptr_t)15) - 16);
	top[0] = (void *)fn;
	return top;
}

#endif
