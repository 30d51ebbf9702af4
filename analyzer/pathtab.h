/* An interning table of byte strings (paths, executables), each paired
 * with a 32-bit key, for views that aggregate while streaming events:
 * memory grows with the number of distinct (key, bytes) pairs, never with
 * the number of events.
 *
 * Entries are numbered 0, 1, ... in insertion order; the caller keeps its
 * own per-entry data in a parallel array indexed by that number.
 */
#ifndef CT_ANALYZER_PATHTAB_H
#define CT_ANALYZER_PATHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ct_pathtab_ent {
	uint64_t off; /* into arena */
	uint32_t len;
	uint32_t key;
	uint64_t hash;
};

struct ct_pathtab {
	char *arena; /* every entry's bytes, back to back */
	size_t alen, acap;
	struct ct_pathtab_ent *ents;
	uint32_t n, cap;
	uint32_t *slots; /* open addressing: entry number + 1, 0 = empty */
	size_t nslots; /* power of two */
};

/* Zero-initialise a table with memset (or = { 0 }) before first use. */

/* Find (key, p[0..len)) or add it.  Sets *idx to its number and *fresh to
 * whether it was just added (fresh may be NULL).  Returns 0 or CT_ENOMEM
 * (the table is unchanged then). */
int ct_pathtab_intern(struct ct_pathtab *t, uint32_t key, const char *p,
		      size_t len, uint32_t *idx, bool *fresh);

/* The bytes of entry idx (not NUL-terminated).  Borrowed, valid until the
 * next ct_pathtab_intern() or ct_pathtab_release(). */
static inline const char *ct_pathtab_bytes(const struct ct_pathtab *t,
					   uint32_t idx, uint32_t *len)
{
	*len = t->ents[idx].len;
	return t->arena + t->ents[idx].off;
}

void ct_pathtab_release(struct ct_pathtab *t);

#endif
