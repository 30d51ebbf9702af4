/* `ctrace graph`: lineage plus data-flow edges, as text, DOT or JSON. */
#include "analyzer/graph.h"

#include <stdlib.h>
#include <string.h>

#include "analyzer/export.h"
#include "analyzer/flow.h"
#include "analyzer/procs.h"
#include "common/codec.h"
#include "common/error.h"

#define GRAPH_CMD_WIDTH 60
#define GRAPH_PATHS 3 /* paths named per data-flow edge */

struct graph_ctx {
	struct ct_procs ps;
	struct ct_flow *flow;
	uint64_t undecoded;
	int err;
};

/* Data-flow edges of one (writer, reader) pair of processes. */
struct pair {
	uint32_t src, dst;
	size_t first; /* index in the sorted edge copy */
	size_t n; /* files */
};

static int scan_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		      uint32_t len)
{
	struct graph_ctx *c = arg;
	struct ct_event ev;
	int rc;

	if (ct_event_decode(rec, len, &ev) != 0) {
		c->undecoded++;
		return 0;
	}
	ct_procs_note(&c->ps, seq, proc, &ev);
	rc = ct_flow_note(c->flow, seq, proc, &ev);
	if (rc < 0) {
		c->err = rc;
		return 1;
	}
	return 0;
}

static int cmp_edge(const void *a, const void *b)
{
	const struct ct_flow_edge *x = a, *y = b;

	if (x->src.proc != y->src.proc)
		return x->src.proc < y->src.proc ? -1 : 1;
	if (x->dst.proc != y->dst.proc)
		return x->dst.proc < y->dst.proc ? -1 : 1;
	return x->dst.seq < y->dst.seq ? -1 : x->dst.seq > y->dst.seq;
}

/* Group the flow's edges by process pair.  *sorted and *pairs are owned
 * by the caller. */
static int group_pairs(const struct ct_flow *f, struct ct_flow_edge **sorted,
		       struct pair **pairs, size_t *npairs)
{
	size_t n;
	const struct ct_flow_edge *e = ct_flow_edges(f, &n);
	struct ct_flow_edge *s = malloc((n ? n : 1) * sizeof(*s));
	struct pair *p = malloc((n ? n : 1) * sizeof(*p));
	size_t np = 0;

	if (!s || !p) {
		free(s);
		free(p);
		return CT_ENOMEM;
	}
	if (n)
		memcpy(s, e, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_edge);
	for (size_t i = 0; i < n; i++) {
		if (np && p[np - 1].src == s[i].src.proc &&
		    p[np - 1].dst == s[i].dst.proc) {
			p[np - 1].n++;
			continue;
		}
		p[np++] = (struct pair){ s[i].src.proc, s[i].dst.proc, i, 1 };
	}
	*sorted = s;
	*pairs = p;
	*npairs = np;
	return 0;
}

static void proc_or_num(const struct graph_ctx *c, uint32_t num, char *buf,
			size_t cap)
{
	const struct ct_proc *p = ct_procs_get(&c->ps, num);

	if (p)
		ct_proc_id(p, buf, cap);
	else
		snprintf(buf, cap, "#%u", num);
}

static void lineage_label(const struct ct_proc *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s", ct_edge_name(p->edge),
		 p->nexec ? " + exec" : "");
}

/* A DOT double-quoted string's body: backslash and quote escaped.  The
 * text is already terminal-escaped (no control characters, valid UTF-8),
 * so these two are all DOT can misread; a newline is written as \n. */
static void dot_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void write_text(struct graph_ctx *c, struct ct_out *o, const char *sid,
		       const struct ct_flow_edge *s, const struct pair *pairs,
		       size_t np)
{
	FILE *f = o->f;
	char id[48], id2[48], cmd[1024], lab[64];
	size_t nlin = 0;

	for (size_t i = 0; i < c->ps.n; i++)
		if (c->ps.v[i].info.num && c->ps.v[i].parent)
			nlin++;
	fprintf(f,
		"causal graph of session %s: %zu processes, %zu lineage "
		"edges, %zu data-flow edges\n",
		sid, c->ps.n, nlin, np);
	fprintf(f, "%sprocesses:%s\n", ct_out_color(o, CT_C_BOLD),
		ct_out_color(o, CT_C_RESET));
	for (size_t i = 0; i < c->ps.n; i++) {
		const struct ct_proc *p = &c->ps.v[i];

		if (!p->info.num)
			continue;
		ct_proc_id(p, id, sizeof(id));
		ct_proc_cmdline(p, GRAPH_CMD_WIDTH * 2, cmd, sizeof(cmd));
		fprintf(f, "  %s%-10s%s %s\n", ct_out_color(o, CT_C_CYAN), id,
			ct_out_color(o, CT_C_RESET), cmd);
	}
	fprintf(f, "%slineage (parent -> child):%s\n",
		ct_out_color(o, CT_C_BOLD), ct_out_color(o, CT_C_RESET));
	for (size_t i = 0; i < c->ps.n; i++) {
		const struct ct_proc *p = &c->ps.v[i];

		if (!p->info.num || !p->parent)
			continue;
		ct_proc_id(p->parent, id, sizeof(id));
		ct_proc_id(p, id2, sizeof(id2));
		lineage_label(p, lab, sizeof(lab));
		fprintf(f, "  %s -> %s  %s%s%s\n", id, id2,
			p->inferred ? ct_out_color(o, CT_C_YELLOW) : "", lab,
			p->inferred ? ct_out_color(o, CT_C_RESET) : "");
	}
	fprintf(f, "%sdata flow (writer => reader):%s\n",
		ct_out_color(o, CT_C_BOLD), ct_out_color(o, CT_C_RESET));
	if (!np)
		fprintf(f, "  (none: no process read a file another process "
			   "of the session wrote)\n");
	for (size_t k = 0; k < np; k++) {
		const struct pair *pr = &pairs[k];
		const struct ct_flow_edge *e = &s[pr->first];

		proc_or_num(c, pr->src, id, sizeof(id));
		proc_or_num(c, pr->dst, id2, sizeof(id2));
		fprintf(f, "  %s => %s  ", id, id2);
		for (size_t j = 0; j < pr->n && j < GRAPH_PATHS; j++) {
			if (j)
				fputs(", ", f);
			ct_out_term(f, e[j].path, e[j].path_len);
			fprintf(f, " (%s, %s)", ct_flow_op_name(e[j].src.op),
				ct_flow_op_name(e[j].dst.op));
		}
		if (pr->n > GRAPH_PATHS)
			fprintf(f, " +%zu more files", pr->n - GRAPH_PATHS);
		fputc('\n', f);
	}
}

static void write_dot(struct graph_ctx *c, FILE *f, const char *sid,
		      const struct ct_flow_edge *s, const struct pair *pairs,
		      size_t np)
{
	char id[48], cmd[1024], lab[64];

	fprintf(f, "digraph \"ctrace %s\" {\n", sid);
	fprintf(f, "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];"
		   "\n");
	for (size_t i = 0; i < c->ps.n; i++) {
		const struct ct_proc *p = &c->ps.v[i];

		if (!p->info.num)
			continue;
		ct_proc_id(p, id, sizeof(id));
		ct_proc_cmdline(p, GRAPH_CMD_WIDTH, cmd, sizeof(cmd));
		fprintf(f, "  p%u [label=\"%s\\n", p->info.num, id);
		dot_str(f, cmd);
		fputs("\"];\n", f);
	}
	for (size_t i = 0; i < c->ps.n; i++) {
		const struct ct_proc *p = &c->ps.v[i];

		if (!p->info.num || !p->parent)
			continue;
		lineage_label(p, lab, sizeof(lab));
		fprintf(f, "  p%u -> p%u [label=\"%s\"%s];\n",
			p->parent->info.num, p->info.num, lab,
			p->inferred ? ", style=dotted" : "");
	}
	for (size_t k = 0; k < np; k++) {
		const struct pair *pr = &pairs[k];
		const struct ct_flow_edge *e = &s[pr->first];
		char path[512];

		fprintf(f,
			"  p%u -> p%u [style=dashed, color=blue, "
			"fontcolor=blue, label=\"",
			pr->src, pr->dst);
		ct_out_term_buf(path, sizeof(path), e->path, e->path_len);
		dot_str(f, path);
		if (pr->n > 1)
			fprintf(f, "\\n+%zu more files", pr->n - 1);
		fputs("\"];\n", f);
	}
	fputs("}\n", f);
}

static int dump(FILE *f, json_t *j)
{
	int rc;

	if (!j)
		return CT_ENOMEM;
	rc = json_dumpf(j, f, JSON_COMPACT);
	json_decref(j);
	return rc < 0 ? CT_EIO : 0;
}

/* Streamed piecewise: one node or edge object at a time. */
static int write_json(struct graph_ctx *c, FILE *f, const char *sid,
		      const struct ct_flow_edge *s, const struct pair *pairs,
		      size_t np)
{
	char id[48], id2[48], lab[64];
	bool first = true;
	int rc = 0;

	fprintf(f, "{\"session\":\"%s\",\"nodes\":[", sid);
	for (size_t i = 0; i < c->ps.n && rc == 0; i++) {
		const struct ct_proc *p = &c->ps.v[i];
		json_t *j;

		if (!p->info.num)
			continue;
		ct_proc_id(p, id, sizeof(id));
		j = json_pack("{s:s,s:i}", "proc", id, "pid", p->info.pid);
		if (j && p->image.argc)
			json_object_set_new(
				j, "argv",
				ct_json_strv(p->image.argv_raw, p->image.argc));
		if (j && p->image.exe.len)
			json_object_set_new(j, "exe",
					    ct_json_bytes(p->image.exe.p,
							  p->image.exe.len));
		if (j && p->inferred)
			json_object_set_new(j, "parent_inferred", json_true());
		if (!first)
			fputc(',', f);
		first = false;
		rc = dump(f, j);
	}
	fputs("],\"edges\":[", f);
	first = true;
	for (size_t i = 0; i < c->ps.n && rc == 0; i++) {
		const struct ct_proc *p = &c->ps.v[i];
		json_t *j;

		if (!p->info.num || !p->parent)
			continue;
		ct_proc_id(p->parent, id, sizeof(id));
		ct_proc_id(p, id2, sizeof(id2));
		lineage_label(p, lab, sizeof(lab));
		j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "type", "lineage",
			      "from", id, "to", id2, "kind",
			      ct_edge_name(p->edge), "exec", p->nexec > 0,
			      "inferred", p->inferred);
		if (!first)
			fputc(',', f);
		first = false;
		rc = dump(f, j);
	}
	for (size_t k = 0; k < np && rc == 0; k++) {
		const struct pair *pr = &pairs[k];
		const struct ct_flow_edge *e = &s[pr->first];
		json_t *j, *paths = json_array();

		proc_or_num(c, pr->src, id, sizeof(id));
		proc_or_num(c, pr->dst, id2, sizeof(id2));
		for (size_t x = 0; paths && x < pr->n && x < GRAPH_PATHS; x++)
			json_array_append_new(
				paths, ct_json_bytes(e[x].path, e[x].path_len));
		j = json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,s:I}", "type",
			      "dataflow", "from", id, "to", id2, "files",
			      (json_int_t)pr->n, "paths", paths, "write_seq",
			      (json_int_t)e->src.seq, "read_seq",
			      (json_int_t)e->dst.seq);
		if (!first)
			fputc(',', f);
		first = false;
		rc = dump(f, j);
	}
	fputs("]}\n", f);
	return rc;
}

int ct_graph_write(struct ct_rtxn *t, uint64_t session,
		   enum ct_graph_format fmt, struct ct_out *o,
		   struct ct_view_stats *st)
{
	struct graph_ctx c = { 0 };
	struct ct_session_info si;
	struct ct_flow_edge *sorted = NULL;
	struct pair *pairs = NULL;
	size_t np = 0;
	char sid[17];
	int rc;

	rc = ct_store_session_get(t, session, &si);
	if (rc < 0)
		return rc;
	rc = ct_procs_load(t, session, &c.ps);
	if (rc < 0)
		return rc;
	rc = ct_flow_new(&c.flow);
	if (rc < 0)
		goto out_procs;
	rc = ct_store_events_foreach(t, session, 0, scan_event, &c);
	if (c.err)
		rc = c.err;
	if (rc < 0)
		goto out_flow;
	rc = group_pairs(c.flow, &sorted, &pairs, &np);
	if (rc < 0)
		goto out_flow;
	ct_export_session_id(session, sid);
	switch (fmt) {
	case CT_GRAPH_DOT:
		write_dot(&c, o->f, sid, sorted, pairs, np);
		break;
	case CT_GRAPH_JSON:
		rc = write_json(&c, o->f, sid, sorted, pairs, np);
		break;
	default:
		write_text(&c, o, sid, sorted, pairs, np);
		break;
	}
	if (rc == 0 && ferror(o->f))
		rc = CT_EIO;
	free(sorted);
	free(pairs);
out_flow:
	ct_flow_free(c.flow);
out_procs:
	if (st)
		st->undecoded = c.undecoded;
	ct_procs_release(&c.ps);
	return rc;
}
