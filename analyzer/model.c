/* Process-instance table of one session. */
#include "analyzer/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

struct load_ctx {
	struct ct_model *m;
	size_t cap;
	uint64_t max; /* the session's process count */
};

static int load_one(void *arg, const struct ct_proc_info *pi)
{
	struct load_ctx *c = arg;
	struct ct_model *m = c->m;

	if (pi->num == 0)
		return 0;
	/* The collector numbers instances 1, 2, ... and commits them with
	 * the session record, whose count covers them all: a number beyond
	 * it is a damaged record, not a reason to allocate gigabytes. */
	if (pi->num > c->max)
		return CT_ECORRUPT;
	if (pi->num > c->cap) {
		size_t ncap = c->cap ? c->cap : 64;
		struct ct_proc_info *np;

		while (ncap < pi->num)
			ncap *= 2;
		np = realloc(m->procs, ncap * sizeof(*np));
		if (!np)
			return CT_ENOMEM;
		/* Numbers are dense in practice; a hole reads as num 0. */
		memset(np + c->cap, 0, (ncap - c->cap) * sizeof(*np));
		m->procs = np;
		c->cap = ncap;
	}
	m->procs[pi->num - 1] = *pi;
	if (pi->num > m->nprocs)
		m->nprocs = pi->num;
	return 0;
}

int ct_model_load(struct ct_rtxn *t, uint64_t session, struct ct_model *m)
{
	struct load_ctx c = { .m = m };
	int rc;

	struct ct_session_info si;

	memset(m, 0, sizeof(*m));
	m->session = session;
	rc = ct_store_session_get(t, session, &si);
	if (rc < 0)
		return rc;
	c.max = si.processes;
	rc = ct_store_procs_foreach(t, session, load_one, &c);
	if (rc < 0) {
		ct_model_release(m);
		return rc;
	}
	return 0;
}

void ct_model_release(struct ct_model *m)
{
	free(m->procs);
	m->procs = NULL;
	m->nprocs = 0;
}

const struct ct_proc_info *ct_model_proc(const struct ct_model *m, uint32_t num)
{
	if (num == 0 || num > m->nprocs || m->procs[num - 1].num != num)
		return NULL;
	return &m->procs[num - 1];
}

size_t ct_model_proc_id(const struct ct_model *m, uint32_t num, char *buf,
			size_t cap)
{
	const struct ct_proc_info *pi = ct_model_proc(m, num);
	int n;

	if (!pi) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	n = snprintf(buf, cap, "%d.%u", pi->pid, pi->pid_gen);
	return n < 0 ? 0 : (size_t)n;
}
