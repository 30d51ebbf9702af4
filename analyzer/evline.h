/* One event as one terminal line, shared by the views that print events
 * inside another layout (tree --events, why). */
#ifndef CT_ANALYZER_EVLINE_H
#define CT_ANALYZER_EVLINE_H

#include <stdio.h>

#include "analyzer/out.h"
#include "common/event.h"

/* "open /x/y O_RDONLY = 3", "unlink /x = -1 ENOENT", "exec rm -rf b = 0",
 * "exit 1", "connect 127.0.0.1:80 = 0": the kind, its operands and the
 * result, escaped (out.h), coloured when o->color.  No newline. */
void ct_evline_write(const struct ct_out *o, FILE *f,
		     const struct ct_event *ev);

#endif
