/* Unit tests of the stored form of events (collector/store.c; layout in
 * docs/store.md, "Event values"): every reader gets back the very bytes
 * written, from compact, raw and old-layout values alike (the shim's ring
 * form of a record comes back in the canonical form: same values); damage to
 * either table gives an error or a record that does not decode, never a
 * crash (the sanitizer build runs this too). */
#include <ftw.h>
#include <stdbool.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "collector/store.h"
#include "common/codec.h"
#include "common/error.h"

struct fx {
	char tmp[256];
	char dir[PATH_MAX];
};

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->tmp, sizeof(f->tmp), "/tmp/ct_storeform_XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/store", f->tmp);
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

static struct ct_store *open_store(const char *dir, unsigned flags)
{
	struct ct_store *s = NULL;
	char err[512];
	int rc = ct_store_open(dir, flags, &s, err, sizeof(err));

	if (rc)
		fail_msg("open %s: %s (%s)", dir, err, ct_errname(rc));
	return s;
}

static uint64_t rnd(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return *x >> 17;
}

/* Event i of a session, as the shim would encode it: a few processes and
 * threads, paths from a few folders with names repeated or not, every
 * optional field now and then, odd values (a negative exit code, an err
 * that is not -result, a result of INT64_MIN, pstart 0). */
static size_t make_event(uint64_t seed, uint64_t i, uint8_t *buf, size_t cap)
{
	static char p[6][400], args[6][48];
	static char *argv[7];
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ull);
	struct ct_event ev;
	ssize_t n;
	int argc;

	memset(&ev, 0, sizeof(ev));
	rnd(&x);
	ev.kind = (uint8_t)(1 + rnd(&x) % 17);
	ev.source = (uint8_t)(1 + rnd(&x) % 6);
	ev.pid = (int32_t)(1000 + rnd(&x) % 5);
	ev.tid = rnd(&x) % 4 ? ev.pid : ev.pid + 7;
	ev.ppid = ev.pid == 1000 ? 1 : 1000;
	ev.pstart = ev.pid == 1004 ? 0 : 1700000000000000000ull + ev.pid;
	ev.ts = 1700000000000000000ull + i * 1500 + rnd(&x) % 1000;
	switch (rnd(&x) % 5) {
	case 0:
		ev.result = -(int64_t)(1 + rnd(&x) % 40);
		ev.err = (int32_t)-ev.result;
		break;
	case 1:
		ev.result = rnd(&x) % 3 ? 3 : INT64_MIN;
		ev.err = rnd(&x) % 2 ? 9 : 0;
		break;
	default:
		ev.result = (int64_t)(rnd(&x) % 70000);
	}
	ev.present = (uint32_t)rnd(&x) & 0xffffu;
	snprintf(p[0], sizeof(p[0]), "/work/d%u/sub/file%u.c",
		 (unsigned)(rnd(&x) % 7), (unsigned)(rnd(&x) % 2 ? i : i % 5));
	snprintf(p[1], sizeof(p[1]), "/tmp/x/%llu.tmp",
		 (unsigned long long)(rnd(&x) % 3 ? i : 7));
	snprintf(p[2], sizeof(p[2]), "%s",
		 rnd(&x) % 2 ? "/usr/bin/cc" : "relative-name");
	snprintf(p[3], sizeof(p[3]), "%s", rnd(&x) % 4 ? "/work" : "");
	snprintf(p[4], sizeof(p[4]), "127.0.0.1:%u", (unsigned)(rnd(&x) % 3));
	snprintf(p[5], sizeof(p[5]), "reason %u", (unsigned)(rnd(&x) % 2));
	if (rnd(&x) % 50 == 0) /* a long path: a bin16 header */
		memset(p[0] + 10, 'a', 300);
	ev.path = (struct ct_bytes){ p[0], (uint32_t)strlen(p[0]) };
	ev.path2 = (struct ct_bytes){ p[1], (uint32_t)strlen(p[1]) };
	ev.exe = (struct ct_bytes){ p[2], (uint32_t)strlen(p[2]) };
	ev.cwd = (struct ct_bytes){ p[3], (uint32_t)strlen(p[3]) };
	ev.addr = (struct ct_bytes){ p[4], (uint32_t)strlen(p[4]) };
	ev.reason = (struct ct_bytes){ p[5], (uint32_t)strlen(p[5]) };
	ev.flags = (uint32_t)rnd(&x);
	ev.mode = (uint32_t)(rnd(&x) % 0777);
	ev.exit_code = (int32_t)(rnd(&x) % 300) - 150;
	ev.signal = (int32_t)(rnd(&x) % 40);
	ev.parent_start = rnd(&x) % 2 ? ev.pstart - 5 : 0;
	ev.argv_dropped = (uint32_t)(rnd(&x) % 3);
	ev.fd = (int32_t)(rnd(&x) % 200) - 100;
	ev.reporter = ev.ppid;
	ev.existed = (uint8_t)(rnd(&x) % 2);
	argc = (int)(rnd(&x) % 6);
	for (int a = 0; a < argc; a++) {
		snprintf(args[a], sizeof(args[a]), "arg%u",
			 (unsigned)(rnd(&x) % 4));
		argv[a] = args[a];
	}
	argv[argc] = NULL;
	ev.argv_in = argv;
	n = ct_event_encode(&ev, buf, cap);
	assert_true(n > 0);
	return (size_t)n;
}

struct cmp {
	uint64_t seed, next, count, bad, empty;
	uint32_t procmod;
};

static int cmp_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		  uint32_t len)
{
	static uint8_t want[CT_RECORD_MAX];
	struct cmp *c = arg;
	size_t n = make_event(c->seed, seq, want, sizeof(want));

	if (seq != c->next || proc != (uint32_t)(seq % c->procmod) + 1 ||
	    n != len || memcmp(want, rec, n))
		c->bad++;
	c->empty += len == 0;
	c->next = seq + 1;
	c->count++;
	return 0;
}

static void add_range(struct ct_store *s, uint64_t session, uint64_t seed,
		      uint64_t from, uint64_t to, uint32_t procmod)
{
	static uint8_t buf[CT_RECORD_MAX];
	struct ct_wbatch *b;

	assert_int_equal(ct_wbatch_new(s, &b), 0);
	for (uint64_t q = from; q < to; q++) {
		size_t n = make_event(seed, q, buf, sizeof(buf));

		assert_int_equal(ct_wbatch_event(b, session, q,
						 (uint32_t)(q % procmod) + 1,
						 buf, (uint32_t)n),
				 0);
		if (q % 1000 == 999)
			assert_int_equal(ct_wbatch_commit(b, false), 0);
	}
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);
}

static void check_range(struct ct_store *s, uint64_t session, uint64_t seed,
			uint64_t from, uint64_t want, uint32_t procmod)
{
	struct cmp c = { seed, from, 0, 0, 0, procmod };
	struct ct_rtxn *t;

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_events_foreach(t, session, from, cmp_fn, &c),
			 0);
	ct_store_read_end(t);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.count, want);
}

/* Value bytes of a session's events, entries of its strings. */
struct rawstat {
	uint64_t events, vbytes, compact, strings;
};

static void raw_stat(const char *dir, uint64_t session, struct rawstat *st)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	const char *dbs[] = { "events", "strings" };

	memset(st, 0, sizeof(*st));
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	for (int d = 0; d < 2; d++) {
		if (mdb_dbi_open(txn, dbs[d], 0, &dbi))
			continue;
		assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
		for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *kp = k.mv_data;
			uint64_t id = 0;

			for (int i = 0; i < 8; i++)
				id = id << 8 | kp[i];
			if (id != session)
				continue;
			if (d == 0) {
				st->events++;
				st->vbytes += v.mv_size;
				st->compact += *(const uint8_t *)v.mv_data == 1;
			} else {
				st->strings++;
			}
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static void test_storeform__roundtrip(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_store(f->dir, 0);
	static uint8_t buf[CT_RECORD_MAX];
	const void *kept[10];
	uint32_t klen[10], proc;
	uint64_t total = 0;
	struct rawstat st;
	struct ct_rtxn *t;

	/* three writers one after the other, as a collector and two that
	 * resumed the session after it died: ids go on, nothing clashes */
	add_range(s, 5, 42, 1, 8000, 9);
	add_range(s, 5, 42, 8000, 15000, 9);
	add_range(s, 6, 43, 1, 3000, 4); /* another session between */
	add_range(s, 5, 42, 15000, 20000, 9);
	check_range(s, 5, 42, 1, 19999, 9);
	check_range(s, 5, 42, 12345, 20000 - 12345, 9);
	check_range(s, 6, 43, 1, 2999, 4);

	/* event_get: each record stays valid until the end of the txn */
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ct_store_event_get(t, 5,
						    1 + 1999 * (uint64_t)i,
						    &proc, &kept[i], &klen[i]),
				 0);
	for (int i = 0; i < 10; i++) {
		size_t n = make_event(42, 1 + 1999 * (uint64_t)i, buf,
				      sizeof(buf));

		assert_int_equal(klen[i], n);
		assert_memory_equal(kept[i], buf, n);
	}
	ct_store_read_end(t);
	ct_store_close(s);

	for (uint64_t q = 1; q < 20000; q++)
		total += make_event(42, q, buf, sizeof(buf));
	raw_stat(f->dir, 5, &st);
	print_message("19999 events: %llu record bytes, %llu stored, %llu "
		      "compact, %llu strings\n",
		      (unsigned long long)total, (unsigned long long)st.vbytes,
		      (unsigned long long)st.compact,
		      (unsigned long long)st.strings);
	assert_int_equal(st.events, 19999);
	assert_int_equal(st.compact, 19999);
	assert_true(st.strings > 0);
	assert_true(st.vbytes * 2 < total);
}

/* Records that decode but that the shim's encoder would not write (an
 * integer wider than needed, a path as str): kept as given. */
static void test_storeform__noncanonical(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_store(f->dir, 0);
	/* docs/format.md's example, then with result as uint8 and the path
	 * as str8 */
	static const uint8_t golden[] = {
		0x9b, 0x01, 0x06, 0x01, 0xcf, 0x17, 0x97, 0x9c, 0xfe,
		0x3d, 0x85, 0xcd, 0x15, 0xcd, 0x04, 0xd2, 0xcd, 0x04,
		0xd3, 0x01, 0xcf, 0x17, 0x97, 0x9c, 0xfd, 0xfa, 0x8f,
		0x36, 0x00, 0x03, 0x00, 0x84, 0x01, 0xc4, 0x06, '/',
		't',  'm',  'p',  '/',	'a',  0x03, 0xcd, 0x02, 0x41,
		0x04, 0xcd, 0x01, 0xa4, 0x10, 0x01
	};
	uint8_t wide[sizeof(golden) + 1], str8[sizeof(golden)];
	const uint8_t *recs[3] = { golden, wide, str8 };
	size_t lens[3] = { sizeof(golden), sizeof(wide), sizeof(str8) };
	struct ct_event ev;
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	struct rawstat st;

	memcpy(wide, golden, 29);
	wide[29] = 0xcc; /* result 3 as uint8 */
	memcpy(wide + 30, golden + 29, sizeof(golden) - 29);
	memcpy(str8, golden, sizeof(golden));
	str8[33] = 0xd9; /* str8 instead of bin8 */
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ct_event_decode(recs[i], lens[i], &ev), 0);
		assert_int_equal(ct_wbatch_event(b, 1, (uint64_t)i + 1, 1,
						 recs[i], (uint32_t)lens[i]),
				 0);
	}
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	for (int i = 0; i < 3; i++) {
		const void *rec;
		uint32_t proc, len;

		assert_int_equal(ct_store_event_get(t, 1, (uint64_t)i + 1,
						    &proc, &rec, &len),
				 0);
		assert_int_equal(len, lens[i]);
		assert_memory_equal(rec, recs[i], len);
	}
	ct_store_read_end(t);
	ct_store_close(s);
	raw_stat(f->dir, 1, &st);
	assert_int_equal(st.compact, 1); /* the golden record alone */
}

/* Records in the shim's ring form (fixed-width integers, bin16 paths):
 * stored compact, as small as the canonical records of the same events,
 * and read back in the canonical form.  Events with argv do not take the
 * ring form; the shim writes those canonical. */
static void test_storeform__ring_form(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_store(f->dir, 0);
	static uint8_t canon[CT_RECORD_MAX], ring[CT_RECORD_MAX];
	struct rawstat st, st_canon;
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	struct ct_event ev;
	uint64_t n = 0, seq[2] = { 0, 0 };

	assert_int_equal(ct_wbatch_new(s, &b), 0);
	for (uint64_t q = 1; q <= 3000; q++) {
		size_t c = make_event(77, q, canon, sizeof(canon)), r;

		assert_int_equal(ct_event_decode(canon, c, &ev), 0);
		if (!(r = ct_event_ring_size(&ev)))
			continue;
		assert_int_equal(ct_event_ring_encode(&ev, ring), r);
		assert_true(r != c || memcmp(ring, canon, c));
		assert_int_equal(
			ct_wbatch_event(b, 1, ++seq[0], 1, ring, (uint32_t)r),
			0);
		assert_int_equal(
			ct_wbatch_event(b, 2, ++seq[1], 1, canon, (uint32_t)c),
			0);
		n++;
	}
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);
	assert_true(n > 100);

	assert_int_equal(ct_store_read_begin(s, &t), 0);
	for (uint64_t q = 1; q <= n; q++) {
		const void *r1, *r2;
		uint32_t proc, l1, l2;

		assert_int_equal(ct_store_event_get(t, 1, q, &proc, &r1, &l1),
				 0);
		assert_int_equal(ct_store_event_get(t, 2, q, &proc, &r2, &l2),
				 0);
		assert_int_equal(l1, l2);
		assert_memory_equal(r1, r2, l1);
	}
	ct_store_read_end(t);
	ct_store_close(s);
	raw_stat(f->dir, 1, &st);
	raw_stat(f->dir, 2, &st_canon);
	assert_int_equal(st.compact, n);
	assert_int_equal(st.vbytes, st_canon.vbytes);
}

/* A store written before the compact form: no strings table, events as
 * (proc, 4 bytes little-endian) + record. */
static void legacy_store(const char *dir, uint64_t session, uint64_t seed,
			 uint64_t n)
{
	static uint8_t buf[CT_RECORD_MAX + 4];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	mkdir(dir, 0700);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "sessions", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "procs", MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, "events", MDB_CREATE, &dbi), 0);
	for (uint64_t q = 1; q <= n; q++) {
		uint8_t key[16];
		uint32_t proc = (uint32_t)(q % 3) + 1;
		size_t len = make_event(seed, q, buf + 4, CT_RECORD_MAX);
		MDB_val k = { 16, key }, v = { len + 4, buf };

		for (int i = 0; i < 8; i++) {
			key[i] = (uint8_t)(session >> (56 - 8 * i));
			key[8 + i] = (uint8_t)(q >> (56 - 8 * i));
		}
		memcpy(buf, &(uint8_t[4]){ (uint8_t)proc, 0, 0, 0 }, 4);
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_storeform__legacy(void **state)
{
	struct fx *f = *state;
	struct ct_store *s;
	struct rawstat st;

	legacy_store(f->dir, 7, 77, 3000);
	/* read-only: the store has no strings table at all */
	s = open_store(f->dir, CT_STORE_RDONLY);
	check_range(s, 7, 77, 1, 3000, 3);
	ct_store_close(s);
	/* a writer adds the table; the old session keeps its layout, also
	 * for events added to it now (a recovery by a newer ctrace) */
	s = open_store(f->dir, 0);
	check_range(s, 7, 77, 1, 3000, 3);
	add_range(s, 7, 77, 3001, 4000, 3);
	add_range(s, 8, 78, 1, 500, 3);
	check_range(s, 7, 77, 1, 3999, 3);
	check_range(s, 8, 78, 1, 499, 3);
	ct_store_close(s);
	raw_stat(f->dir, 7, &st);
	assert_int_equal(st.strings, 0);
	raw_stat(f->dir, 8, &st);
	assert_int_equal(st.compact, 499);
	s = open_store(f->dir, CT_STORE_RDONLY);
	check_range(s, 7, 77, 2500, 1500, 3);
	check_range(s, 8, 78, 1, 499, 3);
	ct_store_close(s);
}

struct dmg {
	uint64_t n, empty, ok, bad;
	bool stop; /* at the first damaged value (seq 1000000 on) */
};

static int dmg_fn(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		  uint32_t len)
{
	struct dmg *d = arg;
	struct ct_event ev;

	(void)proc;
	d->n++;
	if (seq >= 1000000 && d->stop)
		return 1;
	d->empty += len == 0;
	if (ct_event_decode(rec, len, &ev) == 0)
		d->ok++;
	else
		d->bad++;
	return 0;
}

static void raw_rewrite(const char *dir, uint64_t session, uint64_t seed)
{
	static uint8_t mut[CT_RECORD_MAX];
	static const uint8_t vals[] = { 0x00, 0xff, 0x80, 0x7f, 0x01 };
	uint64_t x = seed, nstr = 0;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi ev, str;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t key[16];
	uint64_t next = 1000000;
	int rc;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "events", 0, &ev), 0);
	assert_int_equal(mdb_dbi_open(txn, "strings", 0, &str), 0);
	/* every truncation and some byte changes of the first 50 values,
	 * under new seqs of the same session */
	for (uint64_t q = 1; q <= 50; q++) {
		uint8_t kq[16];
		MDB_val kk = { 16, kq };

		for (int i = 0; i < 8; i++) {
			kq[i] = (uint8_t)(session >> (56 - 8 * i));
			kq[8 + i] = (uint8_t)(q >> (56 - 8 * i));
		}
		assert_int_equal(mdb_get(txn, ev, &kk, &v), 0);
		for (size_t cut = 0; cut <= v.mv_size; cut++) {
			size_t len = v.mv_size;
			MDB_val mv = { 0, mut };

			memcpy(mut, v.mv_data, len);
			if (cut < len) {
				mv.mv_size = cut;
			} else {
				continue;
			}
			for (int i = 0; i < 8; i++) {
				key[i] = kq[i];
				key[8 + i] = (uint8_t)(next >> (56 - 8 * i));
			}
			next++;
			k = (MDB_val){ 16, key };
			assert_int_equal(mdb_put(txn, ev, &k, &mv, 0), 0);
			/* the put may move the page v points into */
			assert_int_equal(mdb_get(txn, ev, &kk, &v), 0);
		}
		for (size_t i = 0; i < v.mv_size; i++) {
			for (size_t j = 0; j < sizeof(vals); j++) {
				MDB_val mv = { v.mv_size, mut };

				memcpy(mut, v.mv_data, v.mv_size);
				mut[i] = vals[j];
				for (int b = 0; b < 8; b++) {
					key[b] = kq[b];
					key[8 + b] =
						(uint8_t)(next >> (56 - 8 * b));
				}
				next++;
				k = (MDB_val){ 16, key };
				assert_int_equal(mdb_put(txn, ev, &k, &mv, 0),
						 0);
				assert_int_equal(mdb_get(txn, ev, &kk, &v), 0);
			}
		}
	}
	/* damage the strings: drop some, scramble others (not the header) */
	assert_int_equal(mdb_cursor_open(txn, str, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data;

		if (kp[8] == 0 && kp[9] == 0 && kp[10] == 0 && kp[11] == 0)
			continue;
		nstr++;
		if (rnd(&x) % 4 == 0) {
			assert_int_equal(mdb_cursor_del(cur, 0), 0);
		} else if (rnd(&x) % 3 == 0) {
			MDB_val mv = { v.mv_size, mut };

			memcpy(mut, v.mv_data, v.mv_size);
			for (size_t i = 0; i < v.mv_size; i++)
				mut[i] = (uint8_t)rnd(&x);
			if (rnd(&x) % 2)
				mv.mv_size = rnd(&x) % (v.mv_size + 1);
			assert_int_equal(
				mdb_cursor_put(cur, &k, &mv, MDB_CURRENT), 0);
		}
	}
	mdb_cursor_close(cur);
	assert_true(nstr > 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_storeform__damage(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_store(f->dir, 0);
	struct dmg d = { 0 };
	struct ct_rtxn *t;
	uint64_t seq, nerr = 0, nok = 0;
	int rc;

	add_range(s, 9, 99, 1, 3000, 5);
	ct_store_close(s);
	raw_rewrite(f->dir, 9, 5);
	s = open_store(f->dir, 0);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	/* the intact values over damaged strings: records that cannot be
	 * written back arrive empty, the walk goes on */
	d.stop = true;
	rc = ct_store_events_foreach(t, 9, 0, dmg_fn, &d);
	/* it stops at the first damaged value (seq 1000000): an empty one,
	 * not an event at all, or one handed to dmg_fn */
	assert_true(rc == CT_ECORRUPT || rc == 1);
	assert_true(d.n >= 2999);
	/* every damaged value on its own: an error or a record */
	for (seq = 1000000;; seq++) {
		const void *rec;
		uint32_t proc, len;
		struct ct_event ev;

		rc = ct_store_event_get(t, 9, seq, &proc, &rec, &len);
		if (rc == CT_ENOTFOUND)
			break;
		assert_true(rc == 0 || rc == CT_ECORRUPT || rc == CT_EVERSION);
		nerr += rc != 0;
		if (rc == 0 && ct_event_decode(rec, len, &ev) == 0)
			nok++;
		/* and a walk from there: stops cleanly or at the end */
		if (seq % 7 == 0) {
			struct dmg w = { 0 };

			rc = ct_store_events_foreach(t, 9, seq, dmg_fn, &w);
			assert_true(rc == 0 || rc == 1 || rc == CT_ECORRUPT ||
				    rc == CT_EVERSION);
		}
	}
	print_message("damaged values: %llu, %llu refused, %llu decode\n",
		      (unsigned long long)(seq - 1000000),
		      (unsigned long long)nerr, (unsigned long long)nok);
	assert_true(nerr > 0 && nok > 0);
	ct_store_read_end(t);
	print_message("damaged strings: %llu records, %llu decode, %llu do "
		      "not (%llu empty)\n",
		      (unsigned long long)d.n, (unsigned long long)d.ok,
		      (unsigned long long)d.bad, (unsigned long long)d.empty);
	assert_true(d.empty > 0 && d.ok > 0);
	ct_store_close(s);
}

static void test_storeform__bad_header(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_store(f->dir, 0);
	uint8_t key[12] = { 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0 };
	MDB_val k = { 12, key }, v = { 2, "\x09\x05" };
	struct dmg d = { 0 };
	struct ct_wbatch *b;
	struct ct_rtxn *t;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	add_range(s, 11, 111, 1, 100, 2);
	ct_store_close(s);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "strings", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = open_store(f->dir, 0);
	assert_int_equal(ct_store_read_begin(s, &t), 0);
	assert_int_equal(ct_store_events_foreach(t, 11, 0, dmg_fn, &d),
			 CT_ECORRUPT);
	assert_non_null(strstr(ct_store_errmsg(s), "corrupt"));
	assert_int_equal(d.n, 0);
	ct_store_read_end(t);
	/* a writer cannot reserve ids past it: its events still store */
	assert_int_equal(ct_wbatch_new(s, &b), 0);
	assert_int_equal(ct_wbatch_event(b, 11, 500, 1, "abc", 3), 0);
	assert_int_equal(ct_wbatch_commit(b, false), 0);
	ct_wbatch_free(b);
	ct_store_close(s);
}

static void test_storeform__delete(void **state)
{
	struct fx *f = *state;
	struct ct_store *s = open_store(f->dir, 0);
	struct rawstat st;

	add_range(s, 12, 121, 1, 2000, 3);
	add_range(s, 13, 131, 1, 2000, 3);
	raw_stat(f->dir, 12, &st);
	assert_true(st.strings > 0);
	assert_int_equal(ct_store_session_delete(s, 12), 0);
	ct_store_close(s);
	raw_stat(f->dir, 12, &st);
	assert_int_equal(st.events + st.strings, 0);
	s = open_store(f->dir, 0);
	check_range(s, 13, 131, 1, 1999, 3);
	/* a session of the same id written again starts over */
	add_range(s, 12, 122, 1, 1000, 3);
	check_range(s, 12, 122, 1, 999, 3);
	ct_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_storeform__roundtrip), T(test_storeform__noncanonical),
		T(test_storeform__ring_form), T(test_storeform__legacy),
		T(test_storeform__damage),    T(test_storeform__bad_header),
		T(test_storeform__delete),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
