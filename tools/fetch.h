/* fetch — one http(s) download to a file descriptor (ADD URL). */
#ifndef LAYERFS_FETCH_H
#define LAYERFS_FETCH_H

#include <stdint.h>
#include <time.h>

#include "error.h"

/* GETs url (http or https only, at most 10 redirects, TLS verified) and
 * writes the body to fd while hashing it.  Fails on an HTTP status >= 400,
 * a body over max bytes, a stalled transfer (under 1 KiB/s for 60 s) or a
 * write error, naming the URL.  *sha256_hex (65 bytes) gets the body's
 * digest; *mtime the Last-Modified time, 0 when the server sent none. */
int fetch_url(const char *url, int fd, uint64_t max, char sha256_hex[65], time_t *mtime,
	      error **err);

#endif
