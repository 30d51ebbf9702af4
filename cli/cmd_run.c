/* ctrace run: start a command with the shim preloaded, collect its ring
 * into the store while it runs, and exit with its status.
 *
 * ctrace run is a child subreaper, so orphaned descendants are reparented
 * to it and their exits are still seen.  It never touches stdio or the
 * terminal: the command stays in ctrace's process group, in the
 * foreground, and reads the same stdin.
 */
#include "cli/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/supervisor.h"
#include "common/codec.h"
#include "common/elf.h"
#include "common/error.h"
#include "common/ring.h"
#include "common/static.h"
#include "rules/rules.h"

extern char **environ;

/* After the command exits, wait this long for descendants it left behind
 * before closing the session (they keep running; their later events are
 * not part of the session). */
#define ORPHAN_GRACE_NS 500000000ull
/* Where in the ring's header page ctrace run writes the store folder, so
 * a later ctrace recovers a ring only into the store it belongs to. */
#define RING_STORE_OFF 2048
_Static_assert(sizeof(struct ct_ring_hdr) <= RING_STORE_OFF,
	       "the ring header reaches the store's path");

static volatile sig_atomic_t pending_sig;
/* The signal the command died of (0: it exited), for die_of(). */
static int run_signal;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* A terminal's ^C or ^\ already reached the whole foreground group,
	 * the command included: do not send it twice. */
	if ((sig == SIGINT || sig == SIGQUIT) && si && si->si_code == SI_KERNEL)
		return;
	pending_sig = sig;
}

static const int forwarded[] = { SIGINT, SIGQUIT, SIGTERM,
				 SIGHUP, SIGUSR1, SIGUSR2 };

/* Catch the forwarded signals, but leave ignored ones ignored: the command
 * inherits an ignored disposition, while a handler is reset by exec. */
static void install_handlers(void)
{
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		struct sigaction old, sa = { 0 };
		if (sigaction(forwarded[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(forwarded[i], &sa, NULL);
	}
}

/* The shim: beside this executable (build tree), or where cmake --install
 * puts it relative to the binary (CT_SHIM_RELPATH). */
static int find_shim(char *buf, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("CTRACE_SHIM_PATH");

	if (env && *env) {
		if (access(env, R_OK) != 0 || strlen(env) >= cap)
			return -1;
		strcpy(buf, env);
		return 0;
	}
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = 0;
	const char *cands[] = { "libctrace-preload.so",
#ifdef CT_SHIM_RELPATH
				CT_SHIM_RELPATH "/libctrace-preload.so",
#endif
				"../lib/ctrace/libctrace-preload.so" };
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char path[PATH_MAX * 2];
		snprintf(path, sizeof(path), "%s/%s", exe, cands[i]);
		if (access(path, R_OK) == 0 && realpath(path, buf) &&
		    strlen(buf) < cap)
			return 0;
	}
	return -1;
}

/* Seconds since the epoch, then the time within the second in ~1 us
 * steps (20 bits), then 12 random bits.  Ids grow with time, so the
 * store appends a new session's events after the previous one's instead
 * of splitting half-full pages in the middle of the table (runs started
 * in the same second used to get ids in random order). */
static uint64_t new_session_id(void)
{
	struct timespec ts;
	uint16_t rnd = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint16_t)(ct_now_mono() ^ (uint64_t)getpid());
	return (uint64_t)ts.tv_sec << 32 |
	       ((uint64_t)ts.tv_nsec >> 10 & 0xfffff) << 12 | (rnd & 0xfff);
}

/* Read a small file into buf (NUL-terminated, trailing newline cut). */
static bool read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

/* Look up a ref in packed-refs ("<sha> <ref>" lines). */
static bool packed_ref(const char *gitdir, const char *ref, char *out,
		       size_t cap)
{
	char path[PATH_MAX + 16], line[1024];
	bool found = false;

	snprintf(path, sizeof(path), "%s/packed-refs", gitdir);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *sp = strchr(line, ' ');
		if (line[0] != '#' && line[0] != '^' && sp &&
		    strcmp(sp + 1, ref) == 0 && (size_t)(sp - line) < cap) {
			memcpy(out, line, (size_t)(sp - line));
			out[sp - line] = 0;
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* The git branch and commit of the repository containing cwd, read from
 * .git directly: no git process is started for it. */
static void git_info(const char *cwd, char *branch, char *commit, size_t cap)
{
	char dir[PATH_MAX], gitdir[PATH_MAX + 8], head[1024];
	struct stat st;

	branch[0] = commit[0] = 0;
	snprintf(dir, sizeof(dir), "%s", cwd);
	for (;;) {
		snprintf(gitdir, sizeof(gitdir), "%s/.git", dir);
		if (stat(gitdir, &st) == 0)
			break;
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return;
		*slash = 0;
	}
	if (S_ISREG(st.st_mode)) { /* worktree: "gitdir: PATH" */
		char line[PATH_MAX];
		if (!read_small(gitdir, line, sizeof(line)) ||
		    strncmp(line, "gitdir: ", 8) != 0)
			return;
		if (line[8] == '/')
			snprintf(gitdir, sizeof(gitdir), "%s", line + 8);
		else
			snprintf(gitdir, sizeof(gitdir), "%s/%s", dir,
				 line + 8);
	}
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/HEAD", gitdir);
	if (!read_small(path, head, sizeof(head)))
		return;
	if (strncmp(head, "ref: ", 5) != 0) { /* detached */
		snprintf(commit, cap, "%s", head);
		return;
	}
	const char *ref = head + 5;
	if (strncmp(ref, "refs/heads/", 11) == 0)
		snprintf(branch, cap, "%s", ref + 11);
	snprintf(path, sizeof(path), "%s/%s", gitdir, ref);
	if (!read_small(path, commit, cap)) {
		/* a worktree's refs live in the common dir */
		char common[PATH_MAX], base[PATH_MAX * 2];
		snprintf(path, sizeof(path), "%s/commondir", gitdir);
		if (read_small(path, common, sizeof(common))) {
			if (common[0] == '/')
				snprintf(base, sizeof(base), "%s", common);
			else
				snprintf(base, sizeof(base), "%s/%s", gitdir,
					 common);
		} else {
			snprintf(base, sizeof(base), "%s", gitdir);
		}
		snprintf(path, sizeof(path), "%s/%s", base, ref);
		if (!read_small(path, commit, cap) &&
		    !packed_ref(base, ref, commit, cap))
			commit[0] = 0;
	}
}

/* environ plus the shim's variables.  Owned by caller: free with
 * free_env(); the entries from *own on were allocated here. */
static char **traced_env(const char *shim, const char *ring,
			 const char *session, size_t *own)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 8, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	const char *preload = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		if (strncmp(e, "LD_PRELOAD=", 11) == 0) {
			preload = e + 11;
			continue;
		}
		if (strncmp(e, "CTRACE_SHIM=", 12) == 0 ||
		    strncmp(e, "CTRACE_RING=", 12) == 0 ||
		    strncmp(e, "CTRACE_SESSION=", 15) == 0 ||
		    strncmp(e, "CTRACE_PROC=", 12) == 0 ||
		    strncmp(e, "UV_USE_IO_URING=", 16) == 0)
			continue;
		env[k++] = (char *)e;
	}
	*own = k;
	char *s;
	if (preload && *preload &&
	    asprintf(&s, "LD_PRELOAD=%s:%s", shim, preload) > 0)
		env[k++] = s;
	else if (asprintf(&s, "LD_PRELOAD=%s", shim) > 0)
		env[k++] = s;
	if (asprintf(&s, "CTRACE_SHIM=%s", shim) > 0)
		env[k++] = s;
	if (asprintf(&s, "CTRACE_RING=%s", ring) > 0)
		env[k++] = s;
	if (asprintf(&s, "CTRACE_SESSION=%s", session) > 0)
		env[k++] = s;
	if (asprintf(&s, "UV_USE_IO_URING=0") > 0)
		env[k++] = s;
	env[k] = NULL;
	return env;
}

static void free_env(char **env, size_t own)
{
	if (!env)
		return;
	for (size_t i = own; env[i]; i++)
		free(env[i]);
	free(env);
}

/* The file execvp would run for cmd: absolute, via PATH when cmd has no
 * slash.  Returns false when nothing executable is found. */
static bool resolve_cmd(const char *cmd, const char *cwd, char *out, size_t cap)
{
	if (strchr(cmd, '/')) {
		if (cmd[0] == '/')
			snprintf(out, cap, "%s", cmd);
		else
			snprintf(out, cap, "%s/%s", cwd, cmd);
		return true;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		struct stat st;
		snprintf(out, cap, "%.*s/%s", (int)n, n ? path : ".", cmd);
		if (out[0] != '/') {
			char rel[PATH_MAX];
			snprintf(rel, sizeof(rel), "%s", out);
			snprintf(out, cap, "%s/%s", cwd, rel);
		}
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/* The command itself is started by ctrace, not by a shim: say so when no
 * shim will get into it, as the exec hooks do for everything below it. */
static void root_gap(struct ct_collector *c, pid_t child, const char *exe,
		     bool covering)
{
	const char *why = ct_exec_gap(exe);
	/* a static command covered by the supervisor: the child says it if
	 * the handover fails (root_cover) */
	if (!why || (covering && strncmp(why, "static binary", 13) == 0))
		return;
	struct ct_event ev = {
		.kind = CT_KIND_GAP,
		.source = CT_SOURCE_CTRACE,
		.ts = ct_now_real(),
		.pid = child,
		.tid = child,
		.ppid = getpid(),
		.present = CT_F_REASON | CT_F_EXE,
	};
	ev.reason.p = why;
	ev.reason.len = (uint32_t)strlen(why);
	ev.exe.p = exe;
	ev.exe.len = (uint32_t)strlen(exe);
	ct_collector_add(c, &ev);
}

/* In the child, before exec of a static root command: put it under the
 * supervisor's filter, or record in the ring why that failed. */
static void root_cover(struct ct_ring *ring, uint64_t session, const char *exe)
{
	const char *why = ct_exec_gap(exe);
	struct ct_ring_claim claim;
	bool nnp;

	if (!why || strncmp(why, "static binary", 13) != 0)
		return;
	why = ct_static_cover(session, getpid(), 0, &nnp);
	if (!why)
		return;
	struct ct_event ev = {
		.kind = CT_KIND_GAP,
		.source = CT_SOURCE_CTRACE,
		.ts = ct_now_real(),
		.pid = getpid(),
		.tid = getpid(),
		.ppid = getppid(),
		.present = CT_F_REASON | CT_F_EXE,
	};
	ev.reason.p = why;
	ev.reason.len = (uint32_t)strlen(why);
	ev.exe.p = exe;
	ev.exe.len = (uint32_t)strlen(exe);
	size_t n = ct_event_size(&ev);
	void *p = ct_ring_reserve(ring, (uint32_t)n, getpid(), &claim);
	if (p) {
		ct_event_encode(&ev, p, n);
		ct_ring_commit(ring, &claim);
	}
}

#define SUMMARY_HITS 10 /* rule hits listed in the summary */
/* The rules are evaluated while the command runs, so that at the end
 * only the tail is left (docs/rules.md).  Each event the collector
 * stores is offered to them as it is decoded (rules_stored()), unless
 * the last poll found the collector behind the ring: producers that find
 * the ring full for long drop events, and a flood must not lose any to
 * the rules.  Events not offered are fed from the store afterwards,
 * once the collector has caught up (at most every RULES_FEED_NS, each
 * feed a commit and a read transaction), at most RULES_FEED_MAX (a few
 * ms) at a time; once the feed has caught up, offers are taken again. */
#define RULES_FEED_NS 2000000ull
#define RULES_FEED_MAX 16384u

struct run_rules {
	struct ct_ruleset *rs; /* o->rules, or the shipped rules (own) */
	bool own;
	struct ct_rules_stream *st; /* NULL: evaluate at the end */
	struct ct_collector *col;
	bool offer; /* offer the events of the next poll */
	uint64_t fed_at; /* ct_now_mono() of the last feed */
	bool behind; /* the last feed stopped at RULES_FEED_MAX */
	char err[1024]; /* why the shipped rules did not load */
};

static uint32_t rules_parent(void *arg, uint32_t num)
{
	return ct_collector_parent(arg, num);
}

/* The collector stored an event (ct_collector_on_stored). */
static void rules_stored(void *arg, uint64_t seq, uint32_t proc,
			 const struct ct_event *ev)
{
	struct run_rules *rr = arg;

	if (rr->offer)
		ct_rules_offer(rr->st, seq, proc, ev);
}

/* Load the rules (unless given) and start evaluating session id, which
 * the store holds already.  Failures leave the work to rule_hits(). */
static void rules_start(struct ct_cli *cli, struct ct_ruleset *given,
			uint64_t id, struct run_rules *rr)
{
	struct ct_rtxn *t = NULL;
	int rc;

	rr->rs = given;
	if (!rr->rs) {
		rc = ct_ruleset_new(&rr->rs);
		if (rc == 0)
			rc = ct_ruleset_load_default(rr->rs, rr->err,
						     sizeof(rr->err));
		if (rc < 0) {
			if (rc == CT_ENOMEM)
				rr->err[0] = '\0';
			else if (!rr->err[0])
				snprintf(rr->err, sizeof(rr->err), "%s",
					 ct_strerror(rc));
			ct_ruleset_free(rr->rs);
			rr->rs = NULL;
			return;
		}
		rr->own = true;
	}
	if (ct_store_read_begin(cli->store, &t) == 0) {
		if (ct_rules_stream_new(rr->rs, t, id, cli->store_dir,
					&rr->st) < 0)
			rr->st = NULL;
		ct_store_read_end(t);
	}
	if (rr->st) {
		ct_rules_stream_parents(rr->st, rules_parent, rr->col);
		ct_collector_on_stored(rr->col, rules_stored, rr);
	}
	rr->fed_at = ct_now_mono();
}

/* Evaluate from the store what was not offered, when it is time. */
static void rules_feed(struct ct_cli *cli, struct run_rules *rr)
{
	struct ct_rtxn *t = NULL;
	int64_t n = -1;

	/* in step with the collector (its seq, not the session's last_seq,
	 * which is as of the last commit): nothing to do */
	if (!rr->st || ct_rules_fed_seq(rr->st) == ct_collector_seq(rr->col) ||
	    (!rr->behind && ct_now_mono() - rr->fed_at < RULES_FEED_NS))
		return;
	/* what the collector stored since its last commit, too: then the
	 * feed catches up completely, and the next offer fits */
	if (ct_collector_flush(rr->col, false) < 0)
		return; /* the next poll reports the store's error */
	if (ct_store_read_begin(cli->store, &t) == 0) {
		n = ct_rules_feed(rr->st, t, RULES_FEED_MAX);
		ct_store_read_end(t);
	}
	rr->behind = n >= (int64_t)RULES_FEED_MAX;
	rr->fed_at = ct_now_mono();
}

static void rules_end(struct run_rules *rr)
{
	if (rr->col)
		ct_collector_on_stored(rr->col, NULL, NULL);
	ct_rules_stream_free(rr->st);
	rr->st = NULL;
	if (rr->own)
		ct_ruleset_free(rr->rs);
	rr->rs = NULL;
}

/* Finish evaluating the rules on the finished session, store the number
 * of hits in its record and list the first ones on stderr (unless
 * quiet).  Returns the number, or -1 when the rules could not be
 * evaluated. */
static int64_t rule_hits(struct ct_cli *cli, struct ct_collector *col,
			 struct run_rules *rr, bool quiet)
{
	struct ct_session_info si = *ct_collector_session(col);
	struct ct_wbatch *b = NULL;
	struct ct_rtxn *t = NULL;
	struct ct_audit a;
	int rc;

	if (!rr->rs) {
		if (!quiet && rr->err[0])
			fprintf(stderr, "ctrace: %s\n", rr->err);
		return -1;
	}
	rc = ct_store_read_begin(cli->store, &t);
	if (rc == 0) {
		/* the stream finishes what it was fed; one that failed on
		 * the way (or never started) gives way to a whole pass */
		rc = rr->st ? ct_rules_finish(rr->st, t, &a) : -1;
		if (rc < 0)
			rc = ct_rules_eval(rr->rs, t, si.id, cli->store_dir,
					   &a);
		ct_store_read_end(t);
	}
	if (rc < 0) {
		if (!quiet)
			fprintf(stderr,
				"ctrace: cannot evaluate the rules: %s\n",
				ct_strerror(rc));
		return -1;
	}
	si = *ct_collector_session(col);
	si.rule_hits = a.n + a.dropped;
	/* Not synced: the session was, as it ended.  The count is derived
	 * (`audit` recomputes it); a machine crash before the next sync of
	 * the store can only take it back to "not counted". */
	if (ct_wbatch_new(cli->store, &b) == 0) {
		if (ct_wbatch_session(b, &si) == 0)
			ct_wbatch_commit(b, false);
		ct_wbatch_free(b);
	}
	for (size_t i = 0; !quiet && i < a.n && i < SUMMARY_HITS; i++)
		fprintf(stderr, "ctrace: %-8s %s: %s\n",
			ct_severity_name(a.v[i].severity), a.v[i].rule_id,
			a.v[i].summary);
	if (!quiet && a.n > SUMMARY_HITS)
		fprintf(stderr, "ctrace: ... and %zu more (ctrace audit)\n",
			a.n - SUMMARY_HITS);
	int64_t n = (int64_t)(a.n + a.dropped);
	ct_audit_release(&a);
	return n;
}

static void summary(const struct ct_session_info *si, int64_t hits, int status)
{
	char id[17], hit[64];
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)si->id);
	if (hits < 0)
		snprintf(hit, sizeof(hit), "n/a");
	else
		snprintf(hit, sizeof(hit), "%lld", (long long)hits);
	fprintf(stderr,
		"ctrace: session %.12s: %llu processes, %llu events, "
		"%llu lost, %llu files deleted, %llu gaps, rule hits: %s; "
		"exit %d\n"
		"ctrace: see 'ctrace show %.12s' or 'ctrace timeline %.12s'%s\n",
		id, (unsigned long long)si->processes,
		(unsigned long long)si->events, (unsigned long long)si->lost,
		(unsigned long long)si->deleted, (unsigned long long)si->gaps,
		hit, status, id, id,
		hits > 0 ? " ('ctrace audit' for the rule hits)" : "");
}

/* Record the exit of a process ctrace run reaped itself. */
static void reaped(struct ct_collector *c, pid_t pid, int st)
{
	struct ct_event ev = {
		.kind = CT_KIND_EXIT,
		.source = CT_SOURCE_CTRACE,
		.ts = ct_now_real(),
		.pid = pid,
		.tid = pid,
		.ppid = getpid(),
		.present = CT_F_REPORTER,
		.reporter = getpid(),
	};
	if (WIFSIGNALED(st)) {
		ev.present |= CT_F_SIGNAL;
		ev.signal = WTERMSIG(st);
	} else {
		ev.present |= CT_F_EXIT;
		ev.exit_code = WEXITSTATUS(st);
	}
	ct_collector_add(c, &ev);
}

/* A poll that took this many records means the collector is behind. */
#define RUN_BUSY_EVENTS 4096
/* Polls at most before a reaped exit is recorded (see drain_before). */
#define RUN_DRAIN_POLLS 64

/* Take what the ring holds before recording the exit of a process ctrace
 * run reaped.  The process's own exit record (from its shim, or from the
 * supervisor for a static program) is in the ring by then, maybe behind
 * thousands of others: stored after the reaped one it would be a repeat,
 * and dropped (the collector keeps one exit per process).  Bounded, for
 * producers that keep the ring busy. */
static void drain_before(struct ct_collector *col)
{
	for (int i = 0; i < RUN_DRAIN_POLLS; i++)
		if (ct_collector_poll(col) < RUN_BUSY_EVENTS)
			break;
}

static void on_child(int sig)
{
	(void)sig; /* only to wake ppoll() */
}

/* SIGCHLD wakes the collector loop: it stays blocked except inside
 * ppoll(), so an exit between waitpid() and the wait is not missed, and
 * the command's end is seen at once instead of after the rest of a
 * sleep.  The command gets the mask and the SIGCHLD disposition ctrace run
 * was started with (an ignored SIGCHLD stays ignored for it), and ctrace
 * run can wait for its children even when its parent ignored SIGCHLD. */
struct child_wake {
	sigset_t orig; /* the mask to give back to the command */
	sigset_t wait; /* the mask inside ppoll() */
	struct sigaction old; /* SIGCHLD as ctrace run found it */
};

static void child_wake_arm(struct child_wake *w)
{
	struct sigaction sa = { 0 };
	sigset_t chld;

	sa.sa_handler = on_child;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &w->old);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &w->orig);
	w->wait = w->orig;
	sigdelset(&w->wait, SIGCHLD);
}

/* In the child, before exec. */
static void child_wake_undo(const struct child_wake *w)
{
	sigaction(SIGCHLD, &w->old, NULL);
	sigprocmask(SIG_SETMASK, &w->orig, NULL);
}

/* Sleep ns, or less when a child exits or a forwarded signal comes. */
static void sleep_ns(const struct child_wake *w, uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	ppoll(NULL, 0, &ts, &w->wait);
}

int ct_run(struct ct_cli *cli, const struct ct_run_opts *o, uint64_t *session,
	   int *status)
{
	char shim[PATH_MAX], ring_path[CT_RING_NAME_MAX], idhex[17];
	char cwd[PATH_MAX], host[256], user[256], branch[256], commit[256];
	struct ct_ring ring;
	struct ct_collector *col = NULL;
	struct ct_supervisor *sup = NULL;
	struct run_rules rr = { 0 };
	char **env = NULL;
	size_t env_own = 0;
	int r, rc = CT_EXIT_FINDINGS;

	if (find_shim(shim, sizeof(shim)) != 0)
		return ct_cli_fail(CT_EXIT_USAGE,
				   "cannot find libctrace-preload.so next to "
				   "the ctrace executable (reinstall ctrace, "
				   "or set CTRACE_SHIM_PATH to the shim)");
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/");
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = 0;
	host[sizeof(host) - 1] = 0;
	struct passwd *pw = getpwuid(getuid());
	snprintf(user, sizeof(user), "%s",
		 pw ? pw->pw_name : (getenv("USER") ? getenv("USER") : "?"));
	git_info(cwd, branch, commit, sizeof(branch));

	uint64_t id = new_session_id();
	snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)id);
	ct_ring_path(ring_path, (unsigned)getuid(), id);
	r = ct_ring_create(ring_path, o->ring_mib << 20, id, &ring);
	if (r)
		return ct_cli_fail(CT_EXIT_FINDINGS,
				   "cannot create the event ring %s: %s (is "
				   "/dev/shm mounted and writable?)",
				   ring_path, ct_strerror(r));
	snprintf((char *)ring.hdr + RING_STORE_OFF,
		 CT_RING_HDR_SIZE - RING_STORE_OFF, "%s", cli->store_dir);
	/* the producers' TSC clock (docs/ring.md, "Timestamps") */
	const char *tsc = getenv("CTRACE_TSC");
	if (!tsc || strcmp(tsc, "0") != 0)
		ct_ring_clock_start(&ring);

	struct ct_session_info si = {
		.id = id,
		.state = CT_SESSION_RUNNING,
		.run_pid = getpid(),
		.start = ct_now_real(),
		.exit_code = -1,
		.argv_in = o->cmd,
	};
#define SET_BYTES(f, s)                         \
	do {                                    \
		si.f.p = (s);                   \
		si.f.len = (uint32_t)strlen(s); \
	} while (0)
	if (o->name)
		SET_BYTES(name, o->name);
	SET_BYTES(cwd, cwd);
	SET_BYTES(user, user);
	SET_BYTES(host, host);
	SET_BYTES(version, CT_VERSION);
	SET_BYTES(ring, ring_path);
	if (branch[0])
		SET_BYTES(git_branch, branch);
	if (commit[0])
		SET_BYTES(git_commit, commit);
#undef SET_BYTES

	r = ct_collector_new(cli->store, &ring, &si, false, &col);
	if (r) {
		ct_cli_fail(CT_EXIT_FINDINGS, "cannot start the collector: %s",
			    ct_strerror(r));
		goto out_ring;
	}
	/* The session exists in the store from the start, so a ring left by
	 * a ctrace run that dies can be recovered into it.  No fsync: the
	 * commit is visible to every later ctrace at once, and a machine
	 * crash that could lose it takes the ring in /dev/shm with it. */
	r = ct_collector_flush(col, false);
	if (r < 0) {
		ct_cli_fail(CT_EXIT_FINDINGS, "cannot write the session: %s",
			    ct_store_errmsg(cli->store));
		goto out_col;
	}
	env = traced_env(shim, ring_path, idhex, &env_own);
	if (!env) {
		ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
		goto out_col;
	}

	/* Static binaries in the tree are covered by the seccomp supervisor
	 * (docs/static.md); without it their exec hooks record a gap. */
	if (ct_supervisor_start(&ring, id, &sup) != 0)
		sup = NULL;
	char exe[PATH_MAX];
	bool have_exe = resolve_cmd(o->cmd[0], cwd, exe, sizeof(exe));

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	install_handlers();
	struct child_wake wake;
	child_wake_arm(&wake);
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		ct_cli_fail(CT_EXIT_FINDINGS, "cannot fork: %s",
			    strerror(errno));
		goto out_col;
	}
	if (child == 0) {
		child_wake_undo(&wake);
		environ = env;
		if (have_exe && sup)
			root_cover(&ring, id, exe);
		execvp(o->cmd[0], o->cmd);
		int e = errno;
		fprintf(stderr, "ctrace run: cannot run '%s': %s\n", o->cmd[0],
			strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}

	if (have_exe)
		root_gap(col, child, exe, sup != NULL);
	/* Loading the rules (YAML, regular expressions) takes milliseconds:
	 * do it while the command already runs; its events wait in the
	 * ring. */
	rr.col = col;
	rules_start(cli, o->rules, id, &rr);

	int st = 0;
	bool root_done = false, store_failed = false;
	uint64_t done_at = 0, idle = 0;
	bool busy = false;
	for (;;) {
		long got;

		/* evaluate as they come, unless the collector is behind */
		rr.offer = rr.st && !busy;
		got = store_failed ? 0 : ct_collector_poll(col);
		busy = got >= RUN_BUSY_EVENTS;
		if (got < 0) {
			/* The command must not notice: stop collecting (the
			 * closed ring makes the shims drop, and count, at
			 * once) but go on waiting for it and forwarding
			 * signals, and exit with its status. */
			ct_cli_fail(CT_EXIT_FINDINGS,
				    "cannot write to the store: %s (the "
				    "command keeps running; its events from "
				    "now on are lost)",
				    ct_store_errmsg(cli->store));
			atomic_store(&ring.hdr->closed, 1);
			store_failed = true;
			got = 0;
		}
		if (pending_sig) {
			int sig = pending_sig;
			pending_sig = 0;
			if (!root_done)
				kill(child, sig);
		}
		int wst;
		pid_t w;
		bool reaped_any = false;
		while ((w = waitpid(-1, &wst, WNOHANG)) > 0) {
			if (!store_failed)
				drain_before(col);
			reaped(col, w, wst);
			reaped_any = true;
			if (w == child) {
				st = wst;
				root_done = true;
				done_at = ct_now_mono();
			}
		}
		if (root_done) {
			bool orphans = !(w < 0 && errno == ECHILD);
			if (!orphans ||
			    ct_now_mono() - done_at > ORPHAN_GRACE_NS)
				break;
		}
		/* The rules see what is committed, when there is time. */
		if (!store_failed && got < RUN_BUSY_EVENTS)
			rules_feed(cli, &rr);
		/* Go on at once only after a large poll (or a feed that left
		 * events for the next); after a small one sleep 1 ms, after
		 * none up to 2 ms.  The ring holds far more than 2 ms of
		 * events at the rates measured, and waking every 0.1 ms for a
		 * trickle of events cost CPU that the traced command wanted
		 * on a small machine (scripts/bench, see
		 * docs/performance.md). */
		if (reaped_any || got >= RUN_BUSY_EVENTS || rr.behind) {
			idle = 0;
		} else {
			idle = got		? 1000000
			       : idle < 2000000 ? idle + 250000
						: idle;
			sleep_ns(&wake, idle);
		}
	}

	*status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	run_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	ct_supervisor_stop(sup); /* its last events are in the ring now */
	sup = NULL;
	atomic_store(&ring.hdr->closed, 1);
	int end_exit = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	int end_sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	r = store_failed ? CT_EIO
			 : ct_collector_finish(col, ct_now_real(), end_exit,
					       end_sig, CT_SESSION_DONE);
	if (r < 0) {
		/* The store failed, during the run or now: say what it
		 * holds.  The session ends as of its last good commit,
		 * `incomplete`, with everything not stored counted lost. */
		if (!store_failed)
			ct_cli_fail(CT_EXIT_FINDINGS,
				    "cannot finish the session: %s",
				    ct_store_errmsg(cli->store));
		if (ct_collector_abandon(col, ct_now_real(), end_exit,
					 end_sig) < 0)
			ct_cli_fail(CT_EXIT_FINDINGS,
				    "cannot mark the session incomplete "
				    "either: %s",
				    ct_store_errmsg(cli->store));
	}
	*session = id;
	int64_t hits = r < 0 ? -1 : rule_hits(cli, col, &rr, o->quiet);
	if (!o->quiet)
		summary(ct_collector_session(col), hits, *status);
	/* The command ran: exit with its status, whatever happened to the
	 * store (said above); a wrapper must see what it would have seen. */
	rc = 0;
out_col:
	rules_end(&rr);
	ct_supervisor_stop(sup);
	free_env(env, env_own);
	ct_collector_free(col);
out_ring:
	ct_ring_detach(&ring);
	unlink(ring_path);
	return rc;
}

/* The command died of ^C or ^\: die of it too, as GNU timeout does.  A
 * shell reports 128+N either way, but only a death by SIGINT makes it give
 * up the rest of a command list or loop; exiting 130 instead would let
 * `for f in *; do ctrace run -- cmd "$f"; done` run on.  Other signals
 * give exit status 128+N (SPEC), which programs that are not shells read
 * as the command's status.  No core file of ctrace for SIGQUIT.  Returns
 * only if sig did not kill. */
static void die_of(int sig)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t set;

	fflush(NULL);
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

static const struct option run_opts[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "rules", required_argument, NULL, 'r' },
	{ "ring-mib", required_argument, NULL, 'm' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_run(int argc, char **argv, struct ct_cli *cli)
{
	struct ct_run_opts o = { .ring_mib = CT_RING_MIB_DEFAULT };
	struct ct_ruleset *rules = NULL;
	int c;

	opterr = 0;
	optind = 1;
	/* '+': stop at the command's first word, so its options stay its own */
	while ((c = getopt_long(argc, argv, "+hqn:m:r:", run_opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'n':
			o.name = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'm': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 4096) {
				ct_ruleset_free(rules);
				return ct_cli_usage_error(
					cli,
					"--ring-mib wants a size in MiB from "
					"1 to 4096, not '%s'",
					optarg);
			}
			o.ring_mib = v;
			break;
		}
		case 'r': {
			/* validated now, before anything runs */
			char err[1024];
			int r = 0;

			if (!rules) {
				r = ct_ruleset_new(&rules);
				if (r == 0)
					r = ct_ruleset_load_default(
						rules, err, sizeof(err));
			}
			if (r == 0)
				r = ct_ruleset_load_file(rules, optarg, err,
							 sizeof(err));
			if (r < 0) {
				ct_ruleset_free(rules);
				return ct_cli_fail(
					CT_EXIT_USAGE, "%s",
					r == CT_ENOMEM ? "out of memory" : err);
			}
			o.rules = rules;
			break;
		}
		case 'h':
			ct_cli_want_help(cli, 2, (char *[]){ argv[0], "-h" });
			ct_ruleset_free(rules);
			return 0;
		default:
			ct_ruleset_free(rules);
			return ct_cli_usage_error(cli, "unknown option '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		ct_ruleset_free(rules);
		return ct_cli_usage_error(cli, "no command given (ctrace run "
					       "-- CMD [ARG...])");
	}
	o.cmd = argv + optind;

	uint64_t id;
	int status;
	int r = ct_run(cli, &o, &id, &status);
	ct_ruleset_free(rules);
	/* SPEC: exit 128+N.  Only for the terminal's interrupts does ctrace
	 * die of the signal itself, so shells stop a loop on ^C (above). */
	if (r == 0 && (run_signal == SIGINT || run_signal == SIGQUIT))
		die_of(run_signal);
	return r ? r : status;
}

/* --- recovery of rings whose ctrace run died --- */

static bool owner_alive(pid_t pid)
{
	char path[64], exe[PATH_MAX];

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	/* a live pid that is not a ctrace is a reused pid */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return true; /* cannot tell: leave the ring alone */
	exe[n] = 0;
	const char *base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	return strncmp(base, "ctrace", 6) == 0;
}

/* A ring of another store whose ctrace run is gone and whose store folder
 * no longer exists (a test's or a benchmark's temporary CTRACE_HOME) can
 * never be recovered: remove it, or its 64 MiB stay in /dev/shm for good.
 * Nothing is lost that could be stored; its session went with its store. */
static void remove_stray(const char *path, const char *hdr)
{
	struct ct_ring_hdr h;
	char store[CT_RING_HDR_SIZE - RING_STORE_OFF + 1];
	struct stat st;

	memcpy(&h, hdr, sizeof(h));
	memcpy(store, hdr + RING_STORE_OFF, sizeof(store) - 1);
	store[sizeof(store) - 1] = 0;
	if (h.magic != CT_RING_MAGIC || store[0] != '/' ||
	    h.uid != (uint32_t)getuid() || owner_alive(h.owner_pid))
		return;
	if (stat(store, &st) != 0 && errno == ENOENT)
		unlink(path);
}

/* Drain the ring at path into its session if its ctrace run is gone and
 * it belongs to this store.  The store is opened (read-write) only then,
 * so read-only commands never create one. */
static void recover_one(struct ct_cli *cli, struct ct_store **sp,
			const char *path)
{
	char errbuf[512];
	struct ct_store *s;
	struct ct_ring ring;
	struct ct_rtxn *t;
	struct ct_session_info si;
	struct ct_collector *col = NULL;
	char hdr[CT_RING_HDR_SIZE];
	int fd;

	/* Rings of other stores (other CTRACE_HOMEs) are common in /dev/shm
	 * and every command passes them: look at the header alone before
	 * mapping the whole ring. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t got = pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	if (got != (ssize_t)sizeof(hdr))
		return;
	if (strncmp(hdr + RING_STORE_OFF, cli->store_dir,
		    CT_RING_HDR_SIZE - RING_STORE_OFF) != 0) {
		remove_stray(path, hdr);
		return;
	}
	if (ct_ring_attach(path, &ring) != 0)
		return;
	if (owner_alive(ring.hdr->owner_pid) ||
	    (!*sp && ct_store_open(cli->store_dir, 0, sp, errbuf,
				   sizeof(errbuf)) != 0)) {
		ct_ring_detach(&ring);
		return;
	}
	s = *sp;
	uint64_t id = ring.hdr->session;
	atomic_store(&ring.hdr->closed, 1);
	if (ct_store_read_begin(s, &t) == 0) {
		int r = ct_store_session_get(t, id, &si);
		if (r == 0) {
			/* copy out of the read txn: the collector keeps it */
			r = ct_collector_new(s, &ring, &si, true, &col);
		}
		ct_store_read_end(t);
		if (r == 0 && col) {
			uint64_t end = ct_now_real();
			r = ct_collector_finish(col, end, -1, 0,
						CT_SESSION_RECOVERED);
			if (r == 0)
				fprintf(stderr,
					"ctrace: recovered %llu events of "
					"session %.12s left by a ctrace run "
					"that died\n",
					(unsigned long long)
						ct_collector_session(col)
							->events,
					path + strlen(path) - 16);
		}
		ct_collector_free(col);
	}
	ct_ring_detach(&ring);
	unlink(path);
}

void ct_cli_recover_rings(struct ct_cli *cli)
{
	char prefix[64];
	struct ct_store *s = NULL;

	snprintf(prefix, sizeof(prefix), "ctrace-%u-", (unsigned)getuid());
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		recover_one(cli, &s, path);
	}
	closedir(d);
	if (s)
		ct_store_close(s);
}
