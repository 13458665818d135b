/* layerfs logs — what a container's command wrote. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd.h"
#include "container.h"
#include "ctn_run.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs logs [OPTIONS] CONTAINER\n"
    "\n"
    "Prints the output (stdout and stderr, interleaved as written) of every\n"
    "run of a container, foreground or detached.\n"
    "\n"
    "Options:\n"
    "  -f, --follow     keep printing new output until the container stops\n"
    "  -h, --help       show this help\n";

/* Copies what fd has now to stdout; returns bytes copied or -errno. */
static ssize_t drain(int fd)
{
	char buf[65536];
	ssize_t n, total = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -errno;
			off += w;
		}
		total += n;
	}
	return n < 0 ? -errno : total;
}

static int follow(struct ctn *c, int fd, error **err)
{
	for (;;) {
		ssize_t n = drain(fd);
		if (n < 0)
			return error_make(err, (int)-n, "writing the log");
		if (n > 0)
			continue;
		if (c->state.status != CTN_RUNNING)
			return 0;
		/* Wakes at the container's end, or every 100 ms for new output. */
		if (ctn_wait_exit(c, 100, err) < 0)
			return -1;
	}
}

static int logs(store *s, const char *ref, int follow_, error **err)
{
	struct ctn *c = NULL;
	if (ctn_open(s, ref, &c, err) < 0)
		return -1;
	cleanup_free char *path = ctn_path(c, "log");
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;
	if (fd < 0 && errno != ENOENT)
		ret = error_make(err, errno, "cannot read the log '%s'", path);
	else if (fd >= 0 && follow_)
		ret = follow(c, fd, err);
	else if (fd >= 0 && drain(fd) < 0)
		ret = error_make(err, errno, "writing the log");
	ctn_free(c);
	return ret;
}

int cmd_logs(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, f = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		if (c == 'f') {
			f = 1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "bad option '%s'; see 'layerfs logs --help'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return error_usage(err, "expected one CONTAINER; see 'layerfs logs --help'");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = logs(s, argv[optind], f, err);
	store_free(s);
	return ret;
}
