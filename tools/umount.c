/* layerfs umount — end a layerfs mount. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"

extern char **environ;

static const char usage[] = "Usage: layerfs umount [-l] MOUNTPOINT...\n"
			    "\n"
			    "Unmounts layerfs mounts; the serving process then exits.\n"
			    "\n"
			    "Options:\n"
			    "  -l, --lazy   detach now, finish when no longer busy\n"
			    "  -h, --help   show this help\n";

/* Returns 1 if path is the mountpoint of a layerfs mount (the last mount
 * on it, as in /proc/self/mountinfo), 0 if not, -errno on error. */
static int is_layerfs_mount(const char *path)
{
	cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int found = 0;
	while (getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX], fstype[256];
		/* id parent major:minor root mountpoint opts... - fstype source */
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(dash + 3, "%255s", fstype) != 1)
			continue;
		/* mountinfo escapes space, tab, newline and backslash as \ooo. */
		lfs_buf un = LFS_BUF_INIT;
		for (const char *p = mp; *p; p++) {
			unsigned o;
			if (p[0] == '\\' && sscanf(p + 1, "%3o", &o) == 1) {
				lfs_buf_addch(&un, (int)o);
				p += 3;
			} else {
				lfs_buf_addch(&un, *p);
			}
		}
		if (!strcmp(un.data, path))
			found = !strcmp(fstype, "fuse.layerfs");
		lfs_buf_release(&un);
	}
	return found;
}

static int fusermount(const char *mp, int lazy, error **err)
{
	char *args[] = {"fusermount3", lazy ? "-uz" : "-u", "--", (char *)mp, NULL};
	pid_t pid;
	int status;
	int ret = posix_spawnp(&pid, "fusermount3", NULL, NULL, args, environ);
	if (ret)
		return error_make(err, ret, "cannot run fusermount3 (install the fuse3 package)");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_make(err, errno, "waiting for fusermount3");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return error_make(err, 0, "fusermount3 could not unmount '%s'", mp);
	return 0;
}

static int umount_one(const char *arg, int lazy, error **err)
{
	cleanup_free char *mp = realpath(arg, NULL);
	if (!mp)
		return error_make(err, errno, "'%s'", arg);
	int r = is_layerfs_mount(mp);
	if (r < 0)
		return error_make(err, -r, "cannot read /proc/self/mountinfo");
	if (!r)
		return error_make(err, 0, "'%s' is not a layerfs mount", arg);
	if (geteuid() != 0)
		return fusermount(mp, lazy, err);
	if (umount2(mp, lazy ? MNT_DETACH : 0) < 0) {
		if (errno == EBUSY)
			return error_make(err, EBUSY,
					  "cannot unmount '%s': close the programs using it, or "
					  "use --lazy",
					  arg);
		return error_make(err, errno, "cannot unmount '%s'", arg);
	}
	return 0;
}

int cmd_umount(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
		{"lazy", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int lazy = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "lh", opts, NULL)) != -1) {
		if (c == 'l') {
			lazy = 1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs umount --help'");
		}
	}
	if (optind >= argc)
		return error_usage(err, "expected MOUNTPOINT; see 'layerfs umount --help'");
	for (int i = optind; i < argc; i++) {
		int ret = umount_one(argv[i], lazy, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}
