/* Terminal and JSON output helpers shared by the views.
 *
 * Paths and argv are bytes.  Two renderings, documented in docs/cli.md:
 *  - text (terminal): valid UTF-8 passes through except control characters
 *    (U+0000-U+001F, U+007F, U+0080-U+009F), which become \n \t \r or
 *    \xNN; every byte that is not part of valid UTF-8 becomes \xNN.  Nothing
 *    from a trace ever reaches the terminal raw.
 *  - JSON: valid UTF-8 (control characters included; JSON escapes those
 *    itself) passes through; every byte that is not part of valid UTF-8
 *    becomes the four characters \xNN.
 */
#ifndef CT_ANALYZER_OUT_H
#define CT_ANALYZER_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/event.h"

/* Where a text view writes: stdout, possibly through a pager. */
struct ct_out {
	FILE *f; /* write here; stdout or the pager's pipe */
	bool color; /* emit ANSI colour */
	pid_t pager; /* pager child, 0 when none */
	FILE *saved; /* not used by callers */
};

/* Set up o for a text view.  color: stdout is a TTY, NO_COLOR unset and
 * TERM is not "dumb".  paged: when stdout is a TTY, start
 * $CTRACE_PAGER / $PAGER / "less -FRX" (split on blanks, run with
 * posix_spawnp, never a shell) and write into its pipe; an empty pager or
 * "cat" means none.  Falls back to plain stdout when the pager cannot be
 * started.  Returns 0. */
int ct_out_open(struct ct_out *o, bool paged);
/* Flush, close the pager's pipe and wait for it.  Returns 0, or CT_EIO when
 * writing failed (other than the pager quitting early). */
int ct_out_close(struct ct_out *o);

/* ANSI colour codes used by the views ("" when colour is off). */
enum ct_color {
	CT_C_RESET,
	CT_C_BOLD,
	CT_C_DIM,
	CT_C_RED,
	CT_C_GREEN,
	CT_C_YELLOW,
	CT_C_BLUE,
	CT_C_MAGENTA,
	CT_C_CYAN,
};
const char *ct_out_color(const struct ct_out *o, enum ct_color c);

/* Write bytes escaped for a terminal (see above). */
void ct_out_term(FILE *f, const char *p, size_t len);
/* Same, into a NUL-terminated buffer (truncated to cap); returns the
 * length it wanted. */
size_t ct_out_term_buf(char *buf, size_t cap, const char *p, size_t len);
/* One argument quoted for a POSIX shell where needed: plain when it only
 * holds safe characters, '...' when it needs quoting, $'...' with escapes
 * when it holds control characters or invalid UTF-8. */
void ct_out_shell_arg(FILE *f, const char *p, size_t len);
/* A msgpack array of byte strings (an argv) as a shell command line. */
void ct_out_shell_argv(FILE *f, struct ct_bytes raw, uint32_t count);

/* Bytes -> JSON string (see above).  Returns a new reference or NULL when
 * out of memory. */
json_t *ct_json_bytes(const char *p, size_t len);
/* A msgpack array of byte strings -> JSON array of strings, or NULL. */
json_t *ct_json_strv(struct ct_bytes raw, uint32_t count);
/* Bytes -> malloc'ed NUL-terminated valid UTF-8 with \xNN for invalid
 * bytes (owned by caller), or NULL when out of memory. */
char *ct_utf8_escape(const char *p, size_t len);

/* Local time "YYYY-MM-DD HH:MM:SS" of ns since epoch; "-" for 0. */
void ct_fmt_time(char *buf, size_t cap, uint64_t ns);
/* A duration: "0.012s", "12.3s", "4m05s", "2h03m", "3d04h". */
void ct_fmt_duration(char *buf, size_t cap, uint64_t ns);

/* Parse a duration "500ms", "1.5s", "2m", "1h", "250us", "10ns" or a bare
 * number of seconds into ns.  Returns 0 or CT_EINVAL. */
int ct_parse_duration(const char *s, uint64_t *ns);
/* Parse a local time "YYYY-MM-DD HH:MM:SS[.frac]" or ISO 8601
 * "YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM]" into ns since epoch.  Returns 0 or
 * CT_EINVAL. */
int ct_parse_time(const char *s, uint64_t *ns);

#endif
