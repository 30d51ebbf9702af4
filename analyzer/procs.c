/* The process model: the store's instance records turned into a tree. */
#include "analyzer/procs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/out.h"
#include "common/codec.h"
#include "common/error.h"

const char *ct_edge_name(enum ct_edge e)
{
	switch (e) {
	case CT_EDGE_ROOT:
		return "root";
	case CT_EDGE_CHILD:
		return "child";
	case CT_EDGE_FORK:
		return "fork";
	case CT_EDGE_SPAWN:
		return "spawn";
	case CT_EDGE_INFERRED:
		return "inferred";
	}
	return "?";
}

int ct_procs_image(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		   struct ct_image *img)
{
	struct ct_event ev;
	const void *rec;
	uint32_t proc, len;
	int rc;

	memset(img, 0, sizeof(*img));
	if (seq == 0)
		return 0;
	rc = ct_store_event_get(t, session, seq, &proc, &rec, &len);
	if (rc < 0)
		return rc;
	if (ct_event_decode(rec, len, &ev) != 0)
		return CT_ECORRUPT;
	img->seq = seq;
	if (ev.present & CT_F_EXE)
		img->exe = ev.exe;
	else if (ev.kind == CT_KIND_EXEC && (ev.present & CT_F_PATH))
		img->exe = ev.path;
	if (ev.present & CT_F_ARGV) {
		img->argv_raw = ev.argv_raw;
		img->argc = ev.argc;
	}
	if (ev.present & CT_F_ARGV_DROPPED)
		img->argv_dropped = ev.argv_dropped;
	return 0;
}

/* Cut parent links that would make the walk up from a process loop (only
 * a corrupt store can hold one: the collector numbers a parent before its
 * children), then set every depth.  mark[] holds, per process, the walk
 * that first reached it, so each process is visited a bounded number of
 * times. */
static int set_depths(struct ct_procs *ps)
{
	uint32_t *mark = calloc(ps->n ? ps->n : 1, sizeof(*mark));
	bool *done = calloc(ps->n ? ps->n : 1, sizeof(*done));
	int rc = 0;

	if (!mark || !done) {
		rc = CT_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ps->n; i++) {
		struct ct_proc *p = &ps->v[i], *q;
		uint32_t walk = (uint32_t)i + 1;

		if (!p->info.num || done[i])
			continue;
		for (q = p; q && !done[q->info.num - 1]; q = q->parent) {
			if (mark[q->info.num - 1] == walk) {
				q->parent = NULL; /* a loop: q becomes a root */
				q->edge = CT_EDGE_ROOT;
				break;
			}
			mark[q->info.num - 1] = walk;
		}
		/* Depths: count the steps up to a process already done (or
		 * past the root), then number them on the way down. */
		{
			uint32_t steps = 0, base, d;

			for (q = p; q && !done[q->info.num - 1]; q = q->parent)
				steps++;
			base = q ? q->depth + 1 : 0;
			d = base + steps - 1;
			for (q = p; q && !done[q->info.num - 1];
			     q = q->parent) {
				q->depth = d--;
				done[q->info.num - 1] = true;
			}
		}
	}
out:
	free(mark);
	free(done);
	return rc;
}

int ct_procs_load(struct ct_rtxn *t, uint64_t session, struct ct_procs *ps)
{
	int rc;

	memset(ps, 0, sizeof(*ps));
	rc = ct_model_load(t, session, &ps->model);
	if (rc < 0)
		return rc;
	ps->n = ps->model.nprocs;
	ps->v = calloc(ps->n ? ps->n : 1, sizeof(*ps->v));
	if (!ps->v) {
		rc = CT_ENOMEM;
		goto out_model;
	}
	for (size_t i = 0; i < ps->n; i++) {
		const struct ct_proc_info *pi = &ps->model.procs[i];
		struct ct_proc *p = &ps->v[i];

		if (pi->num != i + 1)
			continue;
		p->info = *pi;
		p->inferred = pi->flags & CT_PROC_INFERRED;
		/* A missing image event is not fatal: the view says "?". */
		if (ct_procs_image(t, session, pi->image_seq, &p->image) < 0)
			memset(&p->image, 0, sizeof(p->image));
	}
	for (size_t i = 0; i < ps->n; i++) {
		struct ct_proc *p = &ps->v[i];

		if (!p->info.num)
			continue;
		p->parent = ct_procs_get(ps, p->info.parent);
		if (p->parent == p)
			p->parent = NULL;
		if (!p->parent)
			p->edge = CT_EDGE_ROOT;
		else if (p->inferred)
			p->edge = CT_EDGE_INFERRED;
		else
			p->edge = CT_EDGE_CHILD;
	}
	rc = set_depths(ps);
	if (rc < 0)
		goto out_v;
	/* Link children in num order: walk backwards, prepending. */
	for (size_t i = ps->n; i-- > 0;) {
		struct ct_proc *p = &ps->v[i];

		if (!p->info.num)
			continue;
		if (p->parent) {
			p->next = p->parent->child;
			p->parent->child = p;
			p->parent->nchildren++;
		} else {
			p->next = ps->roots;
			ps->roots = p;
			ps->nroots++;
		}
	}
	return 0;

out_v:
	free(ps->v);
out_model:
	ct_model_release(&ps->model);
	memset(ps, 0, sizeof(*ps));
	return rc;
}

void ct_procs_release(struct ct_procs *ps)
{
	free(ps->v);
	ct_model_release(&ps->model);
	memset(ps, 0, sizeof(*ps));
}

struct ct_proc *ct_procs_get(const struct ct_procs *ps, uint32_t num)
{
	if (num == 0 || num > ps->n || ps->v[num - 1].info.num != num)
		return NULL;
	return &ps->v[num - 1];
}

void ct_procs_note(struct ct_procs *ps, uint64_t seq, uint32_t proc,
		   const struct ct_event *ev)
{
	struct ct_proc *p = ct_procs_get(ps, proc), *ch;

	if (!p)
		return;
	if (ev->kind < CT_KIND__COUNT)
		p->counts[ev->kind]++;
	switch (ev->kind) {
	case CT_KIND_START:
		p->cur_image_seq = seq;
		break;
	case CT_KIND_EXEC:
		if (ev->result >= 0)
			p->nexec++;
		break;
	case CT_KIND_FORK:
	case CT_KIND_SPAWN:
		if (ev->result <= 0)
			break;
		/* The child this event made: the first of p's children with
		 * that pid not yet claimed by an earlier fork or spawn (a pid
		 * reused under one parent gives two instances, in order). */
		for (ch = p->child; ch; ch = ch->next)
			if (ch->info.pid == ev->result && !ch->create_seq)
				break;
		if (!ch)
			break;
		ch->create_seq = seq;
		ch->parent_image_seq = p->cur_image_seq;
		if (!ch->inferred)
			ch->edge = ev->kind == CT_KIND_FORK ? CT_EDGE_FORK
							    : CT_EDGE_SPAWN;
		/* A fork child runs its parent's image until it execs. */
		if (ev->kind == CT_KIND_FORK && !ch->cur_image_seq)
			ch->cur_image_seq = p->cur_image_seq;
		break;
	}
}

size_t ct_procs_chain(const struct ct_procs *ps, uint32_t num,
		      struct ct_proc **out, size_t cap)
{
	struct ct_proc *p = ct_procs_get(ps, num), *q;
	size_t len = 0, i;

	if (!p)
		return 0;
	/* Loops were cut at load time; the bound is belt and braces. */
	for (q = p; q && len <= ps->n; q = q->parent)
		len++;
	i = len;
	for (q = p; q && i > 0; q = q->parent) {
		i--;
		if (i < cap)
			out[i] = q;
	}
	return len;
}

bool ct_image_argv0(const struct ct_image *img, struct ct_bytes *out)
{
	uint32_t idx = 0, off = 0;

	memset(out, 0, sizeof(*out));
	if (!img->argc)
		return false;
	return ct_strv_next(img->argv_raw, img->argc, &idx, &off, out) == 1;
}

static struct ct_bytes basename_of(struct ct_bytes b)
{
	const char *slash = b.len ? memrchr(b.p, '/', b.len) : NULL;

	if (slash && slash + 1 < b.p + b.len) {
		b.len -= (uint32_t)(slash + 1 - b.p);
		b.p = slash + 1;
	}
	return b;
}

size_t ct_image_name(const struct ct_image *img, char *buf, size_t cap)
{
	struct ct_bytes b = img->exe;
	size_t n;

	if (!b.len)
		ct_image_argv0(img, &b);
	if (!b.len) {
		snprintf(buf, cap, "?");
		return cap ? strlen(buf) : 0;
	}
	b = basename_of(b);
	n = ct_out_term_buf(buf, cap, b.p, b.len);
	return cap ? (n < cap ? n : cap - 1) : 0;
}

/* Cut s (NUL-terminated, len bytes) to width characters, ending in "...",
 * on a UTF-8 character boundary. */
static size_t cut_width(char *s, size_t len, size_t width)
{
	size_t chars = 0, i;

	if (!width || width < 4)
		return len;
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (chars == width - 3)
			break;
		chars++;
	}
	if (i >= len)
		return len;
	/* i: start of character number width-3; is the rest short enough? */
	{
		size_t rest = 0;

		for (size_t j = i; j < len; j++)
			if (((unsigned char)s[j] & 0xc0) != 0x80)
				rest++;
		if (rest <= 3)
			return len;
	}
	memcpy(s + i, "...", 4);
	return i + 3;
}

size_t ct_image_cmdline(const struct ct_image *img, size_t width, char *buf,
			size_t cap)
{
	char *mem = NULL;
	size_t mlen = 0, n;
	FILE *f;

	if (!cap)
		return 0;
	f = open_memstream(&mem, &mlen);
	if (!f) {
		snprintf(buf, cap, "?");
		return strlen(buf);
	}
	if (img->argc)
		ct_out_shell_argv(f, img->argv_raw, img->argc);
	else if (img->exe.len)
		ct_out_shell_arg(f, img->exe.p, img->exe.len);
	else
		fputc('?', f);
	if (img->argv_dropped)
		fprintf(f, " ...(%u args not recorded)", img->argv_dropped);
	if (fclose(f) != 0 || !mem) {
		free(mem);
		snprintf(buf, cap, "?");
		return strlen(buf);
	}
	mlen = cut_width(mem, mlen, width);
	n = mlen < cap ? mlen : cap - 1;
	/* Never end a cut buffer inside a UTF-8 character. */
	if (n < mlen)
		while (n > 0 && ((unsigned char)mem[n] & 0xc0) == 0x80)
			n--;
	memcpy(buf, mem, n);
	buf[n] = '\0';
	free(mem);
	return n;
}

size_t ct_proc_cmdline(const struct ct_proc *p, size_t width, char *buf,
		       size_t cap)
{
	return ct_image_cmdline(&p->image, width, buf, cap);
}

size_t ct_proc_id(const struct ct_proc *p, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%d.%u", p->info.pid, p->info.pid_gen);

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}

const char *ct_proc_arrow(const struct ct_proc *child)
{
	return child && child->inferred ? CT_PROC_ARROW_INFERRED : " -> ";
}

size_t ct_procs_chain_label(const struct ct_procs *ps, uint32_t num,
			    size_t width, char *buf, size_t cap)
{
	struct ct_proc *steps[64];
	size_t len, at = 0;
	char one[1024];

	if (!cap)
		return 0;
	buf[0] = '\0';
	len = ct_procs_chain(ps, num, steps, 64);
	if (len > 64) {
		/* Too deep to show: the root, "...", then the last 62. */
		struct ct_proc *q = ct_procs_get(ps, num);

		for (size_t i = 63; i >= 2; i--, q = q->parent)
			steps[i] = q;
		steps[1] = NULL;
		len = 64;
	}
	for (size_t i = 0; i < len; i++) {
		int w;

		if (steps[i])
			ct_proc_cmdline(steps[i], width, one, sizeof(one));
		else
			snprintf(one, sizeof(one), "...");
		w = snprintf(buf + at, cap - at, "%s%s",
			     i ? ct_proc_arrow(steps[i]) : "", one);
		if (w < 0 || (size_t)w >= cap - at) {
			at = strlen(buf);
			break;
		}
		at += (size_t)w;
	}
	return at;
}
