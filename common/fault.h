/* Test-only fault points: places where a test can make a process die (or
 * stop) at an exact step, as LTTng-UST's testpoints do.
 *
 *	CT_FAULT_POINT("ring.after_cas");
 *
 * compiles to nothing unless CT_FAULTS is defined.  Only the fault shim
 * and ctrace-fault the test suite builds (tests/fault/CMakeLists.txt,
 * CMake option CT_FAULTS, on in test builds) define it; the shim and
 * ctrace that are installed never contain a fault point.
 *
 * In a CT_FAULTS build the environment variable CTRACE_FAULT selects one
 * point and what happens there:
 *
 *	CTRACE_FAULT=<point>:<action>[:<n>]
 *
 * action  kill   SIGKILL this process (the whole thread group)
 *         exit   _exit(99) of this process (exit_group, no atexit)
 *         stop   SIGSTOP this process (a producer stalled mid-record)
 * n       act at the n-th time this process reaches the point (default 1);
 *         a fork child inherits the count reached so far.
 *
 * Points (docs/threat-model.md and tests/fault/README.md list them):
 *   ring.before_cas    reserve: room found, before the CAS on head
 *   ring.after_cas     reserve: head advanced, record header not written
 *   ring.after_header  reserve: header {-len, pid} written, payload not
 *   emit.before_encode shim: event built, nothing encoded or claimed
 *   emit.after_reserve shim: slot claimed, payload not written
 *   emit.mid_payload   shim: half of the payload written
 *   emit.before_commit shim: payload written, not committed
 *   ring.after_commit  commit: record published
 *   ring.handed_on     drain (consumer): a record handed to the callback
 *   ring.publish_journal, ring.publish_zeroed, ring.publish_tail
 *                      drain (consumer): a publish journalled; its bytes
 *                      zeroed; tail moved (docs/ring.md)
 *
 * Context: async-signal-safe, no allocation, errno untouched (raw
 * syscalls through common/sys.h).
 */
#ifndef CT_COMMON_FAULT_H
#define CT_COMMON_FAULT_H

#ifdef CT_FAULTS
/* -1: CTRACE_FAULT not read yet, 0: no fault armed, 1: armed. */
extern int ct_fault_armed;
/* Count a hit of point name and act when it is the selected one. */
void ct_fault_hit(const char *name);

#define CT_FAULT_POINT(name)                                  \
	do {                                                  \
		if (__builtin_expect(ct_fault_armed != 0, 0)) \
			ct_fault_hit(name);                   \
	} while (0)
#else
#define CT_FAULT_POINT(name) \
	do {                 \
	} while (0)
#endif

#endif
