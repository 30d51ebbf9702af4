/* Event codec: struct ct_event <-> one msgpack record (docs/format.md).
 *
 * Encoding writes msgpack (in the forms msgpack-c's packer picks) into a
 * caller-owned buffer: no allocation, no locks, no libc state, so the shim may call it
 * from a signal handler or a vfork child and pack straight into a ring slot.
 * Decoding validates every field and never reads outside the given bytes.
 */
#ifndef CT_COMMON_CODEC_H
#define CT_COMMON_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/event.h"

#define CT_FORMAT_VERSION 1

/* Exact number of bytes ct_event_encode() will write for ev (after the
 * CT_PATH_MAX / CT_ARGV_BYTES_MAX cuts).  Context: async-signal-safe, no
 * allocation. */
size_t ct_event_size(const struct ct_event *ev);

/* Encode ev into buf (cap bytes, owned by caller).  Returns the number of
 * bytes written, or CT_E2BIG (negative) when cap is too small, in which
 * case buf holds garbage.  Reads argv from ev->argv_in.
 * Context: async-signal-safe, no allocation. */
ssize_t ct_event_encode(const struct ct_event *ev, void *buf, size_t cap);

/* The ring form: the same record with every integer in a fixed-width
 * form, which the decoder reads like any other.  ct_event_ring_size()
 * is its exact size, or 0 when ev cannot take it (argv); then
 * ct_event_ring_encode() writes it to buf and returns that size.
 * Context: async-signal-safe, no allocation. */
size_t ct_event_ring_size(const struct ct_event *ev);
size_t ct_event_ring_encode(const struct ct_event *ev, void *buf);

/* Decode exactly len bytes into ev.  Every pointer in ev borrows from buf
 * (valid while buf is).  Returns 0, CT_ETRUNC when the bytes end early,
 * CT_EFORMAT when a field has the wrong type, an out-of-range value, an
 * unknown tag, or when bytes remain after the record, CT_EVERSION for an
 * unknown format version. */
int ct_event_decode(const void *buf, size_t len, struct ct_event *ev);

/* Iterate a msgpack array of byte strings that a decoder has validated
 * (an event's argv_raw, a session's argv): start with *off = 0; returns 1
 * and sets *arg while elements remain, 0 at the end, CT_EFORMAT if raw is
 * not what the decoder accepted.  count is the element count. */
int ct_strv_next(struct ct_bytes raw, uint32_t count, uint32_t *idx,
		 uint32_t *off, struct ct_bytes *arg);

/* errno value -> name ("ENOENT"), NULL when unknown.  Async-signal-safe. */
const char *ct_errno_name(int err);
/* Render raw open flags as "O_WRONLY|O_CREAT|O_TRUNC" into buf (NUL
 * terminated, truncated to cap).  Returns the length it wanted. */
size_t ct_open_flags_str(uint32_t flags, char *buf, size_t cap);

#endif
