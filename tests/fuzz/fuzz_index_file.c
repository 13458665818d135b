/* libFuzzer harness for the layer index file loader, lfs_index_open(): the
 * input is an index file on disk (a memfd), as the store finds it under
 * indexes/sha256/ after a crash, a full disk or tampering.  It is opened
 * twice: as it is, and with its CRC-32 fixed up so that mutations reach the
 * structural checks behind the checksum.  A corrupt file must be refused
 * with -EBADMSG or -ENOEXEC (the store then rebuilds it), never crash; an
 * accepted one is walked through every accessor, and its gzip checkpoint
 * section must open or be refused by lfs_gz_index_open(), so ASan sees any
 * read that validation failed to bound.
 *
 * make fuzz (build-fuzz/fuzz/fuzz_index_file, seeds in
 * tests/fuzz/corpus/index_file/: indexes built from small tars).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "gz.h"
#include "zst.h"
#include "index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_entry(const lfs_index *idx, uint32_t i, lfs_buf *path)
{
	const struct lfs_entry *e = lfs_index_entry(idx, i);
	const char *name, *target;
	const void *val;
	uint32_t vlen, n;
	const struct lfs_sparse_run *r;

	lfs_buf_reset(path);
	lfs_index_path(idx, i, path);
	if (lfs_index_lookup(idx, path->data) == LFS_INDEX_NONE)
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
		for (uint32_t j = e->link, steps = 0; j != i; j = lfs_index_entry(idx, j)->link)
			if (++steps > e->nlink)
				abort();
}

static void walk(const lfs_index *idx)
{
	lfs_buf path = LFS_BUF_INIT;
	lfs_gz_index *gi;
	lfs_zst_index *zi;
	const void *gz;
	size_t gz_len;

	(void)lfs_index_header(idx);
	for (uint32_t i = 0; i < lfs_index_count(idx); i++)
		walk_entry(idx, i, &path);
	gz = lfs_index_gzip_data(idx, &gz_len);
	if (gz && lfs_gz_index_open(gz, gz_len, &gi) == 0)
		lfs_gz_index_free(gi);
	gz = lfs_index_zstd_data(idx, &gz_len);
	if (gz && lfs_zst_index_open(gz, gz_len, &zi) == 0) {
		uint64_t in, out;
		(void)lfs_zst_index_find(zi, 0, &in, &out);
		lfs_zst_index_free(zi);
	}
	(void)lfs_index_access_name(idx);
	lfs_buf_release(&path);
}

static void try_open(int fd, const uint8_t *data, size_t size)
{
	lfs_index *idx;
	int ret;

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	ret = lfs_index_open(fd, &idx);
	if (ret == 0) {
		walk(idx);
		lfs_index_free(idx);
	} else if (ret != -EBADMSG && ret != -ENOEXEC) {
		abort(); /* corruption is reported as such, so the store rebuilds */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t crc_at = offsetof(struct lfs_index_header, crc32);
	int fd = memfd_create("fuzz-index-file", MFD_CLOEXEC);
	uint8_t *copy;
	uint32_t crc;

	if (fd < 0)
		abort();
	try_open(fd, data, size);
	if (size >= sizeof(struct lfs_index_header)) {
		copy = malloc(size);
		memcpy(copy, data, size);
		memset(copy + crc_at, 0, 4);
		crc = (uint32_t)crc32_z(0, copy, size);
		memcpy(copy + crc_at, &crc, 4);
		try_open(fd, copy, size);
		free(copy);
	}
	close(fd);
	return 0;
}
