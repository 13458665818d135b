/* lfs_zst — zstd frame table and random access by frame (see zst.h).
 *
 * Serialised frame table (host-endian, read with memcpy: the section may
 * sit at any offset of an index map):
 *
 *   struct lfs_zst_hdr                       32 bytes
 *   struct lfs_zst_point x (count + 1)       16 bytes each
 *
 * Point i (i < count) is the start of the i-th frame that produces output:
 * `in` its absolute offset in the file, `out` its offset in the tar stream.
 * Point count is the end: `in` just past the last compressed byte, `out`
 * the total.  Both strictly increase.  Frames with no output (skippable or
 * empty frames) lie inside the range of the frame before them; that is
 * fine, since ZSTD_decompressDCtx() decodes every frame of a range.
 *
 * Random access keeps an LRU of whole decompressed frames, at most
 * LFS_ZST_CACHE_BYTES in all.  A miss marks its slot as loading, drops the
 * lock, reads and decompresses the frame, and publishes it; a thread that
 * wants a frame being loaded waits for it rather than doing it twice.
 */
#include "zst.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define LFS_ZST_MAGIC	"LFSZSTFR"
#define LFS_ZST_VERSION 1u

enum {
	LFS_ZST_NSLOTS = 64,
	LFS_ZST_CACHE_BYTES = 16 << 20,
	LFS_ZST_IDLE_MAX = 4,	       /* idle decompression contexts kept */
	LFS_ZST_MAX_RANGE = 256 << 20, /* compressed bytes of one frame range */
};

struct lfs_zst_hdr {
	char magic[8];
	uint32_t version;
	uint32_t count;	    /* frames with output, >= 1 */
	uint64_t total_out; /* uncompressed size */
	uint32_t access;    /* enum lfs_zst_access */
	uint32_t max_frame; /* largest frame's output, capped at UINT32_MAX */
};

struct lfs_zst_point {
	uint64_t in;
	uint64_t out;
};

_Static_assert(sizeof(struct lfs_zst_hdr) == 32, "lfs_zst_hdr is serialised");
_Static_assert(sizeof(struct lfs_zst_point) == 16, "lfs_zst_point is serialised");

/* ------------------------------------------------------------------ */
/* Sequential reader                                                   */
/* ------------------------------------------------------------------ */

struct lfs_zst_reader {
	ZSTD_DStream *ds;
	ZSTD_inBuffer in;
	int fd;
	int err;       /* sticky -errno once failed */
	bool eof;      /* read(2) returned 0 */
	bool in_frame; /* inside a frame: EOF now means truncation */
	bool done;
	uint64_t base;	/* file offset of the first compressed byte */
	uint64_t nread; /* compressed bytes read so far */
	uint64_t total_out;
	uint64_t frame_in, frame_out; /* start of the current frame */
	uint64_t max_frame;
	lfs_buf points;
	lfs_buf msg;
	unsigned char *inbuf;
	size_t inbuf_size;
};

static int lfs_zst_reader_fail(lfs_zst_reader *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lfs_zst_reader_fail(lfs_zst_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	lfs_buf_reset(&r->msg);
	va_start(ap, fmt);
	lfs_buf_vaddf(&r->msg, fmt, ap);
	va_end(ap);
	r->err = err;
	return err;
}

/* File offset of the next compressed byte the decoder will look at. */
static uint64_t lfs_zst_reader_pos(const lfs_zst_reader *r)
{
	return r->base + r->nread - (r->in.size - r->in.pos);
}

static int lfs_zst_reader_fill(lfs_zst_reader *r)
{
	ssize_t n;
	int err;

	do
		n = read(r->fd, r->inbuf, r->inbuf_size);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err = errno ? errno : EIO;
		return lfs_zst_reader_fail(r, -err,
					   "reading zstd stream at compressed offset %llu: %s",
					   (unsigned long long)(r->base + r->nread), strerror(err));
	}
	r->eof = n == 0;
	r->nread += (uint64_t)n;
	r->in.src = r->inbuf;
	r->in.size = (size_t)n;
	r->in.pos = 0;
	return 0;
}

static void lfs_zst_reader_add_point(lfs_zst_reader *r, uint64_t in, uint64_t out)
{
	struct lfs_zst_point p = {in, out};

	lfs_buf_add(&r->points, &p, sizeof(p));
}

/* A frame ended at the current position: record it if it produced output. */
static void lfs_zst_reader_frame_end(lfs_zst_reader *r)
{
	uint64_t len = r->total_out - r->frame_out;

	if (len) {
		lfs_zst_reader_add_point(r, r->frame_in, r->frame_out);
		if (len > r->max_frame)
			r->max_frame = len;
	}
	r->frame_in = lfs_zst_reader_pos(r);
	r->frame_out = r->total_out;
	r->in_frame = false;
}

/* One decoder call into dst (room bytes); adds the output to *got.  At
 * the end of the input the decoder is still called while it has output
 * buffered; the stream is truncated when it then makes no progress inside
 * a frame. */
static int lfs_zst_reader_step(lfs_zst_reader *r, unsigned char *dst, size_t room, size_t *got)
{
	ZSTD_outBuffer out = {dst, room, 0};
	size_t ret, before;
	int err;

	if (r->in.pos == r->in.size && !r->eof) {
		err = lfs_zst_reader_fill(r);
		if (err < 0)
			return err;
	}
	if (r->in.pos == r->in.size && r->eof && !r->in_frame) {
		r->done = true;
		return 0;
	}
	before = r->in.pos;
	ret = ZSTD_decompressStream(r->ds, &out, &r->in);
	if (ZSTD_isError(ret))
		return lfs_zst_reader_fail(
		    r, -EIO, "zstd data corrupt at compressed offset %llu: %s",
		    (unsigned long long)lfs_zst_reader_pos(r), ZSTD_getErrorName(ret));
	*got += out.pos;
	r->total_out += out.pos;
	if (out.pos == 0 && r->in.pos == before)
		return r->eof
			   ? lfs_zst_reader_fail(r, -EIO,
						 "zstd stream truncated at compressed offset %llu",
						 (unsigned long long)lfs_zst_reader_pos(r))
			   : 0;
	if (ret == 0)
		lfs_zst_reader_frame_end(r);
	else
		r->in_frame = true;
	return 0;
}

int lfs_zst_reader_new(int fd, lfs_zst_reader **out)
{
	lfs_zst_reader *r = lfs_xcalloc(1, sizeof(*r));
	off_t base = lseek(fd, 0, SEEK_CUR);

	r->ds = ZSTD_createDStream();
	if (!r->ds) {
		free(r);
		return -ENOMEM;
	}
	r->fd = fd;
	r->base = base > 0 ? (uint64_t)base : 0; /* pipes: offsets from 0 */
	r->frame_in = r->base;
	r->inbuf_size = ZSTD_DStreamInSize();
	r->inbuf = lfs_xmalloc(r->inbuf_size);
	lfs_buf_init(&r->points, 0);
	lfs_buf_init(&r->msg, 0);
	*out = r;
	return 0;
}

ssize_t lfs_zst_reader_read(lfs_zst_reader *r, void *buf, size_t len)
{
	size_t got = 0;
	int ret;

	if (r->err)
		return r->err;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (got < len && !r->done) {
		ret = lfs_zst_reader_step(r, (unsigned char *)buf + got, len - got, &got);
		if (ret < 0)
			return ret;
	}
	return (ssize_t)got;
}

const char *lfs_zst_reader_error(const lfs_zst_reader *r)
{
	return r->msg.data;
}

int lfs_zst_reader_finish(lfs_zst_reader *r, lfs_buf *out)
{
	struct lfs_zst_hdr h = {0};
	size_t count;

	if (r->err)
		return r->err;
	if (!r->done)
		return -EINVAL;
	if (!r->points.len) /* no output at all */
		lfs_zst_reader_add_point(r, r->base, 0);
	count = r->points.len / sizeof(struct lfs_zst_point);
	if (count >= UINT32_MAX)
		return -EFBIG;
	memcpy(h.magic, LFS_ZST_MAGIC, sizeof(h.magic));
	h.version = LFS_ZST_VERSION;
	h.count = (uint32_t)count;
	h.total_out = r->total_out;
	h.max_frame = r->max_frame > UINT32_MAX ? UINT32_MAX : (uint32_t)r->max_frame;
	h.access = r->max_frame <= LFS_ZST_MAX_FRAME ? LFS_ZST_FRAMES : LFS_ZST_COPY;
	lfs_buf_add(out, &h, sizeof(h));
	lfs_buf_add(out, r->points.data, r->points.len);
	lfs_zst_reader_add_point(r, lfs_zst_reader_pos(r), r->total_out);
	lfs_buf_add(out, r->points.data + r->points.len - sizeof(struct lfs_zst_point),
		    sizeof(struct lfs_zst_point));
	return 0;
}

void lfs_zst_reader_free(lfs_zst_reader *r)
{
	if (!r)
		return;
	ZSTD_freeDStream(r->ds);
	lfs_buf_release(&r->points);
	lfs_buf_release(&r->msg);
	free(r->inbuf);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Random access                                                       */
/* ------------------------------------------------------------------ */

struct lfs_zst_slot {
	uint32_t frame;
	bool loading; /* a thread is decompressing it; data is NULL */
	size_t len;
	uint64_t stamp; /* 0: free */
	unsigned char *data;
};

struct lfs_zst_dctx {
	ZSTD_DCtx *dc;
	struct lfs_zst_dctx *next;
};

struct lfs_zst_index {
	const unsigned char *points; /* count + 1 serialised points */
	uint32_t count;
	uint32_t access;
	uint64_t total_out;
	pthread_mutex_t lock;	   /* guards everything below */
	pthread_cond_t loaded;	   /* a loading slot finished (or failed) */
	struct lfs_zst_dctx *idle; /* decompression contexts not in use */
	unsigned nidle;
	size_t cached; /* bytes held by ready slots */
	uint64_t clock;
	struct lfs_zst_slot slots[LFS_ZST_NSLOTS];
};

static void lfs_zst_point_get(const lfs_zst_index *zi, uint32_t i, struct lfs_zst_point *p)
{
	memcpy(p, zi->points + (size_t)i * sizeof(*p), sizeof(*p));
}

static int lfs_zst_points_check(const unsigned char *pts, uint32_t count, uint64_t total,
				uint32_t access)
{
	struct lfs_zst_point p, prev;

	for (uint32_t i = 0; i <= count; i++) {
		memcpy(&p, pts + (size_t)i * sizeof(p), sizeof(p));
		if (i == 0 && p.out != 0)
			return -EBADMSG;
		if (i > 0 && (p.in <= prev.in || p.out <= prev.out))
			return -EBADMSG;
		if (i > 0 && access == LFS_ZST_FRAMES &&
		    (p.out - prev.out > LFS_ZST_MAX_FRAME || p.in - prev.in > LFS_ZST_MAX_RANGE))
			return -EBADMSG;
		prev = p;
	}
	return prev.out == total ? 0 : -EBADMSG;
}

int lfs_zst_index_open(const void *data, size_t len, lfs_zst_index **out)
{
	struct lfs_zst_hdr h;
	lfs_zst_index *zi;
	int ret;

	if (!data || len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, data, sizeof(h));
	if (memcmp(h.magic, LFS_ZST_MAGIC, sizeof(h.magic)) || h.version != LFS_ZST_VERSION ||
	    h.count == 0 || h.count >= UINT32_MAX ||
	    (h.access != LFS_ZST_FRAMES && h.access != LFS_ZST_COPY) ||
	    (len - sizeof(h)) / sizeof(struct lfs_zst_point) != (size_t)h.count + 1 ||
	    (len - sizeof(h)) % sizeof(struct lfs_zst_point))
		return -EBADMSG;
	ret = lfs_zst_points_check((const unsigned char *)data + sizeof(h), h.count, h.total_out,
				   h.access);
	if (ret < 0 && !(h.total_out == 0 && h.count == 1))
		return ret;
	zi = lfs_xcalloc(1, sizeof(*zi));
	zi->points = (const unsigned char *)data + sizeof(h);
	zi->count = h.count;
	zi->access = h.access;
	zi->total_out = h.total_out;
	pthread_mutex_init(&zi->lock, NULL);
	pthread_cond_init(&zi->loaded, NULL);
	*out = zi;
	return 0;
}

enum lfs_zst_access lfs_zst_index_access(const lfs_zst_index *zi)
{
	return (enum lfs_zst_access)zi->access;
}

uint32_t lfs_zst_index_frames(const lfs_zst_index *zi)
{
	return zi->count;
}

uint32_t lfs_zst_index_find(const lfs_zst_index *zi, uint64_t off, uint64_t *in, uint64_t *out)
{
	uint32_t lo = 0, hi = zi->count, mid;
	struct lfs_zst_point p;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		lfs_zst_point_get(zi, mid, &p);
		if (p.out <= off)
			lo = mid;
		else
			hi = mid;
	}
	lfs_zst_point_get(zi, lo, &p);
	*in = p.in;
	*out = p.out;
	return lo;
}

void lfs_zst_index_free(lfs_zst_index *zi)
{
	struct lfs_zst_dctx *d;

	if (!zi)
		return;
	while ((d = zi->idle)) {
		zi->idle = d->next;
		ZSTD_freeDCtx(d->dc);
		free(d);
	}
	for (int i = 0; i < LFS_ZST_NSLOTS; i++)
		free(zi->slots[i].data);
	pthread_mutex_destroy(&zi->lock);
	pthread_cond_destroy(&zi->loaded);
	free(zi);
}

static int lfs_zst_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	while (len) {
		n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO; /* the file is shorter than its table says */
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* --- Decompressing one frame (no lock held). --- */

static struct lfs_zst_dctx *lfs_zst_dctx_take(lfs_zst_index *zi)
{
	struct lfs_zst_dctx *d;

	pthread_mutex_lock(&zi->lock);
	d = zi->idle;
	if (d) {
		zi->idle = d->next;
		zi->nidle--;
	}
	pthread_mutex_unlock(&zi->lock);
	if (d)
		return d;
	d = lfs_xcalloc(1, sizeof(*d));
	d->dc = ZSTD_createDCtx();
	if (!d->dc) {
		free(d);
		return NULL;
	}
	return d;
}

static void lfs_zst_dctx_put(lfs_zst_index *zi, struct lfs_zst_dctx *d)
{
	pthread_mutex_lock(&zi->lock);
	if (zi->nidle < LFS_ZST_IDLE_MAX) {
		d->next = zi->idle;
		zi->idle = d;
		zi->nidle++;
		d = NULL;
	}
	pthread_mutex_unlock(&zi->lock);
	if (d) {
		ZSTD_freeDCtx(d->dc);
		free(d);
	}
}

/* Decompresses frame f into *data (its exact output length in *len). */
static int lfs_zst_load(lfs_zst_index *zi, int fd, uint32_t f, unsigned char **data, size_t *len)
{
	struct lfs_zst_point a, b;
	struct lfs_zst_dctx *d;
	unsigned char *src;
	size_t got;
	int ret;

	lfs_zst_point_get(zi, f, &a);
	lfs_zst_point_get(zi, f + 1, &b);
	*len = (size_t)(b.out - a.out);
	src = lfs_xmalloc((size_t)(b.in - a.in));
	*data = lfs_xmalloc(*len);
	ret = lfs_zst_pread_full(fd, src, (size_t)(b.in - a.in), a.in);
	d = ret == 0 ? lfs_zst_dctx_take(zi) : NULL;
	if (ret == 0 && !d)
		ret = -ENOMEM;
	if (ret == 0) {
		got = ZSTD_decompressDCtx(d->dc, *data, *len, src, (size_t)(b.in - a.in));
		if (ZSTD_isError(got) || got != *len)
			ret = -EIO;
		lfs_zst_dctx_put(zi, d);
	}
	free(src);
	if (ret < 0) {
		free(*data);
		*data = NULL;
	}
	return ret;
}

/* --- The shared cache (under zi->lock). --- */

static struct lfs_zst_slot *lfs_zst_slot_find(lfs_zst_index *zi, uint32_t f)
{
	for (int i = 0; i < LFS_ZST_NSLOTS; i++)
		if (zi->slots[i].stamp && zi->slots[i].frame == f)
			return &zi->slots[i];
	return NULL;
}

static void lfs_zst_slot_drop(lfs_zst_index *zi, struct lfs_zst_slot *s)
{
	zi->cached -= s->len;
	free(s->data);
	memset(s, 0, sizeof(*s));
}

/* The least recently used slot holding a frame (not one being loaded);
 * with free_first, a free slot before any of those.  NULL if none. */
static struct lfs_zst_slot *lfs_zst_slot_victim(lfs_zst_index *zi, bool free_first)
{
	struct lfs_zst_slot *v = NULL;

	for (int i = 0; i < LFS_ZST_NSLOTS; i++) {
		struct lfs_zst_slot *s = &zi->slots[i];
		if (!s->stamp && free_first)
			return s;
		if (s->stamp && !s->loading && (!v || s->stamp < v->stamp))
			v = s;
	}
	return v;
}

/* Claims a slot for frame f as loading (room is made once its size is
 * known); NULL when every slot is loading (the caller then waits). */
static struct lfs_zst_slot *lfs_zst_slot_claim(lfs_zst_index *zi, uint32_t f)
{
	struct lfs_zst_slot *s = lfs_zst_slot_victim(zi, true);

	if (!s)
		return NULL;
	if (s->stamp)
		lfs_zst_slot_drop(zi, s);
	s->frame = f;
	s->loading = true;
	s->stamp = ++zi->clock;
	return s;
}

/* Publishes a loaded frame in s, evicting others beyond the budget. */
static void lfs_zst_slot_fill(lfs_zst_index *zi, struct lfs_zst_slot *s, unsigned char *data,
			      size_t len)
{
	struct lfs_zst_slot *v;

	while (zi->cached && zi->cached + len > LFS_ZST_CACHE_BYTES) {
		v = lfs_zst_slot_victim(zi, false);
		if (!v)
			break;
		lfs_zst_slot_drop(zi, v);
	}
	s->data = data;
	s->len = len;
	s->loading = false;
	zi->cached += len;
}

/* Copies from frame f (starting at uncompressed fout) the bytes of
 * [off, off + len) it holds; returns how many, or -errno. */
static ssize_t lfs_zst_pread_frame(lfs_zst_index *zi, int fd, uint32_t f, uint64_t fout, void *dst,
				   size_t len, uint64_t off)
{
	struct lfs_zst_slot *s;
	unsigned char *data;
	size_t flen, n;
	int ret;

	pthread_mutex_lock(&zi->lock);
	for (;;) {
		s = lfs_zst_slot_find(zi, f);
		if (s && !s->loading) {
			s->stamp = ++zi->clock;
			n = s->len - (size_t)(off - fout) < len ? s->len - (size_t)(off - fout)
								: len;
			memcpy(dst, s->data + (off - fout), n);
			pthread_mutex_unlock(&zi->lock);
			return (ssize_t)n;
		}
		if (!s && (s = lfs_zst_slot_claim(zi, f)))
			break;
		pthread_cond_wait(&zi->loaded, &zi->lock);
	}
	pthread_mutex_unlock(&zi->lock);
	ret = lfs_zst_load(zi, fd, f, &data, &flen);
	pthread_mutex_lock(&zi->lock);
	if (ret < 0) {
		memset(s, 0, sizeof(*s));
	} else {
		n = flen - (size_t)(off - fout) < len ? flen - (size_t)(off - fout) : len;
		memcpy(dst, data + (off - fout), n);
		lfs_zst_slot_fill(zi, s, data, flen);
	}
	pthread_cond_broadcast(&zi->loaded);
	pthread_mutex_unlock(&zi->lock);
	return ret < 0 ? ret : (ssize_t)n;
}

ssize_t lfs_zst_pread(lfs_zst_index *zi, int fd, void *buf, size_t len, uint64_t off)
{
	uint64_t in, fout;
	size_t done = 0;
	ssize_t n;
	uint32_t f;

	if (zi->access != LFS_ZST_FRAMES)
		return -EINVAL;
	if (off >= zi->total_out)
		return 0;
	if (len > zi->total_out - off)
		len = (size_t)(zi->total_out - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (done < len) {
		f = lfs_zst_index_find(zi, off + done, &in, &fout);
		n = lfs_zst_pread_frame(zi, fd, f, fout, (unsigned char *)buf + done, len - done,
					off + done);
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}
