/* ctr_net — CTR_NET_PRIVATE: slirp4netns for outbound access and the
 * published ports (rootlesskit's "builtin" port driver):
 *
 *   caller's network namespace          container's network namespace
 *   proxy (the caller's child)  <-- unix socket -->  helper (the holder's
 *    listens on host_ip:host_port                     child): connects to
 *    asks the helper for a socket                     127.0.0.1:ctr_port,
 *    per client, copies bytes both ways               passes the fd back
 *
 * No privilege is needed: the helper's connect() happens inside, the
 * proxy's listen() outside, and SCM_RIGHTS carries the socket across. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr_i.h"
#include "util.h"

#define UDP_IDLE_SECONDS   60
#define UDP_MAX_CLIENTS	   512
#define SLIRP_TIMEOUT_MS   10000
#define CONNECT_TIMEOUT_MS 5000

/* A request to the helper, and its answer (with the fd when err == 0). */
struct port_req {
	int32_t udp;
	uint32_t port;
};

/* Closes every descriptor but keep[0..n) (sorted or not). */
static void close_except(const int *keep, size_t n)
{
	int fd = 0;
	for (;;) {
		int next = -1;
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= fd && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0) {
			close_range((unsigned)fd, ~0U, 0);
			return;
		}
		if (next > fd)
			close_range((unsigned)fd, (unsigned)next - 1, 0);
		fd = next + 1;
	}
}

/* ------------------------------------------------------------ the helper */

static int send_fd(int sock, int32_t e, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {&e, sizeof(e)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The error of a non-blocking connect() on s once it is over. */
static int wait_connected(int s)
{
	struct pollfd p = {s, POLLOUT, 0};
	int e = 0;
	socklen_t len = sizeof(e);
	if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1)
		return ETIMEDOUT;
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return errno;
	return e;
}

/* A socket connected to 127.0.0.1:q->port, or -errno.  A full backlog
 * must not stall the proxy (it waits for us): CONNECT_TIMEOUT_MS at most. */
static int connect_inside(const struct port_req *q)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)q->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int type = (q->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK;
	int e = 0, s = socket(AF_INET, type, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		e = errno == EINPROGRESS ? wait_connected(s) : errno;
	if (e || fcntl(s, F_SETFL, 0) < 0) {
		close(s);
		return -(e ? e : EIO);
	}
	return s;
}

static _Noreturn void helper_main(int sock)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "layerfs-ports");
	const int keep[] = {2, sock}; /* stderr, for a sanitizer's reports */
	close_except(keep, 2);
	struct port_req q;
	while (recv(sock, &q, sizeof(q), 0) == sizeof(q)) {
		int fd = connect_inside(&q);
		int r = send_fd(sock, fd < 0 ? -fd : 0, fd);
		if (fd >= 0)
			close(fd);
		if (r < 0)
			break;
	}
	_exit(0);
}

int ctr_net_helper(struct ctr_ctx *c, error **err)
{
	if (c->port_fd < 0)
		return 0;
	pid_t pid = fork();
	if (pid < 0)
		return error_make(err, errno, "cannot start the port helper");
	if (pid == 0)
		helper_main(c->port_fd);
	c->port_helper = pid;
	close(steal_fd(&c->port_fd));
	return 0;
}

/* ------------------------------------------------------------ listening */

static int port_addr(const struct ctr_port *p, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *ip = p->host_ip ? p->host_ip : "0.0.0.0";
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p->host_port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p->host_port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

static int port_listen(const struct ctr_port *p, int *out, error **err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *ip = p->host_ip ? p->host_ip : "0.0.0.0", *proto = p->udp ? "udp" : "tcp";
	if (!p->host_port || p->host_port > 65535 || !p->ctr_port || p->ctr_port > 65535)
		return error_fail(err, EINVAL, "port %u:%u/%s: ports go from 1 to 65535",
				  p->host_port, p->ctr_port, proto);
	if (port_addr(p, &ss, &len) < 0)
		return error_fail(err, EINVAL, "port %u/%s: '%s' is not an IP address",
				  p->host_port, proto, ip);
	int one = 1,
	    fd = socket(ss.ss_family, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_make(err, errno, "cannot publish port %u/%s", p->host_port, proto);
	*out = fd;
	if (!p->udp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 && (p->udp || listen(fd, 128) == 0))
		return 0;
	if (errno == EADDRINUSE)
		return error_fail(err, EADDRINUSE,
				  "cannot publish port %u/%s: %s:%u is already in use",
				  p->host_port, proto, ip, p->host_port);
	return error_make(err, errno, "cannot publish port %u/%s on %s", p->host_port, proto, ip);
}

int ctr_net_prepare(struct ctr_netstate *n, const struct ctr_spec *s, int *holder_fd, error **err)
{
	n->listen = lfs_xcalloc(s->nports ? s->nports : 1, sizeof(int));
	n->n = s->nports;
	for (size_t i = 0; i < n->n; i++)
		n->listen[i] = -1;
	for (size_t i = 0; i < n->n; i++) {
		int ret = port_listen(&s->ports[i], &n->listen[i], err);
		if (ret < 0)
			return ret;
	}
	if (!n->n)
		return 0;
	int p[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
		return error_make(err, errno, "cannot create a socket pair");
	n->helper = p[0];
	*holder_fd = p[1];
	return 0;
}

void ctr_net_close(struct ctr_netstate *n)
{
	for (size_t i = 0; i < n->n; i++)
		if (n->listen[i] >= 0)
			close(steal_fd(&n->listen[i]));
	if (n->helper >= 0)
		close(steal_fd(&n->helper));
}

/* ------------------------------------------------------------ slirp4netns */

int ctr_net_have_slirp(char *path, size_t size)
{
	static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, size, "%s/slirp4netns", dirs[i]);
		if (access(path, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* In the forked child: only the pipes, stdio on /dev/null, its own
 * process group (the terminal's Ctrl-C is ours to handle), the signals
 * ctr_run blocks (a mask survives execve) unblocked. */
static _Noreturn void slirp_exec(char **argv, int ready, int exit_fd)
{
	static const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	sigset_t none;
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int keep[] = {0, 1, 2, ready, exit_fd}, null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	close_except(keep, 5);
	fcntl(ready, F_SETFD, 0);
	fcntl(exit_fd, F_SETFD, 0);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	execve(argv[0], argv, envp);
	_exit(127);
}

static int slirp_wait_ready(int ready, error **err)
{
	struct pollfd p = {ready, POLLIN, 0};
	char b;
	int r;
	while ((r = poll(&p, 1, SLIRP_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (r == 1 && read(ready, &b, 1) == 1)
		return 0;
	return error_fail(err, EIO,
			  "slirp4netns did not set up the container's network%s: run it by hand "
			  "(slirp4netns --configure PID tap0) to see why",
			  r == 0 ? " in time" : "");
}

/* pipe2(O_CLOEXEC) with both ends above 2: slirp4netns's stdio is set up
 * after they are numbered in its arguments. */
static int pipe_above_stdio(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		close(p[i]);
		p[i] = fd;
	}
	if (p[0] >= 0 && p[1] >= 0)
		return 0;
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return -1;
}

static int slirp_start(struct ctr_netstate *n, const char *slirp, pid_t holder, error **err)
{
	int ready[2], ex[2];
	if (pipe_above_stdio(ready) < 0)
		return error_make(err, errno, "cannot create a pipe");
	if (pipe_above_stdio(ex) < 0) {
		close(ready[0]);
		close(ready[1]);
		return error_make(err, errno, "cannot create a pipe");
	}
	char pid[16], rfd[32], efd[32];
	snprintf(pid, sizeof(pid), "%d", (int)holder);
	snprintf(rfd, sizeof(rfd), "--ready-fd=%d", ready[1]);
	snprintf(efd, sizeof(efd), "--exit-fd=%d", ex[0]);
	char *argv[] = {(char *)slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
			rfd,	       efd,	      pid,	     "tap0",
			NULL};
	n->slirp = fork();
	if (n->slirp == 0)
		slirp_exec(argv, ready[1], ex[0]);
	int e = errno;
	close(ready[1]);
	close(ex[0]);
	n->slirp_exit = ex[1];
	int ret = n->slirp < 0 ? error_make(err, e, "cannot run %s", slirp)
			       : slirp_wait_ready(ready[0], err);
	close(ready[0]);
	return ret;
}

/* ------------------------------------------------------------ the proxy */

struct udp_map {
	int listener; /* index in the proxy's listeners */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	int fd; /* connected to the container's port */
	time_t last;
};

struct proxy {
	const struct ctr_spec *spec;
	struct ctr_netstate *n;
	struct udp_map *maps;
	size_t nmaps;
};

static int recv_fd(int sock)
{
	int32_t e = 0;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&e, sizeof(e)};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = r == sizeof(e) ? CMSG_FIRSTHDR(&m) : NULL;
	int fd = -1;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return e ? -1 : fd;
}

/* A socket connected to the container's port, from the helper. */
static int inside(struct proxy *px, const struct ctr_port *p)
{
	struct port_req q = {p->udp, p->ctr_port};
	if (send(px->n->helper, &q, sizeof(q), MSG_NOSIGNAL) != sizeof(q))
		return -1;
	return recv_fd(px->n->helper);
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One TCP connection: bytes both ways.  When one side is done writing
 * (EOF), the other is told so (shutdown SHUT_WR) and the opposite
 * direction keeps flowing until it ends too: a client that half-closes
 * after its request still gets the whole reply.  An error on either side
 * (a client that vanished: reset, or a write that fails) ends both. */
static void *pump(void *arg)
{
	int *fds = arg, sock[2] = {fds[0], fds[1]};
	free(fds);
	char buf[16384];
	int open_dirs = 2;
	struct pollfd p[2] = {{sock[0], POLLIN, 0}, {sock[1], POLLIN, 0}};
	while (open_dirs > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int failed = 0;
		for (int i = 0; i < 2 && !failed; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t r = recv(sock[i], buf, sizeof(buf), 0);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r < 0 || (r > 0 && send_all(sock[!i], buf, (size_t)r) < 0)) {
				failed = 1;
			} else if (r == 0) {
				shutdown(sock[!i], SHUT_WR);
				p[i].fd = -1; /* poll() skips it */
				open_dirs--;
			}
		}
		if (failed)
			break;
	}
	close(sock[0]);
	close(sock[1]);
	return NULL;
}

static void tcp_accept(struct proxy *px, size_t i)
{
	int c = accept4(px->n->listen[i], NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	int in = inside(px, &px->spec->ports[i]);
	int *fds = in < 0 ? NULL : lfs_xmalloc(2 * sizeof(int));
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (fds) {
		fds[0] = c;
		fds[1] = in;
	}
	if (!fds || pthread_create(&t, &attr, pump, fds) != 0) {
		close(c);
		if (in >= 0)
			close(in);
		free(fds);
	}
	pthread_attr_destroy(&attr);
}

static struct udp_map *udp_find(struct proxy *px, size_t i, const struct sockaddr_storage *peer,
				socklen_t len)
{
	for (size_t k = 0; k < px->nmaps; k++)
		if (px->maps[k].listener == (int)i && px->maps[k].peer_len == len &&
		    !memcmp(&px->maps[k].peer, peer, len))
			return &px->maps[k];
	if (px->nmaps >= UDP_MAX_CLIENTS)
		return NULL; /* a flood of addresses must not exhaust descriptors */
	int fd = inside(px, &px->spec->ports[i]);
	if (fd < 0)
		return NULL;
	px->maps = lfs_xrealloc(px->maps, (px->nmaps + 1) * sizeof(*px->maps));
	struct udp_map *m = &px->maps[px->nmaps++];
	*m = (struct udp_map){.listener = (int)i, .peer_len = len, .fd = fd};
	memcpy(&m->peer, peer, len);
	return m;
}

/* A client's datagram goes in through the client's own socket. */
static void udp_in(struct proxy *px, size_t i, char *buf, size_t size)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	ssize_t r = recvfrom(px->n->listen[i], buf, size, 0, (struct sockaddr *)&peer, &len);
	struct udp_map *m = r < 0 ? NULL : udp_find(px, i, &peer, len);
	if (!m)
		return;
	m->last = time(NULL);
	ssize_t w = send(m->fd, buf, (size_t)r, MSG_NOSIGNAL);
	(void)w; /* UDP: a lost datagram is the client's to resend */
}

/* An answer from the container goes back to the client it belongs to. */
static void udp_out(struct proxy *px, struct udp_map *m, char *buf, size_t size)
{
	ssize_t r = recv(m->fd, buf, size, 0);
	if (r < 0)
		return;
	m->last = time(NULL);
	ssize_t w = sendto(px->n->listen[m->listener], buf, (size_t)r, MSG_NOSIGNAL,
			   (struct sockaddr *)&m->peer, m->peer_len);
	(void)w;
}

static void udp_expire(struct proxy *px)
{
	time_t now = time(NULL);
	for (size_t k = 0; k < px->nmaps;) {
		if (now - px->maps[k].last < UDP_IDLE_SECONDS) {
			k++;
			continue;
		}
		close(px->maps[k].fd);
		px->maps[k] = px->maps[--px->nmaps];
	}
}

static void proxy_poll(struct proxy *px, char *buf, size_t size)
{
	size_t n = px->n->n, total = n + px->nmaps;
	struct pollfd *p = lfs_xcalloc(total, sizeof(*p));
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){px->n->listen[i], POLLIN, 0};
	for (size_t k = 0; k < px->nmaps; k++)
		p[n + k] = (struct pollfd){px->maps[k].fd, POLLIN, 0};
	if (poll(p, total, 1000) > 0) {
		for (size_t k = px->nmaps; k-- > 0;)
			if (p[n + k].revents)
				udp_out(px, &px->maps[k], buf, size);
		for (size_t i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (px->spec->ports[i].udp)
				udp_in(px, i, buf, size);
			else
				tcp_accept(px, i);
		}
	}
	free(p);
	udp_expire(px);
}

static _Noreturn void proxy_main(struct ctr_netstate *n, const struct ctr_spec *s, pid_t caller)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "layerfs-proxy");
	if (getppid() != caller)
		_exit(0);
	signal(SIGPIPE, SIG_IGN);
	int *keep = lfs_xcalloc(n->n + 2, sizeof(int));
	memcpy(keep, n->listen, n->n * sizeof(int));
	keep[n->n] = n->helper;
	keep[n->n + 1] = 2; /* stderr, for a sanitizer's reports */
	close_except(keep, n->n + 2);
	free(keep);
	struct proxy px = {.spec = s, .n = n};
	static char buf[65536];
	for (;;)
		proxy_poll(&px, buf, sizeof(buf));
}

int ctr_net_start(struct ctr_netstate *n, const struct ctr_spec *s, pid_t holder, error **err)
{
	char slirp[64];
	if (!ctr_net_have_slirp(slirp, sizeof(slirp)))
		return error_fail(err, ENOENT,
				  "slirp4netns is not installed: install the slirp4netns package "
				  "for a private network");
	int ret = slirp_start(n, slirp, holder, err);
	if (ret < 0 || !n->n)
		return ret;
	pid_t caller = getpid();
	n->proxy = fork();
	if (n->proxy < 0)
		return error_make(err, errno, "cannot start the port proxy");
	if (n->proxy == 0)
		proxy_main(n, s, caller);
	ctr_net_close(n); /* the proxy's now */
	return 0;
}

static void reap(pid_t *pid)
{
	if (*pid <= 0)
		return;
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}

void ctr_net_halt(struct ctr_netstate *n)
{
	if (n->proxy > 0)
		kill(n->proxy, SIGKILL);
	if (n->slirp_exit >= 0)
		close(steal_fd(&n->slirp_exit)); /* slirp4netns exits */
	/* The namespace is gone with the container: slirp4netns has nothing
	 * left to tidy, and on SIGTERM it took ~40 ms to go. */
	if (n->slirp > 0)
		kill(n->slirp, SIGKILL);
}

void ctr_net_stop(struct ctr_netstate *n)
{
	ctr_net_halt(n);
	reap(&n->proxy);
	reap(&n->slirp);
	ctr_net_close(n);
	free(n->listen);
	n->listen = NULL;
	n->n = 0;
}
