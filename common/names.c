/* errno and open-flag names for the views and the export.  Both functions
 * run in the shim's context too (async-signal-safe): tables and hand-rolled
 * formatting, no snprintf, no locale. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "common/codec.h"

/* Every errno Linux defines (asm-generic/errno-base.h and errno.h), by its
 * primary name.  The aliases EWOULDBLOCK (= EAGAIN), EDEADLOCK (= EDEADLK)
 * and ENOTSUP (= EOPNOTSUPP) are left out: a designated initializer may
 * name each slot once, and the primary name is what strace prints. */
#define CT_ERRNO_NAMES(X)  \
	X(EPERM)           \
	X(ENOENT)          \
	X(ESRCH)           \
	X(EINTR)           \
	X(EIO)             \
	X(ENXIO)           \
	X(E2BIG)           \
	X(ENOEXEC)         \
	X(EBADF)           \
	X(ECHILD)          \
	X(EAGAIN)          \
	X(ENOMEM)          \
	X(EACCES)          \
	X(EFAULT)          \
	X(ENOTBLK)         \
	X(EBUSY)           \
	X(EEXIST)          \
	X(EXDEV)           \
	X(ENODEV)          \
	X(ENOTDIR)         \
	X(EISDIR)          \
	X(EINVAL)          \
	X(ENFILE)          \
	X(EMFILE)          \
	X(ENOTTY)          \
	X(ETXTBSY)         \
	X(EFBIG)           \
	X(ENOSPC)          \
	X(ESPIPE)          \
	X(EROFS)           \
	X(EMLINK)          \
	X(EPIPE)           \
	X(EDOM)            \
	X(ERANGE)          \
	X(EDEADLK)         \
	X(ENAMETOOLONG)    \
	X(ENOLCK)          \
	X(ENOSYS)          \
	X(ENOTEMPTY)       \
	X(ELOOP)           \
	X(ENOMSG)          \
	X(EIDRM)           \
	X(ECHRNG)          \
	X(EL2NSYNC)        \
	X(EL3HLT)          \
	X(EL3RST)          \
	X(ELNRNG)          \
	X(EUNATCH)         \
	X(ENOCSI)          \
	X(EL2HLT)          \
	X(EBADE)           \
	X(EBADR)           \
	X(EXFULL)          \
	X(ENOANO)          \
	X(EBADRQC)         \
	X(EBADSLT)         \
	X(EBFONT)          \
	X(ENOSTR)          \
	X(ENODATA)         \
	X(ETIME)           \
	X(ENOSR)           \
	X(ENONET)          \
	X(ENOPKG)          \
	X(EREMOTE)         \
	X(ENOLINK)         \
	X(EADV)            \
	X(ESRMNT)          \
	X(ECOMM)           \
	X(EPROTO)          \
	X(EMULTIHOP)       \
	X(EDOTDOT)         \
	X(EBADMSG)         \
	X(EOVERFLOW)       \
	X(ENOTUNIQ)        \
	X(EBADFD)          \
	X(EREMCHG)         \
	X(ELIBACC)         \
	X(ELIBBAD)         \
	X(ELIBSCN)         \
	X(ELIBMAX)         \
	X(ELIBEXEC)        \
	X(EILSEQ)          \
	X(ERESTART)        \
	X(ESTRPIPE)        \
	X(EUSERS)          \
	X(ENOTSOCK)        \
	X(EDESTADDRREQ)    \
	X(EMSGSIZE)        \
	X(EPROTOTYPE)      \
	X(ENOPROTOOPT)     \
	X(EPROTONOSUPPORT) \
	X(ESOCKTNOSUPPORT) \
	X(EOPNOTSUPP)      \
	X(EPFNOSUPPORT)    \
	X(EAFNOSUPPORT)    \
	X(EADDRINUSE)      \
	X(EADDRNOTAVAIL)   \
	X(ENETDOWN)        \
	X(ENETUNREACH)     \
	X(ENETRESET)       \
	X(ECONNABORTED)    \
	X(ECONNRESET)      \
	X(ENOBUFS)         \
	X(EISCONN)         \
	X(ENOTCONN)        \
	X(ESHUTDOWN)       \
	X(ETOOMANYREFS)    \
	X(ETIMEDOUT)       \
	X(ECONNREFUSED)    \
	X(EHOSTDOWN)       \
	X(EHOSTUNREACH)    \
	X(EALREADY)        \
	X(EINPROGRESS)     \
	X(ESTALE)          \
	X(EUCLEAN)         \
	X(ENOTNAM)         \
	X(ENAVAIL)         \
	X(EISNAM)          \
	X(EREMOTEIO)       \
	X(EDQUOT)          \
	X(ENOMEDIUM)       \
	X(EMEDIUMTYPE)     \
	X(ECANCELED)       \
	X(ENOKEY)          \
	X(EKEYEXPIRED)     \
	X(EKEYREVOKED)     \
	X(EKEYREJECTED)    \
	X(EOWNERDEAD)      \
	X(ENOTRECOVERABLE) \
	X(ERFKILL)         \
	X(EHWPOISON)

#define CT_ERRNO_MAX 256 /* Linux errnos end at 133 (EHWPOISON) */

static const char *const errno_names[CT_ERRNO_MAX] = {
#define X(e) [e] = #e,
	CT_ERRNO_NAMES(X)
#undef X
};

const char *ct_errno_name(int err)
{
	if (err <= 0 || err >= CT_ERRNO_MAX)
		return NULL;
	return errno_names[err];
}

/* glibc defines O_LARGEFILE as 0 on 64-bit targets because the kernel
 * implies it there, but raw syscalls and 32-bit builds still pass the
 * kernel's bit; name it rather than print it as unknown hex. */
#if O_LARGEFILE != 0
#define CT_O_LARGEFILE O_LARGEFILE
#elif defined(__x86_64__) || defined(__i386__)
#define CT_O_LARGEFILE 0100000
#elif defined(__aarch64__) || defined(__arm__)
#define CT_O_LARGEFILE 0400000
#else
#define CT_O_LARGEFILE 0
#endif

struct flag_name {
	uint32_t bits;
	const char *name;
};

/* In display order.  O_SYNC contains O_DSYNC's bit and O_TMPFILE contains
 * O_DIRECTORY's, so a composite that is fully set claims its bits before the
 * simple flags are looked at (see ct_open_flags_str). */
static const struct flag_name open_flags[] = {
	{ O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },
	{ O_NOCTTY, "O_NOCTTY" },
	{ O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },
	{ O_NONBLOCK, "O_NONBLOCK" },
	{ O_DSYNC, "O_DSYNC" },
	{ O_DIRECT, "O_DIRECT" },
	{ CT_O_LARGEFILE, "O_LARGEFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" },
	{ O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" },
	{ O_CLOEXEC, "O_CLOEXEC" },
	{ O_SYNC, "O_SYNC" },
	{ O_PATH, "O_PATH" },
	{ O_TMPFILE, "O_TMPFILE" },
};

/* A bounded appender: counts every byte it was asked for, stores the ones
 * that fit while keeping room for the NUL. */
struct sbuf {
	char *p;
	size_t cap, len;
};

static void sb_puts(struct sbuf *sb, const char *s)
{
	for (; *s; s++, sb->len++)
		if (sb->len + 1 < sb->cap)
			sb->p[sb->len] = *s;
}

static void sb_hex(struct sbuf *sb, uint32_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[2 + 8 + 1];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = digits[v & 0xf];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	sb_puts(sb, tmp + i);
}

static bool is_composite(uint32_t bits)
{
	return bits == (uint32_t)O_SYNC || bits == (uint32_t)O_TMPFILE;
}

size_t ct_open_flags_str(uint32_t flags, char *buf, size_t cap)
{
	struct sbuf sb = { buf, cap, 0 };
	uint32_t claimed = 0, shown = 0, left;
	size_t i;

	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		sb_puts(&sb, "O_RDONLY");
		break;
	case O_WRONLY:
		sb_puts(&sb, "O_WRONLY");
		break;
	case O_RDWR:
		sb_puts(&sb, "O_RDWR");
		break;
	default:
		/* 3 is not an access mode; it stays in the hex leftover. */
		break;
	}
	if ((flags & O_ACCMODE) != 3)
		shown |= O_ACCMODE;

	for (i = 0; i < sizeof(open_flags) / sizeof(open_flags[0]); i++) {
		uint32_t b = open_flags[i].bits;

		if (is_composite(b) && (flags & b) == b)
			claimed |= b;
	}
	for (i = 0; i < sizeof(open_flags) / sizeof(open_flags[0]); i++) {
		uint32_t b = open_flags[i].bits;

		if (b == 0 || (flags & b) != b)
			continue;
		/* O_DSYNC inside a set O_SYNC, O_DIRECTORY inside O_TMPFILE */
		if (!is_composite(b) && (b & claimed) == b)
			continue;
		if (sb.len)
			sb_puts(&sb, "|");
		sb_puts(&sb, open_flags[i].name);
		shown |= b;
	}
	left = flags & ~shown;
	if (left) {
		if (sb.len)
			sb_puts(&sb, "|");
		sb_hex(&sb, left);
	}
	if (cap)
		buf[sb.len < cap ? sb.len : cap - 1] = '\0';
	return sb.len;
}
