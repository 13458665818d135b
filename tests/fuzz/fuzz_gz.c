/* libFuzzer harness for fs/gz.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ifs \
 *         tests/fuzz/fuzz_gz.c fs/gz.c fs/buf.c -lz -o fuzz_gz
 *
 * Each input is used twice:
 *  1. as a serialised checkpoint table: lfs_gz_index_open() must refuse it
 *     or accept it, and reads through an accepted table (against the same
 *     bytes as "compressed data") must return data or -EIO, never crash;
 *  2. as a gzip stream: the reader must finish or fail with -EIO and a
 *     message; when it finishes, the table it wrote must open and random
 *     reads must match what the reader produced.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "gz.h"

#define FUZZ_MAX_OUT (4u << 20) /* bound on inflated output (gzip bombs) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_gz", MFD_CLOEXEC);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		abort();
	while (done < size) {
		n = write(fd, data + done, size - done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

static void fuzz_check_read(ssize_t n, size_t len)
{
	if (n != -EIO && (n < 0 || (size_t)n > len))
		abort();
}

/* 1: the input as a table. */
static void fuzz_table(const uint8_t *data, size_t size, int fd)
{
	static const uint64_t offs[] = {0, 1, 4095, 65535, 65536, 1u << 20, UINT64_MAX - 1};
	unsigned char buf[4096];
	lfs_gz_index *gi;
	size_t i;

	if (lfs_gz_index_open(data, size, &gi))
		return;
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		fuzz_check_read(lfs_gz_pread(gi, fd, buf, sizeof(buf), offs[i]), sizeof(buf));
	lfs_gz_index_free(gi);
}

/* Reads everything the reader produces (up to FUZZ_MAX_OUT); returns 0 at
 * the end of the stream, 1 when the cap was hit, or the reader's error. */
static int fuzz_inflate_all(lfs_gz_reader *r, lfs_buf *out)
{
	ssize_t n;

	for (;;) {
		if (out->len >= FUZZ_MAX_OUT)
			return 1;
		lfs_buf_grow(out, 65536);
		n = lfs_gz_reader_read(r, out->data + out->len, 65536);
		if (n <= 0)
			return (int)n;
		lfs_buf_setlen(out, out->len + (size_t)n);
	}
}

static void fuzz_verify(const lfs_buf *table, const lfs_buf *plain, int fd)
{
	unsigned char buf[70000];
	uint64_t seed = plain->len * 31 + 7, off;
	lfs_gz_index *gi;
	size_t len;
	ssize_t n;
	int i;

	if (lfs_gz_index_open(table->data, table->len, &gi))
		abort();
	for (i = 0; i < 8; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		off = plain->len ? (seed >> 20) % (plain->len + 10) : 0;
		len = (seed >> 8) % sizeof(buf);
		n = lfs_gz_pread(gi, fd, buf, len, off);
		if (off >= plain->len
			? n != 0
			: n != (ssize_t)(len < plain->len - off ? len : plain->len - off))
			abort();
		if (n > 0 && memcmp(buf, plain->data + off, (size_t)n))
			abort();
	}
	lfs_gz_index_free(gi);
}

/* 2: the input as a gzip stream. */
static void fuzz_stream(int fd)
{
	lfs_buf plain = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_gz_reader *r;
	int ret;

	if (lfs_gz_reader_new(fd, 4096, &r))
		abort();
	ret = fuzz_inflate_all(r, &plain);
	if (ret < 0 && (ret != -EIO || !*lfs_gz_reader_error(r)))
		abort();
	if (ret == 0) {
		if (lfs_gz_reader_total_out(r) != plain.len || lfs_gz_reader_finish(r, &table))
			abort();
		fuzz_verify(&table, &plain, fd);
	}
	lfs_gz_reader_free(r);
	lfs_buf_release(&plain);
	lfs_buf_release(&table);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_memfd(data, size);

	fuzz_table(data, size, fd);
	fuzz_stream(fd);
	close(fd);
	return 0;
}
