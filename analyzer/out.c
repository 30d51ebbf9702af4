/* Terminal and JSON output helpers: escaping, colour, pager, times. */
#include "analyzer/out.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/error.h"

extern char **environ;

/* Length of the valid UTF-8 sequence at p (1-4) with its code point, or 0
 * when the bytes there are not valid UTF-8 (overlong forms, surrogates and
 * code points above U+10FFFF are invalid, as in RFC 3629). */
static size_t utf8_seq(const unsigned char *p, size_t len, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

/* A small growable-or-fixed sink so one escaper serves FILE* and buffers. */
struct sink {
	FILE *f;
	char *buf;
	size_t cap, len;
};

static void sink_put(struct sink *s, const char *p, size_t n)
{
	if (s->f) {
		fwrite(p, 1, n, s->f);
		return;
	}
	if (s->buf && s->len + 1 < s->cap) {
		size_t room = s->cap - 1 - s->len;

		memcpy(s->buf + s->len, p, n < room ? n : room);
		s->buf[s->len + (n < room ? n : room)] = '\0';
	}
	s->len += n;
}

static void sink_hex(struct sink *s, unsigned char b)
{
	char esc[5];

	snprintf(esc, sizeof(esc), "\\x%02x", b);
	sink_put(s, esc, 4);
}

/* Terminal escaping; in_ansi_c also escapes ' and \ for $'...' quoting. */
static void term_escape(struct sink *s, const char *p, size_t len,
			bool in_ansi_c)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(u + i, len - i, &cp);
		if (n == 0) {
			sink_hex(s, u[i]);
			i++;
			continue;
		}
		if (is_control(cp)) {
			if (cp == '\n')
				sink_put(s, "\\n", 2);
			else if (cp == '\t')
				sink_put(s, "\\t", 2);
			else if (cp == '\r')
				sink_put(s, "\\r", 2);
			else if (n == 1)
				sink_hex(s, u[i]);
			else /* C1 control: show its UTF-8 bytes */
				for (size_t k = 0; k < n; k++)
					sink_hex(s, u[i + k]);
		} else if (in_ansi_c && (cp == '\'' || cp == '\\')) {
			sink_put(s, "\\", 1);
			sink_put(s, p + i, 1);
		} else {
			sink_put(s, p + i, n);
		}
		i += n;
	}
}

void ct_out_term(FILE *f, const char *p, size_t len)
{
	struct sink s = { .f = f };

	term_escape(&s, p, len, false);
}

size_t ct_out_term_buf(char *buf, size_t cap, const char *p, size_t len)
{
	struct sink s = { .buf = buf, .cap = cap };

	if (cap)
		buf[0] = '\0';
	term_escape(&s, p, len, false);
	return s.len;
}

static bool needs_escape(const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_seq(u + i, len - i, &cp);
		if (n == 0 || is_control(cp))
			return true;
		i += n;
	}
	return false;
}

static bool shell_safe(const char *p, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x80 || isalnum(c))
			continue;
		if (!strchr("_-./:=@%+,", c))
			return false;
	}
	/* '=' in the first word would read as an assignment; '~' and '#' at
	 * the start are excluded above anyway. */
	return true;
}

void ct_out_shell_arg(FILE *f, const char *p, size_t len)
{
	struct sink s = { .f = f };

	if (needs_escape(p, len)) {
		fputs("$'", f);
		term_escape(&s, p, len, true);
		fputc('\'', f);
	} else if (shell_safe(p, len)) {
		fwrite(p, 1, len, f);
	} else {
		fputc('\'', f);
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '\'')
				fputs("'\\''", f);
			else
				fputc(p[i], f);
		}
		fputc('\'', f);
	}
}

void ct_out_shell_argv(FILE *f, struct ct_bytes raw, uint32_t count)
{
	uint32_t idx = 0, off = 0;
	struct ct_bytes a;
	bool first = true;

	while (ct_strv_next(raw, count, &idx, &off, &a) == 1) {
		if (!first)
			fputc(' ', f);
		ct_out_shell_arg(f, a.p, a.len);
		first = false;
	}
}

/* Escape into a new buffer; *olen gets the length (embedded NULs are
 * valid UTF-8 and stay). */
static char *utf8_escape(const char *p, size_t len, size_t *olen)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0, n, o = 0;
	uint32_t cp;
	char *out;

	/* Worst case every byte becomes four characters. */
	out = malloc(len * 4 + 1);
	if (!out)
		return NULL;
	while (i < len) {
		n = utf8_seq(u + i, len - i, &cp);
		if (n == 0) {
			snprintf(out + o, 5, "\\x%02x", u[i]);
			o += 4;
			i++;
			continue;
		}
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*olen = o;
	return out;
}

char *ct_utf8_escape(const char *p, size_t len)
{
	size_t n;

	return utf8_escape(p, len, &n);
}

json_t *ct_json_bytes(const char *p, size_t len)
{
	size_t n;
	char *s;
	json_t *j;

	s = utf8_escape(p, len, &n);
	if (!s)
		return NULL;
	j = json_stringn(s, n);
	free(s);
	return j;
}

json_t *ct_json_strv(struct ct_bytes raw, uint32_t count)
{
	uint32_t idx = 0, off = 0;
	struct ct_bytes a;
	json_t *arr = json_array(), *s;
	int r;

	if (!arr)
		return NULL;
	while ((r = ct_strv_next(raw, count, &idx, &off, &a)) == 1) {
		s = ct_json_bytes(a.p, a.len);
		if (!s || json_array_append_new(arr, s) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* --- colour and pager --- */

static const char *const ansi[] = {
	[CT_C_RESET] = "\033[0m",  [CT_C_BOLD] = "\033[1m",
	[CT_C_DIM] = "\033[2m",	   [CT_C_RED] = "\033[31m",
	[CT_C_GREEN] = "\033[32m", [CT_C_YELLOW] = "\033[33m",
	[CT_C_BLUE] = "\033[34m",  [CT_C_MAGENTA] = "\033[35m",
	[CT_C_CYAN] = "\033[36m",
};

const char *ct_out_color(const struct ct_out *o, enum ct_color c)
{
	return o->color ? ansi[c] : "";
}

/* Start the pager with stdout as its output and a pipe as its input.
 * The command is split on blanks and run directly: no shell ever sees a
 * string that could have come from a trace. */
static int start_pager(struct ct_out *o, const char *cmd)
{
	char *copy, *args[32], *save = NULL, *tok;
	posix_spawn_file_actions_t fa;
	int fds[2], n = 0, rc;
	pid_t pid;
	FILE *f;

	copy = strdup(cmd);
	if (!copy)
		return CT_ENOMEM;
	for (tok = strtok_r(copy, " \t", &save); tok && n < 31;
	     tok = strtok_r(NULL, " \t", &save))
		args[n++] = tok;
	args[n] = NULL;
	if (n == 0 || strcmp(args[0], "cat") == 0) {
		free(copy);
		return CT_ENOTFOUND;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(copy);
		return CT_EIO;
	}
	/* less reads $LESS; give it git's defaults unless the user set any. */
	setenv("LESS", "FRX", 0);
	setenv("LV", "-c", 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
	rc = posix_spawnp(&pid, args[0], &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	free(copy);
	if (rc != 0) {
		close(fds[1]);
		return CT_ENOTFOUND;
	}
	f = fdopen(fds[1], "w");
	if (!f) {
		close(fds[1]);
		waitpid(pid, NULL, 0);
		return CT_ENOMEM;
	}
	/* The user quitting the pager early is not an error. */
	signal(SIGPIPE, SIG_IGN);
	o->f = f;
	o->pager = pid;
	return 0;
}

int ct_out_open(struct ct_out *o, bool paged)
{
	const char *term = getenv("TERM"), *nc = getenv("NO_COLOR");
	const char *pager;
	bool tty = isatty(STDOUT_FILENO);

	memset(o, 0, sizeof(*o));
	o->f = stdout;
	o->color = tty && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);
	if (!paged || !tty)
		return 0;
	pager = getenv("CTRACE_PAGER");
	if (!pager)
		pager = getenv("PAGER");
	if (!pager)
		pager = "less -FRX";
	fflush(stdout);
	start_pager(o, pager);
	return 0;
}

int ct_out_close(struct ct_out *o)
{
	int rc = 0;

	if (fflush(o->f) != 0 || ferror(o->f))
		rc = (errno == EPIPE && o->pager) ? 0 : CT_EIO;
	if (o->pager) {
		fclose(o->f);
		while (waitpid(o->pager, NULL, 0) < 0 && errno == EINTR)
			;
		o->pager = 0;
		o->f = stdout;
	}
	return rc;
}

/* --- times --- */

void ct_fmt_time(char *buf, size_t cap, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (ns == 0 || !localtime_r(&t, &tm)) {
		snprintf(buf, cap, "-");
		return;
	}
	strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

void ct_fmt_duration(char *buf, size_t cap, uint64_t ns)
{
	uint64_t s = ns / 1000000000ull;

	if (s < 10)
		snprintf(buf, cap, "%.3fs", (double)ns / 1e9);
	else if (s < 60)
		snprintf(buf, cap, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, cap, "%um%02us", (unsigned)(s / 60),
			 (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(buf, cap, "%uh%02um", (unsigned)(s / 3600),
			 (unsigned)(s % 3600 / 60));
	else
		snprintf(buf, cap, "%llud%02uh",
			 (unsigned long long)(s / 86400),
			 (unsigned)(s % 86400 / 3600));
}

int ct_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		double mul;
	} units[] = {
		{ "ns", 1 },   { "us", 1e3 },	{ "ms", 1e6 },	 { "s", 1e9 },
		{ "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 }, { "", 1e9 },
	};
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return CT_EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || v != v)
		return CT_EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double r = v * units[i].mul;

			if (r > 1.8e19)
				return CT_EINVAL;
			*ns = (uint64_t)(r + 0.5);
			return 0;
		}
	}
	return CT_EINVAL;
}

static int parse_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return CT_EINVAL;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

int ct_parse_time(const char *s, uint64_t *ns)
{
	int y, mo, d, h, mi, sec, tzh = 0, tzm = 0, tzsign = 0;
	uint64_t frac = 0, scale = 100000000ull;
	struct tm tm = { 0 };
	time_t t;

	if (parse_digits(&s, 4, &y) || *s++ != '-' ||
	    parse_digits(&s, 2, &mo) || *s++ != '-' ||
	    parse_digits(&s, 2, &d) || (*s != ' ' && *s != 'T'))
		return CT_EINVAL;
	s++;
	if (parse_digits(&s, 2, &h) || *s++ != ':' || parse_digits(&s, 2, &mi))
		return CT_EINVAL;
	sec = 0;
	if (*s == ':') {
		s++;
		if (parse_digits(&s, 2, &sec))
			return CT_EINVAL;
		if (*s == '.' || *s == ',') {
			s++;
			if (!isdigit((unsigned char)*s))
				return CT_EINVAL;
			for (; isdigit((unsigned char)*s); s++) {
				frac += (uint64_t)(*s - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (*s == 'Z') {
		tzsign = 1;
		s++;
	} else if (*s == '+' || *s == '-') {
		tzsign = *s == '+' ? 1 : -1;
		s++;
		if (parse_digits(&s, 2, &tzh))
			return CT_EINVAL;
		if (*s == ':')
			s++;
		if (*s && parse_digits(&s, 2, &tzm))
			return CT_EINVAL;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return CT_EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if (tzsign) {
		t = timegm(&tm);
		t -= (time_t)tzsign * (tzh * 3600 + tzm * 60);
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	if (t == (time_t)-1 || t < 0)
		return CT_EINVAL;
	*ns = (uint64_t)t * 1000000000ull + frac;
	return 0;
}
