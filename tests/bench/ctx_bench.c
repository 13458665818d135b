/* ctx_bench — driver for tests/bench/context.sh.
 *   ctx_bench gen DIR N            writes N files (0..8191 bytes, fixed
 *                                  pseudo-random content) under DIR, 100 per
 *                                  directory, directories two levels deep
 *   ctx_bench sum DIR [CACHE [IGNORE]]
 *                                  ctx_checksum of DIR ("."), with the stat
 *                                  cache file CACHE ("" for none; saved
 *                                  afterwards) and the .dockerignore file
 *                                  IGNORE; prints "ms files_read digest"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "ignore.h"

static int gen(const char *dir, long n)
{
	static char buf[8192];
	uint64_t x = 88172645463325252ull;
	char path[4096];

	for (long i = 0; i < n; i++) {
		if (i % 100 == 0) {
			snprintf(path, sizeof(path), "%s/d%03ld", dir, i / 10000);
			mkdir(path, 0755);
			snprintf(path, sizeof(path), "%s/d%03ld/s%03ld", dir, i / 10000,
				 i / 100 % 100);
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return perror(path), 1;
		}
		for (size_t k = 0; k < sizeof(buf); k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[k] = (char)x;
		}
		size_t len = (size_t)(x % sizeof(buf));
		snprintf(path, sizeof(path), "%s/d%03ld/s%03ld/f%05ld.txt", dir, i / 10000,
			 i / 100 % 100, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) < 0)
			return perror(path), 1;
	}
	return 0;
}

static int load_ignore(const char *path, ign **m, error **err)
{
	static char text[1 << 16];
	FILE *f = fopen(path, "r");
	if (!f)
		return error_make(err, errno, "opening %s", path);
	size_t n = fread(text, 1, sizeof(text), f);
	fclose(f);
	return ign_parse(text, n, path, m, err);
}

static int sum(const char *dir, const char *cache, const char *ignore)
{
	struct timespec t0, t1;
	bctx *c = NULL;
	ign *m = NULL;
	error *err = NULL;
	char *srcs[] = {"."}, *d = NULL;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((ignore && load_ignore(ignore, &m, &err) < 0) ||
	    ctx_open(dir, m, cache && *cache ? cache : NULL, &c, &err) < 0 ||
	    ctx_checksum(c, srcs, 1, &d, &err) < 0 || ctx_save_cache(c, &err) < 0) {
		fprintf(stderr, "ctx_bench: %s\n", err->msg);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("%.1f %zu %s\n", ms, ctx_files_read(c), d);
	free(d);
	ctx_free(c);
	ign_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "gen"))
		return gen(argv[2], atol(argv[3]));
	if (argc >= 3 && argc <= 5 && !strcmp(argv[1], "sum"))
		return sum(argv[2], argc >= 4 ? argv[3] : NULL, argc == 5 ? argv[4] : NULL);
	fprintf(stderr, "usage: ctx_bench gen DIR N | ctx_bench sum DIR [CACHE [IGNORE]]\n");
	return 2;
}
