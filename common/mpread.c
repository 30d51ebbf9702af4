/* Bounded msgpack reader (mpread.h).
 *
 * Every multi-byte read goes through need(), which compares against the
 * bytes that remain, and every declared length or count is checked against
 * them before it is used, so a lying header costs O(1) to reject.  Running
 * out of bytes is CT_ETRUNC (the record may be a prefix of a good one); a
 * byte that cannot start the expected type is CT_EFORMAT.
 */
#include "common/error.h"
#include "common/mpread.h"

#define SKIP_DEPTH_MAX 32

void ct_mpr_init(struct ct_mpr *r, const void *buf, size_t len)
{
	r->p = buf;
	/* NULL + 0 is undefined in C; an empty range needs no arithmetic */
	r->end = len ? r->p + len : r->p;
	r->err = 0;
}

static int fail(struct ct_mpr *r, int err)
{
	if (!r->err)
		r->err = err;
	return err;
}

static uint64_t be(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Size of the big-endian field after a type byte, or -1 if t is not one of
 * the fixed-width types below. */
static int width(unsigned char t)
{
	switch (t) {
	case 0xcc: /* uint8 */
	case 0xd0: /* int8 */
	case 0xc4: /* bin8 */
	case 0xd9: /* str8 */
	case 0xc7: /* ext8 */
		return 1;
	case 0xcd:
	case 0xd1:
	case 0xc5:
	case 0xda:
	case 0xdc: /* array16 */
	case 0xde: /* map16 */
	case 0xc8:
		return 2;
	case 0xce:
	case 0xd2:
	case 0xc6:
	case 0xdb:
	case 0xdd: /* array32 */
	case 0xdf: /* map32 */
	case 0xc9:
	case 0xca: /* float32 */
		return 4;
	case 0xcf:
	case 0xd3:
	case 0xcb: /* float64 */
		return 8;
	default:
		return -1;
	}
}

/* Reads the type byte and its big-endian argument without advancing:
 * *t gets the type byte, *arg the argument (or the fix value), *hdr the
 * header size.  Returns 0, CT_ETRUNC. */
static int peek_hdr(const struct ct_mpr *r, unsigned char *t, uint64_t *arg,
		    size_t *hdr)
{
	size_t left = ct_mpr_left(r);
	int w;

	if (left < 1)
		return CT_ETRUNC;
	*t = r->p[0];
	w = width(*t);
	if (w < 0) {
		*arg = 0;
		*hdr = 1;
		return 0;
	}
	if (left < 1 + (size_t)w)
		return CT_ETRUNC;
	*arg = be(r->p + 1, (unsigned)w);
	*hdr = 1 + (size_t)w;
	return 0;
}

/* Reads any integer: *neg set when it is negative, *mag its value as
 * uint64 (two's complement for negatives). */
static int read_any_int(struct ct_mpr *r, bool *neg, uint64_t *v)
{
	unsigned char t;
	uint64_t arg;
	size_t hdr;
	int ret;

	if (r->err)
		return r->err;
	ret = peek_hdr(r, &t, &arg, &hdr);
	if (ret)
		return fail(r, ret);
	if (t <= 0x7f) {
		*neg = false;
		*v = t;
	} else if (t >= 0xe0) {
		*neg = true;
		*v = (uint64_t)(int64_t)(int8_t)t;
	} else if (t >= 0xcc && t <= 0xcf) {
		*neg = false;
		*v = arg;
	} else if (t >= 0xd0 && t <= 0xd3) {
		int64_t s;

		switch (t) {
		case 0xd0:
			s = (int8_t)arg;
			break;
		case 0xd1:
			s = (int16_t)arg;
			break;
		case 0xd2:
			s = (int32_t)arg;
			break;
		default:
			s = (int64_t)arg;
			break;
		}
		*neg = s < 0;
		*v = (uint64_t)s;
	} else {
		return fail(r, CT_EFORMAT);
	}
	r->p += hdr;
	return 0;
}

int ct_mpr_uint(struct ct_mpr *r, uint64_t *v)
{
	const unsigned char *save = r->p;
	bool neg;
	uint64_t x;
	int ret;

	ret = read_any_int(r, &neg, &x);
	if (ret)
		return ret;
	if (neg) {
		r->p = save;
		return fail(r, CT_EFORMAT);
	}
	*v = x;
	return 0;
}

int ct_mpr_int(struct ct_mpr *r, int64_t *v)
{
	const unsigned char *save = r->p;
	bool neg;
	uint64_t x;
	int ret;

	ret = read_any_int(r, &neg, &x);
	if (ret)
		return ret;
	if (!neg && x > (uint64_t)INT64_MAX) {
		r->p = save;
		return fail(r, CT_EFORMAT);
	}
	*v = (int64_t)x;
	return 0;
}

int ct_mpr_bool(struct ct_mpr *r, bool *v)
{
	if (r->err)
		return r->err;
	if (r->p >= r->end)
		return fail(r, CT_ETRUNC);
	if (*r->p != 0xc2 && *r->p != 0xc3)
		return fail(r, CT_EFORMAT);
	*v = *r->p == 0xc3;
	r->p++;
	return 0;
}

int ct_mpr_nil(struct ct_mpr *r)
{
	if (r->err)
		return r->err;
	if (r->p >= r->end)
		return fail(r, CT_ETRUNC);
	if (*r->p != 0xc0)
		return fail(r, CT_EFORMAT);
	r->p++;
	return 0;
}

bool ct_mpr_peek_nil(const struct ct_mpr *r)
{
	return !r->err && r->p < r->end && *r->p == 0xc0;
}

/* Array or map header: count, checked against the bytes that follow (each
 * element takes at least one byte, a map entry two). */
static int read_container(struct ct_mpr *r, bool map, uint32_t *count)
{
	unsigned char t;
	uint64_t arg, n;
	size_t hdr;
	int ret;

	if (r->err)
		return r->err;
	ret = peek_hdr(r, &t, &arg, &hdr);
	if (ret)
		return fail(r, ret);
	if (!map && t >= 0x90 && t <= 0x9f)
		n = t & 0x0f;
	else if (map && t >= 0x80 && t <= 0x8f)
		n = t & 0x0f;
	else if (t == (map ? 0xde : 0xdc) || t == (map ? 0xdf : 0xdd))
		n = arg;
	else
		return fail(r, CT_EFORMAT);
	if ((map ? 2 * n : n) > ct_mpr_left(r) - hdr)
		return fail(r, CT_ETRUNC);
	r->p += hdr;
	*count = (uint32_t)n;
	return 0;
}

int ct_mpr_array(struct ct_mpr *r, uint32_t *count)
{
	return read_container(r, false, count);
}

int ct_mpr_map(struct ct_mpr *r, uint32_t *count)
{
	return read_container(r, true, count);
}

int ct_mpr_bytes(struct ct_mpr *r, struct ct_bytes *b)
{
	unsigned char t;
	uint64_t n;
	size_t hdr;
	int ret;

	if (r->err)
		return r->err;
	ret = peek_hdr(r, &t, &n, &hdr);
	if (ret)
		return fail(r, ret);
	if (t >= 0xa0 && t <= 0xbf)
		n = t & 0x1f;
	else if (!(t >= 0xc4 && t <= 0xc6) && !(t >= 0xd9 && t <= 0xdb))
		return fail(r, CT_EFORMAT);
	if (n > ct_mpr_left(r) - hdr)
		return fail(r, CT_ETRUNC);
	b->p = (const char *)r->p + hdr;
	b->len = (uint32_t)n;
	r->p += hdr + n;
	return 0;
}

/* Skip without recursion: pending[d] counts the values still to skip at
 * nesting level d.  A container pushes a level; the depth bound keeps
 * hostile nesting from being anything but a format error. */
int ct_mpr_skip(struct ct_mpr *r)
{
	const unsigned char *save = r->p;
	uint64_t pending[SKIP_DEPTH_MAX + 1];
	int depth = 0, ret;

	if (r->err)
		return r->err;
	pending[0] = 1;
	while (depth >= 0) {
		unsigned char t;
		uint64_t arg, body = 0, inner = 0;
		size_t hdr;

		if (pending[depth] == 0) {
			depth--;
			continue;
		}
		pending[depth]--;
		ret = peek_hdr(r, &t, &arg, &hdr);
		if (ret)
			goto out_restore;
		if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 ||
		    t == 0xc3) {
			/* fixint, nil, bool: the header is all */
		} else if (t >= 0x80 && t <= 0x8f) {
			inner = 2 * (uint64_t)(t & 0x0f);
		} else if (t >= 0x90 && t <= 0x9f) {
			inner = t & 0x0f;
		} else if (t >= 0xa0 && t <= 0xbf) {
			body = t & 0x1f;
		} else if (t == 0xdc || t == 0xdd) {
			inner = arg;
		} else if (t == 0xde || t == 0xdf) {
			inner = 2 * arg;
		} else if ((t >= 0xc4 && t <= 0xc6) ||
			   (t >= 0xd9 && t <= 0xdb)) {
			body = arg;
		} else if (t >= 0xc7 && t <= 0xc9) {
			body = 1 + arg; /* ext: type byte, then data */
		} else if (t >= 0xd4 && t <= 0xd8) {
			body = 1 + (1u << (t - 0xd4)); /* fixext 1..16 */
		} else if (width(t) > 0) {
			/* ints and floats: the argument was the value */
		} else {
			ret = CT_EFORMAT; /* 0xc1, never used */
			goto out_restore;
		}
		if (body > ct_mpr_left(r) - hdr ||
		    inner > ct_mpr_left(r) - hdr) {
			ret = CT_ETRUNC;
			goto out_restore;
		}
		r->p += hdr + body;
		if (inner) {
			if (depth == SKIP_DEPTH_MAX) {
				ret = CT_EFORMAT;
				goto out_restore;
			}
			pending[++depth] = inner;
		}
	}
	return 0;
out_restore:
	r->p = save;
	return fail(r, ret);
}
