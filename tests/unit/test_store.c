/* Unit tests of the LMDB store (collector/store.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "collector/collector.h"
#include "collector/store.h"
#include "common/codec.h"
#include "common/error.h"

struct fx {
	char tmp[256];
	char dir[PATH_MAX]; /* the store folder, $CTRACE_HOME */
};

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	chmod(p, 0700);
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->tmp, sizeof(f->tmp), "/tmp/ct_store_XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/home/store", f->tmp);
	setenv("CTRACE_HOME", f->dir, 1);
	setenv("HOME", f->tmp, 1);
	unsetenv("XDG_DATA_HOME");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct ct_store *open_rw(const char *dir)
{
	struct ct_store *s = NULL;
	char err[512];
	int rc = ct_store_open(dir, 0, &s, err, sizeof(err));

	if (rc)
		fail_msg("open %s: %s (%s)", dir, err, ct_errname(rc));
	return s;
}

/* Deterministic event bytes for (session, seq), len derived too. */
static uint32_t ev_len(uint64_t seq, uint32_t base)
{
	return base + (uint32_t)(seq % 7);
}

static void ev_fill(uint8_t *buf, uint64_t session, uint64_t seq, uint32_t len)
{
	uint64_t x = session * 0x9e3779b97f4a7c15ull ^ seq;

	for (uint32_t i = 0; i < len; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(x >> 56);
	}
}

static int add_events(struct ct_wbatch *b, uint64_t session, uint64_t from,
		      uint64_t to, uint32_t base)
{
	static uint8_t buf[70000];

	for (uint64_t q = from; q < to; q++) {
		uint32_t len = ev_len(q, base);
		int rc;

		ev_fill(buf, session, q, len);
		rc = ct_wbatch_event(b, session, q, (uint32_t)(q % 5) + 1, buf,
				     len);
		if (rc)
			return rc;
	}
	return 0;
}

struct ev_check {
	uint64_t session, next_seq, count, bad;
	uint32_t base;
};

static int ev_check_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		       uint32_t len)
{
	struct ev_check *c = arg;
	static uint8_t buf[70000];

	if (seq < c->next_seq || proc != (uint32_t)(seq % 5) + 1 ||
	    len != ev_len(seq, c->base)) {
		c->bad++;
	} else {
		ev_fill(buf, c->session, seq, len);
		if (memcmp(buf, rec, len))
			c->bad++;
	}
	c->next_seq = seq + 1;
	c->count++;
	return 0;
}

static void check_events(struct ct_store *s, uint64_t session, uint64_t from,
			 uint64_t want, uint32_t base)
{
	struct ev_check c = { session, from, 0, 0, base };
	struct ct_rtxn *t;

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(
		ct_store_events_foreach(t, session, from, ev_check_fn, &c), 0);
	ct_store_read_end(t);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.count, want);
}

static void test_store__default_dir(void **state)
{
	struct fx *f = *state;
	char buf[PATH_MAX], want[PATH_MAX + 32];

	assert_int_equal(ct_store_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, f->dir);

	unsetenv("CTRACE_HOME");
	snprintf(want, sizeof(want), "%s/.local/share/ctrace", f->tmp);
	assert_int_equal(ct_store_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);

	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	assert_int_equal(ct_store_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/xdg/data/ctrace");

	/* the XDG spec says a relative value is to be ignored */
	setenv("XDG_DATA_HOME", "rel", 1);
	assert_int_equal(ct_store_default_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);

	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	assert_int_equal(ct_store_default_dir(buf, sizeof(buf)), CT_EINVAL);

	setenv("CTRACE_HOME", f->dir, 1);
	assert_int_equal(ct_store_default_dir(buf, 8), CT_EINVAL);
	setenv("HOME", f->tmp, 1);
}

static void test_store__open_modes(void **state)
{
	struct fx *f = *state;
	struct ct_store *s;
	char path[PATH_MAX + 32];
	struct stat sb;
	mode_t old = umask(0222); /* would strip write bits if not undone */

	s = open_rw(f->dir); /* parents home/ do not exist yet */
	umask(old);
	assert_string_equal(ct_store_dir(s), f->dir);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	ct_store_close(s);
}

static char *const test_argv[] = {
	"claude", "--dir", "caf\xc3\xa9", "bad\xff\xfe\x80utf8", "", NULL
};

static void fill_session(struct ct_session_info *si, uint64_t id,
			 uint64_t start)
{
	memset(si, 0, sizeof(*si));
	si->id = id;
	si->state = CT_SESSION_DONE;
	si->run_pid = 4242;
	si->start = start;
	si->end = start + 1000;
	si->exit_code = -1;
	si->signal = 9;
	si->events = 1ull << 40;
	si->processes = 7;
	si->lost = 3;
	si->gaps = 2;
	si->deleted = 11;
	si->rule_hits = 5;
	si->last_seq = UINT64_MAX;
	si->ring_consumed = 0x123456789abcull;
	si->name = (struct ct_bytes){ "my run", 6 };
	si->cwd = (struct ct_bytes){ "/w/\xff", 4 };
	si->user = (struct ct_bytes){ "", 0 }; /* present but empty */
	si->host = (struct ct_bytes){ "host", 4 };
	si->git_branch = (struct ct_bytes){ "main", 4 };
	/* git_commit absent */
	si->version = (struct ct_bytes){ "0.1.0", 5 };
	si->ring = (struct ct_bytes){ "/dev/shm/ct-1", 13 };
	si->argv_in = test_argv;
}

static void assert_bytes(struct ct_bytes b, const char *p, uint32_t len)
{
	if (!p) {
		assert_null(b.p);
		assert_int_equal(b.len, 0);
		return;
	}
	assert_non_null(b.p);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.p, p, len);
}

static void check_session(const struct ct_session_info *g, uint64_t id)
{
	uint32_t idx = 0, off = 0, n = 0;
	struct ct_bytes a;
	int rc;

	assert_int_equal(g->id, id);
	assert_int_equal(g->state, CT_SESSION_DONE);
	assert_int_equal(g->run_pid, 4242);
	assert_int_equal(g->end, g->start + 1000);
	assert_int_equal(g->exit_code, -1);
	assert_int_equal(g->signal, 9);
	assert_int_equal(g->events, 1ull << 40);
	assert_int_equal(g->processes, 7);
	assert_int_equal(g->lost, 3);
	assert_int_equal(g->gaps, 2);
	assert_int_equal(g->deleted, 11);
	assert_int_equal(g->rule_hits, 5);
	assert_true(g->last_seq == UINT64_MAX);
	assert_true(g->ring_consumed == 0x123456789abcull);
	assert_bytes(g->name, "my run", 6);
	assert_bytes(g->cwd, "/w/\xff", 4);
	assert_bytes(g->user, "", 0);
	assert_bytes(g->host, "host", 4);
	assert_bytes(g->git_branch, "main", 4);
	assert_bytes(g->git_commit, NULL, 0);
	assert_bytes(g->version, "0.1.0", 5);
	assert_bytes(g->ring, "/dev/shm/ct-1", 13);
	assert_null(g->argv_in);
	assert_int_equal(g->argc, 5);
	while ((rc = ct_strv_next(g->argv_raw, g->argc, &idx, &off, &a)) == 1) {
		assert_int_equal(a.len, strlen(test_argv[n]));
		assert_memory_equal(a.p, test_argv[n], a.len);
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 5);
}

static void put_session(struct ct_store *s, uint64_t id, uint64_t start)
{
	struct ct_session_info si;
	struct ct_wbatch *b;

	fill_session(&si, id, start);
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	assert_int_equal(ct_wbatch_session(b, &si), 0);
	assert_int_equal(ct_wbatch_count(b), 1);
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	assert_int_equal(ct_wbatch_count(b), 0);
	ct_wbatch_free(b);
}

static void test_store__session_roundtrip(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct ct_session_info g, g2;
	struct ct_wbatch *b;
	struct ct_rtxn *t;

	put_session(s, 0x0123456789abcdefull, 1700000000000000000ull);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_session_get(t, 0x0123456789abcdefull, &g), 0);
	check_session(&g, 0x0123456789abcdefull);
	assert_int_equal(g.start, 1700000000000000000ull);
	assert_int_equal(ct_store_session_get(t, 42, &g2), CT_ENOTFOUND);

	/* a record read back is rewritten from argv_raw under a new id */
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	g.id = 99;
	g.state = CT_SESSION_DONE;
	assert_int_equal(ct_wbatch_session(b, &g), 0);
	ct_store_read_end(t);
	assert_int_equal(ct_wbatch_commit(b, true), 0);
	ct_wbatch_free(b);

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_session_get(t, 99, &g2), 0);
	check_session(&g2, 99);
	ct_store_read_end(t);

	/* a bad argv_raw is refused, not stored */
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	g.argc = 2;
	g.argv_raw = (struct ct_bytes){ "\x01\x02", 2 };
	assert_int_equal(ct_wbatch_session(b, &g), CT_EINVAL);
	assert_int_equal(ct_wbatch_count(b), 0);
	ct_wbatch_free(b);
	ct_store_close(s);
}

static void test_store__resolve(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct ct_rtxn *t;
	uint64_t id = 0;

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_session_resolve(t, NULL, &id), CT_ENOTFOUND);
	assert_int_equal(ct_store_session_resolve(t, "abcd", &id),
			 CT_ENOTFOUND);
	ct_store_read_end(t);

	put_session(s, 0x1234aaaa00000001ull, 300);
	put_session(s, 0x1234aaaa00000002ull, 100);
	put_session(s, 0xabcdef0000000000ull, 200);
	put_session(s, 0x0000000000000005ull, 300); /* ties with ...01 */

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_session_resolve(t, NULL, &id), 0);
	assert_true(id == 0x1234aaaa00000001ull);
	id = 0;
	assert_int_equal(ct_store_session_resolve(t, "latest", &id), 0);
	assert_true(id == 0x1234aaaa00000001ull);
	assert_int_equal(ct_store_session_resolve(t, "abcd", &id), 0);
	assert_true(id == 0xabcdef0000000000ull);
	assert_int_equal(ct_store_session_resolve(t, "ABCDEF", &id), 0);
	assert_true(id == 0xabcdef0000000000ull);
	assert_int_equal(ct_store_session_resolve(t, "1234aaaa00000002", &id),
			 0);
	assert_true(id == 0x1234aaaa00000002ull);
	assert_int_equal(ct_store_session_resolve(t, "0000000000000005", &id),
			 0);
	assert_true(id == 5);
	assert_int_equal(ct_store_session_resolve(t, "0000", &id), 0);
	assert_true(id == 5);
	assert_int_equal(ct_store_session_resolve(t, "1234", &id), CT_EAMBIG);
	assert_int_equal(ct_store_session_resolve(t, "1234aaaa0000000", &id),
			 CT_EAMBIG);
	assert_int_equal(ct_store_session_resolve(t, "1234aaaa00000003", &id),
			 CT_ENOTFOUND);
	assert_int_equal(ct_store_session_resolve(t, "ffff", &id),
			 CT_ENOTFOUND);
	assert_int_equal(ct_store_session_resolve(t, "1235", &id),
			 CT_ENOTFOUND);
	assert_int_equal(ct_store_session_resolve(t, "1234aaaa000000010", &id),
			 CT_ENOTFOUND);
	assert_int_equal(ct_store_session_resolve(t, "abc", &id), CT_EINVAL);
	assert_int_equal(ct_store_session_resolve(t, "", &id), CT_EINVAL);
	assert_int_equal(ct_store_session_resolve(t, "lates", &id), CT_EINVAL);
	assert_int_equal(ct_store_session_resolve(t, "abcd-", &id), CT_EINVAL);
	ct_store_read_end(t);
	ct_store_close(s);
}

struct order {
	uint64_t ids[8];
	int n, stop_at;
};

static int order_fn(void *arg, const struct ct_session_info *si)
{
	struct order *o = arg;

	check_session(si, si->id);
	o->ids[o->n++] = si->id;
	return o->n == o->stop_at ? 77 : 0;
}

static void test_store__sessions_newest_first(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct order o = { .stop_at = -1 };
	struct ct_rtxn *t;

	put_session(s, 10, 500);
	put_session(s, 20, 100);
	put_session(s, 30, 900);
	put_session(s, 5, 500);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_sessions_foreach(t, order_fn, &o), 0);
	assert_int_equal(o.n, 4);
	assert_int_equal(o.ids[0], 30);
	assert_int_equal(o.ids[1], 10);
	assert_int_equal(o.ids[2], 5);
	assert_int_equal(o.ids[3], 20);
	o = (struct order){ .stop_at = 2 };
	assert_int_equal(ct_store_sessions_foreach(t, order_fn, &o), 77);
	assert_int_equal(o.n, 2);
	ct_store_read_end(t);
	ct_store_close(s);
}

static int count_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		    uint32_t len)
{
	(*(uint64_t *)arg)++;
	return 0;
}

static int stop_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		   uint32_t len)
{
	*(uint64_t *)arg = seq;
	return 5;
}

static void test_store__events(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	const void *rec;
	uint32_t proc, len;
	uint64_t n = 0;

	/* out of order across batches, interleaved sessions, and session 2
	 * written before 1 so that session 1 cannot use MDB_APPEND */
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	assert_int_equal(add_events(b, 1, 10, 20, 30), 0);
	assert_int_equal(add_events(b, 2, 0, 50, 30), 0);
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	assert_int_equal(add_events(b, 1, 0, 10, 30), 0);
	assert_int_equal(add_events(b, 1, 20, 30, 30), 0);
	assert_int_equal(add_events(b, 3, 0, 5, 30), 0);
	/* a rewrite of a key in the same batch: the later put wins */
	assert_int_equal(ct_wbatch_event(b, 3, 2, 9, "old", 3), 0);
	assert_int_equal(ct_wbatch_event(b, 3, 2, 8, "new!", 4), 0);
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);

	check_events(s, 1, 0, 30, 30);
	check_events(s, 1, 15, 15, 30);
	check_events(s, 1, 30, 0, 30);
	check_events(s, 2, 0, 50, 30);
	check_events(s, 4, 0, 0, 30);

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_events_foreach(t, 3, 0, count_fn, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(ct_store_event_get(t, 3, 2, &proc, &rec, &len), 0);
	assert_int_equal(proc, 8);
	assert_int_equal(len, 4);
	assert_memory_equal(rec, "new!", 4);
	assert_int_equal(ct_store_event_get(t, 1, 30, &proc, &rec, &len),
			 CT_ENOTFOUND);
	assert_int_equal(ct_store_events_foreach(t, 2, 7, stop_fn, &n), 5);
	assert_int_equal(n, 7);
	ct_store_read_end(t);
	ct_store_close(s);
}

struct procs_seen {
	uint32_t nums[8];
	int n;
};

static int procs_fn(void *arg, const struct ct_proc_info *pi)
{
	struct procs_seen *p = arg;

	p->nums[p->n++] = pi->num;
	return 0;
}

static void test_store__procs(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct ct_proc_info pi, g;
	struct procs_seen seen = { 0 };
	struct ct_wbatch *b;
	struct ct_rtxn *t;

	assert_int_equal(ct_wbatch_new(s, &b), 0);
	for (uint32_t i = 3; i >= 1; i--) {
		memset(&pi, 0, sizeof(pi));
		pi.num = i;
		pi.parent = i - 1;
		pi.pid_gen = 1;
		pi.flags = CT_PROC_SHIM | CT_PROC_EXITED;
		pi.pid = 1000 + (int32_t)i;
		pi.ppid = -1;
		pi.pstart = 1ull << 62;
		pi.start = 100 * i;
		pi.end = 0;
		pi.exit_code = -2;
		pi.signal = 0;
		pi.events = i;
		pi.image_seq = 7;
		pi.start_seq = 1;
		assert_int_equal(ct_wbatch_proc(b, 77, &pi), 0);
		assert_int_equal(ct_wbatch_proc(b, 78, &pi), 0);
	}
	pi.num = 2; /* rewritten as it changes: the later put wins */
	pi.end = 555;
	pi.signal = 15;
	pi.flags = CT_PROC_SIGNALED;
	assert_int_equal(ct_wbatch_proc(b, 77, &pi), 0);
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_procs_foreach(t, 77, procs_fn, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.nums[0], 1);
	assert_int_equal(seen.nums[1], 2);
	assert_int_equal(seen.nums[2], 3);
	assert_int_equal(ct_store_proc_get(t, 77, 3, &g), 0);
	assert_int_equal(g.num, 3);
	assert_int_equal(g.parent, 2);
	assert_int_equal(g.pid_gen, 1);
	assert_int_equal(g.flags, CT_PROC_SHIM | CT_PROC_EXITED);
	assert_int_equal(g.pid, 1003);
	assert_int_equal(g.ppid, -1);
	assert_true(g.pstart == 1ull << 62);
	assert_int_equal(g.start, 300);
	assert_int_equal(g.end, 0);
	assert_int_equal(g.exit_code, -2);
	assert_int_equal(g.events, 3);
	assert_int_equal(g.image_seq, 7);
	assert_int_equal(g.start_seq, 1);
	assert_int_equal(ct_store_proc_get(t, 77, 2, &g), 0);
	assert_int_equal(g.end, 555);
	assert_int_equal(g.signal, 15);
	assert_int_equal(g.flags, CT_PROC_SIGNALED);
	assert_int_equal(ct_store_proc_get(t, 78, 2, &g), 0);
	assert_int_equal(g.end, 0);
	assert_int_equal(ct_store_proc_get(t, 77, 4, &g), CT_ENOTFOUND);
	seen.n = 0;
	assert_int_equal(ct_store_procs_foreach(t, 79, procs_fn, &seen), 0);
	assert_int_equal(seen.n, 0);
	ct_store_read_end(t);
	ct_store_close(s);
}

static void test_store__map_growth(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	char path[PATH_MAX + 32];
	struct ct_wbatch *b;
	struct stat sb;
	const uint64_t n = 50 * 1024; /* 4 KiB each: 200 MiB */

	assert_int_equal(ct_wbatch_new(s, &b), 0);
	for (uint64_t q = 0; q < n; q += 2048) {
		assert_int_equal(add_events(b, 1, q, q + 2048, 4096), 0);
		assert_int_equal(ct_wbatch_commit(b, false), 0);
	}
	/* and one batch far larger than the map was at the start */
	assert_int_equal(add_events(b, 2, 0, 20000, 4096), 0);
	assert_int_equal(ct_wbatch_commit(b, true), 0);
	ct_wbatch_free(b);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > (200ll << 20));
	check_events(s, 1, 0, n, 4096);
	check_events(s, 2, 0, 20000, 4096);
	ct_store_close(s);

	/* a fresh handle adopts the grown map */
	s = open_rw(f->dir);
	check_events(s, 1, n - 100, 100, 4096);
	ct_store_close(s);
}

/* Child side of the concurrency tests: no cmocka here, exit status only. */
static int child_write(const char *dir, uint64_t session, uint64_t n,
		       uint64_t per_batch, uint32_t base, int gate)
{
	struct ct_session_info si;
	struct ct_store *s;
	struct ct_wbatch *b;
	char err[512], c;

	if (gate >= 0 && read(gate, &c, 1) != 1)
		return 10;
	if (ct_store_open(dir, 0, &s, err, sizeof(err))) {
		fprintf(stderr, "child: %s\n", err);
		return 11;
	}
	if (ct_wbatch_new(s, &b))
		return 12;
	fill_session(&si, session, session);
	for (uint64_t q = 0; q < n; q += per_batch) {
		if (add_events(b, session, q, q + per_batch, base))
			return 13;
		si.events = q + per_batch;
		si.last_seq = q + per_batch - 1;
		if (ct_wbatch_session(b, &si))
			return 14;
		if (ct_wbatch_commit(b, false)) {
			fprintf(stderr, "child: %s\n", ct_store_errmsg(s));
			return 15;
		}
	}
	ct_wbatch_free(b);
	ct_store_close(s);
	return 0;
}

static void wait_ok(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_store__two_processes(void **state)
{
	struct fx *f = *state;
	struct ct_store *s;
	pid_t pid[2];
	int gate[2];

	/* 1 KiB events: 100 MiB together, so the map grows while both
	 * write, and each sees the other's growth (MDB_MAP_RESIZED) */
	assert_int_equal(pipe(gate), 0);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			close(gate[1]);
			_exit(child_write(f->dir, 100 + (uint64_t)i, 50000, 500,
					  1024, gate[0]));
		}
	}
	close(gate[0]);
	assert_int_equal(write(gate[1], "go", 2), 2);
	close(gate[1]);
	wait_ok(pid[0]);
	wait_ok(pid[1]);
	s = open_rw(f->dir);
	check_events(s, 100, 0, 50000, 1024);
	check_events(s, 101, 0, 50000, 1024);
	ct_store_close(s);
}

struct snap {
	uint64_t session, count, last;
};

static int snap_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		   uint32_t len)
{
	struct snap *sn = arg;

	sn->count++;
	sn->last = seq;
	return 0;
}

static void test_store__reader_consistent(void **state)
{
	struct fx *f = *state;
	struct ct_session_info si;
	struct ct_store *s;
	struct ct_rtxn *t;
	int reads = 0, partial = 0, st;
	pid_t pid, done = 0;

	/* create the store first so the reader can open it at once */
	s = open_rw(f->dir);
	ct_store_close(s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_write(f->dir, 7, 60000, 600, 1500, -1));
	s = open_rw(f->dir);
	while (done == 0 || reads < 3) {
		struct snap sn = { 7, 0, 0 };
		int rc;

		if (done == 0) {
			done = waitpid(pid, &st, WNOHANG);
			assert_true(done >= 0);
		}
		assert_int_equal(ct_store_read_begin(s, &t), 0);
		rc = ct_store_session_get(t, 7, &si);
		if (rc == CT_ENOTFOUND) {
			/* no batch yet: then no events either */
			assert_int_equal(
				ct_store_events_foreach(t, 7, 0, snap_fn, &sn),
				0);
			assert_int_equal(sn.count, 0);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(
				ct_store_events_foreach(t, 7, 0, snap_fn, &sn),
				0);
			/* session record and events come from one commit */
			assert_int_equal(sn.count, si.events);
			assert_int_equal(sn.last, si.last_seq);
			partial += si.events < 60000;
		}
		ct_store_read_end(t);
		reads++;
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	check_events(s, 7, 0, 60000, 1500);
	ct_store_close(s);
	print_message("reader: %d snapshots, %d mid-write\n", reads, partial);
}

struct hold {
	struct ct_store *s;
	int fd; /* written once the read transaction is open */
	int ok;
};

static void *hold_reader(void *arg)
{
	struct hold *h = arg;
	struct ct_rtxn *t;
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	if (ct_store_read_begin(h->s, &t))
		return NULL;
	if (write(h->fd, "r", 1) != 1)
		return NULL;
	nanosleep(&ts, NULL);
	ct_store_read_end(t);
	h->ok = 1;
	return NULL;
}

static void test_store__resize_with_readers(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct hold h = { s, -1, 0 };
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	pthread_t th;
	int p[2];
	char c;

	/* a batch bigger than the initial map while this very thread holds
	 * a read transaction: refused at once, and kept */
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	assert_int_equal(add_events(b, 1, 0, 18000, 4096), 0);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_wbatch_commit(b, false), CT_EBUSY);
	assert_non_null(strstr(ct_store_errmsg(s), "read transaction"));
	assert_int_equal(ct_wbatch_count(b), 18000);
	ct_store_read_end(t);

	/* another thread's read transaction: the resize waits for it */
	assert_int_equal(pipe(p), 0);
	h.fd = p[1];
	assert_int_equal(pthread_create(&th, NULL, hold_reader, &h), 0);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	assert_int_equal(h.ok, 1); /* it could only finish after the reader */
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
	ct_wbatch_free(b);
	check_events(s, 1, 0, 18000, 4096);
	ct_store_close(s);
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void expect_open_fail(const char *dir, unsigned flags, int want,
			     const char *needle)
{
	struct ct_store *s = (void *)1;
	char err[512] = "";
	int rc = ct_store_open(dir, flags, &s, err, sizeof(err));

	print_message("  %s -> %s: %s\n", dir, ct_errname(rc), err);
	if (want)
		assert_int_equal(rc, want);
	else
		assert_true(rc < 0);
	assert_null(s);
	assert_non_null(strstr(err, dir));
	assert_null(strchr(err, '\n'));
	if (needle)
		assert_non_null(strstr(err, needle));
}

static void test_store__corrupt_random(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 32];
	static uint8_t junk[65536];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(mkdir(f->tmp, 0700) == 0 || errno == EEXIST, 1);
	snprintf(path, sizeof(path), "%s/home", f->tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	write_file(path, junk, sizeof(junk));
	expect_open_fail(f->dir, 0, CT_ECORRUPT, "corrupt");
	expect_open_fail(f->dir, CT_STORE_RDONLY, CT_ECORRUPT, "move it aside");
	write_file(path, junk, 100);
	expect_open_fail(f->dir, 0, 0, NULL);
}

static void test_store__corrupt_truncated(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	char path[PATH_MAX + 32];
	struct ct_wbatch *b;
	struct stat sb;

	assert_int_equal(ct_wbatch_new(s, &b), 0);
	assert_int_equal(add_events(b, 1, 0, 5000, 1000), 0);
	assert_int_equal(ct_wbatch_commit(b, true), 0);
	ct_wbatch_free(b);
	ct_store_close(s);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	expect_open_fail(f->dir, 0, CT_ECORRUPT, "truncated");
	expect_open_fail(f->dir, CT_STORE_RDONLY, CT_ECORRUPT, "truncated");
	assert_int_equal(truncate(path, 6000), 0);
	expect_open_fail(f->dir, 0, 0, NULL);
}

/* Raw LMDB access behind the store's back (the store is closed meanwhile:
 * LMDB forbids two opens of one environment in a process). */
static MDB_env *raw_open(const char *dir, MDB_txn **txn, bool rdonly)
{
	MDB_env *env;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, rdonly ? MDB_RDONLY : 0, 0600),
			 0);
	assert_int_equal(mdb_txn_begin(env, NULL, rdonly ? MDB_RDONLY : 0, txn),
			 0);
	return env;
}

static void raw_put(MDB_txn *txn, const char *db, uint64_t id, const void *k,
		    size_t kn, const void *v, size_t vn)
{
	uint8_t kb[8];
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };
	MDB_dbi dbi;

	if (!k) {
		for (int i = 0; i < 8; i++)
			kb[i] = (uint8_t)(id >> (56 - 8 * i));
		key.mv_size = 8;
		key.mv_data = kb;
	}
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

static int count_sess(void *arg, const struct ct_session_info *si)
{
	(void)si;
	++*(uint64_t *)arg;
	return 0;
}

static void test_store__corrupt_records(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	uint8_t ek[16] = { 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t pk[12] = { 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 1 };
	static const uint8_t vals[] = { 0x00, 0xff, 0xc1, 0xdd, 0x7f, 0xc0 };
	static uint8_t good[1024], mut[1024];
	struct ct_session_info g;
	struct ct_proc_info pi;
	const void *rec;
	uint32_t proc, len;
	struct ct_rtxn *t;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val key = { 8, (uint8_t[8]){ 0, 0, 0, 0, 0, 0, 0, 8 } }, val;
	uint64_t n = 0, id, next = 1000, listed = 0;
	size_t glen, vo;
	int ok = 0, bad = 0;

	put_session(s, 8, 1);
	ct_store_close(s);
	env = raw_open(f->dir, &txn, true);
	assert_int_equal(mdb_dbi_open(txn, "sessions", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &key, &val), 0);
	glen = val.mv_size;
	assert_true(glen < sizeof(good));
	memcpy(good, val.mv_data, glen);
	mdb_txn_abort(txn);
	mdb_env_close(env);

	/* every truncation and many single-byte changes of a good record,
	 * each under its own id 1000, 1001, ... */
	env = raw_open(f->dir, &txn, false);
	for (size_t cut = 0; cut < glen; cut++)
		raw_put(txn, "sessions", next++, NULL, 0, good, cut);
	for (size_t i = 0; i < glen; i++) {
		for (size_t j = 0; j < sizeof(vals); j++) {
			memcpy(mut, good, glen);
			mut[i] = vals[j];
			raw_put(txn, "sessions", next++, NULL, 0, mut, glen);
		}
	}
	/* version 2 is a future format, not garbage */
	memcpy(mut, good, glen);
	vo = good[0] == 0xdc ? 3 : 1; /* after an array16 or fixarray head */
	assert_int_equal(mut[vo], 1);
	mut[vo] = 2;
	raw_put(txn, "sessions", 9, NULL, 0, mut, glen);
	raw_put(txn, "events", 0, ek, 16, "\x01\x02", 2);
	raw_put(txn, "procs", 0, pk, 12, "\x92\x01\x01", 3);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = open_rw(f->dir);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	for (uint64_t i = 1000; i < 1000 + glen; i++)
		assert_int_equal(ct_store_session_get(t, i, &g), CT_ECORRUPT);
	for (uint64_t i = 1000 + glen; i < next; i++) {
		int rc = ct_store_session_get(t, i, &g);

		assert_true(rc == 0 || rc == CT_ECORRUPT || rc == CT_EVERSION);
		ok += rc == 0;
		bad += rc != 0;
	}
	print_message("mutations: %d decoded, %d refused\n", ok, bad);
	assert_true(bad > 0);
	assert_int_equal(ct_store_session_get(t, 9, &g), CT_EVERSION);
	assert_int_equal(ct_store_session_get(t, 8, &g), 0);
	/* "latest" and the listing skip what does not decode (9, a future
	 * version, too) and count it, instead of failing on it */
	assert_int_equal(ct_store_session_resolve(t, "latest", &id), 0);
	assert_int_equal(ct_store_damaged(t), (uint64_t)bad + glen + 1);
	ct_store_read_end(t);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_sessions_foreach(t, count_sess, &listed), 0);
	assert_int_equal(listed, (uint64_t)ok + 1); /* + the good 8 */
	assert_int_equal(ct_store_damaged(t), (uint64_t)bad + glen + 1);
	assert_int_equal(ct_store_events_foreach(t, 10, 0, count_fn, &n),
			 CT_ECORRUPT);
	assert_int_equal(n, 0);
	assert_int_equal(ct_store_proc_get(t, 10, 1, &pi), CT_ECORRUPT);
	assert_int_equal(ct_store_event_get(t, 10, 1, &proc, &rec, &len),
			 CT_ECORRUPT);
	ct_store_read_end(t);
	ct_store_close(s);
}

static void test_store__unwritable(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX + 32], dir[PATH_MAX + 64];

	if (geteuid() == 0) {
		/* root ignores modes: a folder below a regular file fails
		 * for everyone */
		snprintf(path, sizeof(path), "%s/file", f->tmp);
		write_file(path, "x", 1);
		snprintf(dir, sizeof(dir), "%s/sub", path);
	} else {
		snprintf(path, sizeof(path), "%s/ro", f->tmp);
		assert_int_equal(mkdir(path, 0500), 0);
		snprintf(dir, sizeof(dir), "%s/sub", path);
	}
	expect_open_fail(dir, 0, geteuid() == 0 ? 0 : CT_EPERM,
			 "set CTRACE_HOME to a writable folder");
	expect_open_fail(path, 0, 0, NULL); /* a file, not a folder */
}

static void test_store__rdonly(void **state)
{
	struct fx *f = *state;
	struct ct_store *s, *r;
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	char err[512];
	uint64_t id;
	struct stat sb;

	assert_int_equal(
		ct_store_open(f->dir, CT_STORE_RDONLY, &s, err, sizeof(err)),
		CT_ENOTFOUND);
	assert_non_null(strstr(err, f->dir));
	assert_int_equal(stat(f->dir, &sb), -1); /* nothing was created */

	s = open_rw(f->dir);
	put_session(s, 0xfeed, 1);
	ct_store_close(s);
	assert_int_equal(
		ct_store_open(f->dir, CT_STORE_RDONLY, &r, err, sizeof(err)),
		0);
	assert_int_equal(ct_store_read_begin(r, &t), 0);
	assert_int_equal(ct_store_session_resolve(t, "latest", &id), 0);
	assert_true(id == 0xfeed);
	ct_store_read_end(t);
	assert_int_equal(ct_wbatch_new(r, &b), 0);
	assert_int_equal(ct_wbatch_event(b, 1, 1, 1, "x", 1), 0);
	assert_int_equal(ct_wbatch_commit(b, false), CT_EPERM);
	assert_int_equal(ct_wbatch_count(b), 1); /* kept on failure */
	assert_non_null(strstr(ct_store_errmsg(r), "read-only"));
	ct_wbatch_free(b);
	/* a writer open while this process has it read-only is refused */
	assert_int_equal(ct_store_open(f->dir, 0, &s, err, sizeof(err)),
			 CT_EBUSY);
	ct_store_close(r);
}

static void test_store__shared_handles(void **state)
{
	struct fx *f = *state;
	struct ct_store *a = open_rw(f->dir), *b2, *r;
	struct ct_rtxn *t;
	char err[512], alias[PATH_MAX + 8];
	uint64_t id;

	/* the same folder under another spelling shares one environment */
	snprintf(alias, sizeof(alias), "%s/", f->dir);
	b2 = open_rw(alias);
	assert_int_equal(
		ct_store_open(f->dir, CT_STORE_RDONLY, &r, err, sizeof(err)),
		0);
	put_session(a, 1, 1);
	ct_store_close(a);
	put_session(b2, 2, 2);
	assert_int_equal(ct_store_read_begin(r, &t), 0);
	assert_int_equal(ct_store_session_resolve(t, NULL, &id), 0);
	assert_int_equal(id, 2);
	ct_store_read_end(t);
	ct_store_close(b2);
	ct_store_close(r);
}

static void test_store__delete_session(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct ct_proc_info pi = { .num = 1 }, g;
	struct ct_session_info si;
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	uint64_t n = 0;

	put_session(s, 1, 1);
	put_session(s, 2, 2);
	put_session(s, 3, 3);
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	/* more events than one delete transaction takes */
	assert_int_equal(add_events(b, 1, 0, 120000, 8), 0);
	assert_int_equal(add_events(b, 2, 0, 100, 8), 0);
	assert_int_equal(add_events(b, 3, 0, 100, 8), 0);
	for (pi.num = 1; pi.num <= 3; pi.num++) {
		assert_int_equal(ct_wbatch_proc(b, 1, &pi), 0);
		assert_int_equal(ct_wbatch_proc(b, 2, &pi), 0);
	}
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);

	assert_int_equal(ct_store_session_delete(s, 1), 0);
	assert_int_equal(ct_store_session_delete(s, 1), CT_ENOTFOUND);
	assert_int_equal(ct_store_session_delete(s, 3), 0);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_session_get(t, 1, &si), CT_ENOTFOUND);
	assert_int_equal(ct_store_session_get(t, 3, &si), CT_ENOTFOUND);
	assert_int_equal(ct_store_events_foreach(t, 1, 0, count_fn, &n), 0);
	assert_int_equal(ct_store_events_foreach(t, 3, 0, count_fn, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ct_store_proc_get(t, 1, 1, &g), CT_ENOTFOUND);
	assert_int_equal(ct_store_session_get(t, 2, &si), 0);
	assert_int_equal(ct_store_proc_get(t, 2, 3, &g), 0);
	ct_store_read_end(t);
	check_events(s, 2, 0, 100, 8);
	ct_store_close(s);
}

/* --- the collector's process model (collector/collector.c) --- */

struct seen {
	uint32_t proc[32]; /* by seq */
	uint64_t n;
};

static int seen_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		   uint32_t len)
{
	struct seen *sn = arg;

	(void)rec;
	(void)len;
	if (seq < 32)
		sn->proc[seq] = proc;
	sn->n++;
	return 0;
}

static void stored_fn(void *arg, uint64_t seq, uint32_t proc,
		      const struct ct_event *ev)
{
	struct seen *sn = arg;

	assert_non_null(ev);
	if (seq < 32)
		sn->proc[seq] = proc;
	sn->n++;
}

/* Events find their instance by (pid, pstart) whichever came last, so that
 * the collector's memo of the last instance found never outlives a change:
 * a second instance of a pid, an unstamped (vfork) instance adopting its
 * stamp, an event reported by a parent for the child. */
static void test_store__collector_instances(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_rw(f->dir);
	struct ct_session_info si;
	struct ct_collector *c;
	struct seen cb = { { 0 }, 0 }, st = { { 0 }, 0 };
	struct ct_proc_info pi;
	struct ct_rtxn *t;
	static const struct {
		int32_t pid;
		uint64_t pstart;
		uint8_t kind;
		bool reported;
		uint32_t want; /* instance num */
	} evs[] = {
		{ 10, 100, CT_KIND_OPEN, false, 1 },
		{ 10, 100, CT_KIND_OPEN, false, 1 },
		{ 10, 200, CT_KIND_OPEN, false, 2 }, /* pid reused */
		{ 10, 100, CT_KIND_OPEN, false, 1 },
		{ 10, 200, CT_KIND_OPEN, false, 2 },
		{ 11, 0, CT_KIND_OPEN, false, 3 }, /* a vfork child */
		{ 11, 300, CT_KIND_OPEN, false, 3 }, /* adopts its stamp */
		{ 11, 300, CT_KIND_OPEN, false, 3 },
		{ 10, 100, CT_KIND_EXIT, false, 1 },
		{ 10, 200, CT_KIND_EXIT, true, 2 }, /* latest of pid 10 */
		{ 10, 100, CT_KIND_OPEN, false, 1 },
		{ 11, 300, CT_KIND_UNLINK, false, 3 },
	};
	size_t n = sizeof(evs) / sizeof(evs[0]);

	put_session(s, 7, 1);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_session_get(t, 7, &si), 0);
	assert_int_equal(ct_collector_new(s, NULL, &si, false, &c), 0);
	ct_store_read_end(t);
	ct_collector_on_stored(c, stored_fn, &cb);
	for (size_t i = 0; i < n; i++) {
		struct ct_event ev = {
			.kind = evs[i].kind,
			.source = CT_SOURCE_LIBC,
			.ts = 1000 + i,
			.pid = evs[i].pid,
			.tid = evs[i].pid,
			.ppid = 1,
			.pstart = evs[i].pstart,
		};

		if (evs[i].kind == CT_KIND_OPEN ||
		    evs[i].kind == CT_KIND_UNLINK) {
			ev.present = CT_F_PATH;
			ev.path.p = "/tmp/x";
			ev.path.len = 6;
		} else {
			ev.present = CT_F_EXIT;
		}
		if (evs[i].reported) {
			ev.present |= CT_F_REPORTER;
			ev.reporter = 4242;
		}
		assert_int_equal(ct_collector_add(c, &ev), 0);
	}
	ct_collector_on_stored(c, NULL, NULL);
	assert_int_equal(ct_collector_finish(c, 9000, 0, 0, CT_SESSION_DONE),
			 0);
	assert_int_equal(ct_collector_session(c)->processes, 3);
	assert_int_equal(ct_collector_session(c)->deleted, si.deleted + 1);
	assert_int_equal(ct_collector_parent(c, 0), 0);
	assert_int_equal(ct_collector_parent(c, 4), 0);
	ct_collector_free(c);

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_events_foreach(t, 7, 0, seen_fn, &st), 0);
	assert_int_equal(st.n, n);
	assert_int_equal(cb.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(st.proc[i + 1], evs[i].want);
		assert_int_equal(cb.proc[i + 1], evs[i].want);
	}
	assert_int_equal(ct_store_proc_get(t, 7, 1, &pi), 0);
	assert_int_equal(pi.pid, 10);
	assert_int_equal(pi.pid_gen, 1);
	assert_int_equal(pi.events, 5);
	assert_true(pi.flags & CT_PROC_EXITED);
	assert_int_equal(ct_store_proc_get(t, 7, 2, &pi), 0);
	assert_int_equal(pi.pid, 10);
	assert_int_equal(pi.pid_gen, 2);
	assert_int_equal(pi.events, 3);
	assert_int_equal(ct_store_proc_get(t, 7, 3, &pi), 0);
	assert_int_equal(pi.pid, 11);
	assert_int_equal(pi.pstart, 300);
	assert_int_equal(pi.events, 4);
	ct_store_read_end(t);
	ct_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_store__default_dir),
		T(test_store__open_modes),
		T(test_store__session_roundtrip),
		T(test_store__resolve),
		T(test_store__sessions_newest_first),
		T(test_store__events),
		T(test_store__procs),
		T(test_store__map_growth),
		T(test_store__two_processes),
		T(test_store__reader_consistent),
		T(test_store__resize_with_readers),
		T(test_store__corrupt_random),
		T(test_store__corrupt_truncated),
		T(test_store__corrupt_records),
		T(test_store__unwritable),
		T(test_store__rdonly),
		T(test_store__shared_handles),
		T(test_store__delete_session),
		T(test_store__collector_instances),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
