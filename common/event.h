/* The event: what the shim records and the store keeps.
 *
 * One struct serves both directions.  The encoder (codec.h) reads it and
 * writes a msgpack record; the decoder fills it with pointers that borrow
 * from the record bytes.  The wire layout is documented in docs/format.md.
 */
#ifndef CT_COMMON_EVENT_H
#define CT_COMMON_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Event kinds, in SPEC's order.  The number is the wire value: never reuse
 * or renumber one, only append. */
#define CT_KIND_MAP(X)              \
	X(START, 1, "start")        \
	X(EXEC, 2, "exec")          \
	X(SPAWN, 3, "spawn")        \
	X(FORK, 4, "fork")          \
	X(EXIT, 5, "exit")          \
	X(OPEN, 6, "open")          \
	X(UNLINK, 7, "unlink")      \
	X(RMDIR, 8, "rmdir")        \
	X(RENAME, 9, "rename")      \
	X(LINK, 10, "link")         \
	X(SYMLINK, 11, "symlink")   \
	X(MKDIR, 12, "mkdir")       \
	X(CHMOD, 13, "chmod")       \
	X(TRUNCATE, 14, "truncate") \
	X(CHDIR, 15, "chdir")       \
	X(CONNECT, 16, "connect")   \
	X(GAP, 17, "gap")

enum ct_kind {
	CT_KIND_NONE = 0,
#define CT_KIND_ENUM(name, num, str) CT_KIND_##name = num,
	CT_KIND_MAP(CT_KIND_ENUM)
#undef CT_KIND_ENUM
		CT_KIND__COUNT
};

/* How an event was captured (SPEC's `source`).  Wire values as above. */
#define CT_SOURCE_MAP(X)                                                 \
	X(LIBC, 1, "libc") /* the shim's libc hooks */                   \
	X(CTRACE, 2, "ctrace") /* ctrace run itself (reaping, gaps) */   \
	X(SYSCALL, 3, "syscall") /* the shim's hook of libc syscall() */ \
	X(SUD, 4, "sud") /* syscall user dispatch (raw syscalls) */      \
	X(SECCOMP, 5, "seccomp") /* seccomp user notification */         \
	X(LOADER, 6, "loader") /* dynamic loader activity */

enum ct_source {
	CT_SOURCE_NONE = 0,
#define CT_SOURCE_ENUM(name, num, str) CT_SOURCE_##name = num,
	CT_SOURCE_MAP(CT_SOURCE_ENUM)
#undef CT_SOURCE_ENUM
		CT_SOURCE__COUNT
};

/* Bit per optional field in struct ct_event.present.  The bit number is also
 * the field's tag on the wire (tag = bit index + 1).  Append only. */
enum ct_field {
	CT_F_PATH = 1u << 0, /* path          bin  */
	CT_F_PATH2 = 1u << 1, /* path2         bin  */
	CT_F_FLAGS = 1u << 2, /* flags         uint (raw O_* bits) */
	CT_F_MODE = 1u << 3, /* mode          uint */
	CT_F_ARGV = 1u << 4, /* argv          array of bin */
	CT_F_EXE = 1u << 5, /* exe           bin  */
	CT_F_ADDR =
		1u << 6, /* addr          bin  ("127.0.0.1:80", "unix:/p") */
	CT_F_EXIT = 1u << 7, /* exit_code     int  */
	CT_F_SIGNAL = 1u << 8, /* signal        int  */
	CT_F_REASON = 1u << 9, /* reason        bin  (gap reason, text) */
	CT_F_CWD = 1u << 10, /* cwd           bin  */
	CT_F_PARENT_START = 1u << 11, /* parent_start uint (parent's pstart) */
	CT_F_ARGV_DROPPED = 1u
			    << 12, /* argv_dropped uint (args not recorded) */
	CT_F_FD = 1u << 13, /* fd            int  (dirfd/fd the call used) */
	CT_F_REPORTER = 1u << 14, /* reporter    int  (pid that reported this
				   * event for another process, e.g. wait) */
	CT_F_EXISTED = 1u << 15, /* existed      uint 0/1: the target (path for
				  * open, path2 for rename/link) existed just
				  * before the call; set for O_TRUNC opens and
				  * renames so postmortem can tell overwrites */
};
#define CT_F__COUNT 16

/* A byte string: not NUL-terminated, may hold any bytes (Linux paths and
 * argv are bytes).  Borrowed: valid as long as the memory it points into. */
struct ct_bytes {
	const char *p;
	uint32_t len;
};

/* Limits the encoder enforces (docs/format.md).  A path longer than
 * CT_PATH_MAX is cut to that length; argv beyond CT_ARGV_BYTES_MAX bytes in
 * total is dropped from the end and counted in argv_dropped. */
#define CT_PATH_MAX 4096
#define CT_ARGV_BYTES_MAX 32768
#define CT_RECORD_MAX 65536

struct ct_event {
	uint8_t kind; /* enum ct_kind */
	uint8_t source; /* enum ct_source */
	uint32_t present; /* CT_F_* bits of the optional fields below */

	uint64_t ts; /* ns since the Unix epoch (CLOCK_REALTIME) */
	int32_t pid, tid, ppid;
	/* The process instance: ts at which this pid's current instance began
	 * (constructor of a fresh process, or the fork).  Kept across exec.
	 * 0 means unknown (e.g. recorded inside a vfork child). */
	uint64_t pstart;
	int64_t result; /* >= 0 success (fd, pid, 0); < 0 is -errno */
	int32_t err; /* errno value when result < 0, else 0 */

	/* optional fields, valid when their CT_F_* bit is set in present */
	uint32_t flags, mode;
	int32_t exit_code, signal, fd, reporter;
	uint64_t parent_start;
	uint32_t argv_dropped;
	uint8_t existed;
	struct ct_bytes path, path2, exe, addr, reason, cwd;

	/* argv.  Encoding reads argv_in (NULL-terminated, borrowed).  Decoding
	 * sets argc and argv_raw (the msgpack elements, borrowed from the
	 * record); walk them with ct_strv_next() (codec.h). */
	char *const *argv_in;
	uint32_t argc;
	struct ct_bytes argv_raw;
};

/* Name of a kind or source ("open", "libc"), or NULL when out of range.
 * Context: async-signal-safe. */
const char *ct_kind_name(unsigned kind);
const char *ct_source_name(unsigned source);
/* Kind number from its name, or 0 (CT_KIND_NONE). */
unsigned ct_kind_from_name(const char *name, size_t len);

#endif
