/* Evaluation: one pass over a session's events in seq order, fed at once
 * (ct_rules_eval) or in pieces while the session is collected
 * (ct_rules_feed).
 *
 * State kept while streaming, all bounded by the number of processes and
 * violations rather than events: per process its current image name and
 * cwd (for ancestry and relative arguments), its parent as first read
 * from the store, and which violation each rule already has there (hits
 * of one rule in one process are one violation); per (rule, scope) the
 * window of a threshold or the progress of a sequence; the set of paths
 * the session wrote that a `written` rule may ask about (capped).
 *
 * Cost per event: an event meets only the rules that can match its class
 * (kind, success, whether it writes, the fields it has: ct_event_class),
 * listed when a class first occurs, so most rules never look at most
 * events; the rest test argv[0] before any glob, and match.c derives what
 * globs compare (a path's first and last bytes, its byte pairs) once per
 * event and decides most globs by comparing bytes.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/export.h"
#include "analyzer/out.h"
#include "common/codec.h"
#include "common/error.h"
#include "rules/internal.h"

#define BASE_LEN 64
#define ANC_MAX 64 /* ancestors looked at */
#define SPAWN_PENDING 16 /* spawn hits waiting for the child's start */
#define WRITTEN_MAX 65536u /* paths remembered for `written` */
#define SUMMARY_ARGV 160 /* bytes of command line in a summary */

struct rv {
	uint32_t rule, v;
};

struct spawn_hit {
	int32_t pid;
	uint32_t rule, v;
};

struct pstate {
	bool seen;
	char base[BASE_LEN];
	/* Rules 0-63 whose `image` condition was tested on base, and
	 * passed: it depends on base alone, so it is tested once per image
	 * rather than per event (eval_event). */
	uint64_t img_known, img_ok;
	char *cwd;
	struct rv *rv;
	uint32_t nrv;
	struct spawn_hit sp[SPAWN_PENDING];
	uint32_t nsp;
};

/* Threshold window or sequence progress of one (rule, scope). */
struct tstate {
	uint64_t *ts, *seq; /* ring of the last `count` matches */
	uint32_t head, n;
	int64_t active; /* violation still growing, or -1 */
	uint64_t last_ts;
	/* sequence */
	uint32_t k;
	uint64_t t0;
	uint64_t sseq[SEQ_STEPS_MAX];
};

struct slot {
	uint64_t key;
	struct tstate *st;
};

/* The rules an event of one class can meet, in rule order, each with
 * the pattern list on one of the event's paths that it asks first (or
 * NULL): the subject must pass ct_patlist_may_match() for it, or the rule
 * is not asked. */
struct clist {
	uint32_t n;
	struct centry {
		const struct rule *r;
		const struct patlist *quick;
		uint32_t field; /* the subject of quick: SJ_PATH... */
		uint32_t i; /* its index in the rule set */
		uint32_t steps; /* a sequence: the steps this class can meet */
	} v[];
};

/* What the stream knows of a process instance's parent. */
enum { PT_UNKNOWN = 0, PT_PRESENT, PT_ABSENT };
struct ptab {
	uint32_t parent;
	uint8_t state;
};

struct ct_rules_stream {
	struct ct_ruleset *rs;
	uint64_t session;
	uint64_t maxproc; /* the session's process count, per read txn */
	struct ct_rtxn *t; /* during a feed */
	char *workspace;
	struct ct_audit *a; /* &audit */
	struct ct_audit audit;
	size_t vcap;
	struct pstate *ps;
	size_t nps;
	struct ptab *pt; /* by instance number */
	size_t npt;
	struct slot *tab; /* open addressing, key 0 unused (+1 bias) */
	size_t tcap, tn;
	char **wr; /* written paths, open addressing */
	size_t wcap, wn;
	bool need_written;
	/* by event class (ct_event_class): the rules its events can meet,
	 * NULL until one occurs */
	struct clist **cls;
	/* conditions asking `written` (what note_write() looks for) */
	const struct cond **wc;
	size_t nwc;
	const char *anc[ANC_MAX];
	uint32_t cur_proc; /* of the event being evaluated */
	/* Offered events (ct_rules_offer) come without a store: the
	 * collector tells parents. */
	ct_rules_parent_fn parent_fn;
	void *parent_arg;
	uint64_t next; /* seq to feed from */
	uint64_t stop_at; /* events + undecoded to stop a feed at (0: no) */
	bool finished;
	int err;
};

/* --- small tables --- */

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* 8 bytes at a time: paths written are hashed on every write a `written`
 * rule may ask about. */
static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
	}
	return hash64(h);
}

static struct tstate *state_get(struct ct_rules_stream *s, uint64_t key,
				bool create)
{
	key++;
	if (s->tcap && (s->tn + 1) * 2 > s->tcap && create) {
		/* grow */
		size_t ncap = s->tcap * 2;
		struct slot *nt = calloc(ncap, sizeof(*nt));

		if (!nt) {
			s->err = CT_ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < s->tcap; i++) {
			if (!s->tab[i].key)
				continue;
			size_t j = hash64(s->tab[i].key) & (ncap - 1);
			while (nt[j].key)
				j = (j + 1) & (ncap - 1);
			nt[j] = s->tab[i];
		}
		free(s->tab);
		s->tab = nt;
		s->tcap = ncap;
	}
	if (!s->tcap) {
		if (!create)
			return NULL;
		s->tab = calloc(64, sizeof(*s->tab));
		if (!s->tab) {
			s->err = CT_ENOMEM;
			return NULL;
		}
		s->tcap = 64;
	}
	size_t i = hash64(key) & (s->tcap - 1);
	while (s->tab[i].key) {
		if (s->tab[i].key == key)
			return s->tab[i].st;
		i = (i + 1) & (s->tcap - 1);
	}
	if (!create)
		return NULL;
	struct tstate *st = calloc(1, sizeof(*st));
	if (!st) {
		s->err = CT_ENOMEM;
		return NULL;
	}
	st->active = -1;
	s->tab[i].key = key;
	s->tab[i].st = st;
	s->tn++;
	return st;
}

static bool written_has(void *arg, const char *p, size_t len)
{
	struct ct_rules_stream *s = arg;

	if (!s->wcap)
		return false;
	size_t i = hash_bytes(p, len) & (s->wcap - 1);
	while (s->wr[i]) {
		if (strlen(s->wr[i]) == len && memcmp(s->wr[i], p, len) == 0)
			return true;
		i = (i + 1) & (s->wcap - 1);
	}
	return false;
}

static void written_add(struct ct_rules_stream *s, const char *p, size_t len)
{
	if (s->wn >= WRITTEN_MAX || memchr(p, '\0', len) ||
	    written_has(s, p, len))
		return;
	if ((s->wn + 1) * 2 > s->wcap) {
		size_t ncap = s->wcap ? s->wcap * 2 : 256;
		char **nw = calloc(ncap, sizeof(*nw));

		if (!nw) {
			s->err = CT_ENOMEM;
			return;
		}
		for (size_t i = 0; i < s->wcap; i++) {
			if (!s->wr[i])
				continue;
			size_t j = hash_bytes(s->wr[i], strlen(s->wr[i])) &
				   (ncap - 1);
			while (nw[j])
				j = (j + 1) & (ncap - 1);
			nw[j] = s->wr[i];
		}
		free(s->wr);
		s->wr = nw;
		s->wcap = ncap;
	}
	char *c = strndup(p, len);
	if (!c) {
		s->err = CT_ENOMEM;
		return;
	}
	size_t i = hash_bytes(p, len) & (s->wcap - 1);
	while (s->wr[i])
		i = (i + 1) & (s->wcap - 1);
	s->wr[i] = c;
	s->wn++;
}

static struct pstate *pstate(struct ct_rules_stream *s, uint32_t proc)
{
	if (proc > s->maxproc) { /* a damaged record: see on_event() */
		s->err = CT_ECORRUPT;
		return NULL;
	}
	if (proc >= s->nps) {
		size_t n = s->nps ? s->nps : 64;

		while (n <= proc)
			n *= 2;
		struct pstate *np = realloc(s->ps, n * sizeof(*np));
		if (!np) {
			s->err = CT_ENOMEM;
			return NULL;
		}
		memset(np + s->nps, 0, (n - s->nps) * sizeof(*np));
		s->ps = np;
		s->nps = n;
	}
	return &s->ps[proc];
}

static void set_base(struct pstate *p, struct ct_bytes b)
{
	const char *slash = memrchr(b.p, '/', b.len);

	if (slash) {
		b.len -= (uint32_t)(slash + 1 - b.p);
		b.p = slash + 1;
	}
	if (b.len >= BASE_LEN)
		b.len = BASE_LEN - 1;
	memcpy(p->base, b.p, b.len);
	p->base[b.len] = '\0';
	p->img_known = p->img_ok = 0;
}

/* Whether rule i's image condition c passes for p's image (cached). */
static bool image_ok(struct pstate *p, uint32_t i, const struct patlist *c)
{
	uint64_t bit = 1ull << i;

	if (!(p->img_known & bit)) {
		p->img_known |= bit;
		if (ct_patlist_match(c, p->base, strlen(p->base)))
			p->img_ok |= bit;
	}
	return p->img_ok & bit;
}

static void set_cwd(struct ct_rules_stream *s, struct pstate *p,
		    struct ct_bytes b)
{
	char *c = strndup(b.p, b.len);

	if (!c) {
		s->err = CT_ENOMEM;
		return;
	}
	free(p->cwd);
	p->cwd = c;
}

/* Room for instance num in the parent table. */
static struct ptab *ptab_slot(struct ct_rules_stream *s, uint32_t num)
{
	if (num > s->maxproc) { /* a damaged record: see on_event() */
		s->err = CT_ECORRUPT;
		return NULL;
	}
	if (num >= s->npt) {
		size_t n = s->npt ? s->npt : 64;

		while (n <= num)
			n *= 2;
		struct ptab *np = realloc(s->pt, n * sizeof(*np));
		if (!np) {
			s->err = CT_ENOMEM;
			return NULL;
		}
		memset(np + s->npt, 0, (n - s->npt) * sizeof(*np));
		s->pt = np;
		s->npt = n;
	}
	return &s->pt[num];
}

/* The parent of instance num (0: none, or num unknown), read from the
 * store the first time it is asked for and remembered: ct_rules_finish()
 * checks that the store still says the same. */
static uint32_t parent_of(struct ct_rules_stream *s, uint32_t num)
{
	struct ct_proc_info pi;
	struct ptab *e;
	int rc;

	if (num == 0)
		return 0;
	if (num < s->npt && s->pt[num].state != PT_UNKNOWN)
		return s->pt[num].parent;
	e = ptab_slot(s, num);
	if (!e)
		return 0;
	if (s->t) {
		rc = ct_store_proc_get(s->t, s->session, num, &pi);
	} else if (s->parent_fn) {
		/* an offered event: the collector knows every instance it
		 * has handed on an event of */
		rc = 0;
		pi.parent = s->parent_fn(s->parent_arg, num);
	} else {
		rc = CT_ENOTFOUND;
	}
	if (rc == 0) {
		e->state = PT_PRESENT;
		e->parent = pi.parent;
	} else if (rc == CT_ENOTFOUND) {
		e->state = PT_ABSENT;
		e->parent = 0;
	} else {
		s->err = rc;
	}
	return e->parent;
}

/* Keep the process's image name and cwd current. */
static struct pstate *track(struct ct_rules_stream *s, uint32_t proc,
			    const struct ct_event *ev)
{
	struct pstate *p = pstate(s, proc);
	uint32_t par;

	if (!p)
		return NULL;
	if (!p->seen) {
		/* a fork child runs its parent's program in its cwd */
		p->seen = true;
		par = parent_of(s, proc);
		if (par && par < s->nps) {
			struct pstate *pp = &s->ps[par];

			memcpy(p->base, pp->base, BASE_LEN);
			if (pp->cwd)
				p->cwd = strdup(pp->cwd);
		}
	}
	if (ev->kind == CT_KIND_START) {
		struct ct_bytes a0;
		uint32_t idx = 0, off = 0;

		if ((ev->present & CT_F_ARGV) &&
		    ct_strv_next(ev->argv_raw, ev->argc, &idx, &off, &a0) == 1)
			set_base(p, a0);
		else if (ev->present & CT_F_EXE)
			set_base(p, ev->exe);
		if (ev->present & CT_F_CWD)
			set_cwd(s, p, ev->cwd);
	} else if (ev->kind == CT_KIND_CHDIR && ev->result >= 0 &&
		   (ev->present & CT_F_PATH)) {
		set_cwd(s, p, ev->path);
	}
	return p;
}

/* The image names of the ancestors of the current event's process,
 * nearest first (evctx.ancestors: computed only for an event that meets
 * an `under` condition). */
static const char *const *ancestors(void *arg, size_t *nout)
{
	struct ct_rules_stream *s = arg;
	uint32_t cur = s->cur_proc, par;
	size_t n = 0;

	/* the guard stops a parent cycle a damaged store could hold */
	for (int guard = 0; guard < 65536 && n < ANC_MAX; guard++) {
		par = parent_of(s, cur);
		if (!par)
			break;
		if (par < s->nps && s->ps[par].base[0])
			s->anc[n++] = s->ps[par].base;
		cur = par;
	}
	*nout = n;
	return s->anc;
}

/* The scope a threshold or sequence counts in: the process, the session,
 * or the command: the subtree of the root's child that holds proc (one
 * tool call of an agent, one line of a script). */
static uint32_t scope_key(struct ct_rules_stream *s, enum scope per,
			  uint32_t proc)
{
	uint32_t cur = proc, par;

	if (per == SC_SESSION)
		return 0;
	if (per == SC_PROCESS)
		return proc;
	for (int guard = 0; guard < 4096; guard++) {
		par = parent_of(s, cur);
		if (!par || !parent_of(s, par))
			return cur;
		cur = par;
	}
	return cur;
}

/* --- violations --- */

static void summary_detail(FILE *f, const struct ct_event *ev)
{
	const char *kind = ct_kind_name(ev->kind);

	if (ev->present & CT_F_ARGV) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		if (m) {
			ct_out_shell_argv(m, ev->argv_raw, ev->argc);
			fclose(m);
			if (len > SUMMARY_ARGV)
				fprintf(f, "%.*s...", SUMMARY_ARGV, buf);
			else
				fputs(buf ? buf : "", f);
			free(buf);
		}
		return;
	}
	fprintf(f, "%s", kind ? kind : "?");
	if (ev->kind == CT_KIND_OPEN && (ev->present & CT_F_FLAGS) &&
	    ((ev->flags & O_ACCMODE) != O_RDONLY ||
	     (ev->flags & (O_CREAT | O_TRUNC))))
		fputs(" (write)", f);
	if (ev->present & CT_F_PATH) {
		fputc(' ', f);
		ct_out_term(f, ev->path.p, ev->path.len);
	}
	if (ev->present & CT_F_PATH2) {
		fputs(" -> ", f);
		ct_out_term(f, ev->path2.p, ev->path2.len);
	}
	if (ev->present & CT_F_ADDR) {
		fputc(' ', f);
		ct_out_term(f, ev->addr.p, ev->addr.len);
	}
	if (ev->result < 0 && ev->kind != CT_KIND_START) {
		const char *e =
			ct_errno_name(ev->err ? ev->err : (int)-ev->result);
		fprintf(f, " (failed: %s)", e ? e : "error");
	}
}

static char *make_summary(const struct rule *r, const struct ct_event *ev,
			  const char *extra)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "%s: ", r->description);
	summary_detail(f, ev);
	if (extra)
		fprintf(f, " %s", extra);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	/* the description came from a file; the detail is escaped */
	char *clean = ct_utf8_escape(buf, len);
	free(buf);
	return clean;
}

static void add_seq(struct ct_violation *v, uint64_t seq)
{
	if (v->nseq && v->seq[v->nseq - 1] == seq)
		return;
	if (v->nseq >= CT_RULES_SEQ_MAX) {
		v->seq_dropped++;
		return;
	}
	/* capacity doubles from 4 */
	if (v->nseq >= 4 && (v->nseq & (v->nseq - 1)) == 0) {
		uint64_t *n = realloc(v->seq, v->nseq * 2 * sizeof(*n));

		if (!n) {
			v->seq_dropped++;
			return;
		}
		v->seq = n;
	}
	v->seq[v->nseq++] = seq;
}

/* A new violation of rule ri whose first event is ev; returns its index
 * or -1 (dropped or out of memory). */
static int64_t new_violation(struct ct_rules_stream *s, size_t ri,
			     uint32_t proc, const struct ct_event *ev,
			     const char *extra)
{
	struct ct_audit *a = s->a;
	const struct rule *r = s->rs->rules[ri];
	struct ct_violation *v;

	if (a->n >= CT_RULES_VIOLATIONS_MAX) {
		a->dropped++;
		return -1;
	}
	if (a->n == s->vcap) {
		size_t ncap = s->vcap ? s->vcap * 2 : 16;
		struct ct_violation *nv = realloc(a->v, ncap * sizeof(*nv));

		if (!nv) {
			s->err = CT_ENOMEM;
			return -1;
		}
		a->v = nv;
		s->vcap = ncap;
	}
	v = &a->v[a->n];
	memset(v, 0, sizeof(*v));
	v->rule = ri;
	v->rule_id = r->id;
	v->severity = r->severity;
	v->proc = proc;
	v->seq = malloc(4 * sizeof(*v->seq));
	v->summary = make_summary(r, ev, extra);
	if (!v->seq || !v->summary) {
		free(v->seq);
		free(v->summary);
		s->err = CT_ENOMEM;
		return -1;
	}
	a->counts[r->severity]++;
	return (int64_t)a->n++;
}

static bool allowed(const struct rule *r, struct evctx *x)
{
	for (size_t i = 0; i < r->nallows; i++)
		if (ct_cond_match(&r->allows[i]->c, x))
			return true;
	return false;
}

static void rv_add(struct ct_rules_stream *s, struct pstate *p, uint32_t rule,
		   uint32_t v)
{
	if ((p->nrv & (p->nrv - 1)) == 0) {
		size_t cap = p->nrv ? p->nrv * 2 : 4;
		struct rv *n = realloc(p->rv, cap * sizeof(*n));

		if (!n) {
			s->err = CT_ENOMEM;
			return;
		}
		p->rv = n;
	}
	p->rv[p->nrv].rule = rule;
	p->rv[p->nrv++].v = v;
}

/* An event rule hit: one violation per (rule, process).  The exec event
 * and the start event of one image land in the same process; a
 * posix_spawn hit in the parent waits for the child's start. */
static void hit_event(struct ct_rules_stream *s, uint32_t ri, uint64_t seq,
		      uint32_t proc, struct pstate *p,
		      const struct ct_event *ev)
{
	int64_t v = -1;

	for (uint32_t i = 0; i < p->nrv; i++)
		if (p->rv[i].rule == ri) {
			add_seq(&s->a->v[p->rv[i].v], seq);
			return;
		}
	if (ev->kind == CT_KIND_START) {
		uint32_t par = parent_of(s, proc);
		bool known = proc < s->npt && s->pt[proc].state == PT_PRESENT;
		struct pstate *pp = known && par < s->nps ? &s->ps[par] : NULL;

		for (uint32_t i = 0; pp && i < pp->nsp; i++)
			if (pp->sp[i].rule == ri && pp->sp[i].pid == ev->pid) {
				v = pp->sp[i].v;
				pp->sp[i] = pp->sp[--pp->nsp];
				break;
			}
	}
	if (v >= 0) {
		add_seq(&s->a->v[v], seq);
	} else {
		v = new_violation(s, ri, proc, ev, NULL);
		if (v < 0)
			return;
		add_seq(&s->a->v[v], seq);
		if (ev->kind == CT_KIND_SPAWN && ev->result > 0) {
			if (p->nsp == SPAWN_PENDING)
				memmove(p->sp, p->sp + 1,
					(SPAWN_PENDING - 1) * sizeof(*p->sp));
			else
				p->nsp++;
			p->sp[p->nsp - 1] = (struct spawn_hit){
				.pid = (int32_t)ev->result,
				.rule = ri,
				.v = (uint32_t)v,
			};
			return;
		}
	}
	rv_add(s, p, ri, (uint32_t)v);
}

static uint64_t tdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static void hit_threshold(struct ct_rules_stream *s, uint32_t ri, uint64_t seq,
			  uint32_t proc, const struct ct_event *ev)
{
	const struct rule *r = s->rs->rules[ri];
	uint64_t key = (uint64_t)ri << 32 | scope_key(s, r->per, proc);
	struct tstate *st = state_get(s, key, true);

	if (!st)
		return;
	if (st->active >= 0 &&
	    (!r->within || tdiff(ev->ts, st->last_ts) <= r->within)) {
		add_seq(&s->a->v[st->active], seq);
		st->last_ts = ev->ts;
		return;
	}
	st->active = -1;
	if (!st->ts) {
		st->ts = calloc(r->count, sizeof(*st->ts));
		st->seq = calloc(r->count, sizeof(*st->seq));
		if (!st->ts || !st->seq) {
			s->err = CT_ENOMEM;
			return;
		}
	}
	st->ts[st->head] = ev->ts;
	st->seq[st->head] = seq;
	st->head = (st->head + 1) % r->count;
	if (st->n < r->count)
		st->n++;
	if (st->n < r->count)
		return;
	/* full: head now points at the oldest */
	if (r->within && tdiff(ev->ts, st->ts[st->head]) > r->within)
		return;
	char extra[96];
	char dur[32];

	ct_fmt_duration(dur, sizeof(dur), tdiff(ev->ts, st->ts[st->head]));
	snprintf(extra, sizeof(extra), "(%u matching events within %s)",
		 r->count, dur);
	int64_t v = new_violation(s, ri, proc, ev, extra);
	if (v < 0)
		return;
	for (uint32_t i = 0; i < r->count; i++)
		add_seq(&s->a->v[v], st->seq[(st->head + i) % r->count]);
	st->active = v;
	st->last_ts = ev->ts;
	st->n = 0;
	st->head = 0;
}

/* steps: the steps an event of this class can meet (class_list).  Only
 * those are tested, and the progress is looked up only when a step after
 * the first can be met: a sequence whose window has passed is reset by
 * the next event that could continue it, which finds it too late. */
static void hit_sequence(struct ct_rules_stream *s, uint32_t ri, uint64_t seq,
			 uint32_t proc, struct evctx *x, uint32_t steps)
{
	const struct rule *r = s->rs->rules[ri];
	uint64_t key = (uint64_t)ri << 32 | scope_key(s, r->per, proc);
	struct tstate *st = NULL;
	const struct ct_event *ev = x->ev;

	if (steps & ~1u)
		st = state_get(s, key, false);
	if (st && st->k > 0 && r->within && tdiff(ev->ts, st->t0) > r->within)
		st->k = 0;
	if (st && st->k > 0 && (steps >> st->k & 1) &&
	    ct_cond_match(&r->steps[st->k], x) && !allowed(r, x)) {
		st->sseq[st->k++] = seq;
		if (st->k < r->nsteps)
			return;
		st->k = 0;
		int64_t v = new_violation(s, ri, proc, ev, NULL);
		if (v < 0)
			return;
		for (size_t i = 0; i < r->nsteps; i++)
			add_seq(&s->a->v[v], st->sseq[i]);
		/* the summary names the last step; say what led to it */
		return;
	}
	if ((steps & 1) && ct_cond_match(&r->steps[0], x) && !allowed(r, x)) {
		if (!st)
			st = state_get(s, key, true);
		if (!st)
			return;
		st->k = 1;
		st->t0 = ev->ts;
		st->sseq[0] = seq;
	}
}

/* Whether a write of t may matter to condition c: c asks `written` and
 * t fits its exe or path patterns (or it has none). */
static bool wants_written(const struct cond *c, struct ct_bytes t)
{
	if (!c->written)
		return false;
	if (!c->exe.npos && !c->path.npos)
		return true;
	return ct_patlist_any(&c->exe, t.p, t.len) ||
	       ct_patlist_any(&c->path, t.p, t.len);
}

/* Remember what the session wrote, for `written` conditions. */
static void note_write(struct ct_rules_stream *s, const struct ct_event *ev)
{
	struct ct_bytes t;
	bool w = false;

	if (ev->result < 0)
		return;
	if (ev->kind == CT_KIND_OPEN && (ev->present & CT_F_PATH) &&
	    ((ev->flags & O_ACCMODE) != O_RDONLY ||
	     (ev->flags & (O_CREAT | O_TRUNC))))
		t = ev->path;
	else if ((ev->kind == CT_KIND_RENAME || ev->kind == CT_KIND_LINK ||
		  ev->kind == CT_KIND_SYMLINK) &&
		 (ev->present & CT_F_PATH2))
		t = ev->path2;
	else
		return;
	for (size_t i = 0; i < s->nwc && !w; i++)
		w = wants_written(s->wc[i], t);
	if (w)
		written_add(s, t.p, t.len);
}

static const struct clist *class_list(struct ct_rules_stream *s, uint32_t cls);

/* Evaluate event seq of process instance proc; false on an error
 * (s->err). */
static bool eval_event(struct ct_rules_stream *s, uint64_t seq, uint32_t proc,
		       const struct ct_event *ev)
{
	struct pstate *p;

	s->a->events++;
	p = track(s, proc, ev);
	if (!p)
		return false;
	s->cur_proc = proc;
	struct evctx x = {
		.ev = ev,
		.cwd = p->cwd ? p->cwd : "",
		.image = p->base,
		.ancestors = ancestors,
		.was_written = written_has,
		.warg = s,
	};
	/* only the rules events of this class can meet, in rule order (the
	 * order violations of one event are numbered in) */
	uint32_t c = ct_event_class(ev);
	const struct clist *cl = s->cls[c] ? s->cls[c] : class_list(s, c);

	if (!cl)
		return false;
	for (uint32_t k = 0; k < cl->n; k++) {
		const struct centry *e = &cl->v[k];
		uint32_t i = e->i;
		const struct rule *r = e->r;

		if (e->quick && !ct_patlist_may_match(
					e->quick, ct_evctx_subj(&x, e->field)))
			continue;
		/* the image first: once per image, where the path globs
		 * ct_cond_match_rest() tests before it cost every event
		 * (conditions are pure, so the order changes nothing) */
		if (r->type != RT_SEQUENCE && r->c.image.n && i < 64 &&
		    !image_ok(p, i, &r->c.image))
			continue;
		if (r->type == RT_SEQUENCE) {
			hit_sequence(s, i, seq, proc, &x, e->steps);
		} else if (ct_cond_match_rest(&r->c, &x) && !allowed(r, &x)) {
			if (r->type == RT_EVENT)
				hit_event(s, i, seq, proc, p, ev);
			else
				hit_threshold(s, i, seq, proc, ev);
		}
		if (s->err)
			return false;
	}
	if (s->need_written)
		note_write(s, ev);
	return !s->err;
}

static int on_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		    uint32_t len)
{
	struct ct_rules_stream *s = arg;
	struct ct_event ev;

	s->next = seq + 1;
	/* The session record committed with this event counts every
	 * process number in use: a larger one is a damaged record, and
	 * must not size the per-process tables. */
	if (proc > s->maxproc) {
		s->err = CT_ECORRUPT;
		return -1;
	}
	if (ct_event_decode(rec, len, &ev) != 0) {
		s->a->undecoded++;
		return s->stop_at &&
		       s->a->events + s->a->undecoded >= s->stop_at;
	}
	if (!eval_event(s, seq, proc, &ev))
		return 1;
	/* a bounded feed stops here (ct_rules_feed) */
	return s->stop_at && s->a->events + s->a->undecoded >= s->stop_at;
}

/* --- binding --- */

static void unbind(struct ct_ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->rules[i]->allows);
		rs->rules[i]->allows = NULL;
		rs->rules[i]->nallows = 0;
		rs->rules[i]->silenced = false;
	}
}

static int bind(struct ct_ruleset *rs, const struct vars *v)
{
	int rc;

	unbind(rs);
	for (size_t i = 0; i < rs->nallows; i++) {
		rc = ct_cond_bind(&rs->allows[i]->c, v);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = rs->rules[i];

		rc = ct_cond_bind(&r->c, v);
		for (size_t j = 0; rc == 0 && j < r->nsteps; j++)
			rc = ct_cond_bind(&r->steps[j], v);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < rs->nallows; j++) {
			struct allow *a = rs->allows[j];

			if (fnmatch(a->rule, r->id, 0) != 0)
				continue;
			if (a->any) {
				r->silenced = true;
				continue;
			}
			struct allow **n = realloc(
				r->allows, (r->nallows + 1) * sizeof(*n));
			if (!n)
				return CT_ENOMEM;
			r->allows = n;
			r->allows[r->nallows++] = a;
		}
	}
	return 0;
}

/* The list of c that ct_cond_match_rest() tests first on one of the
 * event's paths, when it has positive patterns and events of class cls
 * have that path (ct_cond_class_ok() admitted cls: the fields c needs
 * are there). */
static void quick_filter(const struct cond *c, uint32_t cls, struct centry *e)
{
	/* a class holds CT_F_PATH and CT_F_PATH2 as they are */
	bool has_path = cls & CT_F_PATH, has_path2 = cls & CT_F_PATH2;

	if (c->path.npos) {
		e->quick = &c->path;
		e->field = SJ_PATH;
	} else if (c->path2.npos) {
		e->quick = &c->path2;
		e->field = SJ_PATH2;
	} else if (c->target.npos && (has_path || has_path2)) {
		e->quick = &c->target;
		e->field = has_path2 ? SJ_PATH2 : SJ_PATH;
	} else if (c->exe.npos) {
		e->quick = &c->exe;
		e->field = SJ_EXE;
	}
}

/* The rules events of class cls can meet, listed the first time one
 * occurs (on_event); a sequence with the steps such an event can meet. */
static const struct clist *class_list(struct ct_rules_stream *s, uint32_t cls)
{
	const struct ct_ruleset *rs = s->rs;
	struct clist *l = malloc(sizeof(*l) + rs->n * sizeof(l->v[0]));

	if (!l) {
		s->err = CT_ENOMEM;
		return NULL;
	}
	l->n = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = rs->rules[i];
		struct centry *e = &l->v[l->n];

		if (r->silenced)
			continue;
		uint32_t steps = 0;

		for (size_t j = 0; r->type == RT_SEQUENCE && j < r->nsteps; j++)
			if (ct_cond_class_ok(&r->steps[j], cls))
				steps |= 1u << j;
		if (r->type == RT_SEQUENCE ? !steps
					   : !ct_cond_class_ok(&r->c, cls))
			continue;
		*e = (struct centry){ .r = r,
				      .i = (uint32_t)i,
				      .steps = steps };
		l->n++;
		if (r->type != RT_SEQUENCE)
			quick_filter(&r->c, cls, e);
		else if ((steps & (steps - 1)) == 0)
			/* one step only: an event that cannot match it can
			 * neither start nor advance the sequence (an expired
			 * one is reset when a matching event comes) */
			quick_filter(&r->steps[__builtin_ctz(steps)], cls, e);
	}
	s->cls[cls] = l;
	return l;
}

/* Room for the lists by class, and which conditions ask `written`. */
static int index_rules(struct ct_rules_stream *s)
{
	const struct ct_ruleset *rs = s->rs;

	s->cls = calloc(CT_EVCLASS_COUNT, sizeof(*s->cls));
	if (!s->cls)
		return CT_ENOMEM;
	/* the conditions of every rule, silenced ones too: a write is
	 * remembered whenever some rule could ask about it */
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = rs->rules[i];

		s->nwc += r->c.written;
		for (size_t j = 0; j < r->nsteps; j++)
			s->nwc += r->steps[j].written;
	}
	s->need_written = s->nwc > 0;
	if (!s->nwc)
		return 0;
	s->wc = malloc(s->nwc * sizeof(*s->wc));
	if (!s->wc)
		return CT_ENOMEM;
	s->nwc = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = rs->rules[i];

		if (r->c.written)
			s->wc[s->nwc++] = &r->c;
		for (size_t j = 0; j < r->nsteps; j++)
			if (r->steps[j].written)
				s->wc[s->nwc++] = &r->steps[j];
	}
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct ct_audit_hit *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->violation < y->violation ? -1 : x->violation > y->violation;
}

static int index_hits(struct ct_audit *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].nseq;
	if (!n)
		return 0;
	a->hits = malloc(n * sizeof(*a->hits));
	if (!a->hits)
		return CT_ENOMEM;
	for (size_t i = 0; i < a->n; i++)
		for (uint32_t j = 0; j < a->v[i].nseq; j++) {
			a->hits[a->nhits].seq = a->v[i].seq[j];
			a->hits[a->nhits++].violation = (uint32_t)i;
		}
	qsort(a->hits, a->nhits, sizeof(*a->hits), hit_cmp);
	return 0;
}

/* --- the stream --- */

/* Forget everything fed: processes, windows, written paths, violations
 * (the rules stay bound and indexed). */
static void state_reset(struct ct_rules_stream *s)
{
	for (size_t i = 0; i < s->nps; i++) {
		free(s->ps[i].cwd);
		free(s->ps[i].rv);
	}
	free(s->ps);
	s->ps = NULL;
	s->nps = 0;
	free(s->pt);
	s->pt = NULL;
	s->npt = 0;
	for (size_t i = 0; i < s->tcap; i++)
		if (s->tab[i].st) {
			free(s->tab[i].st->ts);
			free(s->tab[i].st->seq);
			free(s->tab[i].st);
		}
	free(s->tab);
	s->tab = NULL;
	s->tcap = s->tn = 0;
	for (size_t i = 0; i < s->wcap; i++)
		free(s->wr[i]);
	free(s->wr);
	s->wr = NULL;
	s->wcap = s->wn = 0;
	ct_audit_release(&s->audit);
	memset(&s->audit, 0, sizeof(s->audit));
	s->audit.session = s->session;
	s->vcap = 0;
	s->next = 0;
}

static int preload_one(void *arg, const struct ct_proc_info *pi)
{
	struct ct_rules_stream *s = arg;
	struct ptab *e;

	if (pi->num > s->maxproc) { /* see on_event() */
		s->err = CT_ECORRUPT;
		return -1;
	}
	e = ptab_slot(s, pi->num);

	if (!e)
		return 1;
	e->state = PT_PRESENT;
	e->parent = pi->parent;
	return 0;
}

int ct_rules_stream_new(struct ct_ruleset *rs, struct ct_rtxn *t,
			uint64_t session, const char *store_dir,
			struct ct_rules_stream **out)
{
	struct ct_session_info si;
	struct ct_rules_stream *s;
	struct vars v = { .ctrace_home = store_dir };
	const char *tmpdir = getenv("TMPDIR");
	int rc;

	*out = NULL;
	rc = ct_store_session_get(t, session, &si);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CT_ENOMEM;
	s->rs = rs;
	s->session = session;
	s->a = &s->audit;
	s->audit.session = session;
	s->maxproc = si.processes;
	s->workspace = strndup(si.cwd.p ? si.cwd.p : "", si.cwd.len);
	if (!s->workspace) {
		rc = CT_ENOMEM;
		goto fail;
	}
	v.workspace = s->workspace;
	v.home = getenv("HOME");
	/* $TMPDIR stands for /tmp when set: that is where this user's
	 * programs put their temporary files */
	v.tmp[v.ntmp++] = tmpdir && tmpdir[0] == '/' ? tmpdir : "/tmp";
	v.tmp[v.ntmp++] = "/var/tmp";
	v.tmp[v.ntmp++] = "/dev/shm";
	rc = bind(rs, &v);
	if (rc == 0)
		rc = index_rules(s);
	if (rc < 0)
		goto fail;
	/* the processes stored now, in one pass; later ones one by one as
	 * their events come */
	rc = ct_store_procs_foreach(t, session, preload_one, s);
	if (s->err)
		rc = s->err;
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	ct_rules_stream_free(s);
	return rc;
}

int64_t ct_rules_feed(struct ct_rules_stream *s, struct ct_rtxn *t,
		      uint64_t max)
{
	uint64_t before = s->audit.events + s->audit.undecoded;
	int rc;

	if (s->err)
		return s->err;
	if (s->finished)
		return CT_EINVAL;
	struct ct_session_info si;

	rc = ct_store_session_get(t, s->session, &si);
	if (rc < 0) {
		s->err = rc;
		return rc;
	}
	s->maxproc = si.processes;
	s->t = t;
	s->stop_at = max ? before + max : 0;
	rc = ct_store_events_foreach(t, s->session, s->next, on_event, s);
	s->t = NULL;
	if (s->err)
		rc = s->err;
	if (rc < 0) {
		s->err = rc;
		return rc;
	}
	return (int64_t)(s->audit.events + s->audit.undecoded - before);
}

void ct_rules_stream_parents(struct ct_rules_stream *s, ct_rules_parent_fn fn,
			     void *arg)
{
	s->parent_fn = fn;
	s->parent_arg = arg;
}

bool ct_rules_offer(struct ct_rules_stream *s, uint64_t seq, uint32_t proc,
		    const struct ct_event *ev)
{
	if (s->err || s->finished || !s->parent_fn ||
	    seq != (s->next ? s->next : 1))
		return false;
	/* from the collector of this process, not a store that could be
	 * damaged: a new instance number is simply the newest */
	if (proc > s->maxproc)
		s->maxproc = proc;
	s->next = seq + 1;
	eval_event(s, seq, proc, ev);
	return true;
}

uint64_t ct_rules_fed_seq(const struct ct_rules_stream *s)
{
	return s->next ? s->next - 1 : 0;
}

struct check_ctx {
	struct ct_rules_stream *s;
	bool differs;
};

static int check_one(void *arg, const struct ct_proc_info *pi)
{
	struct check_ctx *c = arg;
	const struct ct_rules_stream *s = c->s;

	if (pi->num < s->npt && s->pt[pi->num].state != PT_UNKNOWN &&
	    (s->pt[pi->num].state != PT_PRESENT ||
	     s->pt[pi->num].parent != pi->parent)) {
		c->differs = true;
		return 1;
	}
	return 0;
}

/* Whether the store's process table still says what the stream read
 * from it (a parent can be learnt late: docs/rules.md, Evaluation). */
static int procs_changed(struct ct_rules_stream *s, struct ct_rtxn *t,
			 bool *changed)
{
	struct check_ctx c = { .s = s };
	int rc = ct_store_procs_foreach(t, s->session, check_one, &c);

	*changed = c.differs;
	return rc < 0 ? rc : 0;
}

int ct_rules_finish(struct ct_rules_stream *s, struct ct_rtxn *t,
		    struct ct_audit *out)
{
	bool changed = false;
	int64_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	out->session = s->session;
	n = ct_rules_feed(s, t, 0);
	if (n < 0)
		return (int)n;
	rc = procs_changed(s, t, &changed);
	if (rc == 0 && changed) {
		/* evaluate again with the table as it ended */
		state_reset(s);
		rc = ct_store_procs_foreach(t, s->session, preload_one, s);
		if (s->err)
			rc = s->err;
		if (rc < 0) {
			s->err = rc;
			return rc;
		}
		n = ct_rules_feed(s, t, 0);
		if (n < 0)
			return (int)n;
	}
	if (rc == 0)
		rc = index_hits(&s->audit);
	if (rc < 0) {
		s->err = rc;
		return rc;
	}
	*out = s->audit;
	memset(&s->audit, 0, sizeof(s->audit));
	s->finished = true;
	return 0;
}

void ct_rules_stream_free(struct ct_rules_stream *s)
{
	if (!s)
		return;
	state_reset(s);
	for (uint32_t c = 0; s->cls && c < CT_EVCLASS_COUNT; c++)
		free(s->cls[c]);
	free(s->cls);
	free(s->wc);
	free(s->workspace);
	free(s);
}

int ct_rules_eval(struct ct_ruleset *rs, struct ct_rtxn *t, uint64_t session,
		  const char *store_dir, struct ct_audit *out)
{
	struct ct_rules_stream *s;
	int rc;

	memset(out, 0, sizeof(*out));
	out->session = session;
	rc = ct_rules_stream_new(rs, t, session, store_dir, &s);
	if (rc < 0)
		return rc;
	rc = ct_rules_finish(s, t, out);
	ct_rules_stream_free(s);
	return rc;
}

void ct_audit_release(struct ct_audit *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].seq);
		free(a->v[i].summary);
	}
	free(a->v);
	free(a->hits);
	a->v = NULL;
	a->hits = NULL;
	a->n = a->nhits = 0;
}

size_t ct_audit_event(const struct ct_audit *a, uint64_t seq, uint32_t *out,
		      size_t cap)
{
	size_t lo = 0, hi = a->nhits, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->hits[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < a->nhits && a->hits[lo].seq == seq; lo++, n++)
		if (n < cap)
			out[n] = a->hits[lo].violation;
	return n;
}

uint64_t ct_audit_count(const struct ct_audit *a, int min_sev)
{
	uint64_t n = 0;

	for (int s = min_sev < CT_SEV_INFO ? CT_SEV_INFO : min_sev;
	     s <= CT_SEV_CRITICAL; s++)
		n += a->counts[s];
	return n;
}

/* --- `rules` on exported events --- */

struct export_h {
	struct ct_ruleset *rs;
	struct ct_audit a;
};

static void *export_open(struct ct_rtxn *t, uint64_t session)
{
	struct export_h *h = calloc(1, sizeof(*h));
	char err[1024], dir[4096];
	int rc;

	if (!h)
		return NULL;
	rc = ct_ruleset_new(&h->rs);
	if (rc == 0)
		rc = ct_ruleset_load_default(h->rs, err, sizeof(err));
	if (rc < 0) {
		if (rc != CT_ENOMEM)
			fprintf(stderr,
				"ctrace: events exported without "
				"rule hits: %s\n",
				err);
		goto fail;
	}
	if (ct_store_default_dir(dir, sizeof(dir)) < 0)
		dir[0] = '\0';
	if (ct_rules_eval(h->rs, t, session, dir[0] ? dir : NULL, &h->a) == 0)
		return h;
fail:
	ct_ruleset_free(h->rs);
	free(h);
	return NULL;
}

static size_t export_hits(void *arg, uint64_t seq, const char **ids, size_t cap)
{
	struct export_h *h = arg;
	uint32_t v[32];
	size_t n = ct_audit_event(&h->a, seq, v, 32), k = 0;

	if (n > 32)
		n = 32;
	for (size_t i = 0; i < n && k < cap; i++) {
		const char *id = h->a.v[v[i]].rule_id;
		bool dup = false;

		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(ids[j], id) == 0;
		if (!dup)
			ids[k++] = id;
	}
	return k;
}

static void export_close(void *arg)
{
	struct export_h *h = arg;

	ct_audit_release(&h->a);
	ct_ruleset_free(h->rs);
	free(h);
}

static const struct ct_export_rules export_ops = {
	.open = export_open,
	.hits = export_hits,
	.close = export_close,
};

/* Any program that links the engine annotates its exports: the analyzer
 * cannot call up into rules/, so the engine plugs itself in. */
__attribute__((constructor)) static void register_export(void)
{
	ct_export_set_rules(&export_ops);
}
