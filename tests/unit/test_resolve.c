/* Unit tests for preload/resolve.c: the constructor's stand-in for
 * dlsym(RTLD_NEXT).  Called from this executable, ct_next_sym must give
 * exactly what dlsym(RTLD_NEXT) gives here, or NULL ("ask dlsym"), for
 * every name the shim hooks.  In a sanitizer build the sanitizer's
 * runtime sits between us and libc and defines many of these names,
 * which exercises the search past the first object. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "preload/resolve.c"

static const char *const hooks[] = {
#define CT_HOOK(name) #name,
#include "preload/hooks.def"
#undef CT_HOOK
};

static void self_fn(void)
{
}

static void test_resolve__matches_dlsym(void **state)
{
	struct ct_next nx;
	size_t found = 0;

	(void)state;
	assert_true(ct_next_init(&nx, (const void *)self_fn));
	assert_true(nx.n >= 1);
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		void *want = dlsym(RTLD_NEXT, hooks[i]);
		void *got = ct_next_sym(&nx, hooks[i]);

		if (!got)
			continue; /* the shim asks dlsym */
		if (got != want)
			fail_msg("%s: ct_next_sym %p, dlsym %p", hooks[i], got,
				 want);
		found++;
	}
	/* it is only worth having if it answers (nearly) all of them */
	assert_true(found + 4 >= sizeof(hooks) / sizeof(hooks[0]));
}

/* posix_spawn has two versions on x86_64 (GLIBC_2.2.5 hidden, 2.15
 * default); dlsym takes the default one. */
static void test_resolve__default_version(void **state)
{
	struct ct_next nx;
	void *p;

	(void)state;
	assert_true(ct_next_init(&nx, (const void *)self_fn));
	p = ct_next_sym(&nx, "posix_spawn");
	assert_non_null(p);
	assert_ptr_equal(p, dlsym(RTLD_NEXT, "posix_spawn"));
	p = ct_next_sym(&nx, "realpath");
	if (p)
		assert_ptr_equal(p, dlsym(RTLD_NEXT, "realpath"));
}

static void test_resolve__unknown(void **state)
{
	struct ct_next nx;

	(void)state;
	assert_true(ct_next_init(&nx, (const void *)self_fn));
	assert_null(ct_next_sym(&nx, "ct_no_such_symbol_anywhere"));
	assert_null(ct_next_sym(&nx, ""));
}

/* An address in no object: nothing follows it, so nothing is answered. */
static void test_resolve__unknown_self(void **state)
{
	struct ct_next nx;

	(void)state;
	assert_false(ct_next_init(&nx, (const void *)16));
	assert_int_equal(nx.n, 0);
	assert_null(ct_next_sym(&nx, "open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve__matches_dlsym),
		cmocka_unit_test(test_resolve__default_version),
		cmocka_unit_test(test_resolve__unknown),
		cmocka_unit_test(test_resolve__unknown_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
