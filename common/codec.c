/* Event codec (codec.h; wire layout in docs/format.md).
 *
 * Encoding: one function, pack_event(), drives msgpack-c's header-only
 * packer for both ct_event_size() (a callback that only counts) and
 * ct_event_encode() (a callback that copies into the caller's buffer and
 * refuses to overflow it).  Because the same code decides every byte, the
 * two cannot disagree.  The packer's functions are static inline in
 * <msgpack/pack.h>: nothing from libmsgpackc is linked, nothing allocates.
 *
 * Decoding: hand-written on top of the bounded reader in mpread.c, because
 * the record comes from shared memory that any traced process can scribble
 * on; see mpread.h for why msgpack-c's unpacker is not used.
 */
#include <string.h>

#include <msgpack/pack.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/mpread.h"

#define TOP_FIELDS 11
#define ERR_MAX \
	4095 /* errno values end far below; -4095..-1 is the
		      * kernel's error range for syscall returns */
#define KNOWN_FIELDS ((uint32_t)((1u << CT_F__COUNT) - 1))

/* Caller's buffer.  Once a write does not fit, every later one fails too,
 * so a packer that ignored a return value still cannot write past cap. */
struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool overflow;
};

static int wbuf_write(void *data, const char *buf, size_t len)
{
	struct wbuf *w = data;

	if (w->overflow || len > w->cap - w->len) {
		w->overflow = true;
		return -1;
	}
	memcpy(w->p + w->len, buf, len);
	w->len += len;
	return 0;
}

static int count_write(void *data, const char *buf, size_t len)
{
	*(size_t *)data += len;
	return 0;
}

/* Bytes msgpack-c spends on a bin header for n bytes (bin8/16/32). */
static size_t bin_hdr(size_t n)
{
	return n < 256 ? 2 : n < 65536 ? 3 : 5;
}

static struct ct_bytes cut(struct ct_bytes b)
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
	pl->has_dropped = dropped || (ev->present & CT_F_ARGV_DROPPED);
	if (ev->present & CT_F_ARGV_DROPPED)
		dropped += ev->argv_dropped;
	pl->dropped = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
}

static int pack_bytes(msgpack_packer *pk, struct ct_bytes b)
{
	b = cut(b);
	if (msgpack_pack_bin(pk, b.len))
		return -1;
	return b.len ? msgpack_pack_bin_body(pk, b.p, b.len) : 0;
}

static int pack_argv(msgpack_packer *pk, const struct ct_event *ev,
		     const struct argv_plan *pl)
{
	uint32_t i;

	if (msgpack_pack_array(pk, pl->kept))
		return -1;
	for (i = 0; i < pl->kept; i++) {
		const char *a = ev->argv_in[i];
		struct ct_bytes b = { a,
				      (uint32_t)strnlen(a, CT_ARGV_BYTES_MAX) };

		if (pack_bytes(pk, b))
			return -1;
	}
	return 0;
}

/* One optional field, by bit.  Types as in event.h. */
static int pack_field(msgpack_packer *pk, const struct ct_event *ev,
		      uint32_t bit, const struct argv_plan *pl)
{
	switch (bit) {
	case CT_F_PATH:
		return pack_bytes(pk, ev->path);
	case CT_F_PATH2:
		return pack_bytes(pk, ev->path2);
	case CT_F_FLAGS:
		return msgpack_pack_uint32(pk, ev->flags);
	case CT_F_MODE:
		return msgpack_pack_uint32(pk, ev->mode);
	case CT_F_ARGV:
		return pack_argv(pk, ev, pl);
	case CT_F_EXE:
		return pack_bytes(pk, ev->exe);
	case CT_F_ADDR:
		return pack_bytes(pk, ev->addr);
	case CT_F_EXIT:
		return msgpack_pack_int32(pk, ev->exit_code);
	case CT_F_SIGNAL:
		return msgpack_pack_int32(pk, ev->signal);
	case CT_F_REASON:
		return pack_bytes(pk, ev->reason);
	case CT_F_CWD:
		return pack_bytes(pk, ev->cwd);
	case CT_F_PARENT_START:
		return msgpack_pack_uint64(pk, ev->parent_start);
	case CT_F_ARGV_DROPPED:
		return msgpack_pack_uint32(pk, pl->dropped);
	case CT_F_FD:
		return msgpack_pack_int32(pk, ev->fd);
	case CT_F_REPORTER:
		return msgpack_pack_int32(pk, ev->reporter);
	case CT_F_EXISTED:
		return msgpack_pack_uint8(pk, ev->existed ? 1 : 0);
	default:
		return -1; /* unreachable: present is masked to known bits */
	}
}

/* Without -mpopcnt, __builtin_popcount becomes a libgcc call; a loop over
 * 16 bits keeps the shim free of it. */
static unsigned count_bits(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static int pack_event(msgpack_packer *pk, const struct ct_event *ev)
{
	struct argv_plan pl;
	uint32_t present, bit;
	unsigned tag;

	plan_argv(ev, &pl);
	present = ev->present & KNOWN_FIELDS;
	if (pl.has_dropped)
		present |= CT_F_ARGV_DROPPED;

	if (msgpack_pack_array(pk, TOP_FIELDS) ||
	    msgpack_pack_uint8(pk, CT_FORMAT_VERSION) ||
	    msgpack_pack_uint8(pk, ev->kind) ||
	    msgpack_pack_uint8(pk, ev->source) ||
	    msgpack_pack_uint64(pk, ev->ts) ||
	    msgpack_pack_int32(pk, ev->pid) ||
	    msgpack_pack_int32(pk, ev->tid) ||
	    msgpack_pack_int32(pk, ev->ppid) ||
	    msgpack_pack_uint64(pk, ev->pstart) ||
	    msgpack_pack_int64(pk, ev->result) ||
	    msgpack_pack_int32(pk, ev->err) ||
	    msgpack_pack_map(pk, count_bits(present)))
		return -1;
	for (tag = 1; tag <= CT_F__COUNT; tag++) {
		bit = 1u << (tag - 1);
		if (!(present & bit))
			continue;
		if (msgpack_pack_uint8(pk, (uint8_t)tag) ||
		    pack_field(pk, ev, bit, &pl))
			return -1;
	}
	return 0;
}

size_t ct_event_size(const struct ct_event *ev)
{
	msgpack_packer pk;
	size_t n = 0;

	msgpack_packer_init(&pk, &n, count_write);
	pack_event(&pk, ev); /* counting cannot fail */
	return n;
}

ssize_t ct_event_encode(const struct ct_event *ev, void *buf, size_t cap)
{
	struct wbuf w = { buf, 0, cap, false };
	msgpack_packer pk;

	msgpack_packer_init(&pk, &w, wbuf_write);
	if (pack_event(&pk, ev) || w.overflow)
		return CT_E2BIG;
	return (ssize_t)w.len;
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

int ct_event_decode(const void *buf, size_t len, struct ct_event *ev)
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
