/* Raw system calls, for the shim's own use and for common/ code the shim
 * links (ring attach, exec-target checks).
 *
 * The shim must never call a symbol it hooks (it would record itself, or
 * recurse), and must not touch errno.  These helpers issue the syscall
 * instruction directly and return the kernel's value: >= 0, or -errno.
 * Context: async-signal-safe, no allocation, errno untouched.
 */
#ifndef CT_COMMON_SYS_H
#define CT_COMMON_SYS_H

#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#if defined(__x86_64__) && defined(CT_SHIM)
/* In the shim: through a `syscall; ret` inside libc once Syscall User
 * Dispatch is armed (preload/sud.c), since only libc's code may issue
 * syscalls then; before that, the shim's own.  The call steps over the red
 * zone, which it would otherwise overwrite with its return address. */
extern void *ct_sys_gadget __attribute__((visibility("hidden")));

static inline long ct_sys6(long n, long a, long b, long c, long d, long e,
			   long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
			 "call *%[g]\n\t"
			 "lea 128(%%rsp), %%rsp"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9), [g] "m"(ct_sys_gadget)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__x86_64__)
static inline long ct_sys6(long n, long a, long b, long c, long d, long e,
			   long f)
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
#elif defined(__aarch64__)
static inline long ct_sys6(long n, long a, long b, long c, long d, long e,
			   long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#else
#error "ctrace shim: raw syscalls are implemented for x86_64 and aarch64"
#endif

#define ct_sys0(n) ct_sys6((n), 0, 0, 0, 0, 0, 0)
#define ct_sys1(n, a) ct_sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define ct_sys2(n, a, b) ct_sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define ct_sys3(n, a, b, c) \
	ct_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define ct_sys4(n, a, b, c, d) \
	ct_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static inline int ct_sys_getpid(void)
{
	return (int)ct_sys0(SYS_getpid);
}

static inline int ct_sys_gettid(void)
{
	return (int)ct_sys0(SYS_gettid);
}

static inline int ct_sys_getppid(void)
{
	return (int)ct_sys0(SYS_getppid);
}

static inline unsigned ct_sys_geteuid(void)
{
	return (unsigned)ct_sys0(SYS_geteuid);
}

static inline unsigned ct_sys_getegid(void)
{
	return (unsigned)ct_sys0(SYS_getegid);
}

static inline int ct_sys_openat(int dfd, const char *path, int flags)
{
	return (int)ct_sys4(SYS_openat, dfd, path, flags | O_CLOEXEC, 0);
}

static inline int ct_sys_close(int fd)
{
	return (int)ct_sys1(SYS_close, fd);
}

static inline long ct_sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return ct_sys4(SYS_pread64, fd, buf, n, off);
}

static inline long ct_sys_readlinkat(int dfd, const char *path, char *buf,
				     size_t cap)
{
	return ct_sys4(SYS_readlinkat, dfd, path, buf, cap);
}

static inline int ct_sys_fstatat(int dfd, const char *path, struct stat *st,
				 int flags)
{
	return (int)ct_sys4(SYS_newfstatat, dfd, path, st, flags);
}

static inline int ct_sys_fstat(int fd, struct stat *st)
{
	return ct_sys_fstatat(fd, "", st, AT_EMPTY_PATH);
}

static inline int ct_sys_faccessat(int dfd, const char *path, int mode)
{
	return (int)ct_sys3(SYS_faccessat, dfd, path, mode);
}

/* Returns the length including the NUL, or -errno. */
static inline long ct_sys_getcwd(char *buf, size_t cap)
{
	return ct_sys2(SYS_getcwd, buf, cap);
}

static inline long ct_sys_write(int fd, const void *buf, size_t n)
{
	return ct_sys3(SYS_write, fd, buf, n);
}

#endif
