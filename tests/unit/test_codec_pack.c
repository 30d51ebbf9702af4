/* The codec's fast paths against references.
 *
 * Encoding: common/codec.c writes msgpack by hand for speed; the format
 * was defined by msgpack-c's packer (smallest integer forms, bin8/16/32,
 * fix/16/32 containers).  A reference encoder built on <msgpack/pack.h>,
 * the way codec.c encoded before, packs thousands of random events, and
 * both ct_event_size() and ct_event_encode() must agree with it byte for
 * byte, including the argv budget and the path cut.  Short buffers must
 * fail with CT_E2BIG and leave every byte from cap on untouched.
 *
 * The ring form (fixed-width integers, what the shim writes into the
 * ring) must keep every value: decoded, it encodes to the same canonical
 * bytes.
 *
 * Decoding: ct_event_decode() reads the encoder's forms inline and hands
 * anything else to the general decoder.  codec.c is included here (white
 * box, its statics visible; the library's copy is then not linked) so
 * both can be run on the same valid and mutated records: same result,
 * same event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack/pack.h>

#include "common/codec.c"
#include "common/codec.h"
#include "common/error.h"
#include "common/event.h"

#define ROUNDS 20000
#define BUF_MAX (2 * CT_RECORD_MAX)

/* ---- reference: msgpack-c's packer into a growing buffer ---- */

struct ref {
	unsigned char *p;
	size_t len;
};

static int ref_write(void *data, const char *buf, size_t len)
{
	struct ref *r = data;

	assert_true(r->len + len <= BUF_MAX);
	memcpy(r->p + r->len, buf, len);
	r->len += len;
	return 0;
}

static size_t ref_bin_hdr(size_t n)
{
	return n < 256 ? 2 : n < 65536 ? 3 : 5;
}

static void ref_bytes(msgpack_packer *pk, struct ct_bytes b)
{
	if (!b.p)
		b.len = 0;
	if (b.len > CT_PATH_MAX)
		b.len = CT_PATH_MAX;
	msgpack_pack_bin(pk, b.len);
	if (b.len)
		msgpack_pack_bin_body(pk, b.p, b.len);
}

/* docs/format.md: argv elements are kept while their encoded sizes fit
 * CT_ARGV_BYTES_MAX; the rest are counted into argv_dropped. */
static void ref_pack(msgpack_packer *pk, const struct ct_event *ev)
{
	uint32_t present = ev->present & ((1u << CT_F__COUNT) - 1);
	uint32_t kept = 0, i, n = 0;
	uint64_t dropped = 0;
	size_t total = 0;
	char *const *av = ev->argv_in;

	if ((present & CT_F_ARGV) && av) {
		for (; av[kept]; kept++) {
			size_t l = strnlen(av[kept], CT_ARGV_BYTES_MAX + 1);

			if (total + ref_bin_hdr(l) + l > CT_ARGV_BYTES_MAX)
				break;
			total += ref_bin_hdr(l) + l;
		}
		for (i = kept; av[i]; i++)
			dropped++;
	}
	if (dropped)
		present |= CT_F_ARGV_DROPPED;
	if (ev->present & CT_F_ARGV_DROPPED)
		dropped += ev->argv_dropped;
	if (dropped > UINT32_MAX)
		dropped = UINT32_MAX;
	for (i = 0; i < CT_F__COUNT; i++)
		n += (present >> i) & 1;

	msgpack_pack_array(pk, 11);
	msgpack_pack_uint8(pk, CT_FORMAT_VERSION);
	msgpack_pack_uint8(pk, ev->kind);
	msgpack_pack_uint8(pk, ev->source);
	msgpack_pack_uint64(pk, ev->ts);
	msgpack_pack_int32(pk, ev->pid);
	msgpack_pack_int32(pk, ev->tid);
	msgpack_pack_int32(pk, ev->ppid);
	msgpack_pack_uint64(pk, ev->pstart);
	msgpack_pack_int64(pk, ev->result);
	msgpack_pack_int32(pk, ev->err);
	msgpack_pack_map(pk, n);
	for (i = 0; i < CT_F__COUNT; i++) {
		uint32_t bit = 1u << i;

		if (!(present & bit))
			continue;
		msgpack_pack_uint8(pk, (uint8_t)(i + 1));
		switch (bit) {
		case CT_F_PATH:
			ref_bytes(pk, ev->path);
			break;
		case CT_F_PATH2:
			ref_bytes(pk, ev->path2);
			break;
		case CT_F_FLAGS:
			msgpack_pack_uint32(pk, ev->flags);
			break;
		case CT_F_MODE:
			msgpack_pack_uint32(pk, ev->mode);
			break;
		case CT_F_ARGV:
			msgpack_pack_array(pk, kept);
			for (uint32_t k = 0; k < kept; k++) {
				struct ct_bytes b = {
					av[k], (uint32_t)strnlen(
						       av[k], CT_ARGV_BYTES_MAX)
				};
				ref_bytes(pk, b);
			}
			break;
		case CT_F_EXE:
			ref_bytes(pk, ev->exe);
			break;
		case CT_F_ADDR:
			ref_bytes(pk, ev->addr);
			break;
		case CT_F_EXIT:
			msgpack_pack_int32(pk, ev->exit_code);
			break;
		case CT_F_SIGNAL:
			msgpack_pack_int32(pk, ev->signal);
			break;
		case CT_F_REASON:
			ref_bytes(pk, ev->reason);
			break;
		case CT_F_CWD:
			ref_bytes(pk, ev->cwd);
			break;
		case CT_F_PARENT_START:
			msgpack_pack_uint64(pk, ev->parent_start);
			break;
		case CT_F_ARGV_DROPPED:
			msgpack_pack_uint32(pk, (uint32_t)dropped);
			break;
		case CT_F_FD:
			msgpack_pack_int32(pk, ev->fd);
			break;
		case CT_F_REPORTER:
			msgpack_pack_int32(pk, ev->reporter);
			break;
		case CT_F_EXISTED:
			msgpack_pack_uint8(pk, ev->existed ? 1 : 0);
			break;
		}
	}
}

/* ---- random events ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure repeats */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* An integer near one of msgpack's form boundaries, or anywhere. */
static uint64_t rnd_u64(void)
{
	static const uint64_t edges[] = { 0,	     127,	 128,
					  255,	     256,	 65535,
					  65536,     UINT32_MAX, 1ull << 32,
					  INT64_MAX, UINT64_MAX };
	uint64_t e = edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];

	switch (rnd() % 4) {
	case 0:
		return e;
	case 1:
		return e + (rnd() % 3) - 1;
	case 2:
		return rnd() >> (rnd() % 64);
	default:
		return rnd() % 300;
	}
}

static int64_t rnd_i64(void)
{
	static const int64_t edges[] = {
		0,	   -1,	     -32,    -33,	-128,
		-129,	   -32768,   -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
		INT64_MIN, INT64_MAX
	};

	if (rnd() % 2)
		return (int64_t)rnd_u64();
	/* wraps at the ends (INT64_MIN - 1), in unsigned arithmetic */
	return (int64_t)((uint64_t)edges[rnd() %
					 (sizeof(edges) / sizeof(edges[0]))] +
			 rnd() % 3 - 1);
}

static char pool[CT_PATH_MAX + 64];

static struct ct_bytes rnd_bytes(void)
{
	static const uint32_t lens[] = { 0,   1,   15,	 31,   32,
					 255, 256, 4095, 4096, 4097 };
	struct ct_bytes b;

	b.len = rnd() % 3 ? (uint32_t)(rnd() % 200)
			  : lens[rnd() % (sizeof(lens) / sizeof(lens[0]))];
	if (b.len > sizeof(pool))
		b.len = sizeof(pool);
	b.p = rnd() % 16 ? pool + rnd() % (sizeof(pool) - b.len + 1) : NULL;
	return b;
}

#define ARGS_MAX 3000
static char *argv_buf[ARGS_MAX + 1];
static char arg_store[ARGS_MAX][CT_PATH_MAX / 4];

static void rnd_argv(struct ct_event *ev)
{
	/* mostly small, sometimes far over the 32 KiB budget */
	uint32_t n = rnd() % 4 ? (uint32_t)(rnd() % 8)
			       : (uint32_t)(rnd() % ARGS_MAX);
	size_t each = rnd() % 2 ? rnd() % 40 : rnd() % sizeof(arg_store[0]);

	for (uint32_t i = 0; i < n; i++) {
		size_t l = rnd() % 3 ? each : rnd() % sizeof(arg_store[0]);

		memset(arg_store[i], 'a' + (int)(i % 26), l);
		arg_store[i][l] = '\0';
		argv_buf[i] = arg_store[i];
	}
	argv_buf[n] = NULL;
	ev->argv_in = rnd() % 16 ? argv_buf : NULL;
}

static void rnd_event(struct ct_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = (uint8_t)(1 + rnd() % (CT_KIND__COUNT - 1));
	ev->source = (uint8_t)(1 + rnd() % (CT_SOURCE__COUNT - 1));
	ev->ts = rnd_u64();
	ev->pid = (int32_t)rnd_i64();
	ev->tid = (int32_t)rnd_i64();
	ev->ppid = (int32_t)rnd_i64();
	ev->pstart = rnd_u64();
	ev->result = rnd_i64();
	ev->err = (int32_t)(rnd() % 5000);
	ev->present = (uint32_t)rnd();
	ev->flags = (uint32_t)rnd_u64();
	ev->mode = (uint32_t)rnd_u64();
	ev->exit_code = (int32_t)rnd_i64();
	ev->signal = (int32_t)rnd_i64();
	ev->fd = (int32_t)rnd_i64();
	ev->reporter = (int32_t)rnd_i64();
	ev->parent_start = rnd_u64();
	ev->argv_dropped = (uint32_t)rnd_u64();
	ev->existed = (uint8_t)rnd();
	ev->path = rnd_bytes();
	ev->path2 = rnd_bytes();
	ev->exe = rnd_bytes();
	ev->addr = rnd_bytes();
	ev->reason = rnd_bytes();
	ev->cwd = rnd_bytes();
	if (ev->present & CT_F_ARGV)
		rnd_argv(ev);
}

static void test_codec_pack__matches_msgpack_c(void **state)
{
	unsigned char *want = malloc(BUF_MAX), *got = malloc(BUF_MAX);
	struct ct_event ev;
	msgpack_packer pk;
	struct ref ref;

	(void)state;
	assert_non_null(want);
	assert_non_null(got);
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (char)(rnd() & 0xff);
	for (int round = 0; round < ROUNDS; round++) {
		size_t n, cap;
		ssize_t w;

		rnd_event(&ev);
		ref.p = want;
		ref.len = 0;
		msgpack_packer_init(&pk, &ref, ref_write);
		ref_pack(&pk, &ev);

		n = ct_event_size(&ev);
		if (n != ref.len)
			fail_msg("round %d: size %zu, msgpack-c %zu", round, n,
				 ref.len);
		memset(got, 0xa5, n + 64);
		w = ct_event_encode(&ev, got, n + 1 + rnd() % 64);
		assert_int_equal(w, (ssize_t)n);
		if (memcmp(got, want, n))
			fail_msg("round %d: bytes differ from msgpack-c",
				 round);
		for (size_t k = n; k < n + 64; k++)
			if (got[k] != 0xa5)
				fail_msg("round %d: byte %zu written past the "
					 "record's %zu",
					 round, k, n);

		/* room to spare: every event without argv takes the writer
		 * without per-field checks; same bytes */
		memset(got, 0xa5, n + 64);
		w = ct_event_encode(&ev, got, BUF_MAX);
		assert_int_equal(w, (ssize_t)n);
		if (memcmp(got, want, n) || got[n] != 0xa5)
			fail_msg("round %d: roomy buffer: bytes differ", round);

		/* one byte short, or much shorter: E2BIG, nothing past cap */
		cap = rnd() % 2 ? n - 1 : rnd() % n;
		memset(got, 0xa5, n + 64);
		assert_int_equal(ct_event_encode(&ev, got, cap), CT_E2BIG);
		for (size_t k = cap; k < n + 64; k++)
			if (got[k] != 0xa5)
				fail_msg("round %d: byte %zu written past "
					 "cap %zu",
					 round, k, cap);
	}
	free(want);
	free(got);
}

/* ct_event_decode (fast path first) must agree with decode_slow on every
 * input: the encoder's records, and those records damaged. */
static void check_decode(const unsigned char *p, size_t len, long *fast_ok)
{
	struct ct_event a, b, c;
	int ra, rb;

	memset(&a, 0x5a, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	ra = ct_event_decode(p, len, &a);
	rb = decode_slow(p, len, &b);
	assert_int_equal(ra, rb);
	if (ra == 0 && memcmp(&a, &b, sizeof(a)))
		fail_msg("fast and slow decoders filled the event differently");
	memset(&c, 0x3c, sizeof(c));
	if (decode_fast(p, len, &c)) {
		assert_int_equal(rb, 0);
		(*fast_ok)++;
	}
}

static void test_codec_pack__decode_fast_matches_slow(void **state)
{
	unsigned char *rec = malloc(BUF_MAX), *m = malloc(BUF_MAX);
	long fast_ok = 0, valid = 0;
	struct ct_event ev;

	(void)state;
	assert_non_null(rec);
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (char)(rnd() & 0xff);
	for (int round = 0; round < ROUNDS; round++) {
		size_t n;
		ssize_t w;

		rnd_event(&ev);
		/* keep err in the decoder's range half the time */
		if (rnd() % 2)
			ev.err %= 4096;
		w = ct_event_encode(&ev, rec, BUF_MAX);
		assert_true(w > 0);
		n = (size_t)w;
		check_decode(rec, n, &fast_ok);
		valid += decode_slow(rec, n, &ev) == 0;

		/* damaged copies: a byte changed, cut short, one byte more */
		for (int k = 0; k < 8; k++) {
			size_t at = rnd() % n, mlen = n;

			memcpy(m, rec, n);
			switch (rnd() % 4) {
			case 0:
				m[at] = (unsigned char)rnd();
				break;
			case 1:
				m[at] ^= (unsigned char)(1u << (rnd() % 8));
				break;
			case 2:
				mlen = at;
				break;
			default:
				m[n] = (unsigned char)rnd();
				mlen = n + 1;
				break;
			}
			check_decode(m, mlen, &fast_ok);
		}
	}
	/* a bytes field one over CT_PATH_MAX, well formed otherwise: the
	 * encoder never writes one, so build it from a record whose last
	 * field is a path of exactly CT_PATH_MAX bytes (bin16 0x1000) */
	{
		static char big[CT_PATH_MAX];
		size_t n;

		memset(&ev, 0, sizeof(ev));
		ev.kind = CT_KIND_OPEN;
		ev.source = CT_SOURCE_LIBC;
		ev.present = CT_F_PATH;
		memset(big, 'x', sizeof(big));
		ev.path.p = big;
		ev.path.len = CT_PATH_MAX;
		n = (size_t)ct_event_encode(&ev, rec, BUF_MAX);
		assert_int_equal(ct_event_decode(rec, n, &ev), 0);
		assert_int_equal(rec[n - CT_PATH_MAX - 3], 0xc5);
		rec[n - CT_PATH_MAX - 1] = 0x01; /* 0x1000 -> 0x1001 */
		rec[n] = 'x';
		assert_int_equal(ct_event_decode(rec, n + 1, &ev), CT_EFORMAT);
		check_decode(rec, n + 1, &fast_ok);
	}

	/* the fast path must have carried most valid records */
	assert_true(valid > ROUNDS / 4);
	assert_true(fast_ok > valid / 2);
	free(rec);
	free(m);
}

/* The ring form (ct_event_ring_encode): exactly ct_event_ring_size()
 * bytes, nothing past them; it decodes, through the fast path like the
 * canonical form, to an event whose canonical encoding is the original's
 * (every value kept, unknown present bits dropped alike); damaged copies
 * decode the same way on both paths.  Events with argv, or an err too
 * wide for its uint16, do not take it. */
static void test_codec_pack__ring_form(void **state)
{
	unsigned char *want = malloc(BUF_MAX), *got = malloc(BUF_MAX);
	unsigned char *back = malloc(BUF_MAX), *m = malloc(BUF_MAX);
	long fast_ok = 0, ringed = 0;
	struct ct_event ev, dec;

	(void)state;
	assert_non_null(want);
	assert_non_null(got);
	assert_non_null(back);
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (char)(rnd() & 0xff);
	for (int round = 0; round < ROUNDS; round++) {
		size_t n, c, at;
		ssize_t w;

		rnd_event(&ev);
		if (rnd() % 2) /* most shim events carry no argv */
			ev.present &=
				~(uint32_t)(CT_F_ARGV | CT_F_ARGV_DROPPED);
		if (rnd() % 4) /* and an errno */
			ev.err %= 4096;
		n = ct_event_ring_size(&ev);
		if (ev.present & (CT_F_ARGV | CT_F_ARGV_DROPPED) ||
		    ev.err > 0xffff) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_true(n > 0);
		ringed++;
		memset(got, 0xa5, n + 64);
		assert_int_equal(ct_event_ring_encode(&ev, got), n);
		for (size_t k = n; k < n + 64; k++)
			if (got[k] != 0xa5)
				fail_msg("round %d: byte %zu written past the "
					 "ring form's %zu",
					 round, k, n);
		check_decode(got, n, &fast_ok);
		if (ev.err > ERR_MAX) {
			assert_int_equal(ct_event_decode(got, n, &dec),
					 CT_EFORMAT);
			continue;
		}
		assert_int_equal(ct_event_decode(got, n, &dec), 0);
		w = ct_event_encode(&ev, want, BUF_MAX);
		assert_true(w > 0);
		c = (size_t)w;
		assert_int_equal(ct_event_encode(&dec, back, BUF_MAX),
				 (ssize_t)c);
		if (memcmp(want, back, c))
			fail_msg("round %d: the ring form lost a value", round);
		/* damaged: both decoders agree */
		at = rnd() % n;
		memcpy(m, got, n);
		m[at] ^= (unsigned char)(1u << (rnd() % 8));
		check_decode(m, n, &fast_ok);
		check_decode(m, at, &fast_ok);
	}
	assert_true(ringed > ROUNDS / 3);
	assert_true(fast_ok > ringed / 2);
	free(want);
	free(got);
	free(back);
	free(m);
}

static void test_codec_pack__no_buffer(void **state)
{
	struct ct_event ev;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_OPEN;
	ev.source = CT_SOURCE_LIBC;
	assert_int_equal(ct_event_encode(&ev, NULL, 0), CT_E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_pack__matches_msgpack_c),
		cmocka_unit_test(test_codec_pack__decode_fast_matches_slow),
		cmocka_unit_test(test_codec_pack__ring_form),
		cmocka_unit_test(test_codec_pack__no_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
