/* Unit tests of the postmortem helpers (analyzer/postmortem.h): which
 * argv is a shell command, Claude Code's eval wrapper, agent detection
 * and --path matching.  The views themselves are tested on recorded
 * sessions in tests/postmortem/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyzer/postmortem.h"

/* A msgpack array of bin8 strings, as the codec stores argv. */
struct strv {
	char buf[4096];
	struct ct_bytes raw;
	uint32_t argc;
};

static void strv_make(struct strv *v, const char *const *args)
{
	size_t o = 1;

	v->argc = 0;
	for (; args[v->argc]; v->argc++) {
		size_t n = strlen(args[v->argc]);

		assert_true(n < 256 && o + 2 + n < sizeof(v->buf));
		v->buf[o++] = (char)0xc4;
		v->buf[o++] = (char)n;
		memcpy(v->buf + o, args[v->argc], n);
		o += n;
	}
	assert_true(v->argc < 16);
	v->buf[0] = (char)(0x90 | v->argc);
	v->raw.p = v->buf;
	v->raw.len = (uint32_t)o;
}

static const char *shell_cmd(const char *const *args, char *out, size_t cap)
{
	struct strv v;
	struct ct_bytes cmd;

	strv_make(&v, args);
	if (!ct_pm_shell_command(v.raw, v.argc, &cmd))
		return NULL;
	snprintf(out, cap, "%.*s", (int)cmd.len, cmd.p);
	return out;
}

static void test_postmortem__shell_command(void **state)
{
	char b[256];

	(void)state;
	assert_string_equal(
		shell_cmd((const char *[]){ "/bin/sh", "-c", "rm x", NULL }, b,
			  sizeof(b)),
		"rm x");
	assert_string_equal(
		shell_cmd((const char *[]){ "bash", "-lc", "ls", "a0", NULL },
			  b, sizeof(b)),
		"ls");
	/* Claude Code's snapshot shell: -c, then -l, then the script. */
	assert_string_equal(shell_cmd((const char *[]){ "/bin/bash", "-c", "-l",
							"echo hi", NULL },
				      b, sizeof(b)),
			    "echo hi");
	assert_string_equal(
		shell_cmd((const char *[]){ "-bash", "-o", "pipefail", "-c",
					    "a|b", NULL },
			  b, sizeof(b)),
		"a|b");
	assert_string_equal(
		shell_cmd((const char *[]){ "/usr/bin/dash", "--", "-c", NULL },
			  b, sizeof(b))
			?: "none",
		"none");
	assert_null(shell_cmd((const char *[]){ "bash", "script.sh", NULL }, b,
			      sizeof(b)));
	assert_null(shell_cmd((const char *[]){ "python3", "-c", "x", NULL }, b,
			      sizeof(b)));
	assert_null(shell_cmd((const char *[]){ "bash", "-c", NULL }, b,
			      sizeof(b)));
	assert_null(shell_cmd((const char *[]){ NULL }, b, sizeof(b)));
}

static void unwrap_is(const char *cmd, const char *want)
{
	size_t n = 0;
	char *got = ct_pm_unwrap_eval(cmd, strlen(cmd), &n);

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(n, strlen(want));
	free(got);
}

static void test_postmortem__unwrap_eval(void **state)
{
	(void)state;
	unwrap_is("source /h/snap.sh 2>/dev/null || true && shopt -u extglob "
		  "2>/dev/null || true && eval 'rm -rf build && echo cleaned' "
		  "< /dev/null && pwd -P >| /tmp/claude-1-cwd",
		  "rm -rf build && echo cleaned");
	unwrap_is("x && eval 'find gen -name '\"'\"'*.tmp'\"'\"' -delete' "
		  "< /dev/null",
		  "find gen -name '*.tmp' -delete");
	unwrap_is("eval 'echo '\\''hi'\\'''", "echo 'hi'");
	unwrap_is("eval ''", "");
	unwrap_is("rm -rf build", NULL);
	unwrap_is("medieval 'x'", NULL);
	unwrap_is("eval 'never closed", NULL);
}

static bool agent(const char *const *args, const char *exe)
{
	struct strv v;
	struct ct_bytes e = { exe, exe ? (uint32_t)strlen(exe) : 0 };

	strv_make(&v, args);
	return ct_pm_is_agent(v.raw, v.argc, e);
}

static void test_postmortem__is_agent(void **state)
{
	const char *bin = "/c/node_modules/@anthropic-ai/claude-code-linux-x64/"
			  "claude";

	(void)state;
	assert_true(agent((const char *[]){ bin, "-p", "x", NULL }, bin));
	assert_true(agent((const char *[]){ "codex", "exec", NULL }, NULL));
	assert_true(agent((const char *[]){ "node",
					    "/usr/lib/node_modules/"
					    "@anthropic-ai/claude-code/cli.js",
					    NULL },
			  "/usr/bin/node"));
	/* Claude Code's own binary started as its bundled tools. */
	assert_false(agent((const char *[]){ "bfs", "-S", "dfs", NULL }, bin));
	assert_false(agent((const char *[]){ "rg", "--files", NULL }, bin));
	assert_false(agent((const char *[]){ "node", "server.js", NULL },
			   "/usr/bin/node"));
	assert_false(
		agent((const char *[]){ "/bin/bash", "-c", "claude", NULL },
		      "/bin/bash"));
	/* No argv: the exe decides. */
	assert_true(agent((const char *[]){ NULL }, bin));
}

static bool match(const char *glob, const char *path)
{
	return ct_pm_path_match(glob, path, strlen(path));
}

static void test_postmortem__path_match(void **state)
{
	(void)state;
	/* No FNM_PATHNAME: '*' crosses '/'. */
	assert_true(match("*/build/*", "/p/build/obj/x.o"));
	assert_true(match("*.o", "/p/build/obj/x.o"));
	assert_false(match("*.c", "/p/build/obj/x.o"));
	/* A directory prefix matches everything below it. */
	assert_true(match("/p/build", "/p/build"));
	assert_true(match("/p/build", "/p/build/obj/x.o"));
	assert_false(match("/p/build", "/p/build2/x.o"));
	assert_false(match("/p/build", "/p/buil"));
	assert_true(match("/p/bu*", "/p/build/x"));
	/* The view normalises "build/" to "*\/build" before matching. */
	assert_true(match("*/build", "/q/p/build/x"));
	assert_false(match("*/build", "/q/p/rebuild/x"));
	assert_true(match("/", "/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postmortem__shell_command),
		cmocka_unit_test(test_postmortem__unwrap_eval),
		cmocka_unit_test(test_postmortem__is_agent),
		cmocka_unit_test(test_postmortem__path_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
