/* Kind and source names, generated from the X-macro lists in event.h so a
 * new kind cannot be added without a name. */
#include <string.h>

#include "common/event.h"

#define CT_KIND_STR(name, num, str) [num] = str,
static const char *const kind_names[CT_KIND__COUNT] = { CT_KIND_MAP(
	CT_KIND_STR) };
#undef CT_KIND_STR

#define CT_SOURCE_STR(name, num, str) [num] = str,
static const char *const source_names[CT_SOURCE__COUNT] = { CT_SOURCE_MAP(
	CT_SOURCE_STR) };
#undef CT_SOURCE_STR

const char *ct_kind_name(unsigned kind)
{
	if (kind >= CT_KIND__COUNT)
		return NULL;
	return kind_names[kind]; /* NULL for CT_KIND_NONE */
}

const char *ct_source_name(unsigned source)
{
	if (source >= CT_SOURCE__COUNT)
		return NULL;
	return source_names[source];
}

unsigned ct_kind_from_name(const char *name, size_t len)
{
	unsigned k;

	if (!name)
		return CT_KIND_NONE;
	for (k = 1; k < CT_KIND__COUNT; k++) {
		const char *s = kind_names[k];

		/* Lengths first, so "ope" and "opens" do not match "open" and
		 * memcmp never reads past either string. */
		if (s && strlen(s) == len && memcmp(s, name, len) == 0)
			return k;
	}
	return CT_KIND_NONE;
}
