/* ct-ringcat: run a command under the shim and print what it records.
 *
 * usage: ct-ringcat [-o FILE] [-s SHIM] -- CMD [ARG...]
 *
 * Creates a private ring (in /dev/shm, removed at the end), sets the
 * environment `ctrace run` sets (LD_PRELOAD, CTRACE_*), forks and execs
 * CMD, drains the ring while CMD and its descendants run (it is their
 * subreaper) and after they exit, and prints one line per event:
 *
 *   SEQ KIND pid=P tid=T ppid=PP pstart=S [src=..] [path=..] [path2=..]
 *   [flags=..] [mode=0..] [argv=[..]] [exe=..] [addr=..] [exit=..]
 *   [signal=..] [reason=".."] [existed=..] result=R [errno=NAME]
 *
 * Bytes outside printable ASCII are shown as \xNN.  Exits with CMD's
 * status (128+N for a signal).  A debugging and test aid until
 * `ctrace run` exists; tests may diff its output.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/event.h"
#include "common/ring.h"

struct cat {
	FILE *out;
	uint64_t seq;
	uint64_t bad;
};

static void put_bytes(FILE *o, struct ct_bytes b)
{
	for (uint32_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			fputc(c, o);
		else
			fprintf(o, "\\x%02x", c);
	}
}

static void put_field(FILE *o, const char *k, struct ct_bytes b)
{
	fprintf(o, " %s=", k);
	put_bytes(o, b);
}

static int on_record(void *arg, const void *rec, uint32_t len)
{
	struct cat *c = arg;
	struct ct_event ev;
	FILE *o = c->out;
	char buf[256];
	int r;

	c->seq++;
	r = ct_event_decode(rec, len, &ev);
	if (r < 0) {
		fprintf(o, "%" PRIu64 " BAD %s len=%u\n", c->seq, ct_errname(r),
			len);
		c->bad++;
		return 0;
	}
	fprintf(o, "%" PRIu64 " %s pid=%d tid=%d ppid=%d pstart=%" PRIu64,
		c->seq, ct_kind_name(ev.kind) ? ct_kind_name(ev.kind) : "?",
		ev.pid, ev.tid, ev.ppid, ev.pstart);
	if (ev.source != CT_SOURCE_LIBC)
		fprintf(o, " src=%s",
			ct_source_name(ev.source) ? ct_source_name(ev.source)
						  : "?");
	if (ev.present & CT_F_PATH)
		put_field(o, "path", ev.path);
	if (ev.present & CT_F_PATH2)
		put_field(o, "path2", ev.path2);
	if (ev.present & CT_F_FLAGS) {
		if (ev.kind == CT_KIND_OPEN) {
			ct_open_flags_str(ev.flags, buf, sizeof(buf));
			fprintf(o, " flags=%s", buf);
		} else {
			fprintf(o, " flags=0x%x", ev.flags);
		}
	}
	if (ev.present & CT_F_MODE)
		fprintf(o, " mode=0%o", ev.mode);
	if (ev.present & CT_F_FD)
		fprintf(o, " fd=%d", ev.fd);
	if (ev.present & CT_F_ARGV) {
		uint32_t idx = 0, off = 0;
		struct ct_bytes a;

		fprintf(o, " argv=[");
		while (ct_strv_next(ev.argv_raw, ev.argc, &idx, &off, &a) ==
		       1) {
			fprintf(o, "%s\"", idx > 1 ? "," : "");
			put_bytes(o, a);
			fputc('"', o);
		}
		fputc(']', o);
	}
	if (ev.present & CT_F_ARGV_DROPPED)
		fprintf(o, " argv_dropped=%u", ev.argv_dropped);
	if (ev.present & CT_F_EXE)
		put_field(o, "exe", ev.exe);
	if (ev.present & CT_F_CWD)
		put_field(o, "cwd", ev.cwd);
	if (ev.present & CT_F_ADDR)
		put_field(o, "addr", ev.addr);
	if (ev.present & CT_F_EXIT)
		fprintf(o, " exit=%d", ev.exit_code);
	if (ev.present & CT_F_SIGNAL)
		fprintf(o, " signal=%d", ev.signal);
	if (ev.present & CT_F_REPORTER)
		fprintf(o, " reporter=%d", ev.reporter);
	if (ev.present & CT_F_PARENT_START)
		fprintf(o, " parent_start=%" PRIu64, ev.parent_start);
	if (ev.present & CT_F_EXISTED)
		fprintf(o, " existed=%u", ev.existed);
	if (ev.present & CT_F_REASON) {
		fprintf(o, " reason=\"");
		put_bytes(o, ev.reason);
		fputc('"', o);
	}
	fprintf(o, " result=%" PRId64, ev.result);
	if (ev.result < 0)
		fprintf(o, " errno=%s",
			ct_errno_name(ev.err) ? ct_errno_name(ev.err) : "?");
	fputc('\n', o);
	return 0;
}

static void drain(struct ct_ring *ring, struct cat *c)
{
	while (ct_ring_drain(ring, on_record, c, 4096) > 0)
		;
	fflush(c->out);
}

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static char *default_shim(void)
{
	static char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 64);
	char *slash;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* build/tests/ct-ringcat -> build/libctrace-preload.so */
	slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	strcpy(slash, "/libctrace-preload.so");
	return buf;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ct-ringcat [-o FILE] [-s SHIM] -- CMD [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *outpath = NULL, *shim = getenv("CTRACE_SHIM");
	char ring_path[CT_RING_NAME_MAX + 32], sess[17], proc[64];
	char preload[8192];
	struct ct_ring ring;
	struct cat c = { stdout, 0, 0 };
	uint64_t session;
	int opt, r, status = 0, code = 1;
	pid_t child, w;

	while ((opt = getopt(argc, argv, "+o:s:h")) != -1) {
		switch (opt) {
		case 'o':
			outpath = optarg;
			break;
		case 's':
			shim = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (!shim)
		shim = default_shim();
	if (!shim || shim[0] != '/' || access(shim, R_OK) != 0) {
		fprintf(stderr, "ct-ringcat: cannot find the shim (use -s)\n");
		return 2;
	}
	if (outpath && !(c.out = fopen(outpath, "we"))) {
		fprintf(stderr, "ct-ringcat: cannot open %s: %s\n", outpath,
			strerror(errno));
		return 2;
	}

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	session = (uint64_t)rand() << 32 ^ (uint64_t)rand() << 8 ^
		  (uint64_t)getpid();
	ct_ring_path(ring_path, (unsigned)getuid(), session);
	r = ct_ring_create(ring_path, 4u << 20, session, &ring);
	if (r < 0) {
		fprintf(stderr, "ct-ringcat: cannot create ring %s: %s\n",
			ring_path, ct_strerror(r));
		return 1;
	}
	snprintf(sess, sizeof(sess), "%016" PRIx64, session);
	snprintf(proc, sizeof(proc), "%d.0", (int)getpid());
	if (getenv("LD_PRELOAD") && *getenv("LD_PRELOAD"))
		snprintf(preload, sizeof(preload), "%s:%s", shim,
			 getenv("LD_PRELOAD"));
	else
		snprintf(preload, sizeof(preload), "%s", shim);
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	child = fork();
	if (child < 0) {
		perror("ct-ringcat: fork");
		goto out_ring;
	}
	if (child == 0) {
		setenv("LD_PRELOAD", preload, 1);
		setenv("CTRACE_SHIM", shim, 1);
		setenv("CTRACE_RING", ring_path, 1);
		setenv("CTRACE_SESSION", sess, 1);
		setenv("CTRACE_PROC", proc, 1);
		setenv("UV_USE_IO_URING", "0", 1);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "ct-ringcat: cannot run %s: %s\n", argv[optind],
			strerror(errno));
		_exit(127);
	}
	/* Drain while the tree runs; reap everyone (we are their subreaper)
	 * and keep the direct child's status. */
	for (;;) {
		int st;

		drain(&ring, &c);
		w = waitpid(-1, &st, WNOHANG);
		if (w == child)
			status = st;
		if (w < 0 && errno == ECHILD)
			break;
		if (w == 0)
			nap(2000000);
	}
	for (int i = 0; i < 50 && !ct_ring_empty(&ring); i++) {
		drain(&ring, &c);
		nap(2000000);
	}
	drain(&ring, &c);
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	fprintf(stderr,
		"ct-ringcat: %" PRIu64 " events, lost full=%" PRIu64
		" dead=%" PRIu64 " big=%" PRIu64 " bad=%" PRIu64 "\n",
		c.seq, (uint64_t)ring.hdr->lost_full,
		(uint64_t)ring.hdr->lost_dead, (uint64_t)ring.hdr->lost_big,
		c.bad);
out_ring:
	ct_ring_detach(&ring);
	unlink(ring_path);
	if (outpath)
		fclose(c.out);
	return code;
}
