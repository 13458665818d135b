/* layerfs login / logout — registry credentials in the auth files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cmd.h"
#include "reference.h"
#include "registry.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs login [OPTIONS] [REGISTRY]\n"
    "\n"
    "Check the credentials against REGISTRY (default docker.io) and keep them\n"
    "in $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else\n"
    "~/.docker/config.json (as podman and docker read them).\n"
    "\n"
    "Options:\n"
    "  -u, --username USER     user name (required)\n"
    "  -p, --password PASS     password (visible to other users: prefer\n"
    "      --password-stdin    reading it from standard input)\n"
    "      --tls-verify=false  allow plain http and unchecked certificates\n"
    "  -h, --help              show this help\n";

static const char *host_of(const char *reg)
{
	if (!strcmp(reg, "docker.io") || !strcmp(reg, "index.docker.io"))
		return "docker.io";
	return reg;
}

int cmd_login(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"password-stdin", no_argument, NULL, 'S'},
	    {"tls-verify", optional_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct registry_opts ro = {.tls_verify = 1};
	const char *user = NULL, *pass = NULL;
	cleanup_free char *creds = NULL;
	char line[4096];
	int c, from_stdin = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hu:p:", opts, NULL)) != -1) {
		if (c == 'u') {
			user = optarg;
		} else if (c == 'p') {
			pass = optarg;
		} else if (c == 'S') {
			from_stdin = 1;
		} else if (c == 'T') {
			if (registry_cli_opt(c, optarg, &ro, &creds, err) < 0)
				return -1;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs login --help'");
		}
	}
	if (argc - optind > 1)
		return error_usage(err, "expected at most one REGISTRY");
	if (!user)
		return error_usage(err, "give the user name with -u USER");
	if (from_stdin) {
		if (!fgets(line, sizeof(line), stdin))
			return error_usage(err, "--password-stdin: nothing on standard input");
		line[strcspn(line, "\r\n")] = '\0';
		pass = line;
	}
	if (!pass)
		return error_usage(err, "give the password with --password-stdin or -p");
	const char *host = host_of(optind < argc ? argv[optind] : "docker.io");
	ro.user = user;
	ro.pass = pass;
	registry *r;
	const char *contact = strcmp(host, "docker.io") ? host : "registry-1.docker.io";
	if (registry_new(contact, &ro, &r, err) < 0)
		return error_wrap(err, "logging in to %s", host);
	int ret = registry_ping(r, err);
	registry_free(r);
	if (ret < 0)
		return error_wrap(err, "logging in to %s", host);
	cleanup_free char *path = NULL;
	if (auth_store(host, user, pass, &path, err) < 0)
		return -1;
	printf("Login Succeeded (credentials in %s)\n", path);
	return 0;
}

static const char logout_usage[] = "Usage: layerfs logout [REGISTRY]\n"
				   "\n"
				   "Remove the credentials kept for REGISTRY (default docker.io).\n"
				   "\n"
				   "Options:\n"
				   "  -h, --help              show this help\n";

int cmd_logout(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			cmd_print_usage(logout_usage);
			return 0;
		}
		return error_usage(err, "see 'layerfs logout --help'");
	}
	if (argc - optind > 1)
		return error_usage(err, "expected at most one REGISTRY");
	const char *host = host_of(optind < argc ? argv[optind] : "docker.io");
	cleanup_free char *path = NULL;
	if (auth_store(host, NULL, NULL, &path, err) < 0)
		return -1;
	printf("Removed login credentials for %s from %s\n", host, path);
	return 0;
}
