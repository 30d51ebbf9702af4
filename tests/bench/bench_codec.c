/* ct-bench-codec: the pieces of the hot path timed in one process.
 *
 * usage: ct-bench-codec [ITERS]
 *
 * Prints ns per call, median of 5 reps, for a typical open event
 * (path of 24 bytes, flags, existed):
 *   size         ct_event_size
 *   encode       ct_event_encode into a buffer
 *   emit         size + ring reserve + encode into the slot + commit, with
 *                a consumer draining in the same thread every 1024 records
 *                (how the shim's ct_emit did it before it encoded on
 *                the stack)
 *   emit-stack   what ct_emit does: encode into a 512-byte stack buffer
 *                (no per-field checks when the record surely fits),
 *                reserve the exact length, copy, commit; same draining
 *   decode       ct_event_decode
 * and the record's size in bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/event.h"
#include "common/ring.h"

#define REPS 5

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, REPS, sizeof(v[0]), cmp_double);
	return v[REPS / 2];
}

static void sample_event(struct ct_event *ev)
{
	static const char path[] = "/home/user/src/app/x.txt";

	memset(ev, 0, sizeof(*ev));
	ev->kind = CT_KIND_OPEN;
	ev->source = CT_SOURCE_LIBC;
	ev->ts = 1795300000123456789ull;
	ev->pid = 123456;
	ev->tid = 123457;
	ev->ppid = 123400;
	ev->pstart = 1795300000000000000ull;
	ev->result = 3;
	ev->present = CT_F_PATH | CT_F_FLAGS | CT_F_EXISTED;
	ev->path.p = path;
	ev->path.len = sizeof(path) - 1;
	ev->flags = 0x241;
	ev->existed = 1;
}

static int count(void *arg, const void *rec, uint32_t len)
{
	(void)rec;
	*(uint64_t *)arg += len;
	return 0;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 2000000;
	double t_size[REPS], t_enc[REPS], t_emit[REPS], t_stk[REPS],
		t_dec[REPS];
	unsigned char buf[512];
	char ring_path[] = "/tmp/ct-bench-codec.XXXXXX";
	struct ct_event ev, out;
	struct ct_ring ring;
	volatile size_t sink = 0;
	uint64_t drained = 0;
	ssize_t n;
	int fd;

	if (iters <= 0) {
		fprintf(stderr, "usage: ct-bench-codec [ITERS]\n");
		return 2;
	}
	sample_event(&ev);
	n = ct_event_encode(&ev, buf, sizeof(buf));
	if (n < 0)
		return 1;
	fd = mkstemp(ring_path);
	if (fd < 0)
		return 1;
	close(fd);
	unlink(ring_path);
	if (ct_ring_create(ring_path, 64u << 20, 1, &ring))
		return 1;

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			ev.ts++;
			sink += ct_event_size(&ev);
		}
		t_size[r] = (double)(now_ns() - t0) / (double)iters;

		t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			ev.ts++;
			sink += (size_t)ct_event_encode(&ev, buf, sizeof(buf));
		}
		t_enc[r] = (double)(now_ns() - t0) / (double)iters;

		t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			struct ct_ring_claim c;
			size_t sz;
			void *p;

			ev.ts++;
			sz = ct_event_size(&ev);
			p = ct_ring_reserve(&ring, (uint32_t)sz, 1, &c);
			if (!p)
				return 1;
			ct_event_encode(&ev, p, sz);
			ct_ring_commit(&ring, &c);
			if ((i & 1023) == 1023)
				ct_ring_drain(&ring, count, &drained, 1024);
		}
		ct_ring_drain(&ring, count, &drained, 1 << 20);
		t_emit[r] = (double)(now_ns() - t0) / (double)iters;

		t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			unsigned char small[512];
			struct ct_ring_claim c;
			ssize_t w;
			void *p;

			ev.ts++;
			w = ct_event_encode(&ev, small, sizeof(small));
			if (w < 0)
				return 1;
			p = ct_ring_reserve(&ring, (uint32_t)w, 1, &c);
			if (!p)
				return 1;
			memcpy(p, small, (size_t)w);
			ct_ring_commit(&ring, &c);
			if ((i & 1023) == 1023)
				ct_ring_drain(&ring, count, &drained, 1024);
		}
		ct_ring_drain(&ring, count, &drained, 1 << 20);
		t_stk[r] = (double)(now_ns() - t0) / (double)iters;

		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			sink += (size_t)ct_event_decode(buf, (size_t)n, &out);
		t_dec[r] = (double)(now_ns() - t0) / (double)iters;
	}
	printf("record    %8zd bytes\n", n);
	printf("size      %8.1f ns\n", median(t_size));
	printf("encode    %8.1f ns\n", median(t_enc));
	printf("emit      %8.1f ns  (incl. draining in the same thread)\n",
	       median(t_emit));
	printf("emit-stack %7.1f ns  (same, as ct_emit does it)\n",
	       median(t_stk));
	printf("decode    %8.1f ns\n", median(t_dec));
	ct_ring_detach(&ring);
	unlink(ring_path);
	(void)sink;
	return 0;
}
