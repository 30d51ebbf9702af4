/* Syscall User Dispatch: raw syscalls of shim-loaded programs.
 *
 * prctl(PR_SET_SYSCALL_USER_DISPATCH) makes every syscall instruction
 * outside one allowed code region (here: libc's executable segment) raise
 * SIGSYS while this thread's selector byte says BLOCK.  The handler
 * records target calls (sysrec.c) and performs every trapped call from a
 * `syscall; ret` found inside libc, writing the kernel's value into the
 * saved RAX.  The shim's own raw syscalls go through the same gadget
 * (sys.h), so they never trap.
 *
 * DESIGN.md section 6, trap by trap, and where each is answered:
 * - nothing inherits the setting: ct_sud_init (constructor), tstart
 *   (pthread_create), ct_sud_child (fork children, from ct_child_reset:
 *   fork hooks, atfork handler, clone hook, raw forks below), ct_on()'s
 *   the lazy arm in ct_on() (threads started inside glibc);
 * - ld.so's own syscalls trap: performed, opens recorded as "loader";
 * - a program's raw rt_sigreturn: re-issued from libc's syscall
 *   instruction by pointing the saved RIP at it (never emulated);
 * - raw rt_sigprocmask: performed, then the new mask copied into
 *   uc_sigmask, which the handler's return would otherwise restore;
 * - the program's own SIGSYS handler, blocked SIGSYS, seccomp filters:
 *   ours stays installed (sigaction/signal hooks and raw rt_sigaction keep
 *   the program's action aside and chain to it for other si_codes), SIGSYS
 *   is stripped from every mask the program sets (a SIGSYS forced while
 *   blocked kills the process), SA_NODEFER lets a trap nest;
 * - raw clone with a new stack (threads, spawn-style children): re-issued
 *   from a trampoline after the handler returned, so the child starts on
 *   its own stack at the program's next instruction; raw vfork and
 *   stackless CLONE_VFORK become fork, performed here;
 * - the handler needs ~20 KB (two paths and an event): a 64 KB stack per
 *   thread, installed as sigaltstack when the program has none, and
 *   switched to by hand when it has its own;
 * - prctl refused: a gap event, the hooks alone go on.
 *
 * Known holes (docs/capture.md): threads made by a raw clone run
 * unarmed (their TLS may not be glibc's); the program's other signal
 * handlers run unarmed while they interrupt the handler's bookkeeping
 * (not while they interrupt the performed call).
 */
#include <dlfcn.h>
#include <link.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "common/codec.h"
#include "preload/sud.h"
#include "preload/sys.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#define SUD_ALLOW 0
#define SUD_BLOCK 1
#define SUD_SI_CODE 2 /* SYS_USER_DISPATCH */
/* The clone trampoline reports the parent's result with this number; it
 * names no syscall, and SUD traps before the kernel looks it up. */
#define SUD_MAGIC 0x43540001L
#define SUD_STACK (64 * 1024)
#define SIGSYS_BIT (1ull << (SIGSYS - 1))

/* The kernel's struct sigaction on x86_64 (rt_sigaction). */
struct ksa {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

bool ct_sud_on;
CT_TLS bool ct_sud_armed;
/* The selector byte of this thread, and the trampoline's clone result;
 * named from the trampoline (asm). */
CT_TLS char ct_sud_tsel;
CT_TLS long ct_sud_tres;
static CT_TLS int t_depth; /* handlers running in this thread */
static CT_TLS bool t_prog_blocked; /* the program asked SIGSYS blocked */
static CT_TLS char *t_stack; /* the handler's stack, SUD_STACK bytes */
/* A raw clone in flight through the trampoline (the parent's side). */
static CT_TLS uintptr_t t_clone_rip;
static CT_TLS unsigned long t_clone_flags;
static CT_TLS uint64_t t_clone_t0;

static uintptr_t s_libc_lo, s_libc_len, s_ld_lo, s_ld_len;
static uintptr_t s_gadget; /* `syscall; ret` inside libc */
static struct ksa s_prog; /* the program's SIGSYS action (chained) */
static pthread_key_t s_key;
static bool s_key_ok;

/* ---- assembly ----
 * ct_sys_stub: the shim's `syscall; ret` until libc's is known (nothing
 * is armed yet then).
 * ct_sud_clone_tramp: entered after the handler returned, with the
 * program's registers of a raw clone.  The child (rax 0, on its new stack)
 * jumps to the program's next instruction, stored by the handler just
 * below its stack top; the parent stores the result in ct_sud_tres
 * (r11 is clobbered by a syscall anyway), sets its selector back to BLOCK
 * and traps once more (SUD_MAGIC) so the handler records the result and
 * resumes the program.
 * ct_sud_on_stack(fn, arg, top): fn(arg) on the stack ending at top. */
__asm__(".text\n"
	".globl ct_sys_stub\n"
	".hidden ct_sys_stub\n"
	".type ct_sys_stub,@function\n"
	"ct_sys_stub:\n"
	"	syscall\n"
	"	ret\n"
	".size ct_sys_stub,.-ct_sys_stub\n"
	".globl ct_sud_clone_tramp\n"
	".hidden ct_sud_clone_tramp\n"
	".type ct_sud_clone_tramp,@function\n"
	"ct_sud_clone_tramp:\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	jmp *-8(%rsp)\n"
	"1:	movq ct_sud_tres@gottpoff(%rip), %r11\n"
	"	mov %rax, %fs:(%r11)\n"
	"	movq ct_sud_tsel@gottpoff(%rip), %r11\n"
	"	movb $1, %fs:(%r11)\n"
	"	mov $0x43540001, %eax\n"
	"	syscall\n"
	"	ud2\n"
	".size ct_sud_clone_tramp,.-ct_sud_clone_tramp\n"
	".globl ct_sud_on_stack\n"
	".hidden ct_sud_on_stack\n"
	".type ct_sud_on_stack,@function\n"
	"ct_sud_on_stack:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	mov %rdx, %rsp\n"
	"	and $-16, %rsp\n"
	"	mov %rdi, %rax\n"
	"	mov %rsi, %rdi\n"
	"	call *%rax\n"
	"	mov %rbp, %rsp\n"
	"	pop %rbp\n"
	"	ret\n"
	".size ct_sud_on_stack,.-ct_sud_on_stack\n");

void ct_sys_stub(void);
void ct_sud_clone_tramp(void);
void ct_sud_on_stack(void (*fn)(void *), void *arg, void *top);

void *ct_sys_gadget = (void *)ct_sys_stub;

/* ---- per-thread arming ---- */
static void stack_free(void *p)
{
	stack_t cur;

	if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == p &&
	    !(cur.ss_flags & SS_ONSTACK)) {
		cur.ss_flags = SS_DISABLE;
		sigaltstack(&cur, NULL);
	}
	t_stack = NULL;
	munmap(p, SUD_STACK);
}

static void stack_setup(void)
{
	stack_t ss, cur;
	void *p;

	if (!t_stack) {
		p = mmap(NULL, SUD_STACK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			return;
		t_stack = p;
		if (s_key_ok)
			pthread_setspecific(s_key, p);
	}
	if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
		ss.ss_sp = t_stack;
		ss.ss_size = SUD_STACK;
		ss.ss_flags = 0;
		sigaltstack(&ss, NULL);
	}
}

static long sud_prctl(void)
{
	return ct_sys6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH,
		       PR_SYS_DISPATCH_ON, (long)s_libc_lo, (long)s_libc_len,
		       (long)&ct_sud_tsel, 0);
}

void ct_sud_arm_thread(void)
{
	int saved = errno;

	ct_sud_armed = true;
	if (!ct_sud_on)
		return;
	stack_setup();
	ct_sud_tsel = SUD_ALLOW;
	/* inside the handler (a raw fork's child) the handler's exit sets
	 * the selector */
	if (sud_prctl() == 0 && t_depth == 0)
		ct_sud_tsel = SUD_BLOCK;
	errno = saved;
}

void ct_sud_child(void)
{
	if (ct_sud_on)
		ct_sud_arm_thread();
}

/* ---- performing a trapped call ---- */
static long sud_perform(long nr, const long *a)
{
	long r;

	/* BLOCK while the call runs: a program handler interrupting a
	 * blocking call is then traced too (its trap nests). */
	ct_sud_tsel = SUD_BLOCK;
	r = ct_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	ct_sud_tsel = SUD_ALLOW;
	return r;
}

static void record_fork(uint64_t t0, long r)
{
	struct ct_event ev;

	ct_event_start(&ev, CT_KIND_FORK, t0);
	ev.source = CT_SOURCE_SUD;
	ct_event_result(&ev, r, r < 0 ? (int)-r : 0);
	ct_emit(&ev, NULL);
}

/* fork, vfork and stackless clones: performed here; the child returns
 * through this handler with a copy of its frame. */
static long sud_fork(long nr, const long *a, unsigned long flags)
{
	uint64_t t0 = ct_now();
	int32_t parent = ct_pid;
	long r = sud_perform(nr, a);

	if (r == 0)
		ct_child_reset(t0, parent); /* re-arms this thread */
	else if (!(flags & CLONE_THREAD))
		record_fork(t0, r);
	return r;
}

/* A clone whose child gets a new stack: let the trampoline issue it. */
static void sud_clone_tramp(greg_t *g, unsigned long flags, uintptr_t top)
{
	t_clone_rip = (uintptr_t)g[REG_RIP];
	t_clone_flags = flags;
	t_clone_t0 = ct_now();
	*(uintptr_t *)(top - sizeof(uintptr_t)) = t_clone_rip;
	g[REG_RIP] = (greg_t)(uintptr_t)ct_sud_clone_tramp;
}

/* rt_sigprocmask: the handler's return restores uc_sigmask, so a mask
 * changed in here must go there.  SIGSYS stays unblocked; the program's
 * wish is remembered and shown in the old sets it reads. */
static long sud_sigprocmask(ucontext_t *uc, const long *a)
{
	uint64_t *old = (uint64_t *)a[2];
	bool was = t_prog_blocked;
	long b[6] = { SIG_BLOCK, 0, 0, 8, 0, 0 };
	uint64_t cur;
	long r;

	r = sud_perform(SYS_rt_sigprocmask, a);
	if (r != 0)
		return r;
	if (a[1]) {
		b[2] = (long)&cur;
		if (sud_perform(SYS_rt_sigprocmask, b) == 0) {
			t_prog_blocked = (cur & SIGSYS_BIT) != 0;
			cur &= ~SIGSYS_BIT;
			memcpy(&uc->uc_sigmask, &cur, sizeof(cur));
			if (t_prog_blocked) {
				b[0] = SIG_UNBLOCK;
				b[1] = (long)&cur;
				b[2] = 0;
				cur = SIGSYS_BIT;
				sud_perform(SYS_rt_sigprocmask, b);
			}
		}
	}
	if (old)
		*old = (*old & ~SIGSYS_BIT) | (was ? SIGSYS_BIT : 0);
	return 0;
}

/* rt_sigaction: SIGSYS is the program's only in name (kept in s_prog);
 * other signals lose SIGSYS from their handler masks. */
static long sud_sigaction(const long *a)
{
	const struct ksa *act = (const struct ksa *)a[1];
	struct ksa *old = (struct ksa *)a[2];
	long b[6] = { a[0], 0, 0, 8, 0, 0 };
	struct ksa cur;
	long r;

	if (a[0] == SIGSYS) {
		if (a[3] != 8)
			return -EINVAL;
		cur = s_prog;
		if (act)
			s_prog = *act;
		if (old)
			*old = cur;
		return 0;
	}
	r = sud_perform(SYS_rt_sigaction, a);
	if (r == 0 && act && (act->mask & SIGSYS_BIT)) {
		b[2] = (long)&cur;
		if (sud_perform(SYS_rt_sigaction, b) == 0) {
			cur.mask &= ~SIGSYS_BIT;
			b[1] = (long)&cur;
			b[2] = 0;
			sud_perform(SYS_rt_sigaction, b);
		}
	}
	return r;
}

/* A SIGSYS that is not ours (the program's seccomp filter, kill): what
 * the program's own action would have done. */
static void chain(int sig, siginfo_t *si, ucontext_t *uc)
{
	struct ksa p = s_prog;
	long b[6] = { SIGSYS, 0, 0, 8, 0, 0 };
	struct ksa dfl;

	if (p.handler == SIG_IGN)
		return;
	if (p.handler == SIG_DFL) {
		/* core dump: die of SIGSYS as the program would have */
		memset(&dfl, 0, sizeof(dfl));
		b[1] = (long)&dfl;
		sud_perform(SYS_rt_sigaction, b);
		ct_sys3(SYS_tgkill, ct_sys_getpid(), ct_sys_gettid(), SIGSYS);
		return;
	}
	if (p.flags & SA_RESETHAND)
		s_prog.handler = SIG_DFL;
	if (p.flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))p.handler)(sig, si, uc);
	else
		((void (*)(int))p.handler)(sig);
}

struct sud_call {
	int sig;
	siginfo_t *si;
	ucontext_t *uc;
};

static void sud_work(void *arg)
{
	struct sud_call *c = arg;
	greg_t *g = c->uc->uc_mcontext.gregs;
	int saved = errno;
	char prev = ct_sud_tsel, next;
	unsigned long fl;
	unsigned source = CT_SOURCE_SUD;
	long nr, r, a[6];
	uintptr_t at;

	if (c->si->si_code != SUD_SI_CODE) {
		/* the program's handler runs as the program left things */
		chain(c->sig, c->si, c->uc);
		errno = saved;
		return;
	}
	ct_sud_tsel = SUD_ALLOW;
	next = SUD_BLOCK;
	t_depth++;
	nr = c->si->si_syscall;
	a[0] = g[REG_RDI];
	a[1] = g[REG_RSI];
	a[2] = g[REG_RDX];
	a[3] = g[REG_R10];
	a[4] = g[REG_R8];
	a[5] = g[REG_R9];
	switch (nr) {
	case SYS_rt_sigreturn:
		/* re-issued from libc with the program's stack: the frame it
		 * names is below no frame of ours */
		g[REG_RIP] = (greg_t)s_gadget;
		g[REG_RAX] = SYS_rt_sigreturn;
		goto out;
	case SYS_rt_sigprocmask:
		r = sud_sigprocmask(c->uc, a);
		break;
	case SYS_rt_sigaction:
		r = sud_sigaction(a);
		break;
	case SYS_vfork:
		/* a vfork child would run on, and return through, this
		 * handler's frames while the parent waits to use them */
		r = sud_fork(SYS_fork, a, 0);
		break;
	case SYS_fork:
		r = sud_fork(nr, a, 0);
		break;
	case SYS_clone:
		fl = (unsigned long)a[0];
		if (a[1]) {
			sud_clone_tramp(g, fl, (uintptr_t)a[1]);
			next = SUD_ALLOW; /* the trampoline's clone passes */
			goto out;
		}
		if (fl & CLONE_VFORK)
			a[0] &= ~(long)(CLONE_VM | CLONE_VFORK);
		r = sud_fork(nr, a, fl);
		break;
	case SYS_clone3: {
		struct clone_args ca, *u = (struct clone_args *)a[0];

		if ((size_t)a[1] < CLONE_ARGS_SIZE_VER0 || !u) {
			r = sud_perform(nr, a);
			break;
		}
		if (u->stack) {
			sud_clone_tramp(g, u->flags,
					(uintptr_t)(u->stack + u->stack_size));
			next = SUD_ALLOW;
			goto out;
		}
		memset(&ca, 0, sizeof(ca));
		memcpy(&ca, u,
		       (size_t)a[1] < sizeof(ca) ? (size_t)a[1] : sizeof(ca));
		if (ca.flags & CLONE_VFORK)
			ca.flags &= ~(uint64_t)(CLONE_VM | CLONE_VFORK);
		a[0] = (long)&ca;
		r = sud_fork(nr, a, (unsigned long)u->flags);
		break;
	}
	case SUD_MAGIC:
		/* the trampoline's parent side */
		r = ct_sud_tres;
		if (!(t_clone_flags & CLONE_THREAD))
			record_fork(t_clone_t0, r);
		g[REG_RIP] = (greg_t)t_clone_rip;
		g[REG_RCX] = (greg_t)t_clone_rip;
		break;
	default:
		at = (uintptr_t)c->si->si_call_addr;
		if (at - s_ld_lo < s_ld_len)
			source = CT_SOURCE_LOADER;
		r = ct_sysrec_call(nr, a, source, sud_perform);
		break;
	}
	g[REG_RAX] = r;
out:
	t_depth--;
	(void)prev;
	ct_sud_tsel = next;
	errno = saved;
}

static void sud_handler(int sig, siginfo_t *si, void *uc)
{
	struct sud_call c = { sig, si, uc };
	char *sp = (char *)__builtin_frame_address(0);

	if (t_stack && (sp < t_stack || sp >= t_stack + SUD_STACK))
		ct_sud_on_stack(sud_work, &c, t_stack + SUD_STACK);
	else
		sud_work(&c);
}

/* ---- finding libc ---- */
struct find {
	uintptr_t libc_fn;
};

static int find_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;

	bool ld = info->dlpi_name && strstr(info->dlpi_name, "/ld-linux");

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (f->libc_fn - lo < ph->p_memsz) {
			s_libc_lo = lo;
			s_libc_len = ph->p_memsz;
		}
		if (ld) {
			s_ld_lo = lo;
			s_ld_len = ph->p_memsz;
		}
	}
	return 0;
}

static const char *refused(long r)
{
	switch (-r) {
	case EINVAL:
		return "raw syscalls not captured: the kernel has no syscall "
		       "user dispatch (prctl: EINVAL)";
	case EPERM:
	case EACCES:
		return "raw syscalls not captured: syscall user dispatch "
		       "denied (prctl: EPERM)";
	default:
		return "raw syscalls not captured: syscall user dispatch "
		       "refused by the kernel";
	}
}

int ct_sud_init(char **envp, const char **why)
{
	const char *v = ct_env_get(envp, "CTRACE_SUD");
	struct find f = { 0 };
	struct sigaction sa, old;
	sigset_t cur;
	void *g;
	long r;

#if !defined(__x86_64__)
	*why = "raw syscalls not captured: syscall user dispatch is only "
	       "implemented for x86_64";
	return -ENOSYS;
#endif
	if (v && v[0] == '0' && !v[1]) {
		*why = "raw syscalls not captured: turned off (CTRACE_SUD=0)";
		return -ECANCELED;
	}
	/* libc: the object that holds getpid; ld.so: the one whose name
	 * says so (its own syscalls trap too, recorded as "loader") */
	f.libc_fn = (uintptr_t)&getpid;
	dl_iterate_phdr(find_one, &f);
	if (!s_libc_len) {
		*why = "raw syscalls not captured: libc's code not found";
		return -ENOENT;
	}
	/* getpid itself is `mov $39, %eax; syscall; ret` in glibc: look
	 * there first; scanning libc's whole code for the first such bytes
	 * took ~150 us, paid by every process (scripts/bench) */
	g = NULL;
	if (f.libc_fn + 32 <= s_libc_lo + s_libc_len)
		g = memmem((void *)f.libc_fn, 32, "\x0f\x05\xc3", 3);
	if (!g)
		g = memmem((void *)s_libc_lo, s_libc_len, "\x0f\x05\xc3", 3);
	if (!g) {
		*why = "raw syscalls not captured: no syscall instruction "
		       "found in libc";
		return -ENOENT;
	}
	s_gadget = (uintptr_t)g;
	ct_sys_gadget = g;
	s_key_ok = pthread_key_create(&s_key, stack_free) == 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sud_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (CT_REAL(sigaction)(SIGSYS, &sa, &old) != 0) {
		*why = "raw syscalls not captured: SIGSYS handler refused";
		return -EINVAL;
	}
	stack_setup();
	ct_sud_tsel = SUD_ALLOW;
	r = sud_prctl();
	if (r < 0) {
		CT_REAL(sigaction)(SIGSYS, &old, NULL);
		*why = refused(r);
		return (int)r;
	}
	s_prog.handler = (void *)old.sa_sigaction;
	s_prog.flags = (unsigned long)old.sa_flags;
	s_prog.restorer = (void *)old.sa_restorer;
	memcpy(&s_prog.mask, &old.sa_mask, sizeof(s_prog.mask));
	/* a SIGSYS blocked across exec would kill us at the first trap */
	if (pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 &&
	    sigismember(&cur, SIGSYS)) {
		t_prog_blocked = true;
		sigemptyset(&cur);
		sigaddset(&cur, SIGSYS);
		CT_REAL(pthread_sigmask)(SIG_UNBLOCK, &cur, NULL);
	}
	ct_sud_on = true;
	ct_sud_armed = true;
	ct_sud_tsel = SUD_BLOCK;
	return 0;
}

void ct_sud_gap(const char *why)
{
	struct ct_event ev;
	char exe[CT_PATH_MAX];
	long n;

	ct_event_start(&ev, CT_KIND_GAP, 0);
	ev.present = CT_F_REASON;
	ev.reason.p = why;
	ev.reason.len = (uint32_t)strlen(why);
	n = ct_sys_readlinkat(AT_FDCWD, "/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		ev.present |= CT_F_EXE;
		ev.exe.p = exe;
		ev.exe.len = (uint32_t)n;
	}
	ct_emit(&ev, NULL);
}

/* ---- program-facing hooks ---- */
struct tstart {
	void *(*fn)(void *);
	void *arg;
};

static void *tstart(void *p)
{
	struct tstart s = *(struct tstart *)p;

	free(p);
	ct_sud_arm_thread();
	return s.fn(s.arg);
}

CT_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr,
			     void *(*fn)(void *), void *arg)
{
	struct tstart *s;
	int r;

	if (!ct_sud_on)
		return CT_REAL(pthread_create)(t, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return CT_REAL(pthread_create)(t, attr, fn, arg);
	s->fn = fn;
	s->arg = arg;
	r = CT_REAL(pthread_create)(t, attr, tstart, s);
	if (r != 0)
		free(s);
	return r;
}

static void ksa_to_sa(const struct ksa *k, struct sigaction *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa_sigaction = (void (*)(int, siginfo_t *, void *))k->handler;
	sa->sa_flags = (int)k->flags;
	sa->sa_restorer = (void (*)(void))k->restorer;
	memcpy(&sa->sa_mask, &k->mask, sizeof(k->mask));
}

CT_EXPORT int sigaction(int sig, const struct sigaction *act,
			struct sigaction *old)
{
	struct sigaction copy;
	struct ksa k;

	if (!ct_sud_on)
		return CT_REAL(sigaction)(sig, act, old);
	if (sig == SIGSYS) {
		k = s_prog;
		if (act) {
			struct ksa n = { 0 };

			n.handler = (void *)act->sa_sigaction;
			n.flags = (unsigned long)act->sa_flags;
			n.restorer = (void *)act->sa_restorer;
			memcpy(&n.mask, &act->sa_mask, sizeof(n.mask));
			s_prog = n;
		}
		if (old)
			ksa_to_sa(&k, old);
		return 0;
	}
	if (act && sigismember(&act->sa_mask, SIGSYS)) {
		copy = *act;
		sigdelset(&copy.sa_mask, SIGSYS);
		act = &copy;
	}
	return CT_REAL(sigaction)(sig, act, old);
}

CT_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	struct ksa n = { 0 };
	void *was;

	if (!ct_sud_on || sig != SIGSYS)
		return CT_REAL(signal)(sig, h);
	/* glibc's signal(): BSD semantics */
	was = s_prog.handler;
	n.handler = (void *)h;
	n.flags = SA_RESTART;
	n.mask = SIGSYS_BIT;
	s_prog = n;
	return (sighandler_t)was;
}

/* Strip SIGSYS from what the program blocks; remember its wish. */
static const sigset_t *mask_in(int how, const sigset_t *set, sigset_t *copy,
			       bool *now)
{
	bool in = set && sigismember(set, SIGSYS);

	*now = t_prog_blocked;
	if (!set)
		return set;
	if (how == SIG_BLOCK && in)
		*now = true;
	else if (how == SIG_UNBLOCK && in)
		*now = false;
	else if (how == SIG_SETMASK)
		*now = in;
	if (!in || how == SIG_UNBLOCK)
		return set;
	*copy = *set;
	sigdelset(copy, SIGSYS);
	return copy;
}

static void mask_out(bool was, bool now, sigset_t *old)
{
	t_prog_blocked = now;
	if (old && was)
		sigaddset(old, SIGSYS);
}

bool ct_sud_exec_begin(void)
{
	sigset_t s;

	if (!ct_sud_on || !t_prog_blocked)
		return false;
	/* Only libc code runs from here to the exec syscall (the exec
	 * functions themselves), so nothing traps while SIGSYS is blocked. */
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	return CT_REAL(pthread_sigmask)(SIG_BLOCK, &s, NULL) == 0;
}

void ct_sud_exec_end(bool blocked)
{
	sigset_t s;

	if (!blocked)
		return;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	CT_REAL(pthread_sigmask)(SIG_UNBLOCK, &s, NULL);
}

CT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	sigset_t copy;
	bool was = t_prog_blocked, now;
	int r;

	if (!ct_sud_on)
		return CT_REAL(sigprocmask)(how, set, old);
	set = mask_in(how, set, &copy, &now);
	r = CT_REAL(sigprocmask)(how, set, old);
	if (r == 0)
		mask_out(was, now, old);
	return r;
}

CT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	sigset_t copy;
	bool was = t_prog_blocked, now;
	int r;

	if (!ct_sud_on)
		return CT_REAL(pthread_sigmask)(how, set, old);
	set = mask_in(how, set, &copy, &now);
	r = CT_REAL(pthread_sigmask)(how, set, old);
	if (r == 0)
		mask_out(was, now, old);
	return r;
}
