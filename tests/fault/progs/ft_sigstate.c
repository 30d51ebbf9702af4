/* Prints this process's signal state: every signal's disposition, flags
 * and handler mask, and the blocked set; then changes it (handlers for
 * SIGSYS, SIGSEGV, SIGUSR1, SIGCHLD with flags, SIGSYS and SIGUSR2
 * blocked) and prints it again, then execs itself ("again") so the state
 * an exec keeps is printed too.  Run with and without ctrace: the output
 * must be the same.
 *
 * ft_sigstate [again]
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void handler(int sig)
{
	(void)sig;
}

static void handler2(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
}

static void show(const char *when)
{
	sigset_t cur;

	printf("== %s\n", when);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		char mask[NSIG + 1];
		const char *disp;

		if (sigaction(sig, NULL, &sa) != 0) {
			printf("%2d invalid\n", sig);
			continue;
		}
		if (sa.sa_handler == SIG_DFL)
			disp = "default";
		else if (sa.sa_handler == SIG_IGN)
			disp = "ignore";
		else if (sa.sa_handler == handler)
			disp = "handler";
		else if (sa.sa_sigaction == handler2)
			disp = "handler2";
		else
			disp = "FOREIGN";
		for (int s = 1; s < NSIG; s++)
			mask[s - 1] = sigismember(&sa.sa_mask, s) ? '1' : '0';
		mask[NSIG - 1] = 0;
		/* SA_RESTORER is libc's business */
		printf("%2d %-8s %-9s flags=%#x mask=%s\n", sig,
		       sig < SIGRTMIN ? sigabbrev_np(sig) : "RT", disp,
		       (unsigned)(sa.sa_flags & ~0x04000000), mask);
	}
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("blocked:");
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&cur, s))
			printf(" %d", s);
	printf("\n");
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	show(argc > 1 ? "after exec" : "inherited");
	if (argc > 1)
		return 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGSYS, &sa, NULL);
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = handler2;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = handler;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESETHAND;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGHUP, handler);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	show("changed");
	/* an exec keeps ignored signals and the mask, resets handlers */
	execl("/proc/self/exe", argv[0], "again", (char *)NULL);
	perror("exec");
	return 1;
}
