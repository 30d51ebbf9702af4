/* ctrace timeline: one line per event, strace-like. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/export.h"
#include "analyzer/out.h"
#include "cli/cli.h"
#include "common/codec.h"
#include "common/error.h"

#define COMM_LEN 16

struct tl_ctx {
	struct ct_out *o;
	const struct ct_model *m;
	uint64_t start; /* session start: times are relative to it */
	uint32_t kinds; /* bit per enum ct_kind; 0 = all */
	int pid; /* 0 = all */
	const char *procid; /* "<pid>.<gen>" filter, or NULL */
	uint64_t since; /* absolute ns; 0 = all */
	bool json;
	/* Name of the current image of each process (by num - 1), so that
	 * each line says which program acted. */
	char (*comm)[COMM_LEN];
	uint64_t undecoded;
	int err;
};

static void set_comm(char *dst, struct ct_bytes b)
{
	const char *slash = memrchr(b.p, '/', b.len);

	if (slash) {
		b.len -= (uint32_t)(slash + 1 - b.p);
		b.p = slash + 1;
	}
	ct_out_term_buf(dst, COMM_LEN, b.p, b.len);
}

/* Keep comm[] up to date: a start event names the new image (an exec
 * line still shows the program that called exec: its start follows); a
 * process first seen without one inherits its parent's name (a fork child
 * runs its parent's program). */
static const char *comm_of(struct tl_ctx *c, uint32_t num,
			   const struct ct_event *ev)
{
	const struct ct_proc_info *pi = ct_model_proc(c->m, num);
	char *dst;

	if (!pi)
		return "?";
	dst = c->comm[num - 1];
	if (ev->kind == CT_KIND_START &&
	    (ev->present & (CT_F_EXE | CT_F_ARGV))) {
		struct ct_bytes a0 = { 0 };
		uint32_t idx = 0, off = 0;

		if (ev->present & CT_F_EXE)
			set_comm(dst, ev->exe);
		else if (ct_strv_next(ev->argv_raw, ev->argc, &idx, &off,
				      &a0) == 1)
			set_comm(dst, a0);
	}
	if (!dst[0]) {
		const struct ct_proc_info *pp = ct_model_proc(c->m, pi->parent);

		if (pp && c->comm[pp->num - 1][0])
			memcpy(dst, c->comm[pp->num - 1], COMM_LEN);
	}
	return dst[0] ? dst : "?";
}

static void put_bytes(FILE *f, struct ct_bytes b)
{
	ct_out_term(f, b.p, b.len);
}

static void put_result(struct tl_ctx *c, const struct ct_event *ev,
		       const char *lead)
{
	struct ct_out *o = c->o;

	if (ev->result >= 0) {
		fprintf(o->f, "%s= %lld", lead, (long long)ev->result);
	} else {
		int e = ev->err ? ev->err : (int)-ev->result;
		const char *name = ct_errno_name(e);

		fprintf(o->f, "%s= %s-1 ", lead, ct_out_color(o, CT_C_RED));
		if (name)
			fputs(name, o->f);
		else
			fprintf(o->f, "E%d", e);
		fputs(ct_out_color(o, CT_C_RESET), o->f);
	}
}

static enum ct_color kind_color(unsigned kind)
{
	switch (kind) {
	case CT_KIND_START:
	case CT_KIND_EXEC:
	case CT_KIND_SPAWN:
	case CT_KIND_FORK:
	case CT_KIND_EXIT:
		return CT_C_CYAN;
	case CT_KIND_UNLINK:
	case CT_KIND_RMDIR:
	case CT_KIND_RENAME:
	case CT_KIND_TRUNCATE:
		return CT_C_MAGENTA;
	case CT_KIND_CONNECT:
		return CT_C_BLUE;
	case CT_KIND_GAP:
		return CT_C_YELLOW;
	}
	return CT_C_GREEN;
}

static void print_text(struct tl_ctx *c, uint64_t seq, uint32_t proc,
		       const struct ct_event *ev)
{
	struct ct_out *o = c->o;
	FILE *f = o->f;
	const char *kind = ct_kind_name(ev->kind);
	char pid[48], flags[256];
	uint64_t rel;
	const char *sign = "+";

	if (ev->ts >= c->start) {
		rel = ev->ts - c->start;
	} else {
		rel = c->start - ev->ts;
		sign = "-";
	}
	if (!ct_model_proc_id(c->m, proc, pid, sizeof(pid)))
		snprintf(pid, sizeof(pid), "%d", ev->pid);
	fprintf(f, "%s%s%llu.%06llu%s %-9s %-15s %s%-8s%s ",
		ct_out_color(o, CT_C_DIM), sign,
		(unsigned long long)(rel / 1000000000ull),
		(unsigned long long)(rel % 1000000000ull / 1000),
		ct_out_color(o, CT_C_RESET), pid, comm_of(c, proc, ev),
		ct_out_color(o, kind_color(ev->kind)), kind ? kind : "?",
		ct_out_color(o, CT_C_RESET));

	switch (ev->kind) {
	case CT_KIND_START:
	case CT_KIND_EXEC:
	case CT_KIND_SPAWN:
		if (ev->present & CT_F_ARGV)
			ct_out_shell_argv(f, ev->argv_raw, ev->argc);
		if (ev->present & CT_F_ARGV_DROPPED)
			fprintf(f, " ...(%u args not recorded)",
				ev->argv_dropped);
		if (ev->present & CT_F_EXE) {
			fputs("  [", f);
			put_bytes(f, ev->exe);
			fputc(']', f);
		}
		if (ev->kind == CT_KIND_START && (ev->present & CT_F_CWD)) {
			fputs("  cwd=", f);
			put_bytes(f, ev->cwd);
		}
		if (ev->kind != CT_KIND_START)
			put_result(c, ev, " ");
		break;
	case CT_KIND_EXIT:
		if (ev->present & CT_F_SIGNAL) {
			const char *s = sigabbrev_np(ev->signal);

			fprintf(f, "%skilled by SIG%s%s",
				ct_out_color(o, CT_C_RED), s ? s : "?",
				ct_out_color(o, CT_C_RESET));
			if (!s)
				fprintf(f, " (%d)", ev->signal);
		} else if (ev->present & CT_F_EXIT) {
			fprintf(f, "%d", ev->exit_code);
		} else {
			fputs("?", f);
		}
		break;
	case CT_KIND_FORK:
		put_result(c, ev, "");
		break;
	case CT_KIND_GAP:
		if (ev->present & CT_F_EXE)
			put_bytes(f, ev->exe);
		else if (ev->present & CT_F_PATH)
			put_bytes(f, ev->path);
		if (ev->present & CT_F_REASON) {
			fputs(": ", f);
			put_bytes(f, ev->reason);
		}
		break;
	case CT_KIND_CONNECT:
		if (ev->present & CT_F_ADDR)
			put_bytes(f, ev->addr);
		put_result(c, ev, " ");
		break;
	default:
		if (ev->present & CT_F_PATH)
			put_bytes(f, ev->path);
		if (ev->present & CT_F_PATH2) {
			fputs(" -> ", f);
			put_bytes(f, ev->path2);
		}
		if ((ev->present & CT_F_FLAGS) && ev->kind == CT_KIND_OPEN) {
			ct_open_flags_str(ev->flags, flags, sizeof(flags));
			fprintf(f, " %s", flags);
		}
		if ((ev->present & CT_F_MODE) &&
		    (ev->kind == CT_KIND_CHMOD || ev->kind == CT_KIND_MKDIR ||
		     ((ev->flags & 0100) && ev->kind == CT_KIND_OPEN)))
			fprintf(f, " %04o", ev->mode);
		put_result(c, ev, " ");
		break;
	}
	(void)seq;
	fputc('\n', f);
}

static int tl_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		    uint32_t len)
{
	struct tl_ctx *c = arg;
	struct ct_event ev;
	char id[48];

	if (ct_event_decode(rec, len, &ev) != 0) {
		c->undecoded++;
		return 0;
	}
	/* comm[] follows every event, filtered or not. */
	if (!c->json)
		comm_of(c, proc, &ev);
	if (c->kinds && !(c->kinds & (1u << ev.kind)))
		return 0;
	if (c->pid && ev.pid != c->pid)
		return 0;
	if (c->procid && (!ct_model_proc_id(c->m, proc, id, sizeof(id)) ||
			  strcmp(id, c->procid) != 0))
		return 0;
	if (c->since && ev.ts < c->since)
		return 0;
	if (c->json) {
		json_t *j = ct_export_event(c->m, seq, proc, &ev);

		if (!j) {
			c->err = CT_ENOMEM;
			return 1;
		}
		json_dumpf(j, c->o->f, JSON_COMPACT);
		fputc('\n', c->o->f);
		json_decref(j);
	} else {
		print_text(c, seq, proc, &ev);
	}
	/* The pager quit or the disk filled: stop reading. */
	return ferror(c->o->f) ? 1 : 0;
}

static int parse_kinds(struct ct_cli *cli, const char *arg, uint32_t *kinds)
{
	const char *p = arg, *comma;

	for (;;) {
		size_t n;
		unsigned k;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		k = ct_kind_from_name(p, n);
		if (k == CT_KIND_NONE || k >= 32) {
			fprintf(stderr,
				"ctrace timeline: unknown kind '%.*s'; "
				"valid kinds:",
				(int)n, p);
			for (unsigned i = 1; i < CT_KIND__COUNT; i++)
				fprintf(stderr, "%s %s", i > 1 ? "," : "",
					ct_kind_name(i));
			fprintf(stderr, "\nusage: %s\n", cli->cmd->usage);
			return CT_EXIT_USAGE;
		}
		*kinds |= 1u << k;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int cmd_timeline(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "pid", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tl_ctx c = { 0 };
	struct ct_session_info si;
	struct ct_rtxn *t = NULL;
	struct ct_model m = { 0 };
	const char *spec = NULL, *since = NULL;
	uint64_t id, v;
	struct ct_out o;
	char *end;
	long pid;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":k:p:s:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (parse_kinds(cli, optarg, &c.kinds))
				return CT_EXIT_USAGE;
			break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (end != optarg && *end == '.' && pid > 0 &&
			    strtol(end + 1, &end, 10) > 0 && !*end) {
				c.procid = optarg; /* "<pid>.<gen>" */
				break;
			}
			if (*end || end == optarg || pid <= 0 ||
			    pid > 0x7fffffff)
				return ct_cli_usage_error(
					cli,
					"--pid needs a process id (or PID.GEN), "
					"not '%s'",
					optarg);
			c.pid = (int)pid;
			break;
		case 's':
			since = optarg;
			if (ct_parse_duration(since, &v) < 0 &&
			    ct_parse_time(since, &v) < 0)
				return ct_cli_usage_error(
					cli,
					"--since needs a duration from the "
					"session start (500ms, 1.5s, 2m) or a "
					"time (YYYY-MM-DD HH:MM:SS), not '%s'",
					since);
			break;
		case 'j':
			c.json = true;
			break;
		default:
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
		}
	}
	rc = ct_cli_session_operand(cli, argc, argv, &spec);
	if (rc)
		return rc;
	rc = ct_cli_open_session(cli, spec, &t, &id);
	if (rc)
		return rc;
	rc = ct_store_session_get(t, id, &si);
	if (rc == 0)
		rc = ct_model_load(t, id, &m);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_USAGE, "cannot read session: %s",
				 ct_strerror(rc));
		goto out_txn;
	}
	c.m = &m;
	c.start = si.start;
	if (since) {
		if (ct_parse_duration(since, &v) == 0)
			c.since = si.start + v;
		else
			ct_parse_time(since, &c.since);
	}
	c.comm = calloc(m.nprocs ? m.nprocs : 1, sizeof(*c.comm));
	if (!c.comm) {
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
		goto out_model;
	}
	if (c.json) {
		memset(&o, 0, sizeof(o));
		o.f = stdout;
	} else {
		ct_out_open(&o, true);
	}
	c.o = &o;
	rc = ct_store_events_foreach(t, id, 0, tl_event, &c);
	if (!c.json && si.lost)
		fprintf(o.f, "%s(%llu events of this session were lost)%s\n",
			ct_out_color(&o, CT_C_RED), (unsigned long long)si.lost,
			ct_out_color(&o, CT_C_RESET));
	if (ct_out_close(&o) < 0 && !o.pager)
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "error writing output");
	else if (c.err || rc < 0)
		rc = ct_cli_fail(CT_EXIT_FINDINGS, "cannot read events: %s",
				 ct_strerror(c.err ? c.err : rc));
	else
		rc = CT_EXIT_OK;
	if (c.undecoded)
		fprintf(stderr,
			"ctrace: warning: %llu events could not be decoded "
			"and were skipped\n",
			(unsigned long long)c.undecoded);
	free(c.comm);
out_model:
	ct_model_release(&m);
out_txn:
	if (t)
		ct_store_read_end(t);
	return rc;
}
