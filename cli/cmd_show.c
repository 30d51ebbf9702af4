/* ctrace show: everything known about one session. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "analyzer/export.h"
#include "analyzer/out.h"
#include "cli/cli.h"
#include "common/codec.h"
#include "common/error.h"

#define SHOW_GAPS_MAX 50

struct gap_ctx {
	struct ct_out *o;
	const struct ct_model *m;
	json_t *arr; /* --json: gap event objects */
	uint64_t found;
	uint64_t want; /* the session's gap count: stop when all seen */
	int err;
};

static int gap_one(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		   uint32_t len)
{
	struct gap_ctx *c = arg;
	struct ct_event ev;

	if (ct_event_decode(rec, len, &ev) != 0 || ev.kind != CT_KIND_GAP)
		return 0;
	c->found++;
	if (c->arr) {
		json_t *j = ct_export_event(c->m, seq, proc, &ev);

		if (!j || json_array_append_new(c->arr, j) < 0) {
			c->err = CT_ENOMEM;
			return 1;
		}
	} else if (c->found <= SHOW_GAPS_MAX) {
		fprintf(c->o->f, "  #%llu pid %d  ", (unsigned long long)seq,
			ev.pid);
		if (ev.present & CT_F_EXE)
			ct_out_term(c->o->f, ev.exe.p, ev.exe.len);
		else if (ev.present & CT_F_PATH)
			ct_out_term(c->o->f, ev.path.p, ev.path.len);
		else
			fputs("?", c->o->f);
		fputs(": ", c->o->f);
		if (ev.present & CT_F_REASON)
			ct_out_term(c->o->f, ev.reason.p, ev.reason.len);
		else
			fputs("(no reason recorded)", c->o->f);
		fputc('\n', c->o->f);
	}
	return c->found >= c->want && c->want ? 1 : 0;
}

static void field(struct ct_out *o, const char *name)
{
	fprintf(o->f, "%s%-10s%s ", ct_out_color(o, CT_C_BOLD), name,
		ct_out_color(o, CT_C_RESET));
}

static void field_bytes(struct ct_out *o, const char *name, struct ct_bytes b)
{
	field(o, name);
	if (b.len)
		ct_out_term(o->f, b.p, b.len);
	else
		fputs("-", o->f);
	fputc('\n', o->f);
}

static bool pid_alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void show_text(struct ct_out *o, const struct ct_session_info *si)
{
	char id[17], buf[64];
	const char *sig;

	ct_export_session_id(si->id, id);
	field(o, "session");
	fprintf(o->f, "%s%s%s", ct_out_color(o, CT_C_YELLOW), id,
		ct_out_color(o, CT_C_RESET));
	if (si->name.len) {
		fputs("  (", o->f);
		ct_out_term(o->f, si->name.p, si->name.len);
		fputc(')', o->f);
	}
	fputc('\n', o->f);
	field(o, "command");
	ct_out_shell_argv(o->f, si->argv_raw, si->argc);
	fputc('\n', o->f);
	field_bytes(o, "cwd", si->cwd);
	field_bytes(o, "user", si->user);
	field_bytes(o, "host", si->host);
	if (si->git_branch.len || si->git_commit.len) {
		field(o, "git");
		ct_out_term(o->f, si->git_branch.p, si->git_branch.len);
		if (si->git_commit.len) {
			fputs(si->git_branch.len ? " @ " : "", o->f);
			ct_out_term(o->f, si->git_commit.p, si->git_commit.len);
		}
		fputc('\n', o->f);
	}
	field(o, "start");
	ct_fmt_time(buf, sizeof(buf), si->start);
	fprintf(o->f, "%s\n", buf);
	field(o, "end");
	if (si->end) {
		ct_fmt_time(buf, sizeof(buf), si->end);
		fprintf(o->f, "%s", buf);
		ct_fmt_duration(buf, sizeof(buf),
				si->end > si->start ? si->end - si->start : 0);
		fprintf(o->f, "  (took %s)\n", buf);
	} else {
		fputs("-\n", o->f);
	}
	field(o, "exit");
	if (si->signal) {
		sig = sigabbrev_np(si->signal);
		fprintf(o->f, "%skilled by signal %d%s%s%s\n",
			ct_out_color(o, CT_C_RED), si->signal,
			sig ? " (SIG" : "", sig ? sig : "", sig ? ")" : "");
		fputs(ct_out_color(o, CT_C_RESET), o->f);
	} else if (si->state == CT_SESSION_RUNNING) {
		fputs("- (still running)\n", o->f);
	} else if (si->exit_code >= 0) {
		fprintf(o->f, "%s%d%s\n",
			ct_out_color(o, si->exit_code ? CT_C_RED : CT_C_GREEN),
			si->exit_code, ct_out_color(o, CT_C_RESET));
	} else {
		fputs("unknown\n", o->f);
	}
	field(o, "state");
	if (si->state == CT_SESSION_RUNNING && pid_alive(si->run_pid))
		fprintf(o->f, "running (collected by ctrace run pid %d)\n",
			si->run_pid);
	else if (si->state == CT_SESSION_RUNNING)
		/* The dispatcher recovered every ring it could before this
		 * command: this one left none (its ctrace run was killed
		 * before its first drain, or the ring was removed). */
		fprintf(o->f,
			"ended without finishing: its ctrace run (pid %d) is "
			"gone and left no ring to recover\n",
			si->run_pid);
	else if (si->state == CT_SESSION_RECOVERED)
		fputs("recovered (its ctrace run died; the ring was drained "
		      "afterwards)\n",
		      o->f);
	else if (si->state == CT_SESSION_INCOMPLETE)
		fputs("incomplete (the store could not take every event: "
		      "those after the failure are counted lost)\n",
		      o->f);
	else
		fputs("done\n", o->f);
	field(o, "processes");
	fprintf(o->f, "%llu\n", (unsigned long long)si->processes);
	field(o, "events");
	fprintf(o->f, "%llu\n", (unsigned long long)si->events);
	field(o, "lost");
	if (si->lost)
		fprintf(o->f, "%s%llu events known to be lost%s\n",
			ct_out_color(o, CT_C_RED), (unsigned long long)si->lost,
			ct_out_color(o, CT_C_RESET));
	else
		fputs("0\n", o->f);
	field(o, "deleted");
	fprintf(o->f, "%llu\n", (unsigned long long)si->deleted);
	field(o, "rule hits");
	fprintf(o->f, "%llu\n", (unsigned long long)si->rule_hits);
	field(o, "version");
	fprintf(o->f, "%.*s\n", (int)si->version.len, si->version.p);
	field(o, "gaps");
	fprintf(o->f, "%s%llu%s%s\n",
		si->gaps ? ct_out_color(o, CT_C_YELLOW) : "",
		(unsigned long long)si->gaps,
		si->gaps ? ct_out_color(o, CT_C_RESET) : "",
		si->gaps ? " (processes or calls that could not be traced):"
			 : "");
}

#define SHOW_RAW_MAX 20

/* Per process: did its shim capture raw syscalls (Syscall User Dispatch)
 * or only libc calls?  Processes no shim entered are the gaps above. */
/* The capture flags of the image p runs.  A fork child that has not
 * started an image of its own runs its parent's (the collector gives it
 * the parent's image_seq), with the same shim and, since fork copies
 * Syscall User Dispatch, the same capture. */
static uint32_t proc_tier(const struct ct_model *m,
			  const struct ct_proc_info *p)
{
	const uint32_t tier = CT_PROC_SHIM | CT_PROC_RAW | CT_PROC_SECCOMP;

	for (size_t guard = m->nprocs; p && guard--;) {
		const struct ct_proc_info *up;

		if (p->flags & (CT_PROC_SHIM | CT_PROC_SECCOMP))
			return p->flags & tier;
		up = ct_model_proc(m, p->parent);
		if (!p->image_seq || !up || up->image_seq != p->image_seq)
			break;
		p = up;
	}
	return 0;
}

static bool proc_traced(uint32_t tier)
{
	return tier & (CT_PROC_SHIM | CT_PROC_SECCOMP);
}

/* Every target syscall of the process is seen: its shim armed Syscall
 * User Dispatch, or it is a static image under the seccomp supervisor
 * (docs/static.md). */
static bool proc_covered(uint32_t tier)
{
	return (tier & (CT_PROC_RAW | CT_PROC_SECCOMP)) != 0;
}

static const char *tier_name(uint32_t tier)
{
	return (tier & CT_PROC_SECCOMP) ? "static (seccomp)"
	       : (tier & CT_PROC_RAW)	? "raw+libc"
					: "libc only";
}

/* The executable of p's image, or NULL. */
static bool proc_exe(struct ct_rtxn *t, uint64_t id,
		     const struct ct_proc_info *p, struct ct_event *ev)
{
	const void *rec;
	uint32_t proc, len;

	return p->image_seq &&
	       ct_store_event_get(t, id, p->image_seq, &proc, &rec, &len) ==
		       0 &&
	       ct_event_decode(rec, len, ev) == 0 && (ev->present & CT_F_EXE);
}

static void show_raw_line(struct ct_out *o, struct ct_rtxn *t, uint64_t id,
			  const struct ct_model *m,
			  const struct ct_proc_info *p, uint32_t tier)
{
	struct ct_event ev;
	char pid[48];

	ct_model_proc_id(m, p->num, pid, sizeof(pid));
	if (tier & CT_PROC_SECCOMP)
		fprintf(o->f, "  %-12s %-16s ", pid, tier_name(tier));
	else if (tier & CT_PROC_RAW)
		fprintf(o->f, "  %-12s %-12s ", pid, tier_name(tier));
	else
		fprintf(o->f, "  %-12s %s%-12s%s ", pid,
			ct_out_color(o, CT_C_YELLOW), tier_name(tier),
			ct_out_color(o, CT_C_RESET));
	if (proc_exe(t, id, p, &ev))
		ct_out_term(o->f, ev.exe.p, ev.exe.len);
	else
		fputs("?", o->f);
	fputc('\n', o->f);
}

/* show --json: "capture", every traced process with its tier. */
static json_t *capture_json(struct ct_rtxn *t, uint64_t id,
			    const struct ct_model *m)
{
	json_t *arr = json_array();
	char pid[48];

	for (size_t i = 0; arr && i < m->nprocs; i++) {
		const struct ct_proc_info *p = &m->procs[i];
		uint32_t tier = proc_tier(m, p);
		struct ct_event ev;
		json_t *o;

		if (!p->num || !proc_traced(tier))
			continue;
		ct_model_proc_id(m, p->num, pid, sizeof(pid));
		o = json_pack("{s:s, s:s}", "proc", pid, "capture",
			      tier_name(tier));
		if (o && proc_exe(t, id, p, &ev) &&
		    json_object_set_new(o, "exe",
					ct_json_bytes(ev.exe.p, ev.exe.len)) <
			    0) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

/* The capture tier of every traced process.  A big session would flood
 * the view, so unless all is set it lists SHOW_RAW_MAX lines, those
 * without raw capture first: they are the ones whose raw syscalls were
 * not seen. */
static void show_raw(struct ct_out *o, struct ct_rtxn *t, uint64_t id,
		     const struct ct_model *m, bool all)
{
	size_t on = 0, shim = 0, listed = 0;

	for (size_t i = 0; i < m->nprocs; i++) {
		uint32_t tier = proc_tier(m, &m->procs[i]);

		if (!m->procs[i].num || !proc_traced(tier))
			continue;
		shim++;
		on += proc_covered(tier);
	}
	field(o, "raw calls");
	fprintf(o->f, "captured in %zu of %zu traced processes%s\n", on, shim,
		shim ? ":" : "");
	for (int covered = 0; covered <= 1; covered++) {
		for (size_t i = 0; i < m->nprocs; i++) {
			const struct ct_proc_info *p = &m->procs[i];
			uint32_t tier = proc_tier(m, p);

			if (!p->num || !proc_traced(tier) ||
			    proc_covered(tier) != covered)
				continue;
			if (!all && listed == SHOW_RAW_MAX) {
				fprintf(o->f,
					"  ... and %zu more (ctrace show "
					"--all)\n",
					shim - listed);
				return;
			}
			listed++;
			show_raw_line(o, t, id, m, p, tier);
		}
	}
}

int cmd_show(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct gap_ctx g = { 0 };
	struct ct_session_info si;
	struct ct_rtxn *t = NULL;
	struct ct_model m = { 0 };
	const char *spec = NULL;
	struct ct_out o;
	bool json = false, all = false;
	uint64_t id;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":jah", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'a')
			all = true;
		else
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
	}
	if (optind < argc)
		spec = argv[optind++];
	if (optind < argc)
		return ct_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);
	if (cli->store && (rc = ct_store_read_begin(cli->store, &t)) < 0)
		return ct_cli_fail(CT_EXIT_USAGE, "%s",
				   ct_store_errmsg(cli->store));
	rc = ct_cli_session(cli, t, spec, &id);
	if (rc)
		goto out_txn;
	rc = ct_store_session_get(t, id, &si);
	if (rc == 0)
		rc = ct_model_load(t, id, &m);
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_USAGE, "cannot read session: %s",
				 ct_strerror(rc));
		goto out_txn;
	}
	g.m = &m;
	g.want = si.gaps;
	if (json) {
		json_t *j = ct_export_session(&si);

		g.arr = json_array();
		if (j && g.arr && si.gaps)
			ct_store_events_foreach(t, id, 0, gap_one, &g);
		if (!j || !g.arr || g.err ||
		    json_object_set_new(j, "gap_events", g.arr) < 0 ||
		    json_object_set_new(j, "capture", capture_json(t, id, &m)) <
			    0) {
			json_decref(j);
			rc = ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
			goto out_model;
		}
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
		rc = CT_EXIT_OK;
		goto out_model;
	}
	ct_out_open(&o, true);
	g.o = &o;
	show_text(&o, &si);
	if (si.gaps) {
		ct_store_events_foreach(t, id, 0, gap_one, &g);
		if (g.found > SHOW_GAPS_MAX)
			fprintf(o.f,
				"  ... and %llu more (ctrace timeline --kind "
				"gap)\n",
				(unsigned long long)(g.found - SHOW_GAPS_MAX));
	}
	show_raw(&o, t, id, &m, all);
	rc = ct_out_close(&o) < 0 ? CT_EXIT_FINDINGS : CT_EXIT_OK;
out_model:
	ct_model_release(&m);
out_txn:
	if (t)
		ct_store_read_end(t);
	return rc;
}
