/* A bounded msgpack reader: a cursor over a byte range that never reads
 * past its end and checks every declared length and count against the bytes
 * that remain before trusting it.  Used by the event decoder and by the
 * store's record decoders.  No allocation.
 *
 * Why not msgpack-c's unpacker: it allocates count * sizeof(msgpack_object)
 * from an array header before reading any element, so a five-byte hostile
 * record can demand gigabytes; it also copies nothing we need.
 */
#ifndef CT_COMMON_MPREAD_H
#define CT_COMMON_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

struct ct_mpr {
	const unsigned char *p, *end;
	int err; /* first error (CT_ETRUNC/CT_EFORMAT), sticky; 0 if none */
};

void ct_mpr_init(struct ct_mpr *r, const void *buf, size_t len);
/* Each reader returns 0 and advances, or sets r->err and returns it.
 * A failed read leaves the cursor where it was. */
int ct_mpr_array(struct ct_mpr *r, uint32_t *count); /* count <= bytes left */
int ct_mpr_map(struct ct_mpr *r, uint32_t *count); /* 2*count <= left */
int ct_mpr_uint(struct ct_mpr *r, uint64_t *v); /* positive ints */
int ct_mpr_int(struct ct_mpr *r, int64_t *v); /* any int that fits */
int ct_mpr_bool(struct ct_mpr *r, bool *v);
int ct_mpr_nil(struct ct_mpr *r);
bool ct_mpr_peek_nil(const struct ct_mpr *r);
/* bin or str: borrowed bytes, valid while the buffer is. */
int ct_mpr_bytes(struct ct_mpr *r, struct ct_bytes *b);
/* Skip one value of any type (nesting bounded by depth 32). */
int ct_mpr_skip(struct ct_mpr *r);
static inline size_t ct_mpr_left(const struct ct_mpr *r)
{
	return (size_t)(r->end - r->p);
}

#endif
