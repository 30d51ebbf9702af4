/* The shared-memory event ring: many producers, one consumer.
 *
 * The protocol (claim by CAS, negative-length header, commit by storing
 * the positive length, consumer zeroes what it consumed) is Aeron/Agrona's
 * many-to-one ring buffer; docs/ring.md describes it with every
 * memory-order pairing and what happens when a producer dies at each step.
 * The comments here say why each step is the way it is.
 */
#include "common/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fault.h"

/* A record header is one 64-bit word: bits 0-31 the int32 length, bits
 * 32-63 the pid (little-endian order of struct {int32 len; uint32 pid}).
 * It is always read and written as one atomic word, so the consumer never
 * sees a length without its pid.
 *
 * len is the unaligned record length, header included (8 + payload), as in
 * Aeron: a record of empty payload still has len 8, so a zero word always
 * means "nothing written here", and the consumer gets the exact payload
 * length back.  The record occupies len rounded up to 8 bytes.
 *
 * Padding fills the end of the data area when a record would cross it:
 * pid CT_RING_PAD_PID, len the padding's size (a multiple of 8, reaching
 * exactly the end), always written positive (committed). */
#define CT_RING_PAD_PID 0xffffffffu
#define CT_RING_REC_HDR 8u
#define CT_RING_MIN_DATA (64u * 1024u)
/* Largest data area: keeps every record length within int32. */
#define CT_RING_MAX_DATA (1ull << 32)
#define CT_RING_SPINS 256
#define CT_RING_SLEEP_NS 50000
#define CT_RING_PUBLISH 64

static inline uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static inline uint64_t rec_word(int32_t len, uint32_t pid)
{
	return (uint64_t)pid << 32 | (uint32_t)len;
}

static inline int32_t word_len(uint64_t w)
{
	return (int32_t)(uint32_t)w;
}

static inline uint32_t word_pid(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static inline _Atomic uint64_t *word_at(const struct ct_ring *r, uint64_t pos)
{
	return (_Atomic uint64_t *)(void *)(r->data + (pos & r->mask));
}

/* Largest record (header included, aligned) a producer may claim.  A
 * quarter of the ring keeps one big record from starving everyone else and
 * bounds the padding a wrap can waste. */
static inline uint64_t max_record(const struct ct_ring *r)
{
	return (r->mask + 1) / 4;
}

/* ---- raw syscalls ---------------------------------------------------
 * attach, detach and the producer's wait run inside traced programs via
 * the shim, which hooks open(), mmap() and, later, libc's syscall(): going
 * through libc would record the shim's own calls or recurse.  They return
 * -errno on failure and never touch errno. */
static inline long raw_syscall6(long n, long a1, long a2, long a3, long a4,
				long a5, long a6)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
	/* No inline asm for this arch: libc's syscall() (the shim must then
	 * not hook it for its own calls).  Keep errno as it was. */
	int saved = errno;
	long ret = syscall(n, a1, a2, a3, a4, a5, a6);

	if (ret == -1) {
		ret = -errno;
		errno = saved;
	}
	return ret;
#endif
}

#define raw_syscall(n, a1, a2, a3) \
	raw_syscall6((n), (long)(a1), (long)(a2), (long)(a3), 0, 0, 0)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static uint64_t raw_now_ns(void)
{
	struct timespec ts = { 0, 0 };

	raw_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void raw_sleep_ns(long ns)
{
	struct timespec ts = { 0, ns };

	/* EINTR only shortens the step; the caller checks the clock. */
	raw_syscall(SYS_nanosleep, &ts, 0, 0);
}

/* ---- path ---------------------------------------------------------- */

void ct_ring_path(char *buf, unsigned uid, uint64_t session)
{
	static const char prefix[] = "/dev/shm/ctrace-";
	static const char hex[] = "0123456789abcdef";
	char digits[10];
	size_t n = 0, i;
	int nd = 0;

	for (i = 0; prefix[i]; i++)
		buf[n++] = prefix[i];
	do {
		digits[nd++] = (char)('0' + uid % 10);
		uid /= 10;
	} while (uid);
	while (nd)
		buf[n++] = digits[--nd];
	buf[n++] = '-';
	for (i = 0; i < 16; i++)
		buf[n++] = hex[(session >> (60 - 4 * i)) & 0xf];
	buf[n] = '\0';
}

/* ---- create / attach / detach -------------------------------------- */

static void ring_init(struct ct_ring *r, void *map, uint64_t data_size)
{
	r->hdr = map;
	r->data = (unsigned char *)map + CT_RING_HDR_SIZE;
	r->mask = data_size - 1;
	r->map_len = CT_RING_HDR_SIZE + data_size;
	r->pend_pos = UINT64_MAX;
	r->pend_word = 0;
	r->pend_head = 0;
	r->pend_since_ns = 0;
	r->grace_dead_ns = CT_RING_GRACE_DEAD_NS;
	r->grace_long_ns = CT_RING_GRACE_LONG_NS;
	atomic_store_explicit(&r->stuck_tail, 0, memory_order_relaxed);
	atomic_store_explicit(&r->stuck_since_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&r->touched_page, 0, memory_order_relaxed);
	r->populated = 0;
	r->clk_on = false;
}

static int err_from_errno(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return CT_ENOTFOUND;
	case EACCES:
	case EPERM:
	case ELOOP:
	case EISDIR:
	case EROFS:
		return CT_EPERM;
	case EEXIST:
		return CT_EBUSY;
	case ENOMEM:
	case ENOSPC:
	case EFBIG:
		return CT_ENOMEM;
	case EINVAL:
	case ENAMETOOLONG:
		return CT_EINVAL;
	default:
		return CT_EIO;
	}
}

int ct_ring_create(const char *path, uint64_t data_size, uint64_t session,
		   struct ct_ring *r)
{
	uint64_t size = CT_RING_MIN_DATA;
	struct ct_ring_hdr *h;
	void *map;
	int fd, err;

	if (!path || !r || data_size > CT_RING_MAX_DATA)
		return CT_EINVAL;
	while (size < data_size)
		size <<= 1;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return err_from_errno(errno);
	/* The umask may have taken bits from 0600; attach insists on it. */
	if (fchmod(fd, 0600) < 0 ||
	    ftruncate(fd, (off_t)(CT_RING_HDR_SIZE + size)) < 0) {
		err = err_from_errno(errno);
		goto unlink_file;
	}
	map = mmap(NULL, CT_RING_HDR_SIZE + size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = err_from_errno(errno);
		goto unlink_file;
	}
	close(fd);

	/* The file is fresh (ftruncate zeroes it): counters, head and tail
	 * start at 0 and the data area is all zero, which the consumer's
	 * scan over never-written claims relies on. */
	h = map;
	h->version = CT_RING_VERSION;
	h->uid = (uint32_t)getuid();
	h->data_size = size;
	h->session = session;
	h->owner_pid = (int32_t)getpid();
	/* Magic last, released: an attacher that reads it sees the rest. */
	__atomic_store_n(&h->magic, CT_RING_MAGIC, __ATOMIC_RELEASE);
	ring_init(r, map, size);
	return 0;

unlink_file:
	unlink(path);
	close(fd);
	return err;
}

static int attach_check(const struct stat *st, const struct ct_ring_hdr *h,
			uint32_t uid)
{
	if (!S_ISREG(st->st_mode) || st->st_uid != uid ||
	    (st->st_mode & 07777) != 0600)
		return CT_EPERM;
	if ((uint64_t)st->st_size < sizeof(*h))
		return CT_ETRUNC;
	if (h->magic != CT_RING_MAGIC)
		return CT_EFORMAT;
	if (h->version != CT_RING_VERSION)
		return CT_EVERSION;
	if (h->uid != uid)
		return CT_EPERM;
	if (h->data_size < CT_RING_MIN_DATA ||
	    h->data_size > CT_RING_MAX_DATA ||
	    (h->data_size & (h->data_size - 1)))
		return CT_EFORMAT;
	if ((uint64_t)st->st_size != CT_RING_HDR_SIZE + h->data_size)
		return CT_ETRUNC;
	return 0;
}

int ct_ring_attach(const char *path, struct ct_ring *r)
{
	struct ct_ring_hdr h;
	struct stat st;
	uint64_t size;
	long fd, ret;
	int err;

	if (!path || !r)
		return CT_EINVAL;
	/* O_NOFOLLOW: /dev/shm is world-writable, a symlink planted there
	 * must not redirect us. */
	fd = raw_syscall6(SYS_openat, AT_FDCWD, (long)path,
			  O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0, 0, 0);
	if (fd < 0)
		return err_from_errno((int)-fd);

	/* On x86-64 and aarch64 the kernel's struct stat is glibc's. */
	ret = raw_syscall(SYS_fstat, fd, &st, 0);
	if (ret < 0) {
		err = err_from_errno((int)-ret);
		goto close_fd;
	}
	memset(&h, 0, sizeof(h));
	if ((uint64_t)st.st_size >= sizeof(h)) {
		ret = raw_syscall6(SYS_pread64, fd, (long)&h, sizeof(h), 0, 0,
				   0);
		if (ret != (long)sizeof(h)) {
			err = ret < 0 ? err_from_errno((int)-ret) : CT_ETRUNC;
			goto close_fd;
		}
	}
	err = attach_check(&st, &h, (uint32_t)raw_syscall(SYS_getuid, 0, 0, 0));
	if (err)
		goto close_fd;

	/* Map exactly the size fstat reported, so no access can SIGBUS
	 * (unless someone truncates the file under us, which only its
	 * owner can do). */
	size = h.data_size;
	ret = raw_syscall6(SYS_mmap, 0, (long)(CT_RING_HDR_SIZE + size),
			   PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ret < 0 && ret > -4096) {
		err = err_from_errno((int)-ret);
		goto close_fd;
	}
	raw_syscall(SYS_close, fd, 0, 0);
	ring_init(r, (void *)ret, size);
	return 0;

close_fd:
	raw_syscall(SYS_close, fd, 0, 0);
	return err;
}

void ct_ring_detach(struct ct_ring *r)
{
	if (!r || !r->hdr)
		return;
	raw_syscall(SYS_munmap, r->hdr, r->map_len, 0);
	r->hdr = NULL;
	r->data = NULL;
	r->mask = 0;
	r->map_len = 0;
}

/* ---- producer ------------------------------------------------------ */

static void *drop(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
	return NULL;
}

/* A reserve gave up on a full ring at tail: start the stuck clock unless
 * it already runs for this tail. */
static void stuck_mark(struct ct_ring *r, uint64_t tail, uint64_t now)
{
	if (atomic_load_explicit(&r->stuck_tail, memory_order_relaxed) ==
	    tail + 1)
		return;
	atomic_store_explicit(&r->stuck_since_ns, now, memory_order_relaxed);
	atomic_store_explicit(&r->stuck_tail, tail + 1, memory_order_relaxed);
}

/* The first time this mapping reaches the page of pos, read the page
 * before writing to it.  A producer's first touch of a ring page is a
 * page fault, about 1.5-2.5 us here: ~1,000 of them for 100,000 small
 * records.  For a write the kernel maps that one page; for a read of a
 * file mapping it maps up to 16 neighbours that the page cache already
 * holds ("fault-around", writable, since tmpfs does not track dirty
 * pages), and the consumer allocates the pages ahead of head
 * (populate_ahead()).  So the next 15 pages cost nothing.  Other threads
 * of the process race on touched_page only to read a page twice. */
static inline void touch_page(struct ct_ring *r, uint64_t pos)
{
	uint64_t page = ((pos & r->mask) >> 12) + 1;

	if (atomic_load_explicit(&r->touched_page, memory_order_relaxed) ==
	    page)
		return;
	atomic_store_explicit(&r->touched_page, page, memory_order_relaxed);
	(void)*(volatile const unsigned char *)(r->data + (pos & r->mask));
}

/* The ring is full at tail: wait a little for the consumer (0: look
 * again) or give up (-1).  Out of line: the reserve's fast path keeps its
 * registers. */
static __attribute__((noinline)) int full_wait(struct ct_ring *r, uint64_t tail,
					       int *spins, uint64_t *deadline)
{
	/* Full, and the consumer has not moved tail for
	 * CT_RING_STUCK_NS since a reserve first gave up at this very
	 * tail: it died or is stopped, and waiting again would only
	 * slow the program down by the full wait per record.  Drop at
	 * once; once tail moves, reserves wait normally again.  The
	 * hint is per process and only ever a hint: a race between
	 * threads updating it costs at most one extra wait. */
	if (!*spins &&
	    atomic_load_explicit(&r->stuck_tail, memory_order_relaxed) ==
		    tail + 1 &&
	    raw_now_ns() - atomic_load_explicit(&r->stuck_since_ns,
						memory_order_relaxed) >=
		    CT_RING_STUCK_NS)
		return -1;
	/* Full: spin a little (the consumer is usually close behind),
	 * then sleep in small steps until the deadline, then drop. */
	if (*spins < CT_RING_SPINS) {
		(*spins)++;
		cpu_relax();
	} else {
		uint64_t now = raw_now_ns();

		if (!*deadline) {
			*deadline = now + CT_RING_FULL_WAIT_NS;
		} else if (now >= *deadline) {
			stuck_mark(r, tail, now);
			return -1;
		}
		raw_sleep_ns(CT_RING_SLEEP_NS);
	}
	return 0;
}

void *ct_ring_reserve(struct ct_ring *r, uint32_t len, int32_t pid,
		      struct ct_ring_claim *c)
{
	struct ct_ring_hdr *h;
	uint64_t size, need, head, tail, off, pad, claim;
	uint64_t deadline = 0;
	uint32_t upid = (uint32_t)pid;
	int spins = 0;

	if (!r || !r->hdr || !c)
		return NULL;
	h = r->hdr;
	size = r->mask + 1;
	need = align8((uint64_t)len + CT_RING_REC_HDR);
	if (need > max_record(r))
		return drop(&h->lost_big);
	/* pid -1 would read as padding; 0 means "unknown", which the
	 * consumer treats as alive (long grace only). */
	if (upid == CT_RING_PAD_PID)
		upid = 0;

	head = atomic_load_explicit(&h->head, memory_order_relaxed);
	for (;;) {
		if (atomic_load_explicit(&h->closed, memory_order_relaxed))
			return drop(&h->lost_full);
		/* Acquire pairs with the consumer's release store of tail:
		 * its zeroing of the bytes we are about to claim happens
		 * before our writes to them.  A stale tail is only smaller,
		 * so the room check stays conservative. */
		tail = atomic_load_explicit(&h->tail, memory_order_acquire);
		off = head & r->mask;
		pad = size - off < need ? size - off : 0;
		claim = pad + need;
		if (head + claim - tail <= size) {
			/* Relaxed is enough: no data is published by head
			 * itself (the record headers do that), and the tail
			 * acquire above already ordered the zeroing. */
			CT_FAULT_POINT("ring.before_cas");
			if (atomic_compare_exchange_weak_explicit(
				    &h->head, &head, head + claim,
				    memory_order_relaxed, memory_order_relaxed))
				break;
			continue; /* head was reloaded by the failed CAS */
		}
		if (full_wait(r, tail, &spins, &deadline))
			return drop(&h->lost_full);
		head = atomic_load_explicit(&h->head, memory_order_relaxed);
	}
	CT_FAULT_POINT("ring.after_cas");

	/* Write the padding (already committed: nobody fills it) and our
	 * header with a negative length right away, so a consumer that sees
	 * a zero word knows the claimant died within these few instructions.
	 * The release stores order nothing important by themselves; the
	 * release fence after them does: it keeps every later payload store
	 * from becoming visible before these headers.  It pairs with the
	 * consumer's acquire loads in scan_claims(): a consumer that sees a
	 * non-zero payload word also sees the header before it, so its scan
	 * for the next header never stops inside a payload. */
	if (pad)
		atomic_store_explicit(word_at(r, head),
				      rec_word((int32_t)pad, CT_RING_PAD_PID),
				      memory_order_release);
	atomic_store_explicit(word_at(r, head + pad),
			      rec_word(-(int32_t)(len + CT_RING_REC_HDR), upid),
			      memory_order_release);
	atomic_thread_fence(memory_order_release);
	CT_FAULT_POINT("ring.after_header");

	c->pos = head + pad;
	c->len = (uint32_t)need;
	touch_page(r, head + claim - 1);
	return r->data + ((head + pad) & r->mask) + CT_RING_REC_HDR;
}

void ct_ring_commit(struct ct_ring *r, const struct ct_ring_claim *c)
{
	_Atomic uint64_t *w;
	uint64_t old;
	int32_t len;

	if (!r || !r->hdr || !c)
		return;
	w = word_at(r, c->pos);
	/* Our own header: relaxed reads back what we stored. */
	old = atomic_load_explicit(w, memory_order_relaxed);
	len = word_len(old);
	/* If the consumer gave up on us (we stalled past the long grace),
	 * the slot is no longer ours: leave it alone.  The record was
	 * counted in lost_dead. */
	if (len >= 0 || align8((uint64_t) - (int64_t)len) != c->len)
		return;
	/* Release pairs with the consumer's acquire load of the header in
	 * ct_ring_drain(): the payload is visible once the length is. */
	atomic_store_explicit(w, rec_word(-len, word_pid(old)),
			      memory_order_release);
	CT_FAULT_POINT("ring.after_commit");
}

/* ---- consumer ------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Zero [pos, pos + n) of the ring, which may cross the end of the data
 * area (padding reaches exactly the end, so a batch of consumed records
 * can wrap; so can a corrupt reset). */
static void zero_range(struct ct_ring *r, uint64_t pos, uint64_t n)
{
	uint64_t size = r->mask + 1, off = pos & r->mask, first;

	if (n > size)
		n = size;
	first = size - off < n ? size - off : n;
	memset(r->data + off, 0, first);
	if (n > first)
		memset(r->data, 0, n - first);
}

/* Consume [tail, tail + n).  The bytes are zeroed later, in one memset
 * per batch, by publish_tail(), before the new tail is published. */
static uint64_t consume(struct ct_ring *r, uint64_t tail, uint64_t n)
{
	r->pend_pos = UINT64_MAX;
	return tail + n;
}

/* Zero what was consumed since the last publish, [from, tail), so a later
 * claim starts from zeroed memory, then publish tail and add nrec, the
 * records handed on in that range, to produced.  Release pairs with the
 * producers' acquire load of tail in ct_ring_reserve(): our zeroing
 * happens before any write of the producer that claims the bytes again.
 * Published once per CT_RING_PUBLISH records and at the end of a drain,
 * not per record: each store makes every producer's next reserve miss on
 * that cache line.
 *
 * A consumer killed anywhere in here must leave tail and produced
 * agreeing, or the records of [from, tail) would be neither handed on
 * again nor counted (a recovering consumer counts produced minus what the
 * store holds as lost).  So the step is journalled first: jseq odd, the
 * target tail and produced, jseq even.  ct_ring_recover() redoes a
 * journalled step that did not finish, and ignores a half-written
 * journal, whose step had not begun. */
static void publish_tail(struct ct_ring *r, uint64_t from, uint64_t tail,
			 uint64_t nrec, uint64_t ndead)
{
	struct ct_ring_hdr *h = r->hdr;
	uint64_t produced, dead, seq;

	if (tail == from)
		return;
	produced =
		atomic_load_explicit(&h->produced, memory_order_relaxed) + nrec;
	/* lost_dead is only ever added to by the consumer */
	dead = atomic_load_explicit(&h->lost_dead, memory_order_relaxed) +
	       ndead;
	seq = atomic_load_explicit(&h->jseq, memory_order_relaxed);
	atomic_store_explicit(&h->jseq, seq | 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&h->jtail, tail, memory_order_relaxed);
	atomic_store_explicit(&h->jproduced, produced, memory_order_relaxed);
	atomic_store_explicit(&h->jdead, dead, memory_order_relaxed);
	atomic_store_explicit(&h->jseq, (seq | 1) + 1, memory_order_release);
	CT_FAULT_POINT("ring.publish_journal");
	zero_range(r, from, tail - from);
	CT_FAULT_POINT("ring.publish_zeroed");
	atomic_store_explicit(&h->tail, tail, memory_order_release);
	CT_FAULT_POINT("ring.publish_tail");
	atomic_store_explicit(&h->produced, produced, memory_order_relaxed);
	atomic_store_explicit(&h->lost_dead, dead, memory_order_relaxed);
}

uint64_t ct_ring_recover(struct ct_ring *r)
{
	struct ct_ring_hdr *h = r->hdr;
	uint64_t seq, jtail, jprod, jdead, tail, prod;

	seq = atomic_load_explicit(&h->jseq, memory_order_acquire);
	if (!seq || (seq & 1))
		return 0; /* no journal, or its step had not begun */
	jtail = atomic_load_explicit(&h->jtail, memory_order_relaxed);
	jprod = atomic_load_explicit(&h->jproduced, memory_order_relaxed);
	jdead = atomic_load_explicit(&h->jdead, memory_order_relaxed);
	tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
	prod = atomic_load_explicit(&h->produced, memory_order_relaxed);
	if (jtail < tail || jtail - tail > r->mask + 1 || jprod < prod ||
	    jdead < atomic_load_explicit(&h->lost_dead, memory_order_relaxed))
		return 0; /* not the last step's journal */
	if (jtail != tail) {
		/* Killed before tail moved: producers still see the old
		 * tail, so nobody has claimed these bytes again. */
		zero_range(r, tail, jtail - tail);
		atomic_store_explicit(&h->tail, jtail, memory_order_release);
	}
	atomic_store_explicit(&h->produced, jprod, memory_order_relaxed);
	atomic_store_explicit(&h->lost_dead, jdead, memory_order_relaxed);
	r->pend_pos = UINT64_MAX;
	return jprod - prod;
}

/* Has the record at pos, whose header is word, been stuck long enough?
 * The clock starts when the consumer first sees this (pos, word). */
static uint64_t pending_for(struct ct_ring *r, uint64_t pos, uint64_t word,
			    uint64_t head)
{
	uint64_t now = now_ns();

	if (r->pend_pos != pos || r->pend_word != word) {
		r->pend_pos = pos;
		r->pend_word = word;
		r->pend_head = head;
		r->pend_since_ns = now;
		return 0;
	}
	return now - r->pend_since_ns;
}

static bool pid_dead(uint32_t pid)
{
	/* 0 is "unknown"; anything above INT32_MAX is not a pid.  EPERM
	 * means the pid exists (reused by another user): alive. */
	if (pid == 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* A claim at tail whose header was never written (the producer died
 * between its CAS and its header store).  Memory it claimed is still zero,
 * so the next record starts at the first non-zero word.  Search only up
 * to pend_head, the head when the stall began: claims after that are
 * younger than the grace and may be live producers about to write their
 * header.  pend_head itself is a record boundary (head only ever moves
 * from one boundary to the next), so when nothing is found we skip to it.
 *
 * A word found non-zero is read with acquire: by the producers' release
 * fence (ct_ring_reserve) the header stored before it is then visible, so
 * rescan below it; when a rescan finds nothing lower, the word is a
 * header, not a payload word of a record whose header we read too early. */
static uint64_t scan_claims(struct ct_ring *r, uint64_t tail, uint64_t limit)
{
	uint64_t found = limit, p;

	for (;;) {
		uint64_t lowest = found;

		for (p = tail; p < lowest; p += CT_RING_REC_HDR)
			if (atomic_load_explicit(word_at(r, p),
						 memory_order_acquire)) {
				found = p;
				break;
			}
		if (found == lowest)
			return found;
	}
}

/* Validate a header; 0 or CT_ECORRUPT.  *span is the bytes it covers. */
static int check_header(const struct ct_ring *r, uint64_t pos, uint64_t word,
			uint64_t *span)
{
	uint64_t size = r->mask + 1, off = pos & r->mask, alen;
	int32_t len = word_len(word);

	alen = len < 0 ? (uint64_t) - (int64_t)len : (uint64_t)len;
	if (word_pid(word) == CT_RING_PAD_PID) {
		/* Padding: committed, aligned, reaching exactly the end. */
		if (len <= 0 || alen % 8 || off + alen != size)
			return CT_ECORRUPT;
		*span = alen;
		return 0;
	}
	*span = align8(alen);
	if (alen < CT_RING_REC_HDR || *span > max_record(r) ||
	    off + *span > size)
		return CT_ECORRUPT;
	return 0;
}

/* During the first lap, keep the pages ahead of head allocated: one
 * madvise() here instead of a fault that allocates and zeroes a page in
 * some producer, on the traced program's time (and p99).  How far ahead
 * grows with what the session has written, a quarter of it up to
 * RING_AHEAD: a page allocated here and never written is pure cost
 * (~20 us each on the benchmark machine, whose host backs fresh pages
 * lazily), and short sessions write only a few pages.  A kernel without
 * MADV_POPULATE_WRITE (before 5.14) leaves it to the producers. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define RING_AHEAD (512u << 10)
#define RING_AHEAD_MIN (16u << 10)

static void populate_ahead(struct ct_ring *r, uint64_t head)
{
	uint64_t size = r->mask + 1, ahead, from, want;

	if (r->populated >= size)
		return;
	ahead = head / 4 < RING_AHEAD ? head / 4 & ~4095ull : RING_AHEAD;
	if (ahead < RING_AHEAD_MIN)
		return;
	/* whole pages (madvise() takes a page-aligned start); what is
	 * behind head exists already */
	from = r->populated > (head & ~4095ull) ? r->populated
						: head & ~4095ull;
	want = head >= size - ahead ? size : (head + ahead + 4095) & ~4095ull;
	if (want <= from || (want - from < ahead / 2 && want < size))
		return;
	if (madvise(r->data + from, want - from, MADV_POPULATE_WRITE) != 0) {
		r->populated = size; /* not supported: stop asking */
		return;
	}
	r->populated = want;
}

/* ---- the TSC clock ----
 * A producer stamps every event with CLOCK_REALTIME.  Through the vDSO
 * that is ~20 ns of a hooked call's ~90 here (docs/performance.md,
 * "Sixth round"); a TSC read is ~7.  So each producer thread reads the
 * clock once, notes the TSC beside it, and for the next ~1 ms of ticks
 * adds ticks x tsc_mult to it (preload/state.c, ct_now()).  tsc_mult is
 * measured here, against CLOCK_MONOTONIC (which NTP slews like
 * CLOCK_REALTIME but which does not jump), over the whole session so
 * far: two clock reads' jitter over the baseline, ~1e-4 after 1 ms (an
 * anchor's 1 ms of ticks then off by ~100 ns); test_ring__clock measured
 * 5e-6 on a 3 ms baseline.  Only when the kernel's
 * own clocksource is the TSC: then it is constant, synchronised across
 * CPUs, and the vDSO reads it too. */
#define CLK_MIN_NS 1000000ull /* shortest baseline, and publish period */
#define CLK_CHECK_NS 1000000000ull

#if defined(__x86_64__)
static bool tsc_is_clocksource(void)
{
	char buf[16];
	ssize_t n;
	int fd = open("/sys/devices/system/clocksource/clocksource0/"
		      "current_clocksource",
		      O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == 4 && !memcmp(buf, "tsc\n", 4);
}

/* CLOCK_MONOTONIC and the TSC at one moment: the middle of a TSC read
 * before and one after the clock read, tried again when the two are
 * far apart (the thread was preempted between them, which would bend
 * the rate by the time it lost).  false when every try was. */
#define CLK_PAIR_TICKS 50000 /* ~12-50 us at 1-4 GHz */

static bool clock_pair(uint64_t *mono, uint64_t *tsc)
{
	for (int i = 0; i < 8; i++) {
		uint64_t t1 = __builtin_ia32_rdtsc(), m = now_ns();
		uint64_t t2 = __builtin_ia32_rdtsc();

		if (t2 - t1 < CLK_PAIR_TICKS) {
			*mono = m;
			*tsc = t1 + (t2 - t1) / 2;
			return true;
		}
	}
	return false;
}
#endif

void ct_ring_clock_start(struct ct_ring *r)
{
#if defined(__x86_64__)
	if (!r || !r->hdr || !tsc_is_clocksource() ||
	    !clock_pair(&r->clk_mono0, &r->clk_tsc0))
		return;
	r->clk_last = r->clk_check = r->clk_mono0;
	r->clk_on = true;
#else
	(void)r;
#endif
}

static void clock_tick(struct ct_ring *r)
{
#if defined(__x86_64__)
	uint64_t mono, tsc, mult;

	if (!r->clk_on)
		return;
	mono = now_ns();
	if (mono - r->clk_last < CLK_MIN_NS || !clock_pair(&mono, &tsc))
		return;
	r->clk_last = mono;
	if (mono - r->clk_check >= CLK_CHECK_NS) {
		r->clk_check = mono;
		if (!tsc_is_clocksource()) {
			/* the kernel found the TSC unstable: producers go
			 * back to reading the clock every time */
			r->clk_on = false;
			atomic_store_explicit(&r->hdr->tsc_mult, 0,
					      memory_order_relaxed);
			return;
		}
	}
	if (tsc <= r->clk_tsc0)
		return;
	mult = (uint64_t)(((unsigned __int128)(mono - r->clk_mono0) << 32) /
			  (tsc - r->clk_tsc0));
	atomic_store_explicit(&r->hdr->tsc_mult, mult, memory_order_relaxed);
#else
	(void)r;
#endif
}

long ct_ring_drain(struct ct_ring *r, ct_ring_fn fn, void *arg, long max)
{
	struct ct_ring_hdr *h;
	uint64_t head, tail, from, word, span, waited, next;
	uint64_t nrec = 0, ndead = 0; /* since from */
	long n = 0, unpublished = 0;
	int32_t len;

	if (!r || !r->hdr || !fn)
		return CT_EINVAL;
	h = r->hdr;
	/* We are the only writer of tail. */
	tail = from = atomic_load_explicit(&h->tail, memory_order_relaxed);
	/* head is re-read only once we have caught up with the value we
	 * have: every read pulls its cache line away from the producers,
	 * whose next claim (a CAS on it) then has to fetch it back.
	 * Acquire is not needed for correctness (the headers carry the
	 * data); it only keeps head fresh relative to them.  A stale head is
	 * still a record boundary claimed before, which is all the checks
	 * below and the stall bookkeeping (pend_head) rely on. */
	head = atomic_load_explicit(&h->head, memory_order_acquire);
	while (n < max) {
		if (unpublished >= CT_RING_PUBLISH) {
			publish_tail(r, from, tail, nrec, ndead);
			from = tail;
			unpublished = 0;
			nrec = ndead = 0;
		}
		if (head == tail) {
			head = atomic_load_explicit(&h->head,
						    memory_order_acquire);
			if (head == tail)
				break;
		}
		if (head - tail > r->mask + 1)
			goto corrupt;
		/* Acquire pairs with the release store of the header in
		 * ct_ring_commit(): once we see +len, the payload is there. */
		word = atomic_load_explicit(word_at(r, tail),
					    memory_order_acquire);
		if (!word) {
			/* Claimed, header not yet written. */
			waited = pending_for(r, tail, 0, head);
			if (waited < r->grace_long_ns)
				break;
			next = scan_claims(r, tail, r->pend_head);
			if (next == tail)
				continue; /* the header just appeared */
			ndead++;
			tail = consume(r, tail, next - tail);
			unpublished++;
			continue;
		}
		if (check_header(r, tail, word, &span))
			goto corrupt;
		len = word_len(word);
		if (word_pid(word) == CT_RING_PAD_PID) {
			tail = consume(r, tail, span);
			unpublished++;
			continue;
		}
		if (len < 0) {
			/* Claimed, not committed: wait for the producer, or
			 * give up on it once it is dead or far too slow. */
			waited = pending_for(r, tail, word, head);
			if (!(waited >= r->grace_dead_ns &&
			      pid_dead(word_pid(word))) &&
			    waited < r->grace_long_ns)
				break;
			ndead++;
			tail = consume(r, tail, span);
			unpublished++;
			continue;
		}
		if (fn(arg, r->data + (tail & r->mask) + CT_RING_REC_HDR,
		       (uint32_t)len - CT_RING_REC_HDR) < 0)
			break;
		CT_FAULT_POINT("ring.handed_on");
		tail = consume(r, tail, span);
		unpublished++;
		nrec++;
		n++;
	}
	publish_tail(r, from, tail, nrec, ndead);
	populate_ahead(r, head);
	clock_tick(r);
	return n;

corrupt:
	/* An impossible header: nothing after it can be trusted to be a
	 * record boundary.  Drop everything claimed so far and start over
	 * from head; producers still writing into the dropped range may
	 * leave stray bytes, which later drains reject the same way.
	 * Records handed to fn before this point stay consumed. */
	head = atomic_load_explicit(&h->head, memory_order_acquire);
	publish_tail(r, from, head, nrec, ndead);
	atomic_fetch_add_explicit(&h->lost_bad, 1, memory_order_relaxed);
	r->pend_pos = UINT64_MAX;
	return CT_ECORRUPT;
}

bool ct_ring_empty(const struct ct_ring *r)
{
	return atomic_load_explicit(&r->hdr->head, memory_order_acquire) ==
	       atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
}
