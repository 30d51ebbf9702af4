/* Process lifetime: main's return, fork/_Fork/clone, exit, the wait
 * family.
 *
 * Instance stamps: a fork hook takes t0 before the real fork; the child
 * adopts t0 as its pstart and the parent records `fork` with ts = t0 and
 * result = child pid, so both sides name the same instance.
 */
#include <sched.h>
#include <stdarg.h>

#include "preload/shim.h"
#include "preload/sys.h"

/* ---- main's return ----
 * glibc calls exit() from __libc_start_main through an internal alias, so
 * the exit hook never sees a plain return from main: wrap main. */
static int (*s_main)(int, char **, char **);

static int main_wrap(int argc, char **argv, char **envp)
{
	int r = s_main(argc, argv, envp);
	int saved = errno;

	ct_record_exit(r);
	errno = saved;
	return r;
}

CT_EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc,
				char **argv, void (*init)(void),
				void (*fini)(void), void (*rtld_fini)(void),
				void *stack_end)
{
	if (main) {
		s_main = main;
		main = main_wrap;
	}
	return CT_REAL(__libc_start_main)(main, argc, argv, init, fini,
					  rtld_fini, stack_end);
}

/* ---- fork ---- */
static void record_fork(uint64_t t0, long r, int err)
{
	struct ct_event ev;

	ct_event_start(&ev, CT_KIND_FORK, t0);
	ct_event_result(&ev, r, err);
	ct_emit(&ev, NULL);
}

#define DEF_FORK(name)                              \
	CT_EXPORT pid_t name(void)                  \
	{                                           \
		uint64_t t0;                        \
		int32_t parent;                     \
		pid_t r;                            \
		int err;                            \
		if (!ct_on())                       \
			return CT_REAL(name)();     \
		t0 = ct_now();                      \
		parent = ct_pid;                    \
		ct_fork_mark(t0, parent);           \
		r = CT_REAL(name)();                \
		err = errno;                        \
		ct_fork_mark(0, 0);                 \
		if (r == 0)                         \
			ct_child_reset(t0, parent); \
		else                                \
			record_fork(t0, r, err);    \
		errno = err;                        \
		return r;                           \
	}
DEF_FORK(fork)
DEF_FORK(_Fork)

/* ---- clone ----
 * Without CLONE_VM the child has its own copy of our memory and must
 * reset the caches before running fn.  The trampoline's arguments go at
 * the top of the child's stack (no allocation); the child's frames grow
 * below them.  With CLONE_VM (threads, vfork-like) fn runs unchanged. */
struct clone_tramp {
	int (*fn)(void *);
	void *arg;
	uint64_t t0;
	int32_t parent;
};

static int clone_child(void *p)
{
	struct clone_tramp *t = p;

	ct_child_reset(t->t0, t->parent);
	return t->fn(t->arg);
}

CT_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	pid_t *ptid, *ctid;
	void *tls;
	va_list ap;
	uint64_t t0;
	int r, err;

	va_start(ap, arg);
	ptid = va_arg(ap, pid_t *);
	tls = va_arg(ap, void *);
	ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!ct_on() || (flags & CLONE_THREAD))
		return CT_REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
	t0 = ct_now();
	if (!(flags & CLONE_VM) && fn && stack) {
		uintptr_t top = (uintptr_t)stack;
		struct clone_tramp *t;

		top = (top - sizeof(*t)) & ~(uintptr_t)15;
		t = (struct clone_tramp *)top;
		t->fn = fn;
		t->arg = arg;
		t->t0 = t0;
		t->parent = ct_pid;
		r = CT_REAL(clone)(clone_child, (void *)top, flags, t, ptid,
				   tls, ctid);
	} else {
		r = CT_REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
	}
	err = errno;
	record_fork(t0, r, err);
	errno = err;
	return r;
}

/* ---- exit ---- */
CT_EXPORT void exit(int code)
{
	ct_record_exit(code);
	CT_REAL(exit)(code);
	__builtin_unreachable();
}

CT_EXPORT void _exit(int code)
{
	ct_record_exit(code);
	CT_REAL(_exit)(code);
	__builtin_unreachable();
}

CT_EXPORT void _Exit(int code)
{
	ct_record_exit(code);
	CT_REAL(_Exit)(code);
	__builtin_unreachable();
}

/* ---- wait family: the children we reap ---- */
static pid_t wait_post(pid_t r, const int *st, int *out)
{
	int err = errno;

	if (out && r > 0)
		*out = *st;
	if (r > 0 && ct_on())
		ct_record_reaped(r, *st);
	errno = err;
	return r;
}

CT_EXPORT pid_t wait(int *status)
{
	int st = 0;

	if (!ct_on())
		return CT_REAL(wait)(status);
	pid_t r = CT_REAL(wait)(&st);

	return wait_post(r, &st, status);
}

CT_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	int st = 0;

	if (!ct_on())
		return CT_REAL(waitpid)(pid, status, options);
	pid_t r = CT_REAL(waitpid)(pid, &st, options);

	return wait_post(r, &st, status);
}

CT_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	int st = 0;

	if (!ct_on())
		return CT_REAL(wait3)(status, options, ru);
	pid_t r = CT_REAL(wait3)(&st, options, ru);

	return wait_post(r, &st, status);
}

CT_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	int st = 0;

	if (!ct_on())
		return CT_REAL(wait4)(pid, status, options, ru);
	pid_t r = CT_REAL(wait4)(pid, &st, options, ru);

	return wait_post(r, &st, status);
}

CT_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	siginfo_t local;
	int r, err, st;

	if (!ct_on())
		return CT_REAL(waitid)(idtype, id, info, options);
	if (!info) {
		info = &local;
		local.si_pid = 0;
	}
	r = CT_REAL(waitid)(idtype, id, info, options);
	err = errno;
	/* WNOWAIT leaves the child to be reaped (and recorded) later */
	if (r == 0 && info->si_pid > 0 && !(options & WNOWAIT)) {
		st = -1;
		if (info->si_code == CLD_EXITED)
			st = W_EXITCODE(info->si_status & 0xff, 0);
		else if (info->si_code == CLD_KILLED ||
			 info->si_code == CLD_DUMPED)
			st = info->si_status & 0x7f;
		if (st >= 0)
			ct_record_reaped(info->si_pid, st);
	}
	errno = err;
	return r;
}
