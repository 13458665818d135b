/* layerfs ps — list containers, as docker ps prints them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "container.h"
#include "report.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs ps [OPTIONS]\n"
    "       layerfs container ls [OPTIONS]\n"
    "\n"
    "Lists containers, newest first: running ones, or all with -a.  STATUS\n"
    "is 'Up <time>', 'Exited (<code>) <time> ago' or 'Created'; a container\n"
    "whose monitor process died (killed, or a reboot) shows as Exited (255).\n"
    "NETWORKS is host, none or private.\n"
    "\n"
    "Options:\n"
    "  -a, --all        show all containers (default: running ones)\n"
    "  -q, --quiet      only the IDs\n"
    "      --no-trunc   full IDs and commands\n"
    "  -h, --help       show this help\n";

/* docker: the command cut to 20 characters ("…" last), then Go-quoted. */
static char *command_column(const struct ctn *c, int no_trunc)
{
	cleanup_free char *cmd = ctn_command_text(c);
	lfs_buf b = LFS_BUF_INIT;
	size_t chars = 0, len = strlen(cmd);
	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)cmd[i] & 0xc0) != 0x80;
	lfs_buf_addch(&b, '"');
	size_t seen = 0;
	for (size_t i = 0; i < len; i++) {
		int lead = ((unsigned char)cmd[i] & 0xc0) != 0x80;
		if (lead && !no_trunc && chars > 20 && ++seen > 19) {
			lfs_buf_addstr(&b, "\xe2\x80\xa6");
			break;
		}
		if (cmd[i] == '"' || cmd[i] == '\\')
			lfs_buf_addch(&b, '\\');
		lfs_buf_addch(&b, cmd[i]);
	}
	lfs_buf_addch(&b, '"');
	return lfs_buf_detach(&b, NULL);
}

static char *ports_column(const struct ctn *c)
{
	lfs_buf b = LFS_BUF_INIT;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(c->config, "ports"), i, p)
	{
		const char *ip = json_string_value(json_object_get(p, "host_ip"));
		const char *proto = json_string_value(json_object_get(p, "proto"));
		lfs_buf_addf(&b, "%s%s:%lld->%lld/%s", i ? ", " : "", ip ? ip : "0.0.0.0",
			     (long long)json_integer_value(json_object_get(p, "host_port")),
			     (long long)json_integer_value(json_object_get(p, "ctr_port")),
			     proto ? proto : "tcp");
	}
	return lfs_buf_detach(&b, NULL);
}

/* Display width: UTF-8 characters. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

#define NCOL 8

static void print_table(char *(*rows)[NCOL], size_t n)
{
	size_t w[NCOL] = {0};
	for (size_t r = 0; r < n; r++)
		for (int k = 0; k < NCOL; k++)
			if (width(rows[r][k]) > w[k])
				w[k] = width(rows[r][k]);
	for (size_t r = 0; r < n; r++) {
		for (int k = 0; k < NCOL; k++) {
			fputs(rows[r][k], stdout);
			if (k < NCOL - 1)
				printf("%*s", (int)(w[k] - width(rows[r][k]) + 3), "");
		}
		putchar('\n');
	}
}

static void fill_row(char **row, const struct ctn *c, int no_trunc, time_t now)
{
	char *ago = report_ago(ctn_created(c), now);
	row[0] = no_trunc ? lfs_xstrdup(c->id) : lfs_xstrndup(c->id, 12);
	row[1] = lfs_xstrdup(ctn_image(c));
	row[2] = command_column(c, no_trunc);
	row[3] = ago;
	row[4] = ctn_status_text(c, now);
	row[5] = ports_column(c);
	row[6] = lfs_xstrdup(ctn_name(c));
	const char *net = json_string_value(json_object_get(c->config, "network"));
	row[7] = lfs_xstrdup(net ? net : "host");
}

static void print_ps(struct ctn **cs, size_t n, int all, int quiet, int no_trunc)
{
	time_t now = time(NULL);
	char *(*rows)[NCOL] = lfs_xcalloc(n + 1, sizeof(*rows));
	static const char *const head[NCOL] = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
					       "STATUS",       "PORTS", "NAMES",   "NETWORKS"};
	size_t nr = 1;
	for (int k = 0; k < NCOL; k++)
		rows[0][k] = lfs_xstrdup(head[k]);
	for (size_t i = 0; i < n; i++) {
		if (!all && cs[i]->state.status != CTN_RUNNING)
			continue;
		if (quiet)
			printf("%.*s\n", no_trunc ? 64 : 12, cs[i]->id);
		else
			fill_row(rows[nr++], cs[i], no_trunc, now);
	}
	if (!quiet)
		print_table(rows, nr);
	for (size_t r = 0; r < n + 1; r++)
		for (int k = 0; k < NCOL; k++)
			free(rows[r][k]);
	free(rows);
}

int cmd_ps(int argc, char **argv, error **err)
{
	enum { OPT_NO_TRUNC = 256 };
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, all = 0, quiet = 0, no_trunc = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "aqh", opts, NULL)) != -1) {
		if (c == 'a')
			all = 1;
		else if (c == 'q')
			quiet = 1;
		else if (c == OPT_NO_TRUNC)
			no_trunc = 1;
		else if (c == 'h')
			return cmd_print_usage(usage), 0;
		else
			return error_usage(err, "bad option '%s'; see 'layerfs ps --help'",
					   argv[optind - 1]);
	}
	if (optind != argc)
		return error_usage(err, "ps takes no arguments; see 'layerfs ps --help'");
	store *s;
	if (store_open(&s, err) < 0)
		return -1;
	struct ctn **cs;
	size_t n;
	int ret = ctn_list(s, &cs, &n, err);
	if (ret >= 0) {
		print_ps(cs, n, all, quiet, no_trunc);
		ctn_list_free(cs, n);
	}
	store_free(s);
	return ret;
}
