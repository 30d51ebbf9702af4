/* ctrace demo: a small scenario run under real tracing, then shown.
 *
 * The scenario does in a throw-away folder what an agent's tool calls do:
 * create a project, write and rename files, run nested shells, and delete
 * a build folder with rm -rf.  It is recorded into the user's store like
 * any `ctrace run`, so every other command can be tried on it after; the
 * demo shows its timeline (the execs and what was renamed or removed, not
 * every open), its tree and its postmortem.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/run.h"

int cmd_timeline(int argc, char **argv, struct ct_cli *cli);
int cmd_tree(int argc, char **argv, struct ct_cli *cli);
int cmd_postmortem(int argc, char **argv, struct ct_cli *cli);

static const char scenario[] =
	"set -e\n"
	"cd \"$1\"\n"
	"mkdir -p project/src project/build\n"
	"printf 'int main(void) { return 0; }\\n' > project/src/main.c\n"
	"cp project/src/main.c project/build/main.o\n"
	"echo 'draft' > project/NOTES.tmp\n"
	"mv project/NOTES.tmp project/NOTES.md\n"
	"cat project/NOTES.md > /dev/null\n"
	"ls project > /dev/null\n"
	"sh -c 'echo nested > project/nested.txt'\n"
	"rm -rf project/build\n"
	"rm -f project/nested.txt\n";

/* The timeline's kinds the demo shows: what ran, and what was renamed or
 * removed.  Every open would double the listing (each coreutils program
 * reads /proc/filesystems) and bury them. */
#define DEMO_KINDS "exec,rename,unlink,rmdir"

static void remove_tree(const char *dir)
{
	/* Clean up with the same tool a user would, given only our own
	 * mkdtemp path, never a string from the trace. */
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
}

int cmd_demo(int argc, char **argv, struct ct_cli *cli)
{
	if (argc > 1)
		return ct_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[1]);

	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/ctrace-demo-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return ct_cli_fail(CT_EXIT_FINDINGS,
				   "demo: cannot create a folder in %s: %s "
				   "(set TMPDIR to a writable folder)",
				   tmp && *tmp ? tmp : "/tmp", strerror(errno));

	/* The scenario as a script file, so the tree shows "sh agent-task.sh"
	 * rather than the whole text. */
	char script[4200];
	snprintf(script, sizeof(script), "%s/agent-task.sh", dir);
	FILE *f = fopen(script, "we");
	if (!f || fputs(scenario, f) < 0 || fclose(f) != 0) {
		int e = errno;
		remove_tree(dir);
		return ct_cli_fail(CT_EXIT_FINDINGS,
				   "demo: cannot write %s: %s (set TMPDIR to a "
				   "writable folder)",
				   script, strerror(e));
	}
	char *cmd[] = { "/bin/sh", script, dir, NULL };
	struct ct_run_opts o = { .name = "demo",
				 .ring_mib = CT_RING_MIB_DEFAULT,
				 .cmd = cmd };
	uint64_t id;
	int status;

	printf("ctrace demo: running a small scenario under tracing in %s\n\n",
	       dir);
	fflush(stdout);
	int r = ct_run(cli, &o, &id, &status);
	remove_tree(dir);
	if (r)
		return r;
	if (status != 0) {
		return ct_cli_fail(CT_EXIT_FINDINGS,
				   "demo: the scenario exited with %d", status);
	}

	char idhex[17];
	snprintf(idhex, sizeof(idhex), "%016llx", (unsigned long long)id);
	printf("\nWhat happened, in order (ctrace timeline %.12s --kind %s):"
	       "\n\n",
	       idhex, DEMO_KINDS);
	fflush(stdout);
	char kinds[] = DEMO_KINDS;
	char *largv[] = { "timeline", idhex, "--kind", kinds, NULL };
	r = cmd_timeline(4, largv, cli);
	if (r)
		return r;
	printf("\nWho ran what (ctrace tree %.12s):\n\n", idhex);
	fflush(stdout);
	char *targv[] = { "tree", idhex, NULL };
	r = cmd_tree(2, targv, cli);
	if (r)
		return r;
	printf("\nWhat was destroyed, by which command (ctrace postmortem "
	       "%.12s):\n\n",
	       idhex);
	fflush(stdout);
	char *pargv[] = { "postmortem", idhex, NULL };
	r = cmd_postmortem(2, pargv, cli);
	if (r)
		return r;
	printf("\nNext: 'ctrace timeline %.12s' for every event, 'ctrace why "
	       "%.12s SEQ' for the chain behind one, 'ctrace audit %.12s', or "
	       "trace your own command with 'ctrace run -- CMD'.\n",
	       idhex, idhex, idhex);
	return 0;
}
