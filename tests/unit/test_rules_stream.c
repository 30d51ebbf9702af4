/* Incremental rule evaluation (rules/rules.h, struct ct_rules_stream): a
 * session committed to a store batch by batch, the stream fed after each
 * commit (wholly, or a few events at a time), must end with exactly the
 * violations ct_rules_eval() finds on the finished session: same rules,
 * processes, seqs, summaries and hit index.  The session puts a threshold,
 * a sequence, a `written` rule and an `under` rule across feed boundaries,
 * and learns a process's parent only after the stream used it (a child's
 * events before its parent's fork record), which makes finishing evaluate
 * again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/store.h"
#include "common/codec.h"
#include "common/error.h"
#include "rules/rules.h"

#define SID 0x00c0ffee00c0ffeeull
#define T0 1700000000000000000ull
#define MS 1000000ull

static const char RULES[] =
	"rules:\n"
	"  - id: thr\n"
	"    severity: high\n"
	"    description: deletions outside the workspace\n"
	"    kind: unlink\n"
	"    result: ok\n"
	"    path: ['!${WORKSPACE}/*']\n"
	"    threshold: {count: 5, within: 10s, per: command}\n"
	"  - id: secret-connect\n"
	"    severity: critical\n"
	"    description: a secret then a connection\n"
	"    sequence:\n"
	"      - {kind: open, path: '*/secret'}\n"
	"      - {kind: connect, port: 443}\n"
	"    within: 60s\n"
	"    per: command\n"
	"  - id: under-bash\n"
	"    severity: low\n"
	"    description: x opened under bash\n"
	"    kind: open\n"
	"    path: '*/x'\n"
	"    under: [bash]\n"
	"  - id: rm-r\n"
	"    severity: medium\n"
	"    description: rm -r\n"
	"    argv0: rm\n"
	"    flags: ['-r|-R']\n"
	"  - id: exec-written\n"
	"    severity: high\n"
	"    description: runs what it wrote\n"
	"    kind: start\n"
	"    written: true\n"
	"    exe: ['${TMP}/*']\n";

struct offerer;

struct fx {
	char dir[256];
	struct ct_store *s;
	struct ct_ruleset *rs;
	struct ct_wbatch *b;
	uint64_t seq;
	uint32_t nprocs; /* highest instance number written */
	struct offerer *off; /* offers each event as it is written */
};

/* A collector that offers each event it stores to a stream
 * (ct_rules_offer), except those of seq skip_from..skip_to, as if it was
 * busy then, and knows parents as written so far. */
struct offerer {
	struct ct_rules_stream *st;
	uint32_t parent[8];
	uint32_t fixed; /* bit num: parent[num] known from the start */
	uint64_t skip_from, skip_to;
	unsigned taken, refused;
};

static uint32_t offer_parent(void *arg, uint32_t num)
{
	struct offerer *o = arg;

	return num < 8 ? o->parent[num] : 0;
}

static void offer(struct fx *f, uint32_t num, const void *rec, size_t len)
{
	struct offerer *o = f->off;
	struct ct_event ev;

	if (!o || !o->st || (f->seq >= o->skip_from && f->seq <= o->skip_to))
		return;
	/* what the collector offers: the record decoded, as stored */
	assert_int_equal(ct_event_decode(rec, len, &ev), 0);
	if (ct_rules_offer(o->st, f->seq, num, &ev))
		o->taken++;
	else
		o->refused++;
}

static void rm_rf(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

static struct ct_bytes B(const char *s) {
	return (struct ct_bytes){ s, (uint32_t)strlen(s) };
}

static void
proc(struct fx *f, uint32_t num, uint32_t parent, int32_t pid)
{
	struct ct_proc_info pi = {
		.num = num,
		.parent = parent,
		.pid_gen = 1,
		.pid = pid,
		.ppid = 1,
		.start = T0,
		.exit_code = -1,
		.start_seq = f->seq + 1,
	};

	if (!parent && num != 1)
		pi.flags |= CT_PROC_INFERRED;
	if (num > f->nprocs)
		f->nprocs = num;
	if (f->off && num < 8 && !(f->off->fixed & (1u << num)))
		f->off->parent[num] = parent;
	assert_int_equal(ct_wbatch_proc(f->b, SID, &pi), 0);
}

/* The next event, of instance num (pid 100 + num - 1), 100 ms after the
 * last. */
static void event(struct fx *f, uint32_t num, struct ct_event *ev)
{
	char buf[CT_RECORD_MAX];
	ssize_t n;

	f->seq++;
	ev->source = CT_SOURCE_LIBC;
	ev->ts = T0 + f->seq * 100 * MS;
	ev->pid = ev->tid = (int32_t)(99 + num);
	n = ct_event_encode(ev, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(
		ct_wbatch_event(f->b, SID, f->seq, num, buf, (uint32_t)n), 0);
	offer(f, num, buf, (size_t)n);
}

static void open_ev(struct fx *f, uint32_t num, const char *path, int flags)
{
	struct ct_event ev = { .kind = CT_KIND_OPEN,
			       .present = CT_F_PATH | CT_F_FLAGS,
			       .flags = (uint32_t)flags,
			       .result = 3 };

	ev.path = B(path);
	event(f, num, &ev);
}

static void start_ev(struct fx *f, uint32_t num, char *const *argv,
		     const char *exe)
{
	struct ct_event ev = { .kind = CT_KIND_START,
			       .present = CT_F_ARGV | CT_F_EXE | CT_F_CWD,
			       .argv_in = argv };

	ev.exe = B(exe);
	ev.cwd = B("/ws");
	event(f, num, &ev);
}

static void commit(struct fx *f)
{
	struct ct_session_info si = {
		.id = SID,
		.state = CT_SESSION_RUNNING,
		.start = T0,
		.exit_code = -1,
		.last_seq = f->seq,
		.processes = f->nprocs, /* as the collector counts them */
		.cwd = B("/ws"),
	};

	assert_int_equal(ct_wbatch_session(f->b, &si), 0);
	assert_int_equal(ct_wbatch_commit(f->b, false), 0);
}

/* The session, in batches; after each commit feed(f, arg) runs. */
static void write_session(struct fx *f, void (*feed)(struct fx *, void *),
			  void *arg)
{
	static char *bash[] = { "bash", "-c", "job", NULL };
	static char *rm[] = { "rm", "-rf", "/ws/build", NULL };
	static char *run[] = { "/tmp/run.sh", NULL };
	struct ct_event ev;
	char path[64];

	/* 1-3: bash starts, forks python (2), which reads a secret */
	proc(f, 1, 0, 100);
	proc(f, 2, 1, 101);
	start_ev(f, 1, bash, "/bin/bash");
	ev = (struct ct_event){ .kind = CT_KIND_FORK, .result = 101 };
	event(f, 1, &ev);
	open_ev(f, 2, "/home/u/secret", O_RDONLY);
	commit(f);
	feed(f, arg);
	/* 4-10: seven deletions outside the workspace, over three batches */
	for (int i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "/data/f%d", i);
		ev = (struct ct_event){ .kind = CT_KIND_UNLINK,
					.present = CT_F_PATH };
		ev.path = B(path);
		event(f, 2, &ev);
		if (i == 2 || i == 5) {
			commit(f);
			feed(f, arg);
		}
	}
	/* 11-13: rm -rf (3, under bash); python writes /tmp/run.sh and a
	 * child of it (5) runs it */
	proc(f, 3, 1, 102);
	start_ev(f, 3, rm, "/usr/bin/rm");
	open_ev(f, 2, "/tmp/run.sh", O_WRONLY | O_CREAT | O_TRUNC);
	proc(f, 5, 2, 104);
	start_ev(f, 5, run, "/tmp/run.sh");
	commit(f);
	feed(f, arg);
	/* 14-15: 5 connects (the sequence ends); 4 opens x, its parent not
	 * known yet (its events came before bash's fork record) */
	ev = (struct ct_event){ .kind = CT_KIND_CONNECT, .present = CT_F_ADDR };
	ev.addr = B("192.0.2.1:443");
	event(f, 5, &ev);
	proc(f, 4, 0, 103);
	open_ev(f, 4, "/ws/x", O_RDONLY);
	commit(f);
	feed(f, arg);
	/* 16-17: the fork record names 4's parent; 4 opens x again */
	ev = (struct ct_event){ .kind = CT_KIND_FORK, .result = 103 };
	event(f, 1, &ev);
	proc(f, 4, 1, 103);
	open_ev(f, 4, "/ws/x", O_RDONLY);
	commit(f);
	feed(f, arg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ct-test-rstream-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	setenv("CTRACE_HOME", f->dir, 1);
	setenv("HOME", "/home/u", 1);
	unsetenv("TMPDIR");
	assert_int_equal(ct_store_open(f->dir, 0, &f->s, err, sizeof(err)), 0);
	assert_int_equal(ct_wbatch_new(f->s, &f->b), 0);
	assert_int_equal(ct_ruleset_new(&f->rs), 0);
	if (ct_ruleset_load_text(f->rs, "t.yaml", RULES, strlen(RULES), err,
				 sizeof(err)) != 0)
		fail_msg("rules: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ct_ruleset_free(f->rs);
	ct_wbatch_free(f->b);
	ct_store_close(f->s);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void whole(struct fx *f, struct ct_audit *a)
{
	struct ct_rtxn *t;

	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_rules_eval(f->rs, t, SID, NULL, a), 0);
	ct_store_read_end(t);
}

static void assert_same(const struct ct_audit *x, const struct ct_audit *y)
{
	assert_int_equal(x->session, y->session);
	assert_int_equal(x->n, y->n);
	assert_int_equal(x->dropped, y->dropped);
	assert_int_equal(x->events, y->events);
	assert_int_equal(x->undecoded, y->undecoded);
	assert_memory_equal(x->counts, y->counts, sizeof(x->counts));
	for (size_t i = 0; i < x->n; i++) {
		const struct ct_violation *a = &x->v[i], *b = &y->v[i];

		assert_string_equal(a->rule_id, b->rule_id);
		assert_int_equal(a->rule, b->rule);
		assert_int_equal(a->severity, b->severity);
		assert_int_equal(a->proc, b->proc);
		assert_int_equal(a->nseq, b->nseq);
		assert_int_equal(a->seq_dropped, b->seq_dropped);
		assert_memory_equal(a->seq, b->seq, a->nseq * sizeof(*a->seq));
		assert_string_equal(a->summary, b->summary);
	}
	assert_int_equal(x->nhits, y->nhits);
	for (size_t i = 0; i < x->nhits; i++) {
		assert_int_equal(x->hits[i].seq, y->hits[i].seq);
		assert_int_equal(x->hits[i].violation, y->hits[i].violation);
	}
}

static const struct ct_violation *find(const struct ct_audit *a, const char *id)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].rule_id, id) == 0)
			return &a->v[i];
	fail_msg("no violation of %s", id);
	return NULL;
}

static void assert_seqs(const struct ct_violation *v, size_t n, ...)
{
	va_list ap;

	assert_int_equal(v->nseq, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v->seq[i], va_arg(ap, int));
	va_end(ap);
}

/* The violations this session must raise, whoever evaluated it. */
static void assert_expected(const struct ct_audit *a)
{
	assert_int_equal(a->n, 5);
	assert_int_equal(a->events, 17);
	assert_seqs(find(a, "thr"), 7, 4, 5, 6, 7, 8, 9, 10);
	assert_seqs(find(a, "rm-r"), 1, 11);
	assert_seqs(find(a, "exec-written"), 1, 13);
	assert_seqs(find(a, "secret-connect"), 2, 3, 14);
	assert_seqs(find(a, "under-bash"), 2, 15, 17);
	assert_int_equal(find(a, "under-bash")->proc, 4);
}

struct feeder {
	struct ct_rules_stream *st;
	uint64_t max; /* per feed; 0: all */
	unsigned feeds;
};

static void feed_stream(struct fx *f, void *arg)
{
	struct feeder *fd = arg;
	struct ct_rtxn *t;
	int64_t n;

	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	if (!fd->st)
		assert_int_equal(
			ct_rules_stream_new(f->rs, t, SID, NULL, &fd->st), 0);
	n = ct_rules_feed(fd->st, t, fd->max);
	ct_store_read_end(t);
	assert_true(n >= 0);
	if (fd->max)
		assert_true((uint64_t)n <= fd->max);
	else
		assert_int_equal(ct_rules_fed_seq(fd->st), f->seq);
	fd->feeds++;
}

static void run_stream(void **state, uint64_t max)
{
	struct fx *f = *state;
	struct feeder fd = { .max = max };
	struct ct_audit inc, all;
	struct ct_rtxn *t;

	write_session(f, feed_stream, &fd);
	assert_int_equal(fd.feeds, 6);
	if (max) /* a backlog is left for the end */
		assert_true(ct_rules_fed_seq(fd.st) < f->seq);
	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_rules_finish(fd.st, t, &inc), 0);
	/* a finished stream takes no more */
	assert_int_equal(ct_rules_feed(fd.st, t, 0), CT_EINVAL);
	ct_store_read_end(t);
	ct_rules_stream_free(fd.st);

	whole(f, &all);
	assert_expected(&all);
	assert_same(&inc, &all);
	ct_audit_release(&inc);
	ct_audit_release(&all);
}

/* Fed everything committed after each commit. */
static void test_rules_stream__fed_per_commit(void **state)
{
	run_stream(state, 0);
}

/* Fed two events at a time: feeds end mid-batch, the rest at finish. */
static void test_rules_stream__fed_in_small_steps(void **state)
{
	run_stream(state, 2);
}

static void feed_one_by_one(struct fx *f, void *arg)
{
	struct feeder *fd = arg;
	struct ct_rtxn *t;
	int64_t n;

	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	if (!fd->st)
		assert_int_equal(
			ct_rules_stream_new(f->rs, t, SID, NULL, &fd->st), 0);
	while ((n = ct_rules_feed(fd->st, t, 1)) == 1)
		;
	assert_int_equal(n, 0);
	assert_int_equal(ct_rules_fed_seq(fd->st), f->seq);
	ct_store_read_end(t);
	fd->feeds++;
}

/* Finish st, free it, and check it ends where a whole pass does, with
 * the violations this session must raise. */
static void finish_as_whole(struct fx *f, struct ct_rules_stream *st)
{
	struct ct_audit inc, all;
	struct ct_rtxn *t;

	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_rules_finish(st, t, &inc), 0);
	ct_store_read_end(t);
	ct_rules_stream_free(st);
	whole(f, &all);
	assert_expected(&inc);
	assert_same(&inc, &all);
	ct_audit_release(&inc);
	ct_audit_release(&all);
}

/* Fed one event at a time, all of them before finishing: the parent of
 * 4 changed after the stream used it, so finishing starts over and still
 * ends where a whole pass does (under-bash holds both of 4's opens). */
static void test_rules_stream__parent_learnt_late(void **state)
{
	struct fx *f = *state;
	struct feeder fd = { 0 };

	write_session(f, feed_one_by_one, &fd);
	finish_as_whole(f, fd.st);
}

/* After each commit, as ctrace run does: start the stream after the
 * first, and feed from the store whatever was not offered. */
static void feed_behind(struct fx *f, void *arg)
{
	struct offerer *o = arg;
	struct ct_rtxn *t;

	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	if (!o->st) {
		assert_int_equal(
			ct_rules_stream_new(f->rs, t, SID, NULL, &o->st), 0);
		ct_rules_stream_parents(o->st, offer_parent, o);
	}
	if (ct_rules_fed_seq(o->st) < f->seq)
		assert_true(ct_rules_feed(o->st, t, 0) > 0);
	assert_int_equal(ct_rules_fed_seq(o->st), f->seq);
	ct_store_read_end(t);
}

/* Events offered as they are stored, not read back: 1-3 are stored
 * before the stream exists and fed from the store, 7-8 are not offered
 * (a busy collector), so the offer of 9 is refused until a feed has
 * caught up at the next commit; every other event is taken.  The parent
 * of 4, unknown when its first open is offered, is learnt later, so
 * finishing evaluates again; the end is what a whole pass finds. */
static void run_offered(void **state, struct offerer o)
{
	struct fx *f = *state;

	f->off = &o;
	write_session(f, feed_behind, &o);
	assert_int_equal(o.taken, 17 - 3 - 2 - 1);
	assert_int_equal(o.refused, 1);
	assert_int_equal(ct_rules_fed_seq(o.st), f->seq);
	finish_as_whole(f, o.st);
	f->off = NULL;
}

static void test_rules_stream__offered(void **state)
{
	run_offered(state, (struct offerer){ .skip_from = 7, .skip_to = 8 });
}

/* The same with 4's parent known when its first event is offered (the
 * collector links a child by its ppid): the store ends saying what the
 * stream used, nothing is evaluated again, and the offered evaluation
 * alone must give the whole pass's answer. */
static void test_rules_stream__offered_parents_known(void **state)
{
	struct offerer o = { .skip_from = 7, .skip_to = 8 };

	o.parent[4] = 1;
	o.fixed = 1u << 4;
	run_offered(state, o);
}

/* An image condition is tested once per image and process: a process
 * that execs cat between two bash images has only cat's open hit, and a
 * fork child starts from its parent's image. */
static void test_rules_stream__image_per_exec(void **state)
{
	static const char img[] = "rules:\n"
				  "  - id: cat-secrets\n"
				  "    severity: low\n"
				  "    description: cat reads s.yml\n"
				  "    kind: open\n"
				  "    path: '*/s.yml'\n"
				  "    image: [cat]\n";
	static char *bash[] = { "bash", NULL }, *cat[] = { "cat", NULL };
	struct fx *f = *state;
	struct ct_audit a;
	struct ct_event ev;
	char err[512];

	ct_ruleset_free(f->rs);
	assert_int_equal(ct_ruleset_new(&f->rs), 0);
	if (ct_ruleset_load_text(f->rs, "i.yaml", img, strlen(img), err,
				 sizeof(err)) != 0)
		fail_msg("rules: %s", err);
	proc(f, 1, 0, 100);
	start_ev(f, 1, bash, "/bin/bash");
	open_ev(f, 1, "/ws/s.yml", O_RDONLY); /* 2: bash, no */
	start_ev(f, 1, cat, "/bin/cat");
	open_ev(f, 1, "/ws/s.yml", O_RDONLY); /* 4: cat, hit */
	ev = (struct ct_event){ .kind = CT_KIND_FORK, .result = 101 };
	event(f, 1, &ev);
	proc(f, 2, 1, 101);
	open_ev(f, 2, "/ws/s.yml", O_RDONLY); /* 6: cat's fork child, hit */
	start_ev(f, 1, bash, "/bin/bash");
	open_ev(f, 1, "/ws/s.yml", O_RDONLY); /* 8: bash again, no */
	commit(f);
	whole(f, &a);
	assert_int_equal(a.n, 2);
	assert_seqs(&a.v[0], 1, 4);
	assert_seqs(&a.v[1], 1, 6);
	ct_audit_release(&a);
}

static void nothing(struct fx *f, void *arg)
{
	(void)f;
	(void)arg;
}

/* A stream never fed is ct_rules_eval(); an unknown session is refused. */
static void test_rules_stream__finish_only(void **state)
{
	struct fx *f = *state;
	struct ct_rules_stream *st;
	struct ct_audit inc, all;
	struct ct_rtxn *t;

	write_session(f, nothing, NULL);
	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_rules_stream_new(f->rs, t, SID + 1, NULL, &st),
			 CT_ENOTFOUND);
	assert_null(st);
	assert_int_equal(ct_rules_stream_new(f->rs, t, SID, NULL, &st), 0);
	assert_int_equal(ct_rules_fed_seq(st), 0);
	assert_int_equal(ct_rules_finish(st, t, &inc), 0);
	assert_int_equal(ct_rules_fed_seq(st), f->seq);
	ct_store_read_end(t);
	ct_rules_stream_free(st);
	whole(f, &all);
	assert_same(&inc, &all);
	ct_audit_release(&inc);
	ct_audit_release(&all);
}

/* A damaged store: an event (or a process record) whose process number
 * is far beyond the session's count.  The stream says the store is
 * corrupt instead of sizing its tables by that number (4 G entries). */
static void test_rules_stream__bad_process_number(void **state)
{
	struct fx *f = *state;
	static const uint32_t bad[] = { 0xfffffff0u, 3 };
	struct ct_rules_stream *st;
	struct ct_rtxn *t;

	for (size_t i = 0; i < 2; i++) {
		f->seq = 0;
		f->nprocs = 0;
		proc(f, 1, 0, 100);
		proc(f, 2, 1, 101);
		open_ev(f, 1, "/ws/a", O_RDONLY);
		open_ev(f, bad[i] == 3 ? 2 : bad[i], "/ws/b", O_RDONLY);
		if (bad[i] == 3) /* a process record beyond the count */
			proc(f, 0x7ffffff0u, 1, 102);
		/* the session's count says 2, whatever was written above */
		f->nprocs = 2;
		commit(f);
		assert_int_equal(ct_store_read_begin(f->s, &t), 0);
		int rc = ct_rules_stream_new(f->rs, t, SID, NULL, &st);
		if (rc == 0) {
			assert_int_equal(ct_rules_feed(st, t, 0), CT_ECORRUPT);
			ct_rules_stream_free(st);
		} else {
			assert_int_equal(rc, CT_ECORRUPT);
		}
		ct_store_read_end(t);
		assert_int_equal(ct_store_session_delete(f->s, SID), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_rules_stream__fed_per_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rules_stream__fed_in_small_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rules_stream__parent_learnt_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_stream__finish_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_stream__offered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rules_stream__image_per_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rules_stream__offered_parents_known, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rules_stream__bad_process_number, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
