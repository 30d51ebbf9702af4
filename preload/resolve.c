/* dlsym(RTLD_NEXT) for the constructor, without dlsym: see resolve.h.
 *
 * What glibc's dlsym(RTLD_NEXT, name) does (elf/dl-sym.c, dl-lookup.c):
 * search the caller's global scope after the caller's own object, with
 * no version given and DL_LOOKUP_RETURN_NEWEST.  In each object, a
 * definition of name counts when st_value is not 0 and its type is one
 * of NOTYPE, OBJECT, FUNC, COMMON, TLS, GNU_IFUNC; with symbol versions,
 * an unversioned one (index 0 or 1) is taken at once, a versioned one
 * only when it is the object's single non-hidden (default, "@@")
 * version; LOCAL bindings are passed over, WEAK ones are taken like
 * GLOBAL ones.  Each step below says which of these it mirrors; whatever
 * is not mirrored (IFUNC resolvers, GNU_UNIQUE, TLS, unusual layouts)
 * returns NULL so that the caller asks dlsym.
 *
 * The search order of objects loaded at startup is their load order
 * (ld.so maps the preloads, then the dependencies breadth-first, and
 * moves its own entry to its place in the search list), which is the
 * order dl_iterate_phdr reports.  Stopping at libc keeps objects a
 * constructor may have dlopen'ed (appended after it, perhaps not in the
 * global scope) out of the answer.
 */
#include "preload/resolve.h"

#include <string.h>
#include <sys/auxv.h>

#if __ELF_NATIVE_CLASS == 64
#define ST_TYPE(i) ELF64_ST_TYPE(i)
#define ST_BIND(i) ELF64_ST_BIND(i)
#else
#define ST_TYPE(i) ELF32_ST_TYPE(i)
#define ST_BIND(i) ELF32_ST_BIND(i)
#endif

struct walk {
	struct ct_next *nx;
	uintptr_t self, vdso;
	bool seen_self, done, bad;
};

static bool holds(const struct dl_phdr_info *info, uintptr_t a)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && a - lo < ph->p_memsz)
			return true;
	}
	return false;
}

static bool is_libc(const char *name)
{
	const char *b = name ? strrchr(name, '/') : NULL;

	b = b ? b + 1 : name;
	return b && strncmp(b, "libc.so.", 8) == 0;
}

/* A d_ptr of the dynamic section: glibc adds the load base in place for
 * these tags, except where the section is read-only; tell which by
 * comparing with the base (objects are linked at 0). */
static const void *dyn_ptr(ElfW(Addr) base, ElfW(Addr) p)
{
	return (const void *)(p < base ? p + base : p);
}

static bool obj_fill(struct ct_next_obj *o, const struct dl_phdr_info *info)
{
	const ElfW(Dyn) *d = NULL;

	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(info->dlpi_addr +
						info->dlpi_phdr[i].p_vaddr);
	if (!d)
		return false;
	memset(o, 0, sizeof(*o));
	o->base = info->dlpi_addr;
	for (; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB:
			o->symtab = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_STRTAB:
			o->strtab = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_GNU_HASH:
			o->gnu_hash = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		case DT_VERSYM:
			o->versym = dyn_ptr(o->base, d->d_un.d_ptr);
			break;
		}
	}
	return o->symtab && o->strtab && o->gnu_hash;
}

static int walk_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	uintptr_t ehdr = w->vdso;

	(void)size;
	if (w->done)
		return 1;
	if (!w->seen_self) {
		w->seen_self = holds(info, w->self);
		return 0;
	}
	if (ehdr && holds(info, ehdr))
		return 0; /* the vDSO: listed, but not in the search scope */
	if (w->nx->n == CT_NEXT_MAX || !obj_fill(&w->nx->obj[w->nx->n], info)) {
		w->bad = true;
		return 1;
	}
	w->nx->n++;
	if (is_libc(info->dlpi_name))
		w->done = true;
	return w->done;
}

bool ct_next_init(struct ct_next *nx, const void *self)
{
	struct walk w = { .nx = nx, .self = (uintptr_t)self };

	nx->n = 0;
	w.vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	dl_iterate_phdr(walk_one, &w);
	if (!w.done || w.bad)
		nx->n = 0;
	return nx->n > 0;
}

static uint32_t gnu_hash(const char *s)
{
	uint32_t h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

#define ALLOWED_STT                                                   \
	((1u << STT_NOTYPE) | (1u << STT_OBJECT) | (1u << STT_FUNC) | \
	 (1u << STT_COMMON) | (1u << STT_TLS) | (1u << STT_GNU_IFUNC))

/* do_lookup_x for one object: the symbol dlsym would take, or NULL. */
static const ElfW(Sym) *
	obj_lookup(const struct ct_next_obj *o, const char *name, uint32_t h)
{
	const uint32_t *gh = o->gnu_hash;
	uint32_t nbuckets = gh[0], symoffset = gh[1];
	uint32_t bloom_size = gh[2], shift = gh[3];
	const ElfW(Addr) *bloom = (const ElfW(Addr) *)(const void *)&gh[4];
	const uint32_t *buckets = (const uint32_t *)&bloom[bloom_size];
	const uint32_t *chain = &buckets[nbuckets];
	const unsigned bits = sizeof(ElfW(Addr)) * 8;
	const ElfW(Sym) *versioned = NULL;
	ElfW(Addr) word, mask;
	int nversions = 0;
	uint32_t i;

	if (!nbuckets || !bloom_size)
		return NULL;
	word = bloom[(h / bits) & (bloom_size - 1)];
	mask = ((ElfW(Addr))1 << (h % bits)) |
	       ((ElfW(Addr))1 << ((h >> shift) % bits));
	if ((word & mask) != mask)
		return NULL;
	i = buckets[h % nbuckets];
	if (i < symoffset)
		return NULL;
	for (;; i++) {
		uint32_t h2 = chain[i - symoffset];
		const ElfW(Sym) *s = &o->symtab[i];
		unsigned stt = ST_TYPE(s->st_info);

		if (((h2 ^ h) >> 1) == 0 && (s->st_value || stt == STT_TLS) &&
		    ((1u << stt) & ALLOWED_STT) &&
		    strcmp(o->strtab + s->st_name, name) == 0) {
			if (!o->versym || (o->versym[i] & 0x7fff) < 2)
				return s;
			/* versioned: only the one non-hidden version */
			if (!(o->versym[i] & 0x8000) && nversions++ == 0)
				versioned = s;
		}
		if (h2 & 1)
			break;
	}
	return nversions == 1 ? versioned : NULL;
}

void *ct_next_sym(const struct ct_next *nx, const char *name)
{
	uint32_t h = gnu_hash(name);

	for (int k = 0; k < nx->n; k++) {
		const struct ct_next_obj *o = &nx->obj[k];
		const ElfW(Sym) *s = obj_lookup(o, name, h);
		unsigned bind, stt;

		if (!s)
			continue;
		bind = ST_BIND(s->st_info);
		stt = ST_TYPE(s->st_info);
		if (bind == STB_LOCAL)
			continue; /* glibc passes over these, to the next */
		if (bind != STB_GLOBAL && bind != STB_WEAK)
			return NULL; /* GNU_UNIQUE: dlsym */
		if (stt == STT_GNU_IFUNC || stt == STT_TLS)
			return NULL; /* resolver / TLS block: dlsym */
		return (void *)(o->base + s->st_value);
	}
	return NULL;
}
