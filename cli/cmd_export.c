/* ctrace export: SPEC's machine-readable export, streamed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer/export.h"
#include "cli/cli.h"
#include "common/error.h"

/* Open a temporary file next to path, so that rename() onto path is
 * atomic: readers see the old file or the whole new one, never half. */
static FILE *open_tmp(const char *path, char *tmp, size_t cap)
{
	mode_t mask;
	FILE *f;
	int fd;

	if ((size_t)snprintf(tmp, cap, "%s.tmp.XXXXXX", path) >= cap) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return NULL;
	/* mkstemp makes 0600; an export is an ordinary file. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	f = fdopen(fd, "w");
	if (!f) {
		int e = errno;

		close(fd);
		unlink(tmp);
		errno = e;
	}
	return f;
}

/* Flush, sync and close f; 0 or -1 with errno set. */
static int finish_file(FILE *f)
{
	int rc = 0, e = 0;

	if (fflush(f) != 0 || ferror(f)) {
		rc = -1;
		e = errno ? errno : EIO;
	}
	if (rc == 0 && fsync(fileno(f)) != 0) {
		rc = -1;
		e = errno;
	}
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	errno = e;
	return rc;
}

int cmd_export(int argc, char **argv, struct ct_cli *cli)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum ct_export_format fmt = CT_EXPORT_JSON;
	struct ct_export_stats st;
	const char *spec = NULL, *outpath = NULL;
	struct ct_rtxn *t = NULL;
	char tmp[PATH_MAX + 32];
	FILE *out = stdout;
	uint64_t id;
	int ch, rc, e;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "json") == 0)
				fmt = CT_EXPORT_JSON;
			else if (strcmp(optarg, "ndjson") == 0)
				fmt = CT_EXPORT_NDJSON;
			else
				return ct_cli_usage_error(
					cli,
					"unknown format '%s' (use json or "
					"ndjson)",
					optarg);
			break;
		case 'o':
			outpath = strcmp(optarg, "-") == 0 ? NULL : optarg;
			if (outpath && !*outpath)
				return ct_cli_usage_error(
					cli, "-o needs a file name");
			break;
		default:
			return ct_cli_bad_option(cli, ch, optopt,
						 argv[optind - 1]);
		}
	}
	rc = ct_cli_session_operand(cli, argc, argv, &spec);
	if (rc)
		return rc;
	rc = ct_cli_open_session(cli, spec, &t, &id);
	if (rc)
		return rc;
	if (outpath) {
		out = open_tmp(outpath, tmp, sizeof(tmp));
		if (!out) {
			rc = ct_cli_fail(CT_EXIT_USAGE, "cannot write %s: %s",
					 outpath, strerror(errno));
			goto out_txn;
		}
	}
	errno = 0;
	rc = ct_export_write(t, id, fmt, out, &st);
	e = errno;
	if (outpath) {
		if (finish_file(out) != 0 && rc == 0) {
			rc = CT_EIO;
			e = errno;
		}
		if (rc == 0 && rename(tmp, outpath) != 0) {
			rc = CT_EIO;
			e = errno;
		}
		if (rc != 0)
			unlink(tmp);
	}
	if (rc == CT_EIO) {
		rc = ct_cli_fail(CT_EXIT_USAGE, "cannot write %s: %s",
				 outpath ? outpath : "standard output",
				 strerror(e ? e : EIO));
		goto out_txn;
	}
	if (rc < 0) {
		rc = ct_cli_fail(CT_EXIT_USAGE, "cannot export session: %s",
				 ct_strerror(rc));
		goto out_txn;
	}
	if (st.undecoded)
		fprintf(stderr,
			"ctrace: warning: %llu events could not be decoded "
			"and were left out (first: seq %llu)\n",
			(unsigned long long)st.undecoded,
			(unsigned long long)st.first_bad);
	rc = CT_EXIT_OK;
out_txn:
	if (t)
		ct_store_read_end(t);
	return rc;
}
