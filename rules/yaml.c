/* A YAML document as a small tree with line numbers, built from libyaml's
 * event parser.
 *
 * Why not yaml_parser_load(): its document keeps aliases as shared nodes,
 * so a walker expands "billion laughs" files exponentially.  Rules files
 * have no use for anchors and aliases: an alias is refused, and nesting,
 * node count and size are bounded before anything is allocated for them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/error.h"
#include "rules/internal.h"

/* The tree lives in an arena (struct ytree): its nodes, strings and kid
 * arrays are carved out of a few large blocks and freed with them.  A
 * malloc and a free for each of the thousand-odd nodes of the shipped
 * rules were a third of what building and dropping the tree cost. */
struct ychunk {
	struct ychunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define YCHUNK_MIN 4096
#define YCHUNK_MAX ((size_t)1 << 20)

static void *ymem(struct ytree *t, size_t size)
{
	struct ychunk *c = t->mem;
	void *p;

	/* what a struct yn, a pointer or a string needs */
	size = (size + _Alignof(struct yn) - 1) & ~(_Alignof(struct yn) - 1);
	if (!c || c->cap - c->used < size) {
		/* each new block twice the last (up to YCHUNK_MAX), and at
		 * least what is asked */
		size_t cap = c ? c->cap * 2 : t->hint;

		if (cap > YCHUNK_MAX)
			cap = YCHUNK_MAX;
		if (cap < YCHUNK_MIN)
			cap = YCHUNK_MIN;
		if (cap < size)
			cap = size;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = t->mem;
		c->used = 0;
		c->cap = cap;
		t->mem = c;
	}
	p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

void ct_yaml_free(struct ytree *t)
{
	struct ychunk *c = t->mem;

	while (c) {
		struct ychunk *next = c->next;

		free(c);
		c = next;
	}
	t->mem = NULL;
	t->root = NULL;
}

struct builder {
	const char *name;
	char *err;
	size_t errlen;
	size_t nodes;
	struct ytree *t;
	struct yn *stack[CT_RULES_DEPTH_MAX + 1];
	/* where each open container's kids start in kidv: they are
	 * collected there and copied into the arena, at their final
	 * number, when the container ends */
	size_t start[CT_RULES_DEPTH_MAX + 1];
	size_t depth;
	struct yn **kidv;
	size_t nkidv, kidcap;
};

static int fail(struct builder *b, unsigned line, int code, const char *msg)
{
	snprintf(b->err, b->errlen, "%s:%u: %s", b->name, line, msg);
	return code;
}

/* Attach a new node below the current container (or as the root). */
static int attach(struct builder *b, struct yn *n)
{
	unsigned line = n->line;

	if (++b->nodes > CT_RULES_NODES_MAX)
		return fail(b, line, CT_E2BIG,
			    "too many YAML nodes (the limit is 200000)");
	if (b->depth == 0) {
		if (b->t->root)
			return fail(b, line, CT_EFORMAT,
				    "more than one document");
		b->t->root = n;
		return 0;
	}
	if (b->nkidv == b->kidcap) {
		size_t cap = b->kidcap ? b->kidcap * 2 : 256;
		struct yn **k = realloc(b->kidv, cap * sizeof(*k));

		if (!k)
			return CT_ENOMEM;
		b->kidv = k;
		b->kidcap = cap;
	}
	b->kidv[b->nkidv++] = n;
	return 0;
}

/* The innermost open container ends: its kids move into the arena. */
static int close_container(struct builder *b)
{
	struct yn *n = b->stack[--b->depth];
	size_t from = b->start[b->depth], nk = b->nkidv - from;

	if (nk) {
		n->kids = ymem(b->t, nk * sizeof(*n->kids));
		if (!n->kids)
			return CT_ENOMEM;
		memcpy(n->kids, b->kidv + from, nk * sizeof(*n->kids));
	}
	n->nkids = nk;
	b->nkidv = from;
	return 0;
}

static struct yn *new_node(struct builder *b, enum yn_type type, unsigned line)
{
	struct yn *n = ymem(b->t, sizeof(*n));

	if (n) {
		memset(n, 0, sizeof(*n));
		n->type = type;
		n->line = line;
	}
	return n;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	struct yn *n;
	int rc;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail(b, line, CT_EFORMAT,
			    "YAML aliases (*name) are not supported in rules "
			    "files");
	case YAML_SCALAR_EVENT:
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return fail(b, line, CT_EFORMAT,
				    "a NUL character in a string");
		n = new_node(b, YN_SCALAR, line);
		if (!n)
			return CT_ENOMEM;
		n->str = ymem(b->t, ev->data.scalar.length + 1);
		if (!n->str)
			return CT_ENOMEM;
		memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
		n->str[ev->data.scalar.length] = '\0';
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth >= CT_RULES_DEPTH_MAX)
			return fail(b, line, CT_E2BIG,
				    "nested too deeply (the limit is 16 "
				    "levels)");
		n = new_node(b,
			     ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ
								   : YN_MAP,
			     line);
		if (!n)
			return CT_ENOMEM;
		rc = attach(b, n);
		if (rc < 0)
			return rc;
		b->start[b->depth] = b->nkidv;
		b->stack[b->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return b->depth ? close_container(b) : 0;
	default:
		return 0;
	}
}

int ct_yaml_parse(const char *name, const char *text, size_t len,
		  struct ytree *t, char *err, size_t errlen)
{
	struct builder b = {
		.name = name, .err = err, .errlen = errlen, .t = t
	};
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	t->root = NULL;
	t->mem = NULL;
	/* the tree takes about three times the text (a node of 40 bytes
	 * for every few bytes of it): one block holds most files */
	t->hint = len < YCHUNK_MAX / 4 ? len * 4 : YCHUNK_MAX;
	if (len > CT_RULES_FILE_MAX) {
		snprintf(err, errlen, "%s: file too large (the limit is 4 MiB)",
			 name);
		return CT_E2BIG;
	}
	if (!yaml_parser_initialize(&p))
		return CT_ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "%s:%zu: %s%s%s", name,
				 p.problem_mark.line + 1,
				 p.problem ? p.problem : "invalid YAML",
				 p.context ? " " : "",
				 p.context ? p.context : "");
			rc = p.error == YAML_MEMORY_ERROR ? CT_ENOMEM
							  : CT_EFORMAT;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	free(b.kidv);
	if (rc < 0)
		ct_yaml_free(t);
	return rc;
}
