/* The real symbols behind the hooks, found without dlsym.
 *
 * The constructor needs the next definition of every hooked name (77 of
 * them): what dlsym(RTLD_NEXT, name) returns.  dlsym costs ~840
 * instructions a call (lock, error catching, finding the caller's object,
 * the generic lookup), ~20 us per process in all (docs/performance.md).
 * These functions do the same lookup in the GNU hash tables of the
 * objects that follow the shim, ~100 instructions a name.  They answer
 * only where they match dlsym exactly and say "ask dlsym" otherwise.
 */
#ifndef CT_PRELOAD_RESOLVE_H
#define CT_PRELOAD_RESOLVE_H

#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>

#define CT_NEXT_MAX 16

/* The dynamic tables of one loaded object. */
struct ct_next_obj {
	ElfW(Addr) base;
	const ElfW(Sym) * symtab;
	const char *strtab;
	const uint32_t *gnu_hash;
	const ElfW(Versym) * versym; /* NULL: the object has no versions */
};

/* The objects dlsym(RTLD_NEXT) searches from the caller, in order, up to
 * and including libc. */
struct ct_next {
	struct ct_next_obj obj[CT_NEXT_MAX];
	int n;
};

/* Collect the objects after the one holding self, in load order (which
 * is the global search order for objects loaded at startup), up to libc.
 * The vDSO, in the list but not in the search scope, is skipped.  False
 * when the layout is not one this lookup understands (libc not found
 * after self, more than CT_NEXT_MAX objects, an object without a GNU
 * hash table): then every name must go to dlsym.
 * Context: the constructor (dl_iterate_phdr takes the loader's lock). */
bool ct_next_init(struct ct_next *nx, const void *self);

/* dlsym(RTLD_NEXT, name) of the caller given to ct_next_init, or NULL
 * when this lookup cannot tell (not found up to libc, an IFUNC, a
 * GNU_UNIQUE symbol): ask dlsym then.  Pure: reads only the tables. */
void *ct_next_sym(const struct ct_next *nx, const char *name);

#endif
