#include "cmd.h"

#include <stdio.h>
#include <string.h>

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

void cmd_print_usage(const char *usage)
{
	fputs(usage, stdout);
}
