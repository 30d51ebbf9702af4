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
 *   (pthread_create, through a fixed table of start records), ct_sud_child
 *   (fork children, from ct_child_reset: fork hooks, atfork handler, clone
 *   hook, raw forks below), the lazy arm in ct_on() (threads started
 *   inside glibc, which begin with every signal blocked: each arm unblocks
 *   SIGSYS, see sigsys_deliverable);
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
 * - threads made by a raw clone (their thread pointer is their parent's
 *   or the program's own): armed from the trampoline with a shadow TLS
 *   each, which the handler switches %fs to (raw threads, below);
 * - prctl refused: a gap event, the hooks alone go on.
 *
 * Known holes (docs/capture.md): more than SUD_RAW raw threads at once
 * run unarmed; the program's other signal handlers run unarmed while they
 * interrupt the handler's bookkeeping (not while they interrupt the
 * performed call), and in a raw thread with the shadow as fs base.
 */
#include <dlfcn.h>
#include <link.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/auxv.h>
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
 * named from the trampoline (asm), so kept whole under link-time
 * optimisation (CT_ASM_NAMED). */
#define CT_ASM_NAMED __attribute__((used, externally_visible))
CT_ASM_NAMED CT_TLS char ct_sud_tsel;
CT_ASM_NAMED CT_TLS long ct_sud_tres;
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

/* ---- raw threads ----
 * A thread made by the program's own clone(CLONE_VM|CLONE_THREAD) has no
 * TLS of its own for us: without CLONE_SETTLS its thread pointer is its
 * parent's (our TLS would be shared with a running thread: one handler
 * stack for two), with it the program's (Go-style: any TLS write of ours
 * would land in the program's memory).  Such a thread is armed with a
 * shadow TLS of its own: a copy of the static TLS and the head of the TCB
 * of the thread that cloned it, in a slot of a fixed table.  The handler
 * finds the slot by tid (only while slots are in use), points %fs at the
 * shadow for its whole run and back at the program's around the call it
 * performs, so neither the program nor the parent sees a TLS write of
 * ours.  The thread's selector byte is the shadow's ct_sud_tsel. */
#define SUD_RAW 64
#define SUD_TCB 0x200 /* bytes of glibc's TCB copied above the pointer */
enum { RAW_FREE, RAW_CLAIMED, RAW_LIVE, RAW_EXITED };

struct raw_slot {
	atomic_int state;
	atomic_int tid;
	char *mem; /* SUD_STACK handler stack, then the shadow TLS */
	char *tp; /* the shadow's thread pointer */
	char *sel; /* the shadow's ct_sud_tsel: the thread's selector */
	bool fresh; /* the shadow's per-thread state not yet reset */
};

static struct raw_slot s_raw[SUD_RAW];
static atomic_int s_raw_used; /* slots not free: gates the lookup */
static atomic_bool s_raw_full; /* said so in a gap */
static size_t s_tls_below; /* static TLS below the thread pointer */
static bool s_fsgsbase; /* rdfsbase/wrfsbase allowed */
static CT_TLS struct raw_slot *t_raw; /* this thread's slot (shadows only) */
static CT_TLS uintptr_t t_prog_fs; /* raw: the program's fs base */
static CT_TLS struct raw_slot *t_clone_slot; /* raw clone in flight */
static CT_TLS uintptr_t t_clone_fs; /* raw parent's fs during the clone */

/* ---- assembly ----
 * ct_sys_stub: the shim's `syscall; ret` until libc's is known (nothing
 * is armed yet then).
 * ct_sud_clone_tramp: entered after the handler returned, with the
 * program's registers of a raw clone.  The child (rax 0, on its new stack)
 * jumps to the program's next instruction, stored by the handler just
 * below its stack top (top - 8); when the handler also left a raw-thread
 * slot (top - 16) or an fs base (top - 24), it first calls
 * ct_sud_raw_start(slot, fs) with its registers saved below those words;
 * the parent stores the result in ct_sud_tres
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
	"	mov -16(%rsp), %r11\n"
	"	or -24(%rsp), %r11\n"
	"	jz 2f\n"
	"	lea -32(%rsp), %rsp\n"
	"	push %rbx\n"
	"	mov %rsp, %rbx\n"
	"	and $-16, %rsp\n"
	"	push %rdi\n"
	"	push %rsi\n"
	"	push %rdx\n"
	"	push %r8\n"
	"	push %r9\n"
	"	push %r10\n"
	"	mov 24(%rbx), %rdi\n"
	"	mov 16(%rbx), %rsi\n"
	"	call ct_sud_raw_start\n"
	"	pop %r10\n"
	"	pop %r9\n"
	"	pop %r8\n"
	"	pop %rdx\n"
	"	pop %rsi\n"
	"	pop %rdi\n"
	"	mov %rbx, %rsp\n"
	"	pop %rbx\n"
	"	lea 32(%rsp), %rsp\n"
	"	xor %eax, %eax\n"
	"2:	jmp *-8(%rsp)\n"
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
void ct_sud_raw_start(struct raw_slot *s, uintptr_t fs);
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

/* An armed thread must take SIGSYS: one forced while blocked kills the
 * process (exit 159).  Threads glibc starts for itself (timer_create's
 * SIGEV_THREAD callbacks) run with every signal blocked, and a program
 * may start one with SIGSYS in pthread_attr_setsigmask_np's mask: unblock
 * it for real and keep the program's wish in t_prog_blocked, which the
 * mask hooks and the raw rt_sigprocmask path show back.  A wish already
 * recorded (the mask hooks ran before the arm) is kept. */
static void sigsys_deliverable(void)
{
	uint64_t bit = SIGSYS_BIT, old = 0;

	if (ct_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&bit, (long)&old,
		    sizeof(old)) == 0 &&
	    (old & SIGSYS_BIT))
		t_prog_blocked = true;
}

void ct_sud_arm_thread(void)
{
	int saved = errno;

	ct_sud_armed = true;
	if (!ct_sud_on)
		return;
	stack_setup();
	ct_sud_tsel = SUD_ALLOW;
	if (sud_prctl() == 0) {
		sigsys_deliverable();
		/* inside the handler (a raw fork's child) the handler's exit
		 * sets the selector */
		if (t_depth == 0)
			ct_sud_tsel = SUD_BLOCK;
	}
	errno = saved;
}

/* ---- raw threads (see the table above) ---- */
static inline __attribute__((always_inline)) uintptr_t fs_get(void)
{
	unsigned long v = 0;

	if (s_fsgsbase)
		__asm__ volatile("rdfsbase %0" : "=r"(v));
	else
		ct_sys2(SYS_arch_prctl, ARCH_GET_FS, &v);
	return v;
}

/* A compiler barrier too: no TLS access may move across it. */
static inline __attribute__((always_inline)) void fs_set(uintptr_t v)
{
	if (s_fsgsbase)
		__asm__ volatile("wrfsbase %0" : : "r"(v) : "memory");
	else
		ct_sys2(SYS_arch_prctl, ARCH_SET_FS, v);
	__asm__ volatile("" : : : "memory");
}

static inline char *tp_now(void)
{
	char *p;

	__asm__("mov %%fs:0, %0" : "=r"(p));
	return p;
}

/* The slot of the calling thread when it is a raw thread.  Touches no
 * TLS (the thread pointer may be anyone's). */
static struct raw_slot *raw_find(void)
{
	int tid = ct_sys_gettid();

	for (int i = 0; i < SUD_RAW; i++) {
		struct raw_slot *s = &s_raw[i];

		/* acquire: pairs with ct_sud_raw_start's release (this
		 * thread's own, or a dead one's) */
		if (atomic_load_explicit(&s->state, memory_order_acquire) ==
			    RAW_LIVE &&
		    atomic_load_explicit(&s->tid, memory_order_relaxed) == tid)
			return s;
	}
	return NULL;
}

static void raw_release(struct raw_slot *s)
{
	atomic_store_explicit(&s->state, RAW_FREE, memory_order_release);
	atomic_fetch_sub_explicit(&s_raw_used, 1, memory_order_relaxed);
}

/* A slot for a raw thread about to be cloned, its shadow a copy of the
 * calling thread's TLS.  NULL when none is free (the thread then runs
 * unarmed, as before). */
static struct raw_slot *raw_claim(void)
{
	size_t size = SUD_STACK + s_tls_below + SUD_TCB;
	char *tp = tp_now(), *stp;
	struct raw_slot *s = NULL;
	long m;

	if (!s_tls_below)
		return NULL;
	for (int i = 0; i < SUD_RAW && !s; i++) {
		int st = atomic_load_explicit(&s_raw[i].state,
					      memory_order_relaxed);

		/* an exited thread's slot only once it is gone: its exit
		 * runs on the slot's stack */
		if (st == RAW_EXITED &&
		    ct_sys3(SYS_tgkill, ct_sys_getpid(),
			    atomic_load(&s_raw[i].tid), 0) != -ESRCH)
			continue;
		if (st != RAW_FREE && st != RAW_EXITED)
			continue;
		if (!atomic_compare_exchange_strong_explicit(
			    &s_raw[i].state, &st, RAW_CLAIMED,
			    memory_order_acquire, memory_order_relaxed))
			continue;
		if (st == RAW_FREE)
			atomic_fetch_add_explicit(&s_raw_used, 1,
						  memory_order_relaxed);
		s = &s_raw[i];
	}
	if (!s)
		return NULL;
	if (!s->mem) {
		m = ct_sys6(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (m < 0 && m > -4096) {
			raw_release(s);
			return NULL;
		}
		s->mem = (char *)m;
	}
	stp = s->mem + SUD_STACK + s_tls_below;
	memcpy(stp - s_tls_below, tp - s_tls_below, s_tls_below + SUD_TCB);
	/* glibc's tcbhead_t: tcb and self point at the TCB itself; code
	 * computes TLS addresses from them */
	((char **)stp)[0] = stp;
	((char **)stp)[2] = stp;
	s->tp = stp;
	s->sel = stp + ((char *)&ct_sud_tsel - tp);
	*s->sel = SUD_ALLOW;
	s->fresh = true;
	atomic_store_explicit(&s->tid, 0, memory_order_relaxed);
	return s;
}

/* In the new raw thread, from the trampoline, on the program's stack:
 * set the fs base the program expects (fs: the child of a raw thread
 * inherited the shadow), then arm with the slot.  No TLS, no vector
 * registers (the program's are live). */
CT_ASM_NAMED void ct_sud_raw_start(struct raw_slot *s, uintptr_t fs)
{
	stack_t ss;

	if (fs)
		fs_set(fs);
	if (!s)
		return;
	atomic_store_explicit(&s->tid, ct_sys_gettid(), memory_order_relaxed);
	ss.ss_sp = s->mem;
	ss.ss_size = SUD_STACK;
	ss.ss_flags = 0;
	ct_sys2(SYS_sigaltstack, &ss, 0);
	if (ct_sys6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
		    (long)s_libc_lo, (long)s_libc_len, (long)s->sel, 0) != 0) {
		raw_release(s);
		return;
	}
	*(volatile char *)s->sel = SUD_BLOCK;
	/* release: raw_find in this thread's handler */
	atomic_store_explicit(&s->state, RAW_LIVE, memory_order_release);
}

/* The first trap of a raw thread, on its shadow: the state copied from
 * the parent is not this thread's. */
static void raw_fresh(struct raw_slot *s)
{
	s->fresh = false;
	ct_thread_forget();
	t_raw = s;
	t_depth = 0;
	t_stack = s->mem;
	t_clone_slot = NULL;
	t_clone_fs = 0;
	ct_sud_armed = true;
}

/* A call performed for a raw thread: with the program's fs base (its
 * signal handlers may run meanwhile), kept when the call set it. */
static __attribute__((noinline)) long raw_perform(long nr, const long *a,
						  uintptr_t *prog, char *shadow)
{
	long r;

	fs_set(*prog);
	r = ct_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (nr == SYS_arch_prctl && r == 0 && a[0] == ARCH_SET_FS)
		*prog = (uintptr_t)a[1];
	fs_set((uintptr_t)shadow);
	return r;
}

void ct_sud_child(void)
{
	int used = 0;

	if (!ct_sud_on)
		return;
	/* a fork child has one thread: the other raw threads' slots are
	 * free here (this memory is its own) */
	for (int i = 0; i < SUD_RAW; i++) {
		if (&s_raw[i] == t_raw) {
			atomic_store(&s_raw[i].tid, ct_sys_gettid());
			used++;
		} else {
			atomic_store(&s_raw[i].state, RAW_FREE);
		}
	}
	atomic_store(&s_raw_used, used);
	ct_sud_arm_thread();
}

/* ---- performing a trapped call ---- */
static long sud_perform(long nr, const long *a)
{
	long r;

	/* BLOCK while the call runs: a program handler interrupting a
	 * blocking call is then traced too (its trap nests). */
	ct_sud_tsel = SUD_BLOCK;
	if (t_raw)
		r = raw_perform(nr, a, &t_prog_fs, t_raw->tp);
	else
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

/* A clone whose child gets a new stack: let the trampoline issue it.  A
 * thread (CLONE_VM|CLONE_THREAD) gets a raw-thread slot to arm with; the
 * child of a raw thread inherits the shadow as its fs base unless it sets
 * its own, so it is given the program's.  Returns whether the handler
 * must leave the shadow in place (a raw thread: the trampoline's parent
 * side writes this thread's TLS). */
static bool sud_clone_tramp(greg_t *g, unsigned long flags, uintptr_t top)
{
	const unsigned long thread = CLONE_VM | CLONE_THREAD;
	uintptr_t *w = (uintptr_t *)top;
	struct raw_slot *slot = NULL;

	t_clone_rip = (uintptr_t)g[REG_RIP];
	t_clone_flags = flags;
	t_clone_t0 = ct_now();
	if ((flags & thread) == thread) {
		slot = raw_claim();
		if (!slot && s_tls_below && !atomic_exchange(&s_raw_full, true))
			ct_sud_gap("raw syscalls of some raw-clone threads not "
				   "captured: more of them at once than "
				   "raw-thread slots");
	}
	t_clone_slot = slot;
	t_clone_fs = t_prog_fs;
	w[-1] = t_clone_rip;
	w[-2] = (uintptr_t)slot;
	w[-3] = t_raw && !(flags & CLONE_SETTLS) ? t_prog_fs : 0;
	g[REG_RIP] = (greg_t)(uintptr_t)ct_sud_clone_tramp;
	return t_raw != NULL;
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
	struct raw_slot *rs; /* a raw thread's, else NULL */
	uintptr_t prog_fs; /* rs: the program's fs base, to restore */
	bool keep; /* rs: leave the shadow in place (clone trampoline) */
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
			c->keep = sud_clone_tramp(g, fl, (uintptr_t)a[1]);
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
			c->keep = sud_clone_tramp(
				g, u->flags,
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
		if (t_clone_slot && r < 0)
			raw_release(t_clone_slot);
		t_clone_slot = NULL;
		t_prog_fs = t_clone_fs; /* a raw thread's fs, kept meanwhile */
		g[REG_RIP] = (greg_t)t_clone_rip;
		g[REG_RCX] = (greg_t)t_clone_rip;
		break;
	case SYS_exit:
		/* a raw thread's slot is reused once the thread is gone */
		if (t_raw)
			atomic_store_explicit(&t_raw->state, RAW_EXITED,
					      memory_order_release);
		r = sud_perform(nr, a);
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

/* On this thread's TLS (a raw thread's shadow included). */
static __attribute__((noinline)) void sud_entry(struct sud_call *c)
{
	char *sp = (char *)__builtin_frame_address(0);
	uintptr_t outer = 0;

	if (c->rs) {
		if (c->rs->fresh)
			raw_fresh(c->rs);
		outer = t_prog_fs; /* a trap nested in a performed call */
		t_prog_fs = c->prog_fs;
	}
	if (t_stack && (sp < t_stack || sp >= t_stack + SUD_STACK))
		ct_sud_on_stack(sud_work, c, t_stack + SUD_STACK);
	else
		sud_work(c);
	if (c->rs) {
		c->prog_fs = t_prog_fs;
		t_prog_fs = outer;
	}
}

/* No TLS here: in a raw thread the thread pointer is not ours until it
 * points at the shadow (sud_entry and below). */
static void sud_handler(int sig, siginfo_t *si, void *uc)
{
	struct sud_call c = { sig, si, uc, NULL, 0, false };

	if (atomic_load_explicit(&s_raw_used, memory_order_relaxed) > 0 &&
	    (c.rs = raw_find())) {
		c.prog_fs = fs_get();
		fs_set((uintptr_t)c.rs->tp);
	}
	sud_entry(&c);
	if (c.rs && !c.keep)
		fs_set(c.prog_fs);
}

/* ---- the static TLS extent, for raw threads' shadows ---- */
static int tls_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t tp = *(uintptr_t *)arg, lo = (uintptr_t)info->dlpi_tls_data;

	(void)size;
	if (lo && lo < tp && tp - lo < (1u << 20) && tp - lo > s_tls_below)
		s_tls_below = tp - lo;
	return 0;
}

static void tls_extent(void)
{
	uintptr_t tp = (uintptr_t)tp_now(), e = (uintptr_t)&errno;
	uintptr_t mine[] = { (uintptr_t)&ct_sud_tsel, (uintptr_t)&t_raw,
			     (uintptr_t)&ct_guard, e };

	dl_iterate_phdr(tls_one, &tp);
	/* everything the handler touches must be inside the copy */
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		if (mine[i] >= tp || tp - mine[i] > s_tls_below)
			s_tls_below = 0;
	s_tls_below = (s_tls_below + 63) & ~(size_t)63;
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
	s_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
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
	/* Under valgrind the program runs on valgrind's own thread: the
	 * prctl would reach the kernel for that thread, and valgrind's own
	 * syscalls (outside the guest's libc) would trap and kill it. */
	v = ct_env_get(envp, "LD_PRELOAD");
	if (v && strstr(v, "/vgpreload_")) {
		*why = "raw syscalls not captured: running under valgrind";
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
	tls_extent();
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
	sigsys_deliverable();
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
/* pthread_create's start records: a fixed table claimed with atomics (a
 * hook must not allocate).  A slot is busy from the claim in
 * pthread_create until the new thread has copied it in tstart; a burst of
 * more threads than slots not yet running starts the rest unarmed (armed
 * at their first hook call, see ct_on()), said once by a gap event. */
#define SUD_STARTS 256

struct tstart {
	atomic_int busy;
	bool blocked; /* the program's SIGSYS wish the thread inherits */
	void *(*fn)(void *);
	void *arg;
};

static struct tstart s_starts[SUD_STARTS];
static atomic_uint s_start_next;
static atomic_bool s_start_full;

static struct tstart *start_claim(void)
{
	unsigned base = atomic_fetch_add_explicit(&s_start_next, 1,
						  memory_order_relaxed);

	for (unsigned i = 0; i < SUD_STARTS; i++) {
		struct tstart *s = &s_starts[(base + i) % SUD_STARTS];
		int free_ = 0;

		/* acquire: pairs with start_release, so this claimer's
		 * writes come after the last owner's reads */
		if (atomic_compare_exchange_strong_explicit(
			    &s->busy, &free_, 1, memory_order_acquire,
			    memory_order_relaxed))
			return s;
	}
	return NULL;
}

static void start_release(struct tstart *s)
{
	atomic_store_explicit(&s->busy, 0, memory_order_release);
}

static void *tstart(void *p)
{
	struct tstart *rec = p;
	void *(*fn)(void *) = rec->fn;
	void *arg = rec->arg;
	bool blocked = rec->blocked;

	start_release(rec);
	t_prog_blocked = blocked;
	ct_sud_arm_thread();
	return fn(arg);
}

CT_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr,
			     void *(*fn)(void *), void *arg)
{
	struct tstart *s;
	sigset_t m;
	int r;

	if (!ct_sud_on)
		return CT_REAL(pthread_create)(t, attr, fn, arg);
	s = start_claim();
	if (!s) {
		if (!atomic_exchange(&s_start_full, true) && ct_on())
			ct_sud_gap("raw syscalls of some threads not captured "
				   "until their first libc call: more threads "
				   "starting at once than start records");
		return CT_REAL(pthread_create)(t, attr, fn, arg);
	}
	s->fn = fn;
	s->arg = arg;
	/* The new thread's mask is the attribute's when it has one (a
	 * SIGSYS in it is found by the arm), else ours, from which SIGSYS
	 * was stripped: then it inherits our wish. */
	s->blocked = t_prog_blocked;
	if (attr && pthread_attr_getsigmask_np(attr, &m) == 0)
		s->blocked = false;
	r = CT_REAL(pthread_create)(t, attr, tstart, s);
	if (r != 0)
		start_release(s);
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
