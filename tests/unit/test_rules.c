/* Unit tests of the rule engine's loader and matcher (rules/internal.h):
 * error positions, flag tokens (clusters, long options), arguments
 * resolved against the cwd, a shell's -c text, CIDR and ports, pattern
 * variables and negation.  Whole sessions are tested in tests/rules/. */
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

static void test_rules__paths(void **state)
{
	struct ct_ruleset *rs =
		load("rules:\n - id: r\n   severity: high\n   description: d\n"
		     "   kind: open\n   access: write\n"
		     "   path: ['${HOME}/.ssh/*', '!*.pub']\n");
	struct ct_event ev = { .kind = CT_KIND_OPEN,
			       .present = CT_F_PATH | CT_F_FLAGS,
			       .flags = 01 };
	struct evctx x = { .ev = &ev };

	(void)state;
	ev.path.p = "/h/.ssh/authorized_keys";
	ev.path.len = (uint32_t)strlen(ev.path.p);
	assert_true(ct_cond_match(&rs->rules[0]->c, &x));
	ev.path.p = "/h/.ssh/id.pub";
	ev.path.len = (uint32_t)strlen(ev.path.p);
	assert_false(ct_cond_match(&rs->rules[0]->c, &x));
	ev.path.p = "/h/.sshx/a";
	ev.path.len = (uint32_t)strlen(ev.path.p);
	assert_false(ct_cond_match(&rs->rules[0]->c, &x));
	ev.path.p = "/h/.ssh/authorized_keys";
	ev.path.len = (uint32_t)strlen(ev.path.p);
	ev.flags = 0; /* read-only */
	assert_false(ct_cond_match(&rs->rules[0]->c, &x));
	ct_ruleset_free(rs);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules__flags),
		cmocka_unit_test(test_rules__args_resolved),
		cmocka_unit_test(test_rules__shell_c),
		cmocka_unit_test(test_rules__connect),
		cmocka_unit_test(test_rules__paths),
		cmocka_unit_test(test_rules__errors),
		cmocka_unit_test(test_rules__replace_and_allow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
