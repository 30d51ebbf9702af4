/* Rules files: the YAML tree checked and compiled into rules.  Every
 * problem is reported as FILE:LINE: problem, at the node that has it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer/out.h"
#include "common/error.h"
#include "rules/internal.h"

#define LIST_MAX 1000 /* items in one list */
#define PATTERN_MAX 4096 /* bytes of one pattern */
#define REGEX_MAX 1024 /* bytes of one regular expression */
#define ID_MAX 64
#define COUNT_MAX 10000 /* threshold count */

struct ld {
	const char *file;
	char *err;
	size_t errlen;
};

static int bad(struct ld *l, const struct yn *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct ld *l, const struct yn *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s:%u: %s", l->file, n ? n->line : 0, msg);
	return CT_EFORMAT;
}

static const char *type_name(const struct yn *n)
{
	return n->type == YN_SCALAR ? "a string"
	       : n->type == YN_SEQ  ? "a list"
				    : "a mapping";
}

static int want_scalar(struct ld *l, const struct yn *v, const char *key)
{
	if (v->type != YN_SCALAR)
		return bad(l, v, "'%s' must be a single value, not %s", key,
			   type_name(v));
	return 0;
}

/* A list of scalars, or one scalar standing for a list of one. */
static int scalars(struct ld *l, const struct yn *v, const char *key,
		   const struct yn *const **items, size_t *n,
		   const struct yn **one)
{
	if (v->type == YN_SCALAR) {
		*one = v;
		*items = one;
		*n = 1;
		return 0;
	}
	if (v->type != YN_SEQ)
		return bad(l, v, "'%s' must be a value or a list, not %s", key,
			   type_name(v));
	if (v->nkids == 0)
		return bad(l, v, "'%s' is an empty list", key);
	if (v->nkids > LIST_MAX)
		return bad(l, v, "'%s' has more than %u items", key, LIST_MAX);
	for (size_t i = 0; i < v->nkids; i++)
		if (v->kids[i]->type != YN_SCALAR)
			return bad(l, v->kids[i],
				   "items of '%s' must be values, not %s", key,
				   type_name(v->kids[i]));
	*items = (const struct yn *const *)v->kids;
	*n = v->nkids;
	return 0;
}

static int check_vars(struct ld *l, const struct yn *n, const char *s)
{
	static const char *const known[] = { "WORKSPACE", "HOME", "TMP",
					     "CTRACE_HOME" };

	for (const char *d = strstr(s, "${"); d; d = strstr(d + 2, "${")) {
		const char *e = strchr(d, '}');
		size_t len;
		bool ok = false;

		if (!e)
			return bad(l, n, "unterminated variable in '%s'", s);
		len = (size_t)(e - d - 2);
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strlen(known[i]) == len &&
			      memcmp(known[i], d + 2, len) == 0;
		if (!ok)
			return bad(l, n,
				   "unknown variable '%.*s' (known: "
				   "${WORKSPACE}, ${HOME}, ${TMP}, "
				   "${CTRACE_HOME})",
				   (int)(len + 3 < 64 ? len + 3 : 64), d);
	}
	return 0;
}

static int patlist(struct ld *l, const struct yn *v, const char *key,
		   struct patlist *pl)
{
	const struct yn *const *items, *one;
	size_t n, bytes;
	char *text;
	int rc = scalars(l, v, key, &items, &n, &one);

	if (rc < 0)
		return rc;
	if (pl->n)
		return bad(l, v, "'%s' given twice", key);
	/* the patterns' text lives in the block of pl->v, after them: one
	 * allocation for the list instead of one per pattern */
	bytes = n * sizeof(*pl->v);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(items[i]->str) + 1;
	pl->v = calloc(1, bytes);
	if (!pl->v)
		return CT_ENOMEM;
	pl->raw_in_v = true;
	text = (char *)(pl->v + n);
	for (size_t i = 0; i < n; i++) {
		const char *s = items[i]->str;
		struct pat *p = &pl->v[i];
		size_t len = strlen(s);

		if (len > PATTERN_MAX)
			return bad(l, items[i], "pattern longer than %u bytes",
				   PATTERN_MAX);
		p->neg = s[0] == '!';
		if (p->neg)
			s++;
		if (!s[0])
			return bad(l, items[i], "empty pattern in '%s'", key);
		rc = check_vars(l, items[i], s);
		if (rc < 0)
			return rc;
		len -= p->neg;
		memcpy(text, s, len + 1);
		p->raw = text;
		text += len + 1;
		pl->n++;
		pl->npos += !p->neg;
	}
	return 0;
}

static int kinds(struct ld *l, const struct yn *v, uint32_t *out)
{
	const struct yn *const *items, *one;
	size_t n;
	int rc = scalars(l, v, "kind", &items, &n, &one);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned k =
			ct_kind_from_name(items[i]->str, strlen(items[i]->str));

		if (!k)
			return bad(l, items[i],
				   "unknown kind '%s' (kinds: start, exec, "
				   "spawn, fork, exit, open, unlink, rmdir, "
				   "rename, link, symlink, mkdir, chmod, "
				   "truncate, chdir, connect, gap)",
				   items[i]->str);
		*out |= 1u << k;
	}
	return 0;
}

/* flags: each item is one group of alternatives, "-r|-R|--recursive" or
 * a list [-r, -R, --recursive]. */
static int flaggroups(struct ld *l, const struct yn *v, const char *key,
		      struct flaggroup **out, size_t *nout)
{
	size_t n = v->type == YN_SEQ ? v->nkids : 1;

	if (v->type == YN_MAP)
		return bad(l, v, "'%s' must be a list of flag groups", key);
	if (n == 0 || n > LIST_MAX)
		return bad(l, v, "'%s' must have 1 to %u groups", key,
			   LIST_MAX);
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return CT_ENOMEM;
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		const struct yn *g = v->type == YN_SEQ ? v->kids[i] : v;
		struct flaggroup *fg = &(*out)[i];
		const struct yn *const *items, *one;
		size_t ni;
		int rc = scalars(l, g, key, &items, &ni, &one);

		if (rc < 0)
			return rc;
		for (size_t j = 0; j < ni; j++) {
			char *s = items[j]->str, *save = NULL;

			for (char *t = strtok_r(s, "|", &save); t;
			     t = strtok_r(NULL, "|", &save)) {
				char **na;

				if (t[0] != '-' || t[1] == '\0' ||
				    strlen(t) > 128)
					return bad(l, items[j],
						   "'%s' is not a flag (flags "
						   "start with '-')",
						   t);
				if (fg->n >= LIST_MAX)
					return bad(l, items[j],
						   "too many alternatives");
				na = realloc(fg->alt,
					     (fg->n + 1) * sizeof(*na));
				if (!na)
					return CT_ENOMEM;
				fg->alt = na;
				fg->alt[fg->n] = strdup(t);
				if (!fg->alt[fg->n])
					return CT_ENOMEM;
				fg->n++;
			}
		}
		if (fg->n == 0)
			return bad(l, g, "empty flag group in '%s'", key);
	}
	return 0;
}

/* Whether the ERE s can be searched as "^.*(s)" (regex() says why):
 * every ')' closes a '(' (glibc takes a stray ')' as a literal, which the
 * wrapping group would change) and no '^' anchors inside (after ".*",
 * glibc lets it match after a newline).  Bracket expressions and escapes
 * are skipped. */
static bool anchorable(const char *s)
{
	unsigned depth = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '\\') {
			if (p[1])
				p++;
		} else if (*p == '[') {
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			for (; *p && *p != ']'; p++) {
				char k = p[1];

				if (*p != '[' ||
				    (k != ':' && k != '.' && k != '='))
					continue;
				/* [:class:], [.coll.], [=equiv=] */
				for (p += 2; *p && !(p[0] == k && p[1] == ']');
				     p++)
					;
				if (!*p)
					return false;
				p++;
			}
			if (!*p)
				return false;
		} else if (*p == '^') {
			return false;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (!depth)
				return false;
			depth--;
		}
	}
	return depth == 0;
}

static int regex(struct ld *l, const struct yn *v, const char *key,
		 regex_t **out)
{
	const char *s;
	char msg[256];
	int rc = want_scalar(l, v, key);

	if (rc < 0)
		return rc;
	s = v->str;
	if (*out)
		return bad(l, v, "'%s' given twice", key);
	if (strlen(s) > REGEX_MAX)
		return bad(l, v, "regular expression longer than %u bytes",
			   REGEX_MAX);
	/* Back-references make glibc's matcher exponential: refuse them. */
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && p[1] >= '1' && p[1] <= '9')
			return bad(l, v,
				   "back-references (\\%c) are not allowed in "
				   "'%s'",
				   p[1], key);
		if (*p == '\\' && p[1])
			p++;
	}
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return CT_ENOMEM;
	/* "(?i)" in front: ignore case (the one Perl-ism understood) */
	int cflags = REG_EXTENDED | REG_NOSUB;
	if (strncmp(s, "(?i)", 4) == 0) {
		cflags |= REG_ICASE;
		s += 4;
	}
	/*
	 * An unanchored search makes glibc's regexec() start a match at
	 * every byte: time quadratic in the text, seconds for one hostile
	 * expression such as (a|aa)+% on a 64 KiB argv.  "^.*(E)" matches
	 * exactly when E matches somewhere ('.' takes any byte but NUL in
	 * the C locale ctrace runs in, newlines included without
	 * REG_NEWLINE; back-references, which group numbers would shift,
	 * are refused above), and is decided in one pass.  Not for every E
	 * (anchorable()); an E anchored with '^' is cheap as it is.  It is
	 * compiled in place of E, not after it: compiling is a quarter of
	 * loading the shipped rules, paid by every ctrace run.  The wrapped form
	 * compiles exactly when E does (no difference in 10 million random
	 * expressions that pass the checks above); E itself is compiled
	 * when it does not, so that the error quotes what was written.
	 */
	if (anchorable(s)) {
		size_t n = strlen(s);
		char *w = malloc(n + 6);

		if (!w)
			return CT_ENOMEM;
		memcpy(w, "^.*(", 4);
		memcpy(w + 4, s, n);
		memcpy(w + 4 + n, ")", 2);
		rc = regcomp(*out, w, cflags);
		free(w);
		if (rc == 0)
			return 0;
	}
	rc = regcomp(*out, s, cflags);
	if (rc != 0) {
		regerror(rc, *out, msg, sizeof(msg));
		free(*out);
		*out = NULL;
		return bad(l, v, "bad regular expression in '%s': %s", key,
			   msg);
	}
	return 0;
}

static int ports(struct ld *l, const struct yn *v, struct cond *c)
{
	const struct yn *const *items, *one;
	size_t n;
	int rc = scalars(l, v, "port", &items, &n, &one);

	if (rc < 0)
		return rc;
	c->ports = calloc(n, sizeof(*c->ports));
	if (!c->ports)
		return CT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned long lo, hi;
		char *end;
		const char *s = items[i]->str;

		errno = 0;
		lo = strtoul(s, &end, 10);
		hi = lo;
		if (end != s && *end == '-') {
			const char *h = end + 1;

			hi = strtoul(h, &end, 10);
			if (end == h)
				end = (char *)h - 1;
		}
		if (errno || end == s || *end || lo > 65535 || hi > 65535 ||
		    lo > hi)
			return bad(l, items[i],
				   "'%s' is not a port or a range like "
				   "1-1023",
				   s);
		c->ports[c->nports].lo = (uint32_t)lo;
		c->ports[c->nports++].hi = (uint32_t)hi;
	}
	return 0;
}

static int cidrs(struct ld *l, const struct yn *v, struct cond *c)
{
	const struct yn *const *items, *one;
	size_t n;
	int rc = scalars(l, v, "cidr", &items, &n, &one);

	if (rc < 0)
		return rc;
	c->cidrs = calloc(n, sizeof(*c->cidrs));
	if (!c->cidrs)
		return CT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct cidr *cd = &c->cidrs[c->ncidrs];
		char buf[128], *slash, *end;
		const char *s = items[i]->str;
		unsigned long bits;

		cd->neg = s[0] == '!';
		s += cd->neg;
		snprintf(buf, sizeof(buf), "%s", s);
		slash = strchr(buf, '/');
		if (slash)
			*slash = '\0';
		if (inet_pton(AF_INET, buf, cd->net) == 1)
			cd->family = 4;
		else if (inet_pton(AF_INET6, buf, cd->net) == 1)
			cd->family = 6;
		else
			return bad(l, items[i],
				   "'%s' is not an address or CIDR block "
				   "(e.g. 10.0.0.0/8, fd00::/8)",
				   items[i]->str);
		bits = cd->family == 4 ? 32 : 128;
		if (slash) {
			errno = 0;
			unsigned long b = strtoul(slash + 1, &end, 10);

			if (errno || end == slash + 1 || *end || b > bits)
				return bad(l, items[i],
					   "bad prefix length in '%s'",
					   items[i]->str);
			bits = b;
		}
		cd->bits = (unsigned)bits;
		c->ncidrs++;
		c->ncidr_pos += !cd->neg;
	}
	return 0;
}

/* mode: octal bit masks, e.g. "04000" (setuid) or "0002" (o+w). */
static int modes(struct ld *l, const struct yn *v, struct cond *c)
{
	const struct yn *const *items, *one;
	size_t n;
	int rc = scalars(l, v, "mode", &items, &n, &one);

	if (rc < 0)
		return rc;
	c->modes = calloc(n, sizeof(*c->modes));
	if (!c->modes)
		return CT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(items[i]->str, &end, 8);
		if (errno || end == items[i]->str || *end || m == 0 ||
		    m > 07777)
			return bad(l, items[i],
				   "'%s' is not an octal mode mask like "
				   "04000 or 0002",
				   items[i]->str);
		c->modes[c->nmodes++] = (uint32_t)m;
	}
	return 0;
}

static int boolean(struct ld *l, const struct yn *v, const char *key, bool *b)
{
	int rc = want_scalar(l, v, key);

	if (rc < 0)
		return rc;
	if (strcmp(v->str, "true") == 0 || strcmp(v->str, "yes") == 0)
		*b = true;
	else if (strcmp(v->str, "false") == 0 || strcmp(v->str, "no") == 0)
		*b = false;
	else
		return bad(l, v, "'%s' must be true or false", key);
	return 0;
}

/* One condition key; 1 when key is not a condition. */
static int cond_key(struct ld *l, const char *k, const struct yn *v,
		    struct cond *c)
{
	if (strcmp(k, "kind") == 0)
		return kinds(l, v, &c->kinds);
	if (strcmp(k, "result") == 0 || strcmp(k, "access") == 0) {
		bool res = k[0] == 'r';
		int rc = want_scalar(l, v, k);

		if (rc < 0)
			return rc;
		if (res && strcmp(v->str, "ok") == 0)
			c->result = RES_OK;
		else if (res && strcmp(v->str, "failed") == 0)
			c->result = RES_FAIL;
		else if (res && strcmp(v->str, "any") == 0)
			c->result = RES_ANY;
		else if (!res && strcmp(v->str, "read") == 0)
			c->access = ACC_READ;
		else if (!res && strcmp(v->str, "write") == 0)
			c->access = ACC_WRITE;
		else
			return bad(l, v, "'%s' must be %s, not '%s'", k,
				   res ? "ok, failed or any" : "read or write",
				   v->str);
		return 0;
	}
	if (strcmp(k, "path") == 0)
		return patlist(l, v, k, &c->path);
	if (strcmp(k, "path2") == 0)
		return patlist(l, v, k, &c->path2);
	if (strcmp(k, "target") == 0)
		return patlist(l, v, k, &c->target);
	if (strcmp(k, "exe") == 0)
		return patlist(l, v, k, &c->exe);
	if (strcmp(k, "addr") == 0)
		return patlist(l, v, k, &c->addr);
	if (strcmp(k, "under") == 0)
		return patlist(l, v, k, &c->under);
	if (strcmp(k, "argv0") == 0) {
		c->has_argv_cond = true;
		return patlist(l, v, k, &c->argv0);
	}
	if (strcmp(k, "args") == 0) {
		c->has_argv_cond = true;
		return patlist(l, v, k, &c->args);
	}
	if (strcmp(k, "subcommand") == 0) {
		c->has_argv_cond = true;
		return patlist(l, v, k, &c->subcommand);
	}
	if (strcmp(k, "flags") == 0) {
		c->has_argv_cond = true;
		if (c->nflags)
			return bad(l, v, "'flags' given twice");
		return flaggroups(l, v, k, &c->flags, &c->nflags);
	}
	if (strcmp(k, "not_flags") == 0) {
		c->has_argv_cond = true;
		if (c->nnoflags)
			return bad(l, v, "'not_flags' given twice");
		return flaggroups(l, v, k, &c->noflags, &c->nnoflags);
	}
	if (strcmp(k, "argv_regex") == 0) {
		c->has_argv_cond = true;
		return regex(l, v, k, &c->argv_re);
	}
	if (strcmp(k, "shell_c") == 0) {
		c->has_argv_cond = true;
		return regex(l, v, k, &c->shell_re);
	}
	if (strcmp(k, "port") == 0)
		return c->nports ? bad(l, v, "'port' given twice")
				 : ports(l, v, c);
	if (strcmp(k, "cidr") == 0)
		return c->ncidrs ? bad(l, v, "'cidr' given twice")
				 : cidrs(l, v, c);
	if (strcmp(k, "written") == 0)
		return boolean(l, v, k, &c->written);
	if (strcmp(k, "image") == 0)
		return patlist(l, v, k, &c->image);
	if (strcmp(k, "mode") == 0)
		return c->nmodes ? bad(l, v, "'mode' given twice")
				 : modes(l, v, c);
	return 1;
}

static bool cond_empty(const struct cond *c)
{
	return !c->kinds && !c->result && !c->access && !c->path.n &&
	       !c->path2.n && !c->target.n && !c->exe.n && !c->addr.n &&
	       !c->under.n && !c->has_argv_cond && !c->nports && !c->ncidrs &&
	       !c->written && !c->image.n && !c->nmodes;
}

#define COND_KEYS                                                         \
	"kind, result, access, path, path2, target, exe, argv0, args, "   \
	"subcommand, flags, not_flags, argv_regex, shell_c, addr, port, " \
	"cidr, under, image, mode, written"

static int scope(struct ld *l, const struct yn *v, enum scope *per)
{
	int rc = want_scalar(l, v, "per");

	if (rc < 0)
		return rc;
	if (strcmp(v->str, "process") == 0)
		*per = SC_PROCESS;
	else if (strcmp(v->str, "command") == 0)
		*per = SC_COMMAND;
	else if (strcmp(v->str, "session") == 0)
		*per = SC_SESSION;
	else
		return bad(l, v, "'per' must be process, command or session");
	return 0;
}

static int duration(struct ld *l, const struct yn *v, uint64_t *ns)
{
	int rc = want_scalar(l, v, "within");

	if (rc < 0)
		return rc;
	if (ct_parse_duration(v->str, ns) < 0 || *ns == 0)
		return bad(l, v,
			   "'within' must be a duration like 10s, 500ms or "
			   "2m, not '%s'",
			   v->str);
	return 0;
}

/* A map of conditions only (a sequence step, or the body of an allow
 * entry minus its own keys). */
static int step(struct ld *l, const struct yn *m, struct cond *c)
{
	if (m->type != YN_MAP)
		return bad(l, m,
			   "a sequence step must be a mapping of "
			   "conditions");
	for (size_t i = 0; i + 1 < m->nkids; i += 2) {
		const struct yn *k = m->kids[i], *v = m->kids[i + 1];
		int rc;

		if (k->type != YN_SCALAR)
			return bad(l, k, "keys must be plain names");
		rc = cond_key(l, k->str, v, c);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return bad(
				l, k,
				"unknown condition '%s' (conditions: " COND_KEYS
				")",
				k->str);
	}
	if (cond_empty(c))
		return bad(l, m, "a sequence step needs a condition");
	return 0;
}

static void rule_free(struct rule *r)
{
	if (!r)
		return;
	ct_cond_free(&r->c);
	for (size_t i = 0; i < r->nsteps; i++)
		ct_cond_free(&r->steps[i]);
	free(r->steps);
	free(r->id);
	free(r->description);
	free(r->file);
	free(r->allows);
	free(r);
}

static void allow_free(struct allow *a)
{
	if (!a)
		return;
	ct_cond_free(&a->c);
	free(a->rule);
	free(a->file);
	free(a);
}

static int threshold(struct ld *l, const struct yn *v, struct rule *r)
{
	if (v->type != YN_MAP)
		return bad(l, v,
			   "'threshold' must be a mapping with count, "
			   "within and per");
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct yn *k = v->kids[i], *x = v->kids[i + 1];
		int rc = 0;

		if (k->type != YN_SCALAR)
			return bad(l, k, "keys must be plain names");
		if (strcmp(k->str, "count") == 0) {
			char *end;
			unsigned long n;

			rc = want_scalar(l, x, "count");
			if (rc < 0)
				return rc;
			errno = 0;
			n = strtoul(x->str, &end, 10);
			if (errno || *end || end == x->str || n < 2 ||
			    n > COUNT_MAX)
				return bad(l, x,
					   "'count' must be a number from 2 "
					   "to %u",
					   COUNT_MAX);
			r->count = (uint32_t)n;
		} else if (strcmp(k->str, "within") == 0) {
			rc = duration(l, x, &r->within);
		} else if (strcmp(k->str, "per") == 0) {
			rc = scope(l, x, &r->per);
		} else {
			return bad(l, k,
				   "unknown key '%s' in threshold (count, "
				   "within, per)",
				   k->str);
		}
		if (rc < 0)
			return rc;
	}
	if (!r->count)
		return bad(l, v, "'threshold' needs a count");
	return 0;
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ID_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

/* A rule's description, invalid UTF-8 escaped.  ct_utf8_escape() keeps
 * ASCII as it is, and descriptions are nearly always ASCII: a plain copy
 * then, without its decoding (a tenth of loading the shipped rules,
 * regular expressions aside). */
static char *description(const char *s)
{
	size_t n = 0;

	while (s[n] && !((unsigned char)s[n] & 0x80))
		n++;
	return s[n] ? ct_utf8_escape(s, n + strlen(s + n)) : strdup(s);
}

static int rule(struct ld *l, const struct yn *m, struct rule **out)
{
	struct rule *r;
	const struct yn *seq = NULL, *thr = NULL, *within = NULL, *per = NULL;
	int rc = 0;

	*out = NULL;
	if (m->type != YN_MAP)
		return bad(l, m,
			   "a rule must be a mapping (id, severity, "
			   "description, conditions)");
	r = calloc(1, sizeof(*r));
	if (!r)
		return CT_ENOMEM;
	r->line = m->line;
	r->file = strdup(l->file);
	if (!r->file) {
		rc = CT_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i + 1 < m->nkids; i += 2) {
		const struct yn *k = m->kids[i], *v = m->kids[i + 1];
		const char *key = k->str;

		if (k->type != YN_SCALAR) {
			rc = bad(l, k, "keys must be plain names");
			goto fail;
		}
		if (strcmp(key, "id") == 0) {
			rc = want_scalar(l, v, key);
			if (rc == 0 && r->id)
				rc = bad(l, v, "'id' given twice");
			if (rc == 0 && !valid_id(v->str))
				rc = bad(l, v,
					 "bad rule id '%.80s' (1-64 letters, "
					 "digits, '-', '_' or '.')",
					 v->str);
			if (rc == 0 && !(r->id = strdup(v->str)))
				rc = CT_ENOMEM;
		} else if (strcmp(key, "severity") == 0) {
			rc = want_scalar(l, v, key);
			if (rc == 0) {
				r->severity = ct_severity_parse(v->str);
				if (!r->severity)
					rc = bad(l, v,
						 "unknown severity '%.40s' "
						 "(info, low, medium, high, "
						 "critical)",
						 v->str);
			}
		} else if (strcmp(key, "description") == 0) {
			rc = want_scalar(l, v, key);
			if (rc == 0 && r->description)
				rc = bad(l, v, "'description' given twice");
			if (rc == 0 && !(r->description = description(v->str)))
				rc = CT_ENOMEM;
		} else if (strcmp(key, "sequence") == 0) {
			seq = v;
		} else if (strcmp(key, "threshold") == 0) {
			thr = v;
		} else if (strcmp(key, "within") == 0) {
			within = v;
		} else if (strcmp(key, "per") == 0) {
			per = v;
		} else {
			rc = cond_key(l, key, v, &r->c);
			if (rc > 0)
				rc = bad(l, k,
					 "unknown key '%s' (rule keys: id, "
					 "severity, description, threshold, "
					 "sequence, within, per; "
					 "conditions: " COND_KEYS ")",
					 key);
		}
		if (rc < 0)
			goto fail;
	}
	if (!r->id) {
		rc = bad(l, m, "rule without an 'id'");
		goto fail;
	}
	if (!r->severity) {
		rc = bad(l, m, "rule '%s' has no 'severity'", r->id);
		goto fail;
	}
	if (!r->description) {
		rc = bad(l, m, "rule '%s' has no 'description'", r->id);
		goto fail;
	}
	r->per = SC_PROCESS;
	if (seq && thr) {
		rc = bad(l, seq,
			 "a rule has a sequence or a threshold, not "
			 "both");
		goto fail;
	}
	if (seq) {
		r->type = RT_SEQUENCE;
		if (!cond_empty(&r->c)) {
			rc = bad(l, m,
				 "rule '%s': a sequence rule keeps its "
				 "conditions in its steps",
				 r->id);
			goto fail;
		}
		if (seq->type != YN_SEQ || seq->nkids < 2 ||
		    seq->nkids > SEQ_STEPS_MAX) {
			rc = bad(l, seq,
				 "'sequence' must be a list of 2 to %d steps",
				 SEQ_STEPS_MAX);
			goto fail;
		}
		r->steps = calloc(seq->nkids, sizeof(*r->steps));
		if (!r->steps) {
			rc = CT_ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < seq->nkids; i++) {
			rc = step(l, seq->kids[i], &r->steps[i]);
			r->nsteps = i + 1;
			if (rc < 0)
				goto fail;
		}
		if (within && (rc = duration(l, within, &r->within)) < 0)
			goto fail;
		if (per && (rc = scope(l, per, &r->per)) < 0)
			goto fail;
	} else {
		r->type = thr ? RT_THRESHOLD : RT_EVENT;
		if (within || per) {
			rc = bad(l, within ? within : per,
				 "'%s' belongs to a sequence rule (a "
				 "threshold has its own)",
				 within ? "within" : "per");
			goto fail;
		}
		if (thr && (rc = threshold(l, thr, r)) < 0)
			goto fail;
		if (cond_empty(&r->c)) {
			rc = bad(l, m,
				 "rule '%s' has no condition: it would match "
				 "every event",
				 r->id);
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	rule_free(r);
	return rc;
}

static int allow(struct ld *l, const struct yn *m, struct allow **out)
{
	struct allow *a;
	int rc = 0;

	*out = NULL;
	if (m->type != YN_MAP)
		return bad(l, m,
			   "an allow entry must be a mapping with 'rule' "
			   "and optional conditions");
	a = calloc(1, sizeof(*a));
	if (!a)
		return CT_ENOMEM;
	a->line = m->line;
	if (!(a->file = strdup(l->file))) {
		rc = CT_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i + 1 < m->nkids; i += 2) {
		const struct yn *k = m->kids[i], *v = m->kids[i + 1];

		if (k->type != YN_SCALAR) {
			rc = bad(l, k, "keys must be plain names");
			goto fail;
		}
		if (strcmp(k->str, "rule") == 0) {
			rc = want_scalar(l, v, "rule");
			if (rc == 0 &&
			    (a->rule || !v->str[0] || strlen(v->str) > 256))
				rc = bad(l, v, "bad or repeated 'rule'");
			if (rc == 0 && !(a->rule = strdup(v->str)))
				rc = CT_ENOMEM;
		} else if (strcmp(k->str, "reason") == 0) {
			rc = want_scalar(l, v, "reason");
		} else {
			rc = cond_key(l, k->str, v, &a->c);
			if (rc > 0)
				rc = bad(l, k,
					 "unknown key '%s' in allow entry "
					 "(rule, reason; conditions: " COND_KEYS
					 ")",
					 k->str);
		}
		if (rc < 0)
			goto fail;
	}
	if (!a->rule) {
		rc = bad(l, m,
			 "allow entry without a 'rule' (the rule id, or "
			 "a pattern of ids)");
		goto fail;
	}
	a->any = cond_empty(&a->c);
	*out = a;
	return 0;
fail:
	allow_free(a);
	return rc;
}

int ct_ruleset_new(struct ct_ruleset **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : CT_ENOMEM;
}

void ct_ruleset_free(struct ct_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free(rs->rules[i]);
	for (size_t i = 0; i < rs->nallows; i++)
		allow_free(rs->allows[i]);
	free(rs->rules);
	free(rs->allows);
	free(rs);
}

/* What one file brings, committed to the set only when all of it is
 * good. */
struct pending {
	struct rule **r;
	size_t nr;
	struct allow **a;
	size_t na;
};

static void pending_free(struct pending *p)
{
	for (size_t i = 0; i < p->nr; i++)
		rule_free(p->r[i]);
	for (size_t i = 0; i < p->na; i++)
		allow_free(p->a[i]);
	free(p->r);
	free(p->a);
}

static int compile(struct ld *l, const struct yn *root, struct pending *p)
{
	const struct yn *rules = NULL, *allows = NULL;
	int rc;

	if (!root)
		return 0; /* an empty file (or only comments) */
	if (root->type != YN_MAP)
		return bad(l, root,
			   "a rules file is a mapping with 'rules:' and/or "
			   "'allow:' lists, not %s",
			   type_name(root));
	for (size_t i = 0; i + 1 < root->nkids; i += 2) {
		const struct yn *k = root->kids[i], *v = root->kids[i + 1];

		if (k->type != YN_SCALAR)
			return bad(l, k, "keys must be plain names");
		if (strcmp(k->str, "version") == 0) {
			if (v->type != YN_SCALAR || strcmp(v->str, "1") != 0)
				return bad(l, v,
					   "unsupported version (this ctrace "
					   "reads version 1)");
		} else if (strcmp(k->str, "rules") == 0) {
			rules = v;
		} else if (strcmp(k->str, "allow") == 0) {
			allows = v;
		} else {
			return bad(l, k,
				   "unknown key '%s' (version, rules, allow)",
				   k->str);
		}
	}
	if (rules && rules->type != YN_SEQ)
		return bad(l, rules, "'rules' must be a list of rules");
	if (allows && allows->type != YN_SEQ)
		return bad(l, allows, "'allow' must be a list of entries");
	if (rules && rules->nkids > CT_RULES_MAX)
		return bad(l, rules, "more than %u rules", CT_RULES_MAX);
	if (rules && rules->nkids) {
		p->r = calloc(rules->nkids, sizeof(*p->r));
		if (!p->r)
			return CT_ENOMEM;
		for (size_t i = 0; i < rules->nkids; i++) {
			rc = rule(l, rules->kids[i], &p->r[p->nr]);
			if (rc < 0)
				return rc;
			for (size_t j = 0; j < p->nr; j++)
				if (strcmp(p->r[j]->id, p->r[p->nr]->id) == 0) {
					rc = bad(l, rules->kids[i],
						 "rule id '%s' already used "
						 "at line %u",
						 p->r[j]->id, p->r[j]->line);
					rule_free(p->r[p->nr]);
					return rc;
				}
			p->nr++;
		}
	}
	if (allows && allows->nkids) {
		if (allows->nkids > CT_RULES_MAX)
			return bad(l, allows, "more than %u allow entries",
				   CT_RULES_MAX);
		p->a = calloc(allows->nkids, sizeof(*p->a));
		if (!p->a)
			return CT_ENOMEM;
		for (size_t i = 0; i < allows->nkids; i++) {
			rc = allow(l, allows->kids[i], &p->a[p->na]);
			if (rc < 0)
				return rc;
			p->na++;
		}
	}
	return 0;
}

static int commit(struct ct_ruleset *rs, struct pending *p)
{
	size_t nr = rs->n + p->nr, na = rs->nallows + p->na;

	if (nr > CT_RULES_MAX)
		return CT_E2BIG;
	if (nr > rs->cap) {
		struct rule **v = realloc(rs->rules, nr * sizeof(*v));

		if (!v)
			return CT_ENOMEM;
		rs->rules = v;
		rs->cap = nr;
	}
	if (na > rs->acap) {
		struct allow **v = realloc(rs->allows, na * sizeof(*v));

		if (!v)
			return CT_ENOMEM;
		rs->allows = v;
		rs->acap = na;
	}
	for (size_t i = 0; i < p->nr; i++) {
		size_t j;

		for (j = 0; j < rs->n; j++)
			if (strcmp(rs->rules[j]->id, p->r[i]->id) == 0)
				break;
		if (j < rs->n) {
			rule_free(rs->rules[j]);
			rs->rules[j] = p->r[i];
		} else {
			rs->rules[rs->n++] = p->r[i];
		}
	}
	for (size_t i = 0; i < p->na; i++)
		rs->allows[rs->nallows++] = p->a[i];
	free(p->r);
	free(p->a);
	memset(p, 0, sizeof(*p));
	return 0;
}

int ct_ruleset_load_text(struct ct_ruleset *rs, const char *name,
			 const char *text, size_t len, char *errbuf,
			 size_t errlen)
{
	struct ld l = { .file = name, .err = errbuf, .errlen = errlen };
	struct pending p = { 0 };
	struct ytree tree;
	int rc;

	if (errlen)
		errbuf[0] = '\0';
	rc = ct_yaml_parse(name, text, len, &tree, errbuf, errlen);
	if (rc < 0)
		goto out;
	rc = compile(&l, tree.root, &p);
	ct_yaml_free(&tree);
	if (rc == 0) {
		rc = commit(rs, &p);
		if (rc == CT_E2BIG)
			snprintf(errbuf, errlen,
				 "%s: more than %u rules in all", name,
				 CT_RULES_MAX);
	}
	pending_free(&p);
out:
	if (rc == CT_ENOMEM && errlen && !errbuf[0])
		snprintf(errbuf, errlen, "%s: out of memory", name);
	return rc;
}

int ct_ruleset_load_file(struct ct_ruleset *rs, const char *path, char *errbuf,
			 size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errbuf, errlen, "%s: cannot open: %s", path,
			 strerror(errno));
		return CT_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s: not a regular file", path);
		close(fd);
		return CT_EIO;
	}
	if (st.st_size > (off_t)CT_RULES_FILE_MAX) {
		snprintf(errbuf, errlen,
			 "%s: file too large (the limit is 4 MiB)", path);
		close(fd);
		return CT_E2BIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return CT_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	rc = ct_ruleset_load_text(rs, path, buf, got, errbuf, errlen);
	free(buf);
	return rc;
}

size_t ct_ruleset_count(const struct ct_ruleset *rs)
{
	return rs->n;
}

static bool allow_applies(const struct allow *a, const char *id)
{
	return fnmatch(a->rule, id, 0) == 0;
}

int ct_ruleset_rule(const struct ct_ruleset *rs, size_t i,
		    struct ct_rule_info *out)
{
	const struct rule *r;

	if (i >= rs->n)
		return CT_ENOTFOUND;
	r = rs->rules[i];
	memset(out, 0, sizeof(*out));
	out->id = r->id;
	out->description = r->description;
	out->file = r->file;
	out->line = r->line;
	out->severity = r->severity;
	out->kind = r->type == RT_SEQUENCE    ? "sequence"
		    : r->type == RT_THRESHOLD ? "threshold"
					      : "event";
	for (size_t j = 0; j < rs->nallows; j++)
		if (allow_applies(rs->allows[j], r->id)) {
			out->allows++;
			out->silenced |= rs->allows[j]->any;
		}
	return 0;
}

static const char *const sev_names[] = { "?",	   "info", "low",
					 "medium", "high", "critical" };

const char *ct_severity_name(int sev)
{
	return sev >= CT_SEV_INFO && sev <= CT_SEV_CRITICAL ? sev_names[sev]
							    : "?";
}

int ct_severity_parse(const char *name)
{
	for (int i = CT_SEV_INFO; i <= CT_SEV_CRITICAL; i++)
		if (strcmp(name, sev_names[i]) == 0)
			return i;
	return CT_SEV_NONE;
}

/* --- finding the shipped rules --- */

static bool readable(const char *p)
{
	return access(p, R_OK) == 0;
}

int ct_rules_default_path(char *buf, size_t cap)
{
	const char *env = getenv("CTRACE_RULES_DEFAULT");
	char exe[PATH_MAX], cand[PATH_MAX * 2];
	ssize_t n;

	if (env && *env) {
		if (!readable(env) || strlen(env) >= cap)
			return CT_ENOTFOUND;
		snprintf(buf, cap, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		const char *rel[] = {
			"rules/default.yaml",
#ifdef CT_RULES_RELPATH
			CT_RULES_RELPATH "/default.yaml",
#endif
			"../share/ctrace/rules/default.yaml",
			"../rules/default.yaml",
		};

		if (slash)
			*slash = '\0';
		for (size_t i = 0; slash && i < sizeof(rel) / sizeof(rel[0]);
		     i++) {
			snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
			if (readable(cand) && realpath(cand, buf) &&
			    strlen(buf) < cap)
				return 0;
		}
	}
#ifdef CT_RULES_SRCDIR
	snprintf(cand, sizeof(cand), "%s/default.yaml", CT_RULES_SRCDIR);
	if (readable(cand) && strlen(cand) < cap) {
		snprintf(buf, cap, "%s", cand);
		return 0;
	}
#endif
	return CT_ENOTFOUND;
}

int ct_ruleset_load_default(struct ct_ruleset *rs, char *errbuf, size_t errlen)
{
	char path[PATH_MAX];

	if (ct_rules_default_path(path, sizeof(path)) < 0) {
		snprintf(errbuf, errlen,
			 "cannot find the shipped rules (default.yaml); "
			 "reinstall ctrace or set CTRACE_RULES_DEFAULT");
		return CT_ENOTFOUND;
	}
	return ct_ruleset_load_file(rs, path, errbuf, errlen);
}

int ct_ruleset_load_all(struct ct_ruleset *rs, bool with_default,
			const char *const *files, size_t nfiles, char *errbuf,
			size_t errlen)
{
	int rc = 0;

	if (with_default)
		rc = ct_ruleset_load_default(rs, errbuf, errlen);
	for (size_t i = 0; rc == 0 && i < nfiles; i++)
		rc = ct_ruleset_load_file(rs, files[i], errbuf, errlen);
	return rc;
}
