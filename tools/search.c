/* layerfs search — repositories of a registry whose name contains TERM
 * (the catalog API), with their tags. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "registry.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs search [OPTIONS] TERM\n"
    "\n"
    "List the repositories of a registry whose name contains TERM, with their\n"
    "tags, through the registry's catalog API (/v2/_catalog; Docker Hub does\n"
    "not offer it).\n"
    "\n"
    "Options:\n"
    "      --registry HOST        the registry to ask (required)\n"
    "      --tls-verify=false     allow plain http and unchecked certificates\n"
    "      --creds USER:PASSWORD  credentials (default: the login files)\n"
    "  -h, --help                 show this help\n";

int cmd_search(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"registry", required_argument, NULL, 'R'},
	    {"tls-verify", optional_argument, NULL, 'T'},
	    {"creds", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct registry_opts ro = {.tls_verify = 1};
	cleanup_free char *creds = NULL;
	const char *host = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'R') {
			host = optarg;
		} else if (c == 'T' || c == 'C') {
			if (registry_cli_opt(c, optarg, &ro, &creds, err) < 0)
				return -1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs search --help'");
		}
	}
	if (optind + 1 != argc)
		return error_usage(err, "expected one TERM; see 'layerfs search --help'");
	if (!host)
		return error_usage(err, "give --registry HOST (Docker Hub has no catalog API)");
	registry *r;
	if (registry_new(host, &ro, &r, err) < 0)
		return -1;
	json_t *repos = NULL;
	int ret = registry_catalog(r, &repos, err);
	size_t i;
	json_t *v;
	if (ret == 0)
		printf("%-40s %s\n", "NAME", "TAGS");
	json_array_foreach(repos, i, v)
	{
		const char *name = json_string_value(v);
		if (ret < 0 || !name || !strstr(name, argv[optind]))
			continue;
		json_t *tags = NULL;
		ret = registry_tags(r, name, &tags, err);
		if (ret < 0)
			break;
		lfs_buf t = LFS_BUF_INIT;
		size_t k;
		json_t *tg;
		json_array_foreach(tags, k, tg) lfs_buf_addf(
		    &t, "%s%s", k ? "," : "", json_string_value(tg) ? json_string_value(tg) : "");
		printf("%s/%-30s %s\n", host, name, t.data);
		lfs_buf_release(&t);
		json_decref(tags);
	}
	json_decref(repos);
	registry_free(r);
	return ret;
}
