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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
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
/* The stored form of events (docs/store.md, "Event values"). */
#define STR_FORMAT 1 /* first byte of a session's strings header */
#define STR_BLOCK 4096 /* string ids reserved per write of the header */
#define INTERN_MAX (64u << 20) /* interned bytes a writer remembers */
#define EV_RAW 0 /* value: 0, proc (varint), the record as written */
#define EV_COMPACT 1 /* value: 1, proc (varint), the compact form */

/* LMDB trusts its file: it checksums nothing, and a damaged page can make
 * it follow a garbage page number or node offset, or take a NULL
 * sub-cursor for a node flagged as duplicates (mdb_xcursor_init1).  So
 * every LMDB call that reads pages runs inside LMDB(), which marks this
 * thread as being in LMDB, and the map of the last store opened is
 * remembered: ct_store_fault_is_corrupt() tells a fault handler whether a
 * fault came from a corrupt store. */
static _Thread_local volatile sig_atomic_t t_in_lmdb;
static volatile uintptr_t s_map_lo, s_map_len;
#define LMDB(f, ...)                                                 \
	__extension__({                                              \
		t_in_lmdb++;                                         \
		__typeof__(f(__VA_ARGS__)) lmdb_r_ = f(__VA_ARGS__); \
		t_in_lmdb--;                                         \
		lmdb_r_;                                             \
	})

static void map_note(MDB_env *env)
{
	MDB_envinfo info;

	if (mdb_env_info(env, &info) == 0 && info.me_mapaddr) {
		s_map_len = 0;
		s_map_lo = (uintptr_t)info.me_mapaddr;
		s_map_len = info.me_mapsize;
	}
}

bool ct_store_fault_is_corrupt(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, lo = s_map_lo;

	if (t_in_lmdb > 0)
		return true;
	/* a value whose stored size runs past the map (sizes are 32-bit) */
	return s_map_len && a >= lo && a - lo < s_map_len + (4ull << 30);
}

/* One open MDB_env, shared by every handle of this process on a folder. */
struct store_env {
	struct store_env *next;
	pid_t pid; /* a forked child must not reuse its parent's env */
	dev_t dev;
	ino_t ino;
	MDB_env *env;
	MDB_dbi sessions, events, procs, strings;
	bool has_strings; /* false: a read-only open of an older store */
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
	size_t unkicked; /* batch bytes committed since the last kick */
	char dir[PATH_MAX];
	char errmsg[512];
};

/* A process context a reader has seen: pid, tid, ppid and pstart as a
 * record writes them. */
#define CTX_CACHE 64
struct ctxc {
	uint32_t id; /* 0: empty */
	uint8_t wlen;
	uint64_t pstart;
	uint8_t w[24];
};

/* What a reader learnt of one session's strings in this transaction. */
struct rsess {
	struct rsess *next;
	uint64_t session;
	bool compact; /* the session has a strings header: tagged values */
	uint32_t limit; /* every string id is below this */
	struct ct_bytes *strs; /* by id, borrowed from the map; p NULL: not
				* looked up yet */
	uint32_t cap;
	struct ctxc ctx[CTX_CACHE]; /* by id % CTX_CACHE */
	struct pathc { /* path entries: folder and name, by id % CTX_CACHE */
		uint64_t id; /* 0: empty */
		struct ct_bytes dir, name;
	} pc[CTX_CACHE];
};

/* An expanded record ct_store_event_get handed out: kept until the end of
 * the transaction. */
struct kept {
	struct kept *next;
	unsigned char data[];
};

struct ct_rtxn {
	struct ct_store *s;
	MDB_txn *txn;
	pthread_t owner; /* the thread that began it */
	struct ct_rtxn *next, **pprev;
	struct rsess *rs;
	struct kept *kept;
	unsigned char *scratch; /* CT_RECORD_MAX bytes, for event_get */
	uint64_t damaged; /* session records skipped (ct_store_damaged) */
};

enum { DB_SESSIONS, DB_EVENTS, DB_PROCS, DB_STRINGS };

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct ent {
	uint8_t db;
	uint8_t defer; /* an event in the old layout; see batch_put */
	uint8_t klen;
	uint8_t key[16];
	uint32_t vlen;
	size_t voff; /* into the arena, which moves as it grows */
};

/* One interned string of a writer: bytes in the session's arena. */
struct istr {
	uint64_t hash;
	size_t off;
	uint32_t len;
	uint32_t id; /* 0: a path seen, no id yet */
	uint32_t seen; /* paths: times seen */
	uint8_t kind; /* 0 a string, 1 a path (put_path) */
};

enum { WS_NEW, WS_LEGACY, WS_DEFER };

#define LDIR_CACHE 4

/* A writer's state for one session: the ids it may hand out and the
 * strings it has interned (bytes -> id). */
struct wsess {
	struct wsess *next;
	uint64_t session;
	int mode; /* WS_*: tagged values, old layout, or not known yet */
	bool retry; /* WS_DEFER: try the reservation again */
	struct ct_event lctx; /* the last process context (pid, tid, ppid,
			       * pstart), its id and wire_ctx() */
	uint32_t lctx_id;
	uint8_t lctx_w[24], lctx_wlen;
	/* the last path that had an id of its own: bytes at lpath_off */
	size_t lpath_off;
	uint32_t lpath_len, lpath_id;
	/* the last folders put_path() interned (paths in a row mostly share
	 * one, or alternate between a few: a copy's source and target):
	 * bytes at off, id 0 when unused; the next to replace */
	struct {
		size_t off;
		uint32_t len, id;
	} ldir[LDIR_CACHE];
	unsigned ldir_next;
	uint32_t epoch; /* bumped when entries may move or go (wsess_add,
			 * wsess_forget): a struct istr * found before is
			 * stale once it changes */
	uint32_t next_id, end_id; /* reserved: [next_id, end_id) */
	struct istr *ents;
	uint32_t n, cap;
	uint32_t *slots; /* open addressing: entry + 1, 0 = empty */
	uint32_t nslots; /* power of two */
	struct buf bytes;
};

struct ct_wbatch {
	struct ct_store *s;
	struct ent *ents;
	size_t n, cap;
	struct buf arena;
	struct wsess *ws;
	unsigned char *scratch; /* the wire check, then the compact form */
	/* batch_put: does defer_session have a strings header? */
	uint64_t defer_session;
	int defer_tagged; /* -1 not looked up, 0 no, 1 yes */
};

static void wsess_forget(struct wsess *w);
typedef int (*write_fn)(struct ct_store *s, MDB_txn *txn, void *arg);
static int store_write(struct ct_store *s, write_fn fn, void *arg,
		       const char *what);

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

/* strings table key: session, id */
static void str_key(uint8_t *k, uint64_t session, uint32_t id)
{
	put_be64(k, session);
	put_be32(k + 8, id);
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

/* buf_add() after a buf_reserve() that made room for it */
static inline void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
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

/* --- the compact stored form of an event ---
 *
 * A record as the shim writes it repeats what the session already knows:
 * the folder of every path (most of its bytes), pid, tid, ppid and the
 * process stamp, a full timestamp.  The compact form keeps every field
 * but names folders, the process context (pid, tid, ppid, pstart) and
 * argv by per-session ids (the strings table), stores ts as a distance
 * from pstart and integers as varints.  The read path writes the record
 * back in the canonical form: the writer only stores the compact form
 * after checking that the event gives back the very bytes it was given,
 * in the canonical form or the shim's ring form (same_record()). */

struct rsess;

#define PRES_EXISTED (1u << 16) /* existed is 1 */
#define PRES_ERR (1u << 17) /* err follows: not the one result implies */
/* byte fields stored as a folder id and the name after it */
#define SPLIT_FIELDS (CT_F_PATH | CT_F_PATH2 | CT_F_EXE | CT_F_CWD)
/* byte fields stored as one id (they repeat whole) */
#define WHOLE_FIELDS (CT_F_ADDR | CT_F_REASON | CT_F_ARGV)
/* A written-back record is at most: the fixed fields, six byte fields of
 * CT_PATH_MAX, argv of CT_ARGV_BYTES_MAX and ten integers, all with
 * their headers: under CT_RECORD_MAX, so writing into a buffer of that
 * size needs no check per byte once the lengths are checked. */
#define WIRE_BUF CT_RECORD_MAX

/* Bit index of each field (its tag - 1): the field loops switch on it,
 * which compiles to a jump table where the bits themselves do not. */
enum {
	FI_PATH,
	FI_PATH2,
	FI_FLAGS,
	FI_MODE,
	FI_ARGV,
	FI_EXE,
	FI_ADDR,
	FI_EXIT,
	FI_SIGNAL,
	FI_REASON,
	FI_CWD,
	FI_PARENT_START,
	FI_ARGV_DROPPED,
	FI_FD,
	FI_REPORTER,
	FI_EXISTED,
};
_Static_assert(
	CT_F_PATH == 1u << FI_PATH && CT_F_PATH2 == 1u << FI_PATH2 &&
		CT_F_FLAGS == 1u << FI_FLAGS && CT_F_MODE == 1u << FI_MODE &&
		CT_F_ARGV == 1u << FI_ARGV && CT_F_EXE == 1u << FI_EXE &&
		CT_F_ADDR == 1u << FI_ADDR && CT_F_EXIT == 1u << FI_EXIT &&
		CT_F_SIGNAL == 1u << FI_SIGNAL &&
		CT_F_REASON == 1u << FI_REASON && CT_F_CWD == 1u << FI_CWD &&
		CT_F_PARENT_START == 1u << FI_PARENT_START &&
		CT_F_ARGV_DROPPED == 1u << FI_ARGV_DROPPED &&
		CT_F_FD == 1u << FI_FD && CT_F_REPORTER == 1u << FI_REPORTER &&
		CT_F_EXISTED == 1u << FI_EXISTED && CT_F__COUNT == 16,
	"field bits");

static inline uint8_t *p_uv(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static size_t put_uv(uint8_t *p, uint64_t v)
{
	return (size_t)(p_uv(p, v) - p);
}

static inline uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzz(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* A bounded varint reader: past the end or a varint over 10 bytes sets
 * bad, and every later read returns 0. */
struct uvr {
	const uint8_t *p, *end;
	bool bad;
};

static inline uint64_t get_uv(struct uvr *r)
{
	const uint8_t *p = r->p;
	size_t left = (size_t)(r->end - p);
	uint64_t v = 0;

	if (r->bad)
		return 0;
	/* most values (field masks, lengths, small deltas) fit one byte */
	if (left && !(*p & 0x80)) {
		r->p = p + 1;
		return *p;
	}
	if (left > 10)
		left = 10;
	for (size_t i = 0; i < left; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (i < 9 ? 7 * i : 63);
		if (!(p[i] & 0x80)) {
			r->p = p + i + 1;
			return v;
		}
	}
	r->bad = true;
	return 0;
}

static inline uint32_t get_uv32(struct uvr *r)
{
	uint64_t v = get_uv(r);

	if (v > UINT32_MAX)
		r->bad = true;
	return (uint32_t)v;
}

static inline int32_t get_zz32(struct uvr *r)
{
	int64_t v = unzz(get_uv(r));

	if (v < INT32_MIN || v > INT32_MAX)
		r->bad = true;
	return (int32_t)v;
}

/* msgpack as msgpack-c packs it (the smallest encoding of each value,
 * non-negative integers always unsigned).  Unchecked: see WIRE_BUF. */
static inline uint8_t *p_be(uint8_t *p, uint8_t head, uint64_t v,
			    unsigned bytes)
{
	uint16_t v2;
	uint32_t v4;

	*p++ = head;
	switch (bytes) {
	case 1:
		*p = (uint8_t)v;
		break;
	case 2:
		v2 = __builtin_bswap16((uint16_t)v);
		memcpy(p, &v2, 2);
		break;
	case 4:
		v4 = __builtin_bswap32((uint32_t)v);
		memcpy(p, &v4, 4);
		break;
	case 8:
		v = __builtin_bswap64(v);
		memcpy(p, &v, 8);
		break;
	}
	return p + bytes;
}

/* Bits set in the 16 field bits (the build has no popcnt instruction). */
static inline uint32_t nfields(uint32_t m)
{
	/* SWAR: constant time, where a loop costs a branch per bit */
	m &= 0xffffu;
	m -= (m >> 1) & 0x5555u;
	m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
	m = (m + (m >> 4)) & 0x0f0fu;
	return (m + (m >> 8)) & 0x1fu;
}

static inline uint8_t *p_uint(uint8_t *p, uint64_t v)
{
	if (v < 128) {
		*p = (uint8_t)v;
		return p + 1;
	}
	if (v < 256)
		return p_be(p, 0xcc, v, 1);
	if (v < 65536)
		return p_be(p, 0xcd, v, 2);
	if (v <= UINT32_MAX)
		return p_be(p, 0xce, v, 4);
	return p_be(p, 0xcf, v, 8);
}

static inline uint8_t *p_int(uint8_t *p, int64_t v)
{
	if (v >= 0)
		return p_uint(p, (uint64_t)v);
	if (v >= -32) {
		*p = (uint8_t)v;
		return p + 1;
	}
	if (v >= -128)
		return p_be(p, 0xd0, (uint64_t)v, 1);
	if (v >= -32768)
		return p_be(p, 0xd1, (uint64_t)v, 2);
	if (v >= INT32_MIN)
		return p_be(p, 0xd2, (uint64_t)v, 4);
	return p_be(p, 0xd3, (uint64_t)v, 8);
}

static inline uint8_t *p_binhdr(uint8_t *p, uint32_t len)
{
	if (len < 256)
		return p_be(p, 0xc4, len, 1);
	if (len < 65536)
		return p_be(p, 0xc5, len, 2);
	return p_be(p, 0xc6, len, 4);
}

static inline uint8_t *p_bytes(uint8_t *p, const void *s, uint32_t n)
{
	if (n)
		memcpy(p, s, n);
	return p + n;
}

static inline uint8_t *p_arrhdr(uint8_t *p, uint32_t n)
{
	if (n < 16) {
		*p = (uint8_t)(0x90 | n);
		return p + 1;
	}
	if (n < 65536)
		return p_be(p, 0xdc, n, 2);
	return p_be(p, 0xdd, n, 4);
}

static inline uint8_t *p_maphdr(uint8_t *p, uint32_t n)
{
	if (n < 16) {
		*p = (uint8_t)(0x80 | n);
		return p + 1;
	}
	return p_be(p, 0xde, n, 2);
}

/* The bytes fields and where each lives in an event, by bit index (0:
 * not a bytes field).  A table, as this runs for every field of every
 * event stored. */
static const uint16_t bytes_off[16] = {
	[0] = offsetof(struct ct_event, path),
	[1] = offsetof(struct ct_event, path2),
	[4] = offsetof(struct ct_event, argv_raw),
	[5] = offsetof(struct ct_event, exe),
	[6] = offsetof(struct ct_event, addr),
	[9] = offsetof(struct ct_event, reason),
	[10] = offsetof(struct ct_event, cwd),
};

static inline const struct ct_bytes *ev_bytes(const struct ct_event *ev,
					      uint32_t f)
{
	return (const struct ct_bytes *)((const char *)ev +
					 bytes_off[__builtin_ctz(f) & 15]);
}

/* The optional fields of ev from tag first on (the map's body), or NULL
 * when a bytes field is longer than a record can hold (what bounds the
 * writes, see WIRE_BUF). */
static uint8_t *wire_fields(const struct ct_event *ev, uint8_t *p)
{
	for (uint32_t m = ev->present & 0xffffu; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		const struct ct_bytes *b;

		*p++ = (uint8_t)(i + 1);
		switch (i) {
		case FI_FLAGS:
			p = p_uint(p, ev->flags);
			break;
		case FI_MODE:
			p = p_uint(p, ev->mode);
			break;
		case FI_ARGV:
			if (ev->argv_raw.len > CT_ARGV_BYTES_MAX)
				return NULL;
			p = p_arrhdr(p, ev->argc);
			p = p_bytes(p, ev->argv_raw.p, ev->argv_raw.len);
			break;
		case FI_EXIT:
			p = p_int(p, ev->exit_code);
			break;
		case FI_SIGNAL:
			p = p_int(p, ev->signal);
			break;
		case FI_PARENT_START:
			p = p_uint(p, ev->parent_start);
			break;
		case FI_ARGV_DROPPED:
			p = p_uint(p, ev->argv_dropped);
			break;
		case FI_FD:
			p = p_int(p, ev->fd);
			break;
		case FI_REPORTER:
			p = p_int(p, ev->reporter);
			break;
		case FI_EXISTED:
			p = p_uint(p, ev->existed);
			break;
		default:
			b = ev_bytes(ev, 1u << i);
			if (b->len > CT_PATH_MAX)
				return NULL;
			p = p_binhdr(p, b->len);
			p = p_bytes(p, b->p, b->len);
			break;
		}
	}
	return p;
}

/* pid, tid, ppid and pstart as a record writes them (at most 24 bytes) */
static size_t wire_ctx(uint8_t *buf, int64_t pid, int64_t tid, int64_t ppid,
		       uint64_t pstart)
{
	uint8_t *p = p_int(buf, pid);

	p = p_int(p, tid);
	p = p_int(p, ppid);
	p = p_uint(p, pstart);
	return (size_t)(p - buf);
}

/* The record ev stands for, as the shim's encoder writes it (argv from
 * argv_raw/argc, its elements as they were), into WIRE_BUF bytes; ctx is
 * wire_ctx() of it, in a buffer of 24 bytes.  Returns its length, 0 when
 * a bytes field is too long for a record. */
static size_t wire_event(const struct ct_event *ev, const uint8_t *ctx,
			 size_t ctxlen, uint8_t *buf)
{
	uint8_t *p = buf;

	*p++ = 0x9b; /* array of 11 */
	*p++ = CT_FORMAT_VERSION;
	p = p_uint(p, ev->kind);
	p = p_uint(p, ev->source);
	p = p_uint(p, ev->ts);
	memcpy(p, ctx, 24); /* fixed size: three moves; buf has room */
	p += ctxlen;
	p = p_int(p, ev->result);
	p = p_int(p, ev->err);
	p = p_maphdr(p, nfields(ev->present));
	p = wire_fields(ev, p);
	return p ? (size_t)(p - buf) : 0;
}

/* errno a result implies: what the shim stores for a failed call */
static inline int32_t err_of(int64_t result)
{
	return result < 0 && result >= -4095 ? (int32_t)-result : 0;
}

/* The process context: what ctx ids stand for. */
static size_t ctx_bytes(const struct ct_event *ev, uint8_t *p)
{
	uint8_t *q = p;

	q = p_uv(q, zz(ev->pid));
	q = p_uv(q, zz((int64_t)ev->tid - ev->pid));
	q = p_uv(q, zz(ev->ppid));
	q = p_uv(q, ev->pstart);
	return (size_t)(q - p);
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
	map_note(e->env);
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
		rc = LMDB(mdb_txn_begin, s->e->env, NULL, flags, txn);
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
			rc = LMDB(mdb_txn_commit, txn);
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

	/* The meta page first, then the file: another process may commit
	 * in between, and LMDB writes a commit's pages (growing the file)
	 * before its meta page, so the file seen after a meta covers it. */
	if (mdb_env_info(env, &info) || mdb_env_stat(env, &st))
		return open_fail(errbuf, errlen, dir, EIO);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &sb))
		return open_fail(errbuf, errlen, dir, errno);
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
		rc = LMDB(mdb_txn_begin, e->env, NULL,
			  e->rdonly ? MDB_RDONLY : 0, &txn);
		if (rc != MDB_MAP_RESIZED || i > 8)
			break;
		mdb_env_set_mapsize(e->env, 0);
		map_note(e->env);
	}
	if (rc)
		return open_fail(errbuf, errlen, dir, rc);
	rc = LMDB(mdb_dbi_open, txn, "sessions", dflags, &e->sessions);
	if (!rc)
		rc = LMDB(mdb_dbi_open, txn, "events", dflags, &e->events);
	if (!rc)
		rc = LMDB(mdb_dbi_open, txn, "procs", dflags, &e->procs);
	if (!rc) {
		/* added after the first stores: an older store read-only has
		 * none, and every session in it the old event layout */
		rc = LMDB(mdb_dbi_open, txn, "strings", dflags, &e->strings);
		e->has_strings = rc == 0;
		if (rc == MDB_NOTFOUND && e->rdonly)
			rc = 0;
	}
	if (rc) {
		mdb_txn_abort(txn);
		/* A named DB that is not a DB reads as MDB_INCOMPATIBLE. */
		if (rc == MDB_NOTFOUND)
			rc = e->rdonly ? ENOENT : MDB_CORRUPTED;
		return open_fail(errbuf, errlen, dir, rc);
	}
	rc = LMDB(mdb_txn_commit, txn);
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
	rc = LMDB(mdb_env_open, e->env, dir,
		  MDB_NOTLS | MDB_NOSYNC | (rdonly ? MDB_RDONLY : 0), 0600);
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
	map_note(e->env);
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
	struct ct_rtxn *t = calloc(1, sizeof(*t));
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

uint64_t ct_store_damaged(const struct ct_rtxn *t)
{
	return t ? t->damaged : 0;
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
	while (t->rs) {
		struct rsess *rs = t->rs;

		t->rs = rs->next;
		free(rs->strs);
		free(rs);
	}
	while (t->kept) {
		struct kept *k = t->kept;

		t->kept = k->next;
		free(k);
	}
	free(t->scratch);
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
	for (rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_NEXT)) {
		/* A damaged record is skipped (and counted), not allowed to
		 * hide every other session. */
		if (dec_session(&k, &v, &si)) {
			t->damaged++;
			continue;
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
	rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_SET_RANGE);
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
	rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_NEXT);
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
	rc = LMDB(mdb_get, t->txn, t->s->e->sessions, &k, &v);
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
	for (rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_NEXT)) {
		if (dec_session(&k, &v, &si)) {
			t->damaged++; /* see find_latest() */
			continue;
		}
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

/* --- reading events --- */

/* What this transaction knows of session's strings: looked up once. */
static int rsess_get(struct ct_rtxn *t, uint64_t session, struct rsess **out)
{
	struct rsess *rs;
	uint8_t key[12];
	MDB_val k = { 12, key }, v;
	int rc;

	for (rs = t->rs; rs; rs = rs->next) {
		if (rs->session == session) {
			*out = rs;
			return 0;
		}
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return CT_ENOMEM;
	rs->session = session;
	if (t->s->e->has_strings) {
		str_key(key, session, 0);
		rc = LMDB(mdb_get, t->txn, t->s->e->strings, &k, &v);
		if (rc == 0) {
			struct uvr r = { v.mv_data,
					 (const uint8_t *)v.mv_data + v.mv_size,
					 false };
			uint64_t lim;

			lim = v.mv_size >= 2 && *r.p++ == STR_FORMAT
				      ? get_uv(&r)
				      : 0;
			if (r.bad || lim == 0 || lim > UINT32_MAX) {
				free(rs);
				errf(t->s->errmsg, sizeof(t->s->errmsg),
				     "store %s is corrupt: bad strings header "
				     "of session %016llx (move it aside or "
				     "set CTRACE_HOME to another folder)",
				     t->s->dir, (unsigned long long)session);
				return CT_ECORRUPT;
			}
			rs->compact = true;
			rs->limit = (uint32_t)lim;
		} else if (rc != MDB_NOTFOUND) {
			free(rs);
			return cursor_fail(t, "read strings", rc);
		}
	}
	rs->next = t->rs;
	t->rs = rs;
	*out = rs;
	return 0;
}

/* String id of a session, borrowed from the map (cached per transaction:
 * the map does not move while it lasts). */
static int rs_str(struct ct_rtxn *t, struct rsess *rs, uint64_t id,
		  struct ct_bytes *out)
{
	uint8_t key[12];
	MDB_val k = { 12, key }, v;

	if (id == 0 || id >= rs->limit)
		return CT_ECORRUPT;
	if (id >= rs->cap) {
		uint64_t cap = rs->cap ? rs->cap : 256;
		struct ct_bytes *n;

		while (cap <= id)
			cap *= 2;
		if (cap > rs->limit)
			cap = rs->limit;
		n = realloc(rs->strs, cap * sizeof(*n));
		if (!n)
			return CT_ENOMEM;
		memset(n + rs->cap, 0, (cap - rs->cap) * sizeof(*n));
		rs->strs = n;
		rs->cap = (uint32_t)cap;
	}
	if (!rs->strs[id].p) {
		str_key(key, rs->session, (uint32_t)id);
		if (LMDB(mdb_get, t->txn, t->s->e->strings, &k, &v) ||
		    v.mv_size > UINT32_MAX)
			return CT_ECORRUPT;
		rs->strs[id].p = v.mv_data ? (const char *)v.mv_data : "";
		rs->strs[id].len = (uint32_t)v.mv_size;
	}
	*out = rs->strs[id];
	return 0;
}

/* A process context of a session, and how the record writes it. */
static int ctx_get(struct ct_rtxn *t, struct rsess *rs, uint64_t id,
		   const struct ctxc **out)
{
	struct ctxc *c = &rs->ctx[id % CTX_CACHE];
	struct ct_bytes b;
	int64_t pid, tid, ppid;
	uint64_t pstart;
	struct uvr r;
	int rc;

	if (c->id == id && id) {
		*out = c;
		return 0;
	}
	rc = rs_str(t, rs, id, &b);
	if (rc)
		return rc;
	r = (struct uvr){ (const uint8_t *)b.p, (const uint8_t *)b.p + b.len,
			  false };
	pid = get_zz32(&r);
	tid = pid + unzz(get_uv(&r));
	ppid = get_zz32(&r);
	pstart = get_uv(&r);
	if (r.bad || r.p != r.end || tid < INT32_MIN || tid > INT32_MAX)
		return CT_ECORRUPT;
	c->wlen = (uint8_t)wire_ctx(c->w, pid, tid, ppid, pstart);
	c->pstart = pstart;
	c->id = (uint32_t)id;
	*out = c;
	return 0;
}

/* Write the record a compact body (after format byte and proc) stands
 * for into buf (WIRE_BUF bytes).  Every length is checked against the
 * limits the decoder enforces before it is written, which bounds the
 * record (see WIRE_BUF).  Returns 0, CT_ECORRUPT or CT_ENOMEM. */
static int expand(struct ct_rtxn *t, struct rsess *rs, struct uvr *r,
		  uint8_t *buf, size_t *len)
{
	const struct ctxc *c;
	uint8_t *p = buf, ks;
	uint64_t id, pid, pres;
	int64_t result;
	int32_t err;
	int rc;

	if (r->p >= r->end)
		return CT_ECORRUPT;
	ks = *r->p++;
	id = get_uv(r);
	if (r->bad || !(ks & 31))
		return CT_ECORRUPT;
	rc = ctx_get(t, rs, id, &c);
	if (rc)
		return rc;
	*p++ = 0x9b;
	*p++ = CT_FORMAT_VERSION;
	*p++ = ks & 31;
	*p++ = ks >> 5;
	p = p_uint(p, c->pstart + (uint64_t)unzz(get_uv(r)));
	memcpy(p, c->w, sizeof(c->w)); /* fixed size: two moves */
	p += c->wlen;
	result = unzz(get_uv(r));
	pres = get_uv(r);
	if (r->bad || pres >> 18)
		return CT_ECORRUPT;
	err = (pres & PRES_ERR) ? get_zz32(r) : err_of(result);
	p = p_int(p, result);
	p = p_int(p, err);
	p = p_maphdr(p, nfields((uint32_t)pres));
	for (uint32_t m = pres & 0xffffu; m && !r->bad; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		uint32_t f = 1u << i, argc = 0;
		struct ct_bytes b = { "", 0 };
		uint64_t n;

		*p++ = (uint8_t)(i + 1);
		if (f & SPLIT_FIELDS) {
			struct uvr pr;
			struct uvr *src = r;

			id = get_uv(r);
			if (r->bad)
				return CT_ECORRUPT;
			if (!(id & 1) && id &&
			    rs->pc[(id >> 1) % CTX_CACHE].id == id >> 1) {
				struct pathc *pc =
					&rs->pc[(id >> 1) % CTX_CACHE];

				p = p_binhdr(p, pc->dir.len + pc->name.len);
				p = p_bytes(p, pc->dir.p, pc->dir.len);
				p = p_bytes(p, pc->name.p, pc->name.len);
				continue;
			}
			pid = id;
			if (!(id & 1)) { /* a path entry: folder id, name */
				rc = rs_str(t, rs, id >> 1, &b);
				if (rc)
					return rc;
				pr = (struct uvr){ (const uint8_t *)b.p,
						   (const uint8_t *)b.p + b.len,
						   false };
				src = &pr;
				id = get_uv(src) << 1;
				n = (uint64_t)(pr.end - pr.p);
			} else {
				n = get_uv(r);
			}
			if (src->bad || n > (uint64_t)(src->end - src->p))
				return CT_ECORRUPT;
			b = (struct ct_bytes){ "", 0 };
			if ((id >> 1) && (rc = rs_str(t, rs, id >> 1, &b)))
				return rc;
			if (b.len + n > CT_PATH_MAX)
				return CT_ECORRUPT;
			p = p_binhdr(p, b.len + (uint32_t)n);
			p = p_bytes(p, b.p, b.len);
			p = p_bytes(p, src->p, (uint32_t)n);
			if (!(pid & 1)) {
				struct pathc *pc =
					&rs->pc[(pid >> 1) % CTX_CACHE];

				pc->id = pid >> 1;
				pc->dir = b;
				pc->name =
					(struct ct_bytes){ (const char *)src->p,
							   (uint32_t)n };
			}
			src->p += n;
			continue;
		}
		if (f & WHOLE_FIELDS) {
			if (f == CT_F_ARGV)
				argc = get_uv32(r);
			id = get_uv(r);
			if (r->bad)
				return CT_ECORRUPT;
			rc = rs_str(t, rs, id, &b);
			if (rc)
				return rc;
			if (b.len >
			    (f == CT_F_ARGV ? CT_ARGV_BYTES_MAX : CT_PATH_MAX))
				return CT_ECORRUPT;
			p = f == CT_F_ARGV ? p_arrhdr(p, argc)
					   : p_binhdr(p, b.len);
			p = p_bytes(p, b.p, b.len);
			continue;
		}
		switch (f) {
		case CT_F_PARENT_START:
			p = p_uint(p, get_uv(r));
			break;
		case CT_F_EXIT:
		case CT_F_SIGNAL:
		case CT_F_FD:
		case CT_F_REPORTER:
			p = p_int(p, get_zz32(r));
			break;
		case CT_F_EXISTED:
			*p++ = (pres & PRES_EXISTED) ? 1 : 0;
			break;
		default: /* flags, mode, argv_dropped */
			p = p_uint(p, get_uv32(r));
			break;
		}
	}
	if (r->bad || r->p != r->end)
		return CT_ECORRUPT;
	*len = (size_t)(p - buf);
	return 0;
}

/* A stored event value -> proc and the record as the shim wrote it.  A
 * compact form is written out into *buf (CT_RECORD_MAX bytes, allocated
 * on first use); one that cannot be (a missing or damaged string, bad
 * bytes) gives an empty record, which the caller counts as undecodable.
 * Returns 0, CT_ECORRUPT or CT_EVERSION (the value itself is not one),
 * or CT_ENOMEM. */
static int ev_value(struct ct_rtxn *t, struct rsess *rs, const MDB_val *v,
		    unsigned char **buf, uint32_t *proc, const void **rec,
		    uint32_t *len)
{
	const uint8_t *vp = v->mv_data;
	struct uvr r;
	size_t n;
	int rc;

	if (!rs->compact) { /* the layout before tagged values */
		if (v->mv_size < 4 || v->mv_size - 4 > UINT32_MAX)
			return CT_ECORRUPT;
		*proc = (uint32_t)vp[0] | (uint32_t)vp[1] << 8 |
			(uint32_t)vp[2] << 16 | (uint32_t)vp[3] << 24;
		*rec = vp + 4;
		*len = (uint32_t)(v->mv_size - 4);
		return 0;
	}
	if (v->mv_size < 2 || v->mv_size > UINT32_MAX)
		return CT_ECORRUPT;
	if (vp[0] > EV_COMPACT)
		return CT_EVERSION;
	r = (struct uvr){ vp + 1, vp + v->mv_size, false };
	*proc = get_uv32(&r);
	if (r.bad)
		return CT_ECORRUPT;
	if (vp[0] == EV_RAW) {
		*rec = r.p;
		*len = (uint32_t)(r.end - r.p);
		return 0;
	}
	*rec = "";
	*len = 0;
	if (!*buf && !(*buf = malloc(WIRE_BUF)))
		return CT_ENOMEM;
	rc = expand(t, rs, &r, *buf, &n);
	if (rc == CT_ENOMEM)
		return rc;
	if (rc == 0) {
		*rec = *buf;
		*len = (uint32_t)n;
	}
	return 0;
}

int ct_store_events_foreach(struct ct_rtxn *t, uint64_t session,
			    uint64_t from_seq, ct_event_fn fn, void *arg)
{
	unsigned char *buf = NULL;
	struct rsess *rs;
	uint8_t key[16];
	MDB_cursor *cur;
	MDB_val k = { 16, key }, v;
	int rc, ret = 0;

	rc = rsess_get(t, session, &rs);
	if (rc)
		return rc;
	put_be64(key, session);
	put_be64(key + 8, from_seq);
	rc = mdb_cursor_open(t->txn, t->s->e->events, &cur);
	if (rc)
		return cursor_fail(t, "open cursor", rc);
	for (rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data;
		const void *rec;
		uint32_t proc, len;

		if (k.mv_size < 8 || get_be64(kp) != session)
			break;
		if (k.mv_size != 16) {
			ret = CT_ECORRUPT;
			break;
		}
		ret = ev_value(t, rs, &v, &buf, &proc, &rec, &len);
		if (ret)
			break;
		ret = fn(arg, get_be64(kp + 8), proc, rec, len);
		if (ret)
			break;
	}
	if (rc && rc != MDB_NOTFOUND)
		ret = cursor_fail(t, "read events", rc);
	mdb_cursor_close(cur);
	free(buf);
	return ret;
}

int ct_store_event_get(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		       uint32_t *proc, const void **rec, uint32_t *len)
{
	struct rsess *rs;
	struct kept *kp;
	uint8_t key[16];
	MDB_val k = { 16, key }, v;
	int rc;

	rc = rsess_get(t, session, &rs);
	if (rc)
		return rc;
	put_be64(key, session);
	put_be64(key + 8, seq);
	rc = LMDB(mdb_get, t->txn, t->s->e->events, &k, &v);
	if (rc == MDB_NOTFOUND)
		return CT_ENOTFOUND;
	if (rc)
		return cursor_fail(t, "read event", rc);
	rc = ev_value(t, rs, &v, &t->scratch, proc, rec, len);
	if (rc)
		return rc;
	if (!rs->compact || ((const uint8_t *)v.mv_data)[0] != EV_COMPACT)
		return 0; /* bytes in the map */
	if (!*len)
		return CT_ECORRUPT;
	/* valid until ct_store_read_end, like the map's bytes */
	kp = malloc(sizeof(*kp) + *len);
	if (!kp)
		return CT_ENOMEM;
	memcpy(kp->data, *rec, *len);
	kp->next = t->kept;
	t->kept = kp;
	*rec = kp->data;
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
	for (rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_NEXT)) {
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
	rc = LMDB(mdb_get, t->txn, t->s->e->procs, &k, &v);
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
	while (b->ws) {
		struct wsess *w = b->ws;

		b->ws = w->next;
		wsess_forget(w);
		free(w);
	}
	free(b->scratch);
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

/* --- writing events: interning and the stored form --- */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = n * 0x9e3779b97f4a7c15ull, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	if (n)
		memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* Drop what a writer remembers of a session's strings (the ids it holds
 * stay reserved): a string seen again gets a new id, which is fine. */
static void wsess_forget(struct wsess *w)
{
	free(w->ents);
	free(w->slots);
	free(w->bytes.p);
	w->ents = NULL;
	w->slots = NULL;
	memset(&w->bytes, 0, sizeof(w->bytes));
	w->n = w->cap = w->nslots = 0;
	w->lpath_id = 0;
	memset(w->ldir, 0, sizeof(w->ldir));
	w->epoch++;
}

struct resv {
	uint64_t session;
	uint32_t next, end;
	bool legacy;
};

/* Reserve STR_BLOCK string ids of a session: read and advance its header
 * (session, 0).  A session without one that already has events was
 * written before tagged values (an older ctrace): it keeps its layout. */
static int resv_fn(struct ct_store *s, MDB_txn *txn, void *arg)
{
	struct resv *rv = arg;
	uint8_t key[12], hdr[16];
	MDB_val k = { 12, key }, v;
	uint64_t next = 1;
	int rc;

	str_key(key, rv->session, 0);
	rc = LMDB(mdb_get, txn, s->e->strings, &k, &v);
	if (rc == 0) {
		struct uvr r = { v.mv_data,
				 (const uint8_t *)v.mv_data + v.mv_size,
				 false };

		if (v.mv_size < 2 || *r.p++ != STR_FORMAT)
			return MDB_CORRUPTED;
		next = get_uv(&r);
		if (r.bad || next == 0 || next > UINT32_MAX)
			return MDB_CORRUPTED;
	} else if (rc == MDB_NOTFOUND) {
		uint8_t ek[16];
		MDB_val kk = { 16, ek }, vv;
		MDB_cursor *cur;

		put_be64(ek, rv->session);
		put_be64(ek + 8, 0);
		rc = mdb_cursor_open(txn, s->e->events, &cur);
		if (rc)
			return rc;
		rc = LMDB(mdb_cursor_get, cur, &kk, &vv, MDB_SET_RANGE);
		mdb_cursor_close(cur);
		if (rc == 0 && kk.mv_size >= 8 &&
		    get_be64(kk.mv_data) == rv->session) {
			rv->legacy = true;
			return 0;
		}
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	} else {
		return rc;
	}
	if (next > UINT32_MAX - STR_BLOCK) /* ids used up: raw from now */
		return 0;
	hdr[0] = STR_FORMAT;
	v.mv_size = 1 + put_uv(hdr + 1, next + STR_BLOCK);
	v.mv_data = hdr;
	rc = LMDB(mdb_put, txn, s->e->strings, &k, &v, 0);
	if (rc)
		return rc;
	rv->next = (uint32_t)next;
	rv->end = (uint32_t)next + STR_BLOCK;
	return 0;
}

/* One write transaction; on failure the session stays WS_DEFER (or out
 * of ids) and its events take a form that needs none. */
static void wsess_reserve(struct ct_wbatch *b, struct wsess *w)
{
	struct resv rv = { w->session, 0, 0, false };

	if (b->s->rdonly || !b->s->e->has_strings ||
	    store_write(b->s, resv_fn, &rv, "reserve string ids"))
		return;
	if (rv.legacy) {
		w->mode = WS_LEGACY;
		return;
	}
	w->mode = WS_NEW;
	w->next_id = rv.next;
	w->end_id = rv.end;
}

static struct wsess *wsess_get(struct ct_wbatch *b, uint64_t session)
{
	struct wsess **pp, *w;

	for (pp = &b->ws; (w = *pp); pp = &w->next) {
		if (w->session != session)
			continue;
		if (pp != &b->ws) { /* most recently used first */
			*pp = w->next;
			w->next = b->ws;
			b->ws = w;
		}
		return w;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->session = session;
	w->mode = WS_DEFER;
	w->next = b->ws;
	b->ws = w;
	wsess_reserve(b, w);
	return w;
}

static int wsess_grow(struct wsess *w)
{
	if (w->n == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 1024;
		struct istr *e = realloc(w->ents, cap * sizeof(*e));

		if (!e)
			return CT_ENOMEM;
		w->ents = e;
		w->cap = cap;
	}
	if ((w->n + 1) * 2 > w->nslots) {
		uint32_t ns = w->nslots ? w->nslots * 2 : 2048;
		uint32_t *sl = calloc(ns, sizeof(*sl));

		if (!sl)
			return CT_ENOMEM;
		for (uint32_t i = 0; i < w->n; i++) {
			uint32_t j = (uint32_t)w->ents[i].hash & (ns - 1);

			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = i + 1;
		}
		free(w->slots);
		w->slots = sl;
		w->nslots = ns;
	}
	return 0;
}

/* The id of p[0..len) in session w, a new one (its string added to the
 * batch, ahead of the event that names it) when not seen before.
 * Returns 0 when no id can be had. */
static struct istr *wsess_find(struct wsess *w, uint64_t h, const void *p,
			       uint32_t len, uint8_t kind)
{
	uint32_t mask = w->nslots - 1;

	if (!w->nslots)
		return NULL;
	for (uint32_t i = (uint32_t)h & mask; w->slots[i]; i = (i + 1) & mask) {
		struct istr *e = &w->ents[w->slots[i] - 1];

		if (e->hash == h && e->len == len && e->kind == kind &&
		    !memcmp(w->bytes.p + e->off, p, len))
			return e;
	}
	return NULL;
}

/* Remember p[0..len) (not there yet).  May forget everything first (see
 * INTERN_MAX): entries found before are gone then. */
static struct istr *wsess_add(struct wsess *w, uint64_t h, const void *p,
			      uint32_t len, uint8_t kind)
{
	struct istr *e;
	uint32_t i, mask;

	w->epoch++;
	if (w->bytes.len + len > INTERN_MAX)
		wsess_forget(w);
	if (wsess_grow(w) || buf_reserve(&w->bytes, len))
		return NULL;
	e = &w->ents[w->n];
	e->hash = h;
	e->off = w->bytes.len;
	e->len = len;
	e->id = 0;
	e->seen = 1;
	e->kind = kind;
	buf_put(&w->bytes, p, len);
	mask = w->nslots - 1;
	for (i = (uint32_t)h & mask; w->slots[i]; i = (i + 1) & mask)
		;
	w->slots[i] = ++w->n;
	return e;
}

/* A new string id: its entry (head then p) goes into the batch, ahead of
 * the event that names it.  0 when no id can be had. */
static uint32_t new_id(struct ct_wbatch *b, struct wsess *w,
		       const uint8_t *head, size_t hn, const void *p,
		       uint32_t len)
{
	struct ent *en;
	uint32_t id;

	if (w->next_id == w->end_id) {
		wsess_reserve(b, w);
		if (w->next_id == w->end_id)
			return 0;
	}
	en = ent_add(b, DB_STRINGS);
	if (!en || buf_reserve(&b->arena, hn + len))
		return 0;
	buf_put(&b->arena, head, hn);
	buf_put(&b->arena, p, len);
	id = w->next_id++;
	en->defer = 0;
	en->klen = 12;
	str_key(en->key, w->session, id);
	en->vlen = (uint32_t)(hn + len);
	b->n++;
	return id;
}

/* The id of the string p[0..len) in session w (a new one when not seen
 * before); 0 when no id can be had.  *off (when off is not NULL) is where
 * w->bytes holds the string, SIZE_MAX when it is not remembered. */
static uint32_t intern_at(struct ct_wbatch *b, struct wsess *w, const void *p,
			  uint32_t len, size_t *off)
{
	uint64_t h = hash_bytes(p, len);
	struct istr *e;
	uint32_t id;

	if (off)
		*off = SIZE_MAX;
	if (!p)
		p = "";
	e = wsess_find(w, h, p, len, 0);
	if (e) {
		if (off)
			*off = e->off;
		return e->id;
	}
	id = new_id(b, w, NULL, 0, p, len);
	if (id && (e = wsess_add(w, h, p, len, 0))) {
		e->id = id;
		if (off)
			*off = e->off;
	}
	return id;
}

static uint32_t intern(struct ct_wbatch *b, struct wsess *w, const void *p,
		       uint32_t len)
{
	return intern_at(b, w, p, len, NULL);
}

/* A path field (path, path2, exe, cwd) into c: a path seen PATH_HOT times
 * gets an id of its own (its entry: folder id, then the name), which the
 * field names (id << 1); any other is written in place, as its folder's
 * id and the name ((folder id << 1 | 1), length, bytes; folder 0: none).
 * Most paths of a build or a copy are seen once or twice, where the name
 * alone costs less than an entry; a loop's paths are seen thousands of
 * times.  Returns the end of what was written, NULL when no id could be
 * had. */
#define PATH_HOT 4
static uint8_t *put_path(struct ct_wbatch *b, struct wsess *w, uint8_t *c,
			 struct ct_bytes bs)
{
	const char *p = bs.p ? bs.p : "", *sl;
	uint64_t h;
	uint32_t dl = 0, dir = 0, id;
	uint8_t head[8];
	struct istr *e;

	if (w->lpath_id && bs.len == w->lpath_len &&
	    !memcmp(p, w->bytes.p + w->lpath_off, bs.len))
		return p_uv(c, (uint64_t)w->lpath_id << 1);
	h = hash_bytes(p, bs.len) ^ 0x5bd1e995u;
	e = wsess_find(w, h, p, bs.len, 1);
	if (e && e->id) {
		w->lpath_off = e->off;
		w->lpath_len = e->len;
		w->lpath_id = e->id;
		return p_uv(c, (uint64_t)e->id << 1);
	}
	sl = bs.len ? memrchr(p, '/', bs.len) : NULL;
	if (sl) {
		uint32_t epoch = w->epoch;
		size_t off;

		dl = (uint32_t)(sl - p) + 1;
		dir = 0;
		for (unsigned i = 0; i < LDIR_CACHE; i++) {
			if (w->ldir[i].id && dl == w->ldir[i].len &&
			    !memcmp(p, w->bytes.p + w->ldir[i].off, dl)) {
				dir = w->ldir[i].id; /* what intern() finds */
				break;
			}
		}
		if (!dir) {
			dir = intern_at(b, w, p, dl, &off);
			if (!dir)
				return NULL;
			if (off != SIZE_MAX) {
				unsigned i = w->ldir_next++ % LDIR_CACHE;

				w->ldir[i].off = off;
				w->ldir[i].len = dl;
				w->ldir[i].id = dir;
			}
		}
		/* intern may have added (moving the entries) or forgotten */
		if (w->epoch != epoch)
			e = wsess_find(w, h, p, bs.len, 1);
	}
	if (e && ++e->seen >= PATH_HOT) {
		id = new_id(b, w, head, put_uv(head, dir), p + dl, bs.len - dl);
		if (id) {
			e->id = id;
			return p_uv(c, (uint64_t)id << 1);
		}
	} else if (!e) {
		wsess_add(w, h, p, bs.len, 1); /* not remembered: fine */
	}
	c = p_uv(c, (uint64_t)dir << 1 | 1);
	c = p_uv(c, bs.len - dl);
	return p_bytes(c, p + dl, bs.len - dl);
}

/* Is rec exactly what an encoder writes for ev: the shim's ring form
 * (ct_event_ring_encode(): every integer in a fixed width; its pid is an
 * int32, where the canonical form of a pid is never 0xd2 unless it is
 * below -32768) or the canonical form?  Either way ev holds every value
 * rec does; the read path rebuilds the canonical form. */
static bool same_record(struct ct_wbatch *b, const struct wsess *w,
			const struct ct_event *ev, const uint8_t *rec,
			uint32_t len)
{
	if (len > 13 && rec[13] == 0xd2 && ct_event_ring_size(ev) == len) {
		ct_event_ring_encode(ev, b->scratch);
		return !memcmp(b->scratch, rec, len);
	}
	return wire_event(ev, w->lctx_w, w->lctx_wlen, b->scratch) == len &&
	       !memcmp(b->scratch, rec, len);
}

/* The compact form of ev into c (WIRE_BUF + 256 bytes), or 0 when the
 * event is stored as written: it does not decode (ev NULL), the compact
 * form would not give back exactly rec, or no string id could be had. */
static size_t compact_build(struct ct_wbatch *b, struct wsess *w, uint32_t proc,
			    const struct ct_event *ev, const void *rec,
			    uint32_t len, uint8_t *c0)
{
	uint8_t ctx[48], *c = c0;
	uint32_t pres, id;
	size_t cl;

	if (!ev || ev->kind < 1 || ev->kind > 31 || ev->source > 7 ||
	    (ev->present >> 16) || ev->existed > 1 || len > WIRE_BUF ||
	    len == 0)
		return 0;
	if (!w->lctx_id || ev->pid != w->lctx.pid || ev->tid != w->lctx.tid ||
	    ev->ppid != w->lctx.ppid || ev->pstart != w->lctx.pstart) {
		cl = ctx_bytes(ev, ctx);
		id = intern(b, w, ctx, (uint32_t)cl);
		if (!id)
			return 0;
		w->lctx.pid = ev->pid;
		w->lctx.tid = ev->tid;
		w->lctx.ppid = ev->ppid;
		w->lctx.pstart = ev->pstart;
		w->lctx_id = id;
		w->lctx_wlen = (uint8_t)wire_ctx(w->lctx_w, ev->pid, ev->tid,
						 ev->ppid, ev->pstart);
	}
	id = w->lctx_id;
	if (!same_record(b, w, ev, rec, len))
		return 0;
	*c++ = EV_COMPACT;
	c = p_uv(c, proc);
	*c++ = (uint8_t)(ev->kind | ev->source << 5);
	c = p_uv(c, id);
	c = p_uv(c, zz((int64_t)(ev->ts - ev->pstart)));
	c = p_uv(c, zz(ev->result));
	pres = ev->present;
	if ((ev->present & CT_F_EXISTED) && ev->existed)
		pres |= PRES_EXISTED;
	if (ev->err != err_of(ev->result))
		pres |= PRES_ERR;
	c = p_uv(c, pres);
	if (pres & PRES_ERR)
		c = p_uv(c, zz(ev->err));
	for (uint32_t m = ev->present; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);
		const struct ct_bytes *bs;

		switch (i) {
		case FI_PATH:
		case FI_PATH2:
		case FI_EXE:
		case FI_CWD: /* SPLIT_FIELDS */
			c = put_path(b, w, c, *ev_bytes(ev, 1u << i));
			if (!c)
				return 0;
			break;
		case FI_ARGV:
			c = p_uv(c, ev->argc);
			/* fall through */
		case FI_ADDR:
		case FI_REASON: /* WHOLE_FIELDS */
			bs = ev_bytes(ev, 1u << i);
			id = intern(b, w, bs->p, bs->len);
			if (!id)
				return 0;
			c = p_uv(c, id);
			break;
		case FI_FLAGS:
			c = p_uv(c, ev->flags);
			break;
		case FI_MODE:
			c = p_uv(c, ev->mode);
			break;
		case FI_ARGV_DROPPED:
			c = p_uv(c, ev->argv_dropped);
			break;
		case FI_PARENT_START:
			c = p_uv(c, ev->parent_start);
			break;
		case FI_EXIT:
			c = p_uv(c, zz(ev->exit_code));
			break;
		case FI_SIGNAL:
			c = p_uv(c, zz(ev->signal));
			break;
		case FI_FD:
			c = p_uv(c, zz(ev->fd));
			break;
		case FI_REPORTER:
			c = p_uv(c, zz(ev->reporter));
			break;
		}
	}
	return (size_t)(c - c0);
}

/* An event entry: head (hn bytes) then tail (tn bytes).  Once per event:
 * the common case (room in both arrays) is one check and two copies. */
static inline int ev_put(struct ct_wbatch *b, uint64_t session, uint64_t seq,
			 const void *head, size_t hn, const void *tail,
			 uint32_t tn, bool defer)
{
	size_t n = hn + (size_t)tn;
	struct ent *e;
	uint8_t *d;

	if (b->n == b->cap || b->arena.cap - b->arena.len < n) {
		e = ent_add(b, DB_EVENTS);
		if (!e || buf_reserve(&b->arena, n))
			return CT_ENOMEM;
	}
	e = &b->ents[b->n];
	e->db = DB_EVENTS;
	e->voff = b->arena.len;
	d = b->arena.p + b->arena.len;
	memcpy(d, head, hn);
	if (tn)
		memcpy(d + hn, tail, tn);
	b->arena.len += n;
	e->defer = defer;
	e->klen = 16;
	put_be64(e->key, session);
	put_be64(e->key + 8, seq);
	e->vlen = (uint32_t)n;
	b->n++;
	return 0;
}

int ct_wbatch_event_ev(struct ct_wbatch *b, uint64_t session, uint64_t seq,
		       uint32_t proc, const struct ct_event *ev,
		       const void *rec, uint32_t len)
{
	uint8_t *c;
	struct wsess *w;
	size_t n;

	if ((!rec && len) || len > UINT32_MAX - 16)
		return CT_EINVAL;
	if (!rec)
		rec = "";
	w = b->ws; /* most recently used first: nearly always this one */
	if (!w || w->session != session)
		w = wsess_get(b, session);
	if (!w)
		return CT_ENOMEM;
	if (w->mode == WS_DEFER && w->retry) {
		w->retry = false;
		wsess_reserve(b, w);
	}
	if (w->mode != WS_NEW) {
		uint8_t le[4] = { (uint8_t)proc, (uint8_t)(proc >> 8),
				  (uint8_t)(proc >> 16),
				  (uint8_t)(proc >> 24) };

		return ev_put(b, session, seq, le, 4, rec, len,
			      w->mode == WS_DEFER);
	}
	if (!b->scratch && !(b->scratch = malloc(2 * (size_t)WIRE_BUF + 256)))
		return CT_ENOMEM;
	c = b->scratch + WIRE_BUF;
	n = compact_build(b, w, proc, ev, rec, len, c);
	if (n)
		return ev_put(b, session, seq, c, n, NULL, 0, false);
	c[0] = EV_RAW;
	n = 1 + put_uv(c + 1, proc);
	return ev_put(b, session, seq, c, n, rec, len, false);
}

int ct_wbatch_event(struct ct_wbatch *b, uint64_t session, uint64_t seq,
		    uint32_t proc, const void *rec, uint32_t len)
{
	struct ct_event ev;
	bool ok = rec && ct_event_decode(rec, len, &ev) == 0;

	return ct_wbatch_event_ev(b, session, seq, proc, ok ? &ev : NULL, rec,
				  len);
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

/* An event added in the old layout because its session's form was not
 * known (the reservation failed): it keeps that layout unless the session
 * has a strings header by now, when it becomes a raw tagged value
 * (v->mv_data NULL: put with MDB_RESERVE, then defer_fill). */
static int defer_value(struct ct_wbatch *b, MDB_txn *txn, const struct ent *en,
		       MDB_val *v)
{
	uint64_t session = get_be64(en->key);
	const uint8_t *le = b->arena.p + en->voff;
	uint8_t key[12], pn[8];
	MDB_val k = { 12, key }, hv;
	uint32_t proc;
	int rc;

	if (b->defer_tagged < 0 || b->defer_session != session) {
		b->defer_tagged = 0;
		b->defer_session = session;
		if (b->s->e->has_strings) {
			str_key(key, session, 0);
			rc = LMDB(mdb_get, txn, b->s->e->strings, &k, &hv);
			if (rc && rc != MDB_NOTFOUND)
				return rc;
			b->defer_tagged = rc == 0;
		}
	}
	if (!b->defer_tagged)
		return 0;
	proc = (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 |
	       (uint32_t)le[3] << 24;
	v->mv_size = 1 + put_uv(pn, proc) + en->vlen - 4;
	v->mv_data = NULL;
	return 0;
}

static void defer_fill(struct ct_wbatch *b, const struct ent *en,
		       const MDB_val *v)
{
	const uint8_t *le = b->arena.p + en->voff;
	uint8_t *p = v->mv_data;
	uint32_t proc = (uint32_t)le[0] | (uint32_t)le[1] << 8 |
			(uint32_t)le[2] << 16 | (uint32_t)le[3] << 24;
	size_t n;

	p[0] = EV_RAW;
	n = 1 + put_uv(p + 1, proc);
	memcpy(p + n, le + 4, en->vlen - 4);
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
	const uint8_t *lp = last; /* the greatest key: last, or an entry's */
	MDB_val lk = { 0, last }, k, v;
	bool have_last = false;
	MDB_cursor *cur;
	int rc;

	rc = mdb_cursor_open(txn, e->events, &cur);
	if (rc)
		return rc;
	rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_LAST);
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
	b->defer_tagged = -1;
	for (size_t i = 0; i < b->n; i++) {
		struct ent *en = &b->ents[i];
		unsigned flags = 0;

		k.mv_size = en->klen;
		k.mv_data = en->key;
		v.mv_size = en->vlen;
		v.mv_data = b->arena.p + en->voff;
		switch (en->db) {
		case DB_EVENTS:
			if (en->defer) {
				rc = defer_value(b, txn, en, &v);
				if (rc)
					break;
				if (v.mv_data == NULL)
					flags = MDB_RESERVE;
			}
			if (!have_last || key_after(en->key, lp, lk.mv_size)) {
				rc = LMDB(mdb_cursor_put, cur, &k, &v,
					  MDB_APPEND | flags);
				lp = en->key; /* b->ents stays put in here */
				lk.mv_size = 16;
				have_last = true;
			} else {
				rc = LMDB(mdb_cursor_put, cur, &k, &v, flags);
			}
			if (rc == 0 && flags)
				defer_fill(b, en, &v);
			break;
		case DB_SESSIONS:
			rc = LMDB(mdb_put, txn, e->sessions, &k, &v, 0);
			break;
		case DB_STRINGS:
			rc = LMDB(mdb_put, txn, e->strings, &k, &v, 0);
			break;
		default:
			rc = LMDB(mdb_put, txn, e->procs, &k, &v, 0);
			break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* Start writing back what the commits so far left dirty, without waiting
 * for it: the store is MDB_NOSYNC until the session's final commit, whose
 * fdatasync otherwise waits for every page the session wrote (4.3 ms for
 * 100,000 events here, after the command has exited).  Once per KICK_BYTES
 * of batches, so that pages LMDB rewrites soon are not written out at
 * every commit. */
#define KICK_BYTES (1u << 20)

static void kick_writeback(struct ct_store *s, size_t bytes)
{
	int fd;

	s->unkicked += bytes;
	if (s->unkicked < KICK_BYTES || mdb_env_get_fd(s->e->env, &fd))
		return;
	s->unkicked = 0;
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int ct_wbatch_commit(struct ct_wbatch *b, bool sync)
{
	struct ct_store *s = b->s;
	int rc;

	if (b->n) {
		rc = store_write(s, batch_put, b, "write batch");
		if (rc)
			return rc;
		if (!sync && !s->rdonly)
			kick_writeback(s, b->arena.len);
		b->n = 0;
		b->arena.len = 0;
		for (struct wsess *w = b->ws; w; w = w->next)
			w->retry = w->mode == WS_DEFER;
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
		rc = LMDB(mdb_cursor_get, cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (k.mv_size < 8 || memcmp(k.mv_data, key, 8))
			break;
		rc = LMDB(mdb_cursor_del, cur, 0);
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
	/* after the events that name them */
	if (!rc && budget && s->e->has_strings)
		rc = del_range(txn, s->e->strings, d->session, &budget, &found);
	if (rc)
		return rc;
	if (budget) {
		/* Last, so an interrupted delete leaves a session that a
		 * second delete finishes. */
		put_be64(key, d->session);
		rc = LMDB(mdb_del, txn, s->e->sessions, &k, NULL);
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
