/* Event codec (codec.h; wire layout in docs/format.md).
 *
 * Encoding writes msgpack by hand, in exactly the forms msgpack-c's packer
 * picks (smallest integer form, non-negative values as fixint/uint*,
 * negative ones as negative fixint/int*; bin8/16/32; fix/16/32 arrays and
 * maps), so the bytes are what the format was defined with and the golden
 * bytes in tests/unit/test_codec.c hold; tests/unit/test_codec_pack.c
 * compares against msgpack-c's packer on random events.  The packer's
 * callback interface cost two passes through per-byte indirect calls (one
 * to count, one to copy) on the shim's hot path; here ct_event_size() is
 * arithmetic and ct_event_encode() one pass of direct stores: without
 * checks when a bound computed from the string lengths fits the buffer,
 * else each write checked against what is left of it, so a short buffer
 * fails with CT_E2BIG without a byte written past cap.  No allocation, no
 * libc state beyond memcpy/strnlen: safe in signal handlers and vfork
 * children.
 *
 * Decoding: hand-written on top of the bounded reader in mpread.c, because
 * the record comes from shared memory that any traced process can scribble
 * on; see mpread.h for why msgpack-c's unpacker is not used.
 */
#include <string.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/mpread.h"

#define TOP_FIELDS 11
#define ERR_MAX \
	4095 /* errno values end far below; -4095..-1 is the
		      * kernel's error range for syscall returns */
#define KNOWN_FIELDS ((uint32_t)((1u << CT_F__COUNT) - 1))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- msgpack sizes ---- */

/* Bytes msgpack-c spends on a bin header for n bytes (bin8/16/32). */
static inline size_t bin_hdr(size_t n)
{
	return n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/* Array or map header for n elements (fix/16/32). */
static inline size_t container_hdr(size_t n)
{
	return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

static inline size_t uint_size(uint64_t v)
{
	return v < 128		 ? 1
	       : v < 256	 ? 2
	       : v < 65536	 ? 3
	       : v <= UINT32_MAX ? 5
				 : 9;
}

static inline size_t int_size(int64_t v)
{
	if (v >= 0)
		return uint_size((uint64_t)v);
	return v >= -32		? 1
	       : v >= -128	? 2
	       : v >= -32768	? 3
	       : v >= INT32_MIN ? 5
				: 9;
}

/* ---- msgpack writer ----
 * A cursor and the room left in the caller's buffer.  Every put takes chk: when
 * true it checks the room for exactly what it writes and returns false,
 * writing nothing, when it does not fit; when false the caller has
 * already made sure the whole record fits (see record_bound()) and the
 * checks compile away.  The functions are always inlined so that each of
 * the two encoders gets its own copy with chk a constant. */
struct wr {
	unsigned char *p;
	size_t left;
};

#define INL static __attribute__((always_inline)) inline

INL bool room(const struct wr *w, size_t n, bool chk)
{
	return !chk || likely(w->left >= n);
}

INL bool put1(struct wr *w, unsigned v, bool chk)
{
	if (!room(w, 1, chk))
		return false;
	*w->p++ = (unsigned char)v;
	w->left--;
	return true;
}

/* Type byte t, then the low n bytes of v big-endian (n = 1, 2, 4, 8). */
INL bool put_tagged(struct wr *w, unsigned t, uint64_t v, size_t n, bool chk)
{
	unsigned char *p = w->p;

	if (!room(w, 1 + n, chk))
		return false;
	p[0] = (unsigned char)t;
	switch (n) {
	case 1:
		p[1] = (unsigned char)v;
		break;
	case 2: {
		uint16_t be = __builtin_bswap16((uint16_t)v);
		memcpy(p + 1, &be, 2);
		break;
	}
	case 4: {
		uint32_t be = __builtin_bswap32((uint32_t)v);
		memcpy(p + 1, &be, 4);
		break;
	}
	default: {
		uint64_t be = __builtin_bswap64(v);
		memcpy(p + 1, &be, 8);
		break;
	}
	}
	w->p = p + 1 + n;
	w->left -= 1 + n;
	return true;
}

INL bool put_uint(struct wr *w, uint64_t v, bool chk)
{
	if (v < 128)
		return put1(w, (unsigned)v, chk);
	if (v < 256)
		return put_tagged(w, 0xcc, v, 1, chk);
	if (v < 65536)
		return put_tagged(w, 0xcd, v, 2, chk);
	if (v <= UINT32_MAX)
		return put_tagged(w, 0xce, v, 4, chk);
	return put_tagged(w, 0xcf, v, 8, chk);
}

/* put_uint for a time in ns since the epoch: nearly always uint64. */
INL bool put_stamp(struct wr *w, uint64_t v, bool chk)
{
	if (likely(v > UINT32_MAX))
		return put_tagged(w, 0xcf, v, 8, chk);
	return put_uint(w, v, chk);
}

INL bool put_int(struct wr *w, int64_t v, bool chk)
{
	if (v >= 0)
		return put_uint(w, (uint64_t)v, chk);
	if (v >= -32)
		return put1(w, (unsigned)(uint8_t)v, chk);
	if (v >= -128)
		return put_tagged(w, 0xd0, (uint64_t)v, 1, chk);
	if (v >= -32768)
		return put_tagged(w, 0xd1, (uint64_t)v, 2, chk);
	if (v >= INT32_MIN)
		return put_tagged(w, 0xd2, (uint64_t)v, 4, chk);
	return put_tagged(w, 0xd3, (uint64_t)v, 8, chk);
}

/* Array (fix 0x90, 0xdc, 0xdd) or map (fix 0x80, 0xde, 0xdf) header. */
INL bool put_container(struct wr *w, unsigned fix, unsigned t16, size_t n,
		       bool chk)
{
	if (n < 16)
		return put1(w, fix | (unsigned)n, chk);
	if (n < 65536)
		return put_tagged(w, t16, n, 2, chk);
	return put_tagged(w, t16 + 1, n, 4, chk);
}

/* Copy n bytes.  Paths are mostly short, and gcc expands a memcpy of a
 * bounded unknown size into `rep movsq`, whose start-up cost was half of
 * an open event's encoding: short copies go in overlapping 8-byte moves,
 * long ones to libc's memcpy. */
static __attribute__((noinline)) void copy_long(unsigned char *d, const char *s,
						size_t n)
{
	memcpy(d, s, n);
}

INL void copy_bytes(unsigned char *d, const char *s, size_t n)
{
	uint64_t q;
	uint32_t h;
	size_t i;

	if (n >= 8) {
		if (n > 64) {
			copy_long(d, s, n);
			return;
		}
		for (i = 0; i + 8 < n; i += 8) {
			memcpy(&q, s + i, 8);
			memcpy(d + i, &q, 8);
		}
		memcpy(&q, s + n - 8, 8);
		memcpy(d + n - 8, &q, 8);
	} else if (n >= 4) {
		memcpy(&h, s, 4);
		memcpy(d, &h, 4);
		memcpy(&h, s + n - 4, 4);
		memcpy(d + n - 4, &h, 4);
	} else if (n) {
		d[0] = (unsigned char)s[0];
		d[n / 2] = (unsigned char)s[n / 2];
		d[n - 1] = (unsigned char)s[n - 1];
	}
}

INL bool put_bin(struct wr *w, const char *b, size_t n, bool chk)
{
	size_t h = bin_hdr(n);

	if (!room(w, h + n, chk))
		return false;
	if (h == 2)
		put_tagged(w, 0xc4, n, 1, false);
	else if (h == 3)
		put_tagged(w, 0xc5, n, 2, false);
	else
		put_tagged(w, 0xc6, n, 4, false);
	copy_bytes(w->p, b, n);
	w->p += n;
	w->left -= n;
	return true;
}

/* ---- the record ---- */

static inline struct ct_bytes cut(struct ct_bytes b)
{
	if (!b.p)
		b.len = 0;
	if (b.len > CT_PATH_MAX)
		b.len = CT_PATH_MAX;
	return b;
}

/* What survives of argv.  The budget is charged with each element's
 * encoded size (bin header + bytes), not its length alone: an argv of many
 * empty strings would otherwise be free and could grow a record past
 * CT_RECORD_MAX.  With every bytes field at CT_PATH_MAX and argv at its
 * budget a record stays under 58 KiB (tests check the worst case). */
struct argv_plan {
	uint32_t kept;
	uint32_t dropped; /* total to record, caller's count included */
	bool has_dropped;
	size_t bytes; /* encoded size of the kept elements */
};

static void plan_argv(const struct ct_event *ev, struct argv_plan *pl)
{
	char *const *av = ev->argv_in;
	size_t total = 0;
	uint64_t dropped = 0;
	uint32_t i = 0;

	pl->kept = 0;
	if ((ev->present & CT_F_ARGV) && av) {
		for (; av[i]; i++) {
			size_t n = strnlen(av[i], CT_ARGV_BYTES_MAX + 1);

			if (total + bin_hdr(n) + n > CT_ARGV_BYTES_MAX)
				break;
			total += bin_hdr(n) + n;
		}
		pl->kept = i;
		for (; av[i]; i++)
			dropped++;
	}
	pl->bytes = total;
	pl->has_dropped = dropped || (ev->present & CT_F_ARGV_DROPPED);
	if (ev->present & CT_F_ARGV_DROPPED)
		dropped += ev->argv_dropped;
	pl->dropped = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
}

/* The optional fields to write: present without unknown bits, plus
 * argv_dropped when argv was cut.  Only events carrying argv need the
 * plan; the others skip its walk. */
static inline uint32_t fields_of(const struct ct_event *ev,
				 struct argv_plan *pl)
{
	uint32_t present = ev->present & KNOWN_FIELDS;

	if (unlikely(present & (CT_F_ARGV | CT_F_ARGV_DROPPED))) {
		plan_argv(ev, pl);
		if (pl->has_dropped)
			present |= CT_F_ARGV_DROPPED;
	}
	return present;
}

/* Without -mpopcnt, __builtin_popcount becomes a libgcc call; a loop over
 * 16 bits keeps the shim free of it. */
static inline unsigned count_bits(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static inline size_t bytes_size(struct ct_bytes b)
{
	b = cut(b);
	return bin_hdr(b.len) + b.len;
}

/* Encoded size of one optional field's value, by bit.  Types as in
 * event.h. */
static size_t field_size(const struct ct_event *ev, uint32_t bit,
			 const struct argv_plan *pl)
{
	switch (bit) {
	case CT_F_PATH:
		return bytes_size(ev->path);
	case CT_F_PATH2:
		return bytes_size(ev->path2);
	case CT_F_FLAGS:
		return uint_size(ev->flags);
	case CT_F_MODE:
		return uint_size(ev->mode);
	case CT_F_ARGV:
		return container_hdr(pl->kept) + pl->bytes;
	case CT_F_EXE:
		return bytes_size(ev->exe);
	case CT_F_ADDR:
		return bytes_size(ev->addr);
	case CT_F_EXIT:
		return int_size(ev->exit_code);
	case CT_F_SIGNAL:
		return int_size(ev->signal);
	case CT_F_REASON:
		return bytes_size(ev->reason);
	case CT_F_CWD:
		return bytes_size(ev->cwd);
	case CT_F_PARENT_START:
		return uint_size(ev->parent_start);
	case CT_F_ARGV_DROPPED:
		return uint_size(pl->dropped);
	case CT_F_FD:
		return int_size(ev->fd);
	case CT_F_REPORTER:
		return int_size(ev->reporter);
	default: /* CT_F_EXISTED: 0 or 1 */
		return 1;
	}
}

size_t ct_event_size(const struct ct_event *ev)
{
	struct argv_plan pl;
	uint32_t present = fields_of(ev, &pl), left;
	size_t n;

	/* array header and version (fixint), then the fixed fields */
	n = 2 + uint_size(ev->kind) + uint_size(ev->source) +
	    uint_size(ev->ts) + int_size(ev->pid) + int_size(ev->tid) +
	    int_size(ev->ppid) + uint_size(ev->pstart) + int_size(ev->result) +
	    int_size(ev->err) + container_hdr(count_bits(present));
	/* each field: its tag (a fixint, 1..16) and its value */
	for (left = present; left; left &= left - 1)
		n += 1 + field_size(ev, left & -left, &pl);
	return n;
}

INL bool put_bytes(struct wr *w, struct ct_bytes b, bool chk)
{
	b = cut(b);
	return put_bin(w, b.p, b.len, chk);
}

/* Only the checked encoder writes argv (see ct_event_encode). */
static bool put_argv(struct wr *w, const struct ct_event *ev,
		     const struct argv_plan *pl)
{
	uint32_t i;

	if (!put_container(w, 0x90, 0xdc, pl->kept, true))
		return false;
	for (i = 0; i < pl->kept; i++) {
		const char *a = ev->argv_in[i];

		if (!put_bin(w, a, strnlen(a, CT_ARGV_BYTES_MAX), true))
			return false;
	}
	return true;
}

/* One optional field's value, by bit index (tag - 1): a dense switch is
 * one jump through a table, where cases of 1u << i were a tree of
 * compares. */
INL bool put_field(struct wr *w, const struct ct_event *ev, unsigned idx,
		   const struct argv_plan *pl, bool chk)
{
	switch (idx) {
	case 0: /* CT_F_PATH */
		return put_bytes(w, ev->path, chk);
	case 1: /* CT_F_PATH2 */
		return put_bytes(w, ev->path2, chk);
	case 2: /* CT_F_FLAGS */
		return put_uint(w, ev->flags, chk);
	case 3: /* CT_F_MODE */
		return put_uint(w, ev->mode, chk);
	case 4: /* CT_F_ARGV */
		return chk && put_argv(w, ev, pl);
	case 5: /* CT_F_EXE */
		return put_bytes(w, ev->exe, chk);
	case 6: /* CT_F_ADDR */
		return put_bytes(w, ev->addr, chk);
	case 7: /* CT_F_EXIT */
		return put_int(w, ev->exit_code, chk);
	case 8: /* CT_F_SIGNAL */
		return put_int(w, ev->signal, chk);
	case 9: /* CT_F_REASON */
		return put_bytes(w, ev->reason, chk);
	case 10: /* CT_F_CWD */
		return put_bytes(w, ev->cwd, chk);
	case 11: /* CT_F_PARENT_START */
		return put_uint(w, ev->parent_start, chk);
	case 12: /* CT_F_ARGV_DROPPED */
		return chk && put_uint(w, pl->dropped, chk);
	case 13: /* CT_F_FD */
		return put_int(w, ev->fd, chk);
	case 14: /* CT_F_REPORTER */
		return put_int(w, ev->reporter, chk);
	default: /* 15: CT_F_EXISTED */
		return put1(w, ev->existed ? 1 : 0, chk);
	}
}

/* The record at w->p: its length, or CT_E2BIG.  With chk
 * false the caller guarantees the room (record_bound()) and present holds
 * neither argv bit. */
INL ssize_t encode(struct wr *w, const struct ct_event *ev, uint32_t present,
		   const struct argv_plan *pl, bool chk)
{
	unsigned char *start = w->p;
	uint32_t left;
	unsigned idx;

	if (!put1(w, 0x90 | TOP_FIELDS, chk) ||
	    !put1(w, CT_FORMAT_VERSION, chk) || !put_uint(w, ev->kind, chk) ||
	    !put_uint(w, ev->source, chk) || !put_stamp(w, ev->ts, chk) ||
	    !put_int(w, ev->pid, chk) || !put_int(w, ev->tid, chk) ||
	    !put_int(w, ev->ppid, chk) || !put_stamp(w, ev->pstart, chk) ||
	    !put_int(w, ev->result, chk) || !put_int(w, ev->err, chk) ||
	    !put_container(w, 0x80, 0xde, count_bits(present), chk))
		return CT_E2BIG;
	for (left = present; left; left &= left - 1) {
		idx = (unsigned)__builtin_ctz(left);
		/* tag = bit index + 1, a positive fixint */
		if (!put1(w, idx + 1, chk) || !put_field(w, ev, idx, pl, chk))
			return CT_E2BIG;
	}
	return (ssize_t)(w->p - start);
}

/* The most a record without argv can take, from the lengths of its byte
 * strings alone: the fixed part at its widest (array header, version,
 * kind and source as uint8, ts uint64, pid/tid/ppid int32, pstart uint64,
 * result int64, err int32, map16 header), then per optional field a tag
 * and at most 9 bytes of integer or a bin16 header (bin32 is never needed:
 * strings are cut to CT_PATH_MAX) and the bytes. */
#define FIXED_MAX (1 + 1 + 2 + 2 + 9 + 5 + 5 + 5 + 9 + 9 + 5 + 3)
#define FIELD_MAX (1 + 9)
#define BYTES_FIELDS \
	(CT_F_PATH | CT_F_PATH2 | CT_F_EXE | CT_F_ADDR | CT_F_REASON | CT_F_CWD)

/* Bytes of the present byte fields' contents, after the cut: what both
 * writers copy besides the headers they size themselves. */
INL size_t bytes_len(const struct ct_event *ev, uint32_t present)
{
	size_t n = 0;

	if (present & BYTES_FIELDS) {
		if (present & CT_F_PATH)
			n += cut(ev->path).len;
		if (present & CT_F_PATH2)
			n += cut(ev->path2).len;
		if (unlikely(present &
			     (CT_F_EXE | CT_F_ADDR | CT_F_REASON | CT_F_CWD)))
			n += cut(ev->exe).len * !!(present & CT_F_EXE) +
			     cut(ev->addr).len * !!(present & CT_F_ADDR) +
			     cut(ev->reason).len * !!(present & CT_F_REASON) +
			     cut(ev->cwd).len * !!(present & CT_F_CWD);
	}
	return n;
}

INL size_t record_bound(const struct ct_event *ev, uint32_t present,
			unsigned nfields)
{
	return FIXED_MAX + FIELD_MAX * (size_t)nfields + bytes_len(ev, present);
}

/* Two copies of one encoder: records without argv that surely fit (all of
 * the shim's file and network events in its stack buffer) are written
 * without a check per field; the rest, argv and a buffer that may be too
 * small, check every write. */
ssize_t ct_event_encode(const struct ct_event *ev, void *buf, size_t cap)
{
	struct wr w = { buf, buf ? cap : 0 };
	struct argv_plan pl;
	uint32_t present = fields_of(ev, &pl);

	if (likely(buf && !(present & (CT_F_ARGV | CT_F_ARGV_DROPPED)) &&
		   record_bound(ev, present, count_bits(present)) <= cap))
		return encode(&w, ev, present, &pl, false);
	return encode(&w, ev, present, &pl, true);
}

/* ---- decoding ---- */

static int get_uint(struct ct_mpr *r, uint64_t max, uint64_t *v)
{
	if (ct_mpr_uint(r, v))
		return r->err;
	return *v > max ? CT_EFORMAT : 0;
}

static int get_int(struct ct_mpr *r, int64_t min, int64_t max, int64_t *v)
{
	if (ct_mpr_int(r, v))
		return r->err;
	return *v < min || *v > max ? CT_EFORMAT : 0;
}

static int get_u32(struct ct_mpr *r, uint32_t *out)
{
	uint64_t v;
	int ret = get_uint(r, UINT32_MAX, &v);

	if (!ret)
		*out = (uint32_t)v;
	return ret;
}

static int get_i32(struct ct_mpr *r, int32_t *out)
{
	int64_t v;
	int ret = get_int(r, INT32_MIN, INT32_MAX, &v);

	if (!ret)
		*out = (int32_t)v;
	return ret;
}

static int get_bytes(struct ct_mpr *r, struct ct_bytes *b)
{
	if (ct_mpr_bytes(r, b))
		return r->err;
	return b->len > CT_PATH_MAX ? CT_EFORMAT : 0;
}

/* argv: elements may not hold NUL (they came from C strings) and their
 * encoded sizes must fit the encoder's budget, so whatever decodes here
 * re-encodes without a cut. */
static int get_argv(struct ct_mpr *r, struct ct_event *ev)
{
	const unsigned char *start;
	size_t total = 0;
	struct ct_bytes b;
	uint32_t n, i;

	if (ct_mpr_array(r, &n))
		return r->err;
	start = r->p;
	for (i = 0; i < n; i++) {
		if (ct_mpr_bytes(r, &b))
			return r->err;
		if (b.len && memchr(b.p, '\0', b.len))
			return CT_EFORMAT;
		total += bin_hdr(b.len) + b.len;
		if (total > CT_ARGV_BYTES_MAX)
			return CT_EFORMAT;
	}
	ev->argc = n;
	ev->argv_raw.p = (const char *)start;
	ev->argv_raw.len = (uint32_t)(r->p - start);
	return 0;
}

static int get_field(struct ct_mpr *r, struct ct_event *ev, uint32_t bit)
{
	uint64_t u;
	int ret;

	switch (bit) {
	case CT_F_PATH:
		return get_bytes(r, &ev->path);
	case CT_F_PATH2:
		return get_bytes(r, &ev->path2);
	case CT_F_FLAGS:
		return get_u32(r, &ev->flags);
	case CT_F_MODE:
		return get_u32(r, &ev->mode);
	case CT_F_ARGV:
		return get_argv(r, ev);
	case CT_F_EXE:
		return get_bytes(r, &ev->exe);
	case CT_F_ADDR:
		return get_bytes(r, &ev->addr);
	case CT_F_EXIT:
		return get_i32(r, &ev->exit_code);
	case CT_F_SIGNAL:
		return get_i32(r, &ev->signal);
	case CT_F_REASON:
		return get_bytes(r, &ev->reason);
	case CT_F_CWD:
		return get_bytes(r, &ev->cwd);
	case CT_F_PARENT_START:
		return get_uint(r, UINT64_MAX, &ev->parent_start);
	case CT_F_ARGV_DROPPED:
		return get_u32(r, &ev->argv_dropped);
	case CT_F_FD:
		return get_i32(r, &ev->fd);
	case CT_F_REPORTER:
		return get_i32(r, &ev->reporter);
	case CT_F_EXISTED:
		ret = get_uint(r, 1, &u);
		if (!ret)
			ev->existed = (uint8_t)u;
		return ret;
	default:
		return CT_EFORMAT;
	}
}

/* The general decoder: every form msgpack allows for each field, with the
 * exact error for each way a record can be wrong. */
static int decode_slow(const void *buf, size_t len, struct ct_event *ev)
{
	struct ct_mpr r;
	uint64_t u, tag, prev = 0;
	uint32_t n, k;
	int32_t err;
	int ret;

	memset(ev, 0, sizeof(*ev));
	if (!buf)
		return len ? CT_EINVAL : CT_ETRUNC;
	ct_mpr_init(&r, buf, len);
	if (ct_mpr_array(&r, &n))
		return r.err;
	if (n == 0)
		return CT_EFORMAT;
	/* The version comes before the field count is judged, so a future
	 * layout with more fields is reported as a version, not as garbage. */
	if (ct_mpr_uint(&r, &u))
		return r.err;
	if (u != CT_FORMAT_VERSION)
		return CT_EVERSION;
	if (n != TOP_FIELDS)
		return CT_EFORMAT;

	if ((ret = get_uint(&r, CT_KIND__COUNT - 1, &u)) || u < 1)
		return ret ? ret : CT_EFORMAT;
	ev->kind = (uint8_t)u;
	if ((ret = get_uint(&r, CT_SOURCE__COUNT - 1, &u)) || u < 1)
		return ret ? ret : CT_EFORMAT;
	ev->source = (uint8_t)u;
	if ((ret = get_uint(&r, UINT64_MAX, &ev->ts)) ||
	    (ret = get_i32(&r, &ev->pid)) || (ret = get_i32(&r, &ev->tid)) ||
	    (ret = get_i32(&r, &ev->ppid)) ||
	    (ret = get_uint(&r, UINT64_MAX, &ev->pstart)) ||
	    (ret = get_int(&r, INT64_MIN, INT64_MAX, &ev->result)) ||
	    (ret = get_i32(&r, &err)))
		return ret;
	if (err < 0 || err > ERR_MAX)
		return CT_EFORMAT;
	ev->err = err;

	if (ct_mpr_map(&r, &n))
		return r.err;
	for (k = 0; k < n; k++) {
		uint32_t bit;

		if (ct_mpr_uint(&r, &tag))
			return r.err;
		/* strictly increasing: no duplicates, one canonical order */
		if (tag <= prev || tag > CT_F__COUNT)
			return CT_EFORMAT;
		prev = tag;
		bit = 1u << (tag - 1);
		ret = get_field(&r, ev, bit);
		if (ret)
			return ret;
		ev->present |= bit;
	}
	if (ct_mpr_left(&r))
		return CT_EFORMAT;
	return 0;
}

/* ---- the fast path ----
 * The collector decodes every record, so the forms the encoder writes are
 * read inline here: fixarray of 11, version 1 and kind and source as
 * fixints, integers in any int form, bytes as bin or str, tags as
 * fixints.  The fast path accepts exactly what decode_slow() accepts for
 * such records (same ranges, same rules) and fills ev the same way; on
 * anything else (another form, a value out of range, a short record) it
 * gives up and decode_slow() runs from the start, so errors are reported
 * by one piece of code.  tests/unit/test_codec_pack.c checks the two
 * agree on valid and mutated records. */
struct rd {
	const unsigned char *p, *end;
};

/* Any msgpack integer as a signed/unsigned pair, like read_any_int() in
 * mpread.c: *neg set when negative, *v the value (two's complement). */
static __attribute__((always_inline)) inline bool rd_int(struct rd *r,
							 bool *neg, uint64_t *v)
{
	const unsigned char *p = r->p;
	size_t left = (size_t)(r->end - p);
	unsigned t;

	if (unlikely(!left))
		return false;
	t = p[0];
	if (t <= 0x7f) {
		*neg = false;
		*v = t;
		r->p = p + 1;
		return true;
	}
	if (t >= 0xe0) {
		*neg = true;
		*v = (uint64_t)(int64_t)(int8_t)t;
		r->p = p + 1;
		return true;
	}
	if (t >= 0xcc && t <= 0xd3) {
		unsigned w = 1u << (t & 3); /* cc/d0: 1 ... cf/d3: 8 */
		uint64_t x;

		if (unlikely(left < 1 + w))
			return false;
		switch (w) {
		case 1:
			x = p[1];
			break;
		case 2: {
			uint16_t be;
			memcpy(&be, p + 1, 2);
			x = __builtin_bswap16(be);
			break;
		}
		case 4: {
			uint32_t be;
			memcpy(&be, p + 1, 4);
			x = __builtin_bswap32(be);
			break;
		}
		default: {
			uint64_t be;
			memcpy(&be, p + 1, 8);
			x = __builtin_bswap64(be);
			break;
		}
		}
		if (t >= 0xd0) { /* int8..int64: sign-extend */
			unsigned sh = 64 - 8 * w;
			int64_t sx = (int64_t)(x << sh) >> sh;

			*neg = sx < 0;
			x = (uint64_t)sx;
		} else {
			*neg = false;
		}
		*v = x;
		r->p = p + 1 + w;
		return true;
	}
	return false;
}

static __attribute__((always_inline)) inline bool
rd_uint(struct rd *r, uint64_t max, uint64_t *v)
{
	bool neg;

	return rd_int(r, &neg, v) && !neg && *v <= max;
}

static __attribute__((always_inline)) inline bool rd_i32(struct rd *r,
							 int32_t *out)
{
	bool neg;
	uint64_t v;

	if (!rd_int(r, &neg, &v))
		return false;
	if (neg ? (int64_t)v < INT32_MIN : v > INT32_MAX)
		return false;
	*out = (int32_t)(int64_t)v;
	return true;
}

static __attribute__((always_inline)) inline bool rd_u32(struct rd *r,
							 uint32_t *out)
{
	uint64_t v;

	if (!rd_uint(r, UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* bin8/16/32 or str (fix/8/16/32), at most CT_PATH_MAX bytes. */
static __attribute__((always_inline)) inline bool rd_bytes(struct rd *r,
							   struct ct_bytes *b)
{
	const unsigned char *p = r->p;
	size_t left = (size_t)(r->end - p), h, n;
	unsigned t;

	if (unlikely(!left))
		return false;
	t = p[0];
	if (t >= 0xa0 && t <= 0xbf) {
		h = 1;
		n = t & 0x1f;
	} else if (t == 0xc4 || t == 0xd9) {
		if (left < 2)
			return false;
		h = 2;
		n = p[1];
	} else if (t == 0xc5 || t == 0xda) {
		if (left < 3)
			return false;
		h = 3;
		n = (size_t)p[1] << 8 | p[2];
	} else {
		/* 32-bit lengths are over CT_PATH_MAX or not canonical;
		 * decode_slow() judges them */
		return false;
	}
	if (n > CT_PATH_MAX || n > left - h)
		return false;
	b->p = (const char *)p + h;
	b->len = (uint32_t)n;
	r->p = p + h + n;
	return true;
}

/* argv goes through the general reader (records with argv are rare). */
static bool rd_argv(struct rd *r, struct ct_event *ev)
{
	struct ct_mpr m;

	ct_mpr_init(&m, r->p, (size_t)(r->end - r->p));
	if (get_argv(&m, ev))
		return false;
	r->p = m.p;
	return true;
}

static bool rd_field(struct rd *r, struct ct_event *ev, uint32_t bit)
{
	uint64_t u;

	switch (bit) {
	case CT_F_PATH:
		return rd_bytes(r, &ev->path);
	case CT_F_PATH2:
		return rd_bytes(r, &ev->path2);
	case CT_F_FLAGS:
		return rd_u32(r, &ev->flags);
	case CT_F_MODE:
		return rd_u32(r, &ev->mode);
	case CT_F_ARGV:
		return rd_argv(r, ev);
	case CT_F_EXE:
		return rd_bytes(r, &ev->exe);
	case CT_F_ADDR:
		return rd_bytes(r, &ev->addr);
	case CT_F_EXIT:
		return rd_i32(r, &ev->exit_code);
	case CT_F_SIGNAL:
		return rd_i32(r, &ev->signal);
	case CT_F_REASON:
		return rd_bytes(r, &ev->reason);
	case CT_F_CWD:
		return rd_bytes(r, &ev->cwd);
	case CT_F_PARENT_START:
		return rd_uint(r, UINT64_MAX, &ev->parent_start);
	case CT_F_ARGV_DROPPED:
		return rd_u32(r, &ev->argv_dropped);
	case CT_F_FD:
		return rd_i32(r, &ev->fd);
	case CT_F_REPORTER:
		return rd_i32(r, &ev->reporter);
	default: /* CT_F_EXISTED */
		if (!rd_uint(r, 1, &u))
			return false;
		ev->existed = (uint8_t)u;
		return true;
	}
}

/* true: ev holds the record.  false: not decoded here (ev is garbage). */
static bool decode_fast(const unsigned char *p, size_t len, struct ct_event *ev)
{
	struct rd r = { p, p + len };
	uint64_t u;
	bool neg;
	unsigned n, k, t, prev = 0;

	/* fixarray of 11, version 1, kind and source as fixints */
	if (len < 4 || p[0] != (0x90 | TOP_FIELDS) ||
	    p[1] != CT_FORMAT_VERSION || p[2] < 1 || p[2] >= CT_KIND__COUNT ||
	    p[3] < 1 || p[3] >= CT_SOURCE__COUNT)
		return false;
	memset(ev, 0, sizeof(*ev));
	ev->kind = p[2];
	ev->source = p[3];
	r.p = p + 4;
	if (!rd_uint(&r, UINT64_MAX, &ev->ts) || !rd_i32(&r, &ev->pid) ||
	    !rd_i32(&r, &ev->tid) || !rd_i32(&r, &ev->ppid) ||
	    !rd_uint(&r, UINT64_MAX, &ev->pstart) || !rd_int(&r, &neg, &u) ||
	    (!neg && u > (uint64_t)INT64_MAX) || !rd_i32(&r, &ev->err) ||
	    ev->err < 0 || ev->err > ERR_MAX)
		return false;
	ev->result = (int64_t)u;

	/* fixmap (the 16-field map16 is left to decode_slow) */
	if (r.p >= r.end || (*r.p & 0xf0) != 0x80)
		return false;
	n = *r.p++ & 0x0f;
	if (2 * (size_t)n > (size_t)(r.end - r.p))
		return false;
	for (k = 0; k < n; k++) {
		uint32_t bit;

		/* tags: fixints, strictly increasing */
		t = *r.p;
		if (t <= prev || t > CT_F__COUNT)
			return false;
		r.p++;
		prev = t;
		bit = 1u << (t - 1);
		if (!rd_field(&r, ev, bit))
			return false;
		ev->present |= bit;
		if (k + 1 < n && r.p >= r.end)
			return false;
	}
	return r.p == r.end;
}

int ct_event_decode(const void *buf, size_t len, struct ct_event *ev)
{
	if (buf && decode_fast(buf, len, ev))
		return 0;
	return decode_slow(buf, len, ev);
}

int ct_strv_next(struct ct_bytes raw, uint32_t count, uint32_t *idx,
		 uint32_t *off, struct ct_bytes *arg)
{
	struct ct_mpr r;
	uint32_t n;

	if (*idx >= count)
		return 0;
	if (!raw.p || *off > raw.len)
		return CT_EFORMAT;
	ct_mpr_init(&r, raw.p + *off, raw.len - *off);
	/* An event's argv_raw starts at the first element; a caller that kept
	 * the array header too (a store record) is accepted when its count
	 * agrees.  A bin/str type byte is never an array header, so the two
	 * cannot be confused. */
	if (*idx == 0 && *off == 0 && raw.len &&
	    ((*r.p & 0xf0) == 0x90 || *r.p == 0xdc || *r.p == 0xdd)) {
		if (ct_mpr_array(&r, &n) || n != count)
			return CT_EFORMAT;
	}
	if (ct_mpr_bytes(&r, arg))
		return CT_EFORMAT;
	*off = (uint32_t)((const char *)r.p - raw.p);
	(*idx)++;
	return 1;
}

/* ---- the ring form ----
 * What the shim writes into the ring: the same record, but every integer
 * in one fixed width (ts and pstart uint64, pid/tid/ppid int32, result
 * int64, err uint16, flags and mode uint32 ...) and every byte field as
 * bin16, so that its size is a sum known before a byte is written and
 * the writes need no choice of form: the record goes straight into its
 * ring slot, without the stack copy and per-field branches of the
 * canonical writer.  The decoder reads any width; the store keeps the
 * values and gives back the canonical form (docs/format.md). */

INL void st16(unsigned char *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	memcpy(p, &v, 2);
}

INL void st32(unsigned char *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}

INL void st64(unsigned char *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
}

/* array header, version, kind, source, ts (uint64), pid, tid, ppid
 * (int32), pstart (uint64), result (int64), err (uint16), map header */
#define RING_FIXED (1 + 1 + 1 + 1 + 9 + 5 + 5 + 5 + 9 + 9 + 3 + 1)

/* Bytes of each optional field in the ring form, tag and value, by bit
 * index; byte fields add their length.  argv (4) never takes this form. */
#define RV(i)                                                                \
	(1 + ((i) == 4							 ? 0 \
	      : (i) == 11						 ? 9 \
	      : (i) == 15						 ? 1 \
	      : (i) < 2 || (i) == 5 || (i) == 6 || (i) == 9 || (i) == 10 ? 3 \
									 : 5))
/* ... summed over the bits of a byte of present (base 0 or 8), with the
 * number of bits in the high nibble of the 16-bit entry: one lookup per
 * byte instead of a loop over the fields. */
#define RS(v, b)                                                               \
	(((v)&1) * RV(b) + ((v) >> 1 & 1) * RV((b) + 1) +                      \
	 ((v) >> 2 & 1) * RV((b) + 2) + ((v) >> 3 & 1) * RV((b) + 3) +         \
	 ((v) >> 4 & 1) * RV((b) + 4) + ((v) >> 5 & 1) * RV((b) + 5) +         \
	 ((v) >> 6 & 1) * RV((b) + 6) + ((v) >> 7 & 1) * RV((b) + 7) +         \
	 (((v)&1) + ((v) >> 1 & 1) + ((v) >> 2 & 1) + ((v) >> 3 & 1) +         \
	  ((v) >> 4 & 1) + ((v) >> 5 & 1) + ((v) >> 6 & 1) + ((v) >> 7 & 1)) * \
		 4096)
#define R4(v, b) RS(v, b), RS((v) + 1, b), RS((v) + 2, b), RS((v) + 3, b)
#define R16(v, b) R4(v, b), R4((v) + 4, b), R4((v) + 8, b), R4((v) + 12, b)
#define R64(v, b) \
	R16(v, b), R16((v) + 16, b), R16((v) + 32, b), R16((v) + 48, b)
#define R256(b) R64(0, b), R64(64, b), R64(128, b), R64(192, b)
static const uint16_t ring_lo[256] = { R256(0) }, ring_hi[256] = { R256(8) };

size_t ct_event_ring_size(const struct ct_event *ev)
{
	uint32_t present = ev->present & KNOWN_FIELDS;
	size_t n = RING_FIXED;

	if (unlikely((present & (CT_F_ARGV | CT_F_ARGV_DROPPED)) ||
		     ev->kind >= 128 || ev->source >= 128 ||
		     (uint32_t)ev->err > 0xffff))
		return 0;
	n += (ring_lo[present & 0xff] & 4095) + (ring_hi[present >> 8] & 4095);
	return n + bytes_len(ev, present);
}

INL unsigned char *ring_bytes(unsigned char *p, struct ct_bytes b)
{
	b = cut(b);
	p[0] = 0xc5;
	st16(p + 1, (uint16_t)b.len);
	copy_bytes(p + 3, b.p, b.len);
	return p + 3 + b.len;
}

INL unsigned char *ring_u32(unsigned char *p, unsigned t, uint32_t v)
{
	p[0] = (unsigned char)t;
	st32(p + 1, v);
	return p + 5;
}

size_t ct_event_ring_encode(const struct ct_event *ev, void *buf)
{
	unsigned char *p = buf;
	uint32_t present = ev->present & KNOWN_FIELDS, left;

	p[0] = 0x90 | TOP_FIELDS;
	p[1] = CT_FORMAT_VERSION;
	p[2] = ev->kind;
	p[3] = ev->source;
	p[4] = 0xcf;
	st64(p + 5, ev->ts);
	p[13] = 0xd2;
	st32(p + 14, (uint32_t)ev->pid);
	p[18] = 0xd2;
	st32(p + 19, (uint32_t)ev->tid);
	p[23] = 0xd2;
	st32(p + 24, (uint32_t)ev->ppid);
	p[28] = 0xcf;
	st64(p + 29, ev->pstart);
	p[37] = 0xd3;
	st64(p + 38, (uint64_t)ev->result);
	p[46] = 0xcd;
	st16(p + 47, (uint16_t)ev->err);
	p[49] = (unsigned char)(0x80 | ((ring_lo[present & 0xff] >> 12) +
					(ring_hi[present >> 8] >> 12)));
	p += RING_FIXED;
	for (left = present; left; left &= left - 1) {
		unsigned idx = (unsigned)__builtin_ctz(left);

		*p++ = (unsigned char)(idx + 1);
		switch (idx) {
		case 0:
			p = ring_bytes(p, ev->path);
			break;
		case 1:
			p = ring_bytes(p, ev->path2);
			break;
		case 2:
			p = ring_u32(p, 0xce, ev->flags);
			break;
		case 3:
			p = ring_u32(p, 0xce, ev->mode);
			break;
		case 5:
			p = ring_bytes(p, ev->exe);
			break;
		case 6:
			p = ring_bytes(p, ev->addr);
			break;
		case 7:
			p = ring_u32(p, 0xd2, (uint32_t)ev->exit_code);
			break;
		case 8:
			p = ring_u32(p, 0xd2, (uint32_t)ev->signal);
			break;
		case 9:
			p = ring_bytes(p, ev->reason);
			break;
		case 10:
			p = ring_bytes(p, ev->cwd);
			break;
		case 11:
			p[0] = 0xcf;
			st64(p + 1, ev->parent_start);
			p += 9;
			break;
		case 13:
			p = ring_u32(p, 0xd2, (uint32_t)ev->fd);
			break;
		case 14:
			p = ring_u32(p, 0xd2, (uint32_t)ev->reporter);
			break;
		default: /* 15: existed */
			*p++ = ev->existed ? 1 : 0;
			break;
		}
	}
	return (size_t)(p - (unsigned char *)buf);
}
