/* A signal handler that unlinks (cleanup handlers do this), and one that
 * fails: neither may disturb the interrupted code's errno beyond what the
 * handler itself does.
 * usage: sig_unlink DIR
 * Expect: open DIR/victim (O_CREAT), then its unlink from the SIGUSR1
 * handler (result 0), then the handler's failing unlink of DIR/gone
 * (ENOENT).
 */
#include <fcntl.h>
#include <signal.h>

#include "e2e.h"

static const char *g_path;
static volatile sig_atomic_t g_r, g_err;

static void on_usr1(int sig)
{
	int saved = errno;

	(void)sig;
	g_r = unlink(g_path);
	g_err = errno;
	errno = saved;
}

int main(int argc, char **argv)
{
	int fd;

	e2e_init(argc, argv);
	g_path = e2e_path("victim");
	fd = OK(open(g_path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	close(fd);
	expect("{\"kind\":\"open\",\"path\":\"%s\",\"result\":%d}", g_path, fd);
	CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
	errno = E2E_SENTINEL;
	CHECK(raise(SIGUSR1) == 0);
	CHECK(errno == E2E_SENTINEL);
	CHECK(g_r == 0 && g_err == E2E_SENTINEL);
	if (access(g_path, F_OK) == 0)
		FAIL("handler did not unlink");
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":0}", g_path);

	g_path = e2e_path("gone");
	CHECK(raise(SIGUSR1) == 0);
	CHECK(g_r == -1 && g_err == ENOENT);
	expect("{\"kind\":\"unlink\",\"path\":\"%s\",\"result\":-2,"
	       "\"errno\":\"ENOENT\"}",
	       g_path);
	return 0;
}
