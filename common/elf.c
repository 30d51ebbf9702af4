/* Before an exec: will the shim get into the new program?  Two cases it
 * cannot: a static binary (no PT_INTERP: no loader, no LD_PRELOAD) and a
 * set-uid/set-gid binary owned by someone else (the loader runs it in
 * secure mode and drops LD_PRELOAD).  Reads the file with raw syscalls.
 */
#include <elf.h>
#include <string.h>

#include "common/elf.h"
#include "common/sys.h"

#define GAP_STATIC "static binary: the shim cannot load into it"
#define GAP_SETUID "setuid binary: the loader drops LD_PRELOAD"

/* 1 static, 0 dynamic, -1 not an ELF we can read. */
static int elf_is_static(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	long n;

	n = ct_sys_pread(fd, &eh, sizeof(eh), 0);
	if (n < (long)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return -1;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
		return -1;
	if (eh.e_phnum > 64)
		return -1;
	n = ct_sys_pread(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr),
			 (off_t)eh.e_phoff);
	if (n < (long)(eh.e_phnum * sizeof(Elf64_Phdr)))
		return -1;
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_INTERP)
			return 0;
	return 1;
}

static const char *check(const char *path, int depth, int *open_err)
{
	struct stat st;
	char head[256];
	const char *why = NULL;
	long n;
	int fd, s;

	fd = ct_sys_openat(AT_FDCWD, path, O_RDONLY);
	if (open_err)
		*open_err = fd < 0 ? -fd : 0;
	if (fd < 0)
		return NULL;
	if (ct_sys_fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (((st.st_mode & S_ISUID) && st.st_uid != ct_sys_geteuid()) ||
	     ((st.st_mode & S_ISGID) && st.st_gid != ct_sys_getegid()))) {
		why = GAP_SETUID;
		goto out_close;
	}
	s = elf_is_static(fd);
	if (s == 1) {
		why = GAP_STATIC;
		goto out_close;
	}
	if (s == 0 || depth > 0)
		goto out_close;
	/* A script: the interpreter is what gets loaded. */
	n = ct_sys_pread(fd, head, sizeof(head) - 1, 0);
	if (n > 2 && head[0] == '#' && head[1] == '!') {
		char *p = head + 2, *e;

		head[n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p;
		while (*e && *e != ' ' && *e != '\t' && *e != '\n')
			e++;
		if (*e || e < head + n) {
			*e = '\0';
			if (p[0] == '/')
				why = check(p, depth + 1, NULL);
		}
	}
out_close:
	ct_sys_close(fd);
	return why;
}

const char *ct_exec_gap_err(const char *path, int *open_err)
{
	*open_err = 0;
	if (!path || path[0] != '/')
		return NULL;
	return check(path, 0, open_err);
}

const char *ct_exec_gap(const char *path)
{
	int open_err;

	return ct_exec_gap_err(path, &open_err);
}
