/* SPEC's export schema: session, process and event objects as JSON
 * (jansson), and the streaming writer behind `ctrace export`.
 *
 * Bytes (paths, argv) become JSON strings as out.h describes: valid UTF-8
 * passes through, each byte that is not becomes the four characters \xNN.
 * Fields that do not apply are absent, never null.
 */
#ifndef CT_ANALYZER_EXPORT_H
#define CT_ANALYZER_EXPORT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "analyzer/model.h"
#include "collector/store.h"
#include "common/event.h"

enum ct_export_format {
	CT_EXPORT_JSON = 1, /* {"session":{},"processes":[],"events":[]} */
	CT_EXPORT_NDJSON = 2, /* one event object a line */
};

/* "0123456789abcdef": a session id as SPEC shows it (buf >= 17 bytes). */
void ct_export_session_id(uint64_t id, char buf[17]);

/* The session object.  New reference (owned by caller) or NULL when out
 * of memory. */
json_t *ct_export_session(const struct ct_session_info *si);

/* The event object of a decoded event stored as seq for process instance
 * proc (m resolves it to "<pid>.<gen>"; proc absent when unknown).  New
 * reference or NULL when out of memory. */
json_t *ct_export_event(const struct ct_model *m, uint64_t seq, uint32_t proc,
			const struct ct_event *ev);

/* The process object of pi; reads its image (image_seq) and start
 * (start_seq) events from t for argv, exe and cwd.  New reference or NULL
 * when out of memory. */
json_t *ct_export_proc(struct ct_rtxn *t, const struct ct_model *m,
		       const struct ct_proc_info *pi);

/* SPEC's `rules` on exported events.  The rule engine sits above the
 * analyzer (rules/ -> analyzer/), so it registers itself here; without a
 * registration events carry no `rules`.
 *  open:  evaluate session; returns a handle, or NULL (no annotation).
 *  hits:  rule ids event seq hit (up to cap into ids, borrowed until
 *         close); returns how many it hit.
 *  close: release the handle. */
struct ct_export_rules {
	void *(*open)(struct ct_rtxn *t, uint64_t session);
	size_t (*hits)(void *h, uint64_t seq, const char **ids, size_t cap);
	void (*close)(void *h);
};
/* Register ops (borrowed, must stay valid; NULL unregisters). */
void ct_export_set_rules(const struct ct_export_rules *ops);

struct ct_export_stats {
	uint64_t events; /* event objects written */
	uint64_t undecoded; /* records skipped because they did not decode */
	uint64_t first_bad; /* seq of the first skipped record */
};

/* Write session's export in fmt to out, streaming the events one object
 * at a time (memory does not grow with the number of events).  Returns 0,
 * CT_ENOTFOUND (no such session), CT_ENOMEM, CT_EIO when writing failed
 * (errno tells why), or the store's error.  st may be NULL. */
int ct_export_write(struct ct_rtxn *t, uint64_t session,
		    enum ct_export_format fmt, FILE *out,
		    struct ct_export_stats *st);

#endif
