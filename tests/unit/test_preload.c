/* Unit tests for the shim's pure parts: path normalisation, the child's
 * environment, text formatting, fopen flags; and that the built shim
 * exports exactly the symbols of preload/hooks.def and imports nothing that
 * allocates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/un.h>

#include <cmocka.h>

/* The code under test, compiled in (the shim itself is a preload .so). */
#include "preload/envp.c"
#include "preload/fmt.c"
#include "preload/path.c"

/* Test double for state.c's cwd cache. */
static const char *g_cwd = "/home/u/w";
size_t ct_cwd_copy(char *out, size_t cap)
{
	size_t n = strlen(g_cwd);

	if (n >= cap)
		n = cap - 1;
	memcpy(out, g_cwd, n);
	out[n] = '\0';
	return n;
}

static void expect_join(const char *base, const char *p, const char *want)
{
	char out[CT_PATH_MAX];
	size_t n = ct_path_join(base, p, out, sizeof(out));

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_preload__path_join(void **state)
{
	(void)state;
	expect_join("/a/b", "c", "/a/b/c");
	expect_join("/a/b", "./c/", "/a/b/c");
	expect_join("/a/b", "../c", "/a/c");
	expect_join("/a/b", "../../../c", "/c");
	expect_join("/a/b", "..", "/a");
	expect_join("/a/b", "../..", "/");
	expect_join("/a/b", "/x//y/./z/..", "/x/y");
	expect_join("/", ".", "/");
	expect_join("/a", "", "/a");
	expect_join(NULL, "rel/x", "rel/x");
	expect_join("/a", "b//c///", "/a/b/c");
}

static void test_preload__path_cut(void **state)
{
	char out[8];

	(void)state;
	ct_path_join("/abc", "defghijk", out, sizeof(out));
	assert_int_equal(strlen(out), 7);
	assert_memory_equal(out, "/abc/de", 7);
}

/* The general loop of ct_path_push alone, as it was before the one-pass
 * copy of plain components: that copy must not change any result. */
static size_t ref_push(char *out, size_t len, size_t cap, const char *p)
{
	if (cap < 2) {
		/* not even "/" fits (cap 1 used to copy -1 bytes) */
		if (cap)
			out[0] = '\0';
		return 0;
	}
	if (p[0] == '/' || len == 0) {
		out[0] = '/';
		len = 1;
	}
	while (*p) {
		const char *c;
		size_t cl;

		while (*p == '/')
			p++;
		c = p;
		while (*p && *p != '/')
			p++;
		cl = (size_t)(p - c);
		if (cl == 0 || (cl == 1 && c[0] == '.'))
			continue;
		if (cl == 2 && c[0] == '.' && c[1] == '.') {
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			continue;
		}
		if (len > 1) {
			if (len + 1 >= cap)
				break;
			out[len++] = '/';
		}
		if (len + cl >= cap)
			cl = cap - 1 - len;
		memcpy(out + len, c, cl);
		len += cl;
		if (len + 1 >= cap)
			break;
	}
	if (len >= cap)
		len = cap - 1;
	out[len] = '\0';
	return len;
}

static void test_preload__path_push_same(void **state)
{
	static const char alpha[] = "//..ab.c";
	char p[40], base[40], a[48], b[48];
	unsigned seed = 12345;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t n, m, cap, la, lb, len;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % sizeof(p);
		m = (seed >> 16) % 12;
		cap = 1 + (seed >> 20) % sizeof(a);
		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			p[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		p[n] = '\0';
		/* out already holds a normalised base of m bytes (or none) */
		base[0] = '/';
		for (size_t k = 1; k < m; k++)
			base[k] = k % 3 ? 'x' : '/';
		len = m > 1 && base[m - 1] != '/' && m < cap ? m : 0;
		memcpy(a, base, len);
		memcpy(b, base, len);
		la = ct_path_push(a, len, cap, p);
		lb = ref_push(b, len, cap, p);
		if (la != lb || (cap && memcmp(a, b, la + 1))) {
			print_error(
				"path '%s' base %zu cap %zu: '%s' != '%s'\n", p,
				len, cap, a, b);
			fail();
		}
	}
}

/* ct_path_plain says a path needs no normalising exactly when
 * ct_path_push would hand it back unchanged. */
static void test_preload__path_plain(void **state)
{
	static const char alpha[] = "//..ab.c";
	char a[48], *p;
	/* the scan reads aligned words: every start offset, each path
	 * ending just before a page that is not mapped */
	long pg = sysconf(_SC_PAGESIZE);
	char *two = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned seed = 777;
	int plain = 0;

	assert_true(two != MAP_FAILED);
	assert_int_equal(mprotect(two + pg, (size_t)pg, PROT_NONE), 0);

	(void)state;
	assert_int_equal(ct_path_plain("/", 8), 1);
	assert_int_equal(ct_path_plain("/dev/null", 16), 9);
	assert_int_equal(ct_path_plain("/a/.git/..x/...", 16), 15);
	assert_int_equal(ct_path_plain("/dev/null", 9), 0); /* cut */
	assert_int_equal(ct_path_plain("dev/null", 16), 0);
	assert_int_equal(ct_path_plain("/a/", 16), 0);
	assert_int_equal(ct_path_plain("/a//b", 16), 0);
	assert_int_equal(ct_path_plain("/a/./b", 16), 0);
	assert_int_equal(ct_path_plain("/a/..", 16), 0);
	assert_int_equal(ct_path_plain("/.", 16), 0);
	assert_int_equal(ct_path_plain(NULL, 16), 0);
	for (int i = 0; i < 200000; i++) {
		size_t n, cap, l, lp;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % 39;
		cap = 2 + (seed >> 20) % (sizeof(a) - 2);
		/* the NUL on the page's last byte, or up to 15 bytes before */
		p = two + pg - (n + 1) - (seed >> 27) % 16;
		p[0] = '/';
		for (size_t k = 1; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			p[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		p[n] = '\0';
		l = ct_path_push(a, 0, cap, p);
		lp = ct_path_plain(p, cap);
		if (lp ? lp != n || l != n || memcmp(a, p, n + 1)
		       : l == n && !memcmp(a, p, n + 1)) {
			print_error("path '%s' cap %zu: plain %zu, push '%s'\n",
				    p, cap, lp, a);
			fail();
		}
		plain += lp != 0;
	}
	/* both answers came up often enough to mean something */
	assert_true(plain > 5000 && plain < 195000);
	/* long plain paths: many words, each start offset */
	for (int off = 0; off < 16; off++) {
		char *q = two + pg - 301 - off;

		memset(q, 'x', 300);
		for (int k = 0; k < 300; k += 7)
			q[k] = '/';
		q[300] = '\0';
		assert_int_equal(ct_path_plain(q, 4096), 300);
		q[150] = '/';
		q[151] = '.'; /* a dotfile: still plain */
		assert_int_equal(ct_path_plain(q, 4096), 300);
		q[152] = '.';
		q[153] = '/'; /* "/../" */
		assert_int_equal(ct_path_plain(q, 4096), 0);
	}
	munmap(two, 2 * (size_t)pg);
}

static void test_preload__path_abs_cwd(void **state)
{
	char out[CT_PATH_MAX];

	(void)state;
	ct_path_abs(AT_FDCWD, "x/../y", out, sizeof(out));
	assert_string_equal(out, "/home/u/w/y");
	ct_path_abs(AT_FDCWD, "/etc/./passwd", out, sizeof(out));
	assert_string_equal(out, "/etc/passwd");
}

static struct ct_envfix fix(void)
{
	struct ct_envfix f = { 0 };

	f.shim = "/b/libctrace-preload.so";
	f.shim_len = strlen(f.shim);
	f.ring_val = "/dev/shm/r";
	f.kv[0] = "CTRACE_RING=/dev/shm/r";
	f.kv[1] = "CTRACE_SESSION=00000000000000aa";
	f.kv[2] = "CTRACE_SHIM=/b/libctrace-preload.so";
	f.kv[3] = "UV_USE_IO_URING=0";
	f.kv[4] = "LD_PRELOAD=/b/libctrace-preload.so";
	f.nkv = 5;
	return f;
}

static int count(char *const *v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

static void test_preload__envp_empty(void **state)
{
	struct ct_envfix f = fix();
	char *env0[] = { NULL };
	char *out[16], buf[256];
	char *const *e;

	(void)state;
	e = ct_envp_build(env0, &f, "CTRACE_PROC=5.7", out, 16, buf,
			  sizeof(buf));
	assert_int_equal(count(e), 6);
	assert_string_equal(ct_env_get(e, "LD_PRELOAD"),
			    "/b/libctrace-preload.so");
	assert_string_equal(ct_env_get(e, "CTRACE_PROC"), "5.7");
	assert_string_equal(ct_env_get(e, "UV_USE_IO_URING"), "0");
	/* NULL envp (Linux allows it) is an empty one */
	e = ct_envp_build(NULL, &f, NULL, out, 16, buf, sizeof(buf));
	assert_int_equal(count(e), 5);
}

static void test_preload__envp_keep_and_replace(void **state)
{
	struct ct_envfix f = fix();
	char *env[] = { "A=1",
			"LD_PRELOAD=/x/other.so",
			"CTRACE_PROC=1.2",
			"UV_USE_IO_URING=1",
			"B=2",
			NULL };
	size_t n = ct_envp_slots(env), bn = ct_envp_buf_need(env, &f);
	char *out[n];
	char buf[bn];
	char *const *e;

	(void)state;
	e = ct_envp_build(env, &f, "CTRACE_PROC=9.9", out, n, buf, bn);
	assert_string_equal(e[0], "A=1");
	assert_string_equal(e[1], "B=2");
	assert_string_equal(ct_env_get(e, "LD_PRELOAD"),
			    "/b/libctrace-preload.so:/x/other.so");
	assert_string_equal(ct_env_get(e, "CTRACE_PROC"), "9.9");
	assert_string_equal(ct_env_get(e, "UV_USE_IO_URING"), "0");
	assert_int_equal(count(e), 2 + 6);
}

/* Only our own names are replaced; names that share a first letter or a
 * prefix with them are kept, in order. */
static void test_preload__envp_names(void **state)
{
	struct ct_envfix f = fix();
	char *env[] = { "CTRACE_HOME=/h",
			"CTRACE_RINGS=x",
			"CTRACE_RING=/dev/shm/r",
			"CTRACE_SESSION=old",
			"CTRACE_SHIM=/old.so",
			"CTRACE_PROC=3.4",
			"CTRACE_=",
			"C=3",
			"LD_LIBRARY_PATH=/l",
			"LD_PRELOAD",
			"L=",
			"UV_THREADPOOL_SIZE=4",
			"UV_USE_IO_URING=1",
			"U",
			"",
			NULL };
	const char *kept[] = { "CTRACE_HOME=/h",
			       "CTRACE_RINGS=x",
			       "CTRACE_=",
			       "C=3",
			       "LD_LIBRARY_PATH=/l",
			       "LD_PRELOAD",
			       "L=",
			       "UV_THREADPOOL_SIZE=4",
			       "U",
			       "" };
	char *out[32], buf[256];
	char *const *e;
	size_t k = sizeof(kept) / sizeof(kept[0]);

	(void)state;
	e = ct_envp_build(env, &f, "CTRACE_PROC=9.9", out, 32, buf,
			  sizeof(buf));
	for (size_t i = 0; i < k; i++)
		assert_string_equal(e[i], kept[i]);
	for (int i = 0; i < f.nkv; i++)
		assert_string_equal(e[k + (size_t)i], f.kv[i]);
	assert_string_equal(e[k + (size_t)f.nkv], "CTRACE_PROC=9.9");
	assert_null(e[k + (size_t)f.nkv + 1]);
}

static void test_preload__envp_preload_present(void **state)
{
	struct ct_envfix f = fix();
	char *env[] = { "LD_PRELOAD=/y.so /b/libctrace-preload.so", NULL };
	char *out[16], buf[128];
	char *const *e;

	(void)state;
	e = ct_envp_build(env, &f, NULL, out, 16, buf, sizeof(buf));
	assert_ptr_equal(ct_env_get(e, "LD_PRELOAD"), env[0] + 11);
}

static void test_preload__envp_nested_session(void **state)
{
	struct ct_envfix f = fix();
	char *env[] = { "CTRACE_RING=/dev/shm/other", NULL };
	char *out[16], buf[8];

	(void)state;
	assert_ptr_equal(ct_envp_build(env, &f, "CTRACE_PROC=1.1", out, 16, buf,
				       sizeof(buf)),
			 env);
}

static void test_preload__parse_proc(void **state)
{
	int32_t pid;
	uint64_t ps;

	(void)state;
	assert_true(ct_parse_proc("123.1795307318872585162", &pid, &ps));
	assert_int_equal(pid, 123);
	assert_true(ps == 1795307318872585162ull);
	assert_false(ct_parse_proc("123", &pid, &ps));
	assert_false(ct_parse_proc("123.", &pid, &ps));
	assert_false(ct_parse_proc("a.1", &pid, &ps));
	assert_false(ct_parse_proc("1.2x", &pid, &ps));
	assert_false(ct_parse_proc("99999999999.1", &pid, &ps));
}

static void expect_v6(const char *text, const char *want)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(443) };
	char out[128];

	assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
	ct_fmt_sockaddr((void *)&a, sizeof(a), out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_preload__sockaddr(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(80),
				  .sin_addr.s_addr = htonl(0x01020304) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char out[128];

	(void)state;
	ct_fmt_sockaddr((void *)&in, sizeof(in), out, sizeof(out));
	assert_string_equal(out, "1.2.3.4:80");
	expect_v6("::1", "[::1]:443");
	expect_v6("::", "[::]:443");
	expect_v6("2001:db8::1", "[2001:db8::1]:443");
	expect_v6("2001:db8:0:1:0:0:0:1", "[2001:db8:0:1::1]:443");
	expect_v6("fe80::1:0:0:1", "[fe80::1:0:0:1]:443");
	expect_v6("1:0:2:3:4:5:6:7", "[1:0:2:3:4:5:6:7]:443");
	expect_v6("::ffff:10.0.0.1", "[::ffff:10.0.0.1]:443");
	strcpy(un.sun_path, "/run/x.sock");
	ct_fmt_sockaddr((void *)&un, sizeof(un), out, sizeof(out));
	assert_string_equal(out, "unix:/run/x.sock");
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, "abs", 3);
	ct_fmt_sockaddr((void *)&un, offsetof(struct sockaddr_un, sun_path) + 4,
			out, sizeof(out));
	assert_string_equal(out, "unix:@abs");
	ct_fmt_sockaddr((void *)&un, sizeof(sa_family_t), out, sizeof(out));
	assert_string_equal(out, "unix:");
	un.sun_family = AF_NETLINK;
	assert_int_equal(
		ct_fmt_sockaddr((void *)&un, sizeof(un), out, sizeof(out)), 0);
}

static void test_preload__fopen_flags(void **state)
{
	(void)state;
	assert_int_equal(ct_fopen_flags("r"), O_RDONLY);
	assert_int_equal(ct_fopen_flags("rb+"), O_RDWR);
	assert_int_equal(ct_fopen_flags("w"), O_WRONLY | O_CREAT | O_TRUNC);
	assert_int_equal(ct_fopen_flags("a+"), O_RDWR | O_CREAT | O_APPEND);
	assert_int_equal(ct_fopen_flags("wxe"),
			 O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC);
	assert_int_equal(ct_fopen_flags("r,ccs=UTF-8"), O_RDONLY);
	assert_int_equal(ct_fopen_flags("q"), -1);
}

#define LINES_MAX 256

/* The lines a shell command prints (newlines cut, each allocated), at
 * most LINES_MAX; the command must succeed. */
static int cmd_lines(const char *cmd, char *out[LINES_MAX])
{
	char line[512];
	int n = 0;
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	while (n < LINES_MAX && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		out[n] = strdup(line);
		assert_non_null(out[n++]);
	}
	assert_int_equal(pclose(f), 0);
	return n;
}

static void lines_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

/* hooks.def, exports.map and `nm -D` of the built shim agree. */
static void test_preload__exports(void **state)
{
	const char *src = getenv("CT_SRC"), *build = getenv("CT_BUILD");
	char cmd[8192];
	char *def[LINES_MAX], *dyn[LINES_MAX];
	int ndef, ndyn;

	(void)state;
	if (!src || !build)
		skip();
	snprintf(cmd, sizeof(cmd),
		 "sed -n 's/^CT_HOOK(\\(.*\\))$/\\1/p' %s/preload/hooks.def "
		 "| sort",
		 src);
	ndef = cmd_lines(cmd, def);
	assert_true(ndef > 60);
	snprintf(cmd, sizeof(cmd),
		 "nm -D --defined-only %s/libctrace-preload.so | "
		 "awk '{print $3}' | sort",
		 build);
	ndyn = cmd_lines(cmd, dyn);
	assert_int_equal(ndyn, ndef);
	for (int i = 0; i < ndef; i++)
		assert_string_equal(def[i], dyn[i]);
	lines_free(def, ndef);
	lines_free(dyn, ndyn);
}

/* The shim's dynamic imports: nothing that allocates (its hooks run
 * where the program allows no malloc: signal handlers, vfork children,
 * inside malloc itself), and no library but libc and the loader. */
static void test_preload__imports(void **state)
{
	const char *build = getenv("CT_BUILD");
	static const char *const banned[] = {
		"malloc",	"calloc",   "realloc",	      "free",
		"reallocarray", "memalign", "posix_memalign", "aligned_alloc",
		"valloc",	"pvalloc",  "strdup",	      "strndup",
	};
	char cmd[8192], *imp[LINES_MAX], *needed[LINES_MAX];
	int nimp, nneeded;

	(void)state;
	if (!build)
		skip();
	snprintf(cmd, sizeof(cmd),
		 "nm -D --undefined-only %s/libctrace-preload.so | "
		 "awk '{print $2}' | sed 's/@.*//'",
		 build);
	nimp = cmd_lines(cmd, imp);
	assert_true(nimp < LINES_MAX); /* all of them read */
	for (int k = 0; k < nimp; k++)
		for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
			if (strcmp(imp[k], banned[i]) == 0)
				fail_msg("the shim imports %s", imp[k]);
	assert_true(nimp > 10); /* nm ran and saw the shim */
	snprintf(cmd, sizeof(cmd),
		 "readelf -d %s/libctrace-preload.so | "
		 "sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'",
		 build);
	nneeded = cmd_lines(cmd, needed);
	for (int k = 0; k < nneeded; k++)
		if (strcmp(needed[k], "libc.so.6") != 0 &&
		    strncmp(needed[k], "ld-linux", 8) != 0)
			fail_msg("the shim needs %s", needed[k]);
	assert_true(nneeded >= 1);
	lines_free(imp, nimp);
	lines_free(needed, nneeded);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preload__path_join),
		cmocka_unit_test(test_preload__path_cut),
		cmocka_unit_test(test_preload__path_push_same),
		cmocka_unit_test(test_preload__path_plain),
		cmocka_unit_test(test_preload__path_abs_cwd),
		cmocka_unit_test(test_preload__envp_empty),
		cmocka_unit_test(test_preload__envp_keep_and_replace),
		cmocka_unit_test(test_preload__envp_names),
		cmocka_unit_test(test_preload__envp_preload_present),
		cmocka_unit_test(test_preload__envp_nested_session),
		cmocka_unit_test(test_preload__parse_proc),
		cmocka_unit_test(test_preload__sockaddr),
		cmocka_unit_test(test_preload__fopen_flags),
		cmocka_unit_test(test_preload__exports),
		cmocka_unit_test(test_preload__imports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
