/* The environment a child gets: whatever the program passed, with the
 * shim's variables put back.  Programs scrub their environment (env -i,
 * subprocess env={}); without this the tree loses the shim at the first
 * such exec.  Everything lands in caller-provided (stack) memory because
 * the exec hooks may run in a vfork child or a signal handler.
 */
#include <string.h>

#include "preload/shim.h"

static bool has_prefix(const char *s, const char *pre)
{
	return strncmp(s, pre, strlen(pre)) == 0;
}

/* Ours: the variables we drop from the program's envp and set ourselves.
 * Every exec asks this of every variable: the first letter settles it
 * for nearly all of them (a strncmp per name per variable was 10,000
 * instructions an exec with 45 variables). */
static bool is_ours(const char *kv)
{
	switch (kv[0]) {
	case 'C':
		if (!has_prefix(kv, "CTRACE_"))
			return false;
		kv += strlen("CTRACE_");
		return has_prefix(kv, "RING=") || has_prefix(kv, "SESSION=") ||
		       has_prefix(kv, "SHIM=") || has_prefix(kv, "PROC=");
	case 'U':
		return has_prefix(kv, "UV_USE_IO_URING=");
	case 'L':
		return has_prefix(kv, "LD_PRELOAD=");
	default:
		return false;
	}
}

/* Does the LD_PRELOAD value list the shim (separators ':' and ' ')? */
static bool preload_has(const char *v, const char *shim, size_t sl)
{
	while (*v) {
		size_t n = strcspn(v, ": ");

		if (n == sl && memcmp(v, shim, sl) == 0)
			return true;
		v += n;
		if (*v)
			v++;
	}
	return false;
}

static const char *first_preload(char *const *envp)
{
	for (; envp && *envp; envp++)
		if ((*envp)[0] == 'L' && has_prefix(*envp, "LD_PRELOAD="))
			return *envp;
	return NULL;
}

size_t ct_envp_slots(char *const *envp)
{
	size_t n = 0;

	for (; envp && envp[n]; n++)
		;
	return n + 8; /* 5 of ours + CTRACE_PROC + NULL, rounded */
}

size_t ct_envp_buf_need(char *const *envp, const struct ct_envfix *fix)
{
	const char *pl = first_preload(envp);

	if (!pl || !fix->shim)
		return 1;
	return strlen(pl) + fix->shim_len + 2;
}

char *const *ct_envp_build(char *const *envp, const struct ct_envfix *fix,
			   const char *proc_kv, char **out, size_t nout,
			   char *buf, size_t bufcap)
{
	const char *pl = first_preload(envp);
	const char *ring;
	size_t n = 0;

	ring = ct_env_get(envp, "CTRACE_RING");
	if (ring && fix->ring_val && strcmp(ring, fix->ring_val) != 0)
		return envp; /* a nested ctrace session: not ours to edit */
	if (nout < ct_envp_slots(envp))
		return envp;
	for (size_t i = 0; envp && envp[i]; i++)
		if (!is_ours(envp[i]))
			out[n++] = envp[i];
	/* kv[] ends with "LD_PRELOAD=<shim>": used when there was none */
	for (int i = 0; i < fix->nkv; i++) {
		const char *kv = fix->kv[i];

		if (has_prefix(kv, "LD_PRELOAD=") && pl) {
			const char *v = pl + strlen("LD_PRELOAD=");

			if (preload_has(v, fix->shim, fix->shim_len)) {
				kv = pl;
			} else if (bufcap >= strlen(pl) + fix->shim_len + 2) {
				size_t k = strlen("LD_PRELOAD=");

				memcpy(buf, pl, k);
				memcpy(buf + k, fix->shim, fix->shim_len);
				buf[k + fix->shim_len] = ':';
				strcpy(buf + k + fix->shim_len + 1, v);
				kv = buf;
			}
		}
		out[n++] = (char *)kv;
	}
	if (proc_kv)
		out[n++] = (char *)proc_kv;
	out[n] = NULL;
	return out;
}
