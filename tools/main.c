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
