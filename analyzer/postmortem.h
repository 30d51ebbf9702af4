/* Postmortem: everything a session destroyed or overwritten, grouped by
 * the command responsible (docs/postmortem.md).
 *
 * Destroyed or overwritten means a successful
 *  - unlink (path) or rmdir (path),
 *  - rename whose target (path2) existed just before (event `existed`),
 *  - open with O_TRUNC of a file that existed (`existed`),
 *  - truncate (path).
 *
 * The responsible command of the process P that did it:
 *  - under an agent (a process whose program is a known coding agent,
 *    e.g. `claude`, `codex`; see ct_pm_is_agent()): the outermost
 *    `sh -c`/`bash -c` process between the nearest agent above P and P,
 *    i.e. the shell the agent's tool call ran; without one, the nearest
 *    process from P up that ran an image of its own (not a fork that
 *    never exec'd), or the agent itself;
 *  - otherwise the nearest process from P up that ran an image of its own.
 *
 * Building streams the session's events once; memory grows with the
 * number of distinct (process, destroyed path) pairs and processes, not
 * with events.
 */
#ifndef CT_ANALYZER_POSTMORTEM_H
#define CT_ANALYZER_POSTMORTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyzer/out.h"
#include "collector/store.h"
#include "common/event.h"

struct ct_postmortem;

struct ct_pm_options {
	/* Keep only paths matching this glob (ct_pm_path_match()); NULL
	 * keeps everything.  Borrowed, valid until ct_postmortem_free(). */
	const char *glob;
};

/* Read session from t and build its postmortem into *out (owned by
 * caller, free with ct_postmortem_free()).  The result borrows from t:
 * print it before ending t.  Returns 0, CT_ENOTFOUND (no such session),
 * CT_ENOMEM or the store's error.  Events that do not decode are skipped
 * and counted (ct_postmortem_undecoded()). */
int ct_postmortem_build(struct ct_rtxn *t, uint64_t session,
			const struct ct_pm_options *opt,
			struct ct_postmortem **out);
void ct_postmortem_free(struct ct_postmortem *pm);

/* Number of command groups, destroyed paths (distinct per group) and
 * records skipped because they did not decode. */
size_t ct_postmortem_groups(const struct ct_postmortem *pm);
uint64_t ct_postmortem_paths(const struct ct_postmortem *pm);
uint64_t ct_postmortem_undecoded(const struct ct_postmortem *pm);

/* Text for a terminal into o->f (escaped; colour per o->color).  all: list
 * every path instead of collapsing large groups into directories. */
void ct_postmortem_print_text(const struct ct_postmortem *pm, struct ct_out *o,
			      bool all);
/* The JSON document (shape in docs/postmortem.md) into f.  Returns 0 or
 * CT_ENOMEM. */
int ct_postmortem_print_json(const struct ct_postmortem *pm, FILE *f);

/* --- helpers, exposed for the other views and for tests --- */

/* Does the byte path (len bytes, no NUL inside) match glob?  fnmatch()
 * without FNM_PATHNAME (so `*` crosses `/`), against the whole path or any
 * of its directory prefixes (so "/p/build" matches "/p/build/x/y.o").  A
 * trailing '/' of glob is ignored; a glob that starts with neither '/' nor
 * '*' matches a path's tail ("build/\*.o" acts as "*\/build/\*.o"). */
bool ct_pm_path_match(const char *glob, const char *path, size_t len);

/* If the argv (a msgpack array as in struct ct_event) runs a shell with a
 * command string (`sh -c CMD`, `bash -lc CMD`, `bash -c -l CMD`), set *cmd
 * to CMD (borrowed from raw) and return true. */
bool ct_pm_shell_command(struct ct_bytes raw, uint32_t argc,
			 struct ct_bytes *cmd);

/* If cmd wraps its real command as `... eval '<command>' ...` (how Claude
 * Code's Bash tool runs a command), return that command with each '"'"'
 * (and '\'') turned back into ', as a malloc'ed NUL-terminated string
 * (owned by caller; *outlen its length).  NULL when there is no such
 * wrapper (or out of memory). */
char *ct_pm_unwrap_eval(const char *cmd, size_t len, size_t *outlen);

/* Does the image (argv, and exe when argv is empty) run a known coding
 * agent?  By argv[0]'s basename (claude, codex, gemini, aider,
 * cursor-agent, opencode, goose, amp, qwen, crush), or an interpreter
 * (node, bun, deno, python*) whose script path names one
 * (claude-code, @openai/codex, gemini-cli, aider).  argv[0] comes first
 * so that Claude Code's binary started as `bfs` or `rg` is not the agent. */
bool ct_pm_is_agent(struct ct_bytes raw, uint32_t argc, struct ct_bytes exe);

#endif
