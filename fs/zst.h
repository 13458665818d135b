/* lfs_zst — zstd layers: frame table and random access by frame.
 *
 * A zstd stream is a sequence of frames, each decodable on its own.  While
 * a zstd layer is read sequentially once (to build its index), the reader
 * records where every frame that produces output starts: its compressed
 * offset in the file and its uncompressed offset in the tar stream.
 *
 * A stream whose frames each inflate to at most LFS_ZST_MAX_FRAME bytes
 * (several frames, as zstd:chunked or a seekable writer produce, or one
 * small frame) is read by frame: a read decompresses the frame holding the
 * offset, and a shared cache keeps recently decompressed frames.  A stream
 * with a larger frame (the common single-frame layer) cannot be entered in
 * the middle; it gets LFS_ZST_COPY and the layer is read from a
 * decompressed copy made once (see layer.h).
 */
#ifndef LFS_ZST_H
#define LFS_ZST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define LFS_ZST_MAX_FRAME (4u << 20)

/* How a zstd layer's data is reached (recorded in its frame table). */
enum lfs_zst_access {
	LFS_ZST_FRAMES = 1, /* decompress from the frame holding the offset */
	LFS_ZST_COPY = 2,   /* read a decompressed copy of the whole stream */
};

/* --- Sequential reader that records frame boundaries. --- */
typedef struct lfs_zst_reader lfs_zst_reader;

/* Reads compressed data from fd starting at its current offset (read(2),
 * so pipes work too). */
int lfs_zst_reader_new(int fd, lfs_zst_reader **out);
/* Fills buf with up to len uncompressed bytes; returns bytes (0 at the end
 * of the last frame) or -errno: -EIO for corrupt or truncated data, with a
 * message naming the compressed offset from lfs_zst_reader_error(). */
ssize_t lfs_zst_reader_read(lfs_zst_reader *r, void *buf, size_t len);
const char *lfs_zst_reader_error(const lfs_zst_reader *r);
/* After the reader returned 0: appends the serialised frame table to out
 * (the LFS_SECT_GZIP section of an index, which holds the random-access
 * data of either compression). */
int lfs_zst_reader_finish(lfs_zst_reader *r, lfs_buf *out);
void lfs_zst_reader_free(lfs_zst_reader *r);

/* --- Random access. --- */
typedef struct lfs_zst_index lfs_zst_index;

/* Parses and validates a serialised frame table.  data must stay mapped
 * while the lfs_zst_index lives (it is not copied).  -EBADMSG on corrupt
 * input. */
int lfs_zst_index_open(const void *data, size_t len, lfs_zst_index **out);
enum lfs_zst_access lfs_zst_index_access(const lfs_zst_index *zi);
/* Frames that produce output. */
uint32_t lfs_zst_index_frames(const lfs_zst_index *zi);
/* The frame holding uncompressed offset off (off < total): its number and
 * its compressed and uncompressed start. */
uint32_t lfs_zst_index_find(const lfs_zst_index *zi, uint64_t off, uint64_t *in, uint64_t *out);
/* LFS_ZST_FRAMES only (else -EINVAL): reads len uncompressed bytes at off
 * from the zstd file on fd (pread, so callers may share fd).  Thread-safe;
 * recently decompressed frames are cached.  Returns bytes read (short only
 * at the end of the stream) or -EIO when the compressed data is corrupt. */
ssize_t lfs_zst_pread(lfs_zst_index *zi, int fd, void *buf, size_t len, uint64_t off);
void lfs_zst_index_free(lfs_zst_index *zi);

#endif
