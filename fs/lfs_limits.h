/* lfs limits — every size limit layerfs enforces, in one place.
 *
 * Input past a limit is refused where it enters (indexing a layer: import,
 * load, pull, mount --layer, commit; recording an image: build, commit,
 * load, pull) with a message naming the limit and its value; nothing past
 * them is ever stored.  README.md ("Limits") lists them for users.
 */
#ifndef LFS_LIMITS_H
#define LFS_LIMITS_H

/* Bytes of a path inside an image (a member name once normalised, or a
 * symlink / hard link target): Linux's PATH_MAX less its NUL, so every
 * path of an image can be handed to the kernel in one piece. */
#define LFS_PATH_MAX 4095

/* Bytes of one component of such a path: Linux's NAME_MAX, what every
 * local file system (and the FUSE kernel side) accepts.  A longer name
 * could be shown by no mount and extracted by no tool. */
#define LFS_NAME_MAX 255

/* Entries (names) in one layer.  The index numbers entries with 32 bits
 * and stores 72 bytes each; 64 Mi entries keep the entry section under
 * 5 GiB, 60 times the largest layers seen in public images. */
#define LFS_ENTRIES_MAX (64u << 20)

/* Layers in one image.  Docker refuses images deeper than 125 layers
 * (its layer store's maxLayerDepth), so every image docker or a registry
 * can hold fits; a kernel overlayfs mount of the same stack (lowerdir=
 * in one page of mount options, at most 500 lower layers) also still fits
 * with store paths of normal length. */
#define LFS_LAYERS_MAX 125

/* Extended attributes of one file: a value is at most XATTR_SIZE_MAX
 * bytes, a name XATTR_NAME_MAX, and the list of names (each with its NUL)
 * at most XATTR_LIST_MAX — the kernel's limits, so that every xattr a
 * layer carries can be read through the mount and set by tar -x. */
#define LFS_XATTR_VALUE_MAX 65536
#define LFS_XATTR_NAME_MAX  255
#define LFS_XATTR_LIST_MAX  65536

/* Sections of an index file addressed with 32-bit offsets: the names and
 * link targets of one layer, and its xattr records, each under 4 GiB.
 * With LFS_ENTRIES_MAX this bounds an index file at about 13 GiB plus the
 * sparse maps and gzip checkpoints (both proportional to the layer). */
#define LFS_INDEX_STRINGS_MAX 0xffffffffu
#define LFS_INDEX_XATTRS_MAX  0xffffffffu

/* Size of one regular file: larger sizes only come from corrupt headers. */
#define LFS_FILE_MAX (1ULL << 50) /* 1 PiB */

#endif
