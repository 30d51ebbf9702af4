/* The process instances of one session, loaded once so that views can turn
 * an event's process number into SPEC's `proc` string and follow parents.
 * A session has far fewer processes than events: the table is in memory,
 * the events are streamed. */
#ifndef CT_ANALYZER_MODEL_H
#define CT_ANALYZER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"

struct ct_model {
	uint64_t session;
	struct ct_proc_info *procs; /* indexed by num - 1; num 0 = a hole */
	size_t nprocs; /* highest num loaded */
};

/* Load every process instance of session from t into m.  Returns 0,
 * CT_ENOMEM, or the store's error.  Release with ct_model_release(). */
int ct_model_load(struct ct_rtxn *t, uint64_t session, struct ct_model *m);
void ct_model_release(struct ct_model *m);

/* The instance numbered num, or NULL when unknown.  Borrowed, valid until
 * ct_model_release(). */
const struct ct_proc_info *ct_model_proc(const struct ct_model *m,
					 uint32_t num);

/* SPEC's `proc` string "<pid>.<pid_gen>" of instance num into buf.
 * Returns the length, or 0 (buf = "") when num is unknown. */
size_t ct_model_proc_id(const struct ct_model *m, uint32_t num, char *buf,
			size_t cap);

#endif
