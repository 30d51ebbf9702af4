/* Will a preloaded shim get into the program an exec would start? */
#ifndef CT_COMMON_ELF_H
#define CT_COMMON_ELF_H

/* Why the shim cannot load into the program at path ("static binary: ...",
 * "setuid binary: ..."), or NULL when it can, or when the file cannot be
 * read (the exec will then say why).  A script is judged by its "#!"
 * interpreter.  path must be absolute.  Reads the file with raw syscalls.
 * Context: async-signal-safe, no allocation, errno untouched. */
const char *ct_exec_gap(const char *path);
/* The same, and *open_err the errno of opening path (0: it opened, or
 * path is not absolute and was not tried). */
const char *ct_exec_gap_err(const char *path, int *open_err);

#endif
