/* ctrace sessions: the recorded sessions, newest first. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer/export.h"
#include "analyzer/out.h"
#include "cli/cli.h"
#include "common/error.h"

struct list_ctx {
	struct ct_out *o;
	json_t *arr;
	long limit, n;
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "0", "sig 9", "running", "?" (ended without a known status). */
static void fmt_exit(char *buf, size_t cap, const struct ct_session_info *si)
{
	if (si->signal)
		snprintf(buf, cap, "sig %d", si->signal);
	else if (si->state == CT_SESSION_RUNNING)
		snprintf(buf, cap, "running");
	else if (si->exit_code >= 0)
		snprintf(buf, cap, "%d", si->exit_code);
	else
		snprintf(buf, cap, "?");
}

static int list_one(void *arg, const struct ct_session_info *si)
{
	struct list_ctx *c = arg;
	struct ct_out *o = c->o;
	char id[17], start[32], dur[32], ex[32];
	uint64_t end;

	if (c->limit >= 0 && c->n >= c->limit)
		return 1;
	c->n++;
	if (c->arr) {
		json_t *j = ct_export_session(si);

		if (!j || json_array_append_new(c->arr, j) < 0) {
			c->err = CT_ENOMEM;
			return 1;
		}
		return 0;
	}
	ct_export_session_id(si->id, id);
	id[12] = '\0';
	ct_fmt_time(start, sizeof(start), si->start);
	end = si->end ? si->end : now_ns();
	ct_fmt_duration(dur, sizeof(dur),
			end > si->start ? end - si->start : 0);
	fmt_exit(ex, sizeof(ex), si);
	if (c->n == 1)
		fprintf(o->f,
			"%s%-12s  %-19s  %8s  %-7s  %5s  %8s  %5s  %4s  %s%s\n",
			ct_out_color(o, CT_C_BOLD), "ID", "START", "DURATION",
			"EXIT", "PROCS", "EVENTS", "LOST", "HITS", "COMMAND",
			ct_out_color(o, CT_C_RESET));
	fprintf(o->f,
		"%s%s%s  %-19s  %8s  %-7s  %5llu  %8llu  %s%5llu%s  %4llu  ",
		ct_out_color(o, CT_C_YELLOW), id, ct_out_color(o, CT_C_RESET),
		start, dur, ex, (unsigned long long)si->processes,
		(unsigned long long)si->events,
		si->lost ? ct_out_color(o, CT_C_RED) : "",
		(unsigned long long)si->lost,
		si->lost ? ct_out_color(o, CT_C_RESET) : "",
		(unsigned long long)si->rule_hits);
	if (si->name.len) {
		fputc('[', o->f);
		ct_out_term(o->f, si->name.p, si->name.len);
		fputs("] ", o->f);
	}
	ct_out_shell_argv(o->f, si->argv_raw, si->argc);
	fputc('\n', o->f);
	return 0;
}

int cmd_sessions(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct list_ctx c = { .limit = -1 };
	struct ct_rtxn *t = NULL;
	struct ct_out o;
	bool json = false;
	char *end;
	int ch, rc = 0;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":jn:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = true;
			break;
		case 'n':
			c.limit = strtol(optarg, &end, 10);
			if (*end || end == optarg || c.limit < 0 ||
			    c.limit == LONG_MAX)
				return ct_cli_usage_error(
					cli, "--limit needs a count, not '%s'",
					optarg);
			break;
		default:
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ct_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);

	if (json) {
		c.arr = json_array();
		if (!c.arr)
			return ct_cli_fail(CT_EXIT_FINDINGS, "out of memory");
		memset(&o, 0, sizeof(o));
		o.f = stdout;
	} else {
		ct_out_open(&o, true);
	}
	c.o = &o;
	if (cli->store) {
		rc = ct_store_read_begin(cli->store, &t);
		if (rc == 0) {
			rc = ct_store_sessions_foreach(t, list_one, &c);
			if (rc > 0)
				rc = 0;
		}
	}
	if (rc == 0 && c.err)
		rc = c.err;
	if (rc == 0 && json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	if (t && ct_store_damaged(t))
		fprintf(stderr,
			"ctrace: %llu session record(s) in %s could not be "
			"read and were skipped (damaged, or written by a "
			"newer ctrace: move the store aside or set "
			"CTRACE_HOME to another folder to start afresh)\n",
			(unsigned long long)ct_store_damaged(t),
			cli->store_dir);
	if (t)
		ct_store_read_end(t);
	json_decref(c.arr);
	if (!json && ct_out_close(&o) < 0 && rc == 0)
		rc = CT_EIO;
	if (rc < 0)
		return ct_cli_fail(CT_EXIT_FINDINGS,
				   "cannot list sessions in %s: %s",
				   cli->store_dir,
				   cli->store ? ct_store_errmsg(cli->store)
					      : ct_strerror(rc));
	return CT_EXIT_OK;
}
