#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char lfs_buf_empty[1];

static void oom(size_t n)
{
	fprintf(stderr, "layerfs: out of memory allocating %zu bytes\n", n);
	abort();
}

void *lfs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *lfs_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *lfs_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *lfs_xstrdup(const char *s)
{
	return lfs_xstrndup(s, strlen(s));
}

char *lfs_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = lfs_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *lfs_xasprintf(const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return lfs_buf_detach(&b, NULL);
}

void lfs_buf_init(lfs_buf *b, size_t hint)
{
	b->data = lfs_buf_empty;
	b->len = 0;
	b->alloc = 0;
	if (hint)
		lfs_buf_grow(b, hint);
}

void lfs_buf_release(lfs_buf *b)
{
	if (b->alloc)
		free(b->data);
	lfs_buf_init(b, 0);
}

void lfs_buf_reset(lfs_buf *b)
{
	lfs_buf_setlen(b, 0);
}

void lfs_buf_setlen(lfs_buf *b, size_t len)
{
	if (!b->alloc) {
		if (len)
			abort(); /* BUG: setlen beyond an empty buffer */
		return;
	}
	if (len >= b->alloc)
		abort(); /* BUG: setlen past the allocation */
	b->len = len;
	b->data[len] = '\0';
}

void lfs_buf_grow(lfs_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need < b->len)
		oom(SIZE_MAX);
	if (need <= b->alloc)
		return;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n = n < SIZE_MAX / 2 ? n * 2 : need;
	if (!b->alloc) {
		b->data = lfs_xmalloc(n);
		b->data[0] = '\0';
	} else {
		b->data = lfs_xrealloc(b->data, n);
	}
	b->alloc = n;
}

void lfs_buf_add(lfs_buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	lfs_buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void lfs_buf_addstr(lfs_buf *b, const char *s)
{
	lfs_buf_add(b, s, strlen(s));
}

void lfs_buf_addch(lfs_buf *b, int c)
{
	char ch = (char)c;
	lfs_buf_add(b, &ch, 1);
}

void lfs_buf_vaddf(lfs_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	lfs_buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void lfs_buf_addf(lfs_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void *lfs_buf_zalloc(lfs_buf *b, size_t n)
{
	lfs_buf_grow(b, n);
	void *p = b->data + b->len;
	memset(p, 0, n);
	b->len += n;
	b->data[b->len] = '\0';
	return p;
}

char *lfs_buf_detach(lfs_buf *b, size_t *len)
{
	if (len)
		*len = b->len;
	char *p = b->alloc ? b->data : lfs_xstrdup("");
	lfs_buf_init(b, 0);
	return p;
}

void lfs_buf_free_ptr(void *b)
{
	if (!b)
		return;
	lfs_buf_release(b);
	free(b);
}

int lfs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
