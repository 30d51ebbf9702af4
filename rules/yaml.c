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

struct builder {
	const char *name;
	char *err;
	size_t errlen;
	size_t nodes;
	struct yn *stack[CT_RULES_DEPTH_MAX + 1];
	size_t depth;
	struct yn *root;
};

static int fail(struct builder *b, unsigned line, int code, const char *msg)
{
	snprintf(b->err, b->errlen, "%s:%u: %s", b->name, line, msg);
	return code;
}

void ct_yaml_free(struct yn *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		ct_yaml_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static int add_kid(struct yn *parent, struct yn *kid)
{
	/* grow by doubling: capacity is implied by nkids being 0 or a power
	 * of two at the moment it is reached */
	if ((parent->nkids & (parent->nkids - 1)) == 0) {
		size_t cap = parent->nkids ? parent->nkids * 2 : 4;
		struct yn **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return CT_ENOMEM;
		parent->kids = k;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

/* Attach a new node below the current container (or as the root). */
static int attach(struct builder *b, struct yn *n)
{
	unsigned line = n->line;

	if (++b->nodes > CT_RULES_NODES_MAX) {
		ct_yaml_free(n);
		return fail(b, line, CT_E2BIG,
			    "too many YAML nodes (the limit is 200000)");
	}
	if (b->depth == 0) {
		if (b->root) {
			ct_yaml_free(n);
			return fail(b, line, CT_EFORMAT,
				    "more than one document");
		}
		b->root = n;
		return 0;
	}
	if (add_kid(b->stack[b->depth - 1], n) < 0) {
		ct_yaml_free(n);
		return CT_ENOMEM;
	}
	return 0;
}

static struct yn *new_node(enum yn_type type, unsigned line)
{
	struct yn *n = calloc(1, sizeof(*n));

	if (n) {
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
		n = new_node(YN_SCALAR, line);
		if (!n)
			return CT_ENOMEM;
		n->str = malloc(ev->data.scalar.length + 1);
		if (!n->str) {
			free(n);
			return CT_ENOMEM;
		}
		memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
		n->str[ev->data.scalar.length] = '\0';
		if (strlen(n->str) != ev->data.scalar.length) {
			ct_yaml_free(n);
			return fail(b, line, CT_EFORMAT,
				    "a NUL character in a string");
		}
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth >= CT_RULES_DEPTH_MAX)
			return fail(b, line, CT_E2BIG,
				    "nested too deeply (the limit is 16 "
				    "levels)");
		n = new_node(ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ
								   : YN_MAP,
			     line);
		if (!n)
			return CT_ENOMEM;
		rc = attach(b, n);
		if (rc < 0)
			return rc;
		b->stack[b->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth)
			b->depth--;
		return 0;
	default:
		return 0;
	}
}

int ct_yaml_parse(const char *name, const char *text, size_t len,
		  struct yn **out, char *err, size_t errlen)
{
	struct builder b = { .name = name, .err = err, .errlen = errlen };
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	*out = NULL;
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
	if (rc < 0) {
		ct_yaml_free(b.root);
		return rc;
	}
	*out = b.root;
	return 0;
}
