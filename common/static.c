/* The exec side of static-binary coverage: install the seccomp filter and
 * hand its listener to the supervisor.
 *
 * Order matters because a RET_USER_NOTIF filter nobody answers blocks the
 * program, and one whose listener is closed makes the trapped calls fail
 * with ENOSYS: connect to the supervisor first (nothing installed if it
 * is not there), then install, send, and wait for its acknowledgement.
 * Only when the supervisor vanishes between connect and acknowledgement
 * does a detached helper take the listener and answer "continue".
 */
#include "common/static.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/sys.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* How long the exec hook waits for the supervisor's acknowledgement. */
#define ACK_TIMEOUT_S 5

const int ct_static_nrs[] = {
	SYS_open,     SYS_creat,    SYS_openat,	  SYS_openat2,	  SYS_unlink,
	SYS_unlinkat, SYS_rmdir,    SYS_rename,	  SYS_renameat,	  SYS_renameat2,
	SYS_link,     SYS_linkat,   SYS_symlink,  SYS_symlinkat,  SYS_mkdir,
	SYS_mkdirat,  SYS_chmod,    SYS_fchmodat, SYS_fchmodat2,  SYS_truncate,
	SYS_execve,   SYS_execveat, SYS_connect,  SYS_exit_group, -1,
};

bool ct_static_session_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	for (; *s; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return n == 16;
}

unsigned ct_static_sockaddr(void *out, unsigned uid, uint64_t session)
{
	struct sockaddr_un *sun = out;
	static const char hex[] = "0123456789abcdef";
	static const char pre[] = "ctrace-sup-";
	char *p = sun->sun_path;
	char num[24];
	size_t n = 0;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	*p++ = '\0'; /* abstract */
	memcpy(p, pre, sizeof(pre) - 1);
	p += sizeof(pre) - 1;
	do
		num[n++] = (char)('0' + uid % 10);
	while ((uid /= 10) && n < sizeof(num));
	while (n)
		*p++ = num[--n];
	*p++ = '-';
	for (int i = 15; i >= 0; i--)
		*p++ = hex[(session >> (i * 4)) & 15];
	return (unsigned)(offsetof(struct sockaddr_un, sun_path) +
			  (size_t)(p - sun->sun_path));
}

size_t ct_static_filter(void *out, uint32_t stop)
{
	struct sock_filter *f = out;
	size_t n = 0, k, ntarget = 0;
	const uint32_t a5 = offsetof(struct seccomp_data, args[5]);

	while (ct_static_nrs[ntarget] >= 0)
		ntarget++;
	/* [0] ld arch [1] jne -> allow [2] ld nr [3..] jeq -> [4+ntarget]
	 * [3+ntarget] ret allow
	 * [4+ntarget] ld args[5] low [5+ntarget] jne -> stop
	 * [6+ntarget] ld args[5] high [7+ntarget] jne -> stop
	 * [8+ntarget] ret allow [9+ntarget] ret stop
	 * (little-endian: the low word comes first) */
	f[n++] = (struct sock_filter)BPF_STMT(
		BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					      AUDIT_ARCH_X86_64, 0,
					      (uint8_t)(ntarget + 1));
	f[n++] = (struct sock_filter)BPF_STMT(
		BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (k = 0; k < ntarget; k++)
		f[n++] = (struct sock_filter)BPF_JUMP(
			BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ct_static_nrs[k],
			(uint8_t)(ntarget - k), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					      SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, a5);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					      (uint32_t)CT_STATIC_PASS, 0, 3);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, a5 + 4);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					      (uint32_t)(CT_STATIC_PASS >> 32),
					      0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					      SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, stop);
	return n;
}

static int install(bool *nnp, unsigned *flags_out)
{
	struct sock_filter f[CT_STATIC_FILTER_MAX];
	struct sock_fprog prog;
	size_t n = ct_static_filter(f, SECCOMP_RET_USER_NOTIF);
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER |
			      SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	long fd;

	prog.len = (unsigned short)n;
	prog.filter = f;

	*nnp = false;
	*flags_out = CT_STATIC_KILLABLE;
	for (int tries = 0; tries < 4; tries++) {
		fd = ct_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags,
			     &prog);
		if (fd >= 0)
			return (int)fd;
		if (fd == -EINVAL &&
		    (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
			/* before 5.19: a signal may interrupt a call the
			 * supervisor holds (docs/static.md) */
			flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
			*flags_out &= ~(unsigned)CT_STATIC_KILLABLE;
			continue;
		}
		/* Unprivileged filters need no_new_privs; set it only then
		 * (it stops set-uid programs below from gaining rights). */
		if (fd == -EACCES && !*nnp &&
		    ct_sys2(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0) == 0 &&
		    ct_sys6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) ==
			    0) {
			*nnp = true;
			*flags_out |= CT_STATIC_NNP;
			continue;
		}
		break;
	}
	return (int)fd;
}

void ct_static_serve_continue(int listener)
{
	for (;;) {
		struct pollfd pfd = { .fd = listener, .events = POLLIN };
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		long r = ct_sys3(SYS_poll, &pfd, 1, -1);

		if (r == -EINTR)
			continue;
		if (r < 0 || (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
			return;
		memset(&req, 0, sizeof(req));
		if (ct_sys3(SYS_ioctl, listener, SECCOMP_IOCTL_NOTIF_RECV,
			    &req) < 0)
			continue;
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ct_sys3(SYS_ioctl, listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

/* A helper nobody waits for (exit signal 0, its parent exits at once, so
 * it is reparented) serves listener; the caller goes on to its exec. */
static void detach_server(int listener)
{
	long pid = ct_sys6(SYS_clone, 0, 0, 0, 0, 0, 0);

	if (pid == 0) {
		if (ct_sys6(SYS_clone, 0, 0, 0, 0, 0, 0) == 0) {
			ct_sys0(SYS_setsid);
			ct_static_serve_continue(listener);
		}
		ct_sys1(SYS_exit, 0);
	}
	if (pid > 0)
		ct_sys4(SYS_wait4, pid, 0, __WALL, 0);
}

const char *ct_static_cover(uint64_t session, int32_t pid, uint64_t pstart,
			    bool *nnp)
{
	struct sockaddr_un sun;
	struct ct_static_msg m = { .magic = CT_STATIC_MAGIC,
				   .pid = pid,
				   .pstart = pstart };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct timeval tv = { ACK_TIMEOUT_S, 0 };
	unsigned len = ct_static_sockaddr(&sun, ct_sys_geteuid(), session);
	const char *why = NULL;
	char ack = 0;
	int s, lfd;

	*nnp = false;
	s = (int)ct_sys3(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return "static binary: no unix socket for the seccomp "
		       "supervisor; not covered";
	if (ct_sys3(SYS_connect, s, &sun, len) < 0) {
		why = "static binary: the seccomp supervisor of ctrace run is "
		      "not reachable; not covered";
		goto out_close;
	}
	lfd = install(nnp, &m.flags);
	if (lfd < 0) {
		why = "static binary: the kernel refused the seccomp filter; "
		      "not covered";
		goto out_close;
	}
	m.tid = ct_sys_gettid();
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.b;
	mh.msg_controllen = sizeof(ctl.b);
	ctl.h.cmsg_level = SOL_SOCKET;
	ctl.h.cmsg_type = SCM_RIGHTS;
	ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&ctl.h), &lfd, sizeof(int));
	ct_sys6(SYS_setsockopt, s, SOL_SOCKET, SO_RCVTIMEO, (long)&tv,
		sizeof(tv), 0);
	if (ct_sys3(SYS_sendmsg, s, &mh, MSG_NOSIGNAL) != (long)sizeof(m) ||
	    ct_sys6(SYS_recvfrom, s, (long)&ack, 1, 0, 0, 0) != 1 ||
	    ack != 'k') {
		detach_server(lfd);
		why = "static binary: the seccomp supervisor went away; "
		      "not covered";
	}
	ct_sys_close(lfd);
out_close:
	ct_sys_close(s);
	return why;
}
