/* layerfs images — list the images in the store, as `docker images` does. */
#include <ctype.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cmd.h"
#include "report.h"
#include "store.h"
#include "util.h"

static const char usage[] =
    "Usage: layerfs images [OPTIONS] [REPOSITORY[:TAG]]\n"
    "\n"
    "List images, newest first.  REPOSITORY and TAG may be shell patterns.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet          only show image IDs\n"
    "      --no-trunc       show full image IDs\n"
    "      --digests        show each image's manifest digest (an image pulled\n"
    "                       by digest is listed as REPOSITORY with tag <none>)\n"
    "      --format json    one JSON object per line, like docker's --format json\n"
    "  -h, --help           show this help\n";

struct row {
	char *repo, *tag, *id; /* id: "sha256:<hex>" */
	const char *digest;    /* the manifest's, "sha256:<hex>" */
	time_t created;	       /* 0 when unknown */
	uint64_t size;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? 1 : -1;
	int c = strcmp(x->repo, y->repo);
	return c ? c : strcmp(x->tag, y->tag);
}

static bool row_matches(const struct row *r, const char *filter)
{
	if (!filter)
		return true;
	cleanup_free char *repo = NULL;
	cleanup_free char *tag = NULL;
	store_ref_split(filter, &repo, &tag);
	if (fnmatch(repo, r->repo, FNM_PATHNAME))
		return false;
	return !strcmp(tag, "<none>") || !fnmatch(tag, r->tag, 0);
}

/* One table line: every column but the last padded to its width. */
static void print_line(char *const *cells, const size_t *w, int ncol)
{
	for (int c = 0; c < ncol - 1; c++)
		printf("%-*s", (int)w[c], cells[c]);
	printf("%s\n", cells[ncol - 1]);
}

static void print_table(const struct row *rows, size_t n, bool no_trunc, bool digests, time_t now)
{
	/* docker's tabwriter: minwidth 10, padding 3; --digests adds DIGEST
	 * after TAG. */
	enum { NCOL = 6 };
	char *hdr[NCOL] = {"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"};
	size_t w[NCOL];
	char **cells = lfs_xcalloc(n * NCOL + 1, sizeof(*cells));
	for (int c = 0; c < NCOL; c++)
		w[c] = strlen(hdr[c]);
	for (size_t i = 0; i < n; i++) {
		char **rc = cells + i * NCOL;
		rc[0] = lfs_xstrdup(rows[i].repo);
		rc[1] = lfs_xstrdup(rows[i].tag);
		rc[2] = lfs_xstrdup(rows[i].digest ? rows[i].digest : "<none>");
		rc[3] = no_trunc ? lfs_xstrdup(rows[i].id) : lfs_xstrndup(rows[i].id + 7, 12);
		rc[4] = rows[i].created ? report_ago(rows[i].created, now) : lfs_xstrdup("N/A");
		rc[5] = report_si_size(rows[i].size);
		for (int c = 0; c < NCOL; c++)
			if (strlen(rc[c]) > w[c])
				w[c] = strlen(rc[c]);
	}
	for (int c = 0; c < NCOL; c++)
		w[c] = w[c] + 3 < 10 ? 10 : w[c] + 3;
	/* Without --digests the DIGEST column is left out. */
	for (size_t i = 0; i <= n; i++) {
		char **rc = i ? cells + (i - 1) * NCOL : hdr;
		char *line[NCOL];
		size_t lw[NCOL];
		int k = 0;
		for (int c = 0; c < NCOL; c++) {
			if (c == 2 && !digests)
				continue;
			line[k] = rc[c];
			lw[k++] = w[c];
		}
		print_line(line, lw, k);
	}
	for (size_t i = 0; i < n * NCOL; i++)
		free(cells[i]);
	free(cells);
}

static void print_json(const struct row *rows, size_t n, bool no_trunc, time_t now)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char at[80] = "N/A";
		struct tm tm;
		if (r->created && localtime_r(&r->created, &tm))
			strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
		cleanup_free char *since =
		    r->created ? report_ago(r->created, now) : lfs_xstrdup("N/A");
		cleanup_free char *size = report_si_size(r->size);
		cleanup_free char *id = no_trunc ? lfs_xstrdup(r->id) : lfs_xstrndup(r->id + 7, 12);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
				      "Containers", "N/A", "CreatedAt", at, "CreatedSince", since,
				      "Digest", "<none>", "ID", id, "Repository", r->repo,
				      "SharedSize", "N/A", "Size", size, "Tag", r->tag,
				      "UniqueSize", "N/A", "VirtualSize", size);
		char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		puts(text);
		free(text);
		json_decref(o);
	}
}

static size_t collect_rows(struct store_image **imgs, size_t n, const char *filter,
			   struct row *rows)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct row r;
		if (imgs[i]->ref) {
			store_ref_split(imgs[i]->ref, &r.repo, &r.tag);
		} else {
			r.repo = lfs_xstrdup("<none>");
			r.tag = lfs_xstrdup("<none>");
		}
		r.id = imgs[i]->config_digest;
		r.digest = imgs[i]->manifest_digest;
		r.created = report_parse_time(
		    json_string_value(json_object_get(imgs[i]->config, "created")));
		r.size = store_image_size(imgs[i]);
		if (row_matches(&r, filter)) {
			rows[k++] = r;
		} else {
			free(r.repo);
			free(r.tag);
		}
	}
	qsort(rows, k, sizeof(*rows), row_cmp);
	return k;
}

int cmd_images(int argc, char **argv, error **err)
{
	enum { OPT_NO_TRUNC = 256, OPT_FORMAT, OPT_DIGESTS };
	static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
					     {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
					     {"digests", no_argument, NULL, OPT_DIGESTS},
					     {"format", required_argument, NULL, OPT_FORMAT},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	bool quiet = false, no_trunc = false, json = false, digests = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case OPT_NO_TRUNC:
			no_trunc = true;
			break;
		case OPT_DIGESTS:
			digests = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "{{json .}}"))
				return error_usage(err, "--format: only 'json' is supported");
			json = true;
			break;
		case 'h':
			cmd_print_usage(usage);
			return 0;
		default:
			return error_usage(err, "bad option '%s'; run 'layerfs images --help'",
					   argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return error_usage(err,
				   "at most one REPOSITORY[:TAG]; run 'layerfs images --help'");
	const char *filter = optind < argc ? argv[optind] : NULL;

	store *s = NULL;
	struct store_image **imgs = NULL;
	size_t n = 0;
	if (store_open(&s, err) < 0)
		return -1;
	int ret = store_image_list(s, &imgs, &n, err);
	store_free(s);
	if (ret < 0)
		return -1;
	struct row *rows = lfs_xcalloc(n + 1, sizeof(*rows));
	size_t k = collect_rows(imgs, n, filter, rows);
	time_t now = time(NULL);
	if (quiet) {
		for (size_t i = 0; i < k; i++)
			printf("%.*s\n", no_trunc ? 71 : 12, rows[i].id + (no_trunc ? 0 : 7));
	} else if (json) {
		print_json(rows, k, no_trunc, now);
	} else {
		print_table(rows, k, no_trunc, digests, now);
	}
	for (size_t i = 0; i < k; i++) {
		free(rows[i].repo);
		free(rows[i].tag);
	}
	free(rows);
	store_image_list_free(imgs, n);
	return 0;
}
