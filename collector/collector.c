/* Ring -> store, with the process model the views need.
 *
 * Events arrive in ring order, which is claim order across all producers:
 * a child's first events can precede the parent's `fork` record, so every
 * lineage fact is applied whichever side arrives first.
 */
#include "collector/collector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/error.h"

/* Commit a batch at this many events or this age, whichever comes first. */
#define BATCH_EVENTS 8192
#define BATCH_AGE_NS 50000000ull
#define DRAIN_MAX 4096
#define SYNC_EVERY_NS 2000000000ull
/* How long the end of a session waits for claims still pending. */
#define FINISH_DRAIN_NS (CT_RING_GRACE_LONG_NS + 500000000ull)

struct proc {
	struct ct_proc_info pi;
	bool dirty;
	bool has_pending_exec;
	/* The shim recorded an exec-time gap for the exec now pending (or
	 * about to be): its image will not check in, and that is already
	 * told, so add_exec_gaps() adds no second gap for it. */
	bool exec_gapped;
	uint64_t exec_ts;
	char *exec_exe; /* owned; exe of an exec not yet followed by a start */
};

/* Open-addressing map from a 64+32-bit key to a proc index + 1. */
struct slot {
	uint64_t a;
	int32_t b;
	uint32_t val; /* 0 = empty */
};

struct map {
	struct slot *s;
	size_t cap, used; /* cap is a power of two */
};

struct ct_collector {
	struct ct_store *store;
	struct ct_ring *ring;
	struct ct_wbatch *batch;
	struct ct_session_info si;
	char *si_mem; /* owned copies of si's strings */
	char **si_argv; /* owned argv_in of si */
	uint64_t seq;
	uint64_t bad; /* lost here: undecodable, drained by a collector that
		       * died before storing them, or still claimed at the
		       * end-of-session deadline */
	uint64_t gaps;
	uint64_t batch_since;
	uint64_t synced_at;
	int err; /* sticky store error */
	/* What the store holds: the session as of the last commit that
	 * succeeded, and c->bad then (for ct_collector_abandon). */
	struct ct_session_info stored;
	uint64_t stored_bad;
	uint64_t ring_dups, stored_dups; /* ring records dropped as repeats */

	ct_collector_stored_fn on_stored;
	void *on_stored_arg;

	struct proc *procs; /* index = num - 1 */
	size_t nprocs, capprocs;
	struct map by_inst; /* (pstart, pid) -> proc */
	/* The last by_inst lookup that found an instance: nearly every event
	 * is from the same process as the one before.  Reset by any put to
	 * by_inst, so it always says what map_get would. */
	uint64_t last_pstart;
	int32_t last_pid;
	uint32_t last_num; /* 0: none */
	struct map by_pid; /* (0, pid) -> latest proc of that pid */
	struct map pid_gen; /* (0, pid) -> instances seen of that pid */
};

uint64_t ct_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ct_now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t slot_hash(uint64_t a, int32_t b)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uint32_t)b;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (size_t)(h ^ (h >> 32));
}

static struct slot *map_find(struct map *m, uint64_t a, int32_t b)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_hash(a, b) & (m->cap - 1);;
	     i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->s[i];
		if (!s->val || (s->a == a && s->b == b))
			return s;
	}
}

static uint32_t map_get(struct map *m, uint64_t a, int32_t b)
{
	struct slot *s = map_find(m, a, b);
	return s ? s->val : 0;
}

static int map_put(struct map *m, uint64_t a, int32_t b, uint32_t val)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct map n = { 0 };
		n.cap = m->cap ? m->cap * 2 : 256;
		n.s = calloc(n.cap, sizeof(*n.s));
		if (!n.s)
			return CT_ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->s[i].val)
				*map_find(&n, m->s[i].a, m->s[i].b) = m->s[i];
		n.used = m->used;
		free(m->s);
		*m = n;
	}
	struct slot *s = map_find(m, a, b);
	if (!s->val)
		m->used++;
	s->a = a;
	s->b = b;
	s->val = val;
	return 0;
}

static struct proc *proc_at(struct ct_collector *c, uint32_t num)
{
	return num ? &c->procs[num - 1] : NULL;
}

/* The instance of (pid, pstart) if it is the one last found, else NULL. */
static inline struct proc *last_inst(struct ct_collector *c, int32_t pid,
				     uint64_t pstart)
{
	return c->last_num && pid == c->last_pid && pstart == c->last_pstart
		       ? &c->procs[c->last_num - 1]
		       : NULL;
}

static struct proc *proc_of(struct ct_collector *c, int32_t pid,
			    uint64_t pstart)
{
	struct proc *p = last_inst(c, pid, pstart);
	uint32_t num;

	if (p)
		return p;
	num = map_get(&c->by_inst, pstart, pid);
	if (num) {
		c->last_pid = pid;
		c->last_pstart = pstart;
		c->last_num = num;
	}
	return proc_at(c, num);
}

static int inst_put(struct ct_collector *c, uint64_t pstart, int32_t pid,
		    uint32_t num)
{
	c->last_num = 0;
	return map_put(&c->by_inst, pstart, pid, num);
}

static struct proc *latest_of(struct ct_collector *c, int32_t pid)
{
	return proc_at(c, map_get(&c->by_pid, 0, pid));
}

static int proc_index(struct ct_collector *c, struct proc *p)
{
	int r = inst_put(c, p->pi.pstart, p->pi.pid, p->pi.num);
	if (r == 0)
		r = map_put(&c->by_pid, 0, p->pi.pid, p->pi.num);
	return r;
}

/* Whether q is p or below p.  Bounded by the number of instances, as a
 * parent link may point to a higher num (a child's events can arrive
 * before its parent's). */
static bool is_below(struct ct_collector *c, struct proc *q, struct proc *p)
{
	for (size_t n = 0; q && n <= c->nprocs; n++) {
		if (q == p)
			return true;
		q = proc_at(c, q->pi.parent);
	}
	return false;
}

/* The most likely parent of p, an instance whose ppid names no process of
 * the session: the newest other instance still running when it began.
 * p itself is the newest instance when it was just made, and is skipped,
 * as is anything below it (its own children's events can arrive before
 * its start), which would make a loop. */
static struct proc *infer_parent(struct ct_collector *c, struct proc *p,
				 uint64_t ts)
{
	for (size_t i = c->nprocs; i-- > 0;) {
		struct proc *q = &c->procs[i];
		if (q->pi.start <= ts && (!q->pi.end || q->pi.end >= ts) &&
		    !is_below(c, q, p))
			return q;
	}
	return NULL;
}

static void set_parent(struct ct_collector *c, struct proc *p,
		       const struct ct_event *ev)
{
	struct proc *par = NULL;

	if (ev->present & CT_F_REPORTER)
		par = latest_of(c, ev->reporter);
	else if (ev->present & CT_F_PARENT_START)
		par = proc_of(c, ev->ppid, ev->parent_start);
	if (!par && ev->ppid > 0)
		par = latest_of(c, ev->ppid);
	if (par == p)
		par = NULL;
	if (par) {
		p->pi.parent = par->pi.num;
		p->pi.flags &= ~CT_PROC_INFERRED;
		if (!p->pi.image_seq)
			p->pi.image_seq = par->pi.image_seq;
		return;
	}
	/* The command ctrace run started is the root; its ppid is the run.
	 * An inference already made stands: a later event knows no more. */
	if (ev->ppid == c->si.run_pid || c->nprocs == 1 || p->pi.num == 1 ||
	    (p->pi.flags & CT_PROC_INFERRED))
		return;
	par = infer_parent(c, p, ev->ts);
	if (par) {
		p->pi.parent = par->pi.num;
		p->pi.flags |= CT_PROC_INFERRED;
	}
}

static struct proc *proc_new(struct ct_collector *c, int32_t pid,
			     uint64_t pstart, uint64_t ts)
{
	if (c->nprocs == c->capprocs) {
		size_t n = c->capprocs ? c->capprocs * 2 : 64;
		struct proc *np = realloc(c->procs, n * sizeof(*np));
		if (!np)
			return NULL;
		c->procs = np;
		c->capprocs = n;
	}
	struct proc *p = &c->procs[c->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pi.num = (uint32_t)c->nprocs;
	p->pi.pid = pid;
	p->pi.pstart = pstart;
	p->pi.start = pstart ? pstart : ts;
	p->pi.exit_code = -1;
	p->pi.start_seq = c->seq;
	uint32_t gen = map_get(&c->pid_gen, 0, pid) + 1;
	p->pi.pid_gen = gen;
	p->dirty = true;
	if (map_put(&c->pid_gen, 0, pid, gen) || proc_index(c, p)) {
		c->nprocs--;
		return NULL;
	}
	c->si.processes = c->nprocs;
	return p;
}

/* The instance an event belongs to, created when first seen. */
static struct proc *proc_for(struct ct_collector *c, const struct ct_event *ev)
{
	struct proc *p;

	if (ev->present & CT_F_REPORTER) { /* a parent reporting a child */
		p = latest_of(c, ev->pid);
		if (p)
			return p;
	} else if (ev->pstart) {
		p = proc_of(c, ev->pid, ev->pstart);
		if (p)
			return p;
		/* Adopt an instance first seen without a stamp (events from a
		 * vfork child before its exec). */
		p = latest_of(c, ev->pid);
		if (p && !p->pi.pstart && !(p->pi.flags & CT_PROC_SHIM) &&
		    !p->pi.end) {
			p->pi.pstart = ev->pstart;
			if (proc_index(c, p))
				return NULL;
			return p;
		}
		/* The first image a process under the seccomp supervisor
		 * exec'd with a shim cannot know the instance's stamp (the
		 * static program kept the environment of its own exec):
		 * index its stamp as an alias of that instance. */
		if (ev->kind == CT_KIND_START && p && p->has_pending_exec &&
		    (p->pi.flags & CT_PROC_SECCOMP) && !p->pi.end) {
			if (inst_put(c, ev->pstart, ev->pid, p->pi.num))
				return NULL;
			return p;
		}
	} else {
		p = latest_of(c, ev->pid);
		if (p && !p->pi.end)
			return p;
	}
	p = proc_new(c, ev->pid, ev->pstart, ev->ts);
	if (p) {
		p->pi.ppid = ev->ppid;
		set_parent(c, p, ev);
	}
	return p;
}

static void pending_exec_clear(struct proc *p)
{
	free(p->exec_exe);
	p->exec_exe = NULL;
	p->has_pending_exec = false;
	p->exec_gapped = false;
}

/* Whether a start event should look for p's parent: none known yet, or
 * only a guess (the start may name the real one). */
static bool no_parent(const struct proc *p)
{
	return p->pi.num != 1 &&
	       (!p->pi.parent || (p->pi.flags & CT_PROC_INFERRED));
}

/* The kinds apply() does something for (the others it only accepts). */
#define MODEL_KINDS                                                       \
	(1u << CT_KIND_START | 1u << CT_KIND_EXEC | 1u << CT_KIND_GAP |   \
	 1u << CT_KIND_FORK | 1u << CT_KIND_EXIT | 1u << CT_KIND_UNLINK | \
	 1u << CT_KIND_RMDIR)

/* Apply ev to the model.  Returns false when the event repeats what is
 * already known and should not be stored (a second report of one exit).
 * Keep MODEL_KINDS in step with the cases here. */
static bool apply(struct ct_collector *c, struct proc *p,
		  const struct ct_event *ev)
{
	switch (ev->kind) {
	case CT_KIND_START:
		if (ev->source == CT_SOURCE_SECCOMP) {
			p->pi.flags |= CT_PROC_SECCOMP;
			p->pi.flags &= ~(uint32_t)(CT_PROC_SHIM | CT_PROC_RAW);
			p->pi.image_seq = c->seq;
			p->pi.ppid = ev->ppid;
			if (no_parent(p))
				set_parent(c, p, ev);
			pending_exec_clear(p);
			break;
		}
		p->pi.flags |= CT_PROC_SHIM;
		p->pi.flags &= ~(uint32_t)CT_PROC_SECCOMP;
		if (ev->source == CT_SOURCE_SUD)
			p->pi.flags |= CT_PROC_RAW;
		else
			p->pi.flags &= ~(uint32_t)CT_PROC_RAW;
		p->pi.image_seq = c->seq;
		p->pi.ppid = ev->ppid;
		if (no_parent(p))
			set_parent(c, p, ev);
		pending_exec_clear(p);
		break;
	case CT_KIND_EXEC:
		if (ev->result >= 0) {
			bool gapped = p->exec_gapped;

			pending_exec_clear(p);
			p->has_pending_exec = true;
			p->exec_gapped = gapped;
			p->exec_ts = ev->ts;
			const struct ct_bytes *x =
				(ev->present & CT_F_EXE) ? &ev->exe : &ev->path;
			p->exec_exe = strndup(x->p ? x->p : "", x->len);
		} else {
			pending_exec_clear(p);
		}
		break;
	case CT_KIND_GAP:
		p->pi.flags |= CT_PROC_GAP;
		c->gaps++;
		pending_exec_clear(p);
		/* The shim's exec-time gap (it names the path about to be
		 * exec'd) precedes that exec's intent, from the same thread:
		 * the exec that follows is the untraced one it told of. */
		if ((ev->present & CT_F_PATH) && ev->source != CT_SOURCE_CTRACE)
			p->exec_gapped = true;
		break;
	case CT_KIND_FORK:
		if (ev->result > 0) {
			uint32_t num = p->pi.num;
			struct proc *ch =
				proc_of(c, (int32_t)ev->result, ev->ts);
			if (!ch)
				ch = proc_new(c, (int32_t)ev->result, ev->ts,
					      ev->ts);
			/* proc_new may have moved c->procs */
			p = proc_at(c, num);
			if (ch) {
				ch->pi.parent = p->pi.num;
				ch->pi.ppid = ev->pid;
				ch->pi.flags &= ~CT_PROC_INFERRED;
				if (ev->source == CT_SOURCE_SECCOMP)
					ch->pi.flags |= CT_PROC_SECCOMP;
				if (!ch->pi.image_seq)
					ch->pi.image_seq = p->pi.image_seq;
				ch->dirty = true;
			}
		}
		break;
	case CT_KIND_EXIT:
		if (p->pi.flags & (CT_PROC_EXITED | CT_PROC_SIGNALED))
			return false;
		p->pi.end = ev->ts;
		if ((ev->present & CT_F_SIGNAL) && ev->signal) {
			p->pi.signal = ev->signal;
			p->pi.flags |= CT_PROC_SIGNALED;
		} else if (ev->present & CT_F_EXIT) {
			p->pi.exit_code = ev->exit_code;
			p->pi.flags |= CT_PROC_EXITED;
		}
		break;
	case CT_KIND_UNLINK:
	case CT_KIND_RMDIR:
		if (ev->result >= 0)
			c->si.deleted++;
		break;
	default:
		break;
	}
	return true;
}

static int commit(struct ct_collector *c, bool sync)
{
	int r;

	for (size_t i = 0; i < c->nprocs; i++) {
		struct proc *p = &c->procs[i];
		if (!p->dirty)
			continue;
		r = ct_wbatch_proc(c->batch, c->si.id, &p->pi);
		if (r)
			return r;
		p->dirty = false;
	}
	if (c->ring) {
		struct ct_ring_hdr *h = c->ring->hdr;
		/* everything drained so far is in this batch */
		c->si.ring_consumed = atomic_load(&h->produced);
		c->si.lost = atomic_load(&h->lost_full) +
			     atomic_load(&h->lost_dead) +
			     atomic_load(&h->lost_big) +
			     atomic_load(&h->lost_bad) + c->bad;
	} else {
		c->si.lost = c->bad;
	}
	c->si.gaps = c->gaps;
	c->si.last_seq = c->seq;
	r = ct_wbatch_session(c->batch, &c->si);
	if (r)
		return r;
	/* Commits do not fsync (docs/store.md); sync at the end of a session
	 * and every SYNC_EVERY_NS, bounding what a machine crash can take. */
	uint64_t now = ct_now_mono();
	if (now - c->synced_at >= SYNC_EVERY_NS)
		sync = true;
	r = ct_wbatch_commit(c->batch, sync);
	c->batch_since = now;
	if (r == 0) {
		c->stored = c->si;
		c->stored_bad = c->bad;
		c->stored_dups = c->ring_dups;
	}
	if (sync && r == 0)
		c->synced_at = now;
	return r;
}

/* Store one decoded event with its raw bytes.  Returns 0, 1 when it only
 * repeated what is known and was dropped, or a CT_E* code. */
static int ingest(struct ct_collector *c, const struct ct_event *ev,
		  const void *rec, uint32_t len)
{
	struct proc *p;

	c->seq++;
	/* Most events are from the instance the last one was: what
	 * proc_for() would find through proc_of(), without the calls. */
	p = !(ev->present & CT_F_REPORTER) && ev->pstart
		    ? last_inst(c, ev->pid, ev->pstart)
		    : NULL;
	if (!p)
		p = proc_for(c, ev);
	if (!p) {
		c->seq--;
		return CT_ENOMEM;
	}
	uint32_t num = p->pi.num;
	/* Only these kinds change the model (apply()); the file events that
	 * are most of a session skip the call. */
	if (ev->kind >= 32 || ((1u << ev->kind) & MODEL_KINDS)) {
		if (!apply(c, p, ev)) {
			c->seq--;
			return 1;
		}
		p = proc_at(c, num); /* apply() may have moved c->procs */
	}
	p->pi.events++;
	p->dirty = true;
	c->si.events++;
	/* ev was decoded from rec: the store need not decode it again */
	int r = ct_wbatch_event_ev(c->batch, c->si.id, c->seq, num, ev, rec,
				   len);
	if (r == 0 && c->on_stored)
		c->on_stored(c->on_stored_arg, c->seq, num, ev);
	return r;
}

static int drain_one(void *arg, const void *rec, uint32_t len)
{
	struct ct_collector *c = arg;
	struct ct_event ev;

	if (ct_event_decode(rec, len, &ev) != 0) {
		c->bad++;
		return 0;
	}
	int r = ingest(c, &ev, rec, len);
	if (r < 0) {
		c->err = r;
		return r;
	}
	c->ring_dups += r;
	return 0;
}

int ct_collector_add(struct ct_collector *c, const struct ct_event *ev)
{
	size_t n = ct_event_size(ev);
	char *buf = malloc(n);
	if (!buf)
		return CT_ENOMEM;
	ssize_t w = ct_event_encode(ev, buf, n);
	struct ct_event dec; /* what ingest() stores must point into buf */
	int r = w < 0 ? (int)w
		: ct_event_decode(buf, (size_t)w, &dec)
			? CT_EINVAL
			: ingest(c, &dec, buf, (uint32_t)w);
	free(buf);
	return r < 0 ? r : 0;
}

long ct_collector_poll(struct ct_collector *c)
{
	long got = 0;

	if (c->err)
		return c->err;
	if (c->ring) {
		got = ct_ring_drain(c->ring, drain_one, c, DRAIN_MAX);
		if (c->err)
			return c->err;
		if (got < 0) /* corrupt ring: it was reset and counted */
			got = 0;
	}
	if (ct_wbatch_count(c->batch) >= BATCH_EVENTS ||
	    (ct_wbatch_count(c->batch) &&
	     ct_now_mono() - c->batch_since >= BATCH_AGE_NS)) {
		int r = commit(c, false);
		if (r)
			return c->err = r;
	}
	return got;
}

static int add_exec_gaps(struct ct_collector *c)
{
	for (size_t i = 0; i < c->nprocs; i++) {
		struct proc *p = &c->procs[i];
		if (!p->has_pending_exec)
			continue;
		if (p->exec_gapped) { /* told already, at exec time */
			pending_exec_clear(p);
			continue;
		}
		struct ct_event ev = {
			.kind = CT_KIND_GAP,
			.source = CT_SOURCE_CTRACE,
			.ts = p->exec_ts,
			.pid = p->pi.pid,
			.tid = p->pi.pid,
			.ppid = p->pi.ppid,
			.pstart = p->pi.pstart,
			.present = CT_F_REASON | CT_F_EXE,
		};
		static const char why[] =
			"exec'd image never checked in (static or setuid "
			"binary, or LD_PRELOAD removed)";
		ev.reason.p = why;
		ev.reason.len = sizeof(why) - 1;
		ev.exe.p = p->exec_exe ? p->exec_exe : "";
		ev.exe.len = (uint32_t)strlen(ev.exe.p);
		/* proc_for() must find this very instance */
		if (!p->pi.pstart) {
			ev.present |= CT_F_REPORTER;
			ev.reporter = c->si.run_pid;
		}
		int r = ct_collector_add(c, &ev);
		pending_exec_clear(p);
		if (r)
			return r;
	}
	return 0;
}

/* Take everything left in the ring with step (one poll or drain call,
 * returning the records taken or a negative code), until it is empty.  A
 * claim whose producer died is skipped by the ring after its grace time,
 * so allow a little more than that; past the deadline, what is still
 * pending is left there.  Returns 0 when the ring was emptied, 1 when the
 * deadline passed (at least one claim never committed), or step's error. */
static int drain_rest(struct ct_collector *c,
		      long (*step)(struct ct_collector *c))
{
	uint64_t deadline = ct_now_mono() + FINISH_DRAIN_NS;
	long got;

	while (c->ring) {
		got = step(c);
		if (got < 0)
			return (int)got;
		if (got == 0 && ct_ring_empty(c->ring))
			break;
		if (got == 0 && ct_now_mono() > deadline)
			return 1;
		if (got == 0) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

int ct_collector_finish(struct ct_collector *c, uint64_t end, int exit_code,
			int signal, uint32_t state)
{
	int r = drain_rest(c, ct_collector_poll);

	if (r < 0)
		return r;
	c->bad += (uint64_t)r; /* a claim never committed */
	r = add_exec_gaps(c);
	if (r)
		return r;
	c->si.end = end;
	c->si.exit_code = exit_code;
	c->si.signal = signal;
	c->si.state = state;
	return commit(c, true);
}

/* Drain callback once the store has failed: the record is not stored,
 * but it still goes through the process model, so that a repeat of what
 * is known (an exit ctrace run reaped first) is told from a lost event. */
static int abandon_one(void *arg, const void *rec, uint32_t len)
{
	struct ct_collector *c = arg;
	struct ct_event ev;
	struct proc *p;

	if (ct_event_decode(rec, len, &ev) == 0 &&
	    (p = proc_for(c, &ev)) != NULL && !apply(c, p, &ev))
		c->ring_dups++;
	return 0;
}

static long abandon_step(struct ct_collector *c)
{
	return ct_ring_drain(c->ring, abandon_one, c, DRAIN_MAX);
}

int ct_collector_abandon(struct ct_collector *c, uint64_t end, int exit_code,
			 int signal)
{
	struct ct_session_info si = c->stored;
	struct ct_wbatch *b = NULL;
	int r;

	/* What is still in the ring is lost too: take it out (it adds to
	 * produced), so that nothing a producer committed goes uncounted.
	 * A corrupt ring stops the drain: that is counted in lost_bad. */
	if (c->ring) {
		int late = drain_rest(c, abandon_step);

		if (late < 0)
			late = 0;
		struct ct_ring_hdr *h = c->ring->hdr;
		/* Every record handed on since the last good commit was
		 * never stored, decoded or not (c->bad since then counts
		 * some of them again: take only what it held then), but for
		 * repeats of what was known, which are never stored. */
		si.lost = atomic_load(&h->lost_full) +
			  atomic_load(&h->lost_dead) +
			  atomic_load(&h->lost_big) +
			  atomic_load(&h->lost_bad) + c->stored_bad +
			  (uint64_t)late +
			  (atomic_load(&h->produced) - si.ring_consumed) -
			  (c->ring_dups - c->stored_dups);
		si.ring_consumed = atomic_load(&h->produced);
	} else {
		si.lost = c->stored_bad;
	}
	si.end = end;
	si.exit_code = exit_code;
	si.signal = signal;
	si.state = CT_SESSION_INCOMPLETE;
	/* A fresh batch holding the session record alone: small enough to
	 * fit where the batch that failed did not. */
	r = ct_wbatch_new(c->store, &b);
	if (r == 0)
		r = ct_wbatch_session(b, &si);
	if (r == 0)
		r = ct_wbatch_commit(b, true);
	ct_wbatch_free(b);
	if (r == 0) {
		/* what the store now says, for the run summary */
		c->stored = si;
		c->si.events = si.events;
		c->si.processes = si.processes;
		c->si.deleted = si.deleted;
		c->si.lost = si.lost;
		c->si.end = si.end;
		c->si.state = si.state;
	}
	return r;
}

void ct_collector_on_stored(struct ct_collector *c, ct_collector_stored_fn fn,
			    void *arg)
{
	c->on_stored = fn;
	c->on_stored_arg = fn ? arg : NULL;
}

uint64_t ct_collector_seq(const struct ct_collector *c)
{
	return c->seq;
}

uint32_t ct_collector_parent(const struct ct_collector *c, uint32_t num)
{
	return num && num <= c->nprocs ? c->procs[num - 1].pi.parent : 0;
}

const struct ct_session_info *ct_collector_session(const struct ct_collector *c)
{
	return &c->si;
}

static int load_proc(void *arg, const struct ct_proc_info *pi)
{
	struct ct_collector *c = arg;
	struct proc *p = proc_new(c, pi->pid, pi->pstart, pi->start);
	if (!p)
		return CT_ENOMEM;
	p->pi = *pi;
	p->dirty = false;
	return proc_index(c, p);
}

static int resume_session(struct ct_collector *c)
{
	struct ct_rtxn *t;
	int r = ct_store_read_begin(c->store, &t);
	if (r)
		return r;
	r = ct_store_procs_foreach(t, c->si.id, load_proc, c);
	ct_store_read_end(t);
	c->seq = c->si.last_seq;
	c->gaps = c->si.gaps;
	/* Records the dead collector drained but never committed are gone
	 * from the ring: count them, so they are not lost silently.  First
	 * finish the ring publish it may have been killed in, so that
	 * `produced` counts every record whose bytes are gone (ring.h). */
	if (c->ring) {
		ct_ring_recover(c->ring);
		uint64_t drained = atomic_load(&c->ring->hdr->produced);
		if (drained > c->si.ring_consumed)
			c->bad += drained - c->si.ring_consumed;
	}
	return r;
}

/* Keep our own copy of the session's strings: the caller's may borrow from
 * a read transaction that ends before we write the session again. */
static int copy_session(struct ct_collector *c,
			const struct ct_session_info *si)
{
	struct ct_bytes *f[] = { &c->si.name,	    &c->si.cwd,
				 &c->si.user,	    &c->si.host,
				 &c->si.git_branch, &c->si.git_commit,
				 &c->si.version,    &c->si.ring };
	size_t n = 0, argc = 0, nf = sizeof(f) / sizeof(f[0]);
	struct ct_bytes arg;
	uint32_t idx = 0, off = 0;

	c->si = *si;
	for (size_t i = 0; i < nf; i++)
		n += f[i]->len + 1;
	if (si->argv_in) {
		for (; si->argv_in[argc]; argc++)
			n += strlen(si->argv_in[argc]) + 1;
	} else {
		while (ct_strv_next(si->argv_raw, si->argc, &idx, &off, &arg) ==
		       1) {
			n += arg.len + 1;
			argc++;
		}
	}
	c->si_mem = malloc(n + 1);
	c->si_argv = calloc(argc + 1, sizeof(char *));
	if (!c->si_mem || !c->si_argv)
		return CT_ENOMEM;
	char *m = c->si_mem;
	for (size_t i = 0; i < nf; i++) {
		if (f[i]->len)
			memcpy(m, f[i]->p, f[i]->len);
		m[f[i]->len] = 0;
		f[i]->p = m;
		m += f[i]->len + 1;
	}
	idx = off = 0;
	for (size_t i = 0; i < argc; i++) {
		const char *a;
		size_t len;
		if (si->argv_in) {
			a = si->argv_in[i];
			len = strlen(a);
		} else {
			ct_strv_next(si->argv_raw, si->argc, &idx, &off, &arg);
			a = arg.p;
			len = arg.len;
		}
		memcpy(m, a, len);
		m[len] = 0;
		c->si_argv[i] = m;
		m += len + 1;
	}
	c->si.argv_in = c->si_argv;
	c->si.argc = (uint32_t)argc;
	c->si.argv_raw.p = NULL;
	c->si.argv_raw.len = 0;
	return 0;
}

int ct_collector_flush(struct ct_collector *c, bool sync)
{
	int r = commit(c, sync);
	if (r)
		c->err = r;
	return r;
}

int ct_collector_new(struct ct_store *s, struct ct_ring *ring,
		     const struct ct_session_info *si, bool resume,
		     struct ct_collector **out)
{
	struct ct_collector *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return CT_ENOMEM;
	c->store = s;
	c->ring = ring;
	c->batch_since = c->synced_at = ct_now_mono();
	r = copy_session(c, si);
	if (r)
		goto err_free;
	r = ct_wbatch_new(s, &c->batch);
	if (r)
		goto err_free;
	if (resume) {
		r = resume_session(c);
		if (r)
			goto err_batch;
	}
	c->stored = c->si; /* the caller wrote it, or it was read back */
	*out = c;
	return 0;
err_batch:
	ct_wbatch_free(c->batch);
err_free:
	free(c->si_mem);
	free(c->si_argv);
	free(c->procs);
	free(c);
	return r;
}

void ct_collector_free(struct ct_collector *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nprocs; i++)
		free(c->procs[i].exec_exe);
	free(c->procs);
	free(c->by_inst.s);
	free(c->by_pid.s);
	free(c->pid_gen.s);
	ct_wbatch_free(c->batch);
	free(c->si_mem);
	free(c->si_argv);
	free(c);
}
