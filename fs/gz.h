/* lfs_gz — random access into gzip streams (zran-style checkpoints).
 *
 * While a gzip layer is read sequentially once (to build its index), the
 * reader records a checkpoint roughly every `span` bytes of output, at a
 * deflate block boundary: the uncompressed offset, the compressed offset
 * and bit position, and the 32 KiB window preceding it.  Later, a read at
 * any uncompressed offset inflates from the nearest checkpoint at or
 * before it.  Multi-member gzip files (concatenated streams) are handled.
 */
#ifndef LFS_GZ_H
#define LFS_GZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define LFS_GZ_DEFAULT_SPAN (2u << 20)

/* --- Sequential reader that records checkpoints. --- */
typedef struct lfs_gz_reader lfs_gz_reader;

/* Reads compressed data from fd starting at its current offset (the
 * reader uses read(2), so pipes work too).  span 0 = default. */
int lfs_gz_reader_new(int fd, uint64_t span, lfs_gz_reader **out);
/* Fills buf with up to len uncompressed bytes; returns bytes (0 at the end
 * of the last member) or -errno: -EIO for corrupt or truncated data (message
 * from lfs_gz_reader_error()). */
ssize_t lfs_gz_reader_read(lfs_gz_reader *r, void *buf, size_t len);
const char *lfs_gz_reader_error(const lfs_gz_reader *r);
/* After the reader returned 0: appends the serialised checkpoint table to
 * out (the LFS_SECT_GZIP section of an index). */
int lfs_gz_reader_finish(lfs_gz_reader *r, lfs_buf *out);
uint64_t lfs_gz_reader_total_out(const lfs_gz_reader *r);
void lfs_gz_reader_free(lfs_gz_reader *r);

/* --- Random access. --- */
typedef struct lfs_gz_index lfs_gz_index;

/* Parses and validates a serialised checkpoint table.  data must stay
 * mapped while the lfs_gz_index lives (it is not copied).  -EBADMSG on
 * corrupt input. */
int lfs_gz_index_open(const void *data, size_t len, lfs_gz_index **out);
/* Reads len uncompressed bytes at off from the gzip file on fd (pread,
 * so callers may share fd).  Thread-safe: concurrent callers may share one
 * lfs_gz_index; a small cache of recently inflated chunks serves repeated
 * and sequential reads.  Returns bytes read (short only at the end of the
 * stream) or -EIO when the compressed data is corrupt. */
ssize_t lfs_gz_pread(lfs_gz_index *gi, int fd, void *buf, size_t len, uint64_t off);
void lfs_gz_index_free(lfs_gz_index *gi);

#endif
