/* The LMDB store.  The contract is store.h; keys, record layouts and the
 * reasons behind the choices below are in docs/store.md.
 *
 * LMDB forbids opening one environment twice in a process (closing the
 * second copy drops the first one's fcntl locks), so handles on the same
 * folder share one MDB_env through a small registry.  Growing the map
 * (mdb_env_set_mapsize) is only legal while this process has no
 * transaction open on the environment, so every transaction is counted and
 * a resize waits for the count to drop to zero.
 */
#include "collector/store.h"

#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <msgpack/pack.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/mpread.h"

#define MAP_INITIAL (64ull << 20)
#define MAP_LIMIT (1ull << 40)
#define RESIZE_WAIT_SEC 30
#define WRITE_TRIES 64
#define DELETE_CHUNK 50000
#define REC_VERSION 1
#define SESSION_FIELDS 23 /* array length of a version-1 session record */
/* Appended since (readers skip what they do not know): ring_consumed. */
#define SESSION_FIELDS_NOW 24
#define PROC_FIELDS 14 /* array length of a version-1 proc record */

/* One open MDB_env, shared by every handle of this process on a folder. */
struct store_env {
	struct store_env *next;
	pid_t pid; /* a forked child must not reuse its parent's env */
	dev_t dev;
	ino_t ino;
	MDB_env *env;
	MDB_dbi sessions, events, procs;
	bool rdonly;
	int refs;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	int active; /* transactions of this process on env */
	bool resizing; /* a thread waits for active == 0 to resize */
	unsigned gen; /* bumped by every resize */
	bool unmapped; /* a resize failed and left LMDB without a map */
	struct ct_rtxn *reads; /* open read transactions of this process */
};

struct ct_store {
	struct store_env *e;
	bool rdonly;
	char dir[PATH_MAX];
	char errmsg[512];
};

struct ct_rtxn {
	struct ct_store *s;
	MDB_txn *txn;
	pthread_t owner; /* the thread that began it */
	struct ct_rtxn *next, **pprev;
};

enum { DB_SESSIONS, DB_EVENTS, DB_PROCS };

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct ent {
	uint8_t db;
	uint8_t klen;
	uint8_t key[16];
	uint32_t vlen;
	size_t voff; /* into the arena, which moves as it grows */
};

struct ct_wbatch {
	struct ct_store *s;
	struct ent *ents;
	size_t n, cap;
	struct buf arena;
};

static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_env *envs;

/* --- small helpers --- */

static void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void errf(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static bool mdb_is_corrupt(int rc)
{
	return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
	       rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ||
	       rc == MDB_INCOMPATIBLE;
}

/* LMDB (or errno) code -> CT_E*, once, at the boundary. */
static int mdb_to_ct(int rc)
{
	if (mdb_is_corrupt(rc))
		return CT_ECORRUPT;
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
	case ENOENT:
		return CT_ENOTFOUND;
	case EACCES:
	case EPERM:
	case EROFS:
		return CT_EPERM;
	case ENOMEM:
		return CT_ENOMEM;
	case MDB_READERS_FULL:
	case EBUSY:
	case EAGAIN:
		return CT_EBUSY;
	case MDB_BAD_VALSIZE:
	case EINVAL:
		return CT_EINVAL;
	case EIO:
	case ENOSPC:
		return CT_EIO;
	default:
		return CT_ESTORE;
	}
}

/* Did a write fail for want of space on dir's file system? */
static bool disk_full(const char *dir, int rc)
{
	struct statvfs vfs;

	if (rc == ENOSPC || rc == EDQUOT)
		return true;
	return rc == EIO && statvfs(dir, &vfs) == 0 && vfs.f_bavail < 16;
}

static void store_err(struct ct_store *s, const char *what, int rc)
{
	if (mdb_is_corrupt(rc))
		errf(s->errmsg, sizeof(s->errmsg),
		     "store %s is corrupt: %s: %s (move it aside or set "
		     "CTRACE_HOME to another folder)",
		     s->dir, what, mdb_strerror(rc));
	else if (disk_full(s->dir, rc))
		/* LMDB turns a short write on a full disk into EIO */
		errf(s->errmsg, sizeof(s->errmsg),
		     "store %s: %s: %s (the file system holding it is full: "
		     "free space, or set CTRACE_HOME to another folder)",
		     s->dir, what, strerror(ENOSPC));
	else
		errf(s->errmsg, sizeof(s->errmsg), "store %s: %s: %s", s->dir,
		     what, mdb_strerror(rc));
}

/* --- the growable buffer msgpack packs into --- */

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	unsigned char *p;

	if (more > SIZE_MAX / 4 - b->len)
		return CT_ENOMEM;
	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return CT_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n))
		return CT_ENOMEM;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int buf_pack_write(void *data, const char *p, size_t n)
{
	return buf_add(data, p, n) ? -1 : 0;
}

static int pack_bytes(msgpack_packer *pk, struct ct_bytes b)
{
	if (!b.p)
		return msgpack_pack_nil(pk);
	if (msgpack_pack_bin(pk, b.len))
		return -1;
	return msgpack_pack_bin_body(pk, b.p, b.len);
}

/* argv_in when given, else the raw elements a decoder handed out (so a
 * session read back can be rewritten); the raw form is checked first. */
static int pack_argv(msgpack_packer *pk, const struct ct_session_info *si)
{
	struct ct_mpr r;
	struct ct_bytes a;
	uint32_t n = 0;

	if (si->argv_in) {
		while (si->argv_in[n])
			n++;
		if (msgpack_pack_array(pk, n))
			return -1;
		for (uint32_t i = 0; i < n; i++) {
			a.p = si->argv_in[i];
			a.len = (uint32_t)strlen(si->argv_in[i]);
			if (pack_bytes(pk, a))
				return -1;
		}
		return 0;
	}
	if (!si->argc)
		return msgpack_pack_array(pk, 0);
	ct_mpr_init(&r, si->argv_raw.p, si->argv_raw.len);
	for (uint32_t i = 0; i < si->argc; i++)
		if (ct_mpr_bytes(&r, &a))
			return CT_EINVAL;
	if (ct_mpr_left(&r))
		return CT_EINVAL;
	if (msgpack_pack_array(pk, si->argc))
		return -1;
	return pk->callback(pk->data, si->argv_raw.p, si->argv_raw.len);
}

static int pack_session(struct buf *b, const struct ct_session_info *si)
{
	msgpack_packer pk;
	int rc = 0;

	msgpack_packer_init(&pk, b, buf_pack_write);
	rc |= msgpack_pack_array(&pk, SESSION_FIELDS_NOW);
	rc |= msgpack_pack_uint32(&pk, REC_VERSION);
	rc |= msgpack_pack_uint32(&pk, si->state);
	rc |= msgpack_pack_int32(&pk, si->run_pid);
	rc |= msgpack_pack_uint64(&pk, si->start);
	rc |= msgpack_pack_uint64(&pk, si->end);
	rc |= msgpack_pack_int32(&pk, si->exit_code);
	rc |= msgpack_pack_int32(&pk, si->signal);
	rc |= msgpack_pack_uint64(&pk, si->events);
	rc |= msgpack_pack_uint64(&pk, si->processes);
	rc |= msgpack_pack_uint64(&pk, si->lost);
	rc |= msgpack_pack_uint64(&pk, si->gaps);
	rc |= msgpack_pack_uint64(&pk, si->deleted);
	rc |= msgpack_pack_uint64(&pk, si->rule_hits);
	rc |= msgpack_pack_uint64(&pk, si->last_seq);
	rc |= pack_bytes(&pk, si->name);
	rc |= pack_bytes(&pk, si->cwd);
	rc |= pack_bytes(&pk, si->user);
	rc |= pack_bytes(&pk, si->host);
	rc |= pack_bytes(&pk, si->git_branch);
	rc |= pack_bytes(&pk, si->git_commit);
	rc |= pack_bytes(&pk, si->version);
	rc |= pack_bytes(&pk, si->ring);
	if (rc)
		return CT_ENOMEM;
	rc = pack_argv(&pk, si);
	if (rc)
		return rc < 0 && rc != -1 ? rc : CT_ENOMEM;
	if (msgpack_pack_uint64(&pk, si->ring_consumed))
		return CT_ENOMEM;
	return 0;
}

static int pack_proc(struct buf *b, const struct ct_proc_info *pi)
{
	msgpack_packer pk;
	int rc = 0;

	msgpack_packer_init(&pk, b, buf_pack_write);
	rc |= msgpack_pack_array(&pk, PROC_FIELDS);
	rc |= msgpack_pack_uint32(&pk, REC_VERSION);
	rc |= msgpack_pack_uint32(&pk, pi->parent);
	rc |= msgpack_pack_uint32(&pk, pi->pid_gen);
	rc |= msgpack_pack_uint32(&pk, pi->flags);
	rc |= msgpack_pack_int32(&pk, pi->pid);
	rc |= msgpack_pack_int32(&pk, pi->ppid);
	rc |= msgpack_pack_uint64(&pk, pi->pstart);
	rc |= msgpack_pack_uint64(&pk, pi->start);
	rc |= msgpack_pack_uint64(&pk, pi->end);
	rc |= msgpack_pack_int32(&pk, pi->exit_code);
	rc |= msgpack_pack_int32(&pk, pi->signal);
	rc |= msgpack_pack_uint64(&pk, pi->events);
	rc |= msgpack_pack_uint64(&pk, pi->image_seq);
	rc |= msgpack_pack_uint64(&pk, pi->start_seq);
	return rc ? CT_ENOMEM : 0;
}

/* --- record decoding: every reader is a no-op once r->err is set, so a
 * decoder reads straight through and checks r.err once at the end. --- */

static void rd_u64(struct ct_mpr *r, uint64_t *v)
{
	if (!r->err)
		ct_mpr_uint(r, v);
}

static void rd_u32(struct ct_mpr *r, uint32_t *v)
{
	uint64_t x = 0;

	if (r->err || ct_mpr_uint(r, &x))
		return;
	if (x > UINT32_MAX)
		r->err = CT_EFORMAT;
	else
		*v = (uint32_t)x;
}

static void rd_i32(struct ct_mpr *r, int32_t *v)
{
	int64_t x = 0;

	if (r->err || ct_mpr_int(r, &x))
		return;
	if (x < INT32_MIN || x > INT32_MAX)
		r->err = CT_EFORMAT;
	else
		*v = (int32_t)x;
}

static void rd_bytes(struct ct_mpr *r, struct ct_bytes *b)
{
	b->p = NULL;
	b->len = 0;
	if (r->err)
		return;
	if (ct_mpr_peek_nil(r))
		ct_mpr_nil(r);
	else
		ct_mpr_bytes(r, b);
}

/* Array header and version.  Returns the element count left after the
 * version, or a negative code. */
static int64_t rd_head(struct ct_mpr *r, uint32_t want)
{
	uint32_t n = 0;
	uint64_t ver = 0;

	if (ct_mpr_array(r, &n) || n < 1 || ct_mpr_uint(r, &ver))
		return CT_ECORRUPT;
	if (ver != REC_VERSION)
		return ver == 0 ? CT_ECORRUPT : CT_EVERSION;
	if (n < want)
		return CT_ECORRUPT;
	return (int64_t)n - want;
}

/* Elements a later minor revision appended are skipped; nothing may be
 * left after the record. */
static int rd_tail(struct ct_mpr *r, int64_t extra)
{
	while (extra-- > 0 && !r->err)
		ct_mpr_skip(r);
	return r->err || ct_mpr_left(r) ? CT_ECORRUPT : 0;
}

static int dec_session(const MDB_val *k, const MDB_val *v,
		       struct ct_session_info *si)
{
	struct ct_mpr r;
	int64_t extra;
	const unsigned char *argv0;

	memset(si, 0, sizeof(*si));
	if (k->mv_size != 8)
		return CT_ECORRUPT;
	si->id = get_be64(k->mv_data);
	ct_mpr_init(&r, v->mv_data, v->mv_size);
	extra = rd_head(&r, SESSION_FIELDS);
	if (extra < 0)
		return (int)extra;
	rd_u32(&r, &si->state);
	rd_i32(&r, &si->run_pid);
	rd_u64(&r, &si->start);
	rd_u64(&r, &si->end);
	rd_i32(&r, &si->exit_code);
	rd_i32(&r, &si->signal);
	rd_u64(&r, &si->events);
	rd_u64(&r, &si->processes);
	rd_u64(&r, &si->lost);
	rd_u64(&r, &si->gaps);
	rd_u64(&r, &si->deleted);
	rd_u64(&r, &si->rule_hits);
	rd_u64(&r, &si->last_seq);
	rd_bytes(&r, &si->name);
	rd_bytes(&r, &si->cwd);
	rd_bytes(&r, &si->user);
	rd_bytes(&r, &si->host);
	rd_bytes(&r, &si->git_branch);
	rd_bytes(&r, &si->git_commit);
	rd_bytes(&r, &si->version);
	rd_bytes(&r, &si->ring);
	if (!r.err)
		ct_mpr_array(&r, &si->argc);
	argv0 = r.p;
	for (uint32_t i = 0; i < si->argc && !r.err; i++) {
		struct ct_bytes a;

		ct_mpr_bytes(&r, &a);
	}
	if (r.err)
		return CT_ECORRUPT;
	si->argv_raw.p = (const char *)argv0;
	si->argv_raw.len = (uint32_t)(r.p - argv0);
	if (extra > 0) {
		rd_u64(&r, &si->ring_consumed);
		extra--;
	}
	return rd_tail(&r, extra);
}

static int dec_proc(const MDB_val *k, const MDB_val *v, struct ct_proc_info *pi)
{
	struct ct_mpr r;
	int64_t extra;

	memset(pi, 0, sizeof(*pi));
	if (k->mv_size != 12)
		return CT_ECORRUPT;
	pi->num = get_be32((const uint8_t *)k->mv_data + 8);
	ct_mpr_init(&r, v->mv_data, v->mv_size);
	extra = rd_head(&r, PROC_FIELDS);
	if (extra < 0)
		return (int)extra;
	rd_u32(&r, &pi->parent);
	rd_u32(&r, &pi->pid_gen);
	rd_u32(&r, &pi->flags);
	rd_i32(&r, &pi->pid);
	rd_i32(&r, &pi->ppid);
	rd_u64(&r, &pi->pstart);
	rd_u64(&r, &pi->start);
	rd_u64(&r, &pi->end);
	rd_i32(&r, &pi->exit_code);
	rd_i32(&r, &pi->signal);
	rd_u64(&r, &pi->events);
	rd_u64(&r, &pi->image_seq);
	rd_u64(&r, &pi->start_seq);
	return rd_tail(&r, extra);
}

/* --- transaction accounting and map resizing --- */

/* Does this thread hold a read transaction of e?  A resize cannot wait
 * for the caller's own transaction to end.  Called with e->lock held. */
static bool self_reads(const struct store_env *e)
{
	for (const struct ct_rtxn *t = e->reads; t; t = t->next)
		if (pthread_equal(t->owner, pthread_self()))
			return true;
	return false;
}

static unsigned txn_enter(struct store_env *e)
{
	unsigned gen;

	pthread_mutex_lock(&e->lock);
	while (e->resizing)
		pthread_cond_wait(&e->cond, &e->lock);
	e->active++;
	gen = e->gen;
	pthread_mutex_unlock(&e->lock);
	return gen;
}

static void txn_leave(struct store_env *e)
{
	pthread_mutex_lock(&e->lock);
	if (--e->active == 0)
		pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Resize the map: grow doubles it, else adopt the size another process
 * set (mdb_env_set_mapsize(env, 0)).  The caller holds no transaction.
 * gen is what txn_enter returned for the failed attempt: if another thread
 * resized since, that already helped and the caller just retries.  Waits
 * for this process's other transactions to end: a thread must not commit a
 * batch while it holds a read transaction of the same store. */
static int env_resize(struct ct_store *s, unsigned gen, bool grow)
{
	struct store_env *e = s->e;
	struct timespec dl;
	MDB_envinfo info;
	size_t size = 0;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += RESIZE_WAIT_SEC;
	pthread_mutex_lock(&e->lock);
	while (e->resizing)
		pthread_cond_wait(&e->cond, &e->lock);
	if (e->gen != gen)
		goto out_unlock;
	if (self_reads(e)) {
		errf(s->errmsg, sizeof(s->errmsg),
		     "store %s: cannot grow the map while this thread holds "
		     "a read transaction on it",
		     s->dir);
		rc = CT_EBUSY;
		goto out_unlock;
	}
	e->resizing = true;
	while (e->active > 0 && rc == 0)
		rc = pthread_cond_timedwait(&e->cond, &e->lock, &dl);
	if (rc) {
		errf(s->errmsg, sizeof(s->errmsg),
		     "store %s: cannot grow the map while this process holds "
		     "a transaction on it",
		     s->dir);
		rc = CT_EBUSY;
		goto out_done;
	}
	mdb_env_info(e->env, &info);
	if (grow) {
		size = info.me_mapsize * 2;
		if (size > MAP_LIMIT || size < info.me_mapsize) {
			errf(s->errmsg, sizeof(s->errmsg),
			     "store %s is full (%zu MiB map)", s->dir,
			     info.me_mapsize >> 20);
			rc = CT_ESTORE;
			goto out_done;
		}
	}
	/* LMDB unmaps the old map before it maps the new one, and when
	 * that fails (ENOMEM under an address-space limit) it is left with
	 * no map at all: any later transaction would read through NULL.  So
	 * first make sure a map of the new size fits beside the old one. */
	if (size > info.me_mapsize) {
		void *probe = mmap(NULL, size, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				   -1, 0);
		if (probe == MAP_FAILED) {
			int err = errno;

			errf(s->errmsg, sizeof(s->errmsg),
			     "store %s: cannot grow its map to %zu MiB: %s "
			     "(a memory limit, ulimit -v?)",
			     s->dir, size >> 20, strerror(err));
			rc = CT_ENOMEM;
			goto out_done;
		}
		munmap(probe, size);
	}
	rc = mdb_env_set_mapsize(e->env, size);
	if (rc) {
		store_err(s, "resize map", rc);
		e->unmapped = true; /* see above: unusable from now on */
		rc = mdb_to_ct(rc);
	}
	e->gen++;
out_done:
	e->resizing = false;
	pthread_cond_broadcast(&e->cond);
out_unlock:
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/* Begin a transaction, adopting a map another process grew. */
static int txn_begin(struct ct_store *s, unsigned flags, MDB_txn **txn,
		     unsigned *gen)
{
	int rc;

	for (int i = 0; i < WRITE_TRIES; i++) {
		*gen = txn_enter(s->e);
		if (s->e->unmapped) {
			txn_leave(s->e);
			errf(s->errmsg, sizeof(s->errmsg),
			     "store %s: out of address space to map it (a "
			     "memory limit, ulimit -v?)",
			     s->dir);
			return CT_ENOMEM;
		}
		rc = mdb_txn_begin(s->e->env, NULL, flags, txn);
		if (rc == 0)
			return 0;
		txn_leave(s->e);
		if (rc != MDB_MAP_RESIZED)
			break;
		rc = env_resize(s, *gen, false);
		if (rc)
			return rc;
	}
	store_err(s, "begin transaction", rc);
	return mdb_to_ct(rc);
}

typedef int (*write_fn)(struct ct_store *s, MDB_txn *txn, void *arg);

/* Run fn in a write transaction and commit, growing the map and running
 * it again from the start on MDB_MAP_FULL.  fn returns an LMDB code. */
static int store_write(struct ct_store *s, write_fn fn, void *arg,
		       const char *what)
{
	MDB_txn *txn;
	unsigned gen;
	int rc = 0;

	if (s->rdonly) {
		errf(s->errmsg, sizeof(s->errmsg), "store %s is open read-only",
		     s->dir);
		return CT_EPERM;
	}
	for (int i = 0; i < WRITE_TRIES; i++) {
		rc = txn_begin(s, 0, &txn, &gen);
		if (rc)
			return rc;
		rc = fn(s, txn, arg);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		txn_leave(s->e);
		if (rc != MDB_MAP_FULL)
			break;
		rc = env_resize(s, gen, true);
		if (rc)
			return rc;
		rc = MDB_MAP_FULL;
	}
	if (rc) {
		store_err(s, what, rc);
		return mdb_to_ct(rc);
	}
	return 0;
}

/* --- opening --- */

int ct_store_default_dir(char *buf, size_t cap)
{
	const char *v = getenv("CTRACE_HOME");
	int n;

	if (!buf || !cap)
		return CT_EINVAL;
	if (v && *v) {
		n = snprintf(buf, cap, "%s", v);
	} else if ((v = getenv("XDG_DATA_HOME")) && v[0] == '/') {
		/* The XDG spec says to ignore a relative XDG_DATA_HOME. */
		n = snprintf(buf, cap, "%s/ctrace", v);
	} else {
		v = getenv("HOME");
		if (!v || !*v)
			return CT_EINVAL;
		n = snprintf(buf, cap, "%s/.local/share/ctrace", v);
	}
	if (n < 0 || (size_t)n >= cap)
		return CT_EINVAL;
	return 0;
}

/* mkdir -p with mode 0700 for every folder it creates. */
static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0700) == 0) {
			/* umask may have cut the owner's bits */
			chmod(path, 0700);
		} else if (errno != EEXIST) {
			return errno;
		}
		if (c == '\0')
			break;
		*p = c;
	}
	return 0;
}

static int open_fail(char *errbuf, size_t errlen, const char *dir, int rc)
{
	if (mdb_is_corrupt(rc)) {
		errf(errbuf, errlen,
		     "store %s is corrupt: %s (move it aside or set "
		     "CTRACE_HOME to another folder)",
		     dir, mdb_strerror(rc));
		return CT_ECORRUPT;
	}
	if (rc == ENOENT) {
		errf(errbuf, errlen,
		     "no store at %s (nothing recorded yet: run `ctrace run "
		     "-- CMD` first, or set CTRACE_HOME)",
		     dir);
		return CT_ENOTFOUND;
	}
	errf(errbuf, errlen,
	     "cannot open store %s: %s (set CTRACE_HOME to a writable folder)",
	     dir, mdb_strerror(rc));
	return rc == ENOMEM				    ? CT_ENOMEM
	       : rc == EACCES || rc == EPERM || rc == EROFS ? CT_EPERM
							    : CT_EIO;
}

/* LMDB maps data.mdb and trusts its meta page: pages past the end of a
 * truncated file would fault (SIGBUS) on first touch, so check the file
 * covers everything the meta page claims before any read. */
static int check_size(MDB_env *env, const char *dir, char *errbuf,
		      size_t errlen)
{
	char path[PATH_MAX + 16];
	MDB_envinfo info;
	MDB_stat st;
	struct stat sb;
	unsigned long long need;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb))
		return open_fail(errbuf, errlen, dir, errno);
	if (mdb_env_info(env, &info) || mdb_env_stat(env, &st))
		return open_fail(errbuf, errlen, dir, EIO);
	need = ((unsigned long long)info.me_last_pgno + 1) * st.ms_psize;
	if ((unsigned long long)sb.st_size < need) {
		errf(errbuf, errlen,
		     "store %s is corrupt: data.mdb is truncated (%lld of %llu "
		     "bytes) (move it aside or set CTRACE_HOME to another "
		     "folder)",
		     dir, (long long)sb.st_size, need);
		return CT_ECORRUPT;
	}
	return 0;
}

static int open_dbis(struct store_env *e, const char *dir, char *errbuf,
		     size_t errlen)
{
	unsigned dflags = e->rdonly ? 0 : MDB_CREATE;
	MDB_txn *txn;
	int rc;

	for (int i = 0;; i++) {
		rc = mdb_txn_begin(e->env, NULL, e->rdonly ? MDB_RDONLY : 0,
				   &txn);
		if (rc != MDB_MAP_RESIZED || i > 8)
			break;
		mdb_env_set_mapsize(e->env, 0);
	}
	if (rc)
		return open_fail(errbuf, errlen, dir, rc);
	rc = mdb_dbi_open(txn, "sessions", dflags, &e->sessions);
	if (!rc)
		rc = mdb_dbi_open(txn, "events", dflags, &e->events);
	if (!rc)
		rc = mdb_dbi_open(txn, "procs", dflags, &e->procs);
	if (rc) {
		mdb_txn_abort(txn);
		/* A named DB that is not a DB reads as MDB_INCOMPATIBLE. */
		if (rc == MDB_NOTFOUND)
			rc = e->rdonly ? ENOENT : MDB_CORRUPTED;
		return open_fail(errbuf, errlen, dir, rc);
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return open_fail(errbuf, errlen, dir, rc);
	return 0;
}

static int env_new(const char *dir, bool rdonly, struct store_env **out,
		   char *errbuf, size_t errlen)
{
	char path[PATH_MAX + 16];
	struct store_env *e;
	struct stat sb;
	bool existed;
	int rc;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	existed = stat(path, &sb) == 0;
	if (rdonly && !existed)
		return open_fail(errbuf, errlen, dir, ENOENT);
	e = calloc(1, sizeof(*e));
	if (!e) {
		errf(errbuf, errlen, "cannot open store %s: out of memory",
		     dir);
		return CT_ENOMEM;
	}
	e->rdonly = rdonly;
	e->refs = 1;
	e->pid = getpid();
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	rc = mdb_env_create(&e->env);
	if (!rc)
		rc = mdb_env_set_maxdbs(e->env, 8);
	if (!rc)
		rc = mdb_env_set_maxreaders(e->env, 126);
	/* An existing store keeps the size recorded in it (another process
	 * may have grown it); only a new one starts at MAP_INITIAL. */
	if (!rc && !existed)
		rc = mdb_env_set_mapsize(e->env, MAP_INITIAL);
	if (rc) {
		rc = open_fail(errbuf, errlen, dir, rc);
		goto err_env;
	}
	rc = mdb_env_open(e->env, dir,
			  MDB_NOTLS | MDB_NOSYNC | (rdonly ? MDB_RDONLY : 0),
			  0600);
	if (rc) {
		rc = open_fail(errbuf, errlen, dir, rc);
		goto err_env;
	}
	if (!existed) {
		chmod(path, 0600);
		snprintf(path, sizeof(path), "%s/lock.mdb", dir);
		chmod(path, 0600);
	}
	/* LMDB opens data.mdb without O_CLOEXEC: a program ctrace run
	 * starts would inherit a writable descriptor on the store. */
	{
		mdb_filehandle_t fd;

		if (mdb_env_get_fd(e->env, &fd) == 0 && fd >= 0)
			fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
	}
	rc = check_size(e->env, dir, errbuf, errlen);
	if (rc)
		goto err_env;
	if (!rdonly) {
		MDB_envinfo info;

		mdb_env_info(e->env, &info);
		if (info.me_mapsize < MAP_INITIAL)
			mdb_env_set_mapsize(e->env, MAP_INITIAL);
	}
	rc = open_dbis(e, dir, errbuf, errlen);
	if (rc)
		goto err_env;
	*out = e;
	return 0;

err_env:
	mdb_env_close(e->env);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
	return rc;
}

int ct_store_open(const char *dir, unsigned flags, struct ct_store **out,
		  char *errbuf, size_t errlen)
{
	bool rdonly = flags & CT_STORE_RDONLY;
	struct ct_store *s;
	struct store_env *e;
	struct stat sb;
	int rc;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	*out = NULL;
	if (!dir || !*dir || strlen(dir) >= PATH_MAX - 16) {
		errf(errbuf, errlen, "cannot open store %s: bad path",
		     dir ? dir : "(null)");
		return CT_EINVAL;
	}
	if (!rdonly) {
		rc = mkdir_p(dir);
		if (rc)
			return open_fail(errbuf, errlen, dir, rc);
	}
	if (stat(dir, &sb))
		return open_fail(errbuf, errlen, dir, errno);
	if (!S_ISDIR(sb.st_mode))
		return open_fail(errbuf, errlen, dir, ENOTDIR);

	s = calloc(1, sizeof(*s));
	if (!s) {
		errf(errbuf, errlen, "cannot open store %s: out of memory",
		     dir);
		return CT_ENOMEM;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->errmsg, sizeof(s->errmsg), "no error");
	s->rdonly = rdonly;

	pthread_mutex_lock(&envs_lock);
	for (e = envs; e; e = e->next)
		if (e->dev == sb.st_dev && e->ino == sb.st_ino &&
		    e->pid == getpid())
			break;
	if (e && e->rdonly && !rdonly) {
		errf(errbuf, errlen,
		     "cannot open store %s for writing: this process has it "
		     "open read-only",
		     dir);
		rc = CT_EBUSY;
		goto err_unlock;
	}
	if (e) {
		e->refs++;
	} else {
		rc = env_new(dir, rdonly, &e, errbuf, errlen);
		if (rc)
			goto err_unlock;
		e->dev = sb.st_dev;
		e->ino = sb.st_ino;
		e->next = envs;
		envs = e;
	}
	pthread_mutex_unlock(&envs_lock);
	s->e = e;
	*out = s;
	return 0;

err_unlock:
	pthread_mutex_unlock(&envs_lock);
	free(s);
	return rc;
}

void ct_store_close(struct ct_store *s)
{
	struct store_env **pp, *e;

	if (!s)
		return;
	e = s->e;
	pthread_mutex_lock(&envs_lock);
	if (--e->refs == 0) {
		for (pp = &envs; *pp; pp = &(*pp)->next) {
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		}
		mdb_env_close(e->env);
		pthread_cond_destroy(&e->cond);
		pthread_mutex_destroy(&e->lock);
		free(e);
	}
	pthread_mutex_unlock(&envs_lock);
	free(s);
}

const char *ct_store_dir(const struct ct_store *s)
{
	return s->dir;
}

const char *ct_store_errmsg(const struct ct_store *s)
{
	return s->errmsg;
}

/* --- reading --- */

int ct_store_read_begin(struct ct_store *s, struct ct_rtxn **out)
{
	struct ct_rtxn *t = malloc(sizeof(*t));
	unsigned gen;
	int rc;

	*out = NULL;
	if (!t)
		return CT_ENOMEM;
	rc = txn_begin(s, MDB_RDONLY, &t->txn, &gen);
	if (rc) {
		free(t);
		return rc;
	}
	t->s = s;
	t->owner = pthread_self();
	pthread_mutex_lock(&s->e->lock);
	t->next = s->e->reads;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &s->e->reads;
	s->e->reads = t;
	pthread_mutex_unlock(&s->e->lock);
	*out = t;
	return 0;
}

void ct_store_read_end(struct ct_rtxn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	pthread_mutex_lock(&t->s->e->lock);
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	pthread_mutex_unlock(&t->s->e->lock);
	txn_leave(t->s->e);
	free(t);
}

/* A cursor error other than the end of the data. */
static int cursor_fail(struct ct_rtxn *t, const char *what, int rc)
{
	store_err(t->s, what, rc);
	return mdb_to_ct(rc);
}

static int find_latest(struct ct_rtxn *t, uint64_t *id)
{
	struct ct_session_info si;
	uint64_t best_start = 0;
	bool found = false;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(t->txn, t->s->e->sessions, &cur);
	if (rc)
		return cursor_fail(t, "open cursor", rc);
	/* ids ascend, so ">=" leaves the greatest id among equal starts */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int drc = dec_session(&k, &v, &si);

		if (drc) {
			mdb_cursor_close(cur);
			return drc;
		}
		if (!found || si.start >= best_start) {
			best_start = si.start;
			*id = si.id;
			found = true;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return cursor_fail(t, "read sessions", rc);
	return found ? 0 : CT_ENOTFOUND;
}

int ct_store_session_resolve(struct ct_rtxn *t, const char *spec, uint64_t *id)
{
	uint64_t prefix = 0, lo, hi;
	uint8_t key[8];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t len;
	int rc, ret;

	if (!spec || !strcmp(spec, "latest"))
		return find_latest(t, id);
	len = strlen(spec);
	for (size_t i = 0; i < len; i++) {
		char c = spec[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return CT_EINVAL;
		if (i < 16)
			prefix = prefix << 4 | d;
	}
	if (len < 4)
		return CT_EINVAL;
	if (len > 16)
		return CT_ENOTFOUND;
	/* Key order is the order of the hex renderings, so the ids starting
	 * with the prefix are the key range [lo, hi]. */
	lo = len == 16 ? prefix : prefix << (4 * (16 - len));
	hi = len == 16 ? prefix : lo | ((1ull << (4 * (16 - len))) - 1);
	put_be64(key, lo);
	k.mv_size = 8;
	k.mv_data = key;
	rc = mdb_cursor_open(t->txn, t->s->e->sessions, &cur);
	if (rc)
		return cursor_fail(t, "open cursor", rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		ret = CT_ENOTFOUND;
		goto out;
	}
	if (rc || k.mv_size != 8) {
		ret = rc ? cursor_fail(t, "read sessions", rc) : CT_ECORRUPT;
		goto out;
	}
	*id = get_be64(k.mv_data);
	if (*id > hi) {
		ret = CT_ENOTFOUND;
		goto out;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	if (rc == 0 && k.mv_size == 8 && get_be64(k.mv_data) <= hi)
		ret = CT_EAMBIG;
	else if (rc && rc != MDB_NOTFOUND)
		ret = cursor_fail(t, "read sessions", rc);
	else
		ret = 0;
out:
	mdb_cursor_close(cur);
	return ret;
}

int ct_store_session_get(struct ct_rtxn *t, uint64_t id,
			 struct ct_session_info *out)
{
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	int rc;

	put_be64(key, id);
	rc = mdb_get(t->txn, t->s->e->sessions, &k, &v);
	if (rc == MDB_NOTFOUND)
		return CT_ENOTFOUND;
	if (rc)
		return cursor_fail(t, "read session", rc);
	return dec_session(&k, &v, out);
}

struct sess_ref {
	uint64_t start, id;
	MDB_val k, v; /* borrowed from the map, valid in this txn */
};

static int sess_newest_first(const void *a, const void *b)
{
	const struct sess_ref *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? 1 : -1;
	if (x->id != y->id)
		return x->id < y->id ? 1 : -1;
	return 0;
}

int ct_store_sessions_foreach(struct ct_rtxn *t, ct_session_fn fn, void *arg)
{
	struct ct_session_info si;
	struct sess_ref *refs = NULL, *nr;
	size_t n = 0, cap = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, ret = 0;

	rc = mdb_cursor_open(t->txn, t->s->e->sessions, &cur);
	if (rc)
		return cursor_fail(t, "open cursor", rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		ret = dec_session(&k, &v, &si);
		if (ret)
			goto out;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nr = realloc(refs, cap * sizeof(*refs));
			if (!nr) {
				ret = CT_ENOMEM;
				goto out;
			}
			refs = nr;
		}
		refs[n++] = (struct sess_ref){ si.start, si.id, k, v };
	}
	if (rc != MDB_NOTFOUND) {
		ret = cursor_fail(t, "read sessions", rc);
		goto out;
	}
	if (n)
		qsort(refs, n, sizeof(*refs), sess_newest_first);
	for (size_t i = 0; i < n && !ret; i++) {
		ret = dec_session(&refs[i].k, &refs[i].v, &si);
		if (!ret)
			ret = fn(arg, &si);
	}
out:
	mdb_cursor_close(cur);
	free(refs);
	return ret;
}

int ct_store_events_foreach(struct ct_rtxn *t, uint64_t session,
			    uint64_t from_seq, ct_event_fn fn, void *arg)
{
	uint8_t key[16];
	MDB_cursor *cur;
	MDB_val k = { 16, key }, v;
	int rc, ret = 0;

	put_be64(key, session);
	put_be64(key + 8, from_seq);
	rc = mdb_cursor_open(t->txn, t->s->e->events, &cur);
	if (rc)
		return cursor_fail(t, "open cursor", rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data, *vp = v.mv_data;

		if (k.mv_size < 8 || get_be64(kp) != session)
			break;
		if (k.mv_size != 16 || v.mv_size < 4 ||
		    v.mv_size - 4 > UINT32_MAX) {
			ret = CT_ECORRUPT;
			break;
		}
		ret = fn(arg, get_be64(kp + 8),
			 (uint32_t)vp[0] | (uint32_t)vp[1] << 8 |
				 (uint32_t)vp[2] << 16 | (uint32_t)vp[3] << 24,
			 vp + 4, (uint32_t)(v.mv_size - 4));
		if (ret)
			break;
	}
	if (rc && rc != MDB_NOTFOUND)
		ret = cursor_fail(t, "read events", rc);
	mdb_cursor_close(cur);
	return ret;
}

int ct_store_event_get(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		       uint32_t *proc, const void **rec, uint32_t *len)
{
	uint8_t key[16];
	MDB_val k = { 16, key }, v;
	const uint8_t *vp;
	int rc;

	put_be64(key, session);
	put_be64(key + 8, seq);
	rc = mdb_get(t->txn, t->s->e->events, &k, &v);
	if (rc == MDB_NOTFOUND)
		return CT_ENOTFOUND;
	if (rc)
		return cursor_fail(t, "read event", rc);
	if (v.mv_size < 4 || v.mv_size - 4 > UINT32_MAX)
		return CT_ECORRUPT;
	vp = v.mv_data;
	*proc = (uint32_t)vp[0] | (uint32_t)vp[1] << 8 | (uint32_t)vp[2] << 16 |
		(uint32_t)vp[3] << 24;
	*rec = vp + 4;
	*len = (uint32_t)(v.mv_size - 4);
	return 0;
}

int ct_store_procs_foreach(struct ct_rtxn *t, uint64_t session, ct_proc_fn fn,
			   void *arg)
{
	struct ct_proc_info pi;
	uint8_t key[12];
	MDB_cursor *cur;
	MDB_val k = { 12, key }, v;
	int rc, ret = 0;

	put_be64(key, session);
	put_be32(key + 8, 0);
	rc = mdb_cursor_open(t->txn, t->s->e->procs, &cur);
	if (rc)
		return cursor_fail(t, "open cursor", rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 8 || get_be64(k.mv_data) != session)
			break;
		ret = dec_proc(&k, &v, &pi);
		if (!ret)
			ret = fn(arg, &pi);
		if (ret)
			break;
	}
	if (rc && rc != MDB_NOTFOUND)
		ret = cursor_fail(t, "read procs", rc);
	mdb_cursor_close(cur);
	return ret;
}

int ct_store_proc_get(struct ct_rtxn *t, uint64_t session, uint32_t num,
		      struct ct_proc_info *out)
{
	uint8_t key[12];
	MDB_val k = { 12, key }, v;
	int rc;

	put_be64(key, session);
	put_be32(key + 8, num);
	rc = mdb_get(t->txn, t->s->e->procs, &k, &v);
	if (rc == MDB_NOTFOUND)
		return CT_ENOTFOUND;
	if (rc)
		return cursor_fail(t, "read proc", rc);
	return dec_proc(&k, &v, out);
}

/* --- writing --- */

int ct_wbatch_new(struct ct_store *s, struct ct_wbatch **out)
{
	struct ct_wbatch *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return CT_ENOMEM;
	b->s = s;
	*out = b;
	return 0;
}

void ct_wbatch_free(struct ct_wbatch *b)
{
	if (!b)
		return;
	free(b->ents);
	free(b->arena.p);
	free(b);
}

size_t ct_wbatch_count(const struct ct_wbatch *b)
{
	return b->n;
}

static struct ent *ent_add(struct ct_wbatch *b, int db)
{
	struct ent *e;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;

		e = realloc(b->ents, cap * sizeof(*e));
		if (!e)
			return NULL;
		b->ents = e;
		b->cap = cap;
	}
	e = &b->ents[b->n];
	e->db = (uint8_t)db;
	e->voff = b->arena.len;
	return e;
}

int ct_wbatch_event(struct ct_wbatch *b, uint64_t session, uint64_t seq,
		    uint32_t proc, const void *rec, uint32_t len)
{
	uint8_t le[4] = { (uint8_t)proc, (uint8_t)(proc >> 8),
			  (uint8_t)(proc >> 16), (uint8_t)(proc >> 24) };
	struct ent *e;

	if ((!rec && len) || len > UINT32_MAX - 4)
		return CT_EINVAL;
	e = ent_add(b, DB_EVENTS);
	if (!e || buf_reserve(&b->arena, 4 + (size_t)len))
		return CT_ENOMEM;
	buf_add(&b->arena, le, 4);
	buf_add(&b->arena, rec, len);
	e->klen = 16;
	put_be64(e->key, session);
	put_be64(e->key + 8, seq);
	e->vlen = 4 + len;
	b->n++;
	return 0;
}

int ct_wbatch_proc(struct ct_wbatch *b, uint64_t session,
		   const struct ct_proc_info *pi)
{
	struct ent *e = ent_add(b, DB_PROCS);
	int rc;

	if (!e)
		return CT_ENOMEM;
	rc = pack_proc(&b->arena, pi);
	if (rc) {
		b->arena.len = e->voff;
		return rc;
	}
	e->klen = 12;
	put_be64(e->key, session);
	put_be32(e->key + 8, pi->num);
	e->vlen = (uint32_t)(b->arena.len - e->voff);
	b->n++;
	return 0;
}

int ct_wbatch_session(struct ct_wbatch *b, const struct ct_session_info *si)
{
	struct ent *e = ent_add(b, DB_SESSIONS);
	int rc;

	if (!e)
		return CT_ENOMEM;
	rc = pack_session(&b->arena, si);
	if (rc || b->arena.len - e->voff > UINT32_MAX) {
		b->arena.len = e->voff;
		return rc ? rc : CT_E2BIG;
	}
	e->klen = 8;
	put_be64(e->key, si->id);
	e->vlen = (uint32_t)(b->arena.len - e->voff);
	b->n++;
	return 0;
}

/* Does the 16-byte event key k sort after last (llen bytes), in LMDB's
 * default order for these keys (bytes compared as unsigned, a prefix
 * first)?  Two big-endian words instead of mdb_cmp(): this runs once per
 * event, and mdb_cmp's call and byte-wise memcmp showed in profiles. */
static bool key_after(const uint8_t *k, const uint8_t *last, size_t llen)
{
	uint64_t a, b;

	if (llen < 16) /* a shorter stored key: only a corrupt store */
		return memcmp(k, last, llen) > 0 ||
		       (memcmp(k, last, llen) == 0 && llen < 16);
	memcpy(&a, k, 8);
	memcpy(&b, last, 8);
	if (a != b)
		return be64toh(a) > be64toh(b);
	memcpy(&a, k + 8, 8);
	memcpy(&b, last + 8, 8);
	return be64toh(a) > be64toh(b);
}

/* Events arrive in seq order per session, and a new session's id is
 * usually the greatest, so most event keys sort after everything stored:
 * MDB_APPEND then skips the search and fills pages completely.  A key that
 * does not (another session interleaving, a rewrite) takes a normal put. */
static int batch_put(struct ct_store *s, MDB_txn *txn, void *arg)
{
	struct ct_wbatch *b = arg;
	struct store_env *e = s->e;
	uint8_t last[16];
	MDB_val lk = { 0, last }, k, v;
	bool have_last = false;
	MDB_cursor *cur;
	int rc;

	rc = mdb_cursor_open(txn, e->events, &cur);
	if (rc)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0) {
		/* a key longer than ours is corrupt; make it block APPEND */
		lk.mv_size = k.mv_size > 16 ? 16 : k.mv_size;
		if (k.mv_size > 16)
			memset(last, 0xff, 16);
		else
			memcpy(last, k.mv_data, k.mv_size);
		have_last = true;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct ent *en = &b->ents[i];

		k.mv_size = en->klen;
		k.mv_data = en->key;
		v.mv_size = en->vlen;
		v.mv_data = b->arena.p + en->voff;
		switch (en->db) {
		case DB_EVENTS:
			if (!have_last ||
			    key_after(en->key, last, lk.mv_size)) {
				rc = mdb_cursor_put(cur, &k, &v, MDB_APPEND);
				memcpy(last, en->key, 16);
				lk.mv_size = 16;
				have_last = true;
			} else {
				rc = mdb_cursor_put(cur, &k, &v, 0);
			}
			break;
		case DB_SESSIONS:
			rc = mdb_put(txn, e->sessions, &k, &v, 0);
			break;
		default:
			rc = mdb_put(txn, e->procs, &k, &v, 0);
			break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int ct_wbatch_commit(struct ct_wbatch *b, bool sync)
{
	struct ct_store *s = b->s;
	int rc;

	if (b->n) {
		rc = store_write(s, batch_put, b, "write batch");
		if (rc)
			return rc;
		b->n = 0;
		b->arena.len = 0;
		/* one huge batch should not pin its memory for the session */
		if (b->arena.cap > (64u << 20)) {
			free(b->arena.p);
			b->arena.p = NULL;
			b->arena.cap = 0;
		}
	}
	if (sync && !s->rdonly) {
		rc = mdb_env_sync(s->e->env, 1);
		if (rc) {
			store_err(s, "sync", rc);
			return mdb_to_ct(rc);
		}
	}
	return 0;
}

struct del_arg {
	uint64_t session;
	bool found, done;
};

/* Delete up to `*budget` keys of db starting with the session's id.
 * Re-seeking after each delete is simpler to get right than reasoning
 * about where mdb_cursor_del leaves the cursor, and costs one descent. */
static int del_range(MDB_txn *txn, MDB_dbi dbi, uint64_t session,
		     size_t *budget, bool *found)
{
	uint8_t key[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	put_be64(key, session);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return rc;
	while (*budget > 0) {
		k.mv_size = 8;
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (k.mv_size < 8 || memcmp(k.mv_data, key, 8))
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		*found = true;
		(*budget)--;
	}
	mdb_cursor_close(cur);
	return rc;
}

static int del_chunk(struct ct_store *s, MDB_txn *txn, void *arg)
{
	struct del_arg *d = arg;
	size_t budget = DELETE_CHUNK;
	uint8_t key[8];
	MDB_val k = { 8, key };
	bool found = false;
	int rc;

	d->done = false;
	rc = del_range(txn, s->e->events, d->session, &budget, &found);
	if (!rc && budget)
		rc = del_range(txn, s->e->procs, d->session, &budget, &found);
	if (rc)
		return rc;
	if (budget) {
		/* Last, so an interrupted delete leaves a session that a
		 * second delete finishes. */
		put_be64(key, d->session);
		rc = mdb_del(txn, s->e->sessions, &k, NULL);
		if (rc == 0)
			found = true;
		else if (rc != MDB_NOTFOUND)
			return rc;
		d->done = true;
	}
	d->found |= found;
	return 0;
}

int ct_store_session_delete(struct ct_store *s, uint64_t session)
{
	struct del_arg d = { session, false, false };
	int rc;

	/* Bounded transactions: one per DELETE_CHUNK keys, because LMDB
	 * caps the dirty pages of a single write transaction. */
	while (!d.done) {
		d.done = false;
		rc = store_write(s, del_chunk, &d, "delete session");
		if (rc)
			return rc;
	}
	if (!d.found) {
		errf(s->errmsg, sizeof(s->errmsg),
		     "store %s: no session %016llx", s->dir,
		     (unsigned long long)session);
		return CT_ENOTFOUND;
	}
	return 0;
}
