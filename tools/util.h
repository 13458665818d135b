/* Small helpers for tools/: scope-bound cleanup (after bubblewrap's utils.h). */
#ifndef LAYERFS_UTIL_H
#define LAYERFS_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void cleanup_bufp(lfs_buf *b)
{
	lfs_buf_release(b);
}

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_fd __attribute__((cleanup(cleanup_closep)))
#define cleanup_file __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_buf __attribute__((cleanup(cleanup_bufp)))

/* Returns *pp and clears it, so a cleanup attribute no longer frees it. */
#define steal_pointer(pp)                                                                          \
	({                                                                                         \
		__typeof__(*(pp)) steal_tmp_ = *(pp);                                               \
		*(pp) = NULL;                                                                      \
		steal_tmp_;                                                                        \
	})
#define steal_fd(fdp)                                                                              \
	({                                                                                         \
		int steal_fd_ = *(fdp);                                                            \
		*(fdp) = -1;                                                                       \
		steal_fd_;                                                                         \
	})

#endif
