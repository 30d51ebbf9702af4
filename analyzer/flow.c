/* Data-flow edges: a path -> last writer map fed by the event stream. */
#include "analyzer/flow.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* One written path.  Allocated once and never moved, so edges may point
 * at its bytes for the life of the flow. */
struct entry {
	uint64_t hash;
	struct ct_flow_end w; /* w.proc 0: no live writer */
	uint32_t len;
	char path[];
};

struct ct_flow {
	struct entry **tab; /* open addressing, power of two */
	size_t cap, used;
	struct ct_flow_edge *edges;
	size_t nedges, capedges;
	/* (writer, reader, entry) -> edge index + 1, for de-duplication */
	uint32_t *seen;
	size_t capseen;
};

const char *ct_flow_op_name(enum ct_flow_op op)
{
	switch (op) {
	case CT_FLOW_NONE:
		break;
	case CT_FLOW_WROTE:
		return "wrote";
	case CT_FLOW_CREATED:
		return "created";
	case CT_FLOW_TRUNCATED:
		return "truncated";
	case CT_FLOW_RENAMED_INTO:
		return "renamed into";
	case CT_FLOW_LINKED:
		return "linked";
	case CT_FLOW_READ:
		return "read";
	case CT_FLOW_EXECUTED:
		return "executed";
	case CT_FLOW_RENAMED:
		return "renamed";
	}
	return "?";
}

static uint64_t hash_bytes(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull;

	h ^= b + 0x7f4a7c159e3779b9ull + (h << 6) + (h >> 2);
	h ^= c + 0x94d049bb133111ebull + (h << 6) + (h >> 2);
	h ^= h >> 31;
	return h;
}

int ct_flow_new(struct ct_flow **out)
{
	struct ct_flow *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return CT_ENOMEM;
	f->cap = 1024;
	f->tab = calloc(f->cap, sizeof(*f->tab));
	if (!f->tab) {
		free(f);
		return CT_ENOMEM;
	}
	*out = f;
	return 0;
}

void ct_flow_free(struct ct_flow *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->cap; i++)
		free(f->tab[i]);
	free(f->tab);
	free(f->edges);
	free(f->seen);
	free(f);
}

static struct entry **slot_of(struct entry **tab, size_t cap, uint64_t h,
			      const char *p, size_t len)
{
	size_t i = h & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		struct entry *e = tab[i];

		if (!e || (e->hash == h && e->len == len &&
			   memcmp(e->path, p, len) == 0))
			return &tab[i];
	}
}

static int grow_tab(struct ct_flow *f)
{
	size_t ncap = f->cap * 2;
	struct entry **nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return CT_ENOMEM;
	for (size_t i = 0; i < f->cap; i++) {
		struct entry *e = f->tab[i];

		if (e)
			*slot_of(nt, ncap, e->hash, e->path, e->len) = e;
	}
	free(f->tab);
	f->tab = nt;
	f->cap = ncap;
	return 0;
}

static struct entry *lookup(const struct ct_flow *f, struct ct_bytes b)
{
	return *slot_of(f->tab, f->cap, hash_bytes(b.p, b.len), b.p, b.len);
}

/* Device and kernel files carry no data from one process to another that
 * a user would call a cause (everybody writes /dev/null). */
static bool pseudo(struct ct_bytes b)
{
	static const char *const pre[] = { "/dev/", "/proc/", "/sys/" };

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i]);

		if (b.len >= n && memcmp(b.p, pre[i], n) == 0)
			return true;
	}
	return false;
}

/* Record proc as the writer of b, creating its entry. */
static int set_writer(struct ct_flow *f, struct ct_bytes b,
		      const struct ct_flow_end *w)
{
	uint64_t h = hash_bytes(b.p, b.len);
	struct entry **s = slot_of(f->tab, f->cap, h, b.p, b.len);
	struct entry *e = *s;

	if (pseudo(b))
		return 0;
	if (!e) {
		/* Keep the load under 1/2 so probes stay short. */
		if ((f->used + 1) * 2 > f->cap) {
			if (grow_tab(f) < 0)
				return CT_ENOMEM;
			s = slot_of(f->tab, f->cap, h, b.p, b.len);
		}
		e = malloc(sizeof(*e) + b.len + 1);
		if (!e)
			return CT_ENOMEM;
		e->hash = h;
		e->len = b.len;
		memcpy(e->path, b.p, b.len);
		e->path[b.len] = '\0';
		*s = e;
		f->used++;
	}
	e->w = *w;
	return 0;
}

static void forget(struct ct_flow *f, struct ct_bytes b)
{
	struct entry *e = lookup(f, b);

	if (e)
		e->w.proc = 0;
}

static uint32_t *seen_slot(uint32_t *seen, size_t cap,
			   const struct ct_flow_edge *edges, uint32_t src,
			   uint32_t dst, const char *path)
{
	size_t i = mix3(src, dst, (uintptr_t)path) & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		const struct ct_flow_edge *x;

		if (!seen[i])
			return &seen[i];
		x = &edges[seen[i] - 1];
		if (x->src.proc == src && x->dst.proc == dst && x->path == path)
			return &seen[i];
	}
}

static int grow_seen(struct ct_flow *f)
{
	size_t ncap = f->capseen ? f->capseen * 2 : 1024;
	uint32_t *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return CT_ENOMEM;
	for (size_t i = 0; i < f->nedges; i++) {
		const struct ct_flow_edge *x = &f->edges[i];

		*seen_slot(ns, ncap, f->edges, x->src.proc, x->dst.proc,
			   x->path) = (uint32_t)i + 1;
	}
	free(f->seen);
	f->seen = ns;
	f->capseen = ncap;
	return 0;
}

/* A read of b by r: an edge when another process wrote b. */
static int read_of(struct ct_flow *f, struct ct_bytes b,
		   const struct ct_flow_end *r)
{
	struct entry *e = lookup(f, b);
	struct ct_flow_edge *x;
	uint32_t *s;

	if (!e || !e->w.proc || e->w.proc == r->proc)
		return 0;
	if ((f->nedges + 1) * 2 > f->capseen && grow_seen(f) < 0)
		return CT_ENOMEM;
	s = seen_slot(f->seen, f->capseen, f->edges, e->w.proc, r->proc,
		      e->path);
	if (*s)
		return 0;
	if (f->nedges == f->capedges) {
		size_t n = f->capedges ? f->capedges * 2 : 256;
		struct ct_flow_edge *ne = realloc(f->edges, n * sizeof(*ne));

		if (!ne)
			return CT_ENOMEM;
		f->edges = ne;
		f->capedges = n;
	}
	x = &f->edges[f->nedges++];
	x->src = e->w;
	x->dst = *r;
	x->path = e->path;
	x->path_len = e->len;
	*s = (uint32_t)f->nedges;
	return 0;
}

int ct_flow_note(struct ct_flow *f, uint64_t seq, uint32_t proc,
		 const struct ct_event *ev)
{
	struct ct_flow_end me = { .proc = proc, .seq = seq, .ts = ev->ts };
	bool has_path = ev->present & CT_F_PATH;
	bool has_path2 = ev->present & CT_F_PATH2;
	uint32_t acc;
	int rc = 0;

	if (!proc || ev->result < 0)
		return 0;
	switch (ev->kind) {
	case CT_KIND_OPEN:
		if (!has_path)
			break;
		acc = (ev->present & CT_F_FLAGS) ? ev->flags : O_RDONLY;
		if ((acc & O_ACCMODE) != O_WRONLY && !(acc & O_DIRECTORY)) {
			me.op = CT_FLOW_READ;
			rc = read_of(f, ev->path, &me);
		}
		if ((acc & O_ACCMODE) != O_RDONLY ||
		    (acc & (O_CREAT | O_TRUNC))) {
			if ((acc & O_CREAT) &&
			    ((acc & O_EXCL) ||
			     ((ev->present & CT_F_EXISTED) && !ev->existed)))
				me.op = CT_FLOW_CREATED;
			else if (acc & O_TRUNC)
				me.op = CT_FLOW_TRUNCATED;
			else
				me.op = CT_FLOW_WROTE;
			rc = set_writer(f, ev->path, &me);
		}
		break;
	case CT_KIND_TRUNCATE:
		if (!has_path)
			break;
		me.op = CT_FLOW_TRUNCATED;
		rc = set_writer(f, ev->path, &me);
		break;
	case CT_KIND_START:
		if (!(ev->present & CT_F_EXE))
			break;
		me.op = CT_FLOW_EXECUTED;
		rc = read_of(f, ev->exe, &me);
		break;
	case CT_KIND_EXEC:
		me.op = CT_FLOW_EXECUTED;
		if (ev->present & CT_F_EXE)
			rc = read_of(f, ev->exe, &me);
		else if (has_path)
			rc = read_of(f, ev->path, &me);
		break;
	case CT_KIND_RENAME:
		if (!has_path || !has_path2)
			break;
		me.op = CT_FLOW_RENAMED;
		rc = read_of(f, ev->path, &me);
		if (rc == 0) {
			/* The content keeps its writer through a rename done
			 * by the writer itself (write tmp, rename over). */
			struct entry *e = lookup(f, ev->path);

			me.op = CT_FLOW_RENAMED_INTO;
			if (e && e->w.proc == proc)
				me.op = (uint8_t)e->w.op;
			rc = set_writer(f, ev->path2, &me);
		}
		forget(f, ev->path);
		break;
	case CT_KIND_LINK:
	case CT_KIND_SYMLINK:
		if (!has_path2)
			break;
		me.op = CT_FLOW_LINKED;
		rc = set_writer(f, ev->path2, &me);
		break;
	case CT_KIND_UNLINK:
	case CT_KIND_RMDIR:
		if (has_path)
			forget(f, ev->path);
		break;
	}
	return rc;
}

const struct ct_flow_edge *ct_flow_edges(const struct ct_flow *f, size_t *n)
{
	*n = f->nedges;
	return f->edges;
}

bool ct_flow_writer(const struct ct_flow *f, const char *path, size_t len,
		    struct ct_flow_end *out)
{
	struct ct_bytes b = { path, (uint32_t)len };
	struct entry *e = lookup(f, b);

	if (!e || !e->w.proc)
		return false;
	if (out)
		*out = e->w;
	return true;
}
