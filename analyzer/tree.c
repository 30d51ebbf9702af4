/* `ctrace tree`: who spawned whom, with argv, exit, duration and counts. */
#include "analyzer/tree.h"

#include <stdlib.h>
#include <string.h>

#include "analyzer/evline.h"
#include "analyzer/export.h"
#include "analyzer/procs.h"
#include "common/codec.h"
#include "common/error.h"

/* Event numbers of one process, kept only for --events. */
struct seqv {
	uint64_t *v;
	uint32_t n, cap;
};

struct tree_ctx {
	struct ct_rtxn *t;
	uint64_t session;
	const struct ct_tree_opts *opts;
	struct ct_out *o;
	struct ct_procs ps;
	struct seqv *seqs; /* by num - 1, with opts->events */
	uint64_t undecoded;
	uint64_t start; /* session start */
	char *prefix; /* text: the "|  " columns of the ancestors */
	size_t prefix_cap;
	int err;
};

static int scan_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		      uint32_t len)
{
	struct tree_ctx *c = arg;
	struct ct_event ev;
	struct seqv *s;

	if (ct_event_decode(rec, len, &ev) != 0) {
		c->undecoded++;
		return 0;
	}
	ct_procs_note(&c->ps, seq, proc, &ev);
	if (!c->seqs || !ct_procs_get(&c->ps, proc))
		return 0;
	s = &c->seqs[proc - 1];
	if (s->n == s->cap) {
		uint32_t ncap = s->cap ? s->cap * 2 : 8;
		uint64_t *nv = realloc(s->v, ncap * sizeof(*nv));

		if (!nv) {
			c->err = CT_ENOMEM;
			return 1;
		}
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = seq;
	return 0;
}

static bool get_event(struct tree_ctx *c, uint64_t seq, struct ct_event *ev)
{
	const void *rec;
	uint32_t proc, len;

	if (ct_store_event_get(c->t, c->session, seq, &proc, &rec, &len) < 0 ||
	    ct_event_decode(rec, len, ev) != 0)
		return false;
	return true;
}

/* --- text --- */

static void put_status(struct tree_ctx *c, const struct ct_proc *p)
{
	struct ct_out *o = c->o;
	FILE *f = o->f;
	char dur[32];

	if (p->info.flags & CT_PROC_SIGNALED) {
		const char *s = sigabbrev_np(p->info.signal);

		fprintf(f, "%skilled by SIG%s%s", ct_out_color(o, CT_C_RED),
			s ? s : "?", ct_out_color(o, CT_C_RESET));
	} else if (p->info.flags & CT_PROC_EXITED) {
		fprintf(f, "%sexit %d%s",
			ct_out_color(o,
				     p->info.exit_code ? CT_C_RED : CT_C_GREEN),
			p->info.exit_code, ct_out_color(o, CT_C_RESET));
	} else {
		fputs("no exit seen", f);
	}
	if (p->info.end && p->info.end >= p->info.start) {
		ct_fmt_duration(dur, sizeof(dur), p->info.end - p->info.start);
		fprintf(f, ", %s", dur);
	}
}

static void put_counts(struct tree_ctx *c, const struct ct_proc *p)
{
	FILE *f = c->o->f;
	bool any = false;

	for (unsigned k = 1; k < CT_KIND__COUNT; k++) {
		/* start and exit are the process itself, shown already */
		if (!p->counts[k] || k == CT_KIND_START || k == CT_KIND_EXIT)
			continue;
		fprintf(f, "%s%s %llu", any ? ", " : "  ", ct_kind_name(k),
			(unsigned long long)p->counts[k]);
		any = true;
	}
}

static int push_prefix(struct tree_ctx *c, size_t at, const char *s)
{
	size_t n = strlen(s);

	if (at + n + 1 > c->prefix_cap) {
		size_t ncap = (at + n + 1) * 2;
		char *np = realloc(c->prefix, ncap);

		if (!np)
			return CT_ENOMEM;
		c->prefix = np;
		c->prefix_cap = ncap;
	}
	memcpy(c->prefix + at, s, n + 1);
	return 0;
}

static uint64_t count_below(const struct ct_proc *p)
{
	uint64_t n = 0;

	for (const struct ct_proc *ch = p->child; ch; ch = ch->next)
		n += 1 + count_below(ch);
	return n;
}

static void text_events(struct tree_ctx *c, const struct ct_proc *p,
			const char *lead)
{
	struct ct_out *o = c->o;
	struct seqv *s = &c->seqs[p->info.num - 1];
	struct ct_event ev;

	for (uint32_t i = 0; i < s->n && !ferror(o->f); i++) {
		uint64_t rel;

		if (!get_event(c, s->v[i], &ev))
			continue;
		rel = ev.ts >= c->start ? ev.ts - c->start : 0;
		fprintf(o->f, "%s%s#%llu +%llu.%06llus%s ", c->prefix, lead,
			(unsigned long long)s->v[i],
			(unsigned long long)(rel / 1000000000ull),
			(unsigned long long)(rel % 1000000000ull / 1000),
			ct_out_color(o, CT_C_DIM));
		fputs(ct_out_color(o, CT_C_RESET), o->f);
		ct_evline_write(o, o->f, &ev);
		fputc('\n', o->f);
	}
}

/* One process and, below it, its children.  The prefix holds the columns
 * of the ancestors; at is where this level's column goes. */
static int text_node(struct tree_ctx *c, const struct ct_proc *p, size_t at,
		     bool last, bool root)
{
	struct ct_out *o = c->o;
	FILE *f = o->f;
	char id[48], *cmd;
	size_t sub = at;
	int rc;

	cmd = malloc(CT_ARGV_BYTES_MAX * 4 + 64);
	if (!cmd)
		return CT_ENOMEM;
	c->prefix[at] = '\0';
	ct_proc_id(p, id, sizeof(id));
	ct_proc_cmdline(p, 0, cmd, CT_ARGV_BYTES_MAX * 4 + 64);
	fprintf(f, "%s%s%s%s%s %s%s%s  [", c->prefix,
		root   ? ""
		: last ? "`-- "
		       : "|-- ",
		ct_out_color(o, CT_C_CYAN), id, ct_out_color(o, CT_C_RESET),
		ct_out_color(o, CT_C_BOLD), cmd, ct_out_color(o, CT_C_RESET));
	free(cmd);
	put_status(c, p);
	fputc(']', f);
	put_counts(c, p);
	if (p->inferred)
		fprintf(f, "  %s(parent inferred)%s",
			ct_out_color(o, CT_C_YELLOW),
			ct_out_color(o, CT_C_RESET));
	fputc('\n', f);
	if (!root) {
		rc = push_prefix(c, at, last ? "    " : "|   ");
		if (rc < 0)
			return rc;
		sub = at + 4;
	}
	if (c->seqs)
		text_events(c, p, p->child ? "|  " : "   ");
	if (c->opts->depth && p->depth + 1 >= c->opts->depth && p->child) {
		c->prefix[sub] = '\0';
		fprintf(f, "%s%s... %llu more processes below%s\n", c->prefix,
			ct_out_color(o, CT_C_DIM),
			(unsigned long long)count_below(p),
			ct_out_color(o, CT_C_RESET));
		return 0;
	}
	for (const struct ct_proc *ch = p->child; ch; ch = ch->next) {
		if (ferror(f))
			return 0;
		rc = text_node(c, ch, sub, !ch->next, false);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* --- JSON --- */

static int dump(struct tree_ctx *c, json_t *j, bool strip_close)
{
	char *s = json_dumps(j, JSON_COMPACT);
	size_t n;

	json_decref(j);
	if (!s)
		return CT_ENOMEM;
	n = strlen(s);
	if (strip_close && n && s[n - 1] == '}')
		n--;
	fwrite(s, 1, n, c->o->f);
	free(s);
	return 0;
}

/* A node is the SPEC process object plus "edge", "counts", "events" (with
 * --events) and "children", written piecewise so that no process's events
 * are ever held in memory together. */
static int json_node(struct tree_ctx *c, const struct ct_proc *p)
{
	json_t *j = ct_export_proc(c->t, &c->ps.model, &p->info), *counts;
	FILE *f = c->o->f;
	bool first = true;
	int rc;

	if (!j)
		return CT_ENOMEM;
	counts = json_object();
	for (unsigned k = 1; counts && k < CT_KIND__COUNT; k++)
		if (p->counts[k])
			json_object_set_new(
				counts, ct_kind_name(k),
				json_integer((json_int_t)p->counts[k]));
	if (!counts ||
	    json_object_set_new(j, "edge", json_string(ct_edge_name(p->edge))) <
		    0 ||
	    json_object_set_new(j, "depth", json_integer(p->depth)) < 0 ||
	    json_object_set_new(j, "counts", counts) < 0) {
		json_decref(j);
		return CT_ENOMEM;
	}
	rc = dump(c, j, true);
	if (rc < 0)
		return rc;
	if (c->seqs) {
		struct seqv *s = &c->seqs[p->info.num - 1];
		struct ct_event ev;

		fputs(",\"events\":[", f);
		for (uint32_t i = 0; i < s->n; i++) {
			if (!get_event(c, s->v[i], &ev))
				continue;
			j = ct_export_event(&c->ps.model, s->v[i], p->info.num,
					    &ev);
			if (!j)
				return CT_ENOMEM;
			if (!first)
				fputc(',', f);
			first = false;
			rc = dump(c, j, false);
			if (rc < 0)
				return rc;
		}
		fputc(']', f);
	}
	if (c->opts->depth && p->depth + 1 >= c->opts->depth && p->child) {
		fprintf(f, ",\"children\":[],\"hidden_below\":%llu}",
			(unsigned long long)count_below(p));
		return 0;
	}
	fputs(",\"children\":[", f);
	for (const struct ct_proc *ch = p->child; ch; ch = ch->next) {
		rc = json_node(c, ch);
		if (rc < 0)
			return rc;
		if (ch->next)
			fputc(',', f);
	}
	fputs("]}", f);
	return 0;
}

int ct_tree_write(struct ct_rtxn *t, uint64_t session,
		  const struct ct_tree_opts *opts, struct ct_out *o,
		  struct ct_view_stats *st)
{
	struct tree_ctx c = {
		.t = t, .session = session, .opts = opts, .o = o
	};
	struct ct_session_info si;
	char sid[17];
	int rc;

	rc = ct_store_session_get(t, session, &si);
	if (rc < 0)
		return rc;
	c.start = si.start;
	rc = ct_procs_load(t, session, &c.ps);
	if (rc < 0)
		return rc;
	if (opts->events) {
		c.seqs = calloc(c.ps.n ? c.ps.n : 1, sizeof(*c.seqs));
		if (!c.seqs) {
			rc = CT_ENOMEM;
			goto out;
		}
	}
	rc = ct_store_events_foreach(t, session, 0, scan_event, &c);
	if (c.err) {
		rc = c.err;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = 0;
	ct_export_session_id(session, sid);
	if (opts->json) {
		fprintf(o->f, "{\"session\":\"%s\",\"processes\":[", sid);
		for (struct ct_proc *p = c.ps.roots; p && rc == 0;
		     p = p->next) {
			rc = json_node(&c, p);
			if (p->next)
				fputc(',', o->f);
		}
		fputs("]}\n", o->f);
	} else {
		rc = push_prefix(&c, 0, "");
		for (struct ct_proc *p = c.ps.roots; p && rc == 0; p = p->next)
			rc = text_node(&c, p, 0, !p->next, true);
		if (rc == 0 && !c.ps.nroots)
			fprintf(o->f, "(no processes recorded)\n");
		if (rc == 0 && si.lost)
			fprintf(o->f,
				"%s(%llu events of this session were lost)%s\n",
				ct_out_color(o, CT_C_RED),
				(unsigned long long)si.lost,
				ct_out_color(o, CT_C_RESET));
	}
	if (rc == 0 && ferror(o->f))
		rc = CT_EIO;
out:
	if (st)
		st->undecoded = c.undecoded;
	if (c.seqs)
		for (size_t i = 0; i < c.ps.n; i++)
			free(c.seqs[i].v);
	free(c.seqs);
	free(c.prefix);
	ct_procs_release(&c.ps);
	return rc;
}
