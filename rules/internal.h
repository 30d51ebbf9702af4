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

/* Parse text into a tree (*out NULL for an empty document).  Returns 0 or
 * CT_EFORMAT/E2BIG/CT_ENOMEM with "NAME:LINE: problem" in err. */
int ct_yaml_parse(const char *name, const char *text, size_t len,
		  struct yn **out, char *err, size_t errlen);
void ct_yaml_free(struct yn *n);

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
	/* the first and last (up to) 8 literal bytes as words, with masks,
	 * compared with a subject's first and last 8 bytes at once */
	uint64_t hw, hm, tw, tm;
};

/* A pattern list: an item matches when any positive pattern matches and
 * no negative ("!...") one does.  Patterns may hold ${VAR}s; bind()
 * expands them into exp (one pattern can expand to several) and g. */
struct pat {
	char *raw;
	bool neg;
	char **exp;
	struct glob *g; /* one per exp */
	size_t nexp;
};
struct patlist {
	struct pat *v;
	size_t n;
	size_t npos; /* positive patterns */
	/* what every positive pattern asks of a subject's first and last 8
	 * bytes and of its last byte (set by bind): a subject failing it
	 * matches none of them */
	uint64_t hw, hm, tw, tm;
	uint64_t last[4]; /* bit per last byte; all ones: any */
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
	struct cond steps[SEQ_STEPS_MAX]; /* RT_SEQUENCE */
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

/* What the matcher needs to know about an event beyond the event.  One
 * evctx describes one event: the matcher caches what it derives from the
 * event (its argv tokens, the ancestors) in it, for the next condition. */
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
};

bool ct_cond_match(const struct cond *c, struct evctx *x);
bool ct_patlist_match(const struct patlist *pl, const char *s, size_t len);
/* True when s matches one of the expanded patterns of pl, ignoring
 * negation: used to decide which writes are worth remembering. */
bool ct_patlist_any(const struct patlist *pl, const char *s, size_t len);

/* Parse an address "a.b.c.d:port", "[v6]:port"; false for unix:. */
bool ct_addr_parse(const char *s, size_t len, int *family, unsigned char ip[16],
		   uint32_t *port);

#endif
