/* Exec of a static binary: instead of only a gap, put the exec'ing thread
 * under the seccomp filter whose listener the supervisor in `ctrace run`
 * serves (common/static.h, docs/static.md).  The filter survives the exec
 * and is inherited by everything the static program starts.
 */
#include <string.h>

#include "common/static.h"
#include "preload/shim.h"

/* The session id, from the CTRACE_SESSION entry the constructor built. */
static bool session_of(uint64_t *out)
{
	static const char pre[] = "CTRACE_SESSION=";
	uint64_t v = 0;

	for (int i = 0; i < ct_envfix.nkv; i++) {
		const char *kv = ct_envfix.kv[i];
		int n = 0;

		if (!kv || strncmp(kv, pre, sizeof(pre) - 1) != 0)
			continue;
		for (kv += sizeof(pre) - 1; *kv; kv++, n++) {
			int d;

			if (*kv >= '0' && *kv <= '9')
				d = *kv - '0';
			else if (*kv >= 'a' && *kv <= 'f')
				d = *kv - 'a' + 10;
			else
				return false;
			v = v << 4 | (uint64_t)d;
		}
		*out = v;
		return n == 16;
	}
	return false;
}

const char *ct_static_prepare(const struct ct_exec *x, const char *gap)
{
	const char *off = ct_env_get(environ, "CTRACE_STATIC");
	uint64_t session;
	bool nnp;

	if (strncmp(gap, "static binary", 13) != 0 || !session_of(&session))
		return gap;
	if (off && strcmp(off, "0") == 0)
		return "static binary: not covered (CTRACE_STATIC=0)";
	return ct_static_cover(session, x->self.pid, x->self.pstart, &nnp);
}
