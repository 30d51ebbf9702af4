/* `ctrace why SEQ`: lineage and data flow behind one event. */
#include "analyzer/why.h"

#include <stdlib.h>
#include <string.h>

#include "analyzer/evline.h"
#include "analyzer/export.h"
#include "analyzer/flow.h"
#include "analyzer/procs.h"
#include "common/codec.h"
#include "common/error.h"

#define WHY_LINES_MAX 200 /* data-flow lines in all, however wide */
#define WHY_CMD_WIDTH 80 /* command lines inside data-flow lines */

struct why_ctx {
	struct ct_rtxn *t;
	uint64_t session, seq;
	struct ct_out *o;
	bool json;
	uint32_t depth_max, width;
	uint64_t start; /* session start */
	struct ct_procs ps;
	struct ct_flow *flow;
	uint64_t undecoded;
	uint32_t lines;
	json_t *jflow; /* JSON: the data-flow array */
	int err;
};

static int scan_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		      uint32_t len)
{
	struct why_ctx *c = arg;
	struct ct_event ev;
	int rc;

	if (seq >= c->seq)
		return 1; /* only what happened before the event */
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

static void fmt_rel(const struct why_ctx *c, uint64_t ts, char *buf, size_t cap)
{
	uint64_t rel = ts >= c->start ? ts - c->start : 0;

	snprintf(buf, cap, "+%llu.%06llus",
		 (unsigned long long)(rel / 1000000000ull),
		 (unsigned long long)(rel % 1000000000ull / 1000));
}

/* The image a process ran at the event: the last start noted before it,
 * else its latest (a process that did not exec since). */
static void image_at(struct why_ctx *c, const struct ct_proc *p,
		     struct ct_image *img)
{
	if (p->cur_image_seq && p->cur_image_seq != p->info.image_seq &&
	    ct_procs_image(c->t, c->session, p->cur_image_seq, img) == 0)
		return;
	*img = p->image;
}

static void cmd_of(struct why_ctx *c, uint32_t num, size_t width, char *buf,
		   size_t cap)
{
	struct ct_proc *p = ct_procs_get(&c->ps, num);
	struct ct_image img;

	if (!p) {
		snprintf(buf, cap, "?");
		return;
	}
	image_at(c, p, &img);
	ct_image_cmdline(&img, width, buf, cap);
}

static void proc_id(struct why_ctx *c, uint32_t num, char *buf, size_t cap)
{
	struct ct_proc *p = ct_procs_get(&c->ps, num);

	if (p)
		ct_proc_id(p, buf, cap);
	else
		snprintf(buf, cap, "#%u", num);
}

static json_t *jend(struct why_ctx *c, const struct ct_flow_end *e,
		    bool with_cmd)
{
	char id[48], cmd[1024];
	json_t *j;

	proc_id(c, e->proc, id, sizeof(id));
	j = json_pack("{s:s,s:I,s:I,s:s}", "proc", id, "seq",
		      (json_int_t)e->seq, "ts", (json_int_t)e->ts, "op",
		      ct_flow_op_name((enum ct_flow_op)e->op));
	if (j && with_cmd) {
		cmd_of(c, e->proc, 0, cmd, sizeof(cmd));
		json_object_set_new(j, "command", json_string(cmd));
	}
	return j;
}

/* "written by", "created by", ...: the writer's op, passive. */
static const char *passive(uint8_t op)
{
	switch (op) {
	case CT_FLOW_CREATED:
		return "created";
	case CT_FLOW_TRUNCATED:
		return "truncated";
	case CT_FLOW_RENAMED_INTO:
		return "renamed into place";
	case CT_FLOW_LINKED:
		return "linked";
	}
	return "written";
}

/* One data-flow cause: reader r got path from writer w. */
static void put_cause(struct why_ctx *c, uint32_t depth, const char *path,
		      uint32_t path_len, const struct ct_flow_end *w,
		      const struct ct_flow_end *r)
{
	struct ct_out *o = c->o;
	char wid[48], rid[48], cmd[1024], when[32];

	c->lines++;
	if (c->json) {
		json_t *j = json_object();

		if (!j ||
		    json_object_set_new(j, "depth", json_integer(depth)) ||
		    json_object_set_new(j, "path",
					ct_json_bytes(path, path_len)) ||
		    json_object_set_new(j, "writer", jend(c, w, true)) ||
		    (r &&
		     json_object_set_new(j, "reader", jend(c, r, false))) ||
		    json_array_append_new(c->jflow, j))
			c->err = CT_ENOMEM;
		return;
	}
	proc_id(c, w->proc, wid, sizeof(wid));
	cmd_of(c, w->proc, WHY_CMD_WIDTH, cmd, sizeof(cmd));
	fmt_rel(c, w->ts, when, sizeof(when));
	fprintf(o->f, "  %*s", (int)(depth > 10 ? 20 : depth * 2), "");
	if (r) {
		proc_id(c, r->proc, rid, sizeof(rid));
		fprintf(o->f, "%s %s ", rid,
			ct_flow_op_name((enum ct_flow_op)r->op));
	} else {
		fputs("the event's path ", o->f);
	}
	fputs(ct_out_color(o, CT_C_BOLD), o->f);
	ct_out_term(o->f, path, path_len);
	fputs(ct_out_color(o, CT_C_RESET), o->f);
	fprintf(o->f, ", %s by %s%s%s %s at %s (#%llu)\n", passive(w->op),
		ct_out_color(o, CT_C_CYAN), wid, ct_out_color(o, CT_C_RESET),
		cmd, when, (unsigned long long)w->seq);
}

/* The inputs of process num read up to seq `before`, newest first, and
 * recursively the inputs of their writers.  Up to, not only before: a
 * rename reads its source and writes its target in one event, so the
 * file a rename put in place has the renamed file as its input. */
static void inputs_of(struct why_ctx *c, uint32_t num, uint64_t before,
		      uint32_t depth)
{
	const struct ct_flow_edge *e;
	size_t n, shown = 0, more = 0;

	if (depth > c->depth_max)
		return;
	e = ct_flow_edges(c->flow, &n);
	for (size_t i = n; i-- > 0;) {
		if (e[i].dst.proc != num || e[i].dst.seq > before)
			continue;
		if (shown >= c->width || c->lines >= WHY_LINES_MAX || c->err) {
			more++;
			continue;
		}
		shown++;
		put_cause(c, depth, e[i].path, e[i].path_len, &e[i].src,
			  &e[i].dst);
		inputs_of(c, e[i].src.proc, e[i].src.seq, depth + 1);
	}
	if (more && !c->json)
		fprintf(c->o->f, "  %*s(%zu more inputs of this process)\n",
			(int)(depth > 10 ? 20 : depth * 2), "", more);
}

static void own_path(struct why_ctx *c, struct ct_bytes b)
{
	struct ct_flow_end w;

	if (!b.len || !ct_flow_writer(c->flow, b.p, b.len, &w))
		return;
	put_cause(c, 0, b.p, b.len, &w, NULL);
	inputs_of(c, w.proc, w.seq, 1);
}

static int chain_text(struct why_ctx *c, struct ct_proc **chain, size_t len,
		      const struct ct_event *ev)
{
	struct ct_out *o = c->o;
	char id[48], when[32], *cmd;
	size_t cap = CT_ARGV_BYTES_MAX * 4 + 64;
	struct ct_image img;

	cmd = malloc(cap);
	if (!cmd)
		return CT_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		struct ct_proc *p = chain[i];
		int ind = (int)(i > 20 ? 40 : i * 2);

		ct_proc_id(p, id, sizeof(id));
		image_at(c, p, &img);
		ct_image_cmdline(&img, 0, cmd, cap);
		fmt_rel(c, p->info.start, when, sizeof(when));
		fprintf(o->f, "%*s%s%s%s%s %s%s%s  (%s%s%s, started %s)\n", ind,
			"", i ? "-> " : "", ct_out_color(o, CT_C_CYAN), id,
			ct_out_color(o, CT_C_RESET), ct_out_color(o, CT_C_BOLD),
			cmd, ct_out_color(o, CT_C_RESET), ct_edge_name(p->edge),
			p->nexec ? " + exec" : "",
			p->inferred ? ", parent inferred" : "", when);
	}
	free(cmd);
	fmt_rel(c, ev->ts, when, sizeof(when));
	fprintf(o->f, "%*s-> %s#%llu%s %s ", (int)(len > 20 ? 40 : len * 2), "",
		ct_out_color(o, CT_C_YELLOW), (unsigned long long)c->seq,
		ct_out_color(o, CT_C_RESET), when);
	ct_evline_write(o, o->f, ev);
	fputc('\n', o->f);
	return 0;
}

static json_t *chain_json(struct why_ctx *c, struct ct_proc **chain, size_t len)
{
	json_t *arr = json_array();
	struct ct_image img;
	char id[48];

	for (size_t i = 0; arr && i < len; i++) {
		struct ct_proc *p = chain[i];
		json_t *j;

		ct_proc_id(p, id, sizeof(id));
		image_at(c, p, &img);
		j = json_pack("{s:s,s:i,s:s,s:b,s:I}", "proc", id, "pid",
			      p->info.pid, "edge", ct_edge_name(p->edge),
			      "exec", p->nexec > 0, "start",
			      (json_int_t)p->info.start);
		if (!j)
			goto fail;
		if (p->inferred)
			json_object_set_new(j, "parent_inferred", json_true());
		if (img.argc)
			json_object_set_new(
				j, "argv",
				ct_json_strv(img.argv_raw, img.argc));
		if (img.exe.len)
			json_object_set_new(
				j, "exe",
				ct_json_bytes(img.exe.p, img.exe.len));
		if (json_array_append_new(arr, j) < 0)
			goto fail;
	}
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

/* Each process of the chain, from the event's upward: its inputs before
 * the event (the event's process) or before it started the next step. */
static void chain_inputs(struct why_ctx *c, struct ct_proc **chain, size_t len)
{
	for (size_t i = len; i-- > 0 && !c->err;) {
		struct ct_proc *p = chain[i], *next;
		uint64_t before = c->seq;
		char id[48];
		size_t n, any = 0;
		const struct ct_flow_edge *e = ct_flow_edges(c->flow, &n);

		if (i + 1 < len) {
			next = chain[i + 1];
			before = next->create_seq ? next->create_seq
						  : next->info.start_seq;
		}
		for (size_t k = 0; k < n && !any; k++)
			any = e[k].dst.proc == p->info.num &&
			      e[k].dst.seq < before;
		if (!any)
			continue;
		if (!c->json) {
			ct_proc_id(p, id, sizeof(id));
			fprintf(c->o->f, "  inputs of %s%s%s:\n",
				ct_out_color(c->o, CT_C_CYAN), id,
				ct_out_color(c->o, CT_C_RESET));
		}
		inputs_of(c, p->info.num, before, 1);
	}
}

int ct_why_write(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		 const struct ct_why_opts *opts, struct ct_out *o,
		 struct ct_view_stats *st)
{
	struct why_ctx c = {
		.t = t,
		.session = session,
		.seq = seq,
		.o = o,
		.json = opts->json,
		.depth_max = opts->flow_depth ? opts->flow_depth : 3,
		.width = opts->flow_width ? opts->flow_width : 5,
	};
	struct ct_session_info si;
	struct ct_proc **chain = NULL;
	struct ct_event ev;
	const void *rec;
	uint32_t proc, len;
	size_t clen;
	json_t *root = NULL;
	char sid[17];
	int rc;

	rc = ct_store_session_get(t, session, &si);
	if (rc < 0)
		return rc;
	c.start = si.start;
	rc = ct_store_event_get(t, session, seq, &proc, &rec, &len);
	if (rc < 0)
		return rc;
	if (ct_event_decode(rec, len, &ev) != 0)
		return CT_ECORRUPT;
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
	/* The event itself may start an image (a start event). */
	ct_procs_note(&c.ps, seq, proc, &ev);
	chain = calloc(c.ps.n ? c.ps.n : 1, sizeof(*chain));
	if (!chain) {
		rc = CT_ENOMEM;
		goto out_flow;
	}
	clen = ct_procs_chain(&c.ps, proc, chain, c.ps.n);
	if (clen > c.ps.n)
		clen = c.ps.n;
	ct_export_session_id(session, sid);
	if (c.json) {
		root = json_pack("{s:s,s:I,s:o,s:o,s:[]}", "session", sid,
				 "seq", (json_int_t)seq, "event",
				 ct_export_event(&c.ps.model, seq, proc, &ev),
				 "chain", chain_json(&c, chain, clen),
				 "dataflow");
		if (!root) {
			rc = CT_ENOMEM;
			goto out_chain;
		}
		c.jflow = json_object_get(root, "dataflow");
	} else {
		fprintf(o->f, "why #%llu in session %s:\n",
			(unsigned long long)seq, sid);
		if (!clen)
			fprintf(o->f, "(process unknown)\n");
		rc = chain_text(&c, chain, clen, &ev);
		if (rc < 0)
			goto out_chain;
		fprintf(o->f, "data flow:\n");
	}
	own_path(&c,
		 (ev.present & CT_F_PATH) ? ev.path : (struct ct_bytes){ 0 });
	if (ev.present & CT_F_PATH2)
		own_path(&c, ev.path2);
	chain_inputs(&c, chain, clen);
	if (!c.json && !c.lines)
		fprintf(o->f, "  (no file this chain used was written by "
			      "another process of the session)\n");
	if (c.err) {
		rc = c.err;
		goto out_chain;
	}
	if (root) {
		json_dumpf(root, o->f, JSON_INDENT(2));
		fputc('\n', o->f);
	}
	rc = ferror(o->f) ? CT_EIO : 0;
out_chain:
	json_decref(root);
	free(chain);
out_flow:
	ct_flow_free(c.flow);
out_procs:
	if (st)
		st->undecoded = c.undecoded;
	ct_procs_release(&c.ps);
	return rc;
}
