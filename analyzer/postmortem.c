/* Postmortem: one pass over the events collects every destroyed path per
 * process; afterwards each process is mapped to its responsible command
 * and the paths of a command are sorted, merged and, when there are many,
 * collapsed into the directories that hold them. */
#include "analyzer/postmortem.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/export.h"
#include "analyzer/pathtab.h"
#include "analyzer/procs.h"
#include "common/codec.h"
#include "common/error.h"

/* How a path was destroyed (docs/postmortem.md names). */
enum pm_kind { PM_UNLINK, PM_RMDIR, PM_RENAME, PM_OPEN, PM_TRUNCATE, PM_NK };

static const char *const pm_kind_json[PM_NK] = { "unlink", "rmdir", "rename",
						 "open", "truncate" };
static const char *const pm_kind_text[PM_NK] = {
	"unlink", "rmdir", "replaced by rename", "truncated by open", "truncate"
};

/* A group lists every path when it has at most LIST_ALL of them, else at
 * most COLLAPSE_LINES lines of directories and paths. */
#define LIST_ALL 12
#define COLLAPSE_LINES 8
#define EXAMPLES 3
#define BY_MAX 8 /* programs named per group; the rest add up as "other" */
#define CMD_WIDTH 160 /* text: command lines are cut here */
#define CHAIN_SHOW 6 /* text: longer chains elide their middle */

enum {
	PP_STARTED = 1u << 0, /* ran an image of its own (a start event) */
	PP_AGENT = 1u << 1,
	PP_SHELL = 1u << 2,
};

struct pm_proc {
	uint32_t flags;
	uint32_t group; /* index + 1 into pm->groups, 0 = none */
	uint64_t shell_seq; /* its first `sh -c` image */
	uint64_t events; /* destructive events */
};

/* Per (process, path) pair, parallel to the pathtab entries. */
struct pm_rec {
	uint32_t n[PM_NK];
	uint64_t first_ts, last_ts, first_seq, last_seq;
};

/* A path of a group: the recs of the group's processes merged. */
struct pm_path {
	const char *p;
	uint32_t len;
	uint32_t n[PM_NK];
	uint64_t first_seq, last_seq;
};

/* A line of the collapsed listing: one path (leaf), or a directory
 * prefix (p[0..plen), ending in '/') over paths[lo..hi). */
struct pm_line {
	uint32_t lo, hi, plen;
	bool leaf, stuck;
};

struct pm_by {
	char name[32];
	uint64_t procs, events;
};

struct pm_group {
	uint32_t proc; /* responsible process (num), 0 = unknown */
	uint32_t agent; /* the agent above it (num), 0 = none */
	struct ct_image shell; /* its `sh -c` image (seq 0: not a shell) */
	char *cmd; /* the shell's command text (eval unwrapped), or NULL */
	size_t cmdlen;
	uint64_t n[PM_NK], events;
	uint64_t first_ts, last_ts, first_seq, last_seq;
	struct pm_path *paths;
	uint32_t npaths;
	struct pm_line *lines; /* collapsed listing */
	uint32_t nlines;
	struct pm_by by[BY_MAX + 1]; /* last one: "other" */
	uint32_t nby;
};

struct ct_postmortem {
	struct ct_rtxn *t;
	uint64_t session;
	struct ct_session_info si;
	struct ct_procs ps;
	struct pm_proc *pp; /* indexed by num; [0] = unknown process */
	size_t npp;
	const char *glob;
	struct ct_pathtab tab; /* key: process num */
	struct pm_rec *recs;
	uint32_t reccap;
	struct pm_group *groups;
	size_t ngroups;
	uint64_t events, npaths, undecoded;
	uint64_t n[PM_NK];
	char *globbuf;
	int err;
};

/* --- classification helpers --- */

static struct ct_bytes base_of(struct ct_bytes b)
{
	const char *s = b.len ? memrchr(b.p, '/', b.len) : NULL;

	if (s) {
		b.len -= (uint32_t)(s + 1 - b.p);
		b.p = s + 1;
	}
	return b;
}

static bool bytes_is(struct ct_bytes b, const char *s)
{
	size_t n = strlen(s);

	return b.len == n && memcmp(b.p, s, n) == 0;
}

static bool bytes_in(struct ct_bytes b, const char *const *list)
{
	for (; *list; list++)
		if (bytes_is(b, *list))
			return true;
	return false;
}

static bool bytes_has(struct ct_bytes b, const char *s)
{
	return memmem(b.p, b.len, s, strlen(s)) != NULL;
}

bool ct_pm_shell_command(struct ct_bytes raw, uint32_t argc,
			 struct ct_bytes *cmd)
{
	static const char *const shells[] = { "sh",  "bash", "dash",
					      "zsh", "ksh",  "mksh",
					      "ash", "fish", NULL };
	struct ct_bytes a;
	uint32_t idx = 0, off = 0;
	bool have_c = false, skip = false, ended = false;

	if (ct_strv_next(raw, argc, &idx, &off, &a) != 1)
		return false;
	a = base_of(a);
	/* A login shell's argv[0] is "-bash". */
	if (a.len && a.p[0] == '-') {
		a.p++;
		a.len--;
	}
	if (!bytes_in(a, shells))
		return false;
	while (ct_strv_next(raw, argc, &idx, &off, &a) == 1) {
		if (skip) {
			skip = false;
			continue;
		}
		if (!ended && bytes_is(a, "--")) {
			ended = true;
			continue;
		}
		if (!ended && a.len > 2 && a.p[0] == '-' && a.p[1] == '-') {
			skip = bytes_is(a, "--rcfile") ||
			       bytes_is(a, "--init-file");
			continue;
		}
		if (!ended && a.len > 1 && (a.p[0] == '-' || a.p[0] == '+')) {
			for (uint32_t i = 1; i < a.len; i++) {
				if (a.p[i] == 'c')
					have_c = true;
				else if (a.p[i] == 'o' || a.p[i] == 'O')
					skip = true;
			}
			continue;
		}
		if (!have_c)
			return false;
		*cmd = a;
		return true;
	}
	return false;
}

char *ct_pm_unwrap_eval(const char *cmd, size_t len, size_t *outlen)
{
	const char *end = cmd + len, *p = cmd, *q;
	char *out, *o;

	/* Find "eval '" at the start of a word. */
	for (;;) {
		q = memmem(p, (size_t)(end - p), "eval '", 6);
		if (!q)
			return NULL;
		if (q == cmd || strchr(" \t\n;&|(", q[-1]))
			break;
		p = q + 1;
	}
	p = q + 6;
	out = malloc((size_t)(end - p) + 1);
	if (!out)
		return NULL;
	o = out;
	for (;;) {
		q = memchr(p, '\'', (size_t)(end - p));
		if (!q) { /* never closed: not the wrapper we know */
			free(out);
			return NULL;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		if (end - q >= 5 && memcmp(q, "'\"'\"'", 5) == 0) {
			*o++ = '\'';
			p = q + 5;
		} else if (end - q >= 4 && memcmp(q, "'\\''", 4) == 0) {
			*o++ = '\'';
			p = q + 4;
		} else {
			break;
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

bool ct_pm_is_agent(struct ct_bytes raw, uint32_t argc, struct ct_bytes exe)
{
	static const char *const agents[] = {
		"claude",	"codex",    "gemini", "aider",
		"cursor-agent", "opencode", "goose",  "amp",
		"qwen",		"crush",    NULL
	};
	static const char *const interps[] = { "node",	 "bun",	    "deno",
					       "python", "python3", NULL };
	static const char *const scripts[] = { "claude-code", "@openai/codex",
					       "gemini-cli", "aider", NULL };
	struct ct_bytes a0 = { 0 }, a1 = { 0 };
	uint32_t idx = 0, off = 0;

	if (ct_strv_next(raw, argc, &idx, &off, &a0) != 1)
		return exe.len && bytes_in(base_of(exe), agents);
	a0 = base_of(a0);
	if (bytes_in(a0, agents))
		return true;
	if (!bytes_in(a0, interps) ||
	    ct_strv_next(raw, argc, &idx, &off, &a1) != 1)
		return false;
	for (const char *const *s = scripts; *s; s++)
		if (bytes_has(a1, *s))
			return true;
	return false;
}

bool ct_pm_path_match(const char *glob, const char *path, size_t len)
{
	char buf[CT_PATH_MAX + 2];

	if (len > CT_PATH_MAX)
		len = CT_PATH_MAX;
	memcpy(buf, path, len);
	buf[len] = '\0';
	if (fnmatch(glob, buf, 0) == 0)
		return true;
	/* Directory prefixes, longest first. */
	for (size_t i = len; i-- > 1;) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (fnmatch(glob, buf, 0) == 0)
			return true;
	}
	return false;
}

/* The glob as ct_pm_path_match() wants it: no trailing '/', and "*\/"
 * in front of a relative one. */
static char *normalise_glob(const char *g)
{
	size_t n = strlen(g);
	bool rel = g[0] != '/' && g[0] != '*';
	char *out = malloc(n + 3);

	if (!out)
		return NULL;
	snprintf(out, n + 3, "%s%s", rel ? "*/" : "", g);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

/* --- the pass --- */

static struct pm_proc *pproc(struct ct_postmortem *pm, uint32_t num)
{
	return num < pm->npp ? &pm->pp[num] : &pm->pp[0];
}

static void note_image(struct ct_postmortem *pm, uint32_t num, uint64_t seq,
		       struct ct_bytes raw, uint32_t argc, struct ct_bytes exe)
{
	struct pm_proc *p = pproc(pm, num);
	struct ct_bytes cmd;

	if (ct_pm_is_agent(raw, argc, exe))
		p->flags |= PP_AGENT;
	if (!p->shell_seq && ct_pm_shell_command(raw, argc, &cmd)) {
		p->flags |= PP_SHELL;
		p->shell_seq = seq;
	}
}

/* Truncating a device, a /proc or /sys file destroys nothing. */
static bool pseudo_file(struct ct_bytes p)
{
	return (p.len >= 5 && memcmp(p.p, "/dev/", 5) == 0) ||
	       (p.len >= 6 && memcmp(p.p, "/proc/", 6) == 0) ||
	       (p.len >= 5 && memcmp(p.p, "/sys/", 5) == 0);
}

static int classify(const struct ct_event *ev, struct ct_bytes *path)
{
	bool existed = (ev->present & CT_F_EXISTED) && ev->existed;

	if (ev->result < 0)
		return -1;
	switch (ev->kind) {
	case CT_KIND_UNLINK:
		*path = ev->path;
		return (ev->present & CT_F_PATH) ? PM_UNLINK : -1;
	case CT_KIND_RMDIR:
		*path = ev->path;
		return (ev->present & CT_F_PATH) ? PM_RMDIR : -1;
	case CT_KIND_RENAME:
		*path = ev->path2;
		return (ev->present & CT_F_PATH2) && existed ? PM_RENAME : -1;
	case CT_KIND_OPEN:
		*path = ev->path;
		return (ev->present & CT_F_PATH) &&
				       (ev->present & CT_F_FLAGS) &&
				       (ev->flags & O_TRUNC) && existed &&
				       !pseudo_file(ev->path)
			       ? PM_OPEN
			       : -1;
	case CT_KIND_TRUNCATE:
		*path = ev->path;
		return (ev->present & CT_F_PATH) && !pseudo_file(ev->path)
			       ? PM_TRUNCATE
			       : -1;
	}
	return -1;
}

static int pm_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		    uint32_t len)
{
	struct ct_postmortem *pm = arg;
	struct ct_event ev;
	struct ct_bytes path;
	struct pm_rec *r;
	uint32_t idx;
	bool fresh;
	int k;

	if (ct_event_decode(rec, len, &ev) != 0) {
		pm->undecoded++;
		return 0;
	}
	ct_procs_note(&pm->ps, seq, proc, &ev);
	if (ev.kind == CT_KIND_START) {
		pproc(pm, proc)->flags |= PP_STARTED;
		note_image(pm, proc, seq, ev.argv_raw,
			   (ev.present & CT_F_ARGV) ? ev.argc : 0,
			   (ev.present & CT_F_EXE) ? ev.exe
						   : (struct ct_bytes){ 0 });
		return 0;
	}
	k = classify(&ev, &path);
	if (k < 0)
		return 0;
	if (pm->glob && !ct_pm_path_match(pm->glob, path.p, path.len))
		return 0;
	if (proc >= pm->npp)
		proc = 0;
	pm->err = ct_pathtab_intern(&pm->tab, proc, path.p, path.len, &idx,
				    &fresh);
	if (pm->err)
		return 1;
	if (idx >= pm->reccap) {
		uint32_t nc = pm->reccap ? pm->reccap * 2 : 1024;
		struct pm_rec *nr = realloc(pm->recs, nc * sizeof(*nr));

		if (!nr) {
			pm->err = CT_ENOMEM;
			return 1;
		}
		pm->recs = nr;
		pm->reccap = nc;
	}
	r = &pm->recs[idx];
	if (fresh) {
		memset(r, 0, sizeof(*r));
		r->first_ts = ev.ts;
		r->first_seq = seq;
	}
	r->n[k]++;
	r->last_ts = ev.ts;
	r->last_seq = seq;
	pm->pp[proc].events++;
	pm->n[k]++;
	pm->events++;
	return 0;
}

/* --- groups --- */

static struct ct_proc *proc_of(const struct ct_postmortem *pm, uint32_t num)
{
	return ct_procs_get(&pm->ps, num);
}

/* See the header for the rule. */
static uint32_t responsible(const struct ct_postmortem *pm, uint32_t num,
			    uint32_t *agent)
{
	uint32_t first_img = 0, top_shell = 0;
	struct ct_proc *q = proc_of(pm, num);
	size_t guard = pm->npp + 1;

	*agent = 0;
	for (; q && guard--; q = q->parent) {
		uint32_t n = q->info.num;
		const struct pm_proc *p = &pm->pp[n];

		if (p->flags & PP_AGENT) {
			*agent = n;
			break;
		}
		if (!first_img &&
		    ((p->flags & PP_STARTED) || (q->info.flags & CT_PROC_SHIM)))
			first_img = n;
		if (p->flags & PP_SHELL)
			top_shell = n;
	}
	if (*agent) {
		if (*agent == num)
			return num;
		if (top_shell)
			return top_shell;
		return first_img ? first_img : *agent;
	}
	return first_img ? first_img : num;
}

/* Paths sort with '/' below every other byte, so that a directory's
 * contents follow it immediately ("/a", "/a/x", "/a-b"). */
static int path_cmp(const void *a, const void *b)
{
	const struct pm_path *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;

	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)x->p[i];
		unsigned char d = (unsigned char)y->p[i];

		if (c != d)
			return (c == '/' ? 0 : c) - (d == '/' ? 0 : d);
	}
	return (x->len > y->len) - (x->len < y->len);
}

static bool is_dir(const struct pm_path *p)
{
	return p->n[PM_RMDIR] > 0;
}

/* Children of a directory line d, appended to out (at most max); returns
 * how many there are, or max + 1 when there are more. */
static uint32_t line_children(const struct pm_group *g, const struct pm_line *d,
			      struct pm_line *out, uint32_t max)
{
	uint32_t i = d->lo, nk = 0;

	while (i < d->hi) {
		const struct pm_path *p = &g->paths[i];
		const char *slash;
		uint32_t cend, j;

		if (nk == max)
			return max + 1;
		if (p->len + 1 == d->plen) { /* the directory itself */
			out[nk++] =
				(struct pm_line){ i, i + 1, 0, true, false };
			i++;
			continue;
		}
		slash = memchr(p->p + d->plen, '/', p->len - d->plen);
		cend = slash ? (uint32_t)(slash - p->p) : p->len;
		for (j = i + 1; j < d->hi; j++) {
			const struct pm_path *r = &g->paths[j];

			if (r->len < cend || memcmp(r->p, p->p, cend) != 0 ||
			    (r->len > cend && r->p[cend] != '/'))
				break;
		}
		if (j == i + 1 && cend == p->len)
			out[nk++] = (struct pm_line){ i, j, 0, true, false };
		else
			out[nk++] = (struct pm_line){ i, j, cend + 1, false,
						      false };
		i = j;
	}
	return nk;
}

/* Greedy: split the biggest directory line while the listing stays within
 * COLLAPSE_LINES lines. */
static int collapse(struct pm_group *g)
{
	struct pm_line kids[COLLAPSE_LINES + 1];
	uint32_t n = 0;

	g->lines = calloc(COLLAPSE_LINES, sizeof(*g->lines));
	if (!g->lines)
		return CT_ENOMEM;
	if (g->npaths <= LIST_ALL) {
		free(g->lines);
		g->lines = calloc(g->npaths ? g->npaths : 1, sizeof(*g->lines));
		if (!g->lines)
			return CT_ENOMEM;
		for (uint32_t i = 0; i < g->npaths; i++)
			g->lines[i] =
				(struct pm_line){ i, i + 1, 0, true, false };
		g->nlines = g->npaths;
		return 0;
	}
	g->lines[n++] = (struct pm_line){ 0, g->npaths, 0, false, false };
	for (;;) {
		uint32_t best = UINT32_MAX, room, nk;

		for (uint32_t i = 0; i < n; i++) {
			const struct pm_line *l = &g->lines[i];

			if (l->leaf || l->stuck)
				continue;
			if (best == UINT32_MAX ||
			    l->hi - l->lo >
				    g->lines[best].hi - g->lines[best].lo)
				best = i;
		}
		if (best == UINT32_MAX)
			break;
		room = COLLAPSE_LINES - n + 1;
		nk = line_children(g, &g->lines[best], kids, room);
		if (nk > room) {
			g->lines[best].stuck = true;
			continue;
		}
		memmove(&g->lines[best + nk], &g->lines[best + 1],
			(n - best - 1) * sizeof(*g->lines));
		memcpy(&g->lines[best], kids, nk * sizeof(*kids));
		n = n - 1 + nk;
	}
	g->nlines = n;
	return 0;
}

/* Program name for the views: argv[0]'s basename first (Claude Code's
 * binary runs as `bfs` and `rg`), else the exe's. */
static void prog_name(const struct ct_proc *p, char *buf, size_t cap)
{
	struct ct_bytes a0;

	if (p && ct_image_argv0(&p->image, &a0) && a0.len) {
		a0 = base_of(a0);
		ct_out_term_buf(buf, cap, a0.p, a0.len);
	} else if (p) {
		ct_image_name(&p->image, buf, cap);
	} else {
		snprintf(buf, cap, "?");
	}
}

/* The image step i of a chain ran when it made step i + 1 (a shell that
 * later exec'd its last command is still the shell here); the latest
 * image when that is not known. */
static struct ct_proc step_at(const struct ct_postmortem *pm,
			      struct ct_proc *const *chain, size_t i, size_t n)
{
	struct ct_proc p = *chain[i];
	struct ct_image img;

	if (i + 1 < n && chain[i + 1]->parent_image_seq &&
	    chain[i + 1]->parent_image_seq != p.image.seq &&
	    ct_procs_image(pm->t, pm->session, chain[i + 1]->parent_image_seq,
			   &img) == 0)
		p.image = img;
	return p;
}

static void add_by(struct pm_group *g, const struct ct_proc *p, uint64_t events)
{
	char name[32];
	struct pm_by *b;
	uint32_t i;

	prog_name(p, name, sizeof(name));
	for (i = 0; i < g->nby; i++)
		if (strcmp(g->by[i].name, name) == 0)
			break;
	if (i == g->nby) {
		if (g->nby == BY_MAX) {
			i = BY_MAX; /* "other" */
			snprintf(g->by[i].name, sizeof(g->by[i].name),
				 "(other)");
		} else {
			g->nby++;
			snprintf(g->by[i].name, sizeof(g->by[i].name), "%s",
				 name);
		}
	}
	b = &g->by[i];
	b->procs++;
	b->events += events;
}

static int group_cmp(const void *a, const void *b)
{
	const struct pm_group *x = a, *y = b;

	return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

static int build_groups(struct ct_postmortem *pm)
{
	uint32_t *gidx = NULL, *fill = NULL;
	size_t ng = 0;
	int rc = CT_ENOMEM;

	/* Responsible process of each process that destroyed something. */
	for (size_t num = 0; num < pm->npp; num++) {
		uint32_t agent, r;
		struct pm_proc *rp;

		if (!pm->pp[num].events)
			continue;
		r = num ? responsible(pm, (uint32_t)num, &agent) : 0;
		if (!num)
			agent = 0;
		rp = &pm->pp[r];
		if (!rp->group) {
			struct pm_group *ngp = realloc(
				pm->groups, (ng + 1) * sizeof(*pm->groups));

			if (!ngp)
				goto out;
			pm->groups = ngp;
			memset(&ngp[ng], 0, sizeof(*ngp));
			ngp[ng].proc = r;
			ngp[ng].agent = agent;
			ngp[ng].first_seq = UINT64_MAX;
			rp->group = (uint32_t)++ng;
		}
		pm->pp[num].group = rp->group;
		pm->ngroups = ng;
		add_by(&pm->groups[rp->group - 1], proc_of(pm, (uint32_t)num),
		       pm->pp[num].events);
	}
	pm->ngroups = ng;

	/* Bucket the recs by group (counting sort), as paths. */
	gidx = calloc(ng + 1, sizeof(*gidx));
	fill = calloc(ng + 1, sizeof(*fill));
	if (!gidx || !fill)
		goto out;
	for (uint32_t i = 0; i < pm->tab.n; i++)
		gidx[pm->pp[pm->tab.ents[i].key].group - 1]++;
	for (size_t g = 0; g < ng; g++) {
		pm->groups[g].paths = malloc((gidx[g] ? gidx[g] : 1) *
					     sizeof(struct pm_path));
		if (!pm->groups[g].paths)
			goto out;
	}
	for (uint32_t i = 0; i < pm->tab.n; i++) {
		uint32_t g = pm->pp[pm->tab.ents[i].key].group - 1;
		struct pm_group *gr = &pm->groups[g];
		struct pm_path *pp = &gr->paths[fill[g]++];
		const struct pm_rec *r = &pm->recs[i];

		pp->p = ct_pathtab_bytes(&pm->tab, i, &pp->len);
		memcpy(pp->n, r->n, sizeof(pp->n));
		pp->first_seq = r->first_seq;
		pp->last_seq = r->last_seq;
		for (int k = 0; k < PM_NK; k++) {
			gr->n[k] += r->n[k];
			gr->events += r->n[k];
		}
		if (r->first_seq < gr->first_seq) {
			gr->first_seq = r->first_seq;
			gr->first_ts = r->first_ts;
		}
		if (r->last_seq >= gr->last_seq) {
			gr->last_seq = r->last_seq;
			gr->last_ts = r->last_ts;
		}
	}
	/* Sort, merge one path destroyed by several processes of a group,
	 * collapse; find the command text. */
	for (size_t g = 0; g < ng; g++) {
		struct pm_group *gr = &pm->groups[g];
		uint32_t n = fill[g], w = 0;
		struct ct_proc *rp = proc_of(pm, gr->proc);

		qsort(gr->paths, n, sizeof(*gr->paths), path_cmp);
		for (uint32_t i = 0; i < n; i++) {
			struct pm_path *a = &gr->paths[i];

			if (w && path_cmp(&gr->paths[w - 1], a) == 0) {
				struct pm_path *m = &gr->paths[w - 1];

				for (int k = 0; k < PM_NK; k++)
					m->n[k] += a->n[k];
				if (a->first_seq < m->first_seq)
					m->first_seq = a->first_seq;
				if (a->last_seq > m->last_seq)
					m->last_seq = a->last_seq;
				continue;
			}
			gr->paths[w++] = *a;
		}
		gr->npaths = w;
		pm->npaths += w;
		rc = collapse(gr);
		if (rc < 0)
			goto out;
		rc = CT_ENOMEM;
		if (rp && pm->pp[gr->proc].shell_seq) {
			struct ct_bytes cmd;

			if (ct_procs_image(pm->t, pm->session,
					   pm->pp[gr->proc].shell_seq,
					   &gr->shell) == 0 &&
			    ct_pm_shell_command(gr->shell.argv_raw,
						gr->shell.argc, &cmd)) {
				gr->cmd = ct_pm_unwrap_eval(cmd.p, cmd.len,
							    &gr->cmdlen);
				if (!gr->cmd) {
					gr->cmd =
						ct_utf8_escape(cmd.p, cmd.len);
					if (!gr->cmd)
						goto out;
					gr->cmdlen = strlen(gr->cmd);
				}
			}
		}
	}
	if (ng)
		qsort(pm->groups, ng, sizeof(*pm->groups), group_cmp);
	rc = 0;
out:
	free(gidx);
	free(fill);
	return rc;
}

int ct_postmortem_build(struct ct_rtxn *t, uint64_t session,
			const struct ct_pm_options *opt,
			struct ct_postmortem **out)
{
	struct ct_postmortem *pm = calloc(1, sizeof(*pm));
	int rc = CT_ENOMEM;

	*out = NULL;
	if (!pm)
		return CT_ENOMEM;
	pm->t = t;
	pm->session = session;
	if (opt && opt->glob) {
		pm->globbuf = normalise_glob(opt->glob);
		if (!pm->globbuf)
			goto out_free;
		pm->glob = pm->globbuf;
	}
	rc = ct_store_session_get(t, session, &pm->si);
	if (rc < 0)
		goto out_free;
	rc = ct_procs_load(t, session, &pm->ps);
	if (rc < 0)
		goto out_free;
	rc = CT_ENOMEM;
	pm->npp = pm->ps.n + 1;
	pm->pp = calloc(pm->npp, sizeof(*pm->pp));
	if (!pm->pp)
		goto out_procs;
	/* The latest images first: a process whose start event is missing
	 * still has its image named by the collector. */
	for (size_t i = 0; i < pm->ps.n; i++) {
		const struct ct_proc *p = &pm->ps.v[i];

		if (p->info.num && p->image.seq)
			note_image(pm, p->info.num, p->image.seq,
				   p->image.argv_raw, p->image.argc,
				   p->image.exe);
	}
	rc = ct_store_events_foreach(t, session, 0, pm_event, pm);
	if (pm->err)
		rc = pm->err;
	if (rc < 0)
		goto out_procs;
	rc = build_groups(pm);
	if (rc < 0)
		goto out_procs;
	*out = pm;
	return 0;
out_procs:
	ct_postmortem_free(pm);
	return rc;
out_free:
	free(pm->globbuf);
	free(pm);
	return rc;
}

void ct_postmortem_free(struct ct_postmortem *pm)
{
	if (!pm)
		return;
	for (size_t g = 0; g < pm->ngroups; g++) {
		free(pm->groups[g].paths);
		free(pm->groups[g].lines);
		free(pm->groups[g].cmd);
	}
	free(pm->groups);
	free(pm->recs);
	ct_pathtab_release(&pm->tab);
	free(pm->pp);
	ct_procs_release(&pm->ps);
	free(pm->globbuf);
	free(pm);
}

size_t ct_postmortem_groups(const struct ct_postmortem *pm)
{
	return pm->ngroups;
}

uint64_t ct_postmortem_paths(const struct ct_postmortem *pm)
{
	return pm->npaths;
}

uint64_t ct_postmortem_undecoded(const struct ct_postmortem *pm)
{
	return pm->undecoded;
}

/* --- text --- */

static void put_count(FILE *f, uint64_t n)
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
	fputs(out, f);
}

static void put_rel(FILE *f, uint64_t ts, uint64_t start)
{
	uint64_t d = ts >= start ? ts - start : 0;

	fprintf(f, "+%llu.%03llus", (unsigned long long)(d / 1000000000ull),
		(unsigned long long)(d % 1000000000ull / 1000000));
}

/* The command step of a group: the shell's command text, else the
 * process's command line. */
static void put_command(const struct ct_postmortem *pm,
			const struct pm_group *g, FILE *f)
{
	const struct ct_proc *p = proc_of(pm, g->proc);
	char buf[CMD_WIDTH * 4 + 8];

	if (g->cmd) {
		char name[32];

		ct_image_name(&g->shell, name, sizeof(name));
		fprintf(f, "%s -c ", name);
		if (g->cmdlen > CMD_WIDTH) {
			ct_out_shell_arg(f, g->cmd, CMD_WIDTH);
			fputs("...", f);
		} else {
			ct_out_shell_arg(f, g->cmd, g->cmdlen);
		}
		return;
	}
	if (!p) {
		fputs("(unknown process)", f);
		return;
	}
	ct_proc_cmdline(p, CMD_WIDTH, buf, sizeof(buf));
	fputs(buf, f);
}

static void put_chain(const struct ct_postmortem *pm, const struct pm_group *g,
		      struct ct_out *o)
{
	struct ct_proc *chain[64];
	size_t n = g->proc ? ct_procs_chain(&pm->ps, g->proc, chain, 64) : 0;
	size_t all = n;
	bool hidden_inferred = false;
	FILE *f = o->f;

	if (n > 64) {
		/* Deeper than we hold: chain[] has the steps from the root;
		 * the text shows the root's two, then the last three, which
		 * must be the real end. */
		struct ct_proc *q = ct_procs_get(&pm->ps, g->proc);

		n = 64;
		for (size_t i = n; i-- > n - 3 && q; q = q->parent)
			chain[i] = q;
	}
	if (all > CHAIN_SHOW) {
		/* Arrows elided into "..." lead into steps 3 .. all-3: say
		 * so when one of those links is a guess. */
		size_t k = 0;

		for (struct ct_proc *q = ct_procs_get(&pm->ps, g->proc);
		     q && k < all; q = q->parent, k++)
			if (all - 1 - k >= 3 && all - 1 - k + 3 <= all &&
			    q->inferred)
				hidden_inferred = true;
	}
	fputs(ct_out_color(o, CT_C_BOLD), f);
	for (size_t i = 0; i + 1 < n; i++) {
		char name[32];

		if (n > CHAIN_SHOW && i >= 2 && i + 3 < n) {
			if (i == 2)
				fprintf(f, "...%s",
					hidden_inferred ? CT_PROC_ARROW_INFERRED
							: " -> ");
			continue;
		}
		struct ct_proc st = step_at(pm, chain, i, n);

		prog_name(&st, name, sizeof(name));
		fprintf(f, "%s%s", name, ct_proc_arrow(chain[i + 1]));
	}
	fputs(ct_out_color(o, CT_C_RESET), f);
	fputs(ct_out_color(o, CT_C_CYAN), f);
	put_command(pm, g, f);
	fputs(ct_out_color(o, CT_C_RESET), f);
}

static void put_kinds(FILE *f, const uint32_t *n32, const uint64_t *n64)
{
	bool first = true;

	for (int k = 0; k < PM_NK; k++) {
		uint64_t v = n32 ? n32[k] : n64[k];

		if (!v)
			continue;
		fprintf(f, "%s", first ? "" : ", ");
		first = false;
		if (n32) {
			fputs(pm_kind_text[k], f);
			if (v > 1)
				fprintf(f, " x%llu", (unsigned long long)v);
		} else {
			put_count(f, v);
			fprintf(f, " %s", pm_kind_text[k]);
		}
	}
}

static void count_range(const struct pm_group *g, const struct pm_line *l,
			uint64_t *files, uint64_t *dirs)
{
	*files = *dirs = 0;
	for (uint32_t i = l->lo; i < l->hi; i++) {
		if (is_dir(&g->paths[i]))
			(*dirs)++;
		else
			(*files)++;
	}
}

/* Up to EXAMPLES paths of a directory line, spread over it, never the
 * directory itself. */
static uint32_t examples(const struct pm_group *g, const struct pm_line *l,
			 uint32_t *out)
{
	uint32_t lo = l->lo, n = 0;

	if (g->paths[lo].len + 1 == l->plen)
		lo++;
	for (uint32_t k = 0; k < EXAMPLES && lo < l->hi; k++) {
		uint32_t i =
			lo + (uint32_t)((uint64_t)(l->hi - lo) * k / EXAMPLES);

		if (n && out[n - 1] == i)
			continue;
		out[n++] = i;
	}
	return n;
}

static void put_line(const struct pm_group *g, const struct pm_line *l,
		     struct ct_out *o)
{
	FILE *f = o->f;

	fputs("    ", f);
	if (l->leaf) {
		const struct pm_path *p = &g->paths[l->lo];

		ct_out_term(f, p->p, p->len);
		fprintf(f, "  %s", ct_out_color(o, CT_C_MAGENTA));
		put_kinds(f, p->n, NULL);
		fprintf(f, "%s\n", ct_out_color(o, CT_C_RESET));
	} else {
		const struct pm_path *p = &g->paths[l->lo];
		uint64_t files, dirs;
		uint32_t ex[EXAMPLES], nex = examples(g, l, ex);

		count_range(g, l, &files, &dirs);
		p = &g->paths[l->hi - 1]; /* holds the prefix with its '/' */
		ct_out_term(f, p->p, l->plen);
		fprintf(f, "  %s(", ct_out_color(o, CT_C_MAGENTA));
		put_count(f, files);
		fprintf(f, " file%s, ", files == 1 ? "" : "s");
		put_count(f, dirs);
		fprintf(f, " dir%s)%s\n", dirs == 1 ? "" : "s",
			ct_out_color(o, CT_C_RESET));
		for (uint32_t i = 0; i < nex; i++) {
			const struct pm_path *e = &g->paths[ex[i]];

			fprintf(f, "      %se.g. ", ct_out_color(o, CT_C_DIM));
			ct_out_term(f, e->p, e->len);
			fprintf(f, "%s\n", ct_out_color(o, CT_C_RESET));
		}
	}
}

void ct_postmortem_print_text(const struct ct_postmortem *pm, struct ct_out *o,
			      bool all)
{
	FILE *f = o->f;
	char id[17], when[32];

	ct_export_session_id(pm->si.id, id);
	ct_fmt_time(when, sizeof(when), pm->si.start);
	fprintf(f, "%spostmortem of session %s%s (started %s)",
		ct_out_color(o, CT_C_BOLD), id, ct_out_color(o, CT_C_RESET),
		when);
	if (pm->glob)
		fprintf(f, ", paths matching %s", pm->glob);
	fputs("\n", f);
	if (!pm->ngroups) {
		fputs("nothing was destroyed or overwritten\n", f);
	} else {
		put_count(f, pm->npaths);
		fprintf(f, " path%s destroyed or overwritten (",
			pm->npaths == 1 ? "" : "s");
		put_kinds(f, NULL, pm->n);
		fprintf(f, ") by %zu command%s\n", pm->ngroups,
			pm->ngroups == 1 ? "" : "s");
	}
	for (size_t i = 0; i < pm->ngroups; i++) {
		const struct pm_group *g = &pm->groups[i];
		const struct ct_proc *p = proc_of(pm, g->proc);
		char pid[48] = "?";

		if (p)
			ct_proc_id(p, pid, sizeof(pid));
		fputc('\n', f);
		put_chain(pm, g, o);
		fprintf(f, "  %s[%s]%s\n", ct_out_color(o, CT_C_DIM), pid,
			ct_out_color(o, CT_C_RESET));
		fputs("  ", f);
		put_count(f, g->npaths);
		fprintf(f, " path%s: ", g->npaths == 1 ? "" : "s");
		put_kinds(f, NULL, g->n);
		fputs("; by ", f);
		for (uint32_t b = 0; b < g->nby + (g->by[BY_MAX].procs != 0);
		     b++) {
			const struct pm_by *by =
				&g->by[b < g->nby ? b : BY_MAX];

			fprintf(f, "%s%s", b ? ", " : "", by->name);
			if (by->procs > 1) {
				fputs(" (", f);
				put_count(f, by->procs);
				fputs(" processes)", f);
			}
		}
		fprintf(f, "; %s", ct_out_color(o, CT_C_DIM));
		put_rel(f, g->first_ts, pm->si.start);
		if (g->last_ts != g->first_ts) {
			fputs(" .. ", f);
			put_rel(f, g->last_ts, pm->si.start);
		}
		fprintf(f, "%s\n", ct_out_color(o, CT_C_RESET));
		if (all) {
			for (uint32_t j = 0; j < g->npaths; j++) {
				struct pm_line l = { j, j + 1, 0, true, false };

				put_line(g, &l, o);
			}
		} else {
			for (uint32_t j = 0; j < g->nlines; j++)
				put_line(g, &g->lines[j], o);
		}
		if (ferror(f))
			return;
	}
	if (pm->si.lost)
		fprintf(f,
			"\n%s%llu events of this session were lost: "
			"the list may be incomplete%s\n",
			ct_out_color(o, CT_C_RED),
			(unsigned long long)pm->si.lost,
			ct_out_color(o, CT_C_RESET));
	if (pm->si.gaps)
		fprintf(f,
			"%s%llu coverage gaps (see 'ctrace show'): "
			"untraced programs may have deleted more%s\n",
			ct_out_color(o, CT_C_YELLOW),
			(unsigned long long)pm->si.gaps,
			ct_out_color(o, CT_C_RESET));
}

/* --- JSON --- */

/* Dump a new reference j (consumed) with no newline. */
static int put_json(FILE *f, json_t *j)
{
	int rc;

	if (!j)
		return CT_ENOMEM;
	rc = json_dumpf(j, f, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	return rc ? CT_ENOMEM : 0;
}

static json_t *kinds_json(const uint32_t *n32, const uint64_t *n64)
{
	json_t *o = json_object();

	for (int k = 0; o && k < PM_NK; k++) {
		uint64_t v = n32 ? n32[k] : n64[k];

		if (v && json_object_set_new(o, pm_kind_json[k],
					     json_integer((json_int_t)v))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *step_json(const struct ct_proc *p)
{
	char id[48], name[64];
	json_t *o = json_object();

	if (!o)
		return NULL;
	ct_proc_id(p, id, sizeof(id));
	prog_name(p, name, sizeof(name));
	json_object_set_new(o, "proc", json_string(id));
	json_object_set_new(o, "name", ct_json_bytes(name, strlen(name)));
	if (p->image.argc)
		json_object_set_new(
			o, "argv",
			ct_json_strv(p->image.argv_raw, p->image.argc));
	if (p->image.exe.len)
		json_object_set_new(
			o, "exe",
			ct_json_bytes(p->image.exe.p, p->image.exe.len));
	if (p->inferred)
		json_object_set_new(o, "parent_inferred", json_true());
	return o;
}

static json_t *group_head_json(const struct ct_postmortem *pm,
			       const struct pm_group *g)
{
	json_t *o = json_object(), *chain = json_array(), *by = json_array();
	struct ct_proc *steps[256];
	size_t n = g->proc ? ct_procs_chain(&pm->ps, g->proc, steps, 256) : 0;
	char id[48];

	if (!o || !chain || !by)
		goto fail;
	if (n > 256)
		n = 256;
	if (n) {
		ct_proc_id(steps[n - 1], id, sizeof(id));
		json_object_set_new(o, "proc", json_string(id));
	}
	if (g->agent && proc_of(pm, g->agent)) {
		ct_proc_id(proc_of(pm, g->agent), id, sizeof(id));
		json_object_set_new(o, "agent", json_string(id));
	}
	if (g->cmd)
		json_object_set_new(o, "command",
				    ct_json_bytes(g->cmd, g->cmdlen));
	if (g->shell.seq && g->shell.argc)
		json_object_set_new(
			o, "shell_argv",
			ct_json_strv(g->shell.argv_raw, g->shell.argc));
	for (size_t i = 0; i < n; i++) {
		struct ct_proc st = step_at(pm, steps, i, n);

		json_array_append_new(chain, step_json(&st));
	}
	json_object_set_new(o, "chain", chain);
	for (uint32_t b = 0; b <= BY_MAX; b++) {
		const struct pm_by *x = &g->by[b];

		if (b >= g->nby && (b < BY_MAX || !x->procs))
			continue;
		json_array_append_new(
			by, json_pack("{s:o,s:I,s:I}", "name",
				      ct_json_bytes(x->name, strlen(x->name)),
				      "procs", (json_int_t)x->procs, "events",
				      (json_int_t)x->events));
	}
	json_object_set_new(o, "by", by);
	json_object_set_new(o, "events", json_integer((json_int_t)g->events));
	json_object_set_new(o, "npaths", json_integer(g->npaths));
	json_object_set_new(o, "kinds", kinds_json(NULL, g->n));
	json_object_set_new(o, "first", json_integer((json_int_t)g->first_ts));
	json_object_set_new(o, "last", json_integer((json_int_t)g->last_ts));
	json_object_set_new(o, "first_seq",
			    json_integer((json_int_t)g->first_seq));
	json_object_set_new(o, "last_seq",
			    json_integer((json_int_t)g->last_seq));
	return o;
fail:
	json_decref(o);
	json_decref(chain);
	json_decref(by);
	return NULL;
}

static json_t *line_json(const struct pm_group *g, const struct pm_line *l)
{
	const struct pm_path *p = &g->paths[l->leaf ? l->lo : l->hi - 1];
	uint64_t files, dirs;
	uint32_t ex[EXAMPLES], nex;
	json_t *o, *e;

	if (l->leaf)
		return json_pack("{s:o,s:o}", "path",
				 ct_json_bytes(p->p, p->len), "kinds",
				 kinds_json(p->n, NULL));
	count_range(g, l, &files, &dirs);
	nex = examples(g, l, ex);
	e = json_array();
	for (uint32_t i = 0; e && i < nex; i++)
		json_array_append_new(e, ct_json_bytes(g->paths[ex[i]].p,
						       g->paths[ex[i]].len));
	o = json_pack("{s:o,s:b,s:I,s:I,s:o}", "path",
		      ct_json_bytes(p->p, l->plen), "dir", 1, "files",
		      (json_int_t)files, "dirs", (json_int_t)dirs, "examples",
		      e);
	return o;
}

/* The object members are written by hand around jansson pieces so that a
 * group's full path list streams out instead of living in a json_t. */
int ct_postmortem_print_json(const struct ct_postmortem *pm, FILE *f)
{
	char id[17];
	json_t *totals;
	int rc = 0;

	ct_export_session_id(pm->si.id, id);
	fprintf(f, "{\"session\":\"%s\",\"path_filter\":", id);
	rc |= put_json(f, pm->glob ? json_string(pm->glob) : json_null());
	totals = json_pack(
		"{s:I,s:I,s:I,s:o}", "events", (json_int_t)pm->events, "paths",
		(json_int_t)pm->npaths, "groups", (json_int_t)pm->ngroups,
		"kinds", kinds_json(NULL, pm->n));
	fputs(",\"totals\":", f);
	rc |= put_json(f, totals);
	fprintf(f, ",\"lost\":%llu,\"gaps\":%llu,\"groups\":[",
		(unsigned long long)pm->si.lost,
		(unsigned long long)pm->si.gaps);
	for (size_t i = 0; i < pm->ngroups && !rc; i++) {
		const struct pm_group *g = &pm->groups[i];
		json_t *h = group_head_json(pm, g);
		char *head;
		size_t hl;

		if (!h)
			return CT_ENOMEM;
		head = json_dumps(h, JSON_COMPACT);
		json_decref(h);
		if (!head)
			return CT_ENOMEM;
		hl = strlen(head);
		/* "{...}" -> "{...,\"top\":[...],\"paths\":[...]}" */
		fprintf(f, "%s%.*s,\"top\":[", i ? "," : "", (int)(hl - 1),
			head);
		free(head);
		for (uint32_t j = 0; j < g->nlines && !rc; j++) {
			if (j)
				fputc(',', f);
			rc |= put_json(f, line_json(g, &g->lines[j]));
		}
		fputs("],\"paths\":[", f);
		for (uint32_t j = 0; j < g->npaths && !rc; j++) {
			const struct pm_path *p = &g->paths[j];

			if (j)
				fputc(',', f);
			rc |= put_json(
				f,
				json_pack("{s:o,s:o,s:I,s:I}", "path",
					  ct_json_bytes(p->p, p->len), "kinds",
					  kinds_json(p->n, NULL), "first_seq",
					  (json_int_t)p->first_seq, "last_seq",
					  (json_int_t)p->last_seq));
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
	return rc ? CT_ENOMEM : 0;
}
