/* lfs_index — the binary index of one tar layer.
 *
 * A layer is an immutable tar (plain, gzip or zstd) plus this index.  The index
 * lists every member once, as a tree: entry 0 is the layer's root
 * directory; the children of a directory are contiguous, sorted by name
 * (memcmp order, a shorter name before its extensions), and found by
 * binary search.  Everything reads through it: the union core, the FUSE
 * adapter, the inspection tools.
 *
 * The file is host-endian (it is a local cache, rebuilt from the blob when
 * missing, stale or corrupt), mmap'd read-only, and validated completely
 * on open: magic, version, section bounds, CRC-32 of the whole file, and
 * every entry's references.  After lfs_index_open() succeeds, all accessors
 * below are safe on any entry number < lfs_index_count().
 *
 * Tar semantics applied while building (documented, safe interpretations):
 *  - Member names are normalised: leading "/" and "./" dropped, "." and
 *    empty components removed.  A name with a ".." component is rejected
 *    (-EINVAL, message names the member): it could never be a path inside
 *    the image.
 *  - Missing parent directories are synthesised (LFS_E_IMPLICIT, mode
 *    0755, uid/gid 0, mtime 0).
 *  - A later member with the same path replaces the earlier one (tar -x
 *    semantics); if a directory is replaced by a non-directory its
 *    children are dropped.
 *  - ".wh.NAME" becomes an entry NAME with LFS_E_WHITEOUT (mode 0).
 *    ".wh..wh..opq" sets LFS_E_OPAQUE on its directory and is not an entry.
 *    A whiteout never hides a real entry of its own layer (OCI): with both
 *    present the real entry stays, and a directory gets LFS_E_OPAQUE.
 *  - A hard link (typeflag 1) must name an earlier member of the same
 *    layer that is a regular file (or another link to one); otherwise the
 *    build fails naming the member and its target.  All names of one inode
 *    form a ring through `link`, share data_off/size/metadata, and carry
 *    nlink = number of names in the layer.
 *  - The limits of lfs_limits.h (LFS_PATH_MAX, LFS_NAME_MAX,
 *    LFS_ENTRIES_MAX, the xattr limits, LFS_FILE_MAX) fail the build with
 *    -EFBIG and a message naming the limit and its value.
 *  - A symlink is never followed while indexing: a member whose parent is
 *    a non-directory (a symlink included) gets an implicit directory in
 *    its place, so nothing can be placed through a symlink.  Symlinks
 *    report mode 0777, as on every Linux file system.
 *
 * The hostile-input table (tests/integration/tar_corpus.sh checks every
 * row through import, mount --layer, load, ADD auto-extract and export;
 * "refused" means the command fails naming the member and the store is
 * left as it was):
 *   sparse file (GNU, pax 1.0)     data and holes as GNU tar -x gives them
 *   long names (pax path, GNU L/K) kept whole, as GNU tar -x
 *   path > 4095 / name > 255 bytes refused (LFS_PATH_MAX / LFS_NAME_MAX)
 *   pax record with a bad length   refused: malformed pax extended header
 *   negative size (base-256, pax)  refused: truncated or corrupt
 *   uid/gid >= 2^32                refused: uid or gid out of range
 *   uid/gid 2^32-2                 kept
 *   NUL inside a pax path          the name ends at the NUL (as tar -x)
 *   duplicate names                the last member wins (as tar -x)
 *   hard link to itself            refused when no earlier member has the
 *                                  name, else the file stays as it is
 *   symlink to itself              kept (reading it gives ELOOP)
 *   chain of hard links a<-b<-c    one inode, nlink = number of names
 *   "../x", "a/../../x", link "../x" refused: the path would leave the image
 *   "/abs/x", hard link "/abs/x"   stored as abs/x (leading "/" dropped)
 *   symlink L -> OUTSIDE, file L/f L becomes an implicit directory holding
 *                                  f (as bsdtar -x -U); nothing outside
 *   directory D, symlink D, D/f    D becomes an implicit directory holding
 *                                  only f (ADD refuses: D is a directory)
 *   hard link to L/f, L a symlink  refused: target not found in the layer
 */
#ifndef LFS_INDEX_H
#define LFS_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "lfs_limits.h"

#define LFS_INDEX_MAGIC "LFSIDX\r\n"
#define LFS_INDEX_VERSION     2 /* 2: zstd layers (LFS_COMP_ZSTD) */
#define LFS_INDEX_NONE UINT32_MAX
#define LFS_INDEX_MAX_FILE LFS_FILE_MAX
#define LFS_INDEX_MAX_ENTRIES LFS_ENTRIES_MAX

enum lfs_entry_flags {
	LFS_E_WHITEOUT = 1 << 0, /* ".wh.NAME": hides NAME in lower layers */
	LFS_E_OPAQUE = 1 << 1,   /* directory had ".wh..wh..opq" */
	LFS_E_IMPLICIT = 1 << 2, /* directory synthesised for a missing parent */
	LFS_E_HARDLINK = 1 << 3, /* one of several names of an inode: see link */
	LFS_E_SPARSE = 1 << 4,   /* data is a sparse map: see lfs_index_sparse() */
};

/* One member, 72 bytes on disk. */
struct lfs_entry {
	/* Regular file: offset of its contents in the uncompressed tar
	 * stream; LFS_E_SPARSE: byte offset of its map in the sparse
	 * section.  Char/block device: (major << 32) | minor. */
	uint64_t data_off;
	uint64_t size; /* st_size; symlink: length of the target */
	int64_t mtime;
	uint32_t mtime_ns;
	uint32_t mode; /* st_mode, type bits included; 0 for a whiteout */
	uint32_t uid;
	uint32_t gid;
	uint32_t parent;      /* entry number of the parent directory (root: 0) */
	uint32_t name;        /* offset of the NUL-terminated name in strings */
	uint32_t first_child; /* directories: first child's entry number (0 if nchild is 0) */
	uint32_t nchild;      /* directories: number of children */
	/* Symlink: offset of the NUL-terminated target in strings.
	 * LFS_E_HARDLINK: next entry of the same inode (a ring).
	 * Otherwise LFS_INDEX_NONE. */
	uint32_t link;
	uint32_t xattr; /* offset of the xattr record in the xattr section, LFS_INDEX_NONE if none */
	uint32_t nlink; /* names of this inode in this layer (1 unless hard-linked) */
	uint16_t name_len;
	uint16_t flags; /* enum lfs_entry_flags */
};

/* One data run of a sparse file; bytes not covered by any run are zero.
 * Runs are sorted by file_off and do not overlap. */
struct lfs_sparse_run {
	uint64_t file_off;
	uint64_t len;
	uint64_t tar_off; /* offset in the uncompressed tar stream */
};

enum lfs_compression {
	LFS_COMP_NONE = 0,
	LFS_COMP_GZIP = 1,
	LFS_COMP_DIR = 2, /* a directory tree: file data is read from the files */
	LFS_COMP_ZSTD = 3,
};

enum lfs_index_section {
	LFS_SECT_ENTRIES,
	LFS_SECT_STRINGS,
	LFS_SECT_XATTRS, /* records: u32 count, then count x (u32 name_len, u32 value_len, name NUL,
			    value) */
	LFS_SECT_SPARSE, /* records: u32 count, u32 pad, then count x struct lfs_sparse_run */
	/* Random-access data: lfs_gz checkpoints (gzip, see gz.h) or the lfs_zst
	 * frame table (zstd, see zst.h); empty for plain tars. */
	LFS_SECT_GZIP,
	LFS_SECT_COUNT
};

struct lfs_index_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;  /* sizeof(struct lfs_index_header) */
	uint64_t file_size;    /* size of this index file */
	/* Size of the layer file as stored, compressed or not (0 if unknown:
	 * gzip or zstd read from a pipe). */
	uint64_t src_size;
	int64_t src_mtime_ns;  /* mtime of the layer file when indexed (for --layer caches) */
	uint64_t tar_size;     /* size of the uncompressed tar stream */
	uint32_t compression;  /* enum lfs_compression */
	uint32_t nentries;
	uint64_t total_data;   /* sum of regular-file sizes (counted once per inode) */
	struct {
		uint64_t off;
		uint64_t len;
	} sect[LFS_SECT_COUNT];
	uint32_t crc32; /* zlib crc32 of the whole file with this field zeroed */
	uint32_t reserved;
};

typedef struct lfs_index lfs_index;

struct lfs_index_build_opts {
	int64_t src_mtime_ns; /* recorded in the header; 0 if not needed */
	uint64_t gzip_span;   /* distance between gzip checkpoints; 0 = default (2 MiB) */
	/* Entries allowed in the layer; 0 = LFS_ENTRIES_MAX (lower values let
	 * tests reach the limit with small tars). */
	uint32_t max_entries;
	/* Optional tap on the uncompressed tar stream: called with every byte
	 * of it, in order, exactly once, trailing bytes after the end-of-archive
	 * blocks included (the store hashes the diff_id of a gzip blob this way
	 * in the same pass that indexes it).  When set, a plain regular file is
	 * read instead of skipped over with lseek.  Runs on the calling thread. */
	void (*on_data)(void *arg, const void *data, size_t len);
	void *on_data_arg;
};

/* Reads the tar on tar_fd from its current offset to EOF (plain, gzip or zstd,
 * detected by content) and writes a complete index to out_fd (which must be
 * empty and seekable).  Returns 0, or -errno with a message in *err
 * (caller frees) naming the member at fault, e.g.
 * "member 'a/b': hard link target 'x' not found earlier in the layer".
 * -EINVAL: bad member; -EIO: truncated or corrupt archive; -EFBIG: limits. */
int lfs_index_build(int tar_fd, int out_fd, const struct lfs_index_build_opts *opts, char **err);

/* Normalises a tar member name or hard link target as lfs_index_build()
 * does: leading "/" and "./" dropped, "." and empty components removed,
 * into out ("" for the root).  Returns 0, or -EINVAL (a ".." component) or
 * -EFBIG (over LFS_PATH_MAX or LFS_NAME_MAX) with *why set to a message
 * naming the problem and the limit (caller frees). */
int lfs_index_normalise(const char *name, lfs_buf *out, char **why);
/* 1 when a libarchive warning (ARCHIVE_WARN from reading a header) means
 * the member's extended header was dropped: a malformed pax header.  The
 * index, and every other reader of layers, refuses such a member. */
int lfs_index_warning_fatal(const char *msg);

/* Indexes a directory tree used as a layer (an overlay lower): its 0/0
 * char devices are whiteouts and its opaque xattrs (trusted.overlay.,
 * user.overlay., user.fuseoverlayfs.) opaque directories, as in a tar
 * layer; `.wh.` files are read as in tars.  Data stays in the files
 * (data_off 0, compression LFS_COMP_DIR).  Symlinks are not followed and
 * other mounts below dir are not entered. */
int lfs_index_build_dir(const char *dir, int out_fd, char **err);

/* Maps and validates an index file.  The fd is not kept.  Returns 0,
 * -ENOEXEC when the file is from another version (rebuild it), -EBADMSG
 * when it is corrupt (rebuild it), or another -errno from the system. */
int lfs_index_open(int fd, lfs_index **out);
/* Validates an index held in memory (copied); used by tests and fuzzers. */
int lfs_index_open_mem(const void *data, size_t len, lfs_index **out);
void lfs_index_free(lfs_index *idx);

const struct lfs_index_header *lfs_index_header(const lfs_index *idx);
uint32_t lfs_index_count(const lfs_index *idx);
/* Entry n (n < count); entries live as long as idx. */
const struct lfs_entry *lfs_index_entry(const lfs_index *idx, uint32_t n);
static inline uint32_t lfs_index_entry_no(const lfs_index *idx, const struct lfs_entry *e);
const char *lfs_index_name(const lfs_index *idx, const struct lfs_entry *e);
/* Symlink target, NUL-terminated; NULL if e is not a symlink. */
const char *lfs_index_symlink(const lfs_index *idx, const struct lfs_entry *e);
/* Child of directory dir named name[0..len); entry number or LFS_INDEX_NONE. */
uint32_t lfs_index_child(const lfs_index *idx, uint32_t dir, const char *name, size_t len);
/* Entry for a relative path ("a/b/c", "" for the root), following no
 * symlinks; LFS_INDEX_NONE if absent. */
uint32_t lfs_index_lookup(const lfs_index *idx, const char *path);
/* Appends the entry's path relative to the layer root ("" for root). */
void lfs_index_path(const lfs_index *idx, uint32_t n, lfs_buf *out);

/* Xattrs of e.  Iterate with i = 0, 1, ... while it returns 1.
 * name is NUL-terminated; value is value_len bytes.  Returns 0 past the end. */
int lfs_index_xattr(const lfs_index *idx, const struct lfs_entry *e, uint32_t i,
		    const char **name, const void **value, uint32_t *value_len);
/* Sparse map of e (LFS_E_SPARSE): runs[0..*n). Unaligned-safe copy is not
 * needed: runs are 8-byte aligned in the map. */
const struct lfs_sparse_run *lfs_index_sparse(const lfs_index *idx, const struct lfs_entry *e,
					      uint32_t *n);
/* The raw gzip checkpoint section (LFS_COMP_GZIP), for lfs_gz_index_open(). */
const void *lfs_index_gzip_data(const lfs_index *idx, size_t *len);
/* The raw zstd frame table (LFS_COMP_ZSTD), for lfs_zst_index_open(). */
const void *lfs_index_zstd_data(const lfs_index *idx, size_t *len);
/* For people: the layer's compression ("none", "gzip", "zstd", "directory")
 * and how reads reach file data: "pread" (plain tar), "checkpoints" (gzip),
 * "frames" or "decompressed-copy" (zstd, see zst.h), "files" (directory).
 * Static strings; "invalid" when the zstd frame table does not validate. */
const char *lfs_index_compression_name(const lfs_index *idx);
const char *lfs_index_access_name(const lfs_index *idx);

static inline uint32_t lfs_index_entry_no(const lfs_index *idx, const struct lfs_entry *e)
{
	return (uint32_t)(e - lfs_index_entry(idx, 0));
}

#endif
