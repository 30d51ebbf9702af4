/* Seccomp supervisor: record the target syscalls of static binaries and of
 * whatever they start without a shim, then let each call continue.
 *
 * The filter (common/static.c) stops every target syscall of every task
 * that inherited it, whatever its code address, except those a shim
 * issues with CT_STATIC_PASS (preload/gate.c): a static-pie program is
 * mapped among the shared libraries on current kernels, so the address of
 * the syscall instruction cannot tell a static program from the libc of a
 * dynamic descendant (docs/static.md).  The decision is made here, per
 * call, from the caller's executable mappings:
 *   - a process with the shim mapped records its libc calls itself, and
 *     its raw ones through Syscall User Dispatch, which re-issues them
 *     from libc: calls from libc/ld.so/vDSO that still stop (libc's own
 *     inside fopen and the like) are passed on silently, calls
 *     from the program's own text (SUD off) are recorded;
 *   - a process without the shim (the static program, its forks, and a
 *     dynamic program started with the shim scrubbed from its environment)
 *     has everything recorded, except its dynamic loader's own opens.
 * Nothing the traced program does waits on anything but this process: the
 * notification is answered "continue" after the record is in the ring.
 *
 * A process of its own, not a thread of ctrace run: a listener closed by
 * the death of its holder makes every later target syscall of the covered
 * tasks fail with ENOSYS, so the listeners live in a process that outlives
 * a `kill -9` of ctrace run.  It is one more producer of the ring (a file
 * in /dev/shm that the next ctrace command recovers), and leaves when no
 * covered process is left once ctrace run has finished or died.
 */
#include "collector/supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "common/codec.h"
#include "common/error.h"
#include "common/static.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define MAX_LISTENERS 1024
#define STOP_TIMEOUT_MS 5000 /* ctrace run waits this long for the ack */
#define MAX_RANGES 64
#define ARGV_MAX 256
#define SHIM_NAME "libctrace-preload.so"
/* A process found catching no signal is asked again at each of its first
 * CAUGHT_EARLY calls (handlers are installed at start), then once per
 * CAUGHT_RECHECK_NS. */
#define CAUGHT_EARLY 16
#define CAUGHT_RECHECK_NS 1000000ull
/* the kernel's restart codes (include/linux/errno.h), not in uapi */
#define K_ERESTARTSYS 512
#define K_ERESTARTNOINTR 513
#define USER_CS_64 0x33 /* __USER_CS: a task in 64-bit mode */
/* An exec stop tells of each exec that succeeded (also by another thread
 * than the leader, whose tid it takes), where the task is let go; the
 * threads and children of a traced task are traced from their start (they
 * share or inherit its handlers), not from their first call. */
#define TRACE_OPTS                                                       \
	(PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
	 PTRACE_O_TRACEVFORK)

/* The poll set: control channel, handover socket, SIGCHLD (ptrace stops
 * and exits of traced tasks), then the listeners. */
enum { P_CTL, P_SOCK, P_SIG, P_L };

enum cls { C_EXE, C_LOADER, C_LIB, C_ANON };

struct range {
	uint64_t lo, hi;
	enum cls cls;
};

/* One process (thread group) seen through a filter. */
struct sproc {
	int32_t tgid, ppid;
	uint64_t pstart;
	uint32_t flags; /* CT_STATIC_* of the handover that covered it */
	bool preexec; /* handed over, its exec not done yet */
	dev_t pre_dev, exe_dev;
	ino_t pre_ino, exe_ino;
	bool imaged; /* ranges describe the current image */
	bool shim; /* the current image has the shim mapped */
	bool exec_seen; /* an execve went through: check the image */
	uint64_t unstamped; /* start of a process first seen with pstart 0 */
	bool started; /* a start was recorded for the current image */
	bool caught; /* the image catches a signal: its tasks are traced */
	uint64_t caught_at; /* CLOCK_MONOTONIC of the last look, 0: none */
	unsigned looks; /* sigcatch reads since the image began */
	int nr;
	struct range r[MAX_RANGES];
};

/* Whether a task is traced (see "signals" below). */
enum trace { T_NONE, T_SEIZED, T_REFUSED };

struct stid {
	int32_t tid, tgid;
	uint8_t trace; /* enum trace */
};

/* A notification received and not answered yet. */
struct pending {
	int lfd;
	uint64_t ts;
	struct seccomp_notif n;
};

/* The supervisor process's state. */
struct sup {
	struct ct_ring *ring;
	bool recording; /* false once the session ended: answer only */
	bool stopped; /* ctrace run said the session ended */
	bool orphan; /* ctrace run is gone without saying it */
	struct pollfd pfd[MAX_LISTENERS + P_L];
	int nl; /* listeners: pfd[P_L .. P_L + nl) */
	uint64_t next_id[MAX_LISTENERS]; /* of listener i, 0: not known */
	struct pending batch[MAX_LISTENERS];
	struct sproc *procs;
	size_t nprocs, capprocs;
	struct stid *tids;
	size_t ntids, captids;
	uint64_t boot_rt; /* CLOCK_REALTIME - CLOCK_BOOTTIME, ns */
	long hz;
};

/* ctrace run's handle: the control socket to the supervisor process. */
struct ct_supervisor {
	int ctl;
	pid_t pid;
};

/* ---- small helpers ---- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while ((size_t)got < cap - 1 &&
	       (n = read(fd, buf + got, cap - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

static size_t readlink_z(const char *path, char *buf, size_t cap)
{
	ssize_t n = readlink(path, buf, cap - 1);

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

/* out = normalise(base "/" p), lexically; base NULL when p is absolute. */
static size_t path_join(const char *base, const char *p, char *out, size_t cap)
{
	char tmp[PATH_MAX * 2];
	size_t len = 0;
	const char *s;

	if (p[0] == '/' || !base)
		snprintf(tmp, sizeof(tmp), "%s", p);
	else
		snprintf(tmp, sizeof(tmp), "%s/%s", base, p);
	out[0] = '\0';
	for (s = tmp; *s;) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (n == 0)
			break;
		if (n == 1 && s[0] == '.') {
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else if (len + n + 2 < cap) {
			out[len++] = '/';
			memcpy(out + len, s, n);
			len += n;
		}
		s += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return len;
}

/* A NUL-terminated string of the target at addr, read a page at a time
 * (a string may end just before an unmapped page). */
static bool read_str(pid_t tid, uint64_t addr, char *out, size_t cap)
{
	size_t got = 0;

	if (!addr)
		return false;
	while (got < cap - 1) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		struct iovec l, r;
		ssize_t n;

		if (chunk > cap - 1 - got)
			chunk = cap - 1 - got;
		l.iov_base = out + got;
		l.iov_len = chunk;
		r.iov_base = (void *)(uintptr_t)(addr + got);
		r.iov_len = chunk;
		n = process_vm_readv(tid, &l, 1, &r, 1, 0);
		if (n <= 0)
			return false;
		if (memchr(out + got, '\0', (size_t)n))
			return true;
		got += (size_t)n;
	}
	out[cap - 1] = '\0';
	return true;
}

static bool read_mem(pid_t tid, uint64_t addr, void *out, size_t n)
{
	struct iovec l = { out, n }, r = { (void *)(uintptr_t)addr, n };

	return addr && process_vm_readv(tid, &l, 1, &r, 1, 0) == (ssize_t)n;
}

/* ---- the ring ---- */

static void emit(struct sup *s, struct ct_event *ev)
{
	struct ct_ring_claim claim;
	size_t n = ct_event_size(ev);
	void *p;

	if (atomic_load(&s->ring->hdr->closed))
		return;
	p = ct_ring_reserve(s->ring, (uint32_t)n, getpid(), &claim);
	if (!p)
		return;
	if (ct_event_encode(ev, p, n) < 0)
		memset(p, 0, n); /* cannot happen: sized above */
	ct_ring_commit(s->ring, &claim);
}

static void ev_init(struct ct_event *ev, unsigned kind, uint64_t ts,
		    const struct sproc *p, int32_t tid)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = (uint8_t)kind;
	ev->source = CT_SOURCE_SECCOMP;
	ev->ts = ts;
	ev->pid = p->tgid;
	ev->tid = tid;
	ev->ppid = p->ppid;
	ev->pstart = p->pstart;
}

static void set_bytes(struct ct_bytes *b, const char *s)
{
	b->p = s;
	b->len = (uint32_t)strlen(s);
}

/* ---- processes ---- */

static struct sproc *proc_find(struct sup *s, int32_t tgid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	return NULL;
}

static void proc_drop(struct sup *s, int32_t tgid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].tgid == tgid) {
			s->procs[i] = s->procs[--s->nprocs];
			break;
		}
	for (size_t i = 0; i < s->ntids;)
		if (s->tids[i].tgid == tgid)
			s->tids[i] = s->tids[--s->ntids];
		else
			i++;
}

static struct sproc *proc_add(struct sup *s, int32_t tgid)
{
	struct sproc *p;

	if (s->nprocs == s->capprocs) {
		size_t n = s->capprocs ? s->capprocs * 2 : 32;
		struct sproc *np = realloc(s->procs, n * sizeof(*np));

		if (!np)
			return NULL;
		s->procs = np;
		s->capprocs = n;
	}
	p = &s->procs[s->nprocs++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	return p;
}

static struct stid *stid_find(struct sup *s, int32_t tid)
{
	for (size_t i = 0; i < s->ntids; i++)
		if (s->tids[i].tid == tid)
			return &s->tids[i];
	return NULL;
}

static int32_t tgid_of(struct sup *s, int32_t tid, bool fresh)
{
	char path[64], buf[1024], *t;
	struct stid *known = stid_find(s, tid);
	int32_t tgid = -1;

	if (known && !fresh)
		return known->tgid;
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_file(path, buf, sizeof(buf)) > 0 &&
	    (t = strstr(buf, "\nTgid:")))
		tgid = (int32_t)strtol(t + 6, NULL, 10);
	if (tgid <= 0)
		return -1;
	if (known) {
		known->tgid = tgid;
		return tgid;
	}
	if (s->ntids == s->captids) {
		size_t n = s->captids ? s->captids * 2 : 64;
		struct stid *nt = realloc(s->tids, n * sizeof(*nt));

		if (!nt)
			return tgid;
		s->tids = nt;
		s->captids = n;
	}
	s->tids[s->ntids++] = (struct stid){ tid, tgid, T_NONE };
	return tgid;
}

/* ppid and start (realtime ns, from /proc's boot-relative ticks). */
/* ppid (4th field of /proc/PID/stat), start (22nd: boot-relative ticks,
 * made realtime ns) and sigcatch (34th: the signals it has handlers for);
 * any may be NULL. */
static bool proc_stat(struct sup *s, int32_t pid, int32_t *ppid,
		      uint64_t *start, uint64_t *sigcatch)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0, caught = 0;
	int pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 2,
			 "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			 "%*d %*d %*d %*d %*d %*d %llu %*u %*d %*u %*u %*u "
			 "%*u %*u %*u %*u %*u %*u %llu",
			 &pp, &st, &caught) != 3)
		return false;
	if (ppid)
		*ppid = pp;
	if (start)
		*start = s->boot_rt + st * (1000000000ull / (uint64_t)s->hz);
	if (sigcatch)
		*sigcatch = caught;
	return true;
}

/* CTRACE_PROC=<pid>.<pstart> of the process's environment, when it names
 * pid itself: the image continues an instance the shim stamped. */
static uint64_t env_pstart(int32_t pid)
{
	static char buf[1 << 16];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	n = read_file(path, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		unsigned long long a, b;

		if (strncmp(buf + i, "CTRACE_PROC=", 12) == 0 &&
		    sscanf(buf + i + 12, "%llu.%llu", &a, &b) == 2 &&
		    (int32_t)a == pid)
			return b;
	}
	return 0;
}

static bool exe_key(int32_t pid, dev_t *dev, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) != 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Executable mappings of the current image, classified. */
static void read_maps(struct sproc *p)
{
	char path[64], exe[PATH_MAX], line[PATH_MAX + 256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", p->tgid);
	readlink_z(path, exe, sizeof(exe));
	snprintf(path, sizeof(path), "/proc/%d/maps", p->tgid);
	p->nr = 0;
	p->shim = false;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char perm[8];
		int off = 0;
		const char *name, *base;

		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &lo, &hi, perm,
			   &off) < 3)
			continue;
		name = off ? line + off : "";
		line[strcspn(line, "\n")] = '\0';
		base = strrchr(name, '/');
		base = base ? base + 1 : name;
		if (strcmp(base, SHIM_NAME) == 0)
			p->shim = true;
		if (perm[2] != 'x' || p->nr == MAX_RANGES)
			continue;
		struct range *r = &p->r[p->nr++];
		r->lo = lo;
		r->hi = hi;
		if (!*name)
			r->cls = C_ANON;
		else if (strcmp(name, exe) == 0)
			r->cls = C_EXE;
		else if (strncmp(base, "ld-", 3) == 0)
			r->cls = C_LOADER;
		else
			r->cls = C_LIB; /* shared objects, [vdso] */
	}
	fclose(f);
	p->imaged = true;
}

static bool classify(const struct sproc *p, uint64_t ip, enum cls *c)
{
	for (int i = 0; i < p->nr; i++)
		if (ip >= p->r[i].lo && ip < p->r[i].hi) {
			*c = p->r[i].cls;
			return true;
		}
	return false;
}

/* A new image no shim entered: record its start (argv, exe, cwd). */
static void emit_start(struct sup *s, struct sproc *p, uint64_t ts)
{
	static char cmd[CT_ARGV_BYTES_MAX];
	char path[64], exe[PATH_MAX], cwd[PATH_MAX];
	char *argv[ARGV_MAX + 1];
	struct ct_event ev;
	ssize_t n;
	int argc = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", p->tgid);
	n = read_file(path, cmd, sizeof(cmd));
	for (ssize_t i = 0; i < n && argc < ARGV_MAX;
	     i += (ssize_t)strlen(cmd + i) + 1)
		argv[argc++] = cmd + i;
	argv[argc] = NULL;
	snprintf(path, sizeof(path), "/proc/%d/exe", p->tgid);
	readlink_z(path, exe, sizeof(exe));
	snprintf(path, sizeof(path), "/proc/%d/cwd", p->tgid);
	readlink_z(path, cwd, sizeof(cwd));
	ev_init(&ev, CT_KIND_START, ts, p, p->tgid);
	ev.present = CT_F_ARGV | CT_F_EXE | CT_F_CWD;
	ev.argv_in = argv;
	set_bytes(&ev.exe, exe);
	set_bytes(&ev.cwd, cwd);
	if (p->flags & CT_STATIC_NNP) {
		ev.present |= CT_F_REASON;
		set_bytes(&ev.reason,
			  "no_new_privs set for the seccomp filter");
	}
	emit(s, &ev);
}

/* The process for a notification from tid, created (with its lineage)
 * when first seen.  NULL when it is gone. */
static struct sproc *proc_for(struct sup *s, int32_t tid)
{
	int32_t tgid = tgid_of(s, tid, false), ppid;
	uint64_t start;
	struct sproc *p, *par;
	struct ct_event ev;

	if (tgid < 0)
		return NULL;
	p = proc_find(s, tgid);
	if (p)
		return p;
	if (!proc_stat(s, tgid, &ppid, &start, NULL))
		return NULL;
	p = proc_add(s, tgid);
	if (!p)
		return NULL;
	p->ppid = ppid;
	par = proc_find(s, ppid);
	p->pstart = env_pstart(tgid);
	if (!p->pstart && par && par->imaged && !par->shim) {
		/* a fork of a process no shim is in: record the fork for the
		 * parent, stamped with the child's start as the shim's fork
		 * does; the child runs the parent's image */
		p->pstart = start;
		ev_init(&ev, CT_KIND_FORK, start, par, par->tgid);
		ev.result = tgid;
		emit(s, &ev);
		p->exe_dev = par->exe_dev;
		p->exe_ino = par->exe_ino;
		p->nr = par->nr;
		memcpy(p->r, par->r, sizeof(p->r));
		p->imaged = true;
		p->started = true;
	} else if (!p->pstart) {
		/* 0: the collector takes the pid's latest instance (the
		 * shim's stamp of a forked shim process is not visible) */
		p->pstart = 0;
		p->unstamped = start;
	}
	return p;
}

/* ---- one notification ---- */

/* Absolute path of the string at addr, relative to dirfd dfd. */
static bool arg_path(pid_t tid, int32_t tgid, long dfd, uint64_t addr,
		     char *out, size_t cap)
{
	char raw[PATH_MAX], base[PATH_MAX], link[64];

	if (!read_str(tid, addr, raw, sizeof(raw)))
		return false;
	if (raw[0] == '/') {
		path_join(NULL, raw, out, cap);
		return true;
	}
	if ((int)dfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", tid);
	else
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", tgid, (int)dfd);
	if (!readlink_z(link, base, sizeof(base)))
		snprintf(out, cap, "%s", raw);
	else if (!raw[0])
		path_join(NULL, base, out, cap);
	else
		path_join(base, raw, out, cap);
	return true;
}

static size_t fmt_addr(pid_t tid, uint64_t addr, uint64_t len, char *out,
		       size_t cap)
{
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (len > sizeof(ss))
		len = sizeof(ss);
	if (len < sizeof(sa_family_t) || !read_mem(tid, addr, &ss, len))
		return 0;
	if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		return (size_t)snprintf(out, cap, "%s:%u", ip,
					ntohs(a->sin_port));
	}
	if (ss.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		return (size_t)snprintf(out, cap, "[%s]:%u", ip,
					ntohs(a->sin6_port));
	}
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *a = (struct sockaddr_un *)&ss;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		if (n == 0)
			return (size_t)snprintf(out, cap, "unix:");
		if (a->sun_path[0] == '\0')
			return (size_t)snprintf(out, cap, "unix:@%.*s",
						(int)(n - 1), a->sun_path + 1);
		return (size_t)snprintf(out, cap, "unix:%.*s", (int)n,
					a->sun_path);
	}
	return 0;
}

/* Build and emit the event for one stopped call (nothing when its
 * arguments cannot be read, or the task is gone). */
static void record(struct sup *s, int lfd, struct sproc *p,
		   const struct seccomp_notif *n, uint64_t ts)
{
	static char path[PATH_MAX], path2[PATH_MAX], addr[PATH_MAX];
	static char argbuf[CT_ARGV_BYTES_MAX];
	char *argv[ARGV_MAX + 1];
	const __u64 *a = n->data.args;
	pid_t tid = (pid_t)n->pid;
	struct ct_event ev;
	long dfd = AT_FDCWD, dfd2 = AT_FDCWD;
	uint64_t pa = 0, pa2 = 0;
	bool target = false;

	ev_init(&ev, CT_KIND_NONE, ts, p, tid);
	switch (n->data.nr) {
	case SYS_open:
		ev.kind = CT_KIND_OPEN;
		pa = a[0];
		ev.flags = (uint32_t)a[1];
		ev.mode = (uint32_t)a[2];
		ev.present = CT_F_FLAGS | CT_F_MODE;
		break;
	case SYS_creat:
		ev.kind = CT_KIND_OPEN;
		pa = a[0];
		ev.flags = O_CREAT | O_WRONLY | O_TRUNC;
		ev.mode = (uint32_t)a[1];
		ev.present = CT_F_FLAGS | CT_F_MODE;
		break;
	case SYS_openat:
		ev.kind = CT_KIND_OPEN;
		dfd = (long)(int)a[0];
		pa = a[1];
		ev.flags = (uint32_t)a[2];
		ev.mode = (uint32_t)a[3];
		ev.present = CT_F_FLAGS | CT_F_MODE;
		break;
	case SYS_openat2: {
		uint64_t how[2] = { 0, 0 };

		ev.kind = CT_KIND_OPEN;
		dfd = (long)(int)a[0];
		pa = a[1];
		read_mem(tid, a[2], how, sizeof(how));
		ev.flags = (uint32_t)how[0];
		ev.mode = (uint32_t)how[1];
		ev.present = CT_F_FLAGS | CT_F_MODE;
		break;
	}
	case SYS_unlink:
		ev.kind = CT_KIND_UNLINK;
		pa = a[0];
		break;
	case SYS_unlinkat:
		ev.kind =
			(a[2] & AT_REMOVEDIR) ? CT_KIND_RMDIR : CT_KIND_UNLINK;
		dfd = (long)(int)a[0];
		pa = a[1];
		break;
	case SYS_rmdir:
		ev.kind = CT_KIND_RMDIR;
		pa = a[0];
		break;
	case SYS_rename:
	case SYS_link:
		ev.kind =
			n->data.nr == SYS_link ? CT_KIND_LINK : CT_KIND_RENAME;
		pa = a[0];
		pa2 = a[1];
		break;
	case SYS_renameat:
	case SYS_renameat2:
	case SYS_linkat:
		ev.kind = n->data.nr == SYS_linkat ? CT_KIND_LINK
						   : CT_KIND_RENAME;
		dfd = (long)(int)a[0];
		pa = a[1];
		dfd2 = (long)(int)a[2];
		pa2 = a[3];
		break;
	case SYS_symlink:
	case SYS_symlinkat:
		ev.kind = CT_KIND_SYMLINK;
		target = true;
		pa = a[0];
		if (n->data.nr == SYS_symlinkat) {
			dfd2 = (long)(int)a[1];
			pa2 = a[2];
		} else {
			pa2 = a[1];
		}
		break;
	case SYS_mkdir:
	case SYS_mkdirat:
		ev.kind = CT_KIND_MKDIR;
		if (n->data.nr == SYS_mkdirat) {
			dfd = (long)(int)a[0];
			pa = a[1];
			ev.mode = (uint32_t)a[2];
		} else {
			pa = a[0];
			ev.mode = (uint32_t)a[1];
		}
		ev.present = CT_F_MODE;
		break;
	case SYS_chmod:
		ev.kind = CT_KIND_CHMOD;
		pa = a[0];
		ev.mode = (uint32_t)a[1];
		ev.present = CT_F_MODE;
		break;
	case SYS_fchmodat:
	case SYS_fchmodat2:
		ev.kind = CT_KIND_CHMOD;
		dfd = (long)(int)a[0];
		pa = a[1];
		ev.mode = (uint32_t)a[2];
		ev.present = CT_F_MODE;
		break;
	case SYS_truncate:
		ev.kind = CT_KIND_TRUNCATE;
		pa = a[0];
		break;
	case SYS_execve:
	case SYS_execveat: {
		uint64_t av = n->data.nr == SYS_execve ? a[1] : a[2];
		size_t used = 0;
		int argc = 0;

		ev.kind = CT_KIND_EXEC;
		if (n->data.nr == SYS_execveat) {
			dfd = (long)(int)a[0];
			pa = a[1];
		} else {
			pa = a[0];
		}
		while (argc < ARGV_MAX && used < sizeof(argbuf) - 1) {
			uint64_t ptr = 0;

			if (!read_mem(tid, av + (uint64_t)argc * 8, &ptr, 8) ||
			    !ptr ||
			    !read_str(tid, ptr, argbuf + used,
				      sizeof(argbuf) - used))
				break;
			argv[argc++] = argbuf + used;
			used += strlen(argbuf + used) + 1;
		}
		argv[argc] = NULL;
		ev.present = CT_F_ARGV | CT_F_EXE;
		ev.argv_in = argv;
		break;
	}
	case SYS_connect:
		ev.kind = CT_KIND_CONNECT;
		if (!fmt_addr(tid, a[1], a[2], addr, sizeof(addr)))
			return;
		ev.present = CT_F_ADDR | CT_F_FD;
		ev.fd = (int32_t)a[0];
		set_bytes(&ev.addr, addr);
		break;
	case SYS_exit_group:
		ev.kind = CT_KIND_EXIT;
		ev.present = CT_F_EXIT;
		ev.exit_code = (int32_t)(a[0] & 0xff);
		break;
	default:
		return;
	}
	if (pa) {
		if (target) {
			/* a symlink's content: relative to the link's folder */
			char dir[PATH_MAX];

			if (!read_str(tid, pa, path, sizeof(path)) ||
			    !arg_path(tid, p->tgid, dfd2, pa2, path2,
				      sizeof(path2)))
				return;
			if (path[0] != '/') {
				snprintf(dir, sizeof(dir), "%s", path2);
				*strrchr(dir, '/') = '\0';
				snprintf(addr, sizeof(addr), "%s", path);
				path_join(dir[0] ? dir : "/", addr, path,
					  sizeof(path));
			}
			ev.present |= CT_F_PATH | CT_F_PATH2;
			set_bytes(&ev.path, path);
			set_bytes(&ev.path2, path2);
		} else {
			if (!arg_path(tid, p->tgid, dfd, pa, path,
				      sizeof(path)))
				return;
			ev.present |= CT_F_PATH;
			set_bytes(&ev.path, path);
			if (ev.kind == CT_KIND_EXEC) {
				struct stat st;

				/* a PATH search tries names that are not
				 * there: the kernel's answer is certain */
				ev.exe = ev.path;
				if (stat(path, &st) != 0 && errno == ENOENT) {
					ev.result = -ENOENT;
					ev.err = ENOENT;
				}
			}
			if (pa2) {
				if (!arg_path(tid, p->tgid, dfd2, pa2, path2,
					      sizeof(path2)))
					return;
				ev.present |= CT_F_PATH2;
				set_bytes(&ev.path2, path2);
			}
		}
	}
	/* the arguments were read from the task the notification names */
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id) != 0)
		return;
	emit(s, &ev);
}

static void answer(int lfd, uint64_t id)
{
	struct seccomp_notif_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.id = id;
	resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* ---- signals ---- */

/* A signal that reaches a task before we have received its notification
 * ends the wait with -ERESTARTSYS, which the kernel turns into EINTR for a
 * handler without SA_RESTART: a call that never fails so bare would fail.
 * So a task of an image without the shim, in a process that catches a
 * signal, is traced (PTRACE_SEIZE: nothing stops until a signal comes),
 * and at each of its signal-delivery stops a target call left with
 * -ERESTARTSYS becomes -ERESTARTNOINTR, which the kernel restarts after
 * the handler.  Not for calls that can also be interrupted once running
 * (an open of a FIFO or a device, a connect on a blocking socket): those
 * keep the EINTR a bare run could see.  docs/static.md, "Signals". */

/* The process has a handler for some signal (sigcatch; 2 us to read,
 * against 3.6 for SigCgt of /proc/PID/status).  A process without one
 * cannot see the EINTR, and is left untraced. */
static bool catches_signals(struct sup *s, int32_t tgid)
{
	uint64_t caught = 0;

	return proc_stat(s, tgid, NULL, NULL, &caught) && caught != 0;
}

/* Trace tid, which made a target call other than an exec, if it needs
 * it.  It is let go at its exec stop (traced_stops): the next image may
 * load the shim, or catch nothing. */
static void guard(struct sup *s, struct sproc *p, int32_t tid)
{
	struct stid *t = stid_find(s, tid);
	uint64_t now;

	if (!t || p->shim || t->trace != T_NONE)
		return;
	if (!p->caught) {
		now = clock_ns(CLOCK_MONOTONIC);
		if (p->looks >= CAUGHT_EARLY && p->caught_at &&
		    now - p->caught_at < CAUGHT_RECHECK_NS)
			return;
		p->caught_at = now;
		p->looks++;
		p->caught = catches_signals(s, p->tgid);
		if (!p->caught)
			return;
	}
	/* EPERM: another tracer has it (a debugger), or Yama forbids. */
	t->trace = ptrace(PTRACE_SEIZE, tid, 0, TRACE_OPTS) == 0 ? T_SEIZED
								 : T_REFUSED;
}

/* An open that may sleep interruptibly once running: of an existing FIFO
 * or character device, blocking. */
static bool open_may_sleep(struct sup *s, pid_t tid, long dfd, uint64_t pa,
			   uint64_t flags)
{
	char path[PATH_MAX], root[PATH_MAX + 64];
	struct stat st;
	int32_t tgid = tgid_of(s, tid, false);

	if (flags & (O_PATH | O_NONBLOCK))
		return false;
	if (tgid < 0 || !arg_path(tid, tgid, dfd, pa, path, sizeof(path)))
		return true; /* cannot tell: keep the kernel's answer */
	/* as the task sees it (chroot, mount namespace) */
	snprintf(root, sizeof(root), "/proc/%d/root%s", tid, path);
	if (stat(root, &st) != 0)
		return false; /* missing (or created): a regular file */
	return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
}

/* connect on a socket without O_NONBLOCK, or one we cannot read. */
static bool connect_may_sleep(pid_t tid, int fd)
{
	char path[64], buf[512], *t;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tid, fd);
	if (read_file(path, buf, sizeof(buf)) <= 0 ||
	    !(t = strstr(buf, "flags:")))
		return true;
	return !(strtoul(t + 6, NULL, 8) & O_NONBLOCK);
}

/* Whether the call a signal-delivery stop shows, left with -ERESTARTSYS,
 * is a target call that can only have been interrupted in our wait. */
static bool restartable(struct sup *s, pid_t tid,
			const struct user_regs_struct *r)
{
	uint64_t how = 0;

	switch (r->orig_rax) {
	case SYS_open:
		return !open_may_sleep(s, tid, AT_FDCWD, r->rdi, r->rsi);
	case SYS_creat:
		return !open_may_sleep(s, tid, AT_FDCWD, r->rdi, O_WRONLY);
	case SYS_openat:
		return !open_may_sleep(s, tid, (long)(int)r->rdi, r->rsi,
				       r->rdx);
	case SYS_openat2:
		if (!read_mem(tid, r->rdx, &how, sizeof(how)))
			return false;
		return !open_may_sleep(s, tid, (long)(int)r->rdi, r->rsi, how);
	case SYS_connect:
		return !connect_may_sleep(tid, (int)r->rdi);
	default:
		/* the other target calls never sleep interruptibly once
		 * running; exit_group never returns at all */
		for (int i = 0; ct_static_nrs[i] >= 0; i++)
			if ((uint64_t)ct_static_nrs[i] == r->orig_rax)
				return true;
		return false;
	}
}

/* A signal-delivery stop: restart the call if the signal only cut our
 * wait short. */
static void delivery_stop(struct sup *s, pid_t tid)
{
	struct user_regs_struct r;

	if (ptrace(PTRACE_GETREGS, tid, 0, &r) != 0 ||
	    (long long)r.rax != -K_ERESTARTSYS || r.cs != USER_CS_64 ||
	    !restartable(s, tid, &r))
		return;
	ptrace(PTRACE_POKEUSER, tid, offsetof(struct user_regs_struct, rax),
	       (void *)(long)-K_ERESTARTNOINTR);
}

/* Every stop and exit of the traced tasks. */
static void traced_stops(struct sup *s)
{
	struct signalfd_siginfo si;
	pid_t w;
	int st;

	while (read(s->pfd[P_SIG].fd, &si, sizeof(si)) == sizeof(si))
		;
	while ((w = waitpid(-1, &st, __WALL | WNOHANG)) > 0) {
		struct stid *t = stid_find(s, w);
		int sig, event;

		if (!WIFSTOPPED(st)) {
			if (t)
				t->trace = T_NONE; /* exited */
			continue;
		}
		sig = WSTOPSIG(st);
		event = (st >> 16) & 0xff;
		if (event == PTRACE_EVENT_EXEC) {
			/* the new image may load the shim, or catch nothing:
			 * let it go (w is the leader's tid, whichever thread
			 * exec'd; the others are gone) */
			ptrace(PTRACE_DETACH, w, 0, 0);
			for (size_t i = 0; i < s->ntids; i++)
				if (s->tids[i].tgid == w)
					s->tids[i].trace = T_NONE;
		} else if (event == PTRACE_EVENT_CLONE ||
			   event == PTRACE_EVENT_FORK ||
			   event == PTRACE_EVENT_VFORK) {
			unsigned long nt = 0;
			struct stid *c;

			/* the new task is traced already (its first stop, a
			 * PTRACE_EVENT_STOP, comes on its own) */
			if (ptrace(PTRACE_GETEVENTMSG, w, 0, &nt) == 0 && nt &&
			    tgid_of(s, (int32_t)nt, true) > 0 &&
			    (c = stid_find(s, (int32_t)nt)) != NULL)
				c->trace = T_SEIZED;
			ptrace(PTRACE_CONT, w, 0, 0);
		} else if (event == PTRACE_EVENT_STOP && sig == SIGTRAP) {
			/* a new task's first stop, or the end of a group
			 * stop */
			ptrace(PTRACE_CONT, w, 0, 0);
		} else if (event == PTRACE_EVENT_STOP) {
			/* a group stop (SIGSTOP, SIGTSTP...): stay stopped
			 * until SIGCONT, as untraced */
			ptrace(PTRACE_LISTEN, w, 0, 0);
		} else if (event) {
			ptrace(PTRACE_CONT, w, 0, 0);
		} else {
			delivery_stop(s, w);
			ptrace(PTRACE_CONT, w, 0, sig);
		}
	}
}

/* Work out and record one received notification, then answer it. */
static void handle(struct sup *s, const struct pending *q)
{
	struct seccomp_notif n = q->n;
	int lfd = q->lfd;
	uint64_t ts = q->ts;
	struct sproc *p;
	enum cls c = C_ANON;
	bool rec;

	if (!s->recording)
		goto out;
	p = proc_for(s, (int32_t)n.pid);
	if (!p)
		goto out;
	if (p->preexec) {
		dev_t d;
		ino_t i;

		/* still the image that handed the filter over */
		if (!exe_key(p->tgid, &d, &i) ||
		    (d == p->pre_dev && i == p->pre_ino))
			goto out;
		p->preexec = false;
		p->imaged = false;
	}
	if (p->exec_seen) {
		dev_t d = 0;
		ino_t i = 0;

		exe_key(p->tgid, &d, &i);
		p->exec_seen = false;
		if (d != p->exe_dev || i != p->exe_ino)
			p->imaged = false;
	}
	if (p->imaged && !classify(p, n.data.instruction_pointer, &c)) {
		/* a library loaded since, or a tid now in another process */
		int32_t tgid = tgid_of(s, (int32_t)n.pid, true);

		if (tgid != p->tgid) {
			p = proc_for(s, (int32_t)n.pid);
			if (!p)
				goto out;
		}
		p->imaged = false;
	}
	if (!p->imaged) {
		exe_key(p->tgid, &p->exe_dev, &p->exe_ino);
		read_maps(p);
		p->started = false;
		c = C_ANON;
		classify(p, n.data.instruction_pointer, &c);
	}
	if (n.data.nr == SYS_execve || n.data.nr == SYS_execveat) {
		p->exec_seen = true;
		/* an exec resets the handlers: look again from its next
		 * call */
		p->caught = false;
		p->looks = 0;
	} else {
		guard(s, p, (int32_t)n.pid);
	}
	/* An image without the shim gets its start at its first call
	 * outside the loader (the loader maps the shim first). */
	if (!p->shim && !p->started && c != C_LOADER) {
		if (!p->pstart)
			p->pstart = p->unstamped;
		emit_start(s, p, ts);
		p->started = true;
	}
	/* the shim records libc-path calls (and, with SUD, raw ones, which
	 * it re-issues from libc); the loader's opens are not the program's */
	rec = p->shim ? (c == C_EXE || c == C_ANON) : c != C_LOADER;
	if (rec)
		record(s, lfd, p, &n, ts);
	if (n.data.nr == SYS_exit_group) {
		answer(lfd, n.id);
		proc_drop(s, p->tgid);
		return;
	}
out:
	answer(lfd, n.id);
}

/* ---- handover ---- */

static void take_listener(struct sup *s)
{
	struct ct_static_msg m;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct timeval tv = { 5, 0 };
	struct cmsghdr *cm;
	struct sproc *p;
	int c, lfd = -1;
	ssize_t n;

	c = accept4(s->pfd[P_SOCK].fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	cm = n == (ssize_t)sizeof(m) ? CMSG_FIRSTHDR(&mh) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&lfd, CMSG_DATA(cm), sizeof(int));
	if (lfd < 0 || m.magic != CT_STATIC_MAGIC || s->nl == MAX_LISTENERS)
		goto out;
	p = proc_find(s, m.pid);
	if (!p) {
		int32_t ppid;
		uint64_t start;

		p = proc_add(s, m.pid);
		if (!p)
			goto out;
		if (proc_stat(s, m.pid, &ppid, &start, NULL))
			p->ppid = ppid;
		p->pstart = m.pstart ? m.pstart : start;
	}
	/* wake this process on the trapping task's CPU (6.6+; EINVAL
	 * before): the shorter the wait before NOTIF_RECV, the fewer
	 * signals land in it (docs/static.md, "Signals") */
	ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
	      (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	p->flags |= m.flags;
	p->preexec = exe_key(m.pid, &p->pre_dev, &p->pre_ino);
	p->imaged = false;
	s->pfd[P_L + s->nl].fd = lfd;
	s->pfd[P_L + s->nl].events = POLLIN;
	s->next_id[s->nl] = 0;
	s->nl++;
	lfd = -1;
	send(c, "k", 1, MSG_NOSIGNAL);
out:
	if (lfd >= 0)
		close(lfd);
	close(c);
}

/* ---- the process ---- */

/* Take every notification that is ready off its listener before working on
 * any: a task is exposed to signals (EINTR, docs/static.md) only until its
 * notification is received, so receiving comes first. */
static int receive_ready(struct sup *s)
{
	int nb = 0;

	for (int i = 0; i < s->nl; i++) {
		struct pollfd *f = &s->pfd[P_L + i];
		struct pending *q = &s->batch[nb];

		if (!(f->revents & POLLIN))
			continue;
		memset(&q->n, 0, sizeof(q->n));
		if (ioctl(f->fd, SECCOMP_IOCTL_NOTIF_RECV, &q->n) != 0)
			continue;
		q->lfd = f->fd;
		q->ts = clock_ns(CLOCK_REALTIME);
		/* A filter numbers its notifications one by one: a number
		 * skipped is a call a signal took out of the queue before we
		 * got it.  Its task catches a signal: look again now. */
		if (s->next_id[i] && q->n.id != s->next_id[i])
			for (size_t k = 0; k < s->nprocs; k++)
				s->procs[k].caught_at = 0;
		s->next_id[i] = q->n.id + 1 ? q->n.id + 1 : 1;
		nb++;
	}
	return nb;
}

/* A listener whose filter no task uses any more. */
static void drop_listeners(struct sup *s)
{
	for (int i = 0; i < s->nl; i++) {
		struct pollfd *f = &s->pfd[P_L + i];

		if (!(f->revents & POLLIN) &&
		    (f->revents & (POLLHUP | POLLERR | POLLNVAL))) {
			close(f->fd);
			*f = s->pfd[P_L + --s->nl];
			s->next_id[i] = s->next_id[s->nl];
			i--;
		}
	}
}

/* A word from ctrace run on the control socket: 'q' (the session ends:
 * acknowledged once everything received so far is in the ring), or its
 * end (ctrace run died: go on recording into the ring, which the next
 * ctrace command recovers). */
static void control(struct sup *s)
{
	struct pollfd *c = &s->pfd[P_CTL];
	char b = 0;
	ssize_t n = recv(c->fd, &b, 1, MSG_DONTWAIT);

	if (n == 1 && b == 'q') {
		s->stopped = true;
		s->recording = false;
		/* no new handovers: an exec hook finds nobody, leaves a gap */
		close(s->pfd[P_SOCK].fd);
		s->pfd[P_SOCK].fd = -1;
		send(c->fd, "k", 1, MSG_NOSIGNAL);
	} else if (n == 1 || (n < 0 && errno == EAGAIN)) {
		return;
	} else {
		s->orphan = true;
	}
	close(c->fd);
	c->fd = -1;
}

/* Serve until no covered process is left once ctrace run is done or
 * gone.  Listeners report POLLHUP when no task uses their filter. */
static void serve(struct sup *s)
{
	while (s->nl > 0 || !(s->stopped || s->orphan)) {
		int r = poll(s->pfd, (nfds_t)(P_L + s->nl), -1);
		int nb;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		nb = receive_ready(s);
		if (s->pfd[P_SIG].revents & POLLIN)
			traced_stops(s);
		for (int i = 0; i < nb; i++)
			handle(s, &s->batch[i]);
		drop_listeners(s);
		if (s->pfd[P_CTL].fd >= 0 && s->pfd[P_CTL].revents)
			control(s);
		if (s->pfd[P_SOCK].fd >= 0 && (s->pfd[P_SOCK].revents & POLLIN))
			take_listener(s);
	}
}

/* Every fd but a and b closed, stdio on /dev/null. */
static void close_others(int a, int b)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	/* a and b are above 2: stdio was open when they were made */
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0u, 0);
}

/* The supervisor process: its own session (no terminal signals, no
 * SIGCHLD to anyone who waits), only the socket and the control channel
 * open.  Never returns. */
static void supervise(struct ct_ring *ring, int sock, int ctl)
{
	static struct sup s;
	static struct ct_ring r;
	sigset_t chld;

	setsid();
	prctl(PR_SET_NAME, "ctrace-sup");
	signal(SIGPIPE, SIG_IGN);
	/* ctrace's "store is corrupt" fault handler (cli/main.c) is not for
	 * this process, which never reads the store */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	close_others(sock, ctl);
	r = *ring;
	s.ring = &r;
	s.recording = true;
	s.hz = sysconf(_SC_CLK_TCK);
	if (s.hz <= 0)
		s.hz = 100;
	s.boot_rt = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
	s.pfd[P_CTL] = (struct pollfd){ .fd = ctl, .events = POLLIN };
	s.pfd[P_SOCK] = (struct pollfd){ .fd = sock, .events = POLLIN };
	/* the stops and exits of the tasks it traces (docs/static.md,
	 * "Signals") come as SIGCHLD: read from a signalfd, never handled */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	s.pfd[P_SIG] =
		(struct pollfd){ .fd = signalfd(-1, &chld,
						SFD_NONBLOCK | SFD_CLOEXEC),
				 .events = POLLIN };
	serve(&s);
	_exit(0);
}

int ct_supervisor_start(struct ct_ring *ring, uint64_t session,
			struct ct_supervisor **out)
{
	struct ct_supervisor *h = calloc(1, sizeof(*h));
	struct sockaddr_un sun;
	int sock = -1, sv[2] = { -1, -1 }, r;
	unsigned len;
	pid_t pid;

	if (!h)
		return CT_ENOMEM;
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	len = ct_static_sockaddr(&sun, geteuid(), session);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sun, len) != 0 ||
	    listen(sock, 64) != 0) {
		r = errno == EADDRINUSE ? CT_EBUSY : CT_EIO;
		goto err;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		r = CT_EIO;
		goto err;
	}
	/* A "clone" child: one whose exit sends its parent no signal.
	 * waitpid() without __WALL or __WCLONE neither reaps nor waits for
	 * such a child, so ctrace run's waitpid(-1) loop (which reaps the
	 * command's orphans and ends on ECHILD) never sees it, and nothing
	 * waits for it to start: a double fork, waited for so that the
	 * supervisor would be nobody's child, cost ~1 ms per run
	 * (docs/performance.md).  When ctrace run exits first, the kernel
	 * reparents it as an ordinary child.  Not fork(): no atfork handlers
	 * run, so the caller must be single-threaded, and the child's glibc
	 * thread descriptor keeps the parent's tid, which only matters to
	 * pthread_kill(), raise() and abort(), which supervise() never
	 * calls. */
	pid = (pid_t)syscall(SYS_clone, 0ul, NULL, NULL, NULL, 0ul);
	if (pid < 0) {
		r = CT_EIO;
		goto err;
	}
	if (pid == 0) {
		close(sv[0]);
		supervise(ring, sock, sv[1]);
	}
	close(sock);
	close(sv[1]);
	h->ctl = sv[0];
	h->pid = pid;
	*out = h;
	return 0;
err:
	if (sock >= 0)
		close(sock);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	free(h);
	return r;
}

void ct_supervisor_stop(struct ct_supervisor *h)
{
	struct pollfd pf;
	char b;

	if (!h)
		return;
	pf = (struct pollfd){ .fd = h->ctl, .events = POLLIN };
	if (send(h->ctl, "q", 1, MSG_NOSIGNAL) == 1 &&
	    poll(&pf, 1, STOP_TIMEOUT_MS) == 1)
		(void)!recv(h->ctl, &b, 1, 0);
	close(h->ctl);
	/* It may serve static processes that outlive the session: reap it
	 * only if it is done; otherwise it is reparented when we exit. */
	waitpid(h->pid, NULL, WNOHANG | __WCLONE);
	free(h);
}
