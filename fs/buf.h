/* lfs_buf — the one growable byte/string buffer (after git's strbuf).
 *
 * Invariants: buf->data is never NULL once initialised (it points at a
 * static "" until the first growth), buf->data[buf->len] == '\0' always,
 * buf->len < buf->alloc whenever alloc != 0.  Binary data may contain NULs.
 * Allocation failure aborts (the process cannot do anything useful after it).
 */
#ifndef LFS_BUF_H
#define LFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct lfs_buf {
	char *data;
	size_t len;
	size_t alloc;
} lfs_buf;

extern char lfs_buf_empty[];
#define LFS_BUF_INIT {lfs_buf_empty, 0, 0}

void lfs_buf_init(lfs_buf *b, size_t hint);
/* Frees the contents; b is re-initialised and may be reused. */
void lfs_buf_release(lfs_buf *b);
/* Sets len to 0 and keeps the allocation. */
void lfs_buf_reset(lfs_buf *b);
/* Ensures room for extra more bytes (plus the NUL). */
void lfs_buf_grow(lfs_buf *b, size_t extra);
void lfs_buf_add(lfs_buf *b, const void *data, size_t len);
void lfs_buf_addstr(lfs_buf *b, const char *s);
void lfs_buf_addch(lfs_buf *b, int c);
void lfs_buf_addf(lfs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lfs_buf_vaddf(lfs_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends n zero bytes and returns a pointer to them (valid until the next growth). */
void *lfs_buf_zalloc(lfs_buf *b, size_t n);
/* Hands the heap string to the caller (never NULL) and re-initialises b. */
char *lfs_buf_detach(lfs_buf *b, size_t *len);
void lfs_buf_setlen(lfs_buf *b, size_t len);
/* Releases and frees a heap-allocated lfs_buf (void * for use as a destructor). */
void lfs_buf_free_ptr(void *b);

/* Writes all len bytes to fd (retrying short writes and EINTR); 0 or -errno. */
int lfs_write_all(int fd, const void *data, size_t len);

/* xmalloc family: abort on out-of-memory with a message. */
void *lfs_xmalloc(size_t n);
void *lfs_xcalloc(size_t n, size_t size);
void *lfs_xrealloc(void *p, size_t n);
char *lfs_xstrdup(const char *s);
char *lfs_xstrndup(const char *s, size_t n);
char *lfs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
