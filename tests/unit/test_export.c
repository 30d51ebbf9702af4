/* Export and text views: a session written through the store's write API,
 * rendered as SPEC's JSON / ndjson and as `ctrace timeline` / `show`
 * text, checked field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyzer/export.h"
#include "analyzer/model.h"
#include "analyzer/out.h"
#include "collector/store.h"
#include "common/codec.h"
#include "common/error.h"

#define SID 0x0123456789abcdefull
#define T0 1700000000000000000ull

struct fx {
	char dir[256];
	struct ct_store *s;
};

static void rm_rf(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

static struct ct_bytes B(const char *s) {
	return (struct ct_bytes){ s, (uint32_t)strlen(s) };
}

static void
put_event(struct ct_wbatch *b, uint64_t seq, uint32_t proc, struct ct_event *ev)
{
	char buf[CT_RECORD_MAX];
	ssize_t n;

	ev->source = CT_SOURCE_LIBC;
	ev->ts = T0 + seq * 1000000ull;
	ev->tid = ev->pid;
	n = ct_event_encode(ev, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ct_wbatch_event(b, SID, seq, proc, buf, (uint32_t)n),
			 0);
}

/* Session SID: process 100.1 (sh) starts, opens a file whose name holds
 * invalid UTF-8 and an escape character, forks 101.1 which runs rm,
 * fails an open, renames, exits; a gap closes it. */
static int setup(void **state)
{
	static char *sess_argv[] = { "sh", "-c", "rm 'a b'", NULL };
	static char *sh_argv[] = { "sh", "-c", "rm 'a b'", NULL };
	static char *rm_argv[] = { "rm", "a b\n", "\xff", NULL };
	struct fx *f = calloc(1, sizeof(*f));
	struct ct_session_info si = { 0 };
	struct ct_proc_info p1 = { 0 }, p2 = { 0 };
	struct ct_wbatch *b;
	struct ct_event ev;
	char err[512];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ct-test-export-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	setenv("CTRACE_HOME", f->dir, 1);
	setenv("HOME", f->dir, 1);
	setenv("TZ", "UTC", 1);
	setenv("NO_COLOR", "1", 1);
	assert_int_equal(ct_store_open(f->dir, 0, &f->s, err, sizeof(err)), 0);
	assert_int_equal(ct_wbatch_new(f->s, &b), 0);

	si.id = SID;
	si.state = CT_SESSION_DONE;
	si.run_pid = 1;
	si.start = T0;
	si.end = T0 + 2500000000ull;
	si.exit_code = 3;
	si.events = 7;
	si.processes = 2;
	si.lost = 5;
	si.gaps = 1;
	si.deleted = 1;
	si.name = B("job");
	si.cwd = B("/w");
	si.user = B("alice");
	si.host = B("box");
	si.git_branch = B("main");
	si.git_commit = B("abc123");
	si.version = B("0.1.0");
	si.argv_in = sess_argv;
	assert_int_equal(ct_wbatch_session(b, &si), 0);

	p1.num = 1;
	p1.pid_gen = 1;
	p1.flags = CT_PROC_EXITED | CT_PROC_SHIM;
	p1.pid = 100;
	p1.ppid = 1;
	p1.start = T0 + 1000000;
	p1.end = T0 + 6000000;
	p1.exit_code = 3;
	p1.events = 4;
	p1.image_seq = 1;
	p1.start_seq = 1;
	assert_int_equal(ct_wbatch_proc(b, SID, &p1), 0);
	p2.num = 2;
	p2.parent = 1;
	p2.pid_gen = 2; /* second instance of pid 101 in this session */
	p2.flags = CT_PROC_SIGNALED | CT_PROC_SHIM;
	p2.pid = 101;
	p2.ppid = 100;
	p2.start = T0 + 3000000;
	p2.signal = 9;
	p2.events = 3;
	p2.image_seq = 3;
	p2.start_seq = 3;
	assert_int_equal(ct_wbatch_proc(b, SID, &p2), 0);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_START;
	ev.pid = 100;
	ev.ppid = 1;
	ev.present = CT_F_ARGV | CT_F_EXE | CT_F_CWD;
	ev.argv_in = sh_argv;
	ev.exe = B("/bin/sh");
	ev.cwd = B("/w");
	put_event(b, 1, 1, &ev);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_OPEN;
	ev.pid = 100;
	ev.ppid = 1;
	ev.present = CT_F_PATH | CT_F_FLAGS;
	ev.path = B("/w/a\xff\x1b[31mb\xc3\xa9");
	ev.flags = O_WRONLY | O_CREAT | O_TRUNC;
	ev.result = 3;
	put_event(b, 2, 1, &ev);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_START;
	ev.pid = 101;
	ev.ppid = 100;
	ev.present = CT_F_ARGV | CT_F_EXE | CT_F_CWD;
	ev.argv_in = rm_argv;
	ev.exe = B("/usr/bin/rm");
	ev.cwd = B("/w/sub");
	put_event(b, 3, 2, &ev);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_OPEN;
	ev.pid = 101;
	ev.ppid = 100;
	ev.present = CT_F_PATH | CT_F_FLAGS;
	ev.path = B("/nope");
	ev.flags = O_RDONLY;
	ev.result = -2;
	ev.err = 2;
	put_event(b, 4, 2, &ev);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_RENAME;
	ev.pid = 101;
	ev.ppid = 100;
	ev.present = CT_F_PATH | CT_F_PATH2;
	ev.path = B("/w/x");
	ev.path2 = B("/w/y");
	put_event(b, 5, 2, &ev);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_EXIT;
	ev.pid = 100;
	ev.ppid = 1;
	ev.present = CT_F_EXIT;
	ev.exit_code = 3;
	put_event(b, 6, 1, &ev);

	memset(&ev, 0, sizeof(ev));
	ev.kind = CT_KIND_GAP;
	ev.pid = 100;
	ev.ppid = 1;
	ev.present = CT_F_EXE | CT_F_REASON;
	ev.exe = B("/usr/bin/static");
	ev.reason = B("static binary");
	put_event(b, 7, 1, &ev);

	assert_int_equal(ct_wbatch_commit(b, true), 0);
	ct_wbatch_free(b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ct_store_close(f->s);
	if (getenv("CT_TEST_KEEP")) /* for debugging a failure */
		fprintf(stderr, "kept %s\n", f->dir);
	else
		rm_rf(f->dir);
	free(f);
	return 0;
}

/* Export session SID in fmt into a malloc'ed string. */
static char *export_str(struct fx *f, enum ct_export_format fmt,
			struct ct_export_stats *st)
{
	struct ct_rtxn *t;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_export_write(t, SID, fmt, m, st), 0);
	ct_store_read_end(t);
	fclose(m);
	return buf;
}

static void assert_json_str(json_t *o, const char *key, const char *want)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_string(v));
	assert_int_equal(json_string_length(v), strlen(want));
	assert_memory_equal(json_string_value(v), want, strlen(want));
}

static void assert_json_int(json_t *o, const char *key, long long want)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), want);
}

static void assert_absent(json_t *o, const char *key)
{
	assert_null(json_object_get(o, key));
}

static void assert_strv(json_t *arr, const char *const *want, size_t n)
{
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_array_get(arr, i)),
				    want[i]);
}

static void test_export__ndjson_events(void **state)
{
	struct ct_export_stats st;
	char *out = export_str(*state, CT_EXPORT_NDJSON, &st);
	char *line, *save = NULL;
	json_t *ev[8];
	json_error_t je;
	int n = 0;

	assert_int_equal(st.events, 7);
	assert_int_equal(st.undecoded, 0);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_true(n < 7);
		ev[n] = json_loads(line, 0, &je);
		assert_non_null(ev[n]);
		n++;
	}
	assert_int_equal(n, 7);

	/* start: argv, exe, cwd; no result */
	assert_json_int(ev[0], "seq", 1);
	assert_json_int(ev[0], "ts", (long long)(T0 + 1000000));
	assert_json_int(ev[0], "pid", 100);
	assert_json_int(ev[0], "tid", 100);
	assert_json_int(ev[0], "ppid", 1);
	assert_json_str(ev[0], "proc", "100.1");
	assert_json_str(ev[0], "kind", "start");
	assert_json_str(ev[0], "exe", "/bin/sh");
	assert_json_str(ev[0], "cwd", "/w");
	assert_json_str(ev[0], "source", "libc");
	assert_absent(ev[0], "result");
	assert_absent(ev[0], "path");
	assert_absent(ev[0], "errno");
	{
		const char *want[] = { "sh", "-c", "rm 'a b'" };

		assert_strv(json_object_get(ev[0], "argv"), want, 3);
	}
	assert_int_equal(json_object_size(ev[0]), 11);

	/* open: invalid UTF-8 -> \xff, ESC passes as a JSON \u001b, é stays */
	assert_json_str(ev[1], "kind", "open");
	assert_json_str(ev[1], "path", "/w/a\\xff\x1b[31mb\xc3\xa9");
	assert_json_str(ev[1], "flags", "O_WRONLY|O_CREAT|O_TRUNC");
	assert_json_int(ev[1], "result", 3);
	assert_absent(ev[1], "errno");
	assert_absent(ev[1], "argv");
	{
		char *d = json_dumps(ev[1], 0);

		assert_non_null(strstr(d, "\\u001B"));
		free(d);
	}

	/* second instance of pid 101 */
	assert_json_str(ev[2], "proc", "101.2");
	{
		const char *want[] = { "rm", "a b\n", "\\xff" };

		assert_strv(json_object_get(ev[2], "argv"), want, 3);
	}

	/* failed open: result and errno name */
	assert_json_str(ev[3], "path", "/nope");
	assert_json_str(ev[3], "flags", "O_RDONLY");
	assert_json_int(ev[3], "result", -2);
	assert_json_str(ev[3], "errno", "ENOENT");

	assert_json_str(ev[4], "kind", "rename");
	assert_json_str(ev[4], "path", "/w/x");
	assert_json_str(ev[4], "path2", "/w/y");
	assert_json_int(ev[4], "result", 0);
	assert_absent(ev[4], "flags");

	assert_json_str(ev[5], "kind", "exit");
	assert_json_int(ev[5], "exit_code", 3);
	assert_absent(ev[5], "signal");
	assert_absent(ev[5], "result");

	assert_json_str(ev[6], "kind", "gap");
	assert_json_str(ev[6], "reason", "static binary");
	assert_json_str(ev[6], "exe", "/usr/bin/static");

	for (int i = 0; i < n; i++)
		json_decref(ev[i]);
	free(out);
}

static void test_export__json_document(void **state)
{
	char *out = export_str(*state, CT_EXPORT_JSON, NULL);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je), *s, *procs, *p, *evs;

	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 3);
	s = json_object_get(doc, "session");
	assert_json_str(s, "id", "0123456789abcdef");
	assert_json_str(s, "name", "job");
	assert_json_str(s, "cwd", "/w");
	assert_json_str(s, "user", "alice");
	assert_json_str(s, "host", "box");
	assert_json_str(s, "git_branch", "main");
	assert_json_str(s, "git_commit", "abc123");
	assert_json_str(s, "version", "0.1.0");
	assert_json_int(s, "start", (long long)T0);
	assert_json_int(s, "end", (long long)(T0 + 2500000000ull));
	assert_json_int(s, "exit_code", 3);
	assert_json_int(s, "events", 7);
	assert_json_int(s, "processes", 2);
	assert_json_int(s, "lost", 5);
	assert_json_int(s, "gaps", 1);
	{
		const char *want[] = { "sh", "-c", "rm 'a b'" };

		assert_strv(json_object_get(s, "argv"), want, 3);
	}

	procs = json_object_get(doc, "processes");
	assert_int_equal(json_array_size(procs), 2);
	p = json_array_get(procs, 0);
	assert_json_str(p, "proc", "100.1");
	assert_absent(p, "parent");
	assert_json_int(p, "pid", 100);
	assert_json_int(p, "ppid", 1);
	assert_json_str(p, "exe", "/bin/sh");
	assert_json_str(p, "cwd", "/w");
	assert_json_int(p, "start", (long long)(T0 + 1000000));
	assert_json_int(p, "end", (long long)(T0 + 6000000));
	assert_json_int(p, "exit_code", 3);
	assert_absent(p, "signal");
	assert_json_int(p, "events", 4);
	p = json_array_get(procs, 1);
	assert_json_str(p, "proc", "101.2");
	assert_json_str(p, "parent", "100.1");
	assert_json_str(p, "cwd", "/w/sub");
	assert_json_int(p, "signal", 9);
	assert_absent(p, "exit_code");
	assert_absent(p, "end");
	{
		const char *want[] = { "rm", "a b\n", "\\xff" };

		assert_strv(json_object_get(p, "argv"), want, 3);
	}

	evs = json_object_get(doc, "events");
	assert_int_equal(json_array_size(evs), 7);
	assert_json_int(json_array_get(evs, 6), "seq", 7);
	json_decref(doc);
	free(out);
}

static void test_export__unknown_session(void **state)
{
	struct fx *f = *state;
	struct ct_rtxn *t;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_export_write(t, 42, CT_EXPORT_JSON, m, NULL),
			 CT_ENOTFOUND);
	ct_store_read_end(t);
	fclose(m);
	free(buf);
}

static void test_export__write_error(void **state)
{
	struct fx *f = *state;
	struct ct_rtxn *t;
	FILE *full = fopen("/dev/full", "w");

	if (!full)
		skip();
	assert_int_equal(ct_store_read_begin(f->s, &t), 0);
	assert_int_equal(ct_export_write(t, SID, CT_EXPORT_NDJSON, full, NULL),
			 CT_EIO);
	ct_store_read_end(t);
	fclose(full);
}

static void test_export__text_escaping(void **state)
{
	char buf[128];
	size_t n;

	n = ct_out_term_buf(buf, sizeof(buf), "a\nb\tc\x1b[0m\x7f\xff\xc3\xa9",
			    13);
	assert_string_equal(buf, "a\\nb\\tc\\x1b[0m\\x7f\\xff\xc3\xa9");
	assert_int_equal(n, strlen(buf));
	/* C1 control U+009B (CSI) as UTF-8, an overlong '/', a surrogate */
	ct_out_term_buf(buf, sizeof(buf), "\xc2\x9b|\xc0\xaf|\xed\xa0\x80", 9);
	assert_string_equal(buf, "\\xc2\\x9b|\\xc0\\xaf|\\xed\\xa0\\x80");
	/* truncation keeps the string terminated and reports the want */
	n = ct_out_term_buf(buf, 4, "\x01\x02", 2);
	assert_string_equal(buf, "\\x0");
	assert_int_equal(n, 8);
}

static void test_export__shell_quoting(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	ct_out_shell_arg(m, "plain/path-1.c", 14);
	fputc(' ', m);
	ct_out_shell_arg(m, "a b'c", 5);
	fputc(' ', m);
	ct_out_shell_arg(m, "x\ny'\xff", 5);
	fputc(' ', m);
	ct_out_shell_arg(m, "", 0);
	fclose(m);
	assert_string_equal(buf,
			    "plain/path-1.c 'a b'\\''c' $'x\\ny\\'\\xff' ''");
	free(buf);
}

static void test_export__json_bytes(void **state)
{
	json_t *j = ct_json_bytes("a\xff\xfe\xc3\xa9\x00z", 7);

	assert_int_equal(json_string_length(j), 13);
	assert_memory_equal(json_string_value(j), "a\\xff\\xfe\xc3\xa9\0z", 13);
	json_decref(j);
}

static void test_export__parse_since(void **state)
{
	uint64_t v;

	assert_int_equal(ct_parse_duration("500ms", &v), 0);
	assert_int_equal(v, 500000000ull);
	assert_int_equal(ct_parse_duration("1.5s", &v), 0);
	assert_int_equal(v, 1500000000ull);
	assert_int_equal(ct_parse_duration("2m", &v), 0);
	assert_int_equal(v, 120000000000ull);
	assert_int_equal(ct_parse_duration("3", &v), 0);
	assert_int_equal(v, 3000000000ull);
	assert_int_equal(ct_parse_duration("3x", &v), CT_EINVAL);
	assert_int_equal(ct_parse_duration("-1s", &v), CT_EINVAL);
	assert_int_equal(ct_parse_duration("", &v), CT_EINVAL);
	assert_int_equal(ct_parse_time("2023-11-14T22:13:20Z", &v), 0);
	assert_int_equal(v, T0);
	assert_int_equal(ct_parse_time("2023-11-14T23:13:20.5+01:00", &v), 0);
	assert_int_equal(v, T0 + 500000000ull);
	assert_int_equal(ct_parse_time("2023-11-14 22:13:20", &v),
			 0); /* TZ=UTC */
	assert_int_equal(v, T0);
	assert_int_equal(ct_parse_time("2023-13-14 22:13:20", &v), CT_EINVAL);
	assert_int_equal(ct_parse_time("yesterday", &v), CT_EINVAL);
}

/* Run the real ctrace binary against the fixture's store; returns its
 * stdout (malloc'ed) and sets *rc to its exit status. */
static char *run_ctrace(const char *args, int *rc)
{
	const char *build = getenv("CT_BUILD");
	char cmd[1024], *buf = NULL;
	size_t len = 0;
	FILE *p, *m;
	int c;

	snprintf(cmd, sizeof(cmd), "%s/ctrace %s", build, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	m = open_memstream(&buf, &len);
	while ((c = fgetc(p)) != EOF)
		fputc(c, m);
	fclose(m);
	*rc = WEXITSTATUS(pclose(p));
	return buf;
}

static void test_export__timeline_text(void **state)
{
	char *out;
	int rc;

	if (!getenv("CT_BUILD"))
		skip();
	out = run_ctrace("timeline 0123456789ab", &rc);
	assert_int_equal(rc, 0);
	/* no raw control byte and no invalid UTF-8 reaches the terminal */
	for (const char *q = out; *q; q++)
		assert_true(*q == '\n' || (unsigned char)*q >= 0x20);
	assert_non_null(strstr(out,
			       "+0.001000 100.1     sh              "
			       "start    sh -c 'rm '\\''a b'\\'''  [/bin/sh]"
			       "  cwd=/w\n"));
	assert_non_null(strstr(out, "open     /w/a\\xff\\x1b[31mb\xc3\xa9 "
				    "O_WRONLY|O_CREAT|O_TRUNC 0666 = 3\n") ||
			strstr(out, "open     /w/a\\xff\\x1b[31mb\xc3\xa9 "
				    "O_WRONLY|O_CREAT|O_TRUNC = 3\n"));
	assert_non_null(strstr(out, "101.2     rm              start    rm "
				    "$'a b\\n' $'\\xff'  [/usr/bin/rm]"));
	assert_non_null(strstr(out, "open     /nope O_RDONLY = -1 ENOENT\n"));
	assert_non_null(strstr(out, "rename   /w/x -> /w/y = 0\n"));
	assert_non_null(strstr(out, "exit     3\n"));
	assert_non_null(
		strstr(out, "gap      /usr/bin/static: static binary\n"));
	assert_non_null(strstr(out, "(5 events of this session were lost)"));
	free(out);

	out = run_ctrace("timeline --kind open,rename --pid 101 latest", &rc);
	assert_int_equal(rc, 0);
	assert_null(strstr(out, "start"));
	assert_null(strstr(out, "O_TRUNC"));
	assert_non_null(strstr(out, "/nope"));
	assert_non_null(strstr(out, "rename"));
	free(out);

	out = run_ctrace("timeline --since 4ms --json", &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(strncmp(out, "{\"seq\":4,", 9), 0);
	free(out);

	out = run_ctrace("timeline --kind bogus 2>&1", &rc);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "valid kinds: start, exec"));
	free(out);
}

static void test_export__show_and_sessions(void **state)
{
	char *out;
	int rc;

	if (!getenv("CT_BUILD"))
		skip();
	out = run_ctrace("show", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "session    0123456789abcdef  (job)\n"));
	assert_non_null(strstr(out, "command    sh -c 'rm '\\''a b'\\'''\n"));
	assert_non_null(strstr(out, "git        main @ abc123\n"));
	assert_non_null(strstr(out, "start      2023-11-14 22:13:20\n"));
	assert_non_null(strstr(out, "exit       3\n"));
	assert_non_null(strstr(out, "lost       5 events known to be lost\n"));
	assert_non_null(strstr(out, "  #7 pid 100  /usr/bin/static: static "
				    "binary\n"));
	free(out);

	out = run_ctrace("sessions", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out,
			       "0123456789ab  2023-11-14 22:13:20    "
			       "2.500s  3            2         7      5"
			       "     0  [job] sh -c 'rm '\\''a b'\\'''\n"));
	free(out);

	out = run_ctrace("sessions --json", &rc);
	assert_int_equal(rc, 0);
	{
		json_error_t je;
		json_t *arr = json_loads(out, 0, &je);

		assert_non_null(arr);
		assert_int_equal(json_array_size(arr), 1);
		assert_json_str(json_array_get(arr, 0), "id",
				"0123456789abcdef");
		json_decref(arr);
	}
	free(out);

	out = run_ctrace("show not-hex 2>&1", &rc);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "'not-hex' is not a session id"));
	free(out);

	out = run_ctrace("show ffff 2>&1", &rc);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "no session matches 'ffff'"));
	free(out);
}

static void test_export__cli_export_file(void **state)
{
	struct fx *f = *state;
	char args[512], path[300], *out;
	json_error_t je;
	json_t *doc;
	int rc;

	if (!getenv("CT_BUILD"))
		skip();
	snprintf(path, sizeof(path), "%s/out.json", f->dir);
	snprintf(args, sizeof(args), "export --format json -o %s", path);
	out = run_ctrace(args, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);
	doc = json_load_file(path, 0, &je);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(doc, "events")), 7);
	json_decref(doc);

	out = run_ctrace("export --format ndjson -o /dev/full/x 2>&1", &rc);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "cannot write /dev/full/x"));
	free(out);
	out = run_ctrace("export --format xml 2>&1", &rc);
	assert_int_equal(rc, 2);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export__ndjson_events,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_export__json_document,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_export__unknown_session,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_export__write_error, setup,
						teardown),
		cmocka_unit_test(test_export__text_escaping),
		cmocka_unit_test(test_export__shell_quoting),
		cmocka_unit_test(test_export__json_bytes),
		cmocka_unit_test(test_export__parse_since),
		cmocka_unit_test_setup_teardown(test_export__timeline_text,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_export__show_and_sessions,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_export__cli_export_file,
						setup, teardown),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
