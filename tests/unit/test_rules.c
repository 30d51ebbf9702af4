/* Unit tests of the rule engine's loader and matcher (rules/internal.h):
 * error positions, flag tokens (clusters, long options), arguments
 * resolved against the cwd, a shell's -c text, CIDR and ports, pattern
 * variables and negation, the classes of events rules are listed by.  Whole sessions are tested in tests/rules/. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/codec.h"
#include "common/error.h"
#include "rules/internal.h"

/* A msgpack array of bin8 strings, as the codec stores argv. */
struct strv {
	char buf[4096];
};

static void set_argv(struct ct_event *ev, struct strv *v,
		     const char *const *args)
{
	size_t o = 1;
	uint32_t n = 0;

	for (; args[n]; n++) {
		size_t l = strlen(args[n]);

		assert_true(l < 256 && o + 2 + l < sizeof(v->buf));
		v->buf[o++] = (char)0xc4;
		v->buf[o++] = (char)l;
		memcpy(v->buf + o, args[n], l);
		o += l;
	}
	assert_true(n < 16);
	v->buf[0] = (char)(0x90 | n);
	ev->present |= CT_F_ARGV;
	ev->argc = n;
	ev->argv_raw.p = v->buf;
	ev->argv_raw.len = (uint32_t)o;
}

static struct ct_ruleset *load(const char *text)
{
	struct ct_ruleset *rs;
	char err[512];

	assert_int_equal(ct_ruleset_new(&rs), 0);
	if (ct_ruleset_load_text(rs, "t.yaml", text, strlen(text), err,
				 sizeof(err)) != 0)
		fail_msg("load: %s", err);
	struct vars v = {
		.workspace = "/ws", .home = "/h", .tmp = { "/tmp" }, .ntmp = 1
	};
	for (size_t i = 0; i < rs->n; i++)
		assert_int_equal(ct_cond_bind(&rs->rules[i]->c, &v), 0);
	return rs;
}

static bool exec_hits(struct ct_ruleset *rs, const char *cwd,
		      const char *const *args)
{
	struct ct_event ev = { .kind = CT_KIND_EXEC };
	struct strv v;
	struct evctx x = { .ev = &ev, .cwd = cwd, .image = "bash" };

	set_argv(&ev, &v, args);
	return ct_cond_match(&rs->rules[0]->c, &x);
}

static void test_rules__flags(void **state)
{
	struct ct_ruleset *rs = load("rules:\n - id: r\n   severity: high\n"
				     "   description: d\n   argv0: rm\n"
				     "   flags: ['-r|-R|--recursive', '-f']\n");

	(void)state;
	assert_true(exec_hits(rs, "/ws",
			      (const char *[]){ "rm", "-rf", "x", NULL }));
	assert_true(exec_hits(rs, "/ws",
			      (const char *[]){ "/bin/rm", "-fR", "x", NULL }));
	assert_true(exec_hits(
		rs, "/ws",
		(const char *[]){ "rm", "--recursive", "-f", "x", NULL }));
	/* not substrings: a file named -rf after --, other programs */
	assert_false(exec_hits(
		rs, "/ws", (const char *[]){ "rm", "-f", "--", "-r", NULL }));
	assert_false(exec_hits(rs, "/ws",
			       (const char *[]){ "rm", "-r", "x", NULL }));
	assert_false(exec_hits(rs, "/ws",
			       (const char *[]){ "farm", "-rf", "x", NULL }));
	assert_false(exec_hits(
		rs, "/ws",
		(const char *[]){ "rm", "--recursive-ish", "-f", NULL }));
	ct_ruleset_free(rs);
}

static void test_rules__args_resolved(void **state)
{
	struct ct_ruleset *rs =
		load("rules:\n - id: r\n   severity: high\n   description: d\n"
		     "   argv0: rm\n"
		     "   args: ['/*', '!${WORKSPACE}', '!${WORKSPACE}/*']\n");

	(void)state;
	assert_false(exec_hits(rs, "/ws",
			       (const char *[]){ "rm", "-rf", "build", NULL }));
	assert_true(exec_hits(
		rs, "/ws", (const char *[]){ "rm", "-rf", "../other", NULL }));
	assert_true(
		exec_hits(rs, "/ws/sub",
			  (const char *[]){ "rm", "build", "/etc/x", NULL }));
	assert_false(exec_hits(rs, "/ws/sub",
			       (const char *[]){ "rm", "./a/../b//", NULL }));
	ct_ruleset_free(rs);
}

static void test_rules__shell_c(void **state)
{
	struct ct_ruleset *rs =
		load("rules:\n - id: r\n   severity: high\n   description: d\n"
		     "   shell_c: 'curl[^|]*\\|[[:space:]]*(ba)?sh'\n");

	(void)state;
	assert_true(exec_hits(
		rs, "/",
		(const char *[]){ "bash", "-c", "curl x | sh", NULL }));
	assert_true(exec_hits(rs, "/",
			      (const char *[]){ "/bin/bash", "-o", "pipefail",
						"-lc", "curl x |bash", NULL }));
	assert_true(exec_hits(
		rs, "/",
		(const char *[]){ "-bash", "-c", "-l", "curl x | sh", NULL }));
	/* a script file, not -c text; not a shell */
	assert_false(exec_hits(
		rs, "/",
		(const char *[]){ "bash", "s.sh", "curl x | sh", NULL }));
	assert_false(exec_hits(
		rs, "/",
		(const char *[]){ "python3", "-c", "curl x | sh", NULL }));
	ct_ruleset_free(rs);
}

static bool connect_hits(struct ct_ruleset *rs, const char *addr)
{
	struct ct_event ev = { .kind = CT_KIND_CONNECT, .present = CT_F_ADDR };
	struct evctx x = { .ev = &ev };

	ev.addr.p = addr;
	ev.addr.len = (uint32_t)strlen(addr);
	return ct_cond_match(&rs->rules[0]->c, &x);
}

static void test_rules__connect(void **state)
{
	struct ct_ruleset *rs =
		load("rules:\n - id: r\n   severity: high\n   description: d\n"
		     "   kind: connect\n   cidr: [10.0.0.0/8, '!10.1.0.0/16', "
		     "'fd00::/8']\n   port: [22, 8000-8999]\n");

	(void)state;
	assert_true(connect_hits(rs, "10.2.3.4:22"));
	assert_true(connect_hits(rs, "10.2.3.4:8080"));
	assert_false(connect_hits(rs, "10.1.3.4:22"));
	assert_false(connect_hits(rs, "10.2.3.4:443"));
	assert_false(connect_hits(rs, "11.2.3.4:22"));
	assert_true(connect_hits(rs, "[fd12::1]:22"));
	assert_true(connect_hits(rs, "[::ffff:10.9.9.9]:22"));
	assert_false(connect_hits(rs, "unix:/run/x.sock"));
	ct_ruleset_free(rs);
}

/* One evctx per event: the matcher caches what it derives from one. */
static bool open_hits(struct ct_ruleset *rs, const char *path, uint32_t flags)
{
	struct ct_event ev = { .kind = CT_KIND_OPEN,
			       .present = CT_F_PATH | CT_F_FLAGS,
			       .flags = flags };
	struct evctx x = { .ev = &ev };

	ev.path.p = path;
	ev.path.len = (uint32_t)strlen(path);
	return ct_cond_match(&rs->rules[0]->c, &x);
}

static void test_rules__paths(void **state)
{
	struct ct_ruleset *rs =
		load("rules:\n - id: r\n   severity: high\n   description: d\n"
		     "   kind: open\n   access: write\n"
		     "   path: ['${HOME}/.ssh/*', '!*.pub']\n");

	(void)state;
	assert_true(open_hits(rs, "/h/.ssh/authorized_keys", 01));
	assert_false(open_hits(rs, "/h/.ssh/id.pub", 01));
	assert_false(open_hits(rs, "/h/.sshx/a", 01));
	/* read-only */
	assert_false(open_hits(rs, "/h/.ssh/authorized_keys", 0));
	ct_ruleset_free(rs);
}

/* The evaluator lists, per class of event, the rules whose kind, result,
 * access and needed fields admit it (ct_cond_class_ok); that must say
 * exactly what testing those conditions on each event says.  Every kind,
 * result, open mode and set of fields, against conditions on them. */
static bool class_reference(const struct cond *c, const struct ct_event *ev)
{
	bool w = false;

	switch (ev->kind) {
	case CT_KIND_OPEN:
		w = (ev->flags & O_ACCMODE) != O_RDONLY ||
		    (ev->flags & (O_CREAT | O_TRUNC));
		break;
	case CT_KIND_UNLINK:
	case CT_KIND_RMDIR:
	case CT_KIND_RENAME:
	case CT_KIND_LINK:
	case CT_KIND_SYMLINK:
	case CT_KIND_MKDIR:
	case CT_KIND_CHMOD:
	case CT_KIND_TRUNCATE:
		w = true;
		break;
	}
	if ((ev->present & c->need) != c->need)
		return false;
	if (c->kinds && !(c->kinds & (1u << ev->kind)))
		return false;
	if (c->result == RES_OK && ev->result < 0)
		return false;
	if (c->result == RES_FAIL && ev->result >= 0)
		return false;
	if (c->access == ACC_WRITE && !w)
		return false;
	if (c->access == ACC_READ && (ev->kind != CT_KIND_OPEN || w))
		return false;
	return true;
}

static void test_rules__event_class(void **state)
{
	static const uint32_t fields[] = { CT_F_PATH, CT_F_PATH2, CT_F_MODE,
					   CT_F_ARGV, CT_F_EXE,	  CT_F_ADDR };
	static const uint32_t opens[] = { O_RDONLY, O_WRONLY, O_RDWR,
					  O_CREAT,  O_TRUNC,  O_APPEND };
	static const uint32_t kinds[] = {
		0, 1u << CT_KIND_OPEN,
		1u << CT_KIND_UNLINK | 1u << CT_KIND_RMDIR,
		1u << CT_KIND_EXEC | 1u << CT_KIND_SPAWN
	};
	unsigned checked = 0, admitted = 0;

	(void)state;
	for (unsigned ci = 0; ci < 4 * 3 * 3 * 8; ci++) {
		struct cond c = { 0 };

		c.kinds = kinds[ci % 4];
		c.result = (int)(ci / 4 % 3);
		c.access = (int)(ci / 12 % 3);
		/* a few combinations of needed fields */
		c.need = (ci / 36 & 1 ? CT_F_PATH : 0) |
			 (ci / 36 & 2 ? CT_F_PATH2 | CT_F_MODE : 0) |
			 (ci / 36 & 4 ? CT_F_ARGV | CT_F_EXE | CT_F_ADDR : 0);
		for (unsigned k = 1; k < CT_KIND__COUNT; k++)
			for (unsigned m = 0; m < 64; m++)
				for (unsigned o = 0; o < 6; o++)
					for (int res = -1; res <= 1; res++) {
						struct ct_event ev = {
							.kind = (uint8_t)k,
							.result = res,
							.flags = opens[o],
							.present = CT_F_FLAGS,
						};
						bool want, got;

						for (unsigned f = 0; f < 6; f++)
							if (m & (1u << f))
								ev.present |=
									fields[f];
						want = class_reference(&c, &ev);
						got = ct_cond_class_ok(
							&c,
							ct_event_class(&ev));
						if (want != got)
							fail_msg(
								"kind %u result "
								"%d flags %o "
								"present %x: %d",
								k, res,
								opens[o],
								ev.present,
								got);
						checked++;
						admitted += got;
					}
	}
	assert_true(admitted > checked / 50);
	assert_true(admitted < checked - checked / 50);
}

static void expect_error(const char *text, const char *want)
{
	struct ct_ruleset *rs;
	char err[512];

	assert_int_equal(ct_ruleset_new(&rs), 0);
	assert_true(ct_ruleset_load_text(rs, "f.yaml", text, strlen(text), err,
					 sizeof(err)) < 0);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got '%s', want '%s...'", err, want);
	assert_int_equal(ct_ruleset_count(rs), 0);
	ct_ruleset_free(rs);
}

static void test_rules__errors(void **state)
{
	(void)state;
	expect_error("rules:\n  - id: x\n    severity: low\n", "f.yaml:2: ");
	expect_error("rules:\n  - id: 'bad id'\n", "f.yaml:2: bad rule id");
	expect_error("x: [\n", "f.yaml:2: ");
	expect_error("rules:\n - id: x\n   severity: low\n   description: d\n"
		     "   threshold: {count: 1}\n   kind: open\n",
		     "f.yaml:5: 'count' must be");
	expect_error("rules:\n - id: x\n   severity: low\n   description: d\n"
		     "   flags: [rf]\n",
		     "f.yaml:5: 'rf' is not a flag");
	expect_error("rules:\n - id: x\n   severity: low\n   description: d\n"
		     "   mode: '9'\n",
		     "f.yaml:5: '9' is not an octal");
}

static void test_rules__replace_and_allow(void **state)
{
	struct ct_ruleset *rs = load(
		"rules:\n - id: a\n   severity: low\n   description: d\n"
		"   argv0: x\n - id: b\n   severity: low\n   description: d\n"
		"   argv0: y\n");
	struct ct_rule_info ri;
	char err[256];
	const char *pol = "rules:\n - id: a\n   severity: critical\n"
			  "   description: e\n   argv0: z\n"
			  "allow:\n - rule: b\n";

	(void)state;
	assert_int_equal(ct_ruleset_load_text(rs, "p.yaml", pol, strlen(pol),
					      err, sizeof(err)),
			 0);
	assert_int_equal(ct_ruleset_count(rs), 2);
	assert_int_equal(ct_ruleset_rule(rs, 0, &ri), 0);
	assert_string_equal(ri.id, "a");
	assert_int_equal(ri.severity, CT_SEV_CRITICAL);
	assert_string_equal(ri.file, "p.yaml");
	assert_int_equal(ct_ruleset_rule(rs, 1, &ri), 0);
	assert_true(ri.silenced);
	ct_ruleset_free(rs);
}

/* The YAML tree (rules/yaml.c) keeps its nodes, strings and kid arrays in
 * blocks freed at once: shapes, lines and strings must come out whole
 * across blocks, for containers of many kids and for a scalar larger
 * than a block. */
static void test_rules__yaml_tree(void **state)
{
	static const char doc[] = "# c\n"
				  "a: [x, 'y', \"z\\\n  w\"]\n"
				  "b:\n"
				  "  - k: v\n"
				  "    l: []\n"
				  "  - {}\n"
				  "c:\n"
				  "- 1\n";
	size_t items = 150000, big = 1536 * 1024, o = 0;
	char err[256], *text;
	struct ytree t;
	const struct yn *r, *n;

	(void)state;
	assert_int_equal(
		ct_yaml_parse("d", doc, strlen(doc), &t, err, sizeof(err)), 0);
	r = t.root;
	assert_non_null(r);
	assert_int_equal(r->type, YN_MAP);
	assert_int_equal(r->line, 2);
	assert_int_equal(r->nkids, 6);
	assert_string_equal(r->kids[0]->str, "a");
	n = r->kids[1];
	assert_int_equal(n->type, YN_SEQ);
	assert_int_equal(n->nkids, 3);
	assert_string_equal(n->kids[0]->str, "x");
	assert_false(n->kids[0]->quoted);
	assert_string_equal(n->kids[1]->str, "y");
	assert_true(n->kids[1]->quoted);
	assert_string_equal(n->kids[2]->str, "zw");
	/* (lines as libyaml marks the events: a block sequence where its
	 * first item's content starts) */
	assert_int_equal(r->kids[2]->line, 4);
	n = r->kids[3];
	assert_int_equal(n->type, YN_SEQ);
	assert_int_equal(n->line, 5);
	assert_int_equal(n->nkids, 2);
	assert_int_equal(n->kids[0]->type, YN_MAP);
	assert_int_equal(n->kids[0]->nkids, 4);
	assert_string_equal(n->kids[0]->kids[1]->str, "v");
	assert_int_equal(n->kids[0]->kids[2]->line, 6);
	assert_int_equal(n->kids[0]->kids[3]->type, YN_SEQ);
	assert_int_equal(n->kids[0]->kids[3]->nkids, 0);
	assert_int_equal(n->kids[1]->type, YN_MAP);
	assert_int_equal(n->kids[1]->nkids, 0);
	assert_int_equal(n->kids[1]->line, 7);
	n = r->kids[5];
	assert_int_equal(n->type, YN_SEQ);
	assert_int_equal(n->nkids, 1);
	assert_string_equal(n->kids[0]->str, "1");
	assert_int_equal(n->kids[0]->line, 9);
	ct_yaml_free(&t);
	assert_null(t.root);

	/* many nodes (several blocks), then one scalar above a block */
	text = malloc(items * 12 + big + 16);
	assert_non_null(text);
	o += (size_t)sprintf(text + o, "l:\n");
	for (size_t i = 0; i < items; i++)
		o += (size_t)sprintf(text + o, "- %zu\n", i);
	o += (size_t)sprintf(text + o, "s: ");
	memset(text + o, 'q', big);
	o += big;
	text[o++] = '\n';
	assert_int_equal(ct_yaml_parse("d", text, o, &t, err, sizeof(err)), 0);
	r = t.root;
	assert_int_equal(r->nkids, 4);
	n = r->kids[1];
	assert_int_equal(n->nkids, items);
	for (size_t i = 0; i < items; i++) {
		char want[32];

		snprintf(want, sizeof(want), "%zu", i);
		if (strcmp(n->kids[i]->str, want) != 0 ||
		    n->kids[i]->line != i + 2)
			fail_msg("item %zu: '%s' at line %u", i,
				 n->kids[i]->str, n->kids[i]->line);
	}
	assert_int_equal(strlen(r->kids[3]->str), big);
	assert_int_equal(r->kids[3]->line, items + 2);
	ct_yaml_free(&t);

	/* an error half way frees what was built */
	memcpy(text + o - 2, "\n]", 2);
	assert_int_equal(ct_yaml_parse("d", text, o, &t, err, sizeof(err)),
			 CT_EFORMAT);
	assert_null(t.root);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules__flags),
		cmocka_unit_test(test_rules__args_resolved),
		cmocka_unit_test(test_rules__shell_c),
		cmocka_unit_test(test_rules__connect),
		cmocka_unit_test(test_rules__paths),
		cmocka_unit_test(test_rules__event_class),
		cmocka_unit_test(test_rules__errors),
		cmocka_unit_test(test_rules__replace_and_allow),
		cmocka_unit_test(test_rules__yaml_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
