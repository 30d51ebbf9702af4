/* Prints the open file descriptors this process sees (number, FD_CLOEXEC,
 * access mode) and what they are (a file's path; a pipe, socket or
 * terminal by kind, and an O_TMPFILE file without its inode number, since
 * their identities differ between runs), in this process, in a fork child,
 * and after an exec of itself.  Run with and without ctrace: the output
 * must be the same.
 *
 * ft_fds [child|exec]
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *when)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self = dirfd(d), n = 0;
	char line[64][600];

	while ((de = readdir(d))) {
		char path[64], target[512];
		int fd = atoi(de->d_name);
		ssize_t len;

		if (de->d_name[0] == '.' || fd == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		if (!strncmp(target, "pipe:", 5))
			strcpy(target, "pipe");
		else if (!strncmp(target, "socket:", 7))
			strcpy(target, "socket");
		else if (!strncmp(target, "/dev/pts/", 9))
			strcpy(target, "pty");
		else {
			/* tmpfile()'s O_TMPFILE: "/tmp/#<inode> (deleted)" */
			char *h = strchr(target, '#');
			char *e =
				h ? h + 1 + strspn(h + 1, "0123456789") : NULL;
			if (h && e > h + 1 && !strcmp(e, " (deleted)"))
				strcpy(h + 1, "<inode> (deleted)");
		}
		if (n < 64)
			snprintf(line[n++], sizeof(line[0]),
				 "fd %d cloexec=%d acc=%d %s", fd,
				 !!(fcntl(fd, F_GETFD) & FD_CLOEXEC),
				 fcntl(fd, F_GETFL) & O_ACCMODE, target);
	}
	closedir(d);
	/* readdir order is the kernel's; sort by fd */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (atoi(line[j] + 3) < atoi(line[i] + 3)) {
				char t[600];
				strcpy(t, line[i]);
				strcpy(line[i], line[j]);
				strcpy(line[j], t);
			}
	printf("== %s: %d open\n", when, n);
	for (int i = 0; i < n; i++)
		printf("%s\n", line[i]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		show("after exec");
		return 0;
	}
	show("started");
	int fd = open("/dev/null", O_RDONLY);
	FILE *f = tmpfile();
	show("opened two");
	close(fd);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		show("fork child");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
	return 1;
}
