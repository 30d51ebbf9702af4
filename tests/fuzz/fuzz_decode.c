/* libFuzzer target: ct_event_decode on arbitrary bytes.
 *
 * Anything the decoder accepts must survive a round trip: re-encoding the
 * decoded event and decoding that again gives the same fields, and a
 * second re-encode gives the same bytes (the encoder is canonical, so a
 * decoded event has exactly one encoding).  The decoder rejects what the
 * encoder would change (paths over CT_PATH_MAX, argv over its budget or
 * with NUL bytes), so no cut may happen on the way back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/error.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static void same_bytes(struct ct_bytes a, struct ct_bytes b)
{
	CHECK(a.len == b.len);
	CHECK(a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void inside(struct ct_bytes b, const uint8_t *buf, size_t len)
{
	if (!b.len)
		return;
	CHECK((const uint8_t *)b.p >= buf);
	CHECK((const uint8_t *)b.p + b.len <= buf + len);
}

static void same_event(const struct ct_event *a, const struct ct_event *b)
{
	uint32_t ia = 0, oa = 0, ib = 0, ob = 0;
	struct ct_bytes x, y;
	int ra, rb;

	CHECK(a->present == b->present);
	CHECK(a->kind == b->kind && a->source == b->source);
	CHECK(a->ts == b->ts && a->pstart == b->pstart);
	CHECK(a->pid == b->pid && a->tid == b->tid && a->ppid == b->ppid);
	CHECK(a->result == b->result && a->err == b->err);
	CHECK(a->flags == b->flags && a->mode == b->mode);
	CHECK(a->exit_code == b->exit_code && a->signal == b->signal);
	CHECK(a->fd == b->fd && a->reporter == b->reporter);
	CHECK(a->parent_start == b->parent_start);
	CHECK(a->argv_dropped == b->argv_dropped);
	CHECK(a->existed == b->existed);
	same_bytes(a->path, b->path);
	same_bytes(a->path2, b->path2);
	same_bytes(a->exe, b->exe);
	same_bytes(a->addr, b->addr);
	same_bytes(a->reason, b->reason);
	same_bytes(a->cwd, b->cwd);
	CHECK(a->argc == b->argc);
	for (;;) {
		ra = ct_strv_next(a->argv_raw, a->argc, &ia, &oa, &x);
		rb = ct_strv_next(b->argv_raw, b->argc, &ib, &ob, &y);
		CHECK(ra == rb);
		if (ra != 1)
			break;
		same_bytes(x, y);
	}
	CHECK(ra == 0);
}

/* Encode ev (argv taken from its argv_raw) into a fresh, exactly sized
 * buffer. */
static uint8_t *reencode(const struct ct_event *ev, size_t *len)
{
	struct ct_event in = *ev;
	char **av = NULL;
	uint32_t idx = 0, off = 0, i;
	struct ct_bytes b;
	uint8_t *out;
	ssize_t n;

	if (ev->present & CT_F_ARGV) {
		av = calloc(ev->argc + 1, sizeof(*av));
		CHECK(av);
		while (ct_strv_next(ev->argv_raw, ev->argc, &idx, &off, &b) ==
		       1) {
			av[idx - 1] = calloc(1, b.len + 1);
			CHECK(av[idx - 1]);
			if (b.len)
				memcpy(av[idx - 1], b.p, b.len);
		}
		CHECK(idx == ev->argc);
		in.argv_in = av;
	}
	*len = ct_event_size(&in);
	CHECK(*len <= CT_RECORD_MAX);
	out = malloc(*len ? *len : 1);
	CHECK(out);
	n = ct_event_encode(&in, out, *len);
	CHECK(n == (ssize_t)*len);
	/* one byte short must fail cleanly */
	CHECK(ct_event_encode(&in, out, *len - 1) == CT_E2BIG);
	n = ct_event_encode(&in, out, *len);
	CHECK(n == (ssize_t)*len);
	if (av) {
		for (i = 0; i < ev->argc; i++)
			free(av[i]);
		free(av);
	}
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_event ev, ev2, ev3;
	uint8_t *enc, *enc2;
	size_t len, len2;
	int ret;

	ret = ct_event_decode(data, size, &ev);
	if (ret) {
		CHECK(ret == CT_ETRUNC || ret == CT_EFORMAT ||
		      ret == CT_EVERSION);
		return 0;
	}
	inside(ev.path, data, size);
	inside(ev.path2, data, size);
	inside(ev.exe, data, size);
	inside(ev.addr, data, size);
	inside(ev.reason, data, size);
	inside(ev.cwd, data, size);
	inside(ev.argv_raw, data, size);

	enc = reencode(&ev, &len);
	CHECK(ct_event_decode(enc, len, &ev2) == 0);
	same_event(&ev, &ev2);

	enc2 = reencode(&ev2, &len2);
	CHECK(len2 == len && memcmp(enc, enc2, len) == 0);
	CHECK(ct_event_decode(enc2, len2, &ev3) == 0);
	same_event(&ev2, &ev3);
	free(enc);
	free(enc2);
	return 0;
}
