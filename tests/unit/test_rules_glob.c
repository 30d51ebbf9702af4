/* The rule engine decides most globs without fnmatch(3) (rules/match.c:
 * plain strings, one `*`, `*TEXT*`, literal heads and tails compared as
 * words, a pattern list's common demands).  Random pattern lists and
 * subjects over a small alphabet rich in special bytes must match exactly
 * as fnmatch(pattern, subject, 0) says, with negation as docs/rules.md
 * defines it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "rules/internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Subjects use the plain bytes; patterns add the special ones. */
static const char PLAIN[] = "ab/.-x";
static const char SPECIAL[] = "*?[]!\\";

static void random_string(char *buf, size_t cap, bool pattern)
{
	size_t n = rnd(pattern ? 9 : 14);

	/* long subjects too, past the 8-byte words */
	if (!pattern && rnd(4) == 0)
		n += 8 + rnd(12);
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern && rnd(3) == 0
				 ? SPECIAL[rnd(sizeof(SPECIAL) - 1)]
				 : PLAIN[rnd(sizeof(PLAIN) - 1)];
	buf[n] = '\0';
	if (pattern && !buf[0])
		buf[0] = 'a', buf[1] = '\0';
}

/* A pattern made of literal pieces and stars, the shapes the fast paths
 * take (one star, *TEXT*, heads and tails). */
static void starry(char *buf, size_t cap)
{
	size_t n = 0;
	unsigned parts = 1 + rnd(3);

	for (unsigned p = 0; p < parts && n + 8 < cap; p++) {
		if (rnd(2))
			buf[n++] = '*';
		for (unsigned k = rnd(9); k && n + 2 < cap; k--)
			buf[n++] = PLAIN[rnd(sizeof(PLAIN) - 1)];
	}
	if (rnd(2) && n + 1 < cap)
		buf[n++] = '*';
	if (!n)
		buf[n++] = '*';
	buf[n] = '\0';
}

static void test_rules_glob__matches_fnmatch(void **state)
{
	struct vars v = { .workspace = "/ws", .home = "/h" };
	char pats[3][32], subj[48];
	unsigned checked = 0, hits = 0;

	(void)state;
	for (int round = 0; round < 4000; round++) {
		struct cond c = { 0 };
		size_t n = 1 + rnd(3);

		c.path.v = calloc(n, sizeof(*c.path.v));
		assert_non_null(c.path.v);
		for (size_t i = 0; i < n; i++) {
			if (rnd(2))
				starry(pats[i], sizeof(pats[i]));
			else
				random_string(pats[i], sizeof(pats[i]), true);
			c.path.v[i].neg = i > 0 && rnd(3) == 0;
			c.path.v[i].raw = strdup(pats[i]);
			assert_non_null(c.path.v[i].raw);
			c.path.n++;
			c.path.npos += !c.path.v[i].neg;
		}
		assert_int_equal(ct_cond_bind(&c, &v), 0);
		for (int k = 0; k < 60; k++) {
			bool pos = c.path.npos == 0, neg = false, got;

			/* half the subjects built from a pattern, to hit */
			if (rnd(2)) {
				random_string(subj, sizeof(subj), false);
			} else {
				size_t o = 0;

				for (const char *p = pats[rnd((unsigned)n)];
				     *p && o + 4 < sizeof(subj); p++)
					if (*p == '*')
						for (unsigned r = rnd(4); r--;)
							subj[o++] = PLAIN[rnd(
								sizeof(PLAIN) -
								1)];
					else
						subj[o++] = *p;
				subj[o] = '\0';
			}
			for (size_t i = 0; i < n; i++) {
				bool m = fnmatch(pats[i], subj, 0) == 0;

				if (m && c.path.v[i].neg)
					neg = true;
				else if (m)
					pos = true;
			}
			got = ct_patlist_match(&c.path, subj, strlen(subj));
			if (got != (pos && !neg))
				fail_msg("'%s' against [%s%s, %s%s, %s%s]: got "
					 "%d",
					 subj, c.path.v[0].neg ? "!" : "",
					 pats[0],
					 n > 1 && c.path.v[1].neg ? "!" : "",
					 n > 1 ? pats[1] : "",
					 n > 2 && c.path.v[2].neg ? "!" : "",
					 n > 2 ? pats[2] : "", got);
			checked++;
			hits += got;
		}
		ct_cond_free(&c);
	}
	/* the comparison covered matches as well as misses */
	assert_true(hits > checked / 20);
	assert_true(hits < checked - checked / 20);
}

/* Subjects that cannot be real paths match nothing, not even a list of
 * exceptions only; variables expand before classification. */
static void test_rules_glob__edges(void **state)
{
	struct vars v = { .workspace = "/ws", .home = "/home/u" };
	struct cond c = { 0 };
	static char big[CT_PATH_MAX + 2];

	(void)state;
	c.path.v = calloc(2, sizeof(*c.path.v));
	assert_non_null(c.path.v);
	c.path.v[0].raw = strdup("${HOME}/*");
	c.path.v[0].neg = true;
	c.path.n = 1;
	assert_int_equal(ct_cond_bind(&c, &v), 0);
	assert_true(ct_patlist_match(&c.path, "/etc/passwd", 11));
	assert_false(ct_patlist_match(&c.path, "/home/u/x", 9));
	assert_false(ct_patlist_match(&c.path, "/etc/a\0b", 8));
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	assert_false(ct_patlist_match(&c.path, big, CT_PATH_MAX + 1));
	assert_true(ct_patlist_match(&c.path, big, CT_PATH_MAX));
	assert_true(ct_patlist_match(&c.path, "", 0));
	ct_cond_free(&c);

	c.path.v = calloc(1, sizeof(*c.path.v));
	assert_non_null(c.path.v);
	c.path.v[0].raw = strdup("${HOME}/.ssh/id_*");
	c.path.n = c.path.npos = 1;
	assert_int_equal(ct_cond_bind(&c, &v), 0);
	assert_true(ct_patlist_match(&c.path, "/home/u/.ssh/id_rsa", 19));
	assert_true(ct_patlist_match(&c.path, "/home/u/.ssh/id_", 16));
	assert_false(ct_patlist_match(&c.path, "/home/u/.ssh/id", 15));
	assert_false(ct_patlist_match(&c.path, "/home/v/.ssh/id_rsa", 19));
	ct_cond_free(&c);
}

/* --- patterns as rules files write them, against fnmatch --- */

/* Pieces patterns are made of: literal runs, every glob construct, the
 * variables (HOME and WORKSPACE set, TMP two folders, CTRACE_HOME
 * unset), escapes. */
static const char *const PIECES[] = {
	"*",	   "**",
	"?",	   "[ab]",
	"[!a/]",   "[a-x]",
	"[]a]",	   "\\*",
	"\\a",	   "\\?",
	"/",	   ".",
	"/.",	   "/.a/",
	"${HOME}", "${WORKSPACE}",
	"${TMP}",  "${CTRACE_HOME}",
	"[",	   "]",
	"a",	   "b",
	"x-",
};
static const struct vars VARS = {
	.workspace = "/w/a.b",
	.home = "/h",
	.tmp = { "/t", "/v/t" },
	.ntmp = 2,
};

static void random_pattern(char *buf, size_t cap)
{
	size_t n = 0;

	for (unsigned k = 1 + rnd(5); k--;) {
		const char *p = PIECES[rnd(sizeof(PIECES) / sizeof(PIECES[0]))];
		size_t l = strlen(p);

		if (n + l + 1 >= cap)
			break;
		memcpy(buf + n, p, l);
		n += l;
	}
	buf[n] = '\0';
}

/* The expansions of pattern p (as docs/rules.md defines them) into
 * out[]; returns how many. */
static size_t reference_expand(const char *p, char out[][96], size_t cap)
{
	const char *d = strstr(p, "${");
	const char *vals[2];
	size_t nv = 0, n = 0;

	if (!d) {
		if (cap && strlen(p) < 96)
			strcpy(out[n++], p);
		return n;
	}
	const char *e = strchr(d, '}');
	size_t vl = (size_t)(e - d - 2);

	if (vl == 4 && !strncmp(d + 2, "HOME", 4))
		vals[nv++] = VARS.home;
	else if (vl == 9 && !strncmp(d + 2, "WORKSPACE", 9))
		vals[nv++] = VARS.workspace;
	else if (vl == 3 && !strncmp(d + 2, "TMP", 3))
		vals[nv++] = VARS.tmp[0], vals[nv++] = VARS.tmp[1];
	for (size_t i = 0; i < nv; i++) {
		char head[256], sub[8][96];
		size_t m;

		snprintf(head, sizeof(head), "%.*s%s", (int)(d - p), p,
			 vals[i]);
		m = reference_expand(e + 1, sub, 8);
		for (size_t j = 0; j < m && n < cap; j++)
			if (strlen(head) + strlen(sub[j]) < 96)
				snprintf(out[n++], 96, "%s%s", head, sub[j]);
	}
	return n;
}

static bool reference_match(const char *p, const char *subj)
{
	char exp[16][96];
	size_t n = reference_expand(p, exp, 16);

	for (size_t i = 0; i < n; i++)
		if (fnmatch(exp[i], subj, 0) == 0)
			return true;
	return false;
}

/* A subject built from an expansion of pattern p: each glob construct
 * replaced by bytes it may (or may not) match. */
static void subject_from(const char *p, char *out, size_t cap)
{
	char exp[16][96];
	size_t n = reference_expand(p, exp, 16), o = 0;
	const char *e = n ? exp[rnd((unsigned)n)] : "/h/x";

	for (; *e && o + 8 < cap; e++) {
		if (*e == '*') {
			for (unsigned r = rnd(4); r--;)
				out[o++] = PLAIN[rnd(sizeof(PLAIN) - 1)];
		} else if (*e == '?' || *e == '[') {
			out[o++] = PLAIN[rnd(sizeof(PLAIN) - 1)];
			if (*e == '[')
				while (e[1] && e[1] != ']' && rnd(4))
					e++;
		} else if (*e == '\\' && e[1]) {
			out[o++] = *++e;
		} else {
			out[o++] = *e;
		}
	}
	out[o] = '\0';
}

static void test_rules_glob__differential(void **state)
{
	char pats[4][64], subj[128], bytes[129];
	unsigned checked = 0, hits = 0;

	(void)state;
	for (int round = 0; round < 6000; round++) {
		struct cond c = { 0 };
		size_t n = 1 + rnd(4);

		c.path.v = calloc(n, sizeof(*c.path.v));
		assert_non_null(c.path.v);
		for (size_t i = 0; i < n; i++) {
			random_pattern(pats[i], sizeof(pats[i]));
			c.path.v[i].neg = rnd(4) == 0;
			c.path.v[i].raw = strdup(pats[i]);
			assert_non_null(c.path.v[i].raw);
			c.path.n++;
			c.path.npos += !c.path.v[i].neg;
		}
		assert_int_equal(ct_cond_bind(&c, &VARS), 0);
		for (int k = 0; k < 40; k++) {
			bool pos = c.path.npos == 0, neg = false, want;
			struct ct_event ev = { .kind = CT_KIND_OPEN,
					       .present = CT_F_PATH };
			struct evctx x = { .ev = &ev };
			size_t len;

			if (rnd(3) == 0)
				random_string(subj, sizeof(subj), false);
			else
				subject_from(pats[rnd((unsigned)n)], subj,
					     sizeof(subj));
			for (size_t i = 0; i < n; i++) {
				bool m = reference_match(pats[i], subj);

				if (m && c.path.v[i].neg)
					neg = true;
				else if (m)
					pos = true;
			}
			want = pos && !neg;
			/* the subject as an event holds it: not terminated */
			len = strlen(subj);
			memcpy(bytes, subj, len);
			bytes[len] = 'a';
			ev.path.p = bytes;
			ev.path.len = (uint32_t)len;
			if (ct_patlist_match(&c.path, bytes, len) != want ||
			    ct_cond_match(&c, &x) != want ||
			    /* again, from what the evctx remembers */
			    ct_cond_match(&c, &x) != want ||
			    (want &&
			     !ct_patlist_may_match(&c.path,
						   ct_evctx_subj(&x, SJ_PATH))))
				fail_msg("'%s' against [%s%s, %s%s, %s%s, "
					 "%s%s]: want %d",
					 subj, c.path.v[0].neg ? "!" : "",
					 pats[0],
					 n > 1 && c.path.v[1].neg ? "!" : "",
					 n > 1 ? pats[1] : "",
					 n > 2 && c.path.v[2].neg ? "!" : "",
					 n > 2 ? pats[2] : "",
					 n > 3 && c.path.v[3].neg ? "!" : "",
					 n > 3 ? pats[3] : "", want);
			checked++;
			hits += want;
		}
		ct_cond_free(&c);
	}
	assert_true(hits > checked / 20);
	assert_true(hits < checked - checked / 20);
}

/* One subject met by many `*TEXT*` lists in turn (the pair offsets it
 * remembers), each list against fnmatch. */
static void test_rules_glob__shared_subject(void **state)
{
	static const char *const texts[] = { "/.a",   "/.b", "/./", "a.", ".a",
					     "/.ab/", "//",  "ab",  "ba" };
	enum { LISTS = 12 };

	(void)state;
	for (int round = 0; round < 3000; round++) {
		struct cond c[LISTS];
		char pats[LISTS][32], subj[64];
		struct ct_event ev = { .kind = CT_KIND_OPEN,
				       .present = CT_F_PATH };
		struct evctx x = { .ev = &ev };

		random_string(subj, sizeof(subj), false);
		ev.path.p = subj;
		ev.path.len = (uint32_t)strlen(subj);
		for (int i = 0; i < LISTS; i++) {
			memset(&c[i], 0, sizeof(c[i]));
			snprintf(pats[i], sizeof(pats[i]), "*%s*",
				 texts[rnd(sizeof(texts) / sizeof(texts[0]))]);
			c[i].path.v = calloc(1, sizeof(*c[i].path.v));
			assert_non_null(c[i].path.v);
			c[i].path.v[0].raw = strdup(pats[i]);
			c[i].path.n = c[i].path.npos = 1;
			assert_int_equal(ct_cond_bind(&c[i], &VARS), 0);
		}
		for (int i = 0; i < LISTS; i++) {
			bool want = fnmatch(pats[i], subj, 0) == 0;

			if (ct_cond_match(&c[i], &x) != want)
				fail_msg("'%s' against %s (list %d): want %d",
					 subj, pats[i], i, want);
		}
		for (int i = 0; i < LISTS; i++)
			ct_cond_free(&c[i]);
	}
}

/* What bind derives for a list, against the plain way of deriving it:
 * the globs' order (positive ones as written, `*TEXT*` ones last of
 * them, then the negative ones), the position and bytes ct_patlist_may_match()
 * looks at (every position, bytes counted with a popcount), the common
 * head and tail words.  Long literal lists and lists of names included. */
#define REF_AT_MAX 64

static unsigned ref_weight(const uint64_t set[4])
{
	unsigned n = 0;

	for (int i = 0; i < 4; i++)
		n += (unsigned)__builtin_popcountll(set[i]);
	if (set['/' >> 6] & (1ull << ('/' & 63)))
		n += 3;
	if (set['.' >> 6] & (1ull << ('.' & 63)))
		n += 1;
	return n;
}

static void ref_at(const struct patlist *pl, uint32_t *at, uint64_t atset[4])
{
	unsigned best = 0;

	memset(atset, 0xff, 4 * sizeof(*atset));
	*at = 0;
	for (uint32_t k = 0; k < REF_AT_MAX && pl->ngpos; k++) {
		uint64_t set[4] = { 0 }, n = 0;
		bool all = true;

		for (size_t i = 0; i < pl->ngpos && all; i++) {
			const struct glob *g = &pl->gl[i];
			unsigned char c;

			if (g->type == GL_LIT)
				c = k < g->len ? (unsigned char)g->s[k] : 0;
			else if ((g->type == GL_STAR || g->type == GL_FN) &&
				 k < g->pre)
				c = (unsigned char)g->s[k];
			else
				all = false;
			if (all)
				set[c >> 6] |= 1ull << (c & 63);
		}
		if (!all)
			break;
		for (int i = 0; i < 4; i++)
			n += (unsigned)__builtin_popcountll(set[i]);
		if (k < 8 && n == 1)
			continue;
		if (!best || ref_weight(set) <= best) {
			best = ref_weight(set);
			memcpy(atset, set, sizeof(set));
			*at = k;
		}
	}
}

static void ref_common(uint64_t *w, uint64_t *m, uint64_t w2, uint64_t m2)
{
	unsigned char a[8], am[8], b[8], bm[8];

	memcpy(a, w, 8);
	memcpy(am, m, 8);
	memcpy(b, &w2, 8);
	memcpy(bm, &m2, 8);
	for (int i = 0; i < 8; i++)
		if (!bm[i] || a[i] != b[i])
			am[i] = a[i] = 0;
	memcpy(w, a, 8);
	memcpy(m, am, 8);
}

static int glob_type_of(const struct patlist *pl, const char *s)
{
	for (size_t i = 0; i < pl->ngl; i++)
		if (pl->gl[i].s == s)
			return pl->gl[i].type;
	fail_msg("expansion '%s' has no glob", s);
	return -1;
}

static void test_rules_glob__bound_filter(void **state)
{
	static const char *const names[] = { "rm",	"curl",	      "wget",
					     "nc",	"ssh-keygen", "python3",
					     "/bin/sh", "${HOME}/.x" };

	(void)state;
	for (int round = 0; round < 4000; round++) {
		struct cond c = { 0 };
		size_t n = 1 + rnd(8);
		const char *order[64];
		size_t no = 0;
		uint64_t set[4], hw = 0, hm = 0, tw = 0, tm = 0;
		uint32_t at;
		unsigned shape = rnd(4);

		c.path.v = calloc(n, sizeof(*c.path.v));
		assert_non_null(c.path.v);
		for (size_t i = 0; i < n; i++) {
			char p[128];
			unsigned k = shape == 3 ? rnd(4) : shape;

			if (k == 0) { /* a literal, short or long */
				size_t len = 1 + rnd(rnd(2) ? 12 : 90);

				for (size_t j = 0; j < len; j++)
					p[j] = PLAIN[rnd(sizeof(PLAIN) - 1)];
				p[len] = '\0';
			} else if (k == 1) {
				snprintf(p, sizeof(p), "%s",
					 names[rnd(sizeof(names) /
						   sizeof(names[0]))]);
			} else if (rnd(2)) {
				starry(p, sizeof(p));
			} else {
				random_pattern(p, sizeof(p));
			}
			c.path.v[i].neg = rnd(5) == 0;
			c.path.v[i].raw = strdup(p);
			assert_non_null(c.path.v[i].raw);
			c.path.n++;
			c.path.npos += !c.path.v[i].neg;
		}
		assert_int_equal(ct_cond_bind(&c, &VARS), 0);
		for (int pass = 0; pass < 3; pass++)
			for (size_t i = 0; i < n; i++) {
				const struct pat *p = &c.path.v[i];

				if (p->neg != (pass == 2))
					continue;
				for (size_t j = 0; j < p->nexp; j++) {
					int t = glob_type_of(&c.path,
							     p->exp[j]);

					if (pass < 2 && (t == GL_MID) != pass)
						continue;
					assert_true(no < 64);
					order[no++] = p->exp[j];
				}
			}
		assert_int_equal(no, c.path.ngl);
		for (size_t i = 0; i < no; i++)
			assert_ptr_equal(order[i], c.path.gl[i].s);
		for (size_t i = 0; i < c.path.ngpos; i++)
			assert_int_equal(c.path.gl[i].type == GL_MID,
					 i >= c.path.ngpos - c.path.nmid);
		for (size_t i = c.path.ngpos; i < c.path.ngl; i++)
			assert_true(glob_type_of(&c.path, c.path.gl[i].s) >= 0);
		ref_at(&c.path, &at, set);
		if (at != c.path.at || memcmp(set, c.path.atset, sizeof(set)))
			fail_msg("round %d: at %u, want %u", round, c.path.at,
				 at);
		for (size_t i = 0; i < c.path.ngpos; i++) {
			const struct glob *g = &c.path.gl[i];

			if (i == 0) {
				hw = g->hw, hm = g->hm, tw = g->tw, tm = g->tm;
			} else {
				ref_common(&hw, &hm, g->hw, g->hm);
				ref_common(&tw, &tm, g->tw, g->tm);
			}
		}
		assert_true(hw == c.path.hw && hm == c.path.hm &&
			    tw == c.path.tw && tm == c.path.tm);
		/* bound again (a new session): the same */
		assert_int_equal(ct_cond_bind(&c, &VARS), 0);
		assert_int_equal(no, c.path.ngl);
		assert_int_equal(at, c.path.at);
		ct_cond_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_glob__matches_fnmatch),
		cmocka_unit_test(test_rules_glob__edges),
		cmocka_unit_test(test_rules_glob__differential),
		cmocka_unit_test(test_rules_glob__shared_subject),
		cmocka_unit_test(test_rules_glob__bound_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
