/* An interactive program for the terminal test: reports what it sees of
 * its terminal (isatty of 0/1/2, foreground process group is ours, the
 * termios local flags, the window size), then reads lines in raw-ish mode
 * (no echo, no canonical) echoing each key as a hex code, until 'q'.
 */
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int main(void)
{
	struct termios t, raw;
	struct winsize ws = { 0 };
	int c;

	printf("isatty %d %d %d\n", isatty(0), isatty(1), isatty(2));
	printf("foreground is us %d\n", tcgetpgrp(0) == getpgrp());
	tcgetattr(0, &t);
	printf("lflag icanon=%d echo=%d isig=%d\n", !!(t.c_lflag & ICANON),
	       !!(t.c_lflag & ECHO), !!(t.c_lflag & ISIG));
	ioctl(0, TIOCGWINSZ, &ws);
	printf("size %dx%d\n", ws.ws_col, ws.ws_row);
	raw = t;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	tcsetattr(0, TCSANOW, &raw);
	printf("type keys, q quits> ");
	fflush(stdout);
	while ((c = getchar()) != EOF && c != 'q') {
		printf("[%02x]", c);
		fflush(stdout);
	}
	tcsetattr(0, TCSANOW, &t);
	printf("\nbye\n");
	return 0;
}
