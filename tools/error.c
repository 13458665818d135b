#include "error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int ret_of(const error *e)
{
	return e->code > 0 ? -e->code : -1;
}

int error_make(error **err, int code, const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (code > 0)
		lfs_buf_addf(&b, ": %s", strerror(code));
	error *e = lfs_xcalloc(1, sizeof(*e));
	e->code = code;
	e->status = 1;
	e->msg = lfs_buf_detach(&b, NULL);
	if (*err)
		error_free(*err); /* BUG-tolerant: never leak an earlier one */
	*err = e;
	return ret_of(e);
}

int error_fail(error **err, int code, const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	error_make(err, 0, "%s", b.data);
	lfs_buf_release(&b);
	(*err)->code = code;
	return ret_of(*err);
}

int error_usage(error **err, const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	error_make(err, 0, "%s", b.data);
	(*err)->status = 2;
	lfs_buf_release(&b);
	return -1;
}

int error_quiet(error **err, int status)
{
	error_make(err, 0, "%s", "");
	(*err)->status = status;
	return -1;
}

int error_wrap(error **err, const char *fmt, ...)
{
	lfs_buf b = LFS_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (!*err) {
		int ret = error_make(err, 0, "%s", b.data);
		lfs_buf_release(&b);
		return ret;
	}
	lfs_buf_addf(&b, ": %s", (*err)->msg);
	free((*err)->msg);
	(*err)->msg = lfs_buf_detach(&b, NULL);
	return ret_of(*err);
}

void error_free(error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}
