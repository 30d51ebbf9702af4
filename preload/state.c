/* Per-process state, the constructor, real symbols, the cwd cache and the
 * one function that puts an event into the ring.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/fault.h"
#include "preload/resolve.h"
#include "preload/shim.h"
#include "preload/sud.h"
#include "preload/sys.h"

struct ct_real ct_real;
bool ct_active;
bool ct_ready;
struct ct_ring ct_ring;
int32_t ct_pid, ct_ppid;
uint64_t ct_pstart, ct_parent_start;
bool ct_exit_done;
CT_TLS int ct_guard;
struct ct_envfix ct_envfix;

/* Cached gettid of this thread; 0 = not yet read.  New threads start at 0;
 * the forking thread resets it in the child. */
static CT_TLS int32_t t_tid;
/* Set by the fork hooks around the real fork so that the atfork child
 * handler knows the parent's stamp for the child. */
static CT_TLS uint64_t t_fork_t0;
static CT_TLS int32_t t_fork_parent;

/* Environment strings for children (see ct_envfix), packed one after the
 * other: written once by the constructor, read-only afterwards.  One
 * buffer rather than one per string at its largest size: the strings are
 * short, so the constructor dirties one page of .bss instead of four (a
 * page fault each, paid by every process; docs/performance.md). */
#define CT_KV_MAX (CT_PATH_MAX + 32)
#define CT_KV_SESSION_MAX 64
/* + room for the start event's exe and cwd (emit_start's scratch) */
static char s_kv[3 * CT_KV_MAX + CT_KV_SESSION_MAX + 2 * CT_PATH_MAX];
static size_t s_kv_used;

void *ct_real_resolve(const char *name, void **slot)
{
	void *p;
	int saved = errno;

	ct_guard++;
	p = dlsym(RTLD_NEXT, name);
	ct_guard--;
	if (p)
		__atomic_store_n(slot, p, __ATOMIC_RELAXED);
	errno = saved;
	return p;
}

/* Every real symbol up front, so that no hook calls dlsym later (it is not
 * async-signal-safe).  ct_next_sym answers nearly all of them for a tenth
 * of dlsym's cost (resolve.h); what it cannot tell goes to dlsym. */
static void real_resolve_all(void)
{
	struct ct_next nx;
	void *p;

	if (!ct_next_init(&nx, (const void *)real_resolve_all))
		nx.n = 0;
#define CT_HOOK(name)                                                   \
	if (!ct_real.name) {                                            \
		p = ct_next_sym(&nx, #name);                            \
		if (p)                                                  \
			__atomic_store_n((void **)&ct_real.name, p,     \
					 __ATOMIC_RELAXED);             \
		else                                                    \
			ct_real_resolve(#name, (void **)&ct_real.name); \
	}
#include "preload/hooks.def"
#undef CT_HOOK
}

static uint64_t clock_now(void)
{
	struct timespec ts;

	/* vDSO: no syscall, async-signal-safe; does not touch errno on
	 * success, and CLOCK_REALTIME cannot fail. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The TSC clock (docs/ring.md, "Timestamps"): this thread's last clock
 * read and the TSC beside it.  A read within CT_TSC_WINDOW ticks of it is
 * that time plus the ticks since at the ring's tsc_mult; a later one (or
 * a TSC behind it: another CPU's) reads the clock again.  gen is odd
 * while the pair is written and moves with every write, so a signal
 * handler that interrupts a write (or a read) of the pair reads the clock
 * itself and leaves the pair alone.  A vfork child writes its parent's
 * pair: a true one.  x86 keeps stores in order, so signal fences are all
 * a thread needs against its own handlers. */
#define CT_TSC_WINDOW (1ull << 21) /* ~0.5-2 ms of ticks */
#define CT_TSC_SKEW (1ull << 15) /* ~8-30 us: preempted in a clock read */
struct anchor {
	unsigned gen; /* 0: none yet */
	uint64_t tsc, ns;
};
static CT_TLS struct anchor t_anchor;

uint64_t ct_now(void)
{
#if defined(__x86_64__)
	uint64_t mult = ct_ring_tsc_mult(&ct_ring), tsc, ns, d;
	struct anchor *a = &t_anchor;
	unsigned g;
	bool fresh;

	if (__builtin_expect(mult == 0, 0))
		return clock_now();
	g = __atomic_load_n(&a->gen, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	tsc = __builtin_ia32_rdtsc();
	d = tsc - a->tsc;
	ns = a->ns;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fresh = g && !(g & 1) && d < CT_TSC_WINDOW;
	if (__builtin_expect(fresh, 1) &&
	    __atomic_load_n(&a->gen, __ATOMIC_RELAXED) == g)
		return ns + (d * mult >> 32);
	if (g & 1)
		return clock_now(); /* we interrupted a write of the pair */
	__atomic_store_n(&a->gen, g + 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* the vDSO reads the TSC somewhere in between: take the middle,
	 * unless the thread lost the CPU in between (then no anchor: the
	 * next read makes one) */
	tsc = __builtin_ia32_rdtsc();
	ns = clock_now();
	d = __builtin_ia32_rdtsc() - tsc;
	a->tsc = tsc + d / 2;
	a->ns = ns;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&a->gen,
			 d >= CT_TSC_SKEW ? 0
			 : g + 2	  ? g + 2
					  : 2,
			 __ATOMIC_RELAXED);
	return ns;
#else
	return clock_now();
#endif
}

void ct_self_cached(struct ct_self *s)
{
	if (!t_tid)
		t_tid = ct_sys_gettid();
	s->pid = ct_pid;
	s->tid = t_tid;
	s->ppid = ct_ppid;
	s->pstart = ct_pstart;
	s->vfork = false;
}

void ct_self_checked(struct ct_self *s)
{
	int32_t pid = ct_sys_getpid();

	if (pid == ct_pid) {
		ct_self_cached(s);
		return;
	}
	/* A vfork child (or a CLONE_VM process): shares our memory, so it
	 * reports its raw ids and writes nothing.  Not a thread (that would
	 * have our pid): the one thread of a new process, whose tid is its
	 * pid. */
	s->pid = pid;
	s->tid = pid;
	s->ppid = ct_sys_getppid();
	s->pstart = 0;
	s->vfork = true;
}

void ct_event_start(struct ct_event *ev, unsigned kind, uint64_t ts)
{
	memset(ev, 0, sizeof(*ev));
	ct_event_head(ev, kind, ts);
}

void ct_event_result(struct ct_event *ev, long r, int err)
{
	if (r < 0) {
		ev->result = -(int64_t)err;
		ev->err = err;
	} else {
		ev->result = r;
		ev->err = 0;
	}
}

/* Records with argv up to this size are encoded on the stack first (an
 * exec event with a short argv is ~200 bytes). */
#define CT_EMIT_SMALL 512

/* Copy an encoded record into its slot; a fault build dies half way. */
static void emit_copy(void *slot, const unsigned char *rec, size_t n)
{
#ifdef CT_FAULTS
	memcpy(slot, rec, n / 2);
	CT_FAULT_POINT("emit.mid_payload");
	memcpy((char *)slot + n / 2, rec + n / 2, n - n / 2);
#else
	memcpy(slot, rec, n);
#endif
}

void ct_emit(struct ct_event *ev, const struct ct_self *self)
{
	unsigned char small[CT_EMIT_SMALL];
	struct ct_self s;
	struct ct_ring_claim claim;
	ssize_t w;
	size_t n;
	void *p;

	if (!ct_active)
		return;
	if (!self) {
		ct_self_cached(&s);
		self = &s;
	}
	ev->pid = self->pid;
	ev->tid = self->tid;
	ev->ppid = self->ppid;
	ev->pstart = self->pstart;
	CT_FAULT_POINT("emit.before_encode");
	/* Every record without argv takes the ring form, whose size is
	 * known before a byte is written: straight into the slot. */
	n = ct_event_ring_size(ev);
	if (__builtin_expect(n != 0, 1)) {
		p = ct_ring_reserve(&ct_ring, (uint32_t)n, self->pid, &claim);
		if (!p)
			return; /* dropped and counted by the ring */
		CT_FAULT_POINT("emit.after_reserve");
#ifdef CT_FAULTS
		if (n <= sizeof(small)) {
			ct_event_ring_encode(ev, small);
			emit_copy(p, small, n);
		} else {
			ct_event_ring_encode(ev, p);
		}
#else
		ct_event_ring_encode(ev, p);
#endif
		CT_FAULT_POINT("emit.before_commit");
		ct_ring_commit(&ct_ring, &claim);
		return;
	}
	/* Records with argv: most are small, and encoding once on the stack
	 * and copying costs less than sizing them in a pass of its own. */
	w = ct_event_encode(ev, small, sizeof(small));
	if (w >= 0) {
		p = ct_ring_reserve(&ct_ring, (uint32_t)w, self->pid, &claim);
		if (!p)
			return;
		CT_FAULT_POINT("emit.after_reserve");
		emit_copy(p, small, (size_t)w);
		CT_FAULT_POINT("emit.before_commit");
		ct_ring_commit(&ct_ring, &claim);
		return;
	}
	n = ct_event_size(ev);
	if (n > UINT32_MAX)
		return;
	p = ct_ring_reserve(&ct_ring, (uint32_t)n, self->pid, &claim);
	if (!p)
		return;
	CT_FAULT_POINT("emit.after_reserve");
	/* n is exact, so this cannot fail; if it did, the consumer counts
	 * the record as lost_bad rather than us leaving a hole. */
	(void)ct_event_encode(ev, p, n);
	CT_FAULT_POINT("emit.before_commit");
	ct_ring_commit(&ct_ring, &claim);
}

void ct_thread_forget(void)
{
	t_anchor.gen = 0;
	t_tid = 0;
	t_fork_t0 = 0;
	t_fork_parent = 0;
	ct_guard = 0;
}

void ct_child_reset(uint64_t t0, int32_t parent_pid)
{
	uint64_t parent_start = ct_pstart;

	ct_pid = ct_sys_getpid();
	t_tid = 0;
	ct_ppid = parent_pid;
	ct_pstart = t0;
	ct_parent_start = parent_start;
	ct_exit_done = false;
	ct_sud_child(); /* dispatch is not inherited by a fork child */
}

void ct_fork_mark(uint64_t t0, int32_t parent)
{
	t_fork_t0 = t0;
	t_fork_parent = parent;
}

/* Runs in the child of every fork() that goes through glibc's fork, ours or
 * a hidden internal one (daemon(), ...).  For ours, the hook stored the
 * stamp and the parent records the fork; for a hidden one we only learn of
 * it here, so the child records it itself. */
static void atfork_child(void)
{
	struct ct_event ev;
	int32_t parent;
	uint64_t t0;

	if (!ct_active)
		return;
	if (t_fork_t0) {
		ct_child_reset(t_fork_t0, t_fork_parent);
		return;
	}
	parent = ct_pid;
	t0 = ct_now();
	ct_child_reset(t0, parent);
	ct_event_start(&ev, CT_KIND_FORK, t0);
	ev.present = CT_F_PARENT_START;
	ev.parent_start = ct_parent_start;
	ev.result = 0;
	ct_emit(&ev, NULL);
}

void ct_record_exit(int code)
{
	struct ct_self s;
	struct ct_event ev;

	if (!ct_on())
		return;
	ct_self_checked(&s);
	if (!s.vfork &&
	    __atomic_exchange_n(&ct_exit_done, true, __ATOMIC_RELAXED))
		return;
	ct_event_start(&ev, CT_KIND_EXIT, 0);
	ev.present = CT_F_EXIT;
	ev.exit_code = code & 0xff; /* what the parent's wait sees */
	ct_emit(&ev, &s);
}

void ct_record_reaped(pid_t pid, int st)
{
	struct ct_self s;
	struct ct_event ev;

	if (pid <= 0 || !(WIFEXITED(st) || WIFSIGNALED(st)))
		return;
	ct_self_checked(&s);
	ct_event_start(&ev, CT_KIND_EXIT, 0);
	ev.present = CT_F_REPORTER;
	ev.reporter = s.pid;
	if (WIFEXITED(st)) {
		ev.present |= CT_F_EXIT;
		ev.exit_code = WEXITSTATUS(st);
	} else {
		ev.present |= CT_F_SIGNAL;
		ev.signal = WTERMSIG(st);
	}
	/* The event belongs to the child; its instance stamp is unknown
	 * here (0), the analyzer matches it by pid and time. */
	s.ppid = s.pid;
	s.pid = pid;
	s.tid = pid;
	s.pstart = 0;
	ct_emit(&ev, &s);
}

/* ---- cwd cache ----
 * Two buffers and a generation counter (a seqlock): the writer fills the
 * buffer readers are not using, then publishes it by bumping gen; readers
 * copy and retry if gen moved meanwhile.  chdir is rare, reads are hot. */
static char s_cwd[2][CT_PATH_MAX];
static size_t s_cwd_len[2];
/* Starts odd so that the constructor's refresh fills s_cwd[0]: the
 * buffer next to the other data it writes, one page fault less. */
static _Atomic unsigned s_cwd_gen = 1;

size_t ct_cwd_copy(char *out, size_t cap)
{
	for (int tries = 0; tries < 8; tries++) {
		/* acquire: pairs with the release in ct_cwd_refresh */
		unsigned g =
			atomic_load_explicit(&s_cwd_gen, memory_order_acquire);
		size_t n = s_cwd_len[g & 1];

		if (n >= cap)
			n = cap - 1;
		memcpy(out, s_cwd[g & 1], n);
		out[n] = '\0';
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s_cwd_gen, memory_order_relaxed) == g)
			return n;
	}
	long r = ct_sys_getcwd(out, cap);
	return r > 0 ? (size_t)r - 1 : 0;
}

void ct_cwd_refresh(void)
{
	unsigned g = atomic_load_explicit(&s_cwd_gen, memory_order_relaxed);
	unsigned i = (g + 1) & 1;
	long r;

	r = ct_sys_getcwd(s_cwd[i], sizeof(s_cwd[i]));
	if (r <= 0 || s_cwd[i][0] != '/')
		return; /* "(unreachable)" or error: keep the old one */
	s_cwd_len[i] = (size_t)r - 1;
	/* release: the buffer is complete before readers can pick it */
	atomic_store_explicit(&s_cwd_gen, g + 1, memory_order_release);
}

/* ---- constructor ---- */
/* Append "k" "v" to s_kv; NULL when "kv" and its NUL need cap bytes or
 * more (each string keeps the limit it had in a buffer of its own). */
static const char *kv_build(size_t cap, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);
	char *out = s_kv + s_kv_used;

	if (kl + vl + 1 >= cap ||
	    kl + vl + 1 > sizeof(s_kv) - 2 * CT_PATH_MAX - s_kv_used)
		return NULL;
	memcpy(out, k, kl);
	memcpy(out + kl, v, vl + 1);
	s_kv_used += kl + vl + 1;
	return out;
}

/* Runs once, in the constructor.  exe and cwd go to the scratch room
 * after the strings in s_kv, a page setup has just dirtied: 8 KB of stack
 * here would touch fresh stack pages, a page fault each. */
static void emit_start(int argc, char **argv)
{
	struct ct_event ev;
	char *exe = s_kv + s_kv_used, *cwd = exe;
	long n;

	(void)argc;
	ct_event_start(&ev, CT_KIND_START, ct_pstart);
	ev.present = CT_F_CWD;
	if (argv) {
		ev.present |= CT_F_ARGV;
		ev.argv_in = argv;
	}
	n = ct_sys_readlinkat(AT_FDCWD, "/proc/self/exe", exe, CT_PATH_MAX - 1);
	if (n > 0) {
		ev.present |= CT_F_EXE;
		ev.exe.p = exe;
		ev.exe.len = (uint32_t)n;
		cwd = exe + n; /* same page, most likely */
	}
	/* source "sud": raw syscalls of this image are captured too */
	if (ct_sud_on)
		ev.source = CT_SOURCE_SUD;
	ev.cwd.len = (uint32_t)ct_cwd_copy(cwd, CT_PATH_MAX);
	ev.cwd.p = cwd;
	if (ct_parent_start) {
		ev.present |= CT_F_PARENT_START;
		ev.parent_start = ct_parent_start;
	}
	/* ts of a start is the instance stamp when this image began a new
	 * process, the exec's time otherwise. */
	ev.ts = ct_now();
	ct_emit(&ev, NULL);
}

/* Attach the ring and fill the process state from envp; false: inert. */
static bool setup(char **envp)
{
	const char *ring, *session, *shim, *proc, *kv;
	int32_t proc_pid = 0;
	uint64_t proc_start = 0;
	int n = 0;

	ct_ready = true;
	/* written before it is read: a first read of a .bss page maps the
	 * zero page, and the write after it faults a second time */
	s_kv_used = 0;
	real_resolve_all();
	ring = ct_env_get(envp, "CTRACE_RING");
	if (!ring || !*ring)
		return false;
	if (ct_ring_attach(ring, &ct_ring) < 0)
		return false;

	session = ct_env_get(envp, "CTRACE_SESSION");
	shim = ct_env_get(envp, "CTRACE_SHIM");
	if (!shim || shim[0] != '/') {
		Dl_info info;

		shim = NULL;
		if (dladdr((void *)setup, &info) && info.dli_fname &&
		    info.dli_fname[0] == '/')
			shim = info.dli_fname;
	}
	kv = kv_build(CT_KV_MAX, "CTRACE_RING=", ring);
	if (kv) {
		ct_envfix.kv[n++] = kv;
		ct_envfix.ring_val = kv + strlen("CTRACE_RING=");
	}
	kv = session ? kv_build(CT_KV_SESSION_MAX, "CTRACE_SESSION=", session)
		     : NULL;
	if (kv)
		ct_envfix.kv[n++] = kv;
	/* the shim's path is the value of CTRACE_SHIM=, kept in s_kv */
	kv = shim ? kv_build(strlen("CTRACE_SHIM=") + CT_PATH_MAX + 1,
			     "CTRACE_SHIM=", shim)
		  : NULL;
	if (kv) {
		ct_envfix.kv[n++] = kv;
		ct_envfix.shim = kv + strlen("CTRACE_SHIM=");
		ct_envfix.shim_len = strlen(ct_envfix.shim);
	}
	ct_envfix.kv[n++] = "UV_USE_IO_URING=0";
	kv = ct_envfix.shim ? kv_build(CT_KV_MAX, "LD_PRELOAD=", ct_envfix.shim)
			    : NULL;
	if (kv)
		ct_envfix.kv[n++] = kv;
	ct_envfix.nkv = n;

	ct_pid = ct_sys_getpid();
	ct_ppid = ct_sys_getppid();
	t_tid = 0;
	proc = ct_env_get(envp, "CTRACE_PROC");
	if (proc && ct_parse_proc(proc, &proc_pid, &proc_start) &&
	    proc_pid == ct_pid && proc_start) {
		ct_pstart = proc_start; /* an exec: same instance goes on */
	} else {
		ct_pstart = ct_now();
		if (proc_pid && proc_pid == ct_ppid)
			ct_parent_start = proc_start;
	}
	ct_cwd_refresh();
	ct_gate_init();
	pthread_atfork(NULL, NULL, atfork_child);
	ct_active = true;
	return true;
}

void ct_setup_early(void)
{
	/* Constructors run one at a time, before main: no race.  Without
	 * environ yet, leave it to the constructor. */
	if (ct_ready || ct_guard || !environ)
		return;
	ct_guard++;
	setup(environ);
	ct_guard--;
}

__attribute__((constructor)) static void ct_init(int argc, char **argv,
						 char **envp)
{
	const char *why = NULL;
	int sud = 0;

	ct_guard++;
	/* setup sets ct_ready first thing; the exchange is a write, so this
	 * page of .bss faults once rather than twice (read, then write) */
	if (!__atomic_exchange_n(&ct_ready, true, __ATOMIC_RELAXED))
		ct_active = setup(envp ? envp : environ);
	if (ct_active)
		sud = ct_sud_init(envp ? envp : environ, &why);
	if (ct_active)
		emit_start(argc, argv);
	if (ct_active && sud < 0 && why)
		ct_sud_gap(why);
	ct_guard--;
}
