/* The shared-memory event ring: many producers (every thread of every
 * traced process), one consumer (the collector in `ctrace run`, or a later
 * ctrace command recovering a ring left behind).  Design and memory orders
 * in docs/ring.md; after Aeron/Agrona's many-to-one ring buffer.
 *
 * A ring is a file in /dev/shm named ctrace-<uid>-<session hex>, mode 0600.
 * Layout: one page of header (struct ct_ring_hdr), then a power-of-two data
 * area.  Records are 8-byte aligned: a header {int32 len; uint32 pid}, then
 * the payload.  A producer claims space by advancing `head` (CAS), writes
 * the header with a negative length, fills the payload, and commits by
 * storing the positive length.  The consumer reads committed records in
 * order, zeroes what it consumed and advances `tail` and `produced`
 * together, through a journal that survives the consumer's death.  A record whose
 * producer died before committing is skipped and counted (`lost_dead`),
 * so a killed producer never stalls the ring.
 */
#ifndef CT_COMMON_RING_H
#define CT_COMMON_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_RING_MAGIC 0x474e495254435443ull /* "CTCTRING" */
#define CT_RING_VERSION 2
#define CT_RING_HDR_SIZE 4096
#define CT_RING_NAME_MAX 64
/* Longest a producer waits for space before it drops the record. */
#define CT_RING_FULL_WAIT_NS 5000000ull
/* A full ring whose tail has not moved for this long has a consumer that
 * is gone or stopped: producers then drop without waiting. */
#define CT_RING_STUCK_NS 200000000ull
/* How long the consumer waits on a claimed but uncommitted record before
 * skipping it: GRACE_DEAD once its claimant pid is gone (ESRCH), GRACE_LONG
 * in any case (a vfork child carries its parent's pid; a claim whose header
 * was never written carries no pid at all).  See docs/ring.md. */
#define CT_RING_GRACE_DEAD_NS 10000000ull
#define CT_RING_GRACE_LONG_NS 2000000000ull

struct ct_ring_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t uid; /* owner; producers of other uids never attach */
	uint64_t data_size; /* bytes in the data area, power of two */
	uint64_t session; /* session id this ring feeds */
	int32_t owner_pid; /* pid of the consumer (ctrace run) */
	uint32_t pad0;
	char _pad1[64 - 40];
	_Alignas(64) _Atomic uint64_t head; /* next byte producers claim */
	_Alignas(64) _Atomic uint64_t tail; /* next byte the consumer reads */
	_Alignas(64) _Atomic uint64_t lost_full; /* dropped: full or closed */
	_Atomic uint64_t lost_dead; /* claimed by a producer that died */
	_Atomic uint64_t lost_big; /* larger than the ring can hold */
	_Atomic uint64_t lost_bad; /* committed but failed to decode */
	_Atomic uint64_t produced; /* records committed (counted by the
				      * consumer as it hands them on) */
	_Atomic uint32_t closed; /* consumer finished; producers drop */
	uint32_t pad2;
	/* The consumer's publish journal (docs/ring.md, "A consumer killed
	 * mid-drain"): before it zeroes consumed bytes and moves tail and
	 * produced, it notes where they go, so that ct_ring_recover() can
	 * finish a publish the consumer was killed in.  jseq is odd while
	 * the note is being written, even (and non-zero) once it is whole. */
	_Alignas(64) _Atomic uint64_t jseq;
	_Atomic uint64_t jtail; /* tail being published */
	_Atomic uint64_t jproduced; /* produced once it is */
	_Atomic uint64_t jdead; /* lost_dead once it is */
	/* The TSC clock (docs/ring.md, "Timestamps"): ns per TSC tick in
	 * 32.32 fixed point, measured by the consumer against
	 * CLOCK_MONOTONIC; 0 until it has been, or when the TSC is not the
	 * kernel's clocksource (then producers read the clock each time). */
	_Alignas(64) _Atomic uint64_t tsc_mult;
};

/* A mapped ring.  Owned by whoever called create/attach. */
struct ct_ring {
	struct ct_ring_hdr *hdr;
	unsigned char *data;
	uint64_t mask; /* data_size - 1 */
	size_t map_len;
	/* Consumer-private (never shared): the stuck record being timed. */
	uint64_t pend_pos; /* its position, or UINT64_MAX for none */
	uint64_t pend_word; /* its header word when first seen */
	uint64_t pend_head; /* head when first seen */
	uint64_t pend_since_ns; /* CLOCK_MONOTONIC when first seen */
	/* Grace times; create/attach set the CT_RING_GRACE_* defaults. */
	uint64_t grace_dead_ns;
	uint64_t grace_long_ns;
	/* Producer-side hint (per mapping, never shared between processes):
	 * tail + 1 when a reserve first gave up on a full ring at that tail
	 * (0: none), and when.  Once tail has stayed there for
	 * CT_RING_STUCK_NS, reserves drop at once instead of waiting: a
	 * consumer that died (ctrace run killed) must not cost the program
	 * CT_RING_FULL_WAIT_NS per event.  docs/ring.md. */
	_Atomic uint64_t stuck_tail;
	_Atomic uint64_t stuck_since_ns;
	/* Producer-side (per mapping): the last page of the data area this
	 * mapping touched, + 1 (0: none yet).  A reserve that lands on
	 * another page reads it before writing: a read fault maps the
	 * neighbouring pages of the file too, a write fault only its own
	 * (docs/ring.md, "Page faults"). */
	_Atomic uint64_t touched_page;
	/* Consumer-private: the data area is allocated up to here (only
	 * during the first lap; then all of it is). */
	uint64_t populated;
	/* Consumer-private: the TSC clock's first sample (clk_on: measuring
	 * and publishing tsc_mult), its last publication, its last check
	 * that the TSC is still the clocksource. */
	bool clk_on;
	uint64_t clk_tsc0, clk_mono0, clk_last, clk_check;
};

/* A claim in progress (producer side).  Lives on the producer's stack. */
struct ct_ring_claim {
	uint64_t pos; /* absolute position of the record header */
	uint32_t len; /* header + payload, rounded up to 8 */
};

/* Build the ring's path "/dev/shm/ctrace-<uid>-<session as 16 hex>" into
 * buf (at least CT_RING_NAME_MAX bytes).  Async-signal-safe. */
void ct_ring_path(char *buf, unsigned uid, uint64_t session);

/* Consumer: create a new ring file (O_EXCL, mode 0600) with a data area of
 * data_size bytes (rounded up to a power of two, minimum 64 KiB), map it.
 * Returns 0 or a negative CT_E* code. */
int ct_ring_create(const char *path, uint64_t data_size, uint64_t session,
		   struct ct_ring *r);

/* Producer (shim) or recovering consumer: map an existing ring.  Verifies
 * magic, version, size and that the file belongs to this uid with mode
 * 0600.  Uses raw syscalls only (open/fstat/mmap/close): no allocation, no
 * hooks re-entered.  The fd is closed before returning, so a program that
 * closes all its fds cannot break the mapping.
 * Context: async-signal-safe. */
int ct_ring_attach(const char *path, struct ct_ring *r);

/* Consumer: measure the TSC's rate and publish it in the header for the
 * producers' clock (tsc_mult), from now on at most once a millisecond in
 * ct_ring_drain(), as long as the kernel's clocksource is the TSC (it is
 * checked now and every second).  Does nothing elsewhere than on x86-64
 * or when the clocksource is another. */
void ct_ring_clock_start(struct ct_ring *r);

/* ns per TSC tick (32.32) as published, or 0. */
static inline uint64_t ct_ring_tsc_mult(const struct ct_ring *r)
{
	return r->hdr ? atomic_load_explicit(&r->hdr->tsc_mult,
					     memory_order_relaxed)
		      : 0;
}

/* Unmap.  Async-signal-safe. */
void ct_ring_detach(struct ct_ring *r);

/* Producer: claim room for a payload of len bytes.  Returns a pointer to
 * the payload (inside the shared mapping) or NULL when the record was
 * dropped (ring full past CT_RING_FULL_WAIT_NS, too large, or closed); the
 * drop is counted in the header.  pid is written into the record header so
 * the consumer can tell whether the claimant is still alive.
 * Context: async-signal-safe, lock-free, no allocation; safe in threads,
 * fork and vfork children and signal handlers. */
void *ct_ring_reserve(struct ct_ring *r, uint32_t len, int32_t pid,
		      struct ct_ring_claim *c);

/* Producer: publish a claimed record.  Async-signal-safe. */
void ct_ring_commit(struct ct_ring *r, const struct ct_ring_claim *c);

/* Consumer callback: one committed record.  Return 0 to go on; a negative
 * value stops the drain before this record is consumed (it is offered
 * again next time). */
typedef int (*ct_ring_fn)(void *arg, const void *rec, uint32_t len);

/* Consumer: hand up to max committed records to fn in order, consuming
 * them.  Skips (and counts in lost_dead) records whose producer died
 * before committing, and claims whose producer never wrote a header,
 * after the grace times in docs/ring.md.  Returns the number of records
 * consumed, or a negative CT_E* code if the ring is corrupt (a header
 * with an impossible length), in which case the ring is reset to empty
 * and what was skipped is counted in lost_bad. */
long ct_ring_drain(struct ct_ring *r, ct_ring_fn fn, void *arg, long max);

/* Recovering consumer, before its first drain of a ring whose consumer
 * died: finish the publish that consumer was killed in, if any, so that
 * `produced` counts every record whose bytes are gone from the ring
 * (handed on and then lost with the dead consumer) and `tail` is where
 * those bytes end.  Records handed on but not yet published stay in the
 * ring and are handed on again.  Returns the number of records the
 * finished publish added to `produced` (0 when there was none). */
uint64_t ct_ring_recover(struct ct_ring *r);

/* True when every claimed byte has been consumed (head == tail). */
bool ct_ring_empty(const struct ct_ring *r);

#endif
