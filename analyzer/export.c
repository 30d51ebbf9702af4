/* SPEC's export schema through jansson.  Each object is small and built
 * on its own; ct_export_write() stitches the document together by pieces
 * so that a session of millions of events never sits in memory at once. */
#include "analyzer/export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/out.h"
#include "common/codec.h"
#include "common/error.h"

void ct_export_session_id(uint64_t id, char buf[17])
{
	snprintf(buf, 17, "%016" PRIx64, id);
}

/* Setters that keep going on allocation failure and remember it: the
 * caller checks once at the end. */
struct jb {
	json_t *o;
	bool oom;
};

static void jb_set(struct jb *b, const char *key, json_t *v)
{
	if (!v || json_object_set_new(b->o, key, v) < 0)
		b->oom = true;
}

static void jb_int(struct jb *b, const char *key, json_int_t v)
{
	jb_set(b, key, json_integer(v));
}

static void jb_bytes(struct jb *b, const char *key, struct ct_bytes v)
{
	jb_set(b, key, ct_json_bytes(v.p, v.len));
}

static void jb_str(struct jb *b, const char *key, const char *s)
{
	jb_set(b, key, json_string(s));
}

static json_t *jb_done(struct jb *b)
{
	if (b->oom) {
		json_decref(b->o);
		return NULL;
	}
	return b->o;
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case CT_SESSION_RUNNING:
		return "running";
	case CT_SESSION_DONE:
		return "done";
	case CT_SESSION_RECOVERED:
		return "recovered";
	case CT_SESSION_INCOMPLETE:
		return "incomplete";
	}
	return "unknown";
}

json_t *ct_export_session(const struct ct_session_info *si)
{
	struct jb b = { .o = json_object() };
	char id[17];

	if (!b.o)
		return NULL;
	ct_export_session_id(si->id, id);
	jb_str(&b, "id", id);
	if (si->name.len)
		jb_bytes(&b, "name", si->name);
	jb_set(&b, "argv", ct_json_strv(si->argv_raw, si->argc));
	jb_bytes(&b, "cwd", si->cwd);
	jb_bytes(&b, "user", si->user);
	jb_bytes(&b, "host", si->host);
	if (si->git_branch.len)
		jb_bytes(&b, "git_branch", si->git_branch);
	if (si->git_commit.len)
		jb_bytes(&b, "git_commit", si->git_commit);
	jb_int(&b, "start", (json_int_t)si->start);
	if (si->end)
		jb_int(&b, "end", (json_int_t)si->end);
	if (si->signal)
		jb_int(&b, "signal", si->signal);
	else if (si->exit_code >= 0 && si->state != CT_SESSION_RUNNING)
		jb_int(&b, "exit_code", si->exit_code);
	jb_int(&b, "events", (json_int_t)si->events);
	jb_int(&b, "processes", (json_int_t)si->processes);
	jb_int(&b, "lost", (json_int_t)si->lost);
	jb_int(&b, "gaps", (json_int_t)si->gaps);
	jb_int(&b, "deleted", (json_int_t)si->deleted);
	jb_int(&b, "rule_hits", (json_int_t)si->rule_hits);
	jb_str(&b, "state", state_name(si->state));
	jb_bytes(&b, "version", si->version);
	return jb_done(&b);
}

/* Whether `result` means something for this kind: it does for calls, not
 * for the records of a program starting, exiting or going untraced. */
static bool kind_has_result(unsigned kind)
{
	return kind != CT_KIND_START && kind != CT_KIND_EXIT &&
	       kind != CT_KIND_GAP;
}

json_t *ct_export_event(const struct ct_model *m, uint64_t seq, uint32_t proc,
			const struct ct_event *ev)
{
	struct jb b = { .o = json_object() };
	const char *kind = ct_kind_name(ev->kind), *src;
	char pid[48], flags[256];

	if (!b.o)
		return NULL;
	jb_int(&b, "seq", (json_int_t)seq);
	jb_int(&b, "ts", (json_int_t)ev->ts);
	jb_int(&b, "pid", ev->pid);
	jb_int(&b, "tid", ev->tid);
	jb_int(&b, "ppid", ev->ppid);
	if (m && ct_model_proc_id(m, proc, pid, sizeof(pid)))
		jb_str(&b, "proc", pid);
	jb_str(&b, "kind", kind ? kind : "unknown");
	if (ev->present & CT_F_PATH)
		jb_bytes(&b, "path", ev->path);
	if (ev->present & CT_F_PATH2)
		jb_bytes(&b, "path2", ev->path2);
	if ((ev->present & CT_F_FLAGS) && ev->kind == CT_KIND_OPEN) {
		ct_open_flags_str(ev->flags, flags, sizeof(flags));
		jb_str(&b, "flags", flags);
	}
	if (ev->present & CT_F_ARGV)
		jb_set(&b, "argv", ct_json_strv(ev->argv_raw, ev->argc));
	/* arguments past the record's argv budget: counted, not kept */
	if (ev->present & CT_F_ARGV_DROPPED)
		jb_int(&b, "argv_dropped", (json_int_t)ev->argv_dropped);
	if (ev->present & CT_F_EXE)
		jb_bytes(&b, "exe", ev->exe);
	if (ev->present & CT_F_ADDR)
		jb_bytes(&b, "addr", ev->addr);
	if (ev->present & CT_F_CWD)
		jb_bytes(&b, "cwd", ev->cwd);
	if (kind_has_result(ev->kind)) {
		jb_int(&b, "result", (json_int_t)ev->result);
		if (ev->result < 0) {
			int e = ev->err ? ev->err : (int)-ev->result;
			const char *name = ct_errno_name(e);
			char num[24];

			if (!name) {
				snprintf(num, sizeof(num), "E%d", e);
				name = num;
			}
			jb_str(&b, "errno", name);
		}
	}
	if (ev->present & CT_F_EXIT)
		jb_int(&b, "exit_code", ev->exit_code);
	if (ev->present & CT_F_SIGNAL)
		jb_int(&b, "signal", ev->signal);
	if (ev->present & CT_F_REASON)
		jb_bytes(&b, "reason", ev->reason);
	src = ct_source_name(ev->source);
	if (src)
		jb_str(&b, "source", src);
	return jb_done(&b);
}

/* Decode the event stored as seq; false when absent or undecodable. */
static bool get_event(struct ct_rtxn *t, uint64_t session, uint64_t seq,
		      struct ct_event *ev)
{
	const void *rec;
	uint32_t proc, len;

	if (seq == 0 || ct_store_event_get(t, session, seq, &proc, &rec, &len))
		return false;
	return ct_event_decode(rec, len, ev) == 0;
}

json_t *ct_export_proc(struct ct_rtxn *t, const struct ct_model *m,
		       const struct ct_proc_info *pi)
{
	struct jb b = { .o = json_object() };
	struct ct_event img, st;
	bool have_img, have_st;
	char id[48];

	if (!b.o)
		return NULL;
	ct_model_proc_id(m, pi->num, id, sizeof(id));
	jb_str(&b, "proc", id);
	if (pi->parent && ct_model_proc_id(m, pi->parent, id, sizeof(id)))
		jb_str(&b, "parent", id);
	if (pi->flags & CT_PROC_INFERRED)
		jb_set(&b, "parent_inferred", json_true());
	jb_int(&b, "pid", pi->pid);
	jb_int(&b, "ppid", pi->ppid);
	have_img = get_event(t, m->session, pi->image_seq, &img);
	have_st = get_event(t, m->session, pi->start_seq, &st);
	if (have_img && (img.present & CT_F_ARGV))
		jb_set(&b, "argv", ct_json_strv(img.argv_raw, img.argc));
	if (have_img && (img.present & CT_F_EXE))
		jb_bytes(&b, "exe", img.exe);
	if (have_st && (st.present & CT_F_CWD))
		jb_bytes(&b, "cwd", st.cwd);
	else if (have_img && (img.present & CT_F_CWD))
		jb_bytes(&b, "cwd", img.cwd);
	jb_int(&b, "start", (json_int_t)pi->start);
	if (pi->end)
		jb_int(&b, "end", (json_int_t)pi->end);
	if (pi->flags & CT_PROC_SIGNALED)
		jb_int(&b, "signal", pi->signal);
	else if (pi->flags & CT_PROC_EXITED)
		jb_int(&b, "exit_code", pi->exit_code);
	jb_int(&b, "events", (json_int_t)pi->events);
	return jb_done(&b);
}

static const struct ct_export_rules *rules_ops;

void ct_export_set_rules(const struct ct_export_rules *ops)
{
	rules_ops = ops;
}

/* Add "rules": [...] to an event object when the event hit any. */
static int add_rules(json_t *j, void *h, uint64_t seq)
{
	const char *ids[32];
	size_t n;
	json_t *a;

	if (!h)
		return 0;
	n = rules_ops->hits(h, seq, ids, 32);
	if (n == 0)
		return 0;
	a = json_array();
	if (!a || json_object_set_new(j, "rules", a) < 0)
		return CT_ENOMEM;
	for (size_t i = 0; i < n && i < 32; i++)
		if (json_array_append_new(a, json_string(ids[i])) < 0)
			return CT_ENOMEM;
	return 0;
}

struct write_ctx {
	void *rules; /* handle of rules_ops, or NULL */
	const struct ct_model *m;
	enum ct_export_format fmt;
	FILE *out;
	struct ct_export_stats *st;
	int err;
};

static int write_event(void *arg, uint64_t seq, uint32_t proc, const void *rec,
		       uint32_t len)
{
	struct write_ctx *c = arg;
	struct ct_event ev;
	json_t *j;

	if (ct_event_decode(rec, len, &ev) != 0) {
		if (!c->st->undecoded++)
			c->st->first_bad = seq;
		return 0;
	}
	j = ct_export_event(c->m, seq, proc, &ev);
	if (j && add_rules(j, c->rules, seq) < 0) {
		json_decref(j);
		j = NULL;
	}
	if (!j) {
		c->err = CT_ENOMEM;
		return 1;
	}
	if (c->fmt == CT_EXPORT_JSON && c->st->events)
		fputs(",\n", c->out);
	json_dumpf(j, c->out, JSON_COMPACT);
	if (c->fmt == CT_EXPORT_NDJSON)
		fputc('\n', c->out);
	json_decref(j);
	c->st->events++;
	if (ferror(c->out)) {
		c->err = CT_EIO;
		return 1;
	}
	return 0;
}

static int dump_piece(json_t *j, FILE *out)
{
	int rc;

	if (!j)
		return CT_ENOMEM;
	rc = json_dumpf(j, out, JSON_COMPACT);
	json_decref(j);
	return rc < 0 || ferror(out) ? CT_EIO : 0;
}

int ct_export_write(struct ct_rtxn *t, uint64_t session,
		    enum ct_export_format fmt, FILE *out,
		    struct ct_export_stats *st)
{
	struct ct_export_stats local = { 0 };
	struct write_ctx c = { .fmt = fmt, .out = out };
	struct ct_session_info si;
	struct ct_model m;
	int rc;

	c.st = st ? st : &local;
	memset(c.st, 0, sizeof(*c.st));
	rc = ct_store_session_get(t, session, &si);
	if (rc < 0)
		return rc;
	rc = ct_model_load(t, session, &m);
	if (rc < 0)
		return rc;
	c.m = &m;
	if (rules_ops)
		c.rules = rules_ops->open(t, session);
	if (fmt == CT_EXPORT_JSON) {
		fputs("{\"session\":", out);
		rc = dump_piece(ct_export_session(&si), out);
		if (rc < 0)
			goto out_model;
		fputs(",\n\"processes\":[", out);
		for (size_t i = 0, n = 0; i < m.nprocs; i++) {
			if (m.procs[i].num == 0)
				continue;
			fputs(n++ ? ",\n" : "\n", out);
			rc = dump_piece(ct_export_proc(t, &m, &m.procs[i]),
					out);
			if (rc < 0)
				goto out_model;
		}
		fputs("],\n\"events\":[\n", out);
	}
	rc = ct_store_events_foreach(t, session, 0, write_event, &c);
	if (c.err) {
		rc = c.err;
		goto out_model;
	}
	if (rc < 0)
		goto out_model;
	if (fmt == CT_EXPORT_JSON)
		fputs("]}\n", out);
	rc = (fflush(out) != 0 || ferror(out)) ? CT_EIO : 0;
out_model:
	if (c.rules)
		rules_ops->close(c.rules);
	ct_model_release(&m);
	return rc;
}
