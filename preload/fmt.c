/* Numbers and socket addresses as text, without snprintf (not
 * async-signal-safe, and may allocate for some formats).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "preload/shim.h"

size_t ct_fmt_u64(char *buf, uint64_t v)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

bool ct_parse_proc(const char *s, int32_t *pid, uint64_t *pstart)
{
	uint64_t a = 0, b = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		a = a * 10 + (uint64_t)(*p - '0');
		if (a > INT32_MAX)
			return false;
	}
	if (*p++ != '.' || *p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (b > (UINT64_MAX - 9) / 10)
			return false;
		b = b * 10 + (uint64_t)(*p - '0');
	}
	if (*p)
		return false;
	*pid = (int32_t)a;
	*pstart = b;
	return true;
}

/* Bounded appender: keeps the NUL, silently cuts at cap - 1. */
struct sb {
	char *p;
	size_t n, cap;
};

static void sb_mem(struct sb *b, const void *s, size_t n)
{
	if (b->n + n >= b->cap)
		n = b->cap - 1 - b->n;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
	sb_mem(b, s, strlen(s));
}

static void sb_u(struct sb *b, uint64_t v)
{
	char t[21];

	sb_mem(b, t, ct_fmt_u64(t, v));
}

static void sb_v4(struct sb *b, const unsigned char *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			sb_str(b, ".");
		sb_u(b, a[i]);
	}
}

static void sb_hex16(struct sb *b, unsigned v)
{
	static const char hx[] = "0123456789abcdef";
	char t[4];
	size_t n = 0;
	int shift = 12;

	while (shift > 0 && ((v >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		t[n++] = hx[(v >> shift) & 0xf];
	sb_mem(b, t, n);
}

/* RFC 5952: lower case, the longest run (>= 2) of zero groups becomes
 * "::", IPv4-mapped addresses end in dotted quad. */
static void sb_v6(struct sb *b, const unsigned char *a)
{
	unsigned g[8];
	int best = -1, bestlen = 0;

	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
		sb_str(b, "::ffff:");
		sb_v4(b, a + 12);
		return;
	}
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen && j - i >= 2) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			sb_str(b, "::");
			i += bestlen - 1;
			continue;
		}
		if (i && i != best + bestlen)
			sb_str(b, ":");
		sb_hex16(b, g[i]);
	}
}

size_t ct_fmt_sockaddr(const struct sockaddr *sa, socklen_t len, char *out,
		       size_t cap)
{
	struct sb b = { out, 0, cap };

	if (!sa || cap < 8 || len < sizeof(sa_family_t))
		return 0;
	out[0] = '\0';
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;

		if (len < sizeof(*in))
			return 0;
		sb_v4(&b, (const unsigned char *)&in->sin_addr);
		sb_str(&b, ":");
		sb_u(&b, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (len < sizeof(*in6))
			return 0;
		sb_str(&b, "[");
		sb_v6(&b, in6->sin6_addr.s6_addr);
		sb_str(&b, "]:");
		sb_u(&b, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;

		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		sb_str(&b, "unix:");
		if (n == 0)
			break; /* unnamed */
		if (un->sun_path[0] == '\0') {
			sb_str(&b, "@");
			sb_mem(&b, un->sun_path + 1, n - 1);
		} else {
			sb_mem(&b, un->sun_path, strnlen(un->sun_path, n));
		}
		break;
	}
	default:
		return 0;
	}
	return b.n;
}

int ct_fopen_flags(const char *mode)
{
	int acc, flags;

	/* glibc's _IO_new_file_fopen: the first character, then up to six
	 * modifiers; unknown ones are skipped. */
	switch (mode[0]) {
	case 'r':
		acc = O_RDONLY;
		flags = 0;
		break;
	case 'w':
		acc = O_WRONLY;
		flags = O_CREAT | O_TRUNC;
		break;
	case 'a':
		acc = O_WRONLY;
		flags = O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	for (int i = 1; i < 7 && mode[i]; i++) {
		switch (mode[i]) {
		case '+':
			acc = O_RDWR;
			break;
		case 'x':
			flags |= O_EXCL;
			break;
		case 'e':
			flags |= O_CLOEXEC;
			break;
		case ',':
			i = 7; /* ",ccs=" ends the modifiers */
			break;
		default:
			break;
		}
	}
	return acc | flags;
}
