/* Built with -static.  usage: creator_static DIR N DELAY_US
 * Writes its pid to DIR/pid, then creates DIR/f<i> (content "<i>\n") and
 * renames it to DIR/g<i>, N times, DELAY_US apart; writes DIR/done last.
 * Every call is checked: exit 0 only when all of them succeeded, so a
 * supervisor gone with its listeners (ENOSYS) shows as exit 1 and a
 * message.  static_kill.py kills `ctrace run` while this runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int put(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	size_t n = strlen(text);

	if (fd < 0) {
		fprintf(stderr, "creator: open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (write(fd, text, n) != (ssize_t)n || close(fd) != 0) {
		fprintf(stderr, "creator: write %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char a[4096], b[4096], text[32];
	struct timespec ts;
	long n, us;

	if (argc != 4)
		return 2;
	n = atol(argv[2]);
	us = atol(argv[3]);
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (us % 1000000) * 1000;
	snprintf(a, sizeof(a), "%s/pid", argv[1]);
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	if (put(a, text))
		return 1;
	for (long i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "%s/f%ld", argv[1], i);
		snprintf(b, sizeof(b), "%s/g%ld", argv[1], i);
		snprintf(text, sizeof(text), "%ld\n", i);
		if (put(a, text))
			return 1;
		if (rename(a, b) != 0) {
			fprintf(stderr, "creator: rename %s: %s\n", a,
				strerror(errno));
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	snprintf(a, sizeof(a), "%s/done", argv[1]);
	return put(a, "done\n") ? 1 : 0;
}
