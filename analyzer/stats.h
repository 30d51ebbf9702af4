/* Stats: what a session did, counted (docs/postmortem.md, "stats").
 *
 * One pass over the events counts them by kind (and failures), by process,
 * by executable (the image a process ran when the event happened), by
 * path (opened, written, deleted), errors by errno and kind, and the
 * coverage gaps with their reasons.  Memory grows with distinct paths,
 * executables and processes, not with events.
 */
#ifndef CT_ANALYZER_STATS_H
#define CT_ANALYZER_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyzer/out.h"
#include "collector/store.h"

struct ct_stats;

/* Read session from t into *out (owned by caller, free with
 * ct_stats_free()).  The result borrows from t: print it before ending
 * t.  Returns 0, CT_ENOTFOUND, CT_ENOMEM or the store's error. */
int ct_stats_build(struct ct_rtxn *t, uint64_t session, struct ct_stats **out);
void ct_stats_free(struct ct_stats *st);

/* Events counted, and records skipped because they did not decode. */
uint64_t ct_stats_events(const struct ct_stats *st);
uint64_t ct_stats_undecoded(const struct ct_stats *st);

/* Text into o->f, each list cut to its top entries. */
void ct_stats_print_text(const struct ct_stats *st, struct ct_out *o,
			 size_t top);
/* The JSON document (docs/postmortem.md) into f, lists cut to top.
 * Returns 0 or CT_ENOMEM. */
int ct_stats_print_json(const struct ct_stats *st, FILE *f, size_t top);

#endif
