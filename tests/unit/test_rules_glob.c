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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_glob__matches_fnmatch),
		cmocka_unit_test(test_rules_glob__edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
