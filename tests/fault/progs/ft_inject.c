/* Hostile ring input: attaches to the ring of the session it runs in
 * ($CTRACE_RING) as a second producer and commits records no shim would
 * write, waiting after each kind until the collector has taken it:
 *   - 5 records of random bytes (fail to decode: counted lost),
 *   - 1 empty record,
 *   - 1 msgpack array that is not an event,
 *   - then it forges an impossible header (length 3) after a claim,
 *     which makes the collector reset the ring (counted lost).
 * Then it unlinks DIR/after.N for N in 0..99 through libc (the shim
 * records them): all of them must be stored.
 *
 * ft_inject DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ring.h"

static void wait_empty(struct ct_ring *r)
{
	for (int i = 0; i < 5000 && !ct_ring_empty(r); i++)
		usleep(1000);
}

static void put(struct ct_ring *r, const void *p, uint32_t n)
{
	struct ct_ring_claim c;
	void *dst = ct_ring_reserve(r, n, getpid(), &c);

	if (!dst) {
		fprintf(stderr, "FAIL: reserve\n");
		exit(1);
	}
	memcpy(dst, p, n);
	ct_ring_commit(r, &c);
}

int main(int argc, char **argv)
{
	const char *path = getenv("CTRACE_RING");
	unsigned char junk[300];
	struct ct_ring r;
	char name[4096];

	if (argc != 2 || !path) {
		fprintf(stderr, "usage: CTRACE_RING=... ft_inject DIR\n");
		return 2;
	}
	if (ct_ring_attach(path, &r) != 0) {
		fprintf(stderr, "FAIL: attach %s\n", path);
		return 1;
	}
	srand((unsigned)time(NULL));
	for (int i = 0; i < 5; i++) {
		for (size_t j = 0; j < sizeof(junk); j++)
			junk[j] = (unsigned char)rand();
		junk[0] = 0xc1; /* never valid msgpack */
		put(&r, junk, (uint32_t)(50 + i * 40));
	}
	put(&r, junk, 0);
	static const unsigned char arr[] = { 0x93, 0x01, 0x02, 0xa1, 'x' };
	put(&r, arr, sizeof(arr));
	wait_empty(&r);

	/* An impossible header: claim, then overwrite our own header with a
	 * committed length of 3 (less than the header itself). */
	struct ct_ring_claim c;
	void *p = ct_ring_reserve(&r, 16, getpid(), &c);
	if (!p)
		return 1;
	uint64_t bad = (uint64_t)getpid() << 32 | 3u;
	__atomic_store_n((uint64_t *)((char *)p - 8), bad, __ATOMIC_RELEASE);
	wait_empty(&r);
	ct_ring_detach(&r);

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%s/after.%d", argv[1], i);
		unlink(name);
	}
	printf("injected\n");
	return 0;
}
