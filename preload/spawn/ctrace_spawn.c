/* ctrace-spawn: the trampoline through which the shim's posix_spawn hooks
 * start a static binary (common/static.h has the protocol, docs/static.md
 * "posix_spawn" the reasons).
 *
 * The spawning thread's posix_spawn execs this program with the caller's
 * file actions, attributes and environment; it puts itself under the
 * seccomp filter, hands the listener to the supervisor and execs the
 * target in place, so the static program keeps this pid.
 *
 * Linked -static: no loader runs and no LD_PRELOAD library (the shim, or
 * one of the program's own) loads into it, and the supervisor records
 * nothing of an image that handed its filter over until that image execs:
 * the tree reads spawner -> static program.  What the spawn set up (fds,
 * cwd, signal mask, default dispositions, process group, session,
 * scheduler, ids) survives the exec; this program changes none of it (its
 * sockets are close-on-exec, it touches no signal state) and passes the
 * target's argv and envp on as it received them.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/static.h"
#include "common/sys.h"

static int s_chan = -1;

static void report(char kind, const void *data, size_t n)
{
	char msg[CT_SPAWN_MSG_MAX];

	if (n > sizeof(msg) - 1)
		n = sizeof(msg) - 1;
	msg[0] = kind;
	memcpy(msg + 1, data, n);
	/* the spawner may be gone: no SIGPIPE, and exec anyway */
	send(s_chan, msg, n + 1, MSG_NOSIGNAL);
}

static void report_errno(char kind, int err)
{
	report(kind, &err, sizeof(err));
}

static int chan_connect(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int s;

	if (n == 0 || n + 1 > sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path + 1, name, n); /* abstract: sun_path[0] = 0 */
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sun,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				n)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* posix_spawnp's search, as glibc 2.36 does it (posix/execvpe.c,
 * __execvpex: no shell for ENOEXEC): misses are reported so that the
 * spawner's errno ends as glibc's shared-TLS child leaves it.  Returns the
 * error of the failed exec. */
static int exec_search(const char *file, const char *path, char **argv,
		       char **envp)
{
	size_t file_len, path_len;
	bool eacces = false;
	int last = 0;

	if (!*file)
		return ENOENT;
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return errno;
	}
	file_len = strnlen(file, NAME_MAX) + 1;
	path_len = strnlen(path, PATH_MAX - 1) + 1;
	if (file_len - 1 > NAME_MAX)
		return ENAMETOOLONG;

	char buf[path_len + file_len + 1];
	const char *subp;

	for (const char *p = path;; p = subp) {
		char *pend;

		subp = strchrnul(p, ':');
		if ((size_t)(subp - p) >= path_len) {
			if (*subp == '\0')
				break;
			continue;
		}
		/* an empty entry is the current directory: "file" alone */
		pend = mempcpy(buf, p, (size_t)(subp - p));
		*pend = '/';
		memcpy(pend + (p < subp), file, file_len);
		execve(buf, argv, envp);
		last = errno;
		switch (last) {
		case EACCES:
			eacces = true;
			/* fall through */
		case ENOENT:
		case ESTALE:
		case ENOTDIR:
		case ENODEV:
		case ETIMEDOUT:
			report_errno(CT_SPAWN_MISS, last);
			break;
		default:
			return last;
		}
		if (*subp++ == '\0')
			break;
	}
	return eacces ? EACCES : last;
}

int main(int argc, char **argv, char **envp)
{
	const char *why, *mode, *file;
	uint64_t session;
	char **targv;
	bool nnp;
	int err;

	if (argc < CT_SPAWN_ARGS ||
	    strcmp(argv[CT_SPAWN_ARG_MAGIC], CT_SPAWN_MAGIC) != 0) {
		static const char use[] =
			CT_SPAWN_HELPER ": started only by ctrace's shim\n";

		if (write(2, use, sizeof(use) - 1) < 0)
			return 2;
		return 2;
	}
	mode = argv[CT_SPAWN_ARG_MODE];
	file = argv[CT_SPAWN_ARG_FILE];
	targv = argv + CT_SPAWN_ARGS;
	s_chan = chan_connect(argv[CT_SPAWN_ARG_SOCK]);
	if (s_chan < 0)
		_exit(CT_SPAWN_NOCHAN); /* the spawner starts it plainly */

	why = "static binary: bad session for the posix_spawn helper; "
	      "not covered";
	if (ct_static_session_parse(argv[CT_SPAWN_ARG_SESSION], &session))
		why = ct_static_cover(session, (int32_t)getpid(), 0, &nnp);
	report(CT_SPAWN_COVER, why ? why : "", why ? strlen(why) : 0);

	if (mode[0] == 'x') {
		execve(file, targv, envp);
		err = errno;
	} else {
		/* "d": PATH unset in the spawner, glibc's default */
		err = exec_search(file,
				  mode[0] == 'd' ? "/bin:/usr/bin"
						 : argv[CT_SPAWN_ARG_PATH],
				  targv, envp);
	}
	report_errno(CT_SPAWN_FAIL, err);
	_exit(127); /* glibc's spawn child's status for a failed exec */
}
