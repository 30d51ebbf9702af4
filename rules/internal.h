/* What the rule engine's files share: the YAML tree, the compiled rule
 * and its conditions.  Not for use outside rules/. */
#ifndef CT_RULES_INTERNAL_H
#define CT_RULES_INTERNAL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "rules/rules.h"

/* --- YAML tree (yaml.c) --- */
enum yn_type { YN_SCALAR = 1, YN_SEQ, YN_MAP };

struct yn {
	enum yn_type type;
	unsigned line; /* 1-based */
	char *str; /* scalar value (NUL-terminated) */
	bool quoted; /* scalar was quoted: never a bool/number */
	struct yn **kids; /* SEQ: items; MAP: key, value, key, value... */
	size_t nkids;
};

/* A parsed document: its root (NULL for an empty document) and the memory
 * all of its nodes and strings are in (yaml.c). */
struct ytree {
	struct yn *root;
	struct ychunk *mem;
	size_t hint; /* size of the first block */
};

/* Parse text into t.  Returns 0 or CT_EFORMAT/E2BIG/CT_ENOMEM with
 * "NAME:LINE: problem" in err (t then holds nothing to free). */
int ct_yaml_parse(const char *name, const char *text, size_t len,
		  struct ytree *t, char *err, size_t errlen);
/* Free the whole tree at once. */
void ct_yaml_free(struct ytree *t);

/* --- conditions (match.c) --- */

/* An expanded pattern, classified when bound so that most subjects are
 * decided without fnmatch(3): GL_LIT is a plain string, GL_STAR holds one
 * `*` and nothing else special (pre bytes before it, suf after), GL_MID
 * is `*TEXT*`, GL_FN anything else, whose literal head (pre bytes) and
 * tail (suf bytes) are compared before fnmatch confirms. */
enum { GL_FN = 0, GL_LIT, GL_STAR, GL_MID };
struct glob {
	const char *s; /* the expanded pattern (borrowed from exp) */
	uint32_t len, pre, suf;
	uint8_t type;
	bool abs; /* starts with '/' (how `args` chooses the subject) */
	/* the first and last (up to) 8 literal bytes as words, with masks,
	 * compared with a subject's first and last 8 bytes at once */
	uint64_t hw, hm, tw, tm;
	/* GL_MID: where in TEXT its rarest byte (in paths) is, which
	 * memchr looks for; whether TEXT's first byte is rarer than its
	 * second */
	uint32_t rare;
	bool pair_a;
};

/* A pattern list: an item matches when any positive pattern matches and
 * no negative ("!...") one does.  Patterns may hold ${VAR}s; bind()
 * expands them into exp (one pattern can expand to several) and, all
 * patterns together, into gl: the positive ones' globs first. */
struct pat {
	char *raw;
	bool neg;
	char **exp;
	size_t nexp;
};
struct patlist {
	struct pat *v;
	size_t n;
	bool raw_in_v; /* the raw strings are in v's block (else each is
			* allocated on its own) */
	size_t npos; /* positive patterns (expanded or not) */
	/* [0, ngpos) positive, the last nmid of them `*TEXT*`;
	 * [ngpos, ngl) negative */
	struct glob *gl;
	size_t ngl, ngpos, nmid;
	/* what every positive pattern asks of a subject's first and last 8
	 * bytes, of its last byte (every one but the `*TEXT*` ones: those
	 * are all a subject failing `last` may still match) and of its byte
	 * number at (0 when it is shorter), set by bind: a subject failing
	 * it matches none of them */
	uint64_t hw, hm, tw, tm;
	uint64_t last[4]; /* bit per last byte; all ones: any */
	uint64_t atset[4]; /* bit per byte at `at`; all ones: any */
	uint32_t at;
	/* the byte pair every `*TEXT*` pattern opens with, when they share
	 * one (mid_pair_a: which byte of it memchr looks for) */
	bool mid_pair_on, mid_pair_a;
	unsigned char mid_pair[2];
};

/* A string patterns are matched against, with what is derived from it
 * once however many patterns look at it: whether it can be a path at all
 * (no NUL, at most CT_PATH_MAX bytes), its first and last 8 bytes as
 * words (zero-padded when shorter), and where the byte pairs `*TEXT*`
 * patterns open with first occur (most such patterns of a rule set open
 * with the same pair, "/."). */
#define SUBJ_PAIRS 2
struct subj {
	const char *p;
	uint32_t len;
	bool ok; /* path-like */
	bool cstr; /* p[len] is a NUL */
	uint8_t npairs;
	uint64_t h, t;
	struct {
		uint16_t pair; /* first byte << 8 | second */
		int32_t at; /* first offset, or -1 */
	} pairs[SUBJ_PAIRS];
};

/* A flag group: present when any alternative appears in argv. */
struct flaggroup {
	char **alt;
	size_t n;
};

struct portrange {
	uint32_t lo, hi;
};

struct cidr {
	int family; /* 4 or 6 */
	unsigned char net[16];
	unsigned bits;
	bool neg;
};

enum { RES_ANY = 0, RES_OK, RES_FAIL };
enum { ACC_ANY = 0, ACC_READ, ACC_WRITE };

struct cond {
	uint32_t kinds; /* bit per enum ct_kind; 0 = any */
	int result;
	int access;
	struct patlist path, path2, target, exe, argv0, args, subcommand, under;
	struct patlist image; /* the acting process's image name */
	uint32_t *modes; /* chmod/open mode: all bits of one of these */
	size_t nmodes;
	struct flaggroup *flags;
	size_t nflags;
	struct flaggroup *noflags; /* none of these may be present */
	size_t nnoflags;
	regex_t *argv_re;
	regex_t *shell_re;
	struct patlist addr;
	struct portrange *ports;
	size_t nports;
	struct cidr *cidrs;
	size_t ncidrs, ncidr_pos;
	bool written; /* the path/exe was written earlier in the session */
	bool has_argv_cond; /* conditions that need argv */
	uint32_t need; /* CT_F_* fields the event must have (set by bind) */
};

enum rule_type { RT_EVENT = 1, RT_THRESHOLD, RT_SEQUENCE };
enum scope { SC_PROCESS = 1, SC_COMMAND, SC_SESSION };

#define SEQ_STEPS_MAX 8

struct allow {
	char *rule; /* id or fnmatch pattern of ids */
	struct cond c;
	bool any; /* no conditions: the whole rule is silenced */
	char *file;
	unsigned line;
};

struct rule {
	char *id, *description, *file;
	unsigned line;
	int severity;
	enum rule_type type;
	struct cond c; /* RT_EVENT, RT_THRESHOLD */
	/* RT_SEQUENCE: nsteps of them, allocated apart (a struct cond is
	 * ~2 KiB; an array of SEQ_STEPS_MAX in every rule was most of what
	 * loading the shipped rules zeroed) */
	struct cond *steps;
	size_t nsteps;
	uint32_t count; /* RT_THRESHOLD */
	uint64_t within; /* ns; 0 = unlimited */
	enum scope per;
	/* bound by the evaluator: */
	struct allow **allows;
	size_t nallows;
	bool silenced;
};

struct ct_ruleset {
	struct rule **rules;
	size_t n, cap;
	struct allow **allows;
	size_t nallows, acap;
};

/* Variables patterns may use. */
struct vars {
	const char *workspace, *home, *ctrace_home;
	const char *tmp[4];
	size_t ntmp;
};

/* Expand the patterns of c against v (and compute c->need).  Returns 0
 * or CT_ENOMEM. */
int ct_cond_bind(struct cond *c, const struct vars *v);
void ct_cond_free(struct cond *c);

/* The event's strings that patterns look at (struct evctx, subj). */
enum { SJ_PATH = 0, SJ_PATH2, SJ_EXE, SJ__COUNT };

/* What the matcher needs to know about an event beyond the event.  One
 * evctx describes one event: the matcher caches what it derives from the
 * event (its paths as subjects, its argv tokens, the ancestors) in it,
 * for the next condition. */
struct evctx {
	const struct ct_event *ev;
	const char *cwd; /* the process's cwd, for relative args; may be "" */
	const char *image; /* basename of the process's current image */
	/* basenames of the ancestors' images, nearest first; when
	 * ancestors is set, filled by it on first use instead */
	const char *const *anc;
	size_t nanc;
	const char *const *(*ancestors)(void *arg, size_t *n);
	bool (*was_written)(void *arg, const char *p, size_t len);
	void *warg; /* for ancestors and was_written */
	/* the matcher's (zero-initialise) */
	signed char argv_state; /* 0 not loaded, 1 loaded, -1 none */
	bool anc_done;
	uint8_t subj_done; /* bit per subject below that is set */
	struct subj subj[SJ__COUNT];
};

/* The class of an event: its kind, whether it succeeded, whether it
 * writes (docs/rules.md, `access`) and which of the fields conditions
 * need it has.  Whether a condition can hold for an event depends on
 * these first; events of one class all pass or all fail that part. */
#define CT_EVCLASS_COUNT ((uint32_t)CT_KIND__COUNT << 8)
uint32_t ct_event_class(const struct ct_event *ev);
/* Whether c's kind, result, access and needed fields admit class cls. */
bool ct_cond_class_ok(const struct cond *c, uint32_t cls);
/* ct_cond_match() for an event whose class ct_cond_class_ok() admitted:
 * the rest of the conditions. */
bool ct_cond_match_rest(const struct cond *c, struct evctx *x);
/* Whether all of c's conditions hold for the event of x. */
bool ct_cond_match(const struct cond *c, struct evctx *x);

/* Set s to the event's path, path2 or exe (which: SJ_*). */
void ct_subj_event(struct subj *s, const struct ct_event *ev, unsigned which);

/* The event's path, path2 or exe (which: SJ_*) as a subject, made once
 * per evctx. */
static inline struct subj *ct_evctx_subj(struct evctx *x, unsigned which)
{
	if (!(x->subj_done & (1u << which))) {
		ct_subj_event(&x->subj[which], x->ev, which);
		x->subj_done |= (uint8_t)(1u << which);
	}
	return &x->subj[which];
}

/* Whether s's last byte is one that a positive pattern of pl other than
 * a `*TEXT*` one can end a match with. */
static inline bool ct_patlist_last_ok(const struct patlist *pl,
				      const struct subj *s)
{
	unsigned char c = s->len ? (unsigned char)s->p[s->len - 1] : 0;

	return pl->last[c >> 6] & (1ull << (c & 63));
}

/* The first offset of byte pair (a, b) in s, or -1 (memchr looks for a
 * when a_rarer, else for b); remembered in s for the next that asks. */
int32_t ct_subj_pair_at(struct subj *s, unsigned char a, unsigned char b,
			bool a_rarer);

/* What a subject must pass for pl to match it (a necessary condition,
 * checked in a few instructions): path-like, and, when pl has positive
 * patterns, what they all ask of its first and last bytes, or, for the
 * `*TEXT*` ones, the byte pair they all open with.  The evaluator tests
 * it before it calls a rule's condition at all. */
static inline bool ct_patlist_may_match(const struct patlist *pl,
					struct subj *s)
{
	unsigned char a;

	if (!s->ok)
		return false;
	if (!pl->npos)
		return true;
	a = pl->at < s->len ? (unsigned char)s->p[pl->at] : 0;
	if ((s->h & pl->hm) != pl->hw || (s->t & pl->tm) != pl->tw ||
	    !(pl->atset[a >> 6] & (1ull << (a & 63))))
		return false;
	if (ct_patlist_last_ok(pl, s))
		return true;
	/* only a `*TEXT*` pattern can match now */
	return pl->nmid && (!pl->mid_pair_on ||
			    ct_subj_pair_at(s, pl->mid_pair[0], pl->mid_pair[1],
					    pl->mid_pair_a) >= 0);
}

bool ct_patlist_match(const struct patlist *pl, const char *s, size_t len);
/* True when s matches one of the expanded patterns of pl, ignoring
 * negation: used to decide which writes are worth remembering. */
bool ct_patlist_any(const struct patlist *pl, const char *s, size_t len);

/* Parse an address "a.b.c.d:port", "[v6]:port"; false for unix:. */
bool ct_addr_parse(const char *s, size_t len, int *family, unsigned char ip[16],
		   uint32_t *port);

#endif
