/* Event codec, bounded msgpack reader, errno and flag names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/event.h"
#include "common/mpread.h"

#define ALL_FIELDS ((uint32_t)((1u << CT_F__COUNT) - 1))
#define MAX_ARGS 70000

static struct ct_bytes B(const char *s) {
	struct ct_bytes b = { s, (uint32_t)strlen(s) };
	return b;
}

/* Encode into an exactly sized heap buffer, so ASan sees any over-read by
 * the decoder later.  Checks that size and encode agree. */
static unsigned char *
encode(const struct ct_event *ev, size_t *len)
{
	size_t n = ct_event_size(ev);
	unsigned char *buf = malloc(n);
	ssize_t got;

	assert_non_null(buf);
	got = ct_event_encode(ev, buf, n);
	assert_int_equal(got, (ssize_t)n);
	*len = n;
	return buf;
}

static unsigned char *dup_bytes(const void *p, size_t n)
{
	unsigned char *d = malloc(n ? n : 1);

	assert_non_null(d);
	memcpy(d, p, n);
	return d;
}

/* argv of an event as a list of byte strings, whichever side it is on. */
static uint32_t argv_of(const struct ct_event *ev, struct ct_bytes *out,
			uint32_t max)
{
	uint32_t n = 0, idx = 0, off = 0;
	struct ct_bytes b;
	int ret;

	if (ev->argv_in) {
		for (; ev->argv_in[n] && n < max; n++)
			out[n] = B(ev->argv_in[n]);
		return n;
	}
	while ((ret = ct_strv_next(ev->argv_raw, ev->argc, &idx, &off, &b)) ==
	       1) {
		assert_true(n < max);
		out[n++] = b;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(n, ev->argc);
	return n;
}

static void expect_bytes(struct ct_bytes want, struct ct_bytes got)
{
	assert_int_equal(want.len, got.len);
	if (want.len)
		assert_memory_equal(want.p, got.p, want.len);
}

/* Every field of got equals want (argv compared element by element, the
 * first `kept` elements of want's argv). */
static void expect_same(const struct ct_event *want, const struct ct_event *got,
			uint32_t present)
{
	static struct ct_bytes wa[MAX_ARGS], ga[MAX_ARGS];
	uint32_t wn, gn, i;

	assert_int_equal(got->present, present);
	assert_int_equal(got->kind, want->kind);
	assert_int_equal(got->source, want->source);
	assert_true(got->ts == want->ts);
	assert_int_equal(got->pid, want->pid);
	assert_int_equal(got->tid, want->tid);
	assert_int_equal(got->ppid, want->ppid);
	assert_true(got->pstart == want->pstart);
	assert_true(got->result == want->result);
	assert_int_equal(got->err, want->err);
#define F(bit, field)        \
	if (present & (bit)) \
		assert_true(got->field == want->field);
	F(CT_F_FLAGS, flags)
	F(CT_F_MODE, mode)
	F(CT_F_EXIT, exit_code)
	F(CT_F_SIGNAL, signal)
	F(CT_F_PARENT_START, parent_start)
	F(CT_F_FD, fd)
	F(CT_F_REPORTER, reporter)
	F(CT_F_EXISTED, existed)
#undef F
#define FB(bit, field)       \
	if (present & (bit)) \
		expect_bytes(want->field, got->field);
	FB(CT_F_PATH, path)
	FB(CT_F_PATH2, path2)
	FB(CT_F_EXE, exe)
	FB(CT_F_ADDR, addr)
	FB(CT_F_REASON, reason)
	FB(CT_F_CWD, cwd)
#undef FB
	if (present & CT_F_ARGV) {
		wn = argv_of(want, wa, MAX_ARGS);
		gn = argv_of(got, ga, MAX_ARGS);
		assert_true(gn <= wn);
		for (i = 0; i < gn; i++)
			expect_bytes(wa[i], ga[i]);
	}
}

static char *argv_ls[] = { "ls", "-l", "/tmp", NULL };

/* An event with every optional field set. */
static void full_event(struct ct_event *ev, unsigned kind, unsigned source)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = (uint8_t)kind;
	ev->source = (uint8_t)source;
	ev->present = ALL_FIELDS;
	ev->ts = 1700000000123456789ull + kind;
	ev->pid = 4242;
	ev->tid = 4243;
	ev->ppid = 1;
	ev->pstart = 1699999999000000000ull;
	ev->result = kind % 2 ? -13 : 7;
	ev->err = kind % 2 ? EACCES : 0;
	ev->flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
	ev->mode = 0644;
	ev->exit_code = -1;
	ev->signal = 9;
	ev->fd = -100;
	ev->reporter = 77;
	ev->parent_start = UINT64_MAX;
	ev->argv_dropped = 3;
	ev->existed = 1;
	ev->path = B("/home/u/project/src/main.c");
	ev->path2 = B("/home/u/project/src/main.c.bak");
	ev->exe = B("/usr/bin/ls");
	ev->addr = B("[::1]:443");
	ev->reason = B("static binary");
	ev->cwd = B("/home/u/project");
	ev->argv_in = argv_ls;
}

/* ---- golden bytes ---- */

/* open("/tmp/a", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3 over an existing file.
 * Checked by hand against the msgpack spec, not copied from the encoder:
 *   9b                       fixarray, 11 elements
 *   01                       version 1 (positive fixint)
 *   06                       kind 6 = open
 *   01                       source 1 = libc
 *   cf 17979cfe3d85cd15      ts 1700000000123456789 as uint64 (> 2^32)
 *   cd 04d2                  pid 1234 as uint16 (>= 256)
 *   cd 04d3                  tid 1235
 *   01                       ppid 1
 *   cf 17979cfdfa8f3600      pstart 1699999999000000000
 *   03                       result 3
 *   00                       err 0
 *   84                       fixmap, 4 entries, tags increasing:
 *   01 c4 06 2f746d702f61    tag 1 path: bin8 len 6 "/tmp/a"
 *   03 cd 0241               tag 3 flags 0x241 = O_WRONLY|O_CREAT|O_TRUNC
 *   04 cd 01a4               tag 4 mode 0644 = 0x1a4
 *   10 01                    tag 16 existed 1
 */
static const unsigned char golden_open[] = {
	0x9b, 0x01, 0x06, 0x01, 0xcf, 0x17, 0x97, 0x9c, 0xfe, 0x3d, 0x85,
	0xcd, 0x15, 0xcd, 0x04, 0xd2, 0xcd, 0x04, 0xd3, 0x01, 0xcf, 0x17,
	0x97, 0x9c, 0xfd, 0xfa, 0x8f, 0x36, 0x00, 0x03, 0x00, 0x84, 0x01,
	0xc4, 0x06, 0x2f, 0x74, 0x6d, 0x70, 0x2f, 0x61, 0x03, 0xcd, 0x02,
	0x41, 0x04, 0xcd, 0x01, 0xa4, 0x10, 0x01,
};

static void golden_open_event(struct ct_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = CT_KIND_OPEN;
	ev->source = CT_SOURCE_LIBC;
	ev->ts = 1700000000123456789ull;
	ev->pid = 1234;
	ev->tid = 1235;
	ev->ppid = 1;
	ev->pstart = 1699999999000000000ull;
	ev->result = 3;
	ev->present = CT_F_PATH | CT_F_FLAGS | CT_F_MODE | CT_F_EXISTED;
	ev->path = B("/tmp/a");
	ev->flags = O_WRONLY | O_CREAT | O_TRUNC;
	ev->mode = 0644;
	ev->existed = 1;
}

/* execve("/bin/ls", ["ls", "-l"]) = -1 ENOENT by pid 70000:
 *   9b 01 02 01 01           version, kind 2 exec, source libc, ts 1
 *   ce 00011170 (x2)         pid/tid 70000 as uint32 (>= 65536)
 *   cd 04d2                  ppid 1234
 *   00                       pstart 0 (unknown)
 *   ff                       result -1 (negative fixint)
 *   02                       err ENOENT
 *   83                       fixmap 3
 *   01 c4 07 "/bin/ls"       tag 1 path
 *   05 92 c4 02 "ls" c4 02 "-l"   tag 5 argv: fixarray 2 of bin8
 *   06 c4 07 "/bin/ls"       tag 6 exe
 */
static const unsigned char golden_exec[] = {
	0x9b, 0x01, 0x02, 0x01, 0x01, 0xce, 0x00, 0x01, 0x11, 0x70, 0xce,
	0x00, 0x01, 0x11, 0x70, 0xcd, 0x04, 0xd2, 0x00, 0xff, 0x02, 0x83,
	0x01, 0xc4, 0x07, '/',	'b',  'i',  'n',  '/',	'l',  's',  0x05,
	0x92, 0xc4, 0x02, 'l',	's',  0xc4, 0x02, '-',	'l',  0x06, 0xc4,
	0x07, '/',  'b',  'i',	'n',  '/',  'l',  's',
};

static char *argv_ls_l[] = { "ls", "-l", NULL };

static void golden_exec_event(struct ct_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = CT_KIND_EXEC;
	ev->source = CT_SOURCE_LIBC;
	ev->ts = 1;
	ev->pid = 70000;
	ev->tid = 70000;
	ev->ppid = 1234;
	ev->result = -1;
	ev->err = ENOENT;
	ev->present = CT_F_PATH | CT_F_ARGV | CT_F_EXE;
	ev->path = B("/bin/ls");
	ev->exe = B("/bin/ls");
	ev->argv_in = argv_ls_l;
}

/* Integer edges: a gap seen by syscall user dispatch.
 *   9b 01 11 04 00           version, kind 17 gap, source 4 sud, ts 0
 *   d0 df                    pid -33: int8 (first below fixint's -32)
 *   e0                       tid -32: negative fixint
 *   7f                       ppid 127: last positive fixint
 *   cc 80                    pstart 128: uint8
 *   d3 8000000000000000      result INT64_MIN: int64
 *   cd 0fff                  err 4095
 *   86                       fixmap 6
 *   0a c4 06 "no sud"        tag 10 reason
 *   0c cf 0000000100000000   tag 12 parent_start 2^32: uint64
 *   0d cc ff                 tag 13 argv_dropped 255 (caller-set)
 *   0e d1 ff38               tag 14 fd -200: int16
 *   0f d2 80000000           tag 15 reporter INT32_MIN: int32
 *   10 00                    tag 16 existed 0
 */
static const unsigned char golden_ints[] = {
	0x9b, 0x01, 0x11, 0x04, 0x00, 0xd0, 0xdf, 0xe0, 0x7f, 0xcc, 0x80, 0xd3,
	0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcd, 0x0f, 0xff, 0x86,
	0x0a, 0xc4, 0x06, 'n',	'o',  ' ',  's',  'u',	'd',  0x0c, 0xcf, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x0d, 0xcc, 0xff, 0x0e, 0xd1,
	0xff, 0x38, 0x0f, 0xd2, 0x80, 0x00, 0x00, 0x00, 0x10, 0x00,
};

static void golden_ints_event(struct ct_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = CT_KIND_GAP;
	ev->source = CT_SOURCE_SUD;
	ev->pid = -33;
	ev->tid = -32;
	ev->ppid = 127;
	ev->pstart = 128;
	ev->result = INT64_MIN;
	ev->err = 4095;
	ev->present = CT_F_REASON | CT_F_PARENT_START | CT_F_ARGV_DROPPED |
		      CT_F_FD | CT_F_REPORTER | CT_F_EXISTED;
	ev->reason = B("no sud");
	ev->parent_start = 1ull << 32;
	ev->argv_dropped = 255;
	ev->fd = -200;
	ev->reporter = INT32_MIN;
	ev->existed = 0;
}

static void check_golden(const struct ct_event *ev, const unsigned char *want,
			 size_t want_len)
{
	unsigned char buf[256];
	struct ct_event got;
	ssize_t n;

	assert_int_equal(ct_event_size(ev), want_len);
	n = ct_event_encode(ev, buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)want_len);
	assert_memory_equal(buf, want, want_len);
	assert_int_equal(ct_event_decode(want, want_len, &got), 0);
	expect_same(ev, &got, ev->present);
}

static void test_codec__golden_open(void **state)
{
	struct ct_event ev;

	golden_open_event(&ev);
	check_golden(&ev, golden_open, sizeof(golden_open));
}

static void test_codec__golden_exec(void **state)
{
	struct ct_event ev;

	golden_exec_event(&ev);
	check_golden(&ev, golden_exec, sizeof(golden_exec));
}

static void test_codec__golden_ints(void **state)
{
	struct ct_event ev;

	golden_ints_event(&ev);
	check_golden(&ev, golden_ints, sizeof(golden_ints));
}

/* The same open in the ring form (what the shim writes into the ring):
 *   9b 01 06 01              as above
 *   cf 17979cfe3d85cd15      ts: always uint64
 *   d2 000004d2              pid: always int32
 *   d2 000004d3              tid
 *   d2 00000001              ppid
 *   cf 17979cfdfa8f3600      pstart: always uint64
 *   d3 0000000000000003      result: always int64
 *   cd 0000                  err: always uint16
 *   84                       fixmap, 4 entries
 *   01 c5 0006 2f746d702f61  path: always bin16
 *   03 ce 00000241           flags: always uint32
 *   04 ce 000001a4           mode: always uint32
 *   10 01                    existed: fixint
 */
static const unsigned char golden_open_ring[] = {
	0x9b, 0x01, 0x06, 0x01, 0xcf, 0x17, 0x97, 0x9c, 0xfe, 0x3d, 0x85,
	0xcd, 0x15, 0xd2, 0x00, 0x00, 0x04, 0xd2, 0xd2, 0x00, 0x00, 0x04,
	0xd3, 0xd2, 0x00, 0x00, 0x00, 0x01, 0xcf, 0x17, 0x97, 0x9c, 0xfd,
	0xfa, 0x8f, 0x36, 0x00, 0xd3, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x03, 0xcd, 0x00, 0x00, 0x84, 0x01, 0xc5, 0x00, 0x06, 0x2f,
	0x74, 0x6d, 0x70, 0x2f, 0x61, 0x03, 0xce, 0x00, 0x00, 0x02, 0x41,
	0x04, 0xce, 0x00, 0x00, 0x01, 0xa4, 0x10, 0x01,
};

static void test_codec__golden_open_ring(void **state)
{
	static const unsigned char failed[] = {
		0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, /* -2 */
		0xcd, 0x00, 0x02, /* err 2 */
	};
	unsigned char buf[256];
	struct ct_event ev, got;

	golden_open_event(&ev);
	assert_int_equal(ct_event_ring_size(&ev), sizeof(golden_open_ring));
	assert_int_equal(ct_event_ring_encode(&ev, buf),
			 sizeof(golden_open_ring));
	assert_memory_equal(buf, golden_open_ring, sizeof(golden_open_ring));
	assert_int_equal(ct_event_decode(buf, sizeof(golden_open_ring), &got),
			 0);
	expect_same(&ev, &got, ev.present);

	ev.result = -2;
	ev.err = 2;
	assert_int_equal(ct_event_ring_encode(&ev, buf),
			 sizeof(golden_open_ring));
	assert_memory_equal(buf + 37, failed, sizeof(failed));
	assert_int_equal(ct_event_decode(buf, sizeof(golden_open_ring), &got),
			 0);
	expect_same(&ev, &got, ev.present);

	/* argv never takes it: the exec hooks write the canonical form */
	golden_exec_event(&ev);
	assert_int_equal(ct_event_ring_size(&ev), 0);
	(void)state;
}

/* ---- round trips ---- */

static void test_codec__roundtrip_every_kind(void **state)
{
	unsigned kind, source;

	for (kind = 1; kind < CT_KIND__COUNT; kind++) {
		for (source = 1; source < CT_SOURCE__COUNT; source++) {
			struct ct_event ev, got;
			unsigned char *buf;
			size_t len;

			full_event(&ev, kind, source);
			buf = encode(&ev, &len);
			assert_int_equal(ct_event_decode(buf, len, &got), 0);
			expect_same(&ev, &got, ALL_FIELDS);
			assert_int_equal(got.argc, 3);
			free(buf);
		}
	}
}

/* Each optional field alone, so no field's decoding leans on another. */
static void test_codec__roundtrip_each_field(void **state)
{
	unsigned bit;

	for (bit = 0; bit < CT_F__COUNT; bit++) {
		struct ct_event ev, got;
		unsigned char *buf;
		size_t len;

		full_event(&ev, CT_KIND_OPEN, CT_SOURCE_LIBC);
		ev.present = 1u << bit;
		buf = encode(&ev, &len);
		assert_int_equal(ct_event_decode(buf, len, &got), 0);
		expect_same(&ev, &got, 1u << bit);
		free(buf);
	}
}

/* Bits the header does not define are not encoded. */
static void test_codec__unknown_present_bits_ignored(void **state)
{
	struct ct_event ev, got;
	unsigned char *buf;
	size_t len;

	golden_open_event(&ev);
	ev.present |= 0xffff0000u;
	buf = encode(&ev, &len);
	assert_int_equal(len, sizeof(golden_open));
	assert_memory_equal(buf, golden_open, len);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.present, ev.present & ALL_FIELDS);
	free(buf);
}

/* ---- limits ---- */

static char **make_argv(size_t n, size_t each, char fill)
{
	char **av = calloc(n + 1, sizeof(*av));
	size_t i;

	assert_non_null(av);
	for (i = 0; i < n; i++) {
		av[i] = malloc(each + 1);
		assert_non_null(av[i]);
		memset(av[i], fill + (int)(i % 26), each);
		av[i][each] = '\0';
	}
	return av;
}

static void free_argv(char **av)
{
	size_t i;

	for (i = 0; av[i]; i++)
		free(av[i]);
	free(av);
}

/* 100 args of 400 bytes: each costs 403 encoded bytes (bin16 header), so
 * 32768 / 403 = 81 fit; 19 are dropped and added to the caller's 5. */
static void test_codec__argv_truncated(void **state)
{
	char **av = make_argv(100, 400, 'a');
	struct ct_event ev, got;
	struct ct_bytes b;
	unsigned char *buf;
	uint32_t idx = 0, off = 0;
	size_t len;

	golden_exec_event(&ev);
	ev.argv_in = av;
	buf = encode(&ev, &len);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.argc, 81);
	assert_true(got.present & CT_F_ARGV_DROPPED);
	assert_int_equal(got.argv_dropped, 19);
	expect_same(&ev, &got, ev.present | CT_F_ARGV_DROPPED);
	while (ct_strv_next(got.argv_raw, got.argc, &idx, &off, &b) == 1) {
		assert_int_equal(b.len, 400);
		assert_memory_equal(b.p, av[idx - 1], 400);
	}
	assert_int_equal(idx, 81);
	free(buf);

	/* The caller's own count is added to, not replaced. */
	ev.present |= CT_F_ARGV_DROPPED;
	ev.argv_dropped = 5;
	buf = encode(&ev, &len);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.argc, 81);
	assert_int_equal(got.argv_dropped, 24);
	free(buf);
	free_argv(av);
}

/* Exactly at the budget is kept; one byte more drops the last element, and
 * every later one even if it would fit. */
static void test_codec__argv_budget_edge(void **state)
{
	/* 8 elements of 4093 bytes: 8 * (3 + 4093) = 32768 */
	char **av = make_argv(9, 4093, 'A');
	struct ct_event ev, got;
	unsigned char *buf;
	size_t len;

	free(av[8]);
	av[8] = NULL;
	golden_exec_event(&ev);
	ev.argv_in = av;
	buf = encode(&ev, &len);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.argc, 8);
	assert_false(got.present & CT_F_ARGV_DROPPED);
	free(buf);

	av[0][4092] = 'z';
	av[0] = realloc(av[0], 4095);
	assert_non_null(av[0]);
	memcpy(av[0] + 4093, "z", 2); /* now 4094 bytes */
	av[8] = strdup("x"); /* small, but after the cut */
	buf = encode(&ev, &len);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.argc, 7);
	assert_int_equal(got.argv_dropped, 2);
	free(buf);
	free_argv(av);
}

/* Empty strings cost their header: 1e5 of them cannot blow the record. */
static void test_codec__argv_empty_strings_bounded(void **state)
{
	char **av = make_argv(100000, 0, 'a');
	struct ct_event ev, got;
	unsigned char *buf;
	size_t len;

	full_event(&ev, CT_KIND_EXEC, CT_SOURCE_LIBC);
	ev.argv_in = av;
	ev.present &= ~CT_F_ARGV_DROPPED;
	buf = encode(&ev, &len);
	assert_true(len <= CT_RECORD_MAX);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.argc, CT_ARGV_BYTES_MAX / 2);
	assert_int_equal(got.argv_dropped, 100000 - CT_ARGV_BYTES_MAX / 2);
	free(buf);
	free_argv(av);
}

static void test_codec__path_cut(void **state)
{
	static char big[CT_PATH_MAX + 100];
	struct ct_event ev, got;
	unsigned char *buf;
	size_t len, i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	golden_open_event(&ev);
	ev.present |= CT_F_PATH2 | CT_F_CWD;
	ev.path.p = big;
	ev.path.len = sizeof(big);
	ev.path2.p = big;
	ev.path2.len = CT_PATH_MAX; /* exactly at the limit: kept whole */
	ev.cwd.p = big;
	ev.cwd.len = CT_PATH_MAX + 1;
	buf = encode(&ev, &len);
	assert_int_equal(ct_event_decode(buf, len, &got), 0);
	assert_int_equal(got.path.len, CT_PATH_MAX);
	assert_memory_equal(got.path.p, big, CT_PATH_MAX);
	assert_int_equal(got.path2.len, CT_PATH_MAX);
	assert_int_equal(got.cwd.len, CT_PATH_MAX);
	free(buf);
}

/* Every bytes field at its cut, argv at its budget, every int at its
 * widest: the record still fits CT_RECORD_MAX. */
static void test_codec__worst_case_fits_record_max(void **state)
{
	static char big[CT_PATH_MAX * 2];
	char **av = make_argv(40000, 0, 'a');
	struct ct_bytes b = { big, sizeof(big) };
	struct ct_event ev;
	size_t n;

	memset(big, 'p', sizeof(big));
	full_event(&ev, CT_KIND_SPAWN, CT_SOURCE_LIBC);
	ev.path = ev.path2 = ev.exe = ev.addr = ev.reason = ev.cwd = b;
	ev.ts = ev.pstart = ev.parent_start = UINT64_MAX;
	ev.result = INT64_MIN;
	ev.pid = ev.tid = ev.ppid = ev.fd = ev.reporter = INT32_MIN;
	ev.exit_code = ev.signal = INT32_MIN;
	ev.flags = ev.mode = UINT32_MAX;
	ev.argv_dropped = UINT32_MAX;
	ev.argv_in = av;
	n = ct_event_size(&ev);
	assert_true(n > 6 * CT_PATH_MAX + CT_ARGV_BYTES_MAX - 16);
	assert_true(n <= CT_RECORD_MAX);
	free_argv(av);
}

/* ---- encoder buffer handling ---- */

static void test_codec__size_equals_encode(void **state)
{
	char **av = make_argv(300, 200, 'a');
	struct ct_event evs[5];
	unsigned i;

	golden_open_event(&evs[0]);
	golden_exec_event(&evs[1]);
	golden_ints_event(&evs[2]);
	full_event(&evs[3], CT_KIND_START, CT_SOURCE_LOADER);
	full_event(&evs[4], CT_KIND_EXEC, CT_SOURCE_SECCOMP);
	evs[4].argv_in = av;
	for (i = 0; i < 5; i++) {
		size_t n = ct_event_size(&evs[i]);
		unsigned char *buf = malloc(n + 64);

		assert_int_equal(ct_event_encode(&evs[i], buf, n + 64),
				 (ssize_t)n);
		free(buf);
	}
	free_argv(av);
}

static void test_codec__encode_too_small(void **state)
{
	struct ct_event ev;
	unsigned char buf[512];
	size_t n, cap, i;

	full_event(&ev, CT_KIND_RENAME, CT_SOURCE_LIBC);
	n = ct_event_size(&ev);
	assert_true(n + 16 < sizeof(buf));
	for (cap = 0; cap < n; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		assert_int_equal(ct_event_encode(&ev, buf, cap), CT_E2BIG);
		for (i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xa5);
	}
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ct_event_encode(&ev, buf, n), (ssize_t)n);
	for (i = n; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);
}

/* ---- hostile input ---- */

static int decode_exact(const unsigned char *p, size_t n, struct ct_event *ev)
{
	unsigned char *copy = dup_bytes(p, n);
	int ret = ct_event_decode(copy, n, ev);

	free(copy);
	return ret;
}

static void test_codec__every_prefix(void **state)
{
	const unsigned char *recs[] = { golden_open, golden_exec, golden_ints };
	const size_t lens[] = { sizeof(golden_open), sizeof(golden_exec),
				sizeof(golden_ints) };
	struct ct_event ev;
	unsigned r;
	size_t n;

	for (r = 0; r < 3; r++) {
		for (n = 0; n < lens[r]; n++) {
			int ret = decode_exact(recs[r], n, &ev);

			/* a record cut anywhere is cut, never malformed */
			assert_int_equal(ret, CT_ETRUNC);
		}
		assert_int_equal(decode_exact(recs[r], lens[r], &ev), 0);
	}
}

/* Pointers of a decoded event stay inside the input. */
static void expect_inside(const struct ct_bytes *b, const unsigned char *buf,
			  size_t len)
{
	if (!b->len)
		return;
	assert_true((const unsigned char *)b->p >= buf);
	assert_true((const unsigned char *)b->p + b->len <= buf + len);
}

/* Re-encode a decoded event and check the result decodes to the same. */
static void expect_consistent(const struct ct_event *got,
			      const unsigned char *buf, size_t len)
{
	static struct ct_bytes args[CT_ARGV_BYTES_MAX];
	struct ct_event again, back;
	unsigned char *out;
	char **av = NULL;
	uint32_t n = 0, i;
	size_t olen;

	expect_inside(&got->path, buf, len);
	expect_inside(&got->path2, buf, len);
	expect_inside(&got->exe, buf, len);
	expect_inside(&got->addr, buf, len);
	expect_inside(&got->reason, buf, len);
	expect_inside(&got->cwd, buf, len);
	expect_inside(&got->argv_raw, buf, len);
	assert_true(got->kind >= 1 && got->kind < CT_KIND__COUNT);
	assert_true(got->source >= 1 && got->source < CT_SOURCE__COUNT);
	assert_true(got->err >= 0 && got->err <= 4095);
	assert_true(got->existed <= 1);

	again = *got;
	if (got->present & CT_F_ARGV) {
		n = argv_of(got, args, CT_ARGV_BYTES_MAX);
		av = calloc(n + 1, sizeof(*av));
		for (i = 0; i < n; i++) {
			av[i] = calloc(1, args[i].len + 1);
			memcpy(av[i], args[i].p, args[i].len);
		}
		again.argv_in = av;
	}
	out = encode(&again, &olen);
	assert_int_equal(ct_event_decode(out, olen, &back), 0);
	expect_same(got, &back, got->present);
	if (got->present & CT_F_ARGV)
		assert_int_equal(back.argc, got->argc);
	free(out);
	if (av)
		free_argv(av);
}

/* Flip every byte of each golden record to every other value. */
static void test_codec__every_mutation(void **state)
{
	const unsigned char *recs[] = { golden_open, golden_exec, golden_ints };
	const size_t lens[] = { sizeof(golden_open), sizeof(golden_exec),
				sizeof(golden_ints) };
	unsigned r, v, accepted = 0, rejected = 0;
	struct ct_event ev;
	size_t pos;

	for (r = 0; r < 3; r++) {
		for (pos = 0; pos < lens[r]; pos++) {
			for (v = 0; v < 256; v++) {
				unsigned char *m;
				int ret;

				if (v == recs[r][pos])
					continue;
				m = dup_bytes(recs[r], lens[r]);
				m[pos] = (unsigned char)v;
				ret = ct_event_decode(m, lens[r], &ev);
				if (ret == 0) {
					expect_consistent(&ev, m, lens[r]);
					accepted++;
				} else {
					assert_true(ret == CT_ETRUNC ||
						    ret == CT_EFORMAT ||
						    ret == CT_EVERSION);
					rejected++;
				}
				free(m);
			}
		}
	}
	/* both outcomes happen: values change, structure breaks */
	assert_true(accepted > 100);
	assert_true(rejected > 1000);
}

static void test_codec__trailing_bytes(void **state)
{
	unsigned char buf[sizeof(golden_open) + 1];
	struct ct_event ev;

	memcpy(buf, golden_open, sizeof(golden_open));
	buf[sizeof(golden_open)] = 0x00;
	assert_int_equal(decode_exact(buf, sizeof(buf), &ev), CT_EFORMAT);
	buf[sizeof(golden_open)] = 0xc0;
	assert_int_equal(decode_exact(buf, sizeof(buf), &ev), CT_EFORMAT);
}

static void test_codec__hostile_headers(void **state)
{
	/* array32 claiming 2^32-1 elements, in 5 bytes */
	static const unsigned char arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	/* a good header, then a map32 claiming 2^32-1 entries */
	unsigned char map32[sizeof(golden_open)];
	/* a path bin32 claiming 4 GiB */
	unsigned char bin32[64];
	/* argv array32 claiming 2^32-1 elements */
	unsigned char argv32[64];
	struct ct_event ev;
	struct timespec t0, t1;
	size_t hdr = 31; /* golden_open up to and including err */

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(decode_exact(arr32, sizeof(arr32), &ev), CT_ETRUNC);

	memcpy(map32, golden_open, hdr);
	memcpy(map32 + hdr, "\xdf\xff\xff\xff\xff", 5);
	assert_int_equal(decode_exact(map32, hdr + 5, &ev), CT_ETRUNC);

	memcpy(bin32, golden_open, hdr);
	memcpy(bin32 + hdr, "\x81\x01\xc6\xff\xff\xff\xff/tmp", 11);
	assert_int_equal(decode_exact(bin32, hdr + 11, &ev), CT_ETRUNC);

	memcpy(argv32, golden_open, hdr);
	memcpy(argv32 + hdr, "\x81\x05\xdd\xff\xff\xff\xff\xc4\x00", 9);
	assert_int_equal(decode_exact(argv32, hdr + 9, &ev), CT_ETRUNC);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* rejected from the header alone: far under a second */
	assert_true(t1.tv_sec - t0.tv_sec < 2);
}

/* Replace golden_open's map (after byte hdr) with tail. */
static int decode_with_map(const char *tail, size_t tail_len)
{
	unsigned char buf[128];
	struct ct_event ev;
	size_t hdr = 31;

	memcpy(buf, golden_open, hdr);
	memcpy(buf + hdr, tail, tail_len);
	return decode_exact(buf, hdr + tail_len, &ev);
}

static void test_codec__tags(void **state)
{
	/* sanity: the splice itself works */
	assert_int_equal(decode_with_map("\x82\x03\x01\x04\x02", 5), 0);
	assert_int_equal(decode_with_map("\x80", 1), 0);
	/* unknown tags: 0 and 17 */
	assert_int_equal(decode_with_map("\x81\x00\x01", 3), CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x11\x01", 3), CT_EFORMAT);
	/* a tag that is not an int */
	assert_int_equal(decode_with_map("\x81\xa1x\x01", 4), CT_EFORMAT);
	/* duplicate and decreasing */
	assert_int_equal(decode_with_map("\x82\x03\x01\x03\x02", 5),
			 CT_EFORMAT);
	assert_int_equal(decode_with_map("\x82\x04\x01\x03\x02", 5),
			 CT_EFORMAT);
	/* the map is not a map */
	assert_int_equal(decode_with_map("\x90", 1), CT_EFORMAT);
}

static void test_codec__field_types_and_ranges(void **state)
{
	/* flags must be a uint that fits 32 bits */
	assert_int_equal(decode_with_map("\x81\x03\xff", 3), CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x03\xcf\0\0\0\1\0\0\0\0", 11),
			 CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x03\xce\xff\xff\xff\xff", 7), 0);
	/* path must be bytes, within CT_PATH_MAX */
	assert_int_equal(decode_with_map("\x81\x01\x05", 3), CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x01\xa2/x", 5), 0); /* str ok */
	/* existed is 0 or 1 */
	assert_int_equal(decode_with_map("\x81\x10\x02", 3), CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x10\xc3", 3), CT_EFORMAT);
	/* fd fits int32 */
	assert_int_equal(decode_with_map("\x81\x0e\xd3\xff\xff\xff\xff\x7f"
					 "\xff\xff\xff",
					 11),
			 CT_EFORMAT);
	/* argv is an array of NUL-free bytes */
	assert_int_equal(decode_with_map("\x81\x05\xc4\x00", 4), CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x05\x91\x01", 4), CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x05\x91\xc4\x03"
					 "a\0b",
					 8),
			 CT_EFORMAT);
	assert_int_equal(decode_with_map("\x81\x05\x92\xc4\x00\xa1z", 7), 0);

	{
		static unsigned char big[48 + CT_PATH_MAX + 1];
		struct ct_event ev;

		/* a path one byte over the limit */
		memcpy(big, golden_open, 31);
		memcpy(big + 31, "\x81\x01\xc5\x10\x01", 5);
		memset(big + 36, 'p', CT_PATH_MAX + 1);
		assert_int_equal(decode_exact(big, 36 + CT_PATH_MAX + 1, &ev),
				 CT_EFORMAT);
		big[34] = 0x10;
		big[35] = 0x00;
		assert_int_equal(decode_exact(big, 36 + CT_PATH_MAX, &ev), 0);
	}
}

/* Overwrite one top-level element of golden_open (at off, old size n). */
static int decode_patched(size_t off, size_t n, const char *with, size_t wn)
{
	unsigned char buf[128];
	struct ct_event ev;
	size_t len = sizeof(golden_open);

	memcpy(buf, golden_open, off);
	memcpy(buf + off, with, wn);
	memcpy(buf + off + wn, golden_open + off + n, len - off - n);
	return decode_exact(buf, len - n + wn, &ev);
}

static void test_codec__header_checks(void **state)
{
	/* offsets in golden_open: 0 array, 1 version, 2 kind, 3 source,
	 * 4 ts (9), 13 pid (3), 16 tid (3), 19 ppid, 20 pstart (9),
	 * 29 result, 30 err */
	assert_int_equal(decode_patched(1, 1, "\x02", 1), CT_EVERSION);
	assert_int_equal(decode_patched(1, 1, "\x00", 1), CT_EVERSION);
	assert_int_equal(decode_patched(1, 1, "\xa1\x31", 2), CT_EFORMAT);
	/* version 1 with 12 fields is malformed; 12 fields of version 2 are
	 * a version problem */
	assert_int_equal(decode_patched(0, 1, "\x9c", 1), CT_EFORMAT);
	{
		unsigned char buf[128];
		struct ct_event ev;

		memcpy(buf, golden_open, sizeof(golden_open));
		buf[0] = 0x9c;
		buf[sizeof(golden_open)] = 0xc0;
		assert_int_equal(
			decode_exact(buf, sizeof(golden_open) + 1, &ev),
			CT_EFORMAT);
		buf[1] = 0x02;
		assert_int_equal(
			decode_exact(buf, sizeof(golden_open) + 1, &ev),
			CT_EVERSION);
	}
	assert_int_equal(decode_patched(0, 1, "\x90", 1), CT_EFORMAT);
	assert_int_equal(decode_patched(0, 1, "\x8b", 1), CT_EFORMAT);
	/* kind 0 and 18, source 0 and 7 */
	assert_int_equal(decode_patched(2, 1, "\x00", 1), CT_EFORMAT);
	assert_int_equal(decode_patched(2, 1, "\x12", 1), CT_EFORMAT);
	assert_int_equal(decode_patched(2, 1, "\x11", 1), 0);
	assert_int_equal(decode_patched(3, 1, "\x00", 1), CT_EFORMAT);
	assert_int_equal(decode_patched(3, 1, "\x07", 1), CT_EFORMAT);
	assert_int_equal(decode_patched(3, 1, "\x06", 1), 0);
	/* pid must fit int32 */
	assert_int_equal(decode_patched(13, 3, "\xce\x80\0\0\0", 5),
			 CT_EFORMAT);
	assert_int_equal(decode_patched(13, 3, "\xce\x7f\xff\xff\xff", 5), 0);
	/* ts must not be negative */
	assert_int_equal(decode_patched(4, 9, "\xff", 1), CT_EFORMAT);
	/* result: a uint64 above INT64_MAX does not fit */
	assert_int_equal(decode_patched(29, 1, "\xcf\x80\0\0\0\0\0\0\0", 9),
			 CT_EFORMAT);
	/* err within 0..4095 */
	assert_int_equal(decode_patched(30, 1, "\xcd\x10\x00", 3), CT_EFORMAT);
	assert_int_equal(decode_patched(30, 1, "\xff", 1), CT_EFORMAT);
	/* non-canonical but valid encodings are accepted */
	assert_int_equal(decode_patched(2, 1, "\xcd\x00\x06", 3), 0);
	assert_int_equal(decode_patched(19, 1, "\xd2\0\0\0\1", 5), 0);
}

/* ---- argv iteration ---- */

static void test_codec__strv_next(void **state)
{
	/* with and without the array header */
	static const char elems[] = "\xc4\x02ls\xa2-l\xc4\x00";
	static const char witharr[] = "\x93\xc4\x02ls\xa2-l\xc4\x00";
	struct ct_bytes raw = { elems, sizeof(elems) - 1 };
	struct ct_bytes rawa = { witharr, sizeof(witharr) - 1 };
	struct ct_bytes b;
	uint32_t idx = 0, off = 0;

	assert_int_equal(ct_strv_next(raw, 3, &idx, &off, &b), 1);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.p, "ls", 2);
	assert_int_equal(ct_strv_next(raw, 3, &idx, &off, &b), 1);
	assert_memory_equal(b.p, "-l", 2);
	assert_int_equal(ct_strv_next(raw, 3, &idx, &off, &b), 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(ct_strv_next(raw, 3, &idx, &off, &b), 0);

	idx = off = 0;
	assert_int_equal(ct_strv_next(rawa, 3, &idx, &off, &b), 1);
	assert_memory_equal(b.p, "ls", 2);
	idx = off = 0;
	assert_int_equal(ct_strv_next(rawa, 2, &idx, &off, &b), CT_EFORMAT);

	/* claims more elements than it holds */
	idx = off = 0;
	raw.len = 4;
	assert_int_equal(ct_strv_next(raw, 2, &idx, &off, &b), 1);
	assert_int_equal(ct_strv_next(raw, 2, &idx, &off, &b), CT_EFORMAT);
	/* offset past the end */
	idx = 0;
	off = 99;
	assert_int_equal(ct_strv_next(raw, 2, &idx, &off, &b), CT_EFORMAT);
	/* an empty argv */
	raw.p = NULL;
	raw.len = 0;
	idx = off = 0;
	assert_int_equal(ct_strv_next(raw, 0, &idx, &off, &b), 0);
}

/* ---- mpread ---- */

static void test_codec__mpread_ints(void **state)
{
	static const struct {
		const char *bytes;
		size_t n;
		int64_t v;
	} ints[] = {
		{ "\x00", 1, 0 },
		{ "\x7f", 1, 127 },
		{ "\xe0", 1, -32 },
		{ "\xff", 1, -1 },
		{ "\xcc\xff", 2, 255 },
		{ "\xcd\xff\xff", 3, 65535 },
		{ "\xce\xff\xff\xff\xff", 5, 4294967295ll },
		{ "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, INT64_MAX },
		{ "\xd0\x80", 2, -128 },
		{ "\xd1\x80\x00", 3, -32768 },
		{ "\xd2\x80\x00\x00\x00", 5, INT32_MIN },
		{ "\xd3\x80\0\0\0\0\0\0\0", 9, INT64_MIN },
		{ "\xd0\x05", 2, 5 },
	};
	struct ct_mpr r;
	unsigned i;
	int64_t v;
	uint64_t u;
	bool bv;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		ct_mpr_init(&r, ints[i].bytes, ints[i].n);
		assert_int_equal(ct_mpr_int(&r, &v), 0);
		assert_true(v == ints[i].v);
		assert_int_equal(ct_mpr_left(&r), 0);

		ct_mpr_init(&r, ints[i].bytes, ints[i].n);
		if (ints[i].v < 0) {
			assert_int_equal(ct_mpr_uint(&r, &u), CT_EFORMAT);
			/* failure leaves the cursor, error is sticky */
			assert_int_equal(ct_mpr_left(&r), ints[i].n);
			assert_int_equal(ct_mpr_int(&r, &v), CT_EFORMAT);
		} else {
			assert_int_equal(ct_mpr_uint(&r, &u), 0);
			assert_true(u == (uint64_t)ints[i].v);
		}
		/* every prefix is truncated */
		if (ints[i].n > 1) {
			ct_mpr_init(&r, ints[i].bytes, ints[i].n - 1);
			assert_int_equal(ct_mpr_int(&r, &v), CT_ETRUNC);
			assert_int_equal(ct_mpr_left(&r), ints[i].n - 1);
		}
	}
	ct_mpr_init(&r, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	assert_int_equal(ct_mpr_int(&r, &v), CT_EFORMAT);
	ct_mpr_init(&r, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	assert_int_equal(ct_mpr_uint(&r, &u), 0);
	assert_true(u == UINT64_MAX);
	ct_mpr_init(&r, "\xc0", 1);
	assert_int_equal(ct_mpr_int(&r, &v), CT_EFORMAT);

	ct_mpr_init(&r, "\xc0\xc3\xc2\x01", 4);
	assert_true(ct_mpr_peek_nil(&r));
	assert_int_equal(ct_mpr_nil(&r), 0);
	assert_false(ct_mpr_peek_nil(&r));
	assert_int_equal(ct_mpr_bool(&r, &bv), 0);
	assert_true(bv);
	assert_int_equal(ct_mpr_bool(&r, &bv), 0);
	assert_false(bv);
	assert_int_equal(ct_mpr_bool(&r, &bv), CT_EFORMAT);
	assert_int_equal(ct_mpr_nil(&r), CT_EFORMAT);
	ct_mpr_init(&r, "", 0);
	assert_int_equal(ct_mpr_nil(&r), CT_ETRUNC);
}

static void test_codec__mpread_bytes_and_containers(void **state)
{
	static const char data[] = "\xa3"
				   "abc"
				   "\xd9\x01z"
				   "\xda\x00\x01y"
				   "\xdb\x00\x00\x00\x01x"
				   "\xc4\x01w"
				   "\xc5\x00\x01v"
				   "\xc6\x00\x00\x00\x01u";
	const char want[] = "zyxwvu";
	struct ct_mpr r;
	struct ct_bytes b;
	uint32_t n;
	unsigned i;

	ct_mpr_init(&r, data, sizeof(data) - 1);
	assert_int_equal(ct_mpr_bytes(&r, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "abc", 3);
	for (i = 0; i < 6; i++) {
		assert_int_equal(ct_mpr_bytes(&r, &b), 0);
		assert_int_equal(b.len, 1);
		assert_int_equal(b.p[0], want[i]);
	}
	assert_int_equal(ct_mpr_left(&r), 0);

	ct_mpr_init(&r, "\xdc\x00\x02\x01\x02", 5);
	assert_int_equal(ct_mpr_array(&r, &n), 0);
	assert_int_equal(n, 2);
	ct_mpr_init(&r, "\xdc\x00\x03\x01\x02", 5);
	assert_int_equal(ct_mpr_array(&r, &n), CT_ETRUNC);
	ct_mpr_init(&r, "\xde\x00\x01\x01\x02", 5);
	assert_int_equal(ct_mpr_map(&r, &n), 0);
	assert_int_equal(n, 1);
	ct_mpr_init(&r, "\x81\x01", 2); /* a map entry needs two bytes */
	assert_int_equal(ct_mpr_map(&r, &n), CT_ETRUNC);
	ct_mpr_init(&r, "\x91\x01", 2);
	assert_int_equal(ct_mpr_map(&r, &n), CT_EFORMAT);
	assert_int_equal(ct_mpr_left(&r), 2);
}

static void test_codec__mpread_skip(void **state)
{
	/* {1: [nil, true, 1.5f, "s", bin "b", ext8, fixext4], -1: 2.0} then
	 * a marker */
	static const char v[] = "\x82"
				"\x01\x97\xc0\xc3\xca\x3f\xc0\x00\x00\xa1s"
				"\xc4\x01"
				"b"
				"\xc7\x02\x05xy"
				"\xd6\x01wxyz"
				"\xff\xcb\x40\0\0\0\0\0\0\0"
				"\x2a";
	unsigned char deep[40];
	struct ct_mpr r;
	uint64_t u;
	unsigned i;

	ct_mpr_init(&r, v, sizeof(v) - 1);
	assert_int_equal(ct_mpr_skip(&r), 0);
	assert_int_equal(ct_mpr_uint(&r, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(ct_mpr_left(&r), 0);

	/* every prefix is truncated and leaves the cursor alone */
	for (i = 0; i < sizeof(v) - 2; i++) {
		ct_mpr_init(&r, v, i);
		assert_int_equal(ct_mpr_skip(&r), CT_ETRUNC);
		assert_int_equal(ct_mpr_left(&r), i);
	}
	/* 0xc1 is never used */
	ct_mpr_init(&r, "\x91\xc1", 2);
	assert_int_equal(ct_mpr_skip(&r), CT_EFORMAT);

	/* nesting: 32 levels are fine, 33 are not */
	memset(deep, 0x91, sizeof(deep));
	deep[32] = 0x00;
	ct_mpr_init(&r, deep, 33);
	assert_int_equal(ct_mpr_skip(&r), 0);
	deep[32] = 0x91;
	deep[33] = 0x00;
	ct_mpr_init(&r, deep, 34);
	assert_int_equal(ct_mpr_skip(&r), CT_EFORMAT);
}

/* ---- names ---- */

static void test_codec__kind_and_source_names(void **state)
{
	unsigned k;

	assert_string_equal(ct_kind_name(CT_KIND_OPEN), "open");
	assert_string_equal(ct_kind_name(CT_KIND_GAP), "gap");
	assert_null(ct_kind_name(0));
	assert_null(ct_kind_name(CT_KIND__COUNT));
	assert_string_equal(ct_source_name(CT_SOURCE_LIBC), "libc");
	assert_string_equal(ct_source_name(CT_SOURCE_LOADER), "loader");
	assert_null(ct_source_name(0));
	assert_null(ct_source_name(CT_SOURCE__COUNT));
	for (k = 1; k < CT_KIND__COUNT; k++) {
		const char *n = ct_kind_name(k);

		assert_non_null(n);
		assert_int_equal(ct_kind_from_name(n, strlen(n)), k);
	}
	assert_int_equal(ct_kind_from_name("ope", 3), 0);
	assert_int_equal(ct_kind_from_name("opens", 5), 0);
	assert_int_equal(ct_kind_from_name("open\0", 5), 0);
	assert_int_equal(ct_kind_from_name("openx", 4), CT_KIND_OPEN);
	assert_int_equal(ct_kind_from_name(NULL, 0), 0);
}

static void test_codec__errno_names(void **state)
{
	int e, named = 0;

	assert_string_equal(ct_errno_name(ENOENT), "ENOENT");
	assert_string_equal(ct_errno_name(EPERM), "EPERM");
	assert_string_equal(ct_errno_name(EACCES), "EACCES");
	assert_string_equal(ct_errno_name(EWOULDBLOCK), "EAGAIN");
	assert_string_equal(ct_errno_name(ENOTSUP), "EOPNOTSUPP");
	assert_string_equal(ct_errno_name(EHWPOISON), "EHWPOISON");
	assert_string_equal(ct_errno_name(EXDEV), "EXDEV");
	assert_null(ct_errno_name(0));
	assert_null(ct_errno_name(-1));
	assert_null(ct_errno_name(41)); /* a hole in Linux's numbering */
	assert_null(ct_errno_name(4095));
	assert_null(ct_errno_name(1 << 30));
	/* Linux numbers 1..133 with two holes (41, 58) */
	for (e = 1; e <= EHWPOISON; e++) {
		const char *n = ct_errno_name(e);

		if (!n)
			continue;
		named++;
		assert_int_equal(n[0], 'E');
	}
	assert_int_equal(named, EHWPOISON - 2);
}

static void expect_flags(uint32_t flags, const char *want)
{
	char buf[512];
	size_t n = ct_open_flags_str(flags, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_codec__open_flags(void **state)
{
	char small[8];
	size_t n;

	expect_flags(0, "O_RDONLY");
	expect_flags(O_WRONLY | O_CREAT | O_TRUNC, "O_WRONLY|O_CREAT|O_TRUNC");
	expect_flags(O_RDWR | O_APPEND | O_CLOEXEC,
		     "O_RDWR|O_APPEND|O_CLOEXEC");
	expect_flags(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		     "O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC");
	/* composites: O_SYNC holds O_DSYNC's bit, O_TMPFILE O_DIRECTORY's */
	expect_flags(O_WRONLY | O_SYNC, "O_WRONLY|O_SYNC");
	expect_flags(O_WRONLY | O_DSYNC, "O_WRONLY|O_DSYNC");
	expect_flags(O_RDWR | O_TMPFILE | O_EXCL, "O_RDWR|O_EXCL|O_TMPFILE");
	expect_flags(O_PATH | O_NOATIME, "O_RDONLY|O_NOATIME|O_PATH");
	expect_flags(O_EXCL | O_NOCTTY | O_NONBLOCK | O_DIRECT,
		     "O_RDONLY|O_EXCL|O_NOCTTY|O_NONBLOCK|O_DIRECT");
#if defined(__x86_64__)
	expect_flags(0100000, "O_RDONLY|O_LARGEFILE");
#endif
	/* unknown bits as hex; access mode 3 is not a mode */
	expect_flags(O_WRONLY | 0x40000000u, "O_WRONLY|0x40000000");
	expect_flags(3, "0x3");
	expect_flags(3 | O_CREAT, "O_CREAT|0x3");

	/* truncation: NUL-terminated, returns the length it wanted */
	n = ct_open_flags_str(O_WRONLY | O_CREAT, small, sizeof(small));
	assert_int_equal(n, strlen("O_WRONLY|O_CREAT"));
	assert_string_equal(small, "O_WRONL");
	memset(small, 'x', sizeof(small));
	assert_int_equal(ct_open_flags_str(0, small, 0), 8);
	assert_int_equal(small[0], 'x');
	assert_int_equal(ct_open_flags_str(0, small, 1), 8);
	assert_int_equal(small[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec__golden_open),
		cmocka_unit_test(test_codec__golden_exec),
		cmocka_unit_test(test_codec__golden_ints),
		cmocka_unit_test(test_codec__golden_open_ring),
		cmocka_unit_test(test_codec__roundtrip_every_kind),
		cmocka_unit_test(test_codec__roundtrip_each_field),
		cmocka_unit_test(test_codec__unknown_present_bits_ignored),
		cmocka_unit_test(test_codec__argv_truncated),
		cmocka_unit_test(test_codec__argv_budget_edge),
		cmocka_unit_test(test_codec__argv_empty_strings_bounded),
		cmocka_unit_test(test_codec__path_cut),
		cmocka_unit_test(test_codec__worst_case_fits_record_max),
		cmocka_unit_test(test_codec__size_equals_encode),
		cmocka_unit_test(test_codec__encode_too_small),
		cmocka_unit_test(test_codec__every_prefix),
		cmocka_unit_test(test_codec__every_mutation),
		cmocka_unit_test(test_codec__trailing_bytes),
		cmocka_unit_test(test_codec__hostile_headers),
		cmocka_unit_test(test_codec__tags),
		cmocka_unit_test(test_codec__field_types_and_ranges),
		cmocka_unit_test(test_codec__header_checks),
		cmocka_unit_test(test_codec__strv_next),
		cmocka_unit_test(test_codec__mpread_ints),
		cmocka_unit_test(test_codec__mpread_bytes_and_containers),
		cmocka_unit_test(test_codec__mpread_skip),
		cmocka_unit_test(test_codec__kind_and_source_names),
		cmocka_unit_test(test_codec__errno_names),
		cmocka_unit_test(test_codec__open_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
