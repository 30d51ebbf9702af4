/* One event as one terminal line. */
#include "analyzer/evline.h"

#include <string.h>

#include "common/codec.h"

static void put_result(const struct ct_out *o, FILE *f,
		       const struct ct_event *ev)
{
	int e;
	const char *name;

	if (ev->result >= 0) {
		fprintf(f, " = %lld", (long long)ev->result);
		return;
	}
	e = ev->err ? ev->err : (int)-ev->result;
	name = ct_errno_name(e);
	fprintf(f, " = %s-1 ", ct_out_color(o, CT_C_RED));
	if (name)
		fputs(name, f);
	else
		fprintf(f, "E%d", e);
	fputs(ct_out_color(o, CT_C_RESET), f);
}

void ct_evline_write(const struct ct_out *o, FILE *f, const struct ct_event *ev)
{
	const char *kind = ct_kind_name(ev->kind);
	char flags[256];

	fprintf(f, "%s%s%s ", ct_out_color(o, CT_C_BOLD), kind ? kind : "?",
		ct_out_color(o, CT_C_RESET));
	switch (ev->kind) {
	case CT_KIND_START:
	case CT_KIND_EXEC:
	case CT_KIND_SPAWN:
		if (ev->present & CT_F_ARGV)
			ct_out_shell_argv(f, ev->argv_raw, ev->argc);
		else if (ev->present & CT_F_EXE)
			ct_out_term(f, ev->exe.p, ev->exe.len);
		else if (ev->present & CT_F_PATH)
			ct_out_term(f, ev->path.p, ev->path.len);
		if (ev->kind != CT_KIND_START)
			put_result(o, f, ev);
		break;
	case CT_KIND_EXIT:
		if ((ev->present & CT_F_SIGNAL) && ev->signal) {
			const char *s = sigabbrev_np(ev->signal);

			fprintf(f, "killed by SIG%s", s ? s : "?");
		} else if (ev->present & CT_F_EXIT) {
			fprintf(f, "%d", ev->exit_code);
		} else {
			fputc('?', f);
		}
		break;
	case CT_KIND_FORK:
		fprintf(f, "= %lld", (long long)ev->result);
		break;
	case CT_KIND_GAP:
		if (ev->present & CT_F_EXE)
			ct_out_term(f, ev->exe.p, ev->exe.len);
		else if (ev->present & CT_F_PATH)
			ct_out_term(f, ev->path.p, ev->path.len);
		if (ev->present & CT_F_REASON) {
			fputs(": ", f);
			ct_out_term(f, ev->reason.p, ev->reason.len);
		}
		break;
	case CT_KIND_CONNECT:
		if (ev->present & CT_F_ADDR)
			ct_out_term(f, ev->addr.p, ev->addr.len);
		put_result(o, f, ev);
		break;
	default:
		if (ev->present & CT_F_PATH)
			ct_out_term(f, ev->path.p, ev->path.len);
		if (ev->present & CT_F_PATH2) {
			fputs(" -> ", f);
			ct_out_term(f, ev->path2.p, ev->path2.len);
		}
		if ((ev->present & CT_F_FLAGS) && ev->kind == CT_KIND_OPEN) {
			ct_open_flags_str(ev->flags, flags, sizeof(flags));
			fprintf(f, " %s", flags);
		}
		put_result(o, f, ev);
		break;
	}
}
