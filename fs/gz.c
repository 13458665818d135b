/* lfs_gz — zran-style random access into gzip streams (see gz.h).
 *
 * Serialised checkpoint table (host-endian, no alignment assumed: it is read
 * with memcpy because the section may sit at any offset of an index map):
 *
 *   struct lfs_gz_hdr                       32 bytes
 *   struct lfs_gz_point  x count            32 bytes each, out strictly increasing
 *   window bytes                            referenced by win_off/win_len
 *
 * Point 0 is always the start of the first member (out 0).  A point is
 * either the start of a gzip member (LFS_GZ_PT_MEMBER: inflate parses the
 * header from `in`, no window) or a deflate block boundary inside a member
 * (raw inflate from `in`, after priming `bits` bits of the byte at in - 1,
 * with the up to 32 KiB of output preceding it as dictionary).  Windows are
 * stored raw-deflated (a 32 KiB window of tar data typically shrinks 3-10x,
 * and one inflate of 32 KiB per restart is cheap next to the span inflated
 * after it); a window that would not shrink is stored as is
 * (LFS_GZ_PT_RAWWIN).  `in` is an absolute offset in the file the reader was
 * created on, so lfs_gz_pread() can pread it directly.
 *
 * Random access keeps, per lfs_gz_index, an LRU of 32 inflated 64 KiB
 * chunks (aligned on 64 KiB of uncompressed data: 2 MiB) and up to 4 idle
 * inflate "cursors" (a z_stream positioned at some uncompressed offset,
 * about 80 KiB each).  All inflation happens in whole chunks.  A miss takes
 * the idle cursor nearest before the chunk (when it is at or after the
 * chunk's checkpoint, so reusing it never costs more than restarting) out
 * of the shared state, inflates with no lock held, publishes the chunk and
 * keeps the cursor for the rest of its request; the next request in
 * sequence finds it one chunk further on.  So a sequential read costs one
 * inflation of the data whatever the span.  FUSE hands consecutive
 * requests of one stream to different threads: a thread whose chunk a busy
 * cursor is about to produce, or will pass on its way, or that a busy
 * cursor will stop shortly before, waits for it (gi->returned) instead of
 * restarting from a checkpoint; a cursor caches the whole chunks it passes
 * when they are waited for or lie just before its own.
 */
#define ZLIB_CONST
#include "gz.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define LFS_GZ_MAGIC   "LFSGZCKP"
#define LFS_GZ_VERSION 1u

enum {
	LFS_GZ_WINSIZE = 32768,	 /* deflate's maximum distance */
	LFS_GZ_INBUF = 32768,	 /* compressed bytes per read/pread */
	LFS_GZ_CHUNK_SHIFT = 16, /* 64 KiB chunks in the cache */
	LFS_GZ_CHUNK = 1 << LFS_GZ_CHUNK_SHIFT,
	LFS_GZ_NSLOTS = 32,	     /* 2 MiB of cached chunks per index */
	LFS_GZ_IDLE_MAX = 4,	     /* idle cursors kept per index */
	LFS_GZ_SKIP_CACHE = 16,	     /* chunks kept when inflating up to a later one */
	LFS_GZ_WBITS_GZIP = 15 + 32, /* gzip or zlib header, auto-detected */
	LFS_GZ_WBITS_RAW = -15,
	LFS_GZ_MAX_STEP = 1 << 30, /* fits zlib's uInt */
};

enum {
	LFS_GZ_PT_MEMBER = 1, /* start of a gzip member */
	LFS_GZ_PT_RAWWIN = 2, /* window stored uncompressed */
};

struct lfs_gz_hdr {
	char magic[8];
	uint32_t version;
	uint32_t count;	    /* number of points, >= 1 */
	uint64_t total_out; /* uncompressed size of all members */
	uint64_t span;	    /* informational */
};

struct lfs_gz_point {
	uint64_t out;	   /* uncompressed offset */
	uint64_t in;	   /* file offset of the first whole compressed byte */
	uint64_t win_off;  /* offset of the window in the window area */
	uint32_t win_len;  /* stored window bytes */
	uint16_t win_size; /* window bytes once inflated, <= 32768 */
	uint8_t bits;	   /* bits of the byte at in - 1 still to decode, 0..7 */
	uint8_t flags;	   /* LFS_GZ_PT_* */
};

_Static_assert(sizeof(struct lfs_gz_hdr) == 32, "lfs_gz_hdr is serialised");
_Static_assert(sizeof(struct lfs_gz_point) == 32, "lfs_gz_point is serialised");

/* ------------------------------------------------------------------ */
/* Sequential reader                                                   */
/* ------------------------------------------------------------------ */

struct lfs_gz_reader {
	z_stream zs;
	z_stream dz; /* deflates windows; valid when dz_live */
	bool dz_live;
	bool eof;  /* read(2) returned 0 */
	bool done; /* last member finished */
	int err;   /* sticky -errno once failed */
	int fd;
	uint64_t span;
	uint64_t base;	/* file offset of the first compressed byte */
	uint64_t nread; /* compressed bytes read so far */
	uint64_t total_out;
	uint64_t last_out;   /* out of the last point */
	size_t last_win_off; /* windows.len before the last point */
	lfs_buf points;	     /* serialised struct lfs_gz_point */
	lfs_buf windows;
	lfs_buf msg;
	unsigned char win[LFS_GZ_WINSIZE];
	unsigned char in[LFS_GZ_INBUF];
};

static int lfs_gz_reader_fail(lfs_gz_reader *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lfs_gz_reader_fail(lfs_gz_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	lfs_buf_reset(&r->msg);
	va_start(ap, fmt);
	lfs_buf_vaddf(&r->msg, fmt, ap);
	va_end(ap);
	r->err = err;
	return err;
}

/* File offset of the next compressed byte inflate will look at. */
static uint64_t lfs_gz_reader_pos(const lfs_gz_reader *r)
{
	return r->base + r->nread - r->zs.avail_in;
}

static int lfs_gz_reader_fill(lfs_gz_reader *r)
{
	ssize_t n;
	int err;

	if (r->zs.avail_in || r->eof)
		return 0;
	do
		n = read(r->fd, r->in, sizeof(r->in));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err = errno ? errno : EIO;
		return lfs_gz_reader_fail(r, -err,
					  "reading gzip stream at compressed offset %llu: %s",
					  (unsigned long long)(r->base + r->nread), strerror(err));
	}
	r->eof = n == 0;
	r->nread += (uint64_t)n;
	r->zs.next_in = r->in;
	r->zs.avail_in = (uInt)n;
	return 0;
}

/* Stores the window in r->win (wlen bytes) for point p, deflated if that
 * makes it smaller. */
static void lfs_gz_reader_put_window(lfs_gz_reader *r, struct lfs_gz_point *p, uInt wlen)
{
	unsigned char *dst;
	uLong bound;

	p->win_off = r->windows.len;
	p->win_size = (uint16_t)wlen;
	if (!r->dz_live)
		r->dz_live = deflateInit2(&r->dz, 6, Z_DEFLATED, LFS_GZ_WBITS_RAW, 8,
					  Z_DEFAULT_STRATEGY) == Z_OK;
	else
		deflateReset(&r->dz);
	if (r->dz_live && wlen) {
		bound = deflateBound(&r->dz, wlen);
		dst = lfs_buf_zalloc(&r->windows, bound);
		r->dz.next_in = r->win;
		r->dz.avail_in = wlen;
		r->dz.next_out = dst;
		r->dz.avail_out = (uInt)bound;
		if (deflate(&r->dz, Z_FINISH) == Z_STREAM_END && r->dz.total_out < wlen) {
			p->win_len = (uint32_t)r->dz.total_out;
			lfs_buf_setlen(&r->windows, p->win_off + p->win_len);
			return;
		}
		lfs_buf_setlen(&r->windows, p->win_off);
	}
	p->flags |= LFS_GZ_PT_RAWWIN;
	p->win_len = wlen;
	lfs_buf_add(&r->windows, r->win, wlen);
}

/* Records a point at the current output offset.  A point at the same
 * offset as the previous one replaces it: that only happens for members
 * that produced no output, and the later member is the one to restart at. */
static void lfs_gz_reader_add_point(lfs_gz_reader *r, uint8_t flags, uint8_t bits)
{
	struct lfs_gz_point p = {0};
	uInt wlen = 0;

	if (r->points.len && r->last_out == r->total_out) {
		lfs_buf_setlen(&r->points, r->points.len - sizeof(p));
		lfs_buf_setlen(&r->windows, r->last_win_off);
	}
	r->last_out = r->total_out;
	r->last_win_off = r->windows.len;
	p.out = r->total_out;
	p.in = lfs_gz_reader_pos(r);
	p.bits = bits;
	p.flags = flags;
	p.win_off = r->windows.len;
	if (!(flags & LFS_GZ_PT_MEMBER)) {
		if (inflateGetDictionary(&r->zs, r->win, &wlen) != Z_OK)
			wlen = 0;
		lfs_gz_reader_put_window(r, &p, wlen);
	}
	lfs_buf_add(&r->points, &p, sizeof(p));
}

static void lfs_gz_reader_maybe_point(lfs_gz_reader *r)
{
	int dt = r->zs.data_type;

	/* 128: just after an end-of-block code (or the header); 64: inside
	 * the last block, after which comes the trailer, not a block. */
	if ((dt & 128) && !(dt & 64) && r->total_out - r->last_out >= r->span)
		lfs_gz_reader_add_point(r, 0, (uint8_t)(dt & 7));
}

/* After a member: skips zero padding (gzip(1) accepts it); *more is set
 * when another member follows. */
static int lfs_gz_reader_skip_padding(lfs_gz_reader *r, bool *more)
{
	bool zeros = false;
	int ret;

	for (;;) {
		ret = lfs_gz_reader_fill(r);
		if (ret < 0)
			return ret;
		if (!r->zs.avail_in) {
			*more = false;
			return 0;
		}
		while (r->zs.avail_in && !*r->zs.next_in) {
			r->zs.next_in++;
			r->zs.avail_in--;
			zeros = true;
		}
		if (r->zs.avail_in)
			break;
	}
	if (zeros)
		return lfs_gz_reader_fail(
		    r, -EIO, "trailing garbage after gzip data at compressed offset %llu",
		    (unsigned long long)lfs_gz_reader_pos(r));
	*more = true;
	return 0;
}

static int lfs_gz_reader_member_end(lfs_gz_reader *r)
{
	bool more;
	int ret = lfs_gz_reader_skip_padding(r, &more);

	if (ret < 0)
		return ret;
	if (!more) {
		r->done = true;
		return 0;
	}
	if (inflateReset(&r->zs) != Z_OK)
		return lfs_gz_reader_fail(r, -EIO, "gzip: inflateReset failed");
	lfs_gz_reader_add_point(r, LFS_GZ_PT_MEMBER, 0);
	return 0;
}

static int lfs_gz_reader_zerr(lfs_gz_reader *r, int zret)
{
	unsigned long long pos = lfs_gz_reader_pos(r);

	if (zret == Z_MEM_ERROR)
		return lfs_gz_reader_fail(r, -ENOMEM, "out of memory inflating gzip stream");
	if (zret == Z_BUF_ERROR && !r->zs.avail_in)
		return lfs_gz_reader_fail(r, -EIO,
					  "gzip stream truncated at compressed offset %llu", pos);
	return lfs_gz_reader_fail(r, -EIO, "gzip data corrupt at compressed offset %llu: %s", pos,
				  r->zs.msg ? r->zs.msg : "no progress possible");
}

/* One inflate call into dst (room bytes); adds the output to *got. */
static int lfs_gz_reader_step(lfs_gz_reader *r, unsigned char *dst, size_t room, size_t *got)
{
	int ret = lfs_gz_reader_fill(r);
	size_t n;

	if (ret < 0)
		return ret;
	r->zs.next_out = dst;
	r->zs.avail_out = room > LFS_GZ_MAX_STEP ? LFS_GZ_MAX_STEP : (uInt)room;
	n = r->zs.avail_out;
	ret = inflate(&r->zs, Z_BLOCK);
	n -= r->zs.avail_out;
	*got += n;
	r->total_out += n;
	if (ret == Z_STREAM_END)
		return lfs_gz_reader_member_end(r);
	/* Z_BUF_ERROR with input left cannot happen; without input, fill()
	 * only left it empty at EOF: the stream is cut short. */
	if (ret != Z_OK)
		return lfs_gz_reader_zerr(r, ret);
	lfs_gz_reader_maybe_point(r);
	return 0;
}

int lfs_gz_reader_new(int fd, uint64_t span, lfs_gz_reader **out)
{
	lfs_gz_reader *r = lfs_xcalloc(1, sizeof(*r));
	off_t base = lseek(fd, 0, SEEK_CUR);

	if (inflateInit2(&r->zs, LFS_GZ_WBITS_GZIP) != Z_OK) {
		free(r);
		return -ENOMEM;
	}
	r->fd = fd;
	r->span = span ? span : LFS_GZ_DEFAULT_SPAN;
	r->base = base > 0 ? (uint64_t)base : 0; /* pipes: offsets from 0 */
	lfs_buf_init(&r->points, 0);
	lfs_buf_init(&r->windows, 0);
	lfs_buf_init(&r->msg, 0);
	lfs_gz_reader_add_point(r, LFS_GZ_PT_MEMBER, 0);
	*out = r;
	return 0;
}

ssize_t lfs_gz_reader_read(lfs_gz_reader *r, void *buf, size_t len)
{
	size_t got = 0;
	int ret;

	if (r->err)
		return r->err;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (got < len && !r->done) {
		ret = lfs_gz_reader_step(r, (unsigned char *)buf + got, len - got, &got);
		if (ret < 0)
			return ret;
	}
	return (ssize_t)got;
}

const char *lfs_gz_reader_error(const lfs_gz_reader *r)
{
	return r->msg.data;
}

int lfs_gz_reader_finish(lfs_gz_reader *r, lfs_buf *out)
{
	struct lfs_gz_hdr h = {0};
	size_t count = r->points.len / sizeof(struct lfs_gz_point);

	if (r->err)
		return r->err;
	if (!r->done)
		return -EINVAL;
	if (count > UINT32_MAX)
		return -EFBIG;
	memcpy(h.magic, LFS_GZ_MAGIC, sizeof(h.magic));
	h.version = LFS_GZ_VERSION;
	h.count = (uint32_t)count;
	h.total_out = r->total_out;
	h.span = r->span;
	lfs_buf_add(out, &h, sizeof(h));
	lfs_buf_add(out, r->points.data, r->points.len);
	lfs_buf_add(out, r->windows.data, r->windows.len);
	return 0;
}

uint64_t lfs_gz_reader_total_out(const lfs_gz_reader *r)
{
	return r->total_out;
}

void lfs_gz_reader_free(lfs_gz_reader *r)
{
	if (!r)
		return;
	inflateEnd(&r->zs);
	if (r->dz_live)
		deflateEnd(&r->dz);
	lfs_buf_release(&r->points);
	lfs_buf_release(&r->windows);
	lfs_buf_release(&r->msg);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Random access                                                       */
/* ------------------------------------------------------------------ */

/* A z_stream positioned at uncompressed offset `out`.  Owned by the idle
 * list (under gi->lock) or by exactly one reading thread (busy list). */
struct lfs_gz_cursor {
	z_stream zs;
	uint64_t out;	     /* uncompressed offset of the next output byte */
	uint64_t in;	     /* file offset of the next compressed byte to pread */
	uint64_t init_out;   /* out when last set at a point */
	uint64_t busy_next;  /* while busy: the first chunk it will still inflate whole */
	uint64_t busy_chunk; /* while busy: the next chunk it was asked for */
	uint64_t busy_last;  /* while busy: the last chunk of its request */
	bool positioned;     /* out/in/zs are consistent */
	bool eof;	     /* last pread returned 0 */
	bool ended;	     /* at the end of a member's deflate data */
	struct lfs_gz_cursor *next;
	unsigned char *chunk; /* LFS_GZ_CHUNK bytes, or NULL; swapped into the cache */
	unsigned char inbuf[LFS_GZ_INBUF];
};

struct lfs_gz_slot {
	uint64_t no;	/* chunk number: offset >> LFS_GZ_CHUNK_SHIFT */
	uint64_t stamp; /* LRU clock, 0 = empty */
	size_t len;
	unsigned char *data;
};

/* A thread waiting for chunk no (on its stack, in gi->waiters). */
struct lfs_gz_waiter {
	uint64_t no;
	struct lfs_gz_waiter *next;
};

struct lfs_gz_index {
	const unsigned char *points; /* count serialised points (maybe unaligned) */
	const unsigned char *wins;
	size_t wins_len;
	uint32_t count;
	uint64_t total_out;

	pthread_mutex_t lock;	    /* guards everything below */
	pthread_cond_t returned;    /* a chunk was cached or a cursor went idle */
	struct lfs_gz_cursor *idle; /* most recently used first */
	struct lfs_gz_cursor *busy;
	struct lfs_gz_waiter *waiters;
	unsigned nidle;
	uint64_t clock;
	struct lfs_gz_slot slots[LFS_GZ_NSLOTS];
};

static void lfs_gz_point_get(const lfs_gz_index *gi, uint32_t i, struct lfs_gz_point *p)
{
	memcpy(p, gi->points + (size_t)i * sizeof(*p), sizeof(*p));
}

/* The last point at or before off (point 0 is at 0). */
static void lfs_gz_point_find(const lfs_gz_index *gi, uint64_t off, struct lfs_gz_point *p)
{
	uint32_t lo = 0, hi = gi->count, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		lfs_gz_point_get(gi, mid, p);
		if (p->out <= off)
			lo = mid;
		else
			hi = mid;
	}
	lfs_gz_point_get(gi, lo, p);
}

static bool lfs_gz_point_valid(const lfs_gz_index *gi, const struct lfs_gz_point *p,
			       const struct lfs_gz_point *prev)
{
	if (p->flags & ~(LFS_GZ_PT_MEMBER | LFS_GZ_PT_RAWWIN))
		return false;
	if (p->out > gi->total_out || p->in > INT64_MAX ||
	    (prev && (p->out <= prev->out || p->in < prev->in)))
		return false;
	if (p->flags & LFS_GZ_PT_MEMBER)
		return !(p->flags & LFS_GZ_PT_RAWWIN) && !p->bits && !p->win_len && !p->win_size;
	if (p->bits > 7 || (p->bits && !p->in) || p->win_size > LFS_GZ_WINSIZE)
		return false;
	if ((p->flags & LFS_GZ_PT_RAWWIN) && p->win_len != p->win_size)
		return false;
	return p->win_off <= gi->wins_len && p->win_len <= gi->wins_len - p->win_off;
}

int lfs_gz_index_open(const void *data, size_t len, lfs_gz_index **out)
{
	const unsigned char *d = data;
	struct lfs_gz_point p, prev;
	struct lfs_gz_hdr h;
	lfs_gz_index *gi;
	uint32_t i;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, d, sizeof(h));
	if (memcmp(h.magic, LFS_GZ_MAGIC, sizeof(h.magic)) || h.version != LFS_GZ_VERSION ||
	    !h.count || h.count > (len - sizeof(h)) / sizeof(p))
		return -EBADMSG;
	gi = lfs_xcalloc(1, sizeof(*gi));
	gi->points = d + sizeof(h);
	gi->count = h.count;
	gi->total_out = h.total_out;
	gi->wins = gi->points + (size_t)h.count * sizeof(p);
	gi->wins_len = len - sizeof(h) - (size_t)h.count * sizeof(p);
	for (i = 0; i < gi->count; i++) {
		lfs_gz_point_get(gi, i, &p);
		if (!lfs_gz_point_valid(gi, &p, i ? &prev : NULL) ||
		    (!i && (p.out || !(p.flags & LFS_GZ_PT_MEMBER)))) {
			free(gi);
			return -EBADMSG;
		}
		prev = p;
	}
	pthread_mutex_init(&gi->lock, NULL);
	pthread_cond_init(&gi->returned, NULL);
	*out = gi;
	return 0;
}

static void lfs_gz_cursor_free(struct lfs_gz_cursor *c)
{
	inflateEnd(&c->zs);
	free(c->chunk);
	free(c);
}

void lfs_gz_index_free(lfs_gz_index *gi)
{
	struct lfs_gz_cursor *c;
	int i;

	if (!gi)
		return;
	while ((c = gi->idle)) {
		gi->idle = c->next;
		lfs_gz_cursor_free(c);
	}
	for (i = 0; i < LFS_GZ_NSLOTS; i++)
		free(gi->slots[i].data);
	pthread_cond_destroy(&gi->returned);
	pthread_mutex_destroy(&gi->lock);
	free(gi);
}

/* --- Cursors: inflating from a point (no lock held). --- */

static int lfs_gz_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	ssize_t n;

	*got = 0;
	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno ? -errno : -EIO;
	*got = (size_t)n;
	return 0;
}

/* Sets the dictionary for a raw point, inflating the stored window first
 * (into c->chunk, which is overwritten by the caller anyway). */
static int lfs_gz_cursor_window(const lfs_gz_index *gi, struct lfs_gz_cursor *c,
				const struct lfs_gz_point *p)
{
	const unsigned char *win = gi->wins + p->win_off;

	if (!p->win_size)
		return 0;
	if (!(p->flags & LFS_GZ_PT_RAWWIN)) {
		if (inflateReset2(&c->zs, LFS_GZ_WBITS_RAW) != Z_OK)
			return -EIO;
		c->zs.next_in = win;
		c->zs.avail_in = p->win_len;
		c->zs.next_out = c->chunk;
		c->zs.avail_out = p->win_size;
		if (inflate(&c->zs, Z_FINISH) != Z_STREAM_END || c->zs.avail_out)
			return -EIO;
		win = c->chunk;
	}
	if (inflateReset2(&c->zs, LFS_GZ_WBITS_RAW) != Z_OK)
		return -EIO;
	return inflateSetDictionary(&c->zs, win, p->win_size) == Z_OK ? 0 : -EIO;
}

static int lfs_gz_cursor_seek(const lfs_gz_index *gi, int fd, struct lfs_gz_cursor *c,
			      const struct lfs_gz_point *p)
{
	unsigned char byte;
	size_t got;
	int ret;

	c->positioned = false;
	if (p->flags & LFS_GZ_PT_MEMBER) {
		if (inflateReset2(&c->zs, LFS_GZ_WBITS_GZIP) != Z_OK)
			return -EIO;
	} else {
		ret = lfs_gz_cursor_window(gi, c, p);
		if (ret < 0)
			return ret;
	}
	if (p->bits) {
		ret = lfs_gz_pread_full(fd, &byte, 1, p->in - 1, &got);
		if (ret < 0)
			return ret;
		if (!got || inflatePrime(&c->zs, p->bits, byte >> (8 - p->bits)) != Z_OK)
			return -EIO;
	}
	c->zs.avail_in = 0;
	c->in = p->in;
	c->out = c->init_out = p->out;
	c->eof = false;
	c->ended = false;
	c->positioned = true;
	return 0;
}

/* At the end of a member's deflate data: continue at the next member,
 * which has a point at exactly this offset.  A member that produced
 * nothing since the point means a corrupt table: fail rather than loop. */
static int lfs_gz_cursor_next_member(const lfs_gz_index *gi, int fd, struct lfs_gz_cursor *c)
{
	struct lfs_gz_point p;

	if (c->out == c->init_out)
		return -EIO;
	lfs_gz_point_find(gi, c->out, &p);
	if (p.out != c->out || !(p.flags & LFS_GZ_PT_MEMBER))
		return -EIO;
	return lfs_gz_cursor_seek(gi, fd, c, &p);
}

static int lfs_gz_cursor_fill(int fd, struct lfs_gz_cursor *c)
{
	size_t got;
	int ret;

	if (c->zs.avail_in || c->eof)
		return 0;
	ret = lfs_gz_pread_full(fd, c->inbuf, sizeof(c->inbuf), c->in, &got);
	if (ret < 0)
		return ret;
	c->eof = !got;
	c->in += got;
	c->zs.next_in = c->inbuf;
	c->zs.avail_in = (uInt)got;
	return 0;
}

/* Inflates exactly len bytes into dst (len <= LFS_GZ_CHUNK). */
static int lfs_gz_cursor_inflate(const lfs_gz_index *gi, int fd, struct lfs_gz_cursor *c,
				 unsigned char *dst, size_t len)
{
	int ret, zret;
	size_t n;

	while (len) {
		ret = c->ended ? lfs_gz_cursor_next_member(gi, fd, c) : 0;
		if (ret == 0)
			ret = lfs_gz_cursor_fill(fd, c);
		if (ret < 0)
			return ret;
		c->zs.next_out = dst;
		c->zs.avail_out = (uInt)len;
		zret = inflate(&c->zs, Z_NO_FLUSH);
		n = len - c->zs.avail_out;
		dst += n;
		len -= n;
		c->out += n;
		/* The next member is entered lazily: at the very end there is none. */
		if (zret == Z_STREAM_END)
			c->ended = true;
		else if (zret == Z_MEM_ERROR)
			ret = -ENOMEM;
		else if (zret != Z_OK) /* corrupt, or truncated (Z_BUF_ERROR at EOF) */
			ret = -EIO;
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* --- The shared cache (slot and list functions: under gi->lock). --- */

static struct lfs_gz_slot *lfs_gz_slot_find(lfs_gz_index *gi, uint64_t no)
{
	int i;

	for (i = 0; i < LFS_GZ_NSLOTS; i++)
		if (gi->slots[i].stamp && gi->slots[i].no == no)
			return &gi->slots[i];
	return NULL;
}

/* Moves c's chunk into the least recently used slot; c gets that slot's
 * old buffer (or NULL), so no chunk is copied. */
static void lfs_gz_slot_insert(lfs_gz_index *gi, uint64_t no, struct lfs_gz_cursor *c, size_t len)
{
	struct lfs_gz_slot *s = &gi->slots[0];
	unsigned char *old;
	int i;

	if (lfs_gz_slot_find(gi, no))
		return;
	for (i = 1; i < LFS_GZ_NSLOTS; i++)
		if (gi->slots[i].stamp < s->stamp)
			s = &gi->slots[i];
	old = s->data;
	s->data = c->chunk;
	c->chunk = old;
	s->no = no;
	s->len = len;
	s->stamp = ++gi->clock;
}

/* Publishes the chunk a busy cursor just inflated (takes the lock). */
static void lfs_gz_cache_put(lfs_gz_index *gi, uint64_t no, struct lfs_gz_cursor *c, size_t len)
{
	pthread_mutex_lock(&gi->lock);
	lfs_gz_slot_insert(gi, no, c, len);
	c->busy_chunk = c->busy_next = no + 1;
	pthread_cond_broadcast(&gi->returned);
	pthread_mutex_unlock(&gi->lock);
	if (!c->chunk)
		c->chunk = lfs_xmalloc(LFS_GZ_CHUNK);
}

static bool lfs_gz_waited_for(const lfs_gz_index *gi, uint64_t no)
{
	const struct lfs_gz_waiter *w;

	for (w = gi->waiters; w; w = w->next)
		if (w->no == no)
			return true;
	return false;
}

/* A busy cursor heading for chunk target reached the end of chunk
 * done (whole when full): records its progress and caches that chunk if
 * a thread waits for it or it lies just before target.  Takes the lock. */
static void lfs_gz_cache_passed(lfs_gz_index *gi, struct lfs_gz_cursor *c, uint64_t done, bool full,
				uint64_t target)
{
	pthread_mutex_lock(&gi->lock);
	c->busy_next = done + 1;
	if (full && (target - done <= LFS_GZ_SKIP_CACHE || lfs_gz_waited_for(gi, done))) {
		lfs_gz_slot_insert(gi, done, c, LFS_GZ_CHUNK);
		pthread_cond_broadcast(&gi->returned);
	}
	pthread_mutex_unlock(&gi->lock);
	if (!c->chunk)
		c->chunk = lfs_xmalloc(LFS_GZ_CHUNK);
}

/* --- Producing chunks (no lock held while inflating). --- */

/* Inflates from the cursor's position up to the start of chunk no.  Whole
 * chunks passed on the way are cached rather than dropped when other
 * threads wait for them or they lie close before no: concurrent readers
 * of a sequential stream ask for them next. */
static int lfs_gz_cursor_skip(lfs_gz_index *gi, int fd, struct lfs_gz_cursor *c, uint64_t no)
{
	uint64_t start = no << LFS_GZ_CHUNK_SHIFT, at;
	size_t step;
	int ret;

	while (c->out < start) {
		at = c->out & (LFS_GZ_CHUNK - 1);
		step = LFS_GZ_CHUNK - at < start - c->out ? LFS_GZ_CHUNK - at : start - c->out;
		ret = lfs_gz_cursor_inflate(gi, fd, c, c->chunk, step);
		if (ret < 0)
			return ret;
		if (!(c->out & (LFS_GZ_CHUNK - 1)))
			lfs_gz_cache_passed(gi, c, (c->out >> LFS_GZ_CHUNK_SHIFT) - 1,
					    !at && step == LFS_GZ_CHUNK, no);
	}
	return 0;
}

/* Fills c->chunk with chunk no; returns its length or -errno. */
static ssize_t lfs_gz_cursor_produce(lfs_gz_index *gi, int fd, struct lfs_gz_cursor *c, uint64_t no)
{
	uint64_t start = no << LFS_GZ_CHUNK_SHIFT;
	size_t len = gi->total_out - start < LFS_GZ_CHUNK ? gi->total_out - start : LFS_GZ_CHUNK;
	struct lfs_gz_point p;
	int ret;

	if (!c->chunk)
		c->chunk = lfs_xmalloc(LFS_GZ_CHUNK);
	if (!c->positioned || c->out > start) {
		lfs_gz_point_find(gi, start, &p);
		ret = lfs_gz_cursor_seek(gi, fd, c, &p);
		if (ret < 0)
			return ret;
	}
	ret = lfs_gz_cursor_skip(gi, fd, c, no);
	if (ret == 0)
		ret = lfs_gz_cursor_inflate(gi, fd, c, c->chunk, len);
	return ret < 0 ? ret : (ssize_t)len;
}

/* --- Handing out cursors (under gi->lock). --- */

static void lfs_gz_list_remove(struct lfs_gz_cursor **head, struct lfs_gz_cursor *c)
{
	while (*head != c)
		head = &(*head)->next;
	*head = c->next;
}

/* True when a busy cursor will produce chunk no (its request covers it, or
 * it will pass it whole on the way to its own), or will stop between lo
 * and the start of no: waiting for it beats inflating from further back. */
static bool lfs_gz_should_wait(const lfs_gz_index *gi, uint64_t no, uint64_t lo)
{
	uint64_t start = no << LFS_GZ_CHUNK_SHIFT, end;
	const struct lfs_gz_cursor *c;

	for (c = gi->busy; c; c = c->next) {
		if (no >= c->busy_chunk && no <= c->busy_last)
			return true;
		if (no >= c->busy_next && no < c->busy_chunk)
			return true;
		end = (c->busy_last + 1) << LFS_GZ_CHUNK_SHIFT;
		if (end >= lo && end <= start)
			return true;
	}
	return false;
}

/* The idle cursor nearest before start and at or after the point for
 * start (so reusing it never costs more than restarting), or NULL. */
static struct lfs_gz_cursor *lfs_gz_idle_best(lfs_gz_index *gi, uint64_t lo, uint64_t start)
{
	struct lfs_gz_cursor *c, *best = NULL;

	for (c = gi->idle; c; c = c->next)
		if (c->positioned && c->out >= lo && c->out <= start &&
		    (!best || c->out > best->out))
			best = c;
	return best;
}

static struct lfs_gz_cursor *lfs_gz_idle_oldest(lfs_gz_index *gi)
{
	struct lfs_gz_cursor *c = gi->idle;

	while (c && c->next)
		c = c->next;
	return c;
}

static int lfs_gz_cursor_new(struct lfs_gz_cursor **out)
{
	struct lfs_gz_cursor *c = lfs_xcalloc(1, sizeof(*c));

	if (inflateInit2(&c->zs, LFS_GZ_WBITS_RAW) != Z_OK) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* Picks a cursor for chunks no..last and marks it busy.  Returns 0 with
 * *out set, 1 when the caller should wait for a busy cursor, or -errno. */
static int lfs_gz_cursor_take(lfs_gz_index *gi, uint64_t no, uint64_t last,
			      struct lfs_gz_cursor **out)
{
	uint64_t start = no << LFS_GZ_CHUNK_SHIFT, from;
	struct lfs_gz_cursor *c;
	struct lfs_gz_point p;
	int ret;

	lfs_gz_point_find(gi, start, &p);
	c = lfs_gz_idle_best(gi, p.out, start);
	if (lfs_gz_should_wait(gi, no, c ? c->out + 1 : p.out))
		return 1;
	if (!c && (c = lfs_gz_idle_oldest(gi)))
		c->positioned = false;
	if (c) {
		lfs_gz_list_remove(&gi->idle, c);
		gi->nidle--;
	} else {
		ret = lfs_gz_cursor_new(&c);
		if (ret < 0)
			return ret;
	}
	from = c->positioned ? c->out : p.out;
	c->busy_next = (from >> LFS_GZ_CHUNK_SHIFT) + !!(from & (LFS_GZ_CHUNK - 1));
	c->busy_chunk = no;
	c->busy_last = last;
	c->next = gi->busy;
	gi->busy = c;
	*out = c;
	return 0;
}

static void lfs_gz_cursor_put(lfs_gz_index *gi, struct lfs_gz_cursor *c, bool ok)
{
	struct lfs_gz_cursor *old;

	lfs_gz_list_remove(&gi->busy, c);
	if (!ok)
		c->positioned = false;
	c->next = gi->idle;
	gi->idle = c;
	if (++gi->nidle > LFS_GZ_IDLE_MAX) {
		old = lfs_gz_idle_oldest(gi);
		lfs_gz_list_remove(&gi->idle, old);
		gi->nidle--;
		lfs_gz_cursor_free(old);
	}
	pthread_cond_broadcast(&gi->returned);
}

/* --- Reads. --- */

/* One lfs_gz_pread call: it keeps the cursor it took for its first
 * missing chunk until it returns, so the chunks of one request are
 * inflated in one go and concurrent requests queue behind it. */
struct lfs_gz_req {
	lfs_gz_index *gi;
	int fd;
	uint64_t last; /* last chunk of the request */
	struct lfs_gz_cursor *cur;
};

static size_t lfs_gz_copy(void *dst, size_t len, const unsigned char *chunk, size_t clen,
			  size_t skip)
{
	size_t n = skip < clen ? clen - skip : 0;

	n = n < len ? n : len;
	memcpy(dst, chunk + skip, n);
	return n;
}

static void lfs_gz_waiter_remove(lfs_gz_index *gi, struct lfs_gz_waiter *w)
{
	struct lfs_gz_waiter **p = &gi->waiters;

	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
}

/* Returns 1 and copies when chunk no is cached; else makes sure q->cur
 * holds a cursor (waiting for a busy one when that is cheaper).  Locked. */
static ssize_t lfs_gz_lookup(struct lfs_gz_req *q, uint64_t no, void *dst, size_t len, size_t skip,
			     size_t *n)
{
	lfs_gz_index *gi = q->gi;
	struct lfs_gz_waiter w = {no, NULL};
	struct lfs_gz_slot *s;
	bool listed = false;
	int ret;

	for (;;) {
		if ((s = lfs_gz_slot_find(gi, no))) {
			s->stamp = ++gi->clock;
			*n = lfs_gz_copy(dst, len, s->data, s->len, skip);
			ret = 1;
			break;
		}
		ret = q->cur ? 0 : lfs_gz_cursor_take(gi, no, q->last, &q->cur);
		if (ret <= 0)
			break;
		if (!listed) {
			w.next = gi->waiters;
			gi->waiters = &w;
			listed = true;
		}
		pthread_cond_wait(&gi->returned, &gi->lock);
	}
	if (listed)
		lfs_gz_waiter_remove(gi, &w);
	return ret;
}

/* Serves the part of [off, off + len) that lies in off's chunk. */
static ssize_t lfs_gz_pread_chunk(struct lfs_gz_req *q, void *dst, size_t len, uint64_t off)
{
	uint64_t no = off >> LFS_GZ_CHUNK_SHIFT;
	size_t skip = off & (LFS_GZ_CHUNK - 1), n = 0;
	ssize_t ret;

	pthread_mutex_lock(&q->gi->lock);
	ret = lfs_gz_lookup(q, no, dst, len, skip, &n);
	pthread_mutex_unlock(&q->gi->lock);
	if (ret == 0) {
		ret = lfs_gz_cursor_produce(q->gi, q->fd, q->cur, no);
		if (ret < 0)
			return ret;
		n = lfs_gz_copy(dst, len, q->cur->chunk, (size_t)ret, skip);
		lfs_gz_cache_put(q->gi, no, q->cur, (size_t)ret);
	}
	if (ret < 0)
		return ret;
	return n ? (ssize_t)n : -EIO; /* n == 0: chunk shorter than total_out claims */
}

ssize_t lfs_gz_pread(lfs_gz_index *gi, int fd, void *buf, size_t len, uint64_t off)
{
	struct lfs_gz_req q = {gi, fd, 0, NULL};
	size_t done = 0;
	ssize_t n = 0;

	if (off >= gi->total_out)
		return 0;
	if (len > gi->total_out - off)
		len = gi->total_out - off;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (!len)
		return 0;
	q.last = (off + len - 1) >> LFS_GZ_CHUNK_SHIFT;
	while (done < len) {
		n = lfs_gz_pread_chunk(&q, (unsigned char *)buf + done, len - done, off + done);
		if (n < 0)
			break;
		done += (size_t)n;
	}
	if (q.cur) {
		pthread_mutex_lock(&gi->lock);
		lfs_gz_cursor_put(gi, q.cur, n >= 0);
		pthread_mutex_unlock(&gi->lock);
	}
	return n < 0 ? n : (ssize_t)done;
}
