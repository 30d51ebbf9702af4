/* Stats: one streaming pass, counters in interning tables, top-N lists
 * sorted at the end. */
#include "analyzer/stats.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/export.h"
#include "analyzer/pathtab.h"
#include "analyzer/procs.h"
#include "common/codec.h"
#include "common/error.h"

#define ERRNO_MAX 256 /* errno values above this are counted as ERRNO_MAX-1 */
#define CMD_WIDTH 100

enum { P_OPENED, P_WRITTEN, P_DELETED, P_N };
static const char *const p_names[P_N] = { "opened", "written", "deleted" };

struct st_count {
	uint64_t n[P_N];
};

struct st_exe {
	uint64_t procs, events;
};

struct ct_stats {
	struct ct_rtxn *t;
	uint64_t session;
	struct ct_session_info si;
	struct ct_procs ps;
	uint64_t events, undecoded, failed_total;
	uint64_t kinds[CT_KIND__COUNT], failed[CT_KIND__COUNT];
	uint64_t sources[CT_SOURCE__COUNT];
	uint64_t errs[CT_KIND__COUNT][ERRNO_MAX];
	struct ct_pathtab paths;
	struct st_count *pc;
	uint32_t pccap;
	struct ct_pathtab exes;
	struct st_exe *ec;
	uint32_t eccap;
	uint32_t *cur_exe; /* per process num: exes index + 1, 0 unknown */
	struct ct_pathtab reasons; /* gap reasons */
	uint64_t *rc;
	uint32_t rccap;
	int err;
};

/* Make room for index idx in a parallel array of elem-sized entries. */
static int room(void **v, uint32_t *cap, uint32_t idx, size_t elem)
{
	uint32_t nc;
	void *nv;

	if (idx < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 1024;
	while (nc <= idx)
		nc *= 2;
	nv = realloc(*v, (size_t)nc * elem);
	if (!nv)
		return CT_ENOMEM;
	memset((char *)nv + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
	*v = nv;
	*cap = nc;
	return 0;
}

static int count_path(struct ct_stats *st, struct ct_bytes p, int which)
{
	uint32_t idx;
	int rc;

	if (!p.len)
		return 0;
	rc = ct_pathtab_intern(&st->paths, 0, p.p, p.len, &idx, NULL);
	if (rc == 0)
		rc = room((void **)&st->pc, &st->pccap, idx, sizeof(*st->pc));
	if (rc == 0)
		st->pc[idx].n[which]++;
	return rc;
}

/* Which executable the event's process runs: set by its start events, a
 * process first seen without one runs its parent's. */
static uint32_t exe_of(struct ct_stats *st, uint32_t proc,
		       const struct ct_event *ev)
{
	struct ct_proc *p = ct_procs_get(&st->ps, proc);
	uint32_t idx;
	bool fresh;

	if (!p)
		return 0;
	if (ev->kind == CT_KIND_START && (ev->present & CT_F_EXE) &&
	    ev->exe.len) {
		if (ct_pathtab_intern(&st->exes, 0, ev->exe.p, ev->exe.len,
				      &idx, &fresh) < 0 ||
		    room((void **)&st->ec, &st->eccap, idx, sizeof(*st->ec)) <
			    0) {
			st->err = CT_ENOMEM;
			return 0;
		}
		if (st->cur_exe[proc - 1] != idx + 1)
			st->ec[idx].procs++;
		st->cur_exe[proc - 1] = idx + 1;
	} else if (!st->cur_exe[proc - 1] && p->parent &&
		   st->cur_exe[p->parent->info.num - 1]) {
		uint32_t e = st->cur_exe[p->parent->info.num - 1];

		st->cur_exe[proc - 1] = e;
		st->ec[e - 1].procs++;
	}
	return st->cur_exe[proc - 1];
}

static int st_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		    uint32_t len)
{
	struct ct_stats *st = arg;
	struct ct_event ev;
	bool ok;
	uint32_t e;
	int rc = 0;

	if (ct_event_decode(rec, len, &ev) != 0) {
		st->undecoded++;
		return 0;
	}
	ct_procs_note(&st->ps, seq, proc, &ev);
	st->events++;
	st->kinds[ev.kind]++;
	st->sources[ev.source < CT_SOURCE__COUNT ? ev.source : 0]++;
	e = exe_of(st, proc, &ev);
	if (st->err)
		return 1;
	if (e)
		st->ec[e - 1].events++;
	/* start, exit and gap carry no result to speak of. */
	ok = ev.result >= 0;
	if (!ok && ev.kind != CT_KIND_START && ev.kind != CT_KIND_EXIT &&
	    ev.kind != CT_KIND_GAP) {
		int er = ev.err ? ev.err : (int)-ev.result;

		if (er <= 0 || er >= ERRNO_MAX)
			er = ERRNO_MAX - 1;
		st->failed[ev.kind]++;
		st->failed_total++;
		st->errs[ev.kind][er]++;
	}
	switch (ev.kind) {
	case CT_KIND_OPEN:
		if (!ok || !(ev.present & CT_F_PATH))
			break;
		rc = count_path(st, ev.path, P_OPENED);
		if (!rc && (ev.present & CT_F_FLAGS) &&
		    ((ev.flags & O_ACCMODE) != O_RDONLY ||
		     (ev.flags & (O_CREAT | O_TRUNC))))
			rc = count_path(st, ev.path, P_WRITTEN);
		break;
	case CT_KIND_TRUNCATE:
		if (ok && (ev.present & CT_F_PATH))
			rc = count_path(st, ev.path, P_WRITTEN);
		break;
	case CT_KIND_RENAME:
		if (ok && (ev.present & CT_F_PATH2))
			rc = count_path(st, ev.path2, P_WRITTEN);
		break;
	case CT_KIND_UNLINK:
	case CT_KIND_RMDIR:
		if (ok && (ev.present & CT_F_PATH))
			rc = count_path(st, ev.path, P_DELETED);
		break;
	case CT_KIND_GAP: {
		struct ct_bytes r = { "(no reason)", 11 };
		uint32_t idx;

		if (ev.present & CT_F_REASON)
			r = ev.reason;
		rc = ct_pathtab_intern(&st->reasons, 0, r.p, r.len, &idx, NULL);
		if (!rc)
			rc = room((void **)&st->rc, &st->rccap, idx,
				  sizeof(*st->rc));
		if (!rc)
			st->rc[idx]++;
		break;
	}
	}
	if (rc) {
		st->err = rc;
		return 1;
	}
	return 0;
}

int ct_stats_build(struct ct_rtxn *t, uint64_t session, struct ct_stats **out)
{
	struct ct_stats *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return CT_ENOMEM;
	st->t = t;
	st->session = session;
	rc = ct_store_session_get(t, session, &st->si);
	if (rc < 0) {
		free(st);
		return rc;
	}
	rc = ct_procs_load(t, session, &st->ps);
	if (rc < 0) {
		free(st);
		return rc;
	}
	st->cur_exe = calloc(st->ps.n ? st->ps.n : 1, sizeof(*st->cur_exe));
	if (!st->cur_exe) {
		rc = CT_ENOMEM;
		goto fail;
	}
	rc = ct_store_events_foreach(t, session, 0, st_event, st);
	if (st->err)
		rc = st->err;
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	ct_stats_free(st);
	return rc;
}

void ct_stats_free(struct ct_stats *st)
{
	if (!st)
		return;
	ct_pathtab_release(&st->paths);
	ct_pathtab_release(&st->exes);
	ct_pathtab_release(&st->reasons);
	free(st->pc);
	free(st->ec);
	free(st->rc);
	free(st->cur_exe);
	ct_procs_release(&st->ps);
	free(st);
}

uint64_t ct_stats_events(const struct ct_stats *st)
{
	return st->events;
}

uint64_t ct_stats_undecoded(const struct ct_stats *st)
{
	return st->undecoded;
}

/* --- top-N lists --- */

struct top {
	uint32_t idx;
	uint64_t n;
};

static int top_cmp(const void *a, const void *b)
{
	const struct top *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The entries with a non-zero count, biggest first, cut to top.  Returns a
 * malloc'ed array (owned by caller) and its length in *n; NULL on ENOMEM
 * (or when there is nothing). */
static struct top *top_of(size_t count, uint64_t (*get)(const void *, size_t),
			  const void *ctx, size_t top, size_t *n)
{
	struct top *v = malloc((count ? count : 1) * sizeof(*v));
	size_t k = 0;

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		uint64_t c = get(ctx, i);

		if (c)
			v[k++] = (struct top){ (uint32_t)i, c };
	}
	qsort(v, k, sizeof(*v), top_cmp);
	*n = k < top ? k : top;
	return v;
}

struct path_ctx {
	const struct ct_stats *st;
	int which;
};

static uint64_t get_path(const void *c, size_t i)
{
	const struct path_ctx *pc = c;

	return pc->st->pc[i].n[pc->which];
}

static uint64_t get_exe(const void *c, size_t i)
{
	return ((const struct ct_stats *)c)->ec[i].events;
}

static uint64_t proc_events(const struct ct_proc *p)
{
	uint64_t n = 0;

	for (int k = 0; k < CT_KIND__COUNT; k++)
		n += p->counts[k];
	return n;
}

static uint64_t get_proc(const void *c, size_t i)
{
	const struct ct_stats *st = c;

	return st->ps.v[i].info.num ? proc_events(&st->ps.v[i]) : 0;
}

static uint64_t get_reason(const void *c, size_t i)
{
	return ((const struct ct_stats *)c)->rc[i];
}

struct err_ctx {
	const struct ct_stats *st;
	bool by_kind; /* index = kind * ERRNO_MAX + errno, else errno */
};

static uint64_t get_err(const void *c, size_t i)
{
	const struct err_ctx *ec = c;
	uint64_t n = 0;

	if (ec->by_kind)
		return ec->st->errs[i / ERRNO_MAX][i % ERRNO_MAX];
	for (int k = 0; k < CT_KIND__COUNT; k++)
		n += ec->st->errs[k][i];
	return n;
}

static void errno_str(int e, char *buf, size_t cap)
{
	const char *name = ct_errno_name(e);

	if (e == ERRNO_MAX - 1)
		snprintf(buf, cap, "other");
	else if (name)
		snprintf(buf, cap, "%s", name);
	else
		snprintf(buf, cap, "E%d", e);
}

/* --- text --- */

static void put_num(FILE *f, int width, uint64_t n)
{
	char buf[32], out[48];
	int len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
	int o = 0;

	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = buf[i];
	}
	out[o] = '\0';
	fprintf(f, "%*s", width, out);
}

static void heading(struct ct_out *o, const char *title)
{
	fprintf(o->f, "\n%s%s%s\n", ct_out_color(o, CT_C_BOLD), title,
		ct_out_color(o, CT_C_RESET));
}

void ct_stats_print_text(const struct ct_stats *st, struct ct_out *o,
			 size_t top)
{
	FILE *f = o->f;
	char id[17], when[32], dur[32];
	struct top *v;
	size_t n;

	ct_export_session_id(st->si.id, id);
	ct_fmt_time(when, sizeof(when), st->si.start);
	ct_fmt_duration(dur, sizeof(dur),
			st->si.end > st->si.start ? st->si.end - st->si.start
						  : 0);
	fprintf(f, "%sstats of session %s%s (started %s, ran %s)\n",
		ct_out_color(o, CT_C_BOLD), id, ct_out_color(o, CT_C_RESET),
		when, dur);
	put_num(f, 0, st->events);
	fputs(" events, ", f);
	put_num(f, 0, st->ps.n);
	fputs(" processes, ", f);
	put_num(f, 0, st->failed_total);
	fputs(" failed calls; ", f);
	fprintf(f, "%s", st->si.lost ? ct_out_color(o, CT_C_RED) : "");
	put_num(f, 0, st->si.lost);
	fprintf(f, " events lost%s, ", ct_out_color(o, CT_C_RESET));
	fprintf(f, "%s", st->si.gaps ? ct_out_color(o, CT_C_YELLOW) : "");
	put_num(f, 0, st->si.gaps);
	fprintf(f, " coverage gaps%s\n", ct_out_color(o, CT_C_RESET));

	heading(o, "events by kind                  total     failed");
	for (int k = 1; k < CT_KIND__COUNT; k++) {
		if (!st->kinds[k])
			continue;
		fprintf(f, "  %-20s", ct_kind_name((unsigned)k));
		put_num(f, 13, st->kinds[k]);
		put_num(f, 11, st->failed[k]);
		fputc('\n', f);
	}

	heading(o, "processes by events");
	v = top_of(st->ps.n, get_proc, st, top, &n);
	for (size_t i = 0; v && i < n; i++) {
		const struct ct_proc *p = &st->ps.v[v[i].idx];
		char pid[48], cmd[CMD_WIDTH * 4 + 8];

		ct_proc_id(p, pid, sizeof(pid));
		ct_proc_cmdline(p, CMD_WIDTH, cmd, sizeof(cmd));
		put_num(f, 11, v[i].n);
		fprintf(f, "  %-10s %s\n", pid, cmd);
	}
	free(v);

	heading(o, "executables by events (events, processes)");
	v = top_of(st->exes.n, get_exe, st, top, &n);
	for (size_t i = 0; v && i < n; i++) {
		uint32_t len;
		const char *p = ct_pathtab_bytes(&st->exes, v[i].idx, &len);

		put_num(f, 11, v[i].n);
		put_num(f, 11, st->ec[v[i].idx].procs);
		fputs("  ", f);
		ct_out_term(f, p, len);
		fputc('\n', f);
	}
	free(v);

	for (int w = 0; w < P_N; w++) {
		struct path_ctx pc = { st, w };
		char title[64];

		snprintf(title, sizeof(title), "paths %s most", p_names[w]);
		heading(o, title);
		v = top_of(st->paths.n, get_path, &pc, top, &n);
		if (v && !n)
			fputs("  (none)\n", f);
		for (size_t i = 0; v && i < n; i++) {
			uint32_t len;
			const char *p =
				ct_pathtab_bytes(&st->paths, v[i].idx, &len);

			put_num(f, 11, v[i].n);
			fputs("  ", f);
			ct_out_term(f, p, len);
			fputc('\n', f);
		}
		free(v);
	}

	heading(o, "errors");
	if (!st->failed_total)
		fputs("  (none)\n", f);
	{
		struct err_ctx ec = { st, false };
		struct err_ctx ek = { st, true };
		char name[32];

		v = top_of(ERRNO_MAX, get_err, &ec, top, &n);
		for (size_t i = 0; v && i < n; i++) {
			errno_str((int)v[i].idx, name, sizeof(name));
			put_num(f, 11, v[i].n);
			fprintf(f, "  %s%s%s\n", ct_out_color(o, CT_C_RED),
				name, ct_out_color(o, CT_C_RESET));
		}
		free(v);
		if (st->failed_total)
			fputs("  by kind:\n", f);
		v = top_of((size_t)CT_KIND__COUNT * ERRNO_MAX, get_err, &ek,
			   top, &n);
		for (size_t i = 0; v && i < n; i++) {
			errno_str((int)(v[i].idx % ERRNO_MAX), name,
				  sizeof(name));
			put_num(f, 11, v[i].n);
			fprintf(f, "  %s %s\n",
				ct_kind_name(v[i].idx / ERRNO_MAX), name);
		}
		free(v);
	}

	if (st->si.lost || st->si.gaps || st->reasons.n) {
		heading(o, "lost events and coverage gaps");
		if (st->si.lost)
			fprintf(f,
				"  %s%llu events were lost (ring full or a "
				"writer died): counts above are low%s\n",
				ct_out_color(o, CT_C_RED),
				(unsigned long long)st->si.lost,
				ct_out_color(o, CT_C_RESET));
		v = top_of(st->reasons.n, get_reason, st, top, &n);
		for (size_t i = 0; v && i < n; i++) {
			uint32_t len;
			const char *p =
				ct_pathtab_bytes(&st->reasons, v[i].idx, &len);

			put_num(f, 11, v[i].n);
			fputs("  gap: ", f);
			ct_out_term(f, p, len);
			fputc('\n', f);
		}
		free(v);
	}
}

/* --- JSON --- */

static json_t *top_paths_json(const struct ct_stats *st,
			      const struct ct_pathtab *tab, struct top *v,
			      size_t n, const char *key, const char *countkey)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		uint32_t len;
		const char *p = ct_pathtab_bytes(tab, v[i].idx, &len);

		json_array_append_new(
			a, json_pack("{s:o,s:I}", key, ct_json_bytes(p, len),
				     countkey, (json_int_t)v[i].n));
	}
	(void)st;
	return a;
}

int ct_stats_print_json(const struct ct_stats *st, FILE *f, size_t top)
{
	json_t *doc, *kinds, *sources, *procs, *exes, *paths, *errs, *byerr,
		*bykind;
	struct top *v;
	char id[17], name[32];
	size_t n;
	int rc;

	ct_export_session_id(st->si.id, id);
	doc = json_object();
	kinds = json_object();
	sources = json_object();
	procs = json_array();
	exes = json_array();
	paths = json_object();
	errs = json_object();
	byerr = json_array();
	bykind = json_array();
	if (!doc || !kinds || !sources || !procs || !exes || !paths || !errs ||
	    !byerr || !bykind)
		goto nomem;
	json_object_set_new(doc, "session", json_string(id));
	json_object_set_new(doc, "events",
			    json_integer((json_int_t)st->events));
	json_object_set_new(doc, "processes",
			    json_integer((json_int_t)st->ps.n));
	json_object_set_new(doc, "start",
			    json_integer((json_int_t)st->si.start));
	json_object_set_new(doc, "end", json_integer((json_int_t)st->si.end));
	json_object_set_new(doc, "lost", json_integer((json_int_t)st->si.lost));
	json_object_set_new(doc, "gaps", json_integer((json_int_t)st->si.gaps));
	json_object_set_new(doc, "undecoded",
			    json_integer((json_int_t)st->undecoded));
	for (int k = 1; k < CT_KIND__COUNT; k++)
		if (st->kinds[k])
			json_object_set_new(
				kinds, ct_kind_name((unsigned)k),
				json_pack("{s:I,s:I}", "events",
					  (json_int_t)st->kinds[k], "failed",
					  (json_int_t)st->failed[k]));
	json_object_set_new(doc, "kinds", kinds);
	for (int s = 0; s < CT_SOURCE__COUNT; s++)
		if (st->sources[s])
			json_object_set_new(
				sources,
				s ? ct_source_name((unsigned)s) : "unknown",
				json_integer((json_int_t)st->sources[s]));
	json_object_set_new(doc, "sources", sources);

	v = top_of(st->ps.n, get_proc, st, top, &n);
	for (size_t i = 0; v && i < n; i++) {
		const struct ct_proc *p = &st->ps.v[v[i].idx];
		char pid[48];
		json_t *o, *pk = json_object();

		ct_proc_id(p, pid, sizeof(pid));
		for (int k = 1; pk && k < CT_KIND__COUNT; k++)
			if (p->counts[k])
				json_object_set_new(
					pk, ct_kind_name((unsigned)k),
					json_integer((json_int_t)p->counts[k]));
		o = json_pack("{s:s,s:I,s:o}", "proc", pid, "events",
			      (json_int_t)v[i].n, "kinds", pk);
		if (o && p->image.argc)
			json_object_set_new(
				o, "argv",
				ct_json_strv(p->image.argv_raw, p->image.argc));
		if (o && p->image.exe.len)
			json_object_set_new(o, "exe",
					    ct_json_bytes(p->image.exe.p,
							  p->image.exe.len));
		json_array_append_new(procs, o);
	}
	free(v);
	json_object_set_new(doc, "top_processes", procs);

	v = top_of(st->exes.n, get_exe, st, top, &n);
	for (size_t i = 0; v && i < n; i++) {
		uint32_t len;
		const char *p = ct_pathtab_bytes(&st->exes, v[i].idx, &len);

		json_array_append_new(
			exes,
			json_pack("{s:o,s:I,s:I}", "exe", ct_json_bytes(p, len),
				  "events", (json_int_t)v[i].n, "procs",
				  (json_int_t)st->ec[v[i].idx].procs));
	}
	free(v);
	json_object_set_new(doc, "executables", exes);

	for (int w = 0; w < P_N; w++) {
		struct path_ctx pc = { st, w };

		v = top_of(st->paths.n, get_path, &pc, top, &n);
		json_object_set_new(
			paths, p_names[w],
			top_paths_json(st, &st->paths, v, n, "path", "count"));
		free(v);
	}
	json_object_set_new(doc, "top_paths", paths);

	{
		struct err_ctx ec = { st, false }, ek = { st, true };

		v = top_of(ERRNO_MAX, get_err, &ec, top, &n);
		for (size_t i = 0; v && i < n; i++) {
			errno_str((int)v[i].idx, name, sizeof(name));
			json_array_append_new(
				byerr, json_pack("{s:s,s:I}", "errno", name,
						 "count", (json_int_t)v[i].n));
		}
		free(v);
		v = top_of((size_t)CT_KIND__COUNT * ERRNO_MAX, get_err, &ek,
			   top, &n);
		for (size_t i = 0; v && i < n; i++) {
			errno_str((int)(v[i].idx % ERRNO_MAX), name,
				  sizeof(name));
			json_array_append_new(
				bykind,
				json_pack("{s:s,s:s,s:I}", "kind",
					  ct_kind_name(v[i].idx / ERRNO_MAX),
					  "errno", name, "count",
					  (json_int_t)v[i].n));
		}
		free(v);
	}
	json_object_set_new(errs, "total",
			    json_integer((json_int_t)st->failed_total));
	json_object_set_new(errs, "by_errno", byerr);
	json_object_set_new(errs, "by_kind", bykind);
	json_object_set_new(doc, "errors", errs);

	v = top_of(st->reasons.n, get_reason, st, top, &n);
	json_object_set_new(
		doc, "gap_reasons",
		top_paths_json(st, &st->reasons, v, n, "reason", "count"));
	free(v);

	rc = json_dumpf(doc, f, JSON_COMPACT);
	fputc('\n', f);
	json_decref(doc);
	return rc ? CT_ENOMEM : 0;
nomem:
	json_decref(doc);
	json_decref(kinds);
	json_decref(sources);
	json_decref(procs);
	json_decref(exes);
	json_decref(paths);
	json_decref(errs);
	json_decref(byerr);
	json_decref(bykind);
	return CT_ENOMEM;
}
