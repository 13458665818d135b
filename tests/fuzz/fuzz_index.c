/* libFuzzer harness for the layer index: the input is used three ways.
 *  1. As a tar (plain or gzip) given to lfs_index_build() through a memfd;
 *     whatever it builds must then open and pass validation.
 *  2. As an index file given to lfs_index_open_mem().
 *  3. The same with the CRC fixed up, so mutations reach the structural
 *     checks behind the checksum.
 * Every index that opens is walked through all accessors, so ASan sees any
 * read that validation failed to bound.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ifs \
 *     tests/fuzz/fuzz_index.c fs/index.c fs/buf.c fs/gz.c -larchive -lz -pthread
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const lfs_index *idx)
{
	lfs_buf path = LFS_BUF_INIT;
	size_t gz_len;

	for (uint32_t i = 0; i < lfs_index_count(idx); i++) {
		const struct lfs_entry *e = lfs_index_entry(idx, i);
		const char *name, *target;
		const void *val;
		uint32_t vlen, n;
		const struct lfs_sparse_run *r;

		lfs_buf_reset(&path);
		lfs_index_path(idx, i, &path);
		if (lfs_index_lookup(idx, path.data) == LFS_INDEX_NONE)
			abort(); /* every entry must be reachable by its own path */
		(void)lfs_index_child(idx, e->parent, lfs_index_name(idx, e), e->name_len);
		target = lfs_index_symlink(idx, e);
		if (target && strlen(target) != e->size)
			abort();
		for (uint32_t k = 0; lfs_index_xattr(idx, e, k, &name, &val, &vlen) == 1; k++)
			if (vlen && ((const char *)val)[vlen - 1] == 0x7f && !name[0])
				abort(); /* reads name and the whole value */
		r = lfs_index_sparse(idx, e, &n);
		for (uint32_t k = 0; k < n; k++)
			if (r[k].file_off + r[k].len > e->size)
				abort();
		if (e->flags & LFS_E_HARDLINK)
			for (uint32_t j = e->link, steps = 0; j != i;
			     j = lfs_index_entry(idx, j)->link)
				if (++steps > e->nlink)
					abort();
	}
	(void)lfs_index_gzip_data(idx, &gz_len);
	lfs_buf_release(&path);
}

static void try_build(const uint8_t *data, size_t size)
{
	static int in = -1, out = -1;
	lfs_index *idx;
	char *err = NULL;

	if (in < 0) {
		in = memfd_create("fuzz-tar", MFD_CLOEXEC);
		out = memfd_create("fuzz-idx", MFD_CLOEXEC);
		if (in < 0 || out < 0)
			abort();
	}
	if (ftruncate(in, 0) || ftruncate(out, 0) || pwrite(in, data, size, 0) != (ssize_t)size ||
	    lseek(in, 0, SEEK_SET) != 0 || lseek(out, 0, SEEK_SET) != 0)
		abort();
	if (lfs_index_build(in, out, NULL, &err) == 0) {
		if (err || lfs_index_open(out, &idx) != 0)
			abort(); /* the builder must only write valid indexes */
		walk(idx);
		lfs_index_free(idx);
	} else if (!err) {
		abort(); /* failures always explain themselves */
	}
	free(err);
}

static void try_open(const uint8_t *data, size_t size)
{
	lfs_index *idx;
	uint8_t *copy;
	const size_t crc_at = offsetof(struct lfs_index_header, crc32);

	if (lfs_index_open_mem(data, size, &idx) == 0) {
		walk(idx);
		lfs_index_free(idx);
	}
	if (size < sizeof(struct lfs_index_header))
		return;
	copy = malloc(size);
	memcpy(copy, data, size);
	memset(copy + crc_at, 0, 4);
	uint32_t crc = (uint32_t)crc32_z(0, copy, size);
	memcpy(copy + crc_at, &crc, 4);
	if (lfs_index_open_mem(copy, size, &idx) == 0) {
		walk(idx);
		lfs_index_free(idx);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_build(data, size);
	try_open(data, size);
	return 0;
}
