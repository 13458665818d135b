/* layerfs pull — an image from a registry into the store, layers kept as
 * they come (gzip and zstd stay so), each verified before it is stored. */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "manifest.h"
#include "reference.h"
#include "registry.h"
#include "store.h"
#include "util.h"

#define PARALLEL 3

static const char usage[] =
    "Usage: layerfs pull [OPTIONS] NAME[:TAG|@DIGEST]\n"
    "\n"
    "Download an image from a registry (docker's naming: no registry means\n"
    "docker.io, no namespace library/, no tag :latest).  Layers download in\n"
    "parallel, are stored as they come and verified (digest, size, diff_id);\n"
    "layers already in the store are skipped.  The store changes only once\n"
    "everything is verified.\n"
    "\n"
    "Options:\n"
    "      --platform OS/ARCH[/VARIANT]  pick this platform from a multi-platform\n"
    "                                    image (default: linux/this machine)\n"
    "      --tls-verify=false            allow plain http and unchecked certificates\n"
    "      --creds USER:PASSWORD         credentials (default: the login files)\n"
    "  -q, --quiet                       print only the image name\n"
    "  -h, --help                        show this help\n";

struct job {
	registry *r;
	store *s;
	const char *repo;
	json_t *desc;
	const char *diff_id;
	store_staged_layer *staged;
	error *err;
	bool quiet, tty;
	int line; /* tty line offset */
	size_t n;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(struct job *j, const char *digest, const char *msg)
{
	if (j->quiet)
		return;
	pthread_mutex_lock(&out_lock);
	if (j->tty) /* one line per layer: move up to it, rewrite, come back */
		printf("\033[%dA\r\033[K%.12s: %s\033[%dB\r", j->line, digest + 7, msg, j->line);
	else
		printf("%.12s: %s\n", digest + 7, msg);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void progress(void *arg, uint64_t done, uint64_t total)
{
	struct job *j = arg;
	if (!j->tty)
		return;
	char msg[96];
	snprintf(msg, sizeof(msg), "Downloading %" PRIu64 "/%" PRIu64 " bytes", done, total);
	say(j, json_string_value(json_object_get(j->desc, "digest")), msg);
}

static void run_job(struct job *j)
{
	const char *digest = json_string_value(json_object_get(j->desc, "digest"));
	const char *mt = json_string_value(json_object_get(j->desc, "mediaType"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(j->desc, "size"));
	const char *why;
	if (!manifest_layer_type_ok(mt, &why)) {
		error_make(&j->err, ENOTSUP, "layer %s has media type %s: %s", digest, mt, why);
		return;
	}
	if (store_blob_present(j->s, digest)) {
		say(j, digest, "Already exists");
		if (store_layer_stage_present(j->s, digest, mt, j->diff_id, &j->staged, &j->err) <
		    0)
			return;
		return;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "Downloading %" PRIu64 " bytes", size);
	say(j, digest, msg);
	store_blob *b;
	if (store_blob_begin(j->s, digest, size, &b, &j->err) < 0)
		return;
	if (registry_get_blob(j->r, j->repo, digest, b, progress, j, &j->err) < 0) {
		store_blob_free(b);
		return;
	}
	say(j, digest, "Verifying and indexing");
	if (store_layer_stage_blob(j->s, b, mt, j->diff_id, &j->staged, &j->err) < 0)
		return;
	say(j, digest, "Pull complete");
}

struct pool {
	struct job *jobs;
	size_t n, next;
	pthread_mutex_t lock;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->n)
			return NULL;
		run_job(&p->jobs[i]);
	}
}

/* Gets the image manifest for ref, resolving an index to a platform. */
static int fetch_manifest(registry *r, const char *repo, const char *ref, const char *platform,
			  lfs_buf *body, error **err)
{
	cleanup_free char *mt = NULL;
	if (registry_get_manifest(r, repo, ref, body, &mt, err) < 0)
		return -1;
	json_t *doc = json_loadb(body->data, body->len, 0, NULL);
	if (!doc)
		return error_make(err, EBADMSG, "%s: the manifest is not JSON", ref);
	const char *own = json_string_value(json_object_get(doc, "mediaType"));
	enum manifest_kind k = manifest_kind_of(own ? own : mt, doc);
	int ret = 0;
	if (k == MANIFEST_INDEX) {
		struct platform p;
		ret = platform_parse(platform, &p, err);
		json_t *d = ret == 0 ? manifest_pick_platform(doc, &p, err) : NULL;
		const char *dg = json_string_value(json_object_get(d, "digest"));
		if (ret == 0 && !d)
			ret = -1;
		else if (ret == 0 && !dg)
			ret = error_make(err, EBADMSG, "bad descriptor in the image index");
		cleanup_free char *dgc = dg ? lfs_xstrdup(dg) : NULL;
		platform_release(&p);
		json_decref(doc);
		if (ret < 0)
			return ret;
		free(mt);
		mt = NULL;
		if (registry_get_manifest(r, repo, dgc, body, &mt, err) < 0)
			return -1;
		doc = json_loadb(body->data, body->len, 0, NULL);
		own = json_string_value(json_object_get(doc, "mediaType"));
		k = manifest_kind_of(own ? own : mt, doc);
	}
	if (k != MANIFEST_IMAGE)
		ret = error_make(err, ENOTSUP,
				 "%s: unsupported manifest type %s (docker schema 1 "
				 "images are not supported)",
				 ref,
				 own  ? own
				 : mt ? mt
				      : "(none)");
	if (ret == 0)
		ret = manifest_check_image(doc, err);
	json_decref(doc);
	return ret;
}

static int pull(const char *name, const char *platform, const struct registry_opts *ro, bool quiet,
		error **err)
{
	struct reference ref;
	if (reference_parse(name, &ref, err) < 0)
		return -1;
	cleanup_free char *fam = reference_familiar(&ref);
	store *s = NULL;
	registry *r = NULL;
	lfs_buf man = LFS_BUF_INIT, cfg = LFS_BUF_INIT;
	json_t *doc = NULL, *cdoc = NULL;
	struct pool pool = {0};
	int ret = store_open(&s, err);
	if (ret == 0)
		ret = registry_new(reference_registry_host(&ref), ro, &r, err);
	const char *tagref = ref.digest ? ref.digest : ref.tag;
	if (ret == 0 && !quiet)
		printf("%s: Pulling from %s\n", ref.tag ? ref.tag : ref.digest, ref.path);
	if (ret == 0)
		ret = fetch_manifest(r, ref.path, tagref, platform, &man, err);
	if (ret == 0) {
		doc = json_loadb(man.data, man.len, 0, NULL);
		const char *cd =
		    json_string_value(json_object_get(json_object_get(doc, "config"), "digest"));
		ret = registry_get_blob_mem(r, ref.path, cd, &cfg, err);
	}
	json_t *diff_ids = NULL;
	if (ret == 0) {
		cdoc = json_loadb(cfg.data, cfg.len, 0, NULL);
		diff_ids = json_object_get(json_object_get(cdoc, "rootfs"), "diff_ids");
		if (json_array_size(diff_ids) != json_array_size(json_object_get(doc, "layers")))
			ret =
			    error_make(err, EBADMSG, "the config lists %zu diff_ids for %zu layers",
				       json_array_size(diff_ids),
				       json_array_size(json_object_get(doc, "layers")));
	}
	if (ret == 0) {
		json_t *layers = json_object_get(doc, "layers");
		pool.n = json_array_size(layers);
		pool.jobs = lfs_xcalloc(pool.n ? pool.n : 1, sizeof(*pool.jobs));
		pthread_mutex_init(&pool.lock, NULL);
		bool tty = isatty(STDOUT_FILENO);
		for (size_t i = 0; i < pool.n; i++) {
			struct job *j = &pool.jobs[i];
			*j = (struct job){.r = r,
					  .s = s,
					  .repo = ref.path,
					  .desc = json_array_get(layers, i),
					  .diff_id = json_string_value(json_array_get(diff_ids, i)),
					  .quiet = quiet,
					  .tty = tty,
					  .line = (int)(pool.n - i),
					  .n = pool.n};
			if (tty && !quiet)
				printf("%.12s: Waiting\n",
				       json_string_value(json_object_get(j->desc, "digest")) + 7);
		}
		pthread_t th[PARALLEL];
		size_t nth = pool.n < PARALLEL ? pool.n : PARALLEL;
		for (size_t i = 0; i < nth; i++)
			pthread_create(&th[i], NULL, worker, &pool);
		for (size_t i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
		for (size_t i = 0; i < pool.n && ret == 0; i++) {
			if (pool.jobs[i].err) {
				*err = steal_pointer(&pool.jobs[i].err);
				ret = -1;
			}
		}
	}
	if (ret == 0) {
		store_staged_layer **sl = lfs_xcalloc(pool.n ? pool.n : 1, sizeof(*sl));
		for (size_t i = 0; i < pool.n; i++)
			sl[i] = pool.jobs[i].staged;
		cleanup_free char *md = NULL;
		ret = store_image_commit_raw(s, ref.tag ? fam : NULL, cfg.data, cfg.len, man.data,
					     man.len, sl, pool.n, &md, err);
		free(sl);
		if (ret == 0 && !quiet)
			printf("Digest: %s\nStatus: Downloaded image for %s\n", md, fam);
		if (ret == 0)
			printf("%s\n", fam);
	}
	if (ret < 0)
		error_wrap(err, "pulling %s", fam);
	for (size_t i = 0; i < pool.n; i++) {
		store_staged_layer_free(pool.jobs[i].staged);
		error_free(pool.jobs[i].err);
	}
	if (pool.jobs)
		pthread_mutex_destroy(&pool.lock);
	free(pool.jobs);
	json_decref(doc);
	json_decref(cdoc);
	lfs_buf_release(&man);
	lfs_buf_release(&cfg);
	registry_free(r);
	store_free(s);
	reference_release(&ref);
	return ret;
}

int registry_cli_opt(int c, const char *arg, struct registry_opts *ro, char **creds, error **err)
{
	if (c == 'T') {
		if (!arg || !strcmp(arg, "true"))
			ro->tls_verify = 1;
		else if (!strcmp(arg, "false"))
			ro->tls_verify = 0;
		else
			return error_usage(err, "--tls-verify takes true or false");
		return 0;
	}
	/* 'C': USER:PASSWORD */
	free(*creds);
	*creds = lfs_xstrdup(arg);
	char *colon = strchr(*creds, ':');
	if (!colon)
		return error_usage(err, "--creds takes USER:PASSWORD");
	*colon = '\0';
	ro->user = *creds;
	ro->pass = colon + 1;
	return 0;
}

int cmd_pull(int argc, char **argv, error **err)
{
	static const struct option opts[] = {
	    {"platform", required_argument, NULL, 'P'},
	    {"tls-verify", optional_argument, NULL, 'T'},
	    {"creds", required_argument, NULL, 'C'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct registry_opts ro = {.tls_verify = 1};
	cleanup_free char *creds = NULL;
	const char *platform = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		if (c == 'P') {
			platform = optarg;
		} else if (c == 'T' || c == 'C') {
			if (registry_cli_opt(c, optarg, &ro, &creds, err) < 0)
				return -1;
		} else if (c == 'q') {
			quiet = true;
		} else if (c == 'h') {
			cmd_print_usage(usage);
			return 0;
		} else {
			return error_usage(err, "see 'layerfs pull --help'");
		}
	}
	if (optind + 1 != argc)
		return error_usage(err, "expected one NAME; see 'layerfs pull --help'");
	if (platform) {
		struct platform p;
		if (platform_parse(platform, &p, err) < 0)
			return -1;
		platform_release(&p);
	}
	return pull(argv[optind], platform, &ro, quiet, err);
}
