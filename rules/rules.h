/* The rule engine: rules files (YAML, docs/rules.md) compiled into a rule
 * set, and the evaluation of a stored session against it.
 *
 * A rule set is built by loading one or more files; a rule whose id is
 * already loaded replaces the earlier one (a project's policy overrides a
 * shipped rule that way), and `allow` entries silence a rule, wholly or
 * for the events they describe.
 *
 * Evaluation streams the session's events once, in seq order, with the
 * process table for ancestry (at once over a stored session, or in pieces
 * while it is being collected: struct ct_rules_stream); memory grows with
 * the number of processes and of violations, not of events.  Violations hold
 * at most CT_RULES_SEQ_MAX event seqs each and a session at most
 * CT_RULES_VIOLATIONS_MAX violations; what does not fit is counted.
 *
 * Not thread-safe: one thread uses a rule set at a time.
 */
#ifndef CT_RULES_RULES_H
#define CT_RULES_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer/model.h"
#include "collector/store.h"

enum ct_severity {
	CT_SEV_NONE = 0,
	CT_SEV_INFO = 1,
	CT_SEV_LOW = 2,
	CT_SEV_MEDIUM = 3,
	CT_SEV_HIGH = 4,
	CT_SEV_CRITICAL = 5,
};

/* "info", ..., "critical"; "?" when out of range. */
const char *ct_severity_name(int sev);
/* Severity from its name, or CT_SEV_NONE when it is not one. */
int ct_severity_parse(const char *name);

/* Limits a rules file must respect; beyond them it is refused, so a huge
 * or hostile file cannot exhaust memory or time. */
#define CT_RULES_FILE_MAX (4u << 20) /* bytes */
#define CT_RULES_NODES_MAX 200000u /* YAML nodes in one file */
#define CT_RULES_DEPTH_MAX 16u /* YAML nesting */
#define CT_RULES_MAX 10000u /* rules in one set */
/* Limits of an evaluation. */
#define CT_RULES_SEQ_MAX 1000u /* seqs kept per violation */
#define CT_RULES_VIOLATIONS_MAX 100000u /* violations kept per session */

struct ct_ruleset;

/* An empty rule set (owned by caller; free with ct_ruleset_free).
 * Returns 0 or CT_ENOMEM. */
int ct_ruleset_new(struct ct_ruleset **out);
void ct_ruleset_free(struct ct_ruleset *rs);

/* Load the rules file at path into rs.  Returns 0, or CT_EFORMAT (the
 * file is not a valid rules file), CT_EIO (it cannot be read), E2BIG (over
 * a limit), CT_ENOMEM; then errbuf holds one line "FILE:LINE: problem"
 * (or "FILE: problem" when no line applies) and rs is unchanged. */
int ct_ruleset_load_file(struct ct_ruleset *rs, const char *path, char *errbuf,
			 size_t errlen);
/* Same for text in memory; name stands for the file in messages. */
int ct_ruleset_load_text(struct ct_ruleset *rs, const char *name,
			 const char *text, size_t len, char *errbuf,
			 size_t errlen);

/* A loaded rule as `ctrace rules list` shows it.  Strings borrowed, valid
 * until rs is freed or loads more. */
struct ct_rule_info {
	const char *id;
	const char *description;
	const char *file; /* where it was defined */
	unsigned line;
	int severity; /* enum ct_severity */
	const char *kind; /* "event", "threshold" or "sequence" */
	bool silenced; /* an allow entry without conditions names it */
	unsigned allows; /* allow entries that apply to it */
};
size_t ct_ruleset_count(const struct ct_ruleset *rs);
/* Rule number i (load order, replaced rules keep their place).  Returns 0
 * or CT_ENOTFOUND. */
int ct_ruleset_rule(const struct ct_ruleset *rs, size_t i,
		    struct ct_rule_info *out);

/* The shipped rules file: $CTRACE_RULES_DEFAULT when set, else
 * rules/default.yaml beside the executable (build tree), else where
 * `cmake --install` puts it relative to the executable, else the source
 * tree.  Writes the path into buf; returns 0 or CT_ENOTFOUND. */
int ct_rules_default_path(char *buf, size_t cap);

/* Load the shipped rules into rs (see ct_rules_default_path). */
int ct_ruleset_load_default(struct ct_ruleset *rs, char *errbuf, size_t errlen);

/* Load the shipped rules (when with_default) and then each of files in
 * order (later ids replace earlier ones).  Errors as for
 * ct_ruleset_load_file(). */
int ct_ruleset_load_all(struct ct_ruleset *rs, bool with_default,
			const char *const *files, size_t nfiles, char *errbuf,
			size_t errlen);

/* One violation: a rule broken by one or more events of one process (or,
 * for thresholds and sequences, of one scope). */
struct ct_violation {
	size_t rule; /* index for ct_ruleset_rule() */
	const char *rule_id; /* borrowed from the rule set */
	int severity;
	uint32_t proc; /* process instance (store num) of the first event */
	uint64_t *seq; /* events involved, in seq order */
	uint32_t nseq;
	uint32_t seq_dropped; /* involved events beyond CT_RULES_SEQ_MAX */
	char *summary; /* one line, valid UTF-8, terminal-safe */
};

/* What an evaluation found.  Owned by caller: release with
 * ct_audit_release(). */
struct ct_audit {
	uint64_t session;
	struct ct_violation *v; /* in order of first event */
	size_t n;
	uint64_t dropped; /* violations beyond CT_RULES_VIOLATIONS_MAX */
	uint64_t events; /* events evaluated */
	uint64_t undecoded; /* records that did not decode (skipped) */
	uint64_t counts[CT_SEV_CRITICAL + 1]; /* violations by severity */
	/* Event -> violation index, sorted by seq (for ct_audit_event). */
	struct ct_audit_hit {
		uint64_t seq;
		uint32_t violation;
	} * hits;
	size_t nhits;
};

/* Evaluate session (read through t) against rs.  The variables of path
 * patterns are bound here: ${WORKSPACE} to the session's cwd, ${HOME} to
 * $HOME of this process, ${TMP} to $TMPDIR (else /tmp), /var/tmp and
 * /dev/shm, ${CTRACE_HOME} to
 * store_dir (may be NULL).  Returns 0, CT_ENOTFOUND (no such session),
 * CT_ENOMEM or the store's error. */
int ct_rules_eval(struct ct_ruleset *rs, struct ct_rtxn *t, uint64_t session,
		  const char *store_dir, struct ct_audit *out);
void ct_audit_release(struct ct_audit *a);

/* Incremental evaluation, for a session still being collected (ctrace
 * run): a stream holds the state of the pass (per process images, cwds
 * and hits; threshold windows; sequence progress; written paths) between
 * feeds.  Each feed evaluates the events committed since the last one;
 * finishing evaluates the rest.  The result is exactly ct_rules_eval()'s
 * on the finished session: ct_rules_eval() is a stream fed once.  (Should
 * the collector have changed the parent of a process the stream already
 * used, which can happen when a child's first events precede its parent's
 * fork record, finishing evaluates the session again from its start.)
 *
 * The stream binds rs to the session's variables (as ct_rules_eval
 * does): rs must outlive the stream, and not be loaded into or evaluated
 * otherwise until the stream is freed.  No borrowed pointers are kept
 * from the transactions given to it. */
struct ct_rules_stream;

/* A stream over session (read through t for its cwd and processes).
 * Returns 0, CT_ENOTFOUND (no such session), CT_ENOMEM or the store's
 * error.  Owned by caller: free with ct_rules_stream_free(). */
int ct_rules_stream_new(struct ct_ruleset *rs, struct ct_rtxn *t,
			uint64_t session, const char *store_dir,
			struct ct_rules_stream **out);
/* Evaluate the events of the session that t shows after those fed
 * before, at most max of them (0: all; a caller that must get back to
 * other work soon bounds a feed that way).  Returns how many were fed
 * (>= 0), or CT_ENOMEM or the store's error, after which the stream only
 * answers with that error. */
int64_t ct_rules_feed(struct ct_rules_stream *st, struct ct_rtxn *t,
		      uint64_t max);
/* Highest seq fed so far (0: none). */
uint64_t ct_rules_fed_seq(const struct ct_rules_stream *st);

/* The parent of process instance num as the caller knows it now (0:
 * none). */
typedef uint32_t (*ct_rules_parent_fn)(void *arg, uint32_t num);
/* Let st be offered events by the collector that stores them, which
 * tells parents through fn (called with arg). */
void ct_rules_stream_parents(struct ct_rules_stream *st, ct_rules_parent_fn fn,
			     void *arg);
/* Evaluate event seq of instance proc, which the collector has just
 * decoded and is storing under that seq, without reading it back from the
 * store.  Taken only when seq is the next the stream expects (returns
 * true); otherwise (the caller skipped some, e.g. while it was busy) the
 * stream catches up with ct_rules_feed() from the store, once those are
 * committed, and offers match again from then on.  A parent the
 * collector learns later is handled as for feeds: ct_rules_finish()
 * checks the store's final table and evaluates again if it differs. */
bool ct_rules_offer(struct ct_rules_stream *st, uint64_t seq, uint32_t proc,
		    const struct ct_event *ev);
/* Feed the rest of the session (t should see it complete) and hand the
 * result to out (owned by caller, ct_audit_release()).  Returns 0, or
 * an error as ct_rules_feed() (out is then empty).  Afterwards st can
 * only be freed. */
int ct_rules_finish(struct ct_rules_stream *st, struct ct_rtxn *t,
		    struct ct_audit *out);
void ct_rules_stream_free(struct ct_rules_stream *st);

/* Violations that event seq is part of: their indexes into a->v (up to
 * cap written to out).  Returns how many there are. */
size_t ct_audit_event(const struct ct_audit *a, uint64_t seq, uint32_t *out,
		      size_t cap);

/* Violations at or above min_sev. */
uint64_t ct_audit_count(const struct ct_audit *a, int min_sev);

#endif
