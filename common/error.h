/* ctrace error codes: one X-macro list generates the enum, ct_strerror()
 * and the name table.  Functions return 0 or a negative CT_E* code. */
#ifndef CT_COMMON_ERROR_H
#define CT_COMMON_ERROR_H

#define CT_ERRNO_MAP(X)                           \
	X(EINVAL, "invalid argument")             \
	X(ENOMEM, "out of memory")                \
	X(E2BIG, "record too large")              \
	X(ETRUNC, "truncated input")              \
	X(EFORMAT, "malformed input")             \
	X(EVERSION, "unsupported format version") \
	X(ENOTFOUND, "not found")                 \
	X(EAMBIG, "ambiguous prefix")             \
	X(EFULL, "ring full")                     \
	X(EIO, "input/output error")              \
	X(EPERM, "permission denied")             \
	X(ECORRUPT, "store corrupt")              \
	X(ESTORE, "store error")                  \
	X(EBUSY, "busy")                          \
	X(ENOSYS, "not available")

enum ct_err {
	CT_OK = 0,
#define CT_ERR_ENUM(name, msg) CT_##name,
	CT__ERR_FIRST = -1000,
	CT_ERRNO_MAP(CT_ERR_ENUM)
#undef CT_ERR_ENUM
		CT__ERR_LAST
};

/* Message for a CT_E* code (or "success").  Context: async-signal-safe. */
const char *ct_strerror(int err);
/* Symbolic name for a CT_E* code, e.g. "CT_EFORMAT". */
const char *ct_errname(int err);

#endif
