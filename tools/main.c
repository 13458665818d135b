/* layerfs — command dispatch. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct command commands[] = {
#define X(n, s) {#n, cmd_##n, s},
	LAYERFS_COMMANDS(X)
#undef X
};

static void usage(FILE *out)
{
	fputs("Usage: layerfs COMMAND [OPTIONS] [ARGS]\n\n"
	      "Container images as FUSE filesystems, straight from their tar layers.\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'layerfs COMMAND --help' for a command's options.\n"
	      "The image store is $LAYERFS_ROOT, else /var/lib/layerfs for root,\n"
	      "else $XDG_DATA_HOME/layerfs (~/.local/share/layerfs).\n",
	      out);
}

/* Called as a mount helper — `layerfs -o lowerdir=...,upperdir=... MNT`
 * (podman/buildah mount_program, like fuse-overlayfs) or, through
 * mount.fuse3 / a mount.fuse.layerfs link, `layerfs SOURCE MNT -o OPTS`. */
static int mount_helper_call(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strncmp(base, "mount.", 6))
		return 1;
	if (argc < 2 || !strncmp(argv[1], "-o", 2))
		return argc >= 2;
	for (int i = 2; i < argc; i++)
		if (!strncmp(argv[i], "-o", 2))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("layerfs 0.1");
		return 0;
	}
	int helper = 1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			helper = 0;
	if (helper && mount_helper_call(argc, argv)) {
		error *err = NULL;
		argv[0] = "mount";
		if (cmd_mount(argc, argv, &err) >= 0)
			return 0;
		fprintf(stderr, "layerfs: %s\n", err ? err->msg : "mount failed");
		int status = err ? err->status : 1;
		error_free(err);
		return status;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		error *err = NULL;
		int ret = commands[i].run(argc - 1, argv + 1, &err);
		if (ret >= 0)
			return 0;
		int status = err ? err->status : 1;
		if (!err || err->msg[0])
			fprintf(stderr, "layerfs %s: %s\n", argv[1], err ? err->msg : "failed");
		error_free(err);
		return status;
	}
	fprintf(stderr, "layerfs: unknown command '%s'; run 'layerfs --help' for the list\n",
		argv[1]);
	return 2;
}
