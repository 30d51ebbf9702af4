/* Test-only fault points (common/fault.h).  Compiled only into the fault
 * shim the test suite builds (tests/fault/CMakeLists.txt); the shipped shim
 * and ctrace never link this file.
 *
 * CTRACE_FAULT is read once, at the first point reached, from environ
 * without getenv (a point may run in a signal handler or a vfork child).
 * A race between two threads reaching their first point together only
 * parses the same string twice.
 */
#include "common/fault.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "common/sys.h"

extern char **environ;

int ct_fault_armed = -1;

enum fault_action { FAULT_KILL, FAULT_EXIT, FAULT_STOP };

static char s_point[64];
static enum fault_action s_action;
static unsigned long s_at = 1;
static _Atomic unsigned long s_hits;

/* Parse "<point>:<action>[:<n>]"; false when malformed. */
static bool parse(const char *v)
{
	const char *c1 = strchr(v, ':'), *act, *c2;
	size_t n;

	if (!c1 || (size_t)(c1 - v) >= sizeof(s_point) || c1 == v)
		return false;
	memcpy(s_point, v, (size_t)(c1 - v));
	s_point[c1 - v] = '\0';
	act = c1 + 1;
	c2 = strchr(act, ':');
	n = c2 ? (size_t)(c2 - act) : strlen(act);
	if (n == 4 && !memcmp(act, "kill", 4))
		s_action = FAULT_KILL;
	else if (n == 4 && !memcmp(act, "exit", 4))
		s_action = FAULT_EXIT;
	else if (n == 4 && !memcmp(act, "stop", 4))
		s_action = FAULT_STOP;
	else
		return false;
	if (c2) {
		unsigned long at = 0;

		for (const char *p = c2 + 1; *p; p++) {
			if (*p < '0' || *p > '9')
				return false;
			at = at * 10 + (unsigned long)(*p - '0');
		}
		if (!at)
			return false;
		s_at = at;
	}
	return true;
}

static void load(void)
{
	static const char key[] = "CTRACE_FAULT=";
	const char *v = NULL;

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, key, sizeof(key) - 1)) {
			v = *e + sizeof(key) - 1;
			break;
		}
	__atomic_store_n(&ct_fault_armed, v && parse(v) ? 1 : 0,
			 __ATOMIC_RELAXED);
}

void ct_fault_hit(const char *name)
{
	long pid;

	if (ct_fault_armed < 0)
		load();
	if (ct_fault_armed <= 0 || strcmp(name, s_point) != 0)
		return;
	if (atomic_fetch_add(&s_hits, 1) + 1 != s_at)
		return;
	pid = ct_sys0(SYS_getpid);
	switch (s_action) {
	case FAULT_KILL:
		ct_sys2(SYS_kill, pid, SIGKILL);
		break;
	case FAULT_STOP:
		ct_sys2(SYS_kill, pid, SIGSTOP);
		return;
	case FAULT_EXIT:
		ct_sys1(SYS_exit_group, 99);
		break;
	}
	for (;;) /* SIGKILL is delivered on the way out of the syscall */
		ct_sys0(SYS_sched_yield);
}
