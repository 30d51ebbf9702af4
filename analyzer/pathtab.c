/* Interning table: open addressing with linear probing over entry numbers.
 * The bytes live in one arena so that a million paths cost a million
 * small copies, not a million mallocs. */
#include "analyzer/pathtab.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* FNV-1a: paths are short and this runs once per interesting event, far
 * below the cost of decoding the event. */
static uint64_t hash_bytes(uint32_t key, const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ key;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

static int grow_slots(struct ct_pathtab *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *s = calloc(ns, sizeof(*s));

	if (!s)
		return CT_ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		size_t j = t->ents[i].hash & (ns - 1);

		while (s[j])
			j = (j + 1) & (ns - 1);
		s[j] = i + 1;
	}
	free(t->slots);
	t->slots = s;
	t->nslots = ns;
	return 0;
}

int ct_pathtab_intern(struct ct_pathtab *t, uint32_t key, const char *p,
		      size_t len, uint32_t *idx, bool *fresh)
{
	uint64_t h = hash_bytes(key, p, len);
	size_t j;

	if (len > UINT32_MAX || t->n == UINT32_MAX - 1)
		return CT_ENOMEM;
	/* Keep the load under one half so probes stay short. */
	if ((size_t)(t->n + 1) * 2 > t->nslots && grow_slots(t) < 0)
		return CT_ENOMEM;
	for (j = h & (t->nslots - 1); t->slots[j];
	     j = (j + 1) & (t->nslots - 1)) {
		const struct ct_pathtab_ent *e = &t->ents[t->slots[j] - 1];

		if (e->hash == h && e->key == key && e->len == len &&
		    memcmp(t->arena + e->off, p, len) == 0) {
			*idx = t->slots[j] - 1;
			if (fresh)
				*fresh = false;
			return 0;
		}
	}
	if (t->n == t->cap) {
		uint32_t nc = t->cap ? t->cap * 2 : 256;
		struct ct_pathtab_ent *ne = realloc(t->ents, nc * sizeof(*ne));

		if (!ne)
			return CT_ENOMEM;
		t->ents = ne;
		t->cap = nc;
	}
	if (t->alen + len > t->acap) {
		size_t nc = t->acap ? t->acap : 65536;
		char *na;

		while (nc < t->alen + len)
			nc *= 2;
		na = realloc(t->arena, nc);
		if (!na)
			return CT_ENOMEM;
		t->arena = na;
		t->acap = nc;
	}
	memcpy(t->arena + t->alen, p, len);
	t->ents[t->n] = (struct ct_pathtab_ent){
		.off = t->alen, .len = (uint32_t)len, .key = key, .hash = h
	};
	t->alen += len;
	t->slots[j] = t->n + 1;
	*idx = t->n++;
	if (fresh)
		*fresh = true;
	return 0;
}

void ct_pathtab_release(struct ct_pathtab *t)
{
	free(t->arena);
	free(t->ents);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
