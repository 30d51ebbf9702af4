/* Conditions of a rule against one event: kinds, results, path globs with
 * variables, argv as tokens (basename of argv[0], flags, arguments, a
 * shell's -c text), connect addresses and ancestry. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/error.h"
#include "rules/internal.h"

#define EXPAND_MAX 16 /* expansions of one pattern */
#define TOKENS_MAX 256 /* argv tokens looked at */
#define JOIN_MAX 65536 /* argv joined for regular expressions */

/* --- binding variables --- */

static const char *const *var_values(const struct vars *v, const char *name,
				     size_t len, size_t *n, const char *one[1])
{
	*n = 0;
	if (len == 9 && memcmp(name, "WORKSPACE", 9) == 0)
		one[0] = v->workspace;
	else if (len == 4 && memcmp(name, "HOME", 4) == 0)
		one[0] = v->home;
	else if (len == 11 && memcmp(name, "CTRACE_HOME", 11) == 0)
		one[0] = v->ctrace_home;
	else if (len == 3 && memcmp(name, "TMP", 3) == 0) {
		*n = v->ntmp;
		return v->tmp;
	} else
		return NULL;
	/* an unset variable, or "/", expands to nothing: "${HOME}/x" must
	 * not become "/x" */
	*n = one[0] && one[0][0] && strcmp(one[0], "/") != 0 ? 1 : 0;
	return one;
}

/* Append the expansions of raw (from its offset off, with prefix already
 * built in buf) to p->exp (room for EXPAND_MAX). */
static int expand(struct pat *p, const struct vars *v, const char *raw,
		  char *buf, size_t blen)
{
	const char *d = strstr(raw, "${");

	if (!d) {
		size_t rl = strlen(raw);
		char *s;

		if (p->nexp >= EXPAND_MAX)
			return 0;
		s = malloc(blen + rl + 1);
		if (!s)
			return CT_ENOMEM;
		memcpy(s, buf, blen);
		memcpy(s + blen, raw, rl + 1);
		p->exp[p->nexp++] = s;
		return 0;
	}
	const char *end = strchr(d, '}');
	const char *one[1], *const *vals;
	size_t n, pre = (size_t)(d - raw);

	if (!end)
		return 0; /* refused at load time */
	vals = var_values(v, d + 2, (size_t)(end - d - 2), &n, one);
	for (size_t i = 0; vals && i < n; i++) {
		size_t vl = strlen(vals[i]);
		char *nb = malloc(blen + pre + vl + 1);
		int rc;

		if (!nb)
			return CT_ENOMEM;
		memcpy(nb, buf, blen);
		memcpy(nb + blen, raw, pre);
		memcpy(nb + blen + pre, vals[i], vl);
		/* "${HOME}/" with HOME ending in "/" */
		size_t nl = blen + pre + vl;
		if (nl > 1 && nb[nl - 1] == '/' && end[1] == '/')
			nl--;
		rc = expand(p, v, end + 1, nb, nl);
		free(nb);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void patlist_unbind(struct patlist *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		struct pat *p = &pl->v[i];

		if (p->exp != &p->raw) {
			for (size_t j = 0; j < p->nexp; j++)
				free(p->exp[j]);
			free(p->exp);
		}
		p->exp = NULL;
		p->nexp = 0;
	}
	free(pl->gl);
	pl->gl = NULL;
	pl->ngl = pl->ngpos = pl->nmid = 0;
}

/* How common byte c is in paths, roughly (0 rare .. 10 everywhere): the
 * byte of a `*TEXT*` pattern memchr looks for is its rarest. */
static int path_freq(unsigned char c)
{
	static const char letters[] = "zqjxkvbpygfwmucldrhsnioate";

	if (c == '/')
		return 10;
	if (c == '.' || c == '-' || c == '_')
		return 6;
	if (c >= '0' && c <= '9')
		return 4;
	if (c >= 'a' && c <= 'z')
		return 1 + (int)((strchr(letters, c) - letters) * 8 / 26);
	return 0;
}

/* Classify pattern s (struct glob in internal.h).  fnmatch(3) runs with
 * flags 0 in the C locale: `*` matches any bytes, '/' and a leading '.'
 * included, so a pattern whose only special byte is one `*` (or that is
 * `*TEXT*`) is decided by comparing bytes.  In any other pattern the
 * bytes before the first special one and after the last are literal:
 * they must open and close the subject whatever fnmatch makes of the
 * middle (a `\x` escape ends the head at the backslash; the escaped byte
 * is literal anyway, so it may belong to the tail). */
static void glob_init(struct glob *g, const char *s)
{
	size_t n = strlen(s), stars = 0, other = 0, first = n, star = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '*') {
			stars++;
			star = i;
		} else if (s[i] == '?' || s[i] == '[' || s[i] == '\\') {
			other++;
		} else {
			continue;
		}
		if (first == n)
			first = i;
	}
	memset(g, 0, sizeof(*g));
	g->s = s;
	g->len = (uint32_t)n;
	g->abs = s[0] == '/';
	if (!stars && !other) {
		g->type = GL_LIT;
	} else if (!other && stars == 1) {
		g->type = GL_STAR;
		g->pre = (uint32_t)star;
		g->suf = (uint32_t)(n - star - 1);
	} else if (!other && stars == 2 && s[0] == '*' && s[n - 1] == '*') {
		g->type = GL_MID;
		g->pair_a = n < 4 || path_freq((unsigned char)s[1]) <=
					     path_freq((unsigned char)s[2]);
		for (size_t i = 1; i + 1 < n; i++)
			if (path_freq((unsigned char)s[i]) <
			    path_freq((unsigned char)s[1 + g->rare]))
				g->rare = (uint32_t)(i - 1);
	} else {
		g->type = GL_FN;
		g->pre = (uint32_t)first;
		while (g->suf < n && !strchr("*?[]\\", s[n - 1 - g->suf]))
			g->suf++;
	}
}

/* Words of the head and tail literals (memcpy keeps them in the byte
 * order a subject's words are loaded in). */
static void glob_words(struct glob *g)
{
	unsigned char w[8] = { 0 }, m[8] = { 0 };
	uint32_t h = g->pre, t = g->suf;

	if (g->type == GL_LIT)
		h = g->len, t = 0;
	else if (g->type == GL_MID)
		h = t = 0;
	h = h < 8 ? h : 8;
	t = t < 8 ? t : 8;
	memcpy(w, g->s, h);
	memset(m, 0xff, h);
	memcpy(&g->hw, w, 8);
	memcpy(&g->hm, m, 8);
	memset(w, 0, 8);
	memset(m, 0, 8);
	memcpy(w + 8 - t, g->s + g->len - t, t);
	memset(m + 8 - t, 0xff, t);
	memcpy(&g->tw, w, 8);
	memcpy(&g->tm, m, 8);
}

/* Keep of (w, m) only the bytes that (w2, m2) asks for too, with the same
 * value. */
static void common_bytes(uint64_t *w, uint64_t *m, uint64_t w2, uint64_t m2)
{
	uint64_t keep = 0;

	/* byte by byte in the word: which byte is which does not matter */
	for (unsigned i = 0; i < 64; i += 8) {
		uint64_t b = 0xffull << i;

		if ((m2 & b) && !((*w ^ w2) & b))
			keep |= b;
	}
	*w &= keep;
	*m &= keep;
}

#define AT_MAX 64 /* byte positions patlist_at() considers */

/* Add to set the byte a subject must have at k to match g (0: none, the
 * subject must be shorter), counting in *n the bytes set holds; false
 * when g allows any.  (Counted here rather than with a popcount of set:
 * without -mpopcnt that is a libgcc call per word, and patlist_at() asks
 * for every position of every list.) */
static bool glob_at(const struct glob *g, uint32_t k, uint64_t set[4],
		    unsigned *n)
{
	unsigned char c;
	uint64_t bit;

	if (g->type == GL_LIT)
		c = k < g->len ? (unsigned char)g->s[k] : 0;
	else if ((g->type == GL_STAR || g->type == GL_FN) && k < g->pre)
		c = (unsigned char)g->s[k];
	else
		return false;
	bit = 1ull << (c & 63);
	*n += !(set[c >> 6] & bit);
	set[c >> 6] |= bit;
	return true;
}

/* How many subjects a set of n bytes at one position lets through,
 * roughly: its bytes, '/' counting as 4 and '.' as 2 (paths are full of
 * them). */
static unsigned set_weight(const uint64_t set[4], unsigned n)
{
	if (set['/' >> 6] & (1ull << ('/' & 63)))
		n += 3;
	if (set['.' >> 6] & (1ull << ('.' & 63)))
		n += 1;
	return n;
}

/* The byte position where the positive patterns' literal heads let the
 * fewest subjects through ("/bin/...", "/sbin/...", "/usr/...": byte 1,
 * b, s or u), so that one table lookup turns most subjects away from a
 * long list.  Bytes all patterns share within the first 8 are already
 * compared as a word (hm, hw), so a single byte there adds nothing; of
 * equal choices the deepest is taken (past a shared folder such as
 * ${HOME}, where the patterns differ from what else lives there). */
static void patlist_at(struct patlist *pl)
{
	unsigned best = 0;
	uint32_t litmax = 0; /* the longest literal; AT_MAX: not all are */

	memset(pl->atset, 0xff, sizeof(pl->atset));
	pl->at = 0;
	for (size_t i = 0; i < pl->ngpos && litmax < AT_MAX; i++)
		litmax = pl->gl[i].type != GL_LIT ? AT_MAX
			 : pl->gl[i].len > litmax ? pl->gl[i].len
						  : litmax;
	for (uint32_t k = 0; k < AT_MAX && pl->ngpos; k++) {
		uint64_t set[4] = { 0 };
		bool all = true;
		unsigned w, nb = 0;

		if (k >= litmax) {
			/* Literals only, all shorter than k: each position
			 * from here on asks for the same, the end of the
			 * subject (byte 0), of weight 1, the least there is,
			 * and the deepest one is taken (all lists of names,
			 * argv0: [curl, wget]) */
			memset(pl->atset, 0, sizeof(pl->atset));
			pl->atset[0] = 1;
			pl->at = AT_MAX - 1;
			break;
		}
		for (size_t i = 0; i < pl->ngpos && all; i++)
			all = glob_at(&pl->gl[i], k, set, &nb);
		if (!all)
			break; /* a shorter head: deeper ones are too */
		if (k < 8 && nb == 1)
			continue;
		w = set_weight(set, nb);
		if (!best || w <= best) {
			best = w;
			memcpy(pl->atset, set, sizeof(set));
			pl->at = k;
		}
	}
}

/* The demands every positive pattern of pl makes (struct patlist). */
static void patlist_filter(struct patlist *pl)
{
	patlist_at(pl);
	pl->hw = pl->hm = pl->tw = pl->tm = 0;
	memset(pl->last, 0xff, sizeof(pl->last));
	pl->mid_pair_on = false;
	for (size_t i = pl->ngpos - pl->nmid; i < pl->ngpos; i++) {
		const struct glob *g = &pl->gl[i];

		if (g->len < 4) {
			/* TEXT shorter than a pair */
			pl->mid_pair_on = false;
			break;
		}
		if (i == pl->ngpos - pl->nmid) {
			pl->mid_pair_on = true;
			pl->mid_pair[0] = (unsigned char)g->s[1];
			pl->mid_pair[1] = (unsigned char)g->s[2];
			pl->mid_pair_a = g->pair_a;
		} else if (pl->mid_pair[0] != (unsigned char)g->s[1] ||
			   pl->mid_pair[1] != (unsigned char)g->s[2]) {
			pl->mid_pair_on = false;
			break;
		}
	}
	/* no positive pattern, or none expanded (an unset variable): no
	 * demand to make (nothing can match in the second case, which the
	 * empty list of positive globs says) */
	if (!pl->ngpos)
		return;
	memset(pl->last, 0, sizeof(pl->last));
	for (size_t i = 0; i < pl->ngpos; i++) {
		const struct glob *g = &pl->gl[i];
		bool has_last = g->type == GL_LIT ||
				((g->type == GL_STAR || g->type == GL_FN) &&
				 g->suf > 0);

		if (i == 0) {
			pl->hw = g->hw, pl->hm = g->hm;
			pl->tw = g->tw, pl->tm = g->tm;
		} else {
			common_bytes(&pl->hw, &pl->hm, g->hw, g->hm);
			common_bytes(&pl->tw, &pl->tm, g->tw, g->tm);
		}
		if (g->type == GL_MID) {
			continue; /* `last` is about the others */
		} else if (!has_last) {
			memset(pl->last, 0xff, sizeof(pl->last));
		} else {
			unsigned char c = (unsigned char)g->s[g->len - 1];

			pl->last[c >> 6] |= 1ull << (c & 63);
		}
	}
}

static int patlist_bind(struct patlist *pl, const struct vars *v)
{
	size_t total = 0, k = 0, npos = 0, mid, neg;

	patlist_unbind(pl);
	for (size_t i = 0; i < pl->n; i++) {
		struct pat *p = &pl->v[i];
		int rc;

		/* most patterns hold no variable: their one expansion is
		 * raw itself, borrowed (patlist_unbind() knows) */
		if (!strstr(p->raw, "${")) {
			p->exp = &p->raw;
			p->nexp = 1;
			total++;
			continue;
		}
		p->exp = malloc(EXPAND_MAX * sizeof(*p->exp));
		if (!p->exp)
			return CT_ENOMEM;
		rc = expand(p, v, p->raw, "", 0);
		if (rc < 0)
			return rc;
		total += p->nexp;
	}
	if (!total) {
		patlist_filter(pl);
		return 0;
	}
	pl->gl = malloc(total * sizeof(*pl->gl));
	if (!pl->gl)
		return CT_ENOMEM;
	for (size_t i = 0; i < pl->n; i++)
		if (!pl->v[i].neg)
			npos += pl->v[i].nexp;
	/* positive globs first (one of them must match), `*TEXT*` ones
	 * last of them, then the negative ones (looked at only when a
	 * positive one matched), each kind in the order written.  Each
	 * glob is classified once: the `*TEXT*` ones are put from the end
	 * of the positive ones backwards, then turned round. */
	mid = npos;
	neg = npos;
	for (size_t i = 0; i < pl->n; i++) {
		const struct pat *p = &pl->v[i];

		for (size_t j = 0; j < p->nexp; j++) {
			struct glob *g;
			struct glob t;

			glob_init(&t, p->exp[j]);
			if (p->neg)
				g = &pl->gl[neg++];
			else if (t.type == GL_MID)
				g = &pl->gl[--mid];
			else
				g = &pl->gl[k++];
			*g = t;
			glob_words(g);
		}
	}
	for (size_t a = mid, b = npos; a + 1 < b; a++, b--) {
		struct glob t = pl->gl[a];

		pl->gl[a] = pl->gl[b - 1];
		pl->gl[b - 1] = t;
	}
	pl->ngpos = npos;
	pl->nmid = npos - mid;
	pl->ngl = neg;
	patlist_filter(pl);
	return 0;
}

#define COND_PATLISTS(c)                                                       \
	{                                                                      \
		&(c)->path, &(c)->path2, &(c)->target, &(c)->exe, &(c)->argv0, \
			&(c)->args, &(c)->subcommand, &(c)->under, &(c)->addr, \
			&(c)->image                                            \
	}

int ct_cond_bind(struct cond *c, const struct vars *v)
{
	struct patlist *pls[] = COND_PATLISTS(c);

	for (size_t i = 0; i < sizeof(pls) / sizeof(pls[0]); i++) {
		int rc = patlist_bind(pls[i], v);

		if (rc < 0)
			return rc;
	}
	/* the fields without which ct_cond_match() fails anyway, tested
	 * first and all at once */
	c->need = (c->path.n ? CT_F_PATH : 0) | (c->path2.n ? CT_F_PATH2 : 0) |
		  (c->exe.n ? CT_F_EXE : 0) | (c->nmodes ? CT_F_MODE : 0) |
		  (c->has_argv_cond ? CT_F_ARGV : 0) |
		  (c->addr.n || c->nports || c->ncidrs ? CT_F_ADDR : 0);
	return 0;
}

static void flaggroups_free(struct flaggroup *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < g[i].n; j++)
			free(g[i].alt[j]);
		free(g[i].alt);
	}
	free(g);
}

void ct_cond_free(struct cond *c)
{
	struct patlist *pls[] = COND_PATLISTS(c);

	for (size_t i = 0; i < sizeof(pls) / sizeof(pls[0]); i++) {
		patlist_unbind(pls[i]);
		for (size_t j = 0; !pls[i]->raw_in_v && j < pls[i]->n; j++)
			free(pls[i]->v[j].raw);
		free(pls[i]->v);
	}
	flaggroups_free(c->flags, c->nflags);
	flaggroups_free(c->noflags, c->nnoflags);
	if (c->argv_re) {
		regfree(c->argv_re);
		free(c->argv_re);
	}
	if (c->shell_re) {
		regfree(c->shell_re);
		free(c->shell_re);
	}
	free(c->ports);
	free(c->cidrs);
	free(c->modes);
	memset(c, 0, sizeof(*c));
}

/* --- patterns --- */

/* Bytes as a C string in buf; false when they hold a NUL or do not fit. */
static bool cstr(char *buf, size_t cap, const char *p, size_t len)
{
	if (len >= cap || (len && memchr(p, '\0', len)))
		return false;
	if (len)
		memcpy(buf, p, len);
	buf[len] = '\0';
	return true;
}

/* Bytes that hold a NUL or are longer than a path cannot match a pattern
 * meant for real paths. */
static bool path_like(const char *s, size_t len)
{
	return len <= CT_PATH_MAX && (len == 0 || !memchr(s, '\0', len));
}

/* The subject of bytes p (len of them; is_cstr: followed by a NUL, and
 * then never judged path-like: argv words and image names match however
 * long they are). */
static void subj_init(struct subj *s, const char *p, size_t len, bool is_cstr)
{
	s->p = p;
	s->len = (uint32_t)len;
	s->ok = is_cstr || path_like(p, len);
	s->npairs = 0;
	s->cstr = is_cstr;
	if (len >= 8) {
		memcpy(&s->h, p, 8);
		memcpy(&s->t, p + len - 8, 8);
	} else {
		/* zero padding never equals a pattern's byte (patterns are
		 * C strings): a subject too short for a literal fails it */
		unsigned char w[8] = { 0 };

		if (len)
			memcpy(w, p, len);
		memcpy(&s->h, w, 8);
		memset(w, 0, 8);
		if (len)
			memcpy(w + 8 - len, p, len);
		memcpy(&s->t, w, 8);
	}
}

static void subj_str(struct subj *s, const char *str)
{
	subj_init(s, str, strlen(str), true);
}

static bool bytes_eq(const char *a, const char *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* fnmatch(3) needs a C string: a subject that is not one (an event's
 * path, path-like, so at most CT_PATH_MAX bytes) is copied. */
static __attribute__((noinline)) bool fn_match(const struct glob *g,
					       const struct subj *s)
{
	char buf[CT_PATH_MAX + 1];

	if (s->cstr)
		return fnmatch(g->s, s->p, 0) == 0;
	if (!cstr(buf, sizeof(buf), s->p, s->len))
		return false;
	return fnmatch(g->s, buf, 0) == 0;
}

/* Remembered in struct subj, pairs (SUBJ_PAIRS of them); first: a is
 * the rarer byte. */
int32_t ct_subj_pair_at(struct subj *s, unsigned char a, unsigned char b,
			bool first)
{
	uint16_t pair = (uint16_t)(a << 8 | b);

	const char *p, *end;
	int32_t at = -1;

	for (unsigned i = 0; i < s->npairs; i++)
		if (s->pairs[i].pair == pair)
			return s->pairs[i].at;
	if (s->len >= 2) {
		/* the pair at i: a at i, b at i + 1, i <= len - 2 */
		p = s->p + !first;
		end = s->p + s->len - first;
		while (p < end &&
		       (p = memchr(p, first ? a : b, (size_t)(end - p)))) {
			const char *at_a = p - !first;

			if ((unsigned char)at_a[0] == a &&
			    (unsigned char)at_a[1] == b) {
				at = (int32_t)(at_a - s->p);
				break;
			}
			p++;
		}
	}
	if (s->npairs < SUBJ_PAIRS) {
		s->pairs[s->npairs].pair = pair;
		s->pairs[s->npairs++].at = at;
	}
	return at;
}

/* `*TEXT*`: TEXT starts no earlier than its first byte pair first occurs;
 * from there, where memchr finds TEXT's rarest byte, TEXT may be. */
static bool mid_match(const struct glob *g, struct subj *s)
{
	size_t tl = g->len - 2, r = g->rare, from = 0;
	const char *text = g->s + 1, *p, *end;
	int c = (unsigned char)text[r];

	if (tl == 0)
		return true;
	if (s->len < tl)
		return false;
	if (tl >= 2) {
		int32_t at = ct_subj_pair_at(s, (unsigned char)text[0],
					     (unsigned char)text[1], g->pair_a);

		if (at < 0 || (size_t)at > s->len - tl)
			return false;
		from = (size_t)at;
	}
	/* the rare byte of a match starting at i is at i + r,
	 * from <= i <= len - tl */
	p = s->p + from + r;
	end = s->p + (s->len - tl) + r + 1;
	while (p < end && (p = memchr(p, c, (size_t)(end - p)))) {
		if (memcmp(p - r, text, tl) == 0)
			return true;
		p++;
	}
	return false;
}

static bool glob_match(const struct glob *g, struct subj *s)
{
	/* most subjects differ from a pattern in its first or last bytes */
	if (s->len >= 8 && ((s->h & g->hm) != g->hw || (s->t & g->tm) != g->tw))
		return false;
	switch (g->type) {
	case GL_LIT:
		return s->len == g->len && bytes_eq(s->p, g->s, s->len);
	case GL_STAR:
		return s->len >= (size_t)g->pre + g->suf &&
		       bytes_eq(s->p, g->s, g->pre) &&
		       bytes_eq(s->p + s->len - g->suf, g->s + g->len - g->suf,
				g->suf);
	case GL_MID:
		return mid_match(g, s);
	}
	if (s->len < (size_t)g->pre + g->suf || !bytes_eq(s->p, g->s, g->pre) ||
	    !bytes_eq(s->p + s->len - g->suf, g->s + g->len - g->suf, g->suf))
		return false;
	return fn_match(g, s);
}

/* Whether some glob of [from, to) of pl matches s. */
static bool globs_match(const struct patlist *pl, size_t from, size_t to,
			struct subj *s)
{
	for (size_t i = from; i < to; i++)
		if (glob_match(&pl->gl[i], s))
			return true;
	return false;
}

static bool patlist_match_subj(const struct patlist *pl, struct subj *s)
{
	if (!ct_patlist_may_match(pl, s))
		return false;
	if (pl->npos &&
	    !globs_match(pl,
			 ct_patlist_last_ok(pl, s) ? 0 : pl->ngpos - pl->nmid,
			 pl->ngpos, s))
		return false;
	return !globs_match(pl, pl->ngpos, pl->ngl, s);
}

static bool patlist_match_str(const struct patlist *pl, const char *str)
{
	struct subj s;

	subj_str(&s, str);
	return patlist_match_subj(pl, &s);
}

bool ct_patlist_match(const struct patlist *pl, const char *s, size_t len)
{
	struct subj sj;

	subj_init(&sj, s, len, false);
	return patlist_match_subj(pl, &sj);
}

bool ct_patlist_any(const struct patlist *pl, const char *s, size_t len)
{
	struct subj sj;

	subj_init(&sj, s, len, false);
	return sj.ok && globs_match(pl, 0, pl->ngpos, &sj);
}

/* --- argv --- */

struct argv_view {
	char *tok[TOKENS_MAX];
	size_t n;
	char *base0; /* basename of argv[0] */
	struct subj base0_s;
	char store[JOIN_MAX];
	size_t used;
};

static bool load_argv(struct argv_view *a, const struct ct_event *ev)
{
	struct ct_bytes arg;
	uint32_t idx = 0, off = 0;

	a->n = 0;
	a->used = 0;
	if (!(ev->present & CT_F_ARGV))
		return false;
	while (a->n < TOKENS_MAX &&
	       ct_strv_next(ev->argv_raw, ev->argc, &idx, &off, &arg) == 1) {
		if (a->used + arg.len + 1 > sizeof(a->store))
			break;
		char *s = a->store + a->used;

		memcpy(s, arg.p, arg.len);
		s[arg.len] = '\0';
		/* an argument with a NUL inside is cut there */
		a->used += arg.len + 1;
		a->tok[a->n++] = s;
	}
	if (a->n == 0)
		return false;
	char *slash = strrchr(a->tok[0], '/');
	a->base0 = slash ? slash + 1 : a->tok[0];
	subj_str(&a->base0_s, a->base0);
	return true;
}

static bool is_flag(const char *t)
{
	return t[0] == '-' && t[1] != '\0';
}

/* A short-option cluster such as -rf: one dash, then letters/digits. */
static bool is_cluster(const char *t)
{
	if (t[0] != '-' || t[1] == '-' || t[1] == '\0')
		return false;
	for (const char *p = t + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static bool flag_present(const struct argv_view *a, const char *alt)
{
	size_t al = strlen(alt);
	bool short1 = al == 2 && alt[0] == '-' && alt[1] != '-';
	bool isLong = al > 2 && alt[0] == '-' && alt[1] == '-';

	for (size_t i = 1; i < a->n; i++) {
		const char *t = a->tok[i];

		if (strcmp(t, "--") == 0)
			break;
		if (!is_flag(t))
			continue;
		if (strcmp(t, alt) == 0)
			return true;
		if (short1 && is_cluster(t) && strchr(t + 1, alt[1]))
			return true;
		if (isLong && strncmp(t, alt, al) == 0 && t[al] == '=')
			return true;
	}
	return false;
}

static bool group_present(const struct argv_view *a, const struct flaggroup *g)
{
	for (size_t j = 0; j < g->n; j++)
		if (flag_present(a, g->alt[j]))
			return true;
	return false;
}

/* Resolve an argument against cwd and normalise ".", ".." and repeated
 * or trailing slashes. */
static void resolve(char *out, size_t cap, const char *cwd, const char *arg)
{
	char tmp[CT_PATH_MAX * 2 + 2];
	size_t n = 0;

	if (arg[0] == '/' || !cwd || !cwd[0])
		snprintf(tmp, sizeof(tmp), "%s", arg);
	else
		snprintf(tmp, sizeof(tmp), "%s/%s", cwd, arg);
	/* component by component into out */
	out[0] = '\0';
	for (char *s = tmp, *e; *s; s = e) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchr(s, '/');
		size_t cl = e ? (size_t)(e - s) : strlen(s);
		if (!e)
			e = s + cl;
		if (cl == 1 && s[0] == '.')
			continue;
		if (cl == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			out[n] = '\0';
			continue;
		}
		if (n + cl + 2 >= cap)
			break;
		out[n++] = '/';
		memcpy(out + n, s, cl);
		n += cl;
		out[n] = '\0';
	}
	if (n == 0 && cap > 1) {
		out[0] = '/';
		out[1] = '\0';
	}
}

/* Some non-flag argument matches pl (a positive pattern and no negative
 * one).  Patterns that are absolute paths (after expansion) see the
 * argument resolved against cwd and normalised (abs; NULL when no
 * pattern is absolute). */
static bool arg_matches(const struct patlist *pl, const char *t,
			const char *abs)
{
	struct subj t_s, abs_s;
	bool pos = pl->npos == 0;

	subj_str(&t_s, t);
	if (abs)
		subj_str(&abs_s, abs);
	for (size_t i = 0; i < pl->ngl; i++) {
		const struct glob *g = &pl->gl[i];

		/* a positive hit settles the positives */
		if (pos && i < pl->ngpos)
			continue;
		if (!glob_match(g, g->abs ? &abs_s : &t_s))
			continue;
		if (i >= pl->ngpos)
			return false;
		pos = true;
	}
	return pos;
}

static bool args_match(const struct patlist *pl, const struct argv_view *a,
		       const char *cwd)
{
	char abs[CT_PATH_MAX + 1];
	bool any_abs = false;

	for (size_t i = 0; i < pl->ngl && !any_abs; i++)
		any_abs = pl->gl[i].abs;
	for (size_t i = 1; i < a->n; i++) {
		const char *t = a->tok[i];

		if (is_flag(t))
			continue;
		if (any_abs)
			resolve(abs, sizeof(abs), cwd, t);
		if (arg_matches(pl, t, any_abs ? abs : NULL))
			return true;
	}
	return false;
}

/* Options whose value is the next argument, skipped when looking for a
 * subcommand (git -C DIR, git -c KEY=VALUE, ...). */
static bool takes_value(const char *t)
{
	static const char *const v[] = { "-C", "-c", "--git-dir", "--work-tree",
					 "--namespace" };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(t, v[i]) == 0)
			return true;
	return false;
}

static const char *subcommand(const struct argv_view *a)
{
	for (size_t i = 1; i < a->n; i++) {
		const char *t = a->tok[i];

		if (!is_flag(t))
			return t;
		if (takes_value(t))
			i++;
	}
	return NULL;
}

static bool is_shell(const char *base)
{
	static const char *const sh[] = { "sh",	 "bash", "dash", "zsh",
					  "ksh", "ash",	 "mksh", "busybox" };

	for (size_t i = 0; i < sizeof(sh) / sizeof(sh[0]); i++)
		if (strcmp(base, sh[i]) == 0)
			return true;
	return false;
}

/* The command text of `sh -c TEXT` (also -ec, -lc, -c after other
 * options), or NULL. */
static const char *shell_text(const struct argv_view *a)
{
	bool c = false;

	/* a login shell's argv[0] is "-bash" */
	if (!is_shell(a->base0[0] == '-' ? a->base0 + 1 : a->base0))
		return NULL;
	for (size_t i = 1; i < a->n; i++) {
		const char *t = a->tok[i];

		/* -o OPTION / +o OPTION: the next word is not the text */
		if ((t[0] == '-' || t[0] == '+') && t[1] == 'o' && !t[2]) {
			i++;
			continue;
		}

		if (strcmp(t, "--") == 0)
			return c && i + 1 < a->n ? a->tok[i + 1] : NULL;
		if (is_cluster(t)) {
			if (strchr(t + 1, 'c'))
				c = true;
			continue;
		}
		if (is_flag(t))
			continue;
		return c ? t : NULL;
	}
	return NULL;
}

static bool argv_re_match(const regex_t *re, const struct argv_view *a)
{
	static char joined[JOIN_MAX];
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++) {
		size_t l = strlen(a->tok[i]);

		if (n + l + 2 > sizeof(joined))
			break;
		if (i)
			joined[n++] = ' ';
		memcpy(joined + n, a->tok[i], l);
		n += l;
	}
	joined[n] = '\0';
	return regexec(re, joined, 0, NULL, 0) == 0;
}

/* --- addresses --- */

bool ct_addr_parse(const char *s, size_t len, int *family, unsigned char ip[16],
		   uint32_t *port)
{
	char buf[128];
	char *colon, *host = buf;

	if (!cstr(buf, sizeof(buf), s, len))
		return false;
	if (buf[0] == '[') {
		char *rb = strchr(buf, ']');

		if (!rb || rb[1] != ':')
			return false;
		*rb = '\0';
		host = buf + 1;
		colon = rb + 1;
		*family = 6;
	} else {
		colon = strrchr(buf, ':');
		if (!colon)
			return false;
		*colon = '\0';
		*family = 4;
	}
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535 || end == colon + 1)
		return false;
	*port = (uint32_t)p;
	memset(ip, 0, 16);
	if (*family == 4)
		return inet_pton(AF_INET, host, ip) == 1;
	if (inet_pton(AF_INET6, host, ip) != 1)
		return false;
	/* an IPv4-mapped v6 address is the v4 address */
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0,    0,
						  0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(ip, mapped, 12) == 0) {
		memmove(ip, ip + 12, 4);
		memset(ip + 4, 0, 12);
		*family = 4;
	}
	return true;
}

static bool cidr_contains(const struct cidr *c, int family,
			  const unsigned char *ip)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->family != family)
		return false;
	if (memcmp(c->net, ip, full) != 0)
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));

		if ((c->net[full] & mask) != (ip[full] & mask))
			return false;
	}
	return true;
}

static bool connect_match(const struct cond *c, const struct ct_event *ev)
{
	unsigned char ip[16];
	uint32_t port;
	int family;
	bool parsed;

	if (!(ev->present & CT_F_ADDR))
		return false;
	if (c->addr.n && !ct_patlist_match(&c->addr, ev->addr.p, ev->addr.len))
		return false;
	if (!c->nports && !c->ncidrs)
		return true;
	parsed = ct_addr_parse(ev->addr.p, ev->addr.len, &family, ip, &port);
	if (!parsed)
		return false;
	if (c->nports) {
		bool ok = false;

		for (size_t i = 0; i < c->nports && !ok; i++)
			ok = port >= c->ports[i].lo && port <= c->ports[i].hi;
		if (!ok)
			return false;
	}
	if (c->ncidrs) {
		bool pos = c->ncidr_pos == 0;

		for (size_t i = 0; i < c->ncidrs; i++) {
			bool in = cidr_contains(&c->cidrs[i], family, ip);

			if (in && c->cidrs[i].neg)
				return false;
			if (in)
				pos = true;
		}
		if (!pos)
			return false;
	}
	return true;
}

/* --- the condition --- */

static bool is_write(const struct ct_event *ev)
{
	switch (ev->kind) {
	case CT_KIND_OPEN:
		return (ev->flags & O_ACCMODE) != O_RDONLY ||
		       (ev->flags & (O_CREAT | O_TRUNC));
	case CT_KIND_UNLINK:
	case CT_KIND_RMDIR:
	case CT_KIND_RENAME:
	case CT_KIND_LINK:
	case CT_KIND_SYMLINK:
	case CT_KIND_MKDIR:
	case CT_KIND_CHMOD:
	case CT_KIND_TRUNCATE:
		return true;
	}
	return false;
}

static bool under_match(const struct patlist *pl, const struct evctx *x)
{
	bool pos = pl->npos == 0;

	for (size_t i = 0; i < x->nanc; i++) {
		struct subj a;

		subj_str(&a, x->anc[i]);
		if (globs_match(pl, pl->ngpos, pl->ngl, &a))
			return false;
		if (!pos)
			pos = globs_match(pl, 0, pl->ngpos, &a);
	}
	return pos;
}

/* The event's argv as tokens, loaded once per event (x->argv_state). */
static struct argv_view *event_argv(struct evctx *x)
{
	static struct argv_view a;

	if (!x->argv_state)
		x->argv_state = load_argv(&a, x->ev) ? 1 : -1;
	return x->argv_state > 0 ? &a : NULL;
}

/* The fields a condition can need (struct cond, need) as the low 6 bits
 * of a class: path, path2, mode, argv, exe, addr. */
_Static_assert(CT_F_PATH == 1 && CT_F_PATH2 == 2 && CT_F_MODE == 8 &&
		       CT_F_ARGV == 16 && CT_F_EXE == 32 && CT_F_ADDR == 64,
	       "field bits as the class packs them");
static uint32_t class_fields(uint32_t present)
{
	return (present & 3u) | ((present >> 1) & 0x3cu);
}

uint32_t ct_event_class(const struct ct_event *ev)
{
	uint32_t kind = ev->kind < CT_KIND__COUNT ? ev->kind : CT_KIND_NONE;

	return kind << 8 | (uint32_t)(ev->result >= 0) << 7 |
	       (uint32_t)is_write(ev) << 6 | class_fields(ev->present);
}

bool ct_cond_class_ok(const struct cond *c, uint32_t cls)
{
	uint32_t kind = cls >> 8;
	bool ok = cls >> 7 & 1, write = cls >> 6 & 1;

	if (class_fields(c->need) & ~cls & 0x3fu)
		return false;
	if (c->kinds && !(c->kinds & (1u << kind)))
		return false;
	if ((c->result == RES_OK && !ok) || (c->result == RES_FAIL && ok))
		return false;
	if (c->access == ACC_WRITE && !write)
		return false;
	if (c->access == ACC_READ && (kind != CT_KIND_OPEN || write))
		return false;
	return true;
}

void ct_subj_event(struct subj *s, const struct ct_event *ev, unsigned which)
{
	const struct ct_bytes *b = which == SJ_PATH2 ? &ev->path2
				   : which == SJ_EXE ? &ev->exe
						     : &ev->path;

	subj_init(s, b->p, b->len, false);
}

/* All conditions must hold and none has side effects, so they are tested
 * cheapest and most selective first: the class (fields present, kind,
 * result, access: ct_cond_class_ok), mode, argv[0] and flags, then the
 * event's paths and address, the image (often lists of exceptions),
 * ancestry and regular expressions. */
bool ct_cond_match_rest(const struct cond *c, struct evctx *x)
{
	const struct ct_event *ev = x->ev;
	struct argv_view *a = NULL;

	if (c->nmodes) {
		bool ok = false;

		if (!(ev->present & CT_F_MODE))
			return false;
		for (size_t i = 0; i < c->nmodes && !ok; i++)
			ok = (ev->mode & c->modes[i]) == c->modes[i];
		if (!ok)
			return false;
	}
	if (c->has_argv_cond) {
		a = event_argv(x);
		if (!a)
			return false;
		if (c->argv0.n && !patlist_match_subj(&c->argv0, &a->base0_s))
			return false;
		for (size_t i = 0; i < c->nflags; i++)
			if (!group_present(a, &c->flags[i]))
				return false;
		for (size_t i = 0; i < c->nnoflags; i++)
			if (group_present(a, &c->noflags[i]))
				return false;
		if (c->subcommand.n) {
			const char *sc = subcommand(a);

			if (!sc || !patlist_match_str(&c->subcommand, sc))
				return false;
		}
	}
	if (c->path.n &&
	    (!(ev->present & CT_F_PATH) ||
	     !patlist_match_subj(&c->path, ct_evctx_subj(x, SJ_PATH))))
		return false;
	if (c->path2.n &&
	    (!(ev->present & CT_F_PATH2) ||
	     !patlist_match_subj(&c->path2, ct_evctx_subj(x, SJ_PATH2))))
		return false;
	if (c->target.n) {
		unsigned f = (ev->present & CT_F_PATH2) ? SJ_PATH2 : SJ_PATH;

		if (!(ev->present & (CT_F_PATH | CT_F_PATH2)) ||
		    !patlist_match_subj(&c->target, ct_evctx_subj(x, f)))
			return false;
	}
	if (c->exe.n &&
	    (!(ev->present & CT_F_EXE) ||
	     !patlist_match_subj(&c->exe, ct_evctx_subj(x, SJ_EXE))))
		return false;
	if (c->addr.n || c->nports || c->ncidrs)
		if (!connect_match(c, ev))
			return false;
	if (c->image.n &&
	    !patlist_match_str(&c->image, x->image ? x->image : ""))
		return false;
	if (c->written) {
		struct ct_bytes w =
			(ev->present & CT_F_EXE) ? ev->exe : ev->path;

		if (!(ev->present & (CT_F_EXE | CT_F_PATH)) ||
		    !x->was_written || !x->was_written(x->warg, w.p, w.len))
			return false;
	}
	if (c->under.n) {
		if (x->ancestors && !x->anc_done) {
			x->anc = x->ancestors(x->warg, &x->nanc);
			x->anc_done = true;
		}
		if (!under_match(&c->under, x))
			return false;
	}
	if (a) {
		if (c->args.n && !args_match(&c->args, a, x->cwd))
			return false;
		if (c->argv_re && !argv_re_match(c->argv_re, a))
			return false;
		if (c->shell_re) {
			const char *txt = shell_text(a);

			if (!txt || regexec(c->shell_re, txt, 0, NULL, 0) != 0)
				return false;
		}
	}
	return true;
}

bool ct_cond_match(const struct cond *c, struct evctx *x)
{
	return ct_cond_class_ok(c, ct_event_class(x->ev)) &&
	       ct_cond_match_rest(c, x);
}
