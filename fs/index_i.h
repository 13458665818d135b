/* Private to fs/index.c and its tests: the loaded index and the limits the
 * builder enforces.  Nothing outside the index module may include this. */
#ifndef LFS_INDEX_I_H
#define LFS_INDEX_I_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

#define LFS_INDEX_MAX_NAME LFS_PATH_MAX /* bytes of a normalised member path or link target */

/* A loaded index: the mapped (or copied) file plus pointers into it.  All
 * pointers are valid and bounds-checked once lfs_index_validate() passed. */
struct lfs_index {
	const uint8_t *base;
	size_t len;
	int mapped; /* 1: munmap(base), 0: free(base) */
	const struct lfs_index_header *hdr;
	const struct lfs_entry *ents;
	uint32_t n;
	const char *str;
	size_t str_len;
	const uint8_t *xat;
	size_t xat_len;
	const uint8_t *sps;
	size_t sps_len;
	const uint8_t *gz;
	size_t gz_len;
};

#endif
