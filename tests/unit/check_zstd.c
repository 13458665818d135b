/* Unit tests for fs/zst.c (the frame-recording reader and random access by
 * frame) and for zstd layers in fs/layer.c (by frame, or through the
 * decompressed copy).
 *
 * Streams are made here with libzstd's compressor, frame by frame, so the
 * test knows where every frame starts; every read is compared with the data
 * the stream was made from, never with the module's own output.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "buf.h"
#include "testlib.h"
#include "zst.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* Text-like data with some incompressible runs. */
static unsigned char *gen_data(size_t n, uint64_t seed)
{
	static const char *words[] = {"layer ", "tar ", "zstd ", "frame ", "/usr/lib/", "\n"};
	unsigned char *p = lfs_xmalloc(n ? n : 1);
	size_t i = 0;

	while (i < n) {
		uint64_t r = rng_next(&seed);
		if (r % 7 == 0) {
			for (int k = 0; k < 64 && i < n; k++)
				p[i++] = (unsigned char)(rng_next(&seed) >> 56);
			continue;
		}
		for (const char *w = words[r % 6]; *w && i < n; w++)
			p[i++] = (unsigned char)*w;
	}
	return p;
}

/* Where the test put a frame. */
struct frame {
	uint64_t in, out;
};

static void add_frame(lfs_buf *z, const unsigned char *data, size_t n, int level)
{
	size_t bound = ZSTD_compressBound(n);
	unsigned char *dst = lfs_buf_zalloc(z, bound);
	size_t got = ZSTD_compress(dst, bound, data, n, level);

	ck_assert(!ZSTD_isError(got));
	lfs_buf_setlen(z, z->len - bound + got);
}

static void add_skippable(lfs_buf *z, size_t n)
{
	uint32_t magic = 0x184D2A50, len = (uint32_t)n;

	lfs_buf_add(z, &magic, 4); /* little-endian host */
	lfs_buf_add(z, &len, 4);
	memset(lfs_buf_zalloc(z, n), 0xab, n);
}

/* Compresses data as frames of the given sizes (0-sized entries make
 * empty frames; size (size_t)-1 a skippable frame); fills fr[] with the
 * starts of the frames that produce output. */
static size_t make_frames(lfs_buf *z, const unsigned char *data, const size_t *sizes, size_t n,
			  struct frame *fr)
{
	size_t pos = 0, nf = 0;

	for (size_t i = 0; i < n; i++) {
		if (sizes[i] == (size_t)-1) {
			add_skippable(z, 100);
			continue;
		}
		if (sizes[i]) {
			fr[nf].in = z->len;
			fr[nf].out = pos;
			nf++;
		}
		add_frame(z, data + pos, sizes[i], (int)(i % 5) + 1);
		pos += sizes[i];
	}
	return nf;
}

static int mem_file(const void *p, size_t n)
{
	int fd = memfd_create("zst-test", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Reads the whole stream on fd, compares it with want, returns the table. */
static void read_all(int fd, const unsigned char *want, size_t n, lfs_buf *table)
{
	lfs_zst_reader *r;
	unsigned char *got = lfs_xmalloc(n + 1);
	size_t have = 0;
	ssize_t k;

	ck_assert_int_eq(lfs_zst_reader_new(fd, &r), 0);
	while ((k = lfs_zst_reader_read(r, got + have, (have * 7 + 4093) % 300000 + 1)) > 0) {
		have += (size_t)k;
		ck_assert_uint_le(have, n);
	}
	ck_assert_msg(k == 0, "read: %zd %s", k, lfs_zst_reader_error(r));
	ck_assert_uint_eq(have, n);
	ck_assert(memcmp(got, want, n) == 0);
	ck_assert_int_eq(lfs_zst_reader_finish(r, table), 0);
	lfs_zst_reader_free(r);
	free(got);
}

/* A stream made by the test, read once through lfs_zst_reader (checked
 * against the data) and its frame table opened. */
struct stream {
	unsigned char *data;
	size_t n;
	lfs_buf z, table;
	int fd;
	lfs_zst_index *zi;
};

static void stream_init(struct stream *st, size_t n, uint64_t seed)
{
	memset(st, 0, sizeof(*st));
	st->data = gen_data(n, seed);
	st->n = n;
	lfs_buf_init(&st->z, 0);
	lfs_buf_init(&st->table, 0);
	st->fd = -1;
}

/* Once the frames are in st->z. */
static void stream_open(struct stream *st)
{
	st->fd = mem_file(st->z.data, st->z.len);
	read_all(st->fd, st->data, st->n, &st->table);
	ck_assert_int_eq(lfs_zst_index_open(st->table.data, st->table.len, &st->zi), 0);
}

static void stream_release(struct stream *st)
{
	lfs_zst_index_free(st->zi);
	if (st->fd >= 0)
		close(st->fd);
	free(st->data);
	lfs_buf_release(&st->z);
	lfs_buf_release(&st->table);
}

START_TEST(test_frame_lookup)
{
	size_t sizes[] = {70000, 0, 123456, (size_t)-1, 1, 4096, 0, (size_t)-1, 999999, 3, 65536};
	size_t n = 0, ns = sizeof(sizes) / sizeof(sizes[0]);
	struct frame fr[16];
	struct stream st;
	uint64_t in, out;

	for (size_t i = 0; i < ns; i++)
		n += sizes[i] == (size_t)-1 ? 0 : sizes[i];
	stream_init(&st, n, 7);
	size_t nf = make_frames(&st.z, st.data, sizes, ns, fr);
	stream_open(&st);
	ck_assert_uint_eq(lfs_zst_index_frames(st.zi), nf);
	ck_assert_int_eq(lfs_zst_index_access(st.zi), LFS_ZST_FRAMES);
	for (size_t f = 0; f < nf; f++) {
		uint64_t end = f + 1 < nf ? fr[f + 1].out : n;
		uint64_t probes[] = {fr[f].out, (fr[f].out + end) / 2, end - 1};
		for (int p = 0; p < 3; p++) {
			ck_assert_uint_eq(lfs_zst_index_find(st.zi, probes[p], &in, &out), f);
			ck_assert_uint_eq(in, fr[f].in);
			ck_assert_uint_eq(out, fr[f].out);
		}
	}
	stream_release(&st);
}
END_TEST

/* Many frames: random reads of random lengths (crossing frames) equal the data. */
START_TEST(test_random_reads)
{
	enum { NFRAMES = 300 };
	size_t sizes[NFRAMES], n = 0;
	uint64_t seed = 99;
	struct frame fr[NFRAMES];
	struct stream st;

	for (int i = 0; i < NFRAMES; i++)
		n += sizes[i] = rng_next(&seed) % (200 * KiB) + 1;
	stream_init(&st, n, 3);
	make_frames(&st.z, st.data, sizes, NFRAMES, fr);
	stream_open(&st);
	unsigned char *buf = lfs_xmalloc(600 * KiB);
	for (int i = 0; i < 2000; i++) {
		uint64_t off = rng_next(&seed) % (n + 10);
		size_t len = rng_next(&seed) % (i % 10 ? 9000 : 600 * KiB) + 1;
		ssize_t got = lfs_zst_pread(st.zi, st.fd, buf, len, off);
		size_t want = off >= n ? 0 : (n - off < len ? n - off : len);
		ck_assert_int_eq(got, (ssize_t)want);
		ck_assert_msg(memcmp(buf, st.data + (off < n ? off : 0), want) == 0,
			      "%zu bytes at %llu differ", len, (unsigned long long)off);
	}
	free(buf);
	stream_release(&st);
}
END_TEST

struct worker {
	const struct stream *st;
	uint64_t seed;
	int bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct stream *st = w->st;
	unsigned char buf[70000];

	for (int i = 0; i < 400; i++) {
		uint64_t off = rng_next(&w->seed) % st->n;
		size_t len = rng_next(&w->seed) % sizeof(buf) + 1;
		size_t want = st->n - off < len ? st->n - off : len;
		if (lfs_zst_pread(st->zi, st->fd, buf, len, off) != (ssize_t)want ||
		    memcmp(buf, st->data + off, want))
			w->bad++;
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	enum { NFRAMES = 64, NT = 6 };
	size_t sizes[NFRAMES], n = 0;
	struct frame fr[NFRAMES];
	struct stream st;
	pthread_t t[NT];
	struct worker w[NT];

	for (int i = 0; i < NFRAMES; i++)
		n += sizes[i] = (size_t)(i % 7 + 1) * 150 * KiB;
	stream_init(&st, n, 5);
	make_frames(&st.z, st.data, sizes, NFRAMES, fr);
	stream_open(&st);
	for (int i = 0; i < NT; i++) {
		w[i] = (struct worker){&st, (uint64_t)i * 77 + 1, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].bad, 0);
	}
	stream_release(&st);
}
END_TEST

/* One frame larger than LFS_ZST_MAX_FRAME: the layer needs a copy. */
START_TEST(test_single_large_frame)
{
	struct stream st;
	unsigned char b[16];

	stream_init(&st, LFS_ZST_MAX_FRAME + 12345, 11);
	add_frame(&st.z, st.data, st.n, 3);
	stream_open(&st);
	ck_assert_int_eq(lfs_zst_index_access(st.zi), LFS_ZST_COPY);
	ck_assert_uint_eq(lfs_zst_index_frames(st.zi), 1);
	ck_assert_int_eq(lfs_zst_pread(st.zi, st.fd, b, sizeof(b), 0), -EINVAL);
	stream_release(&st);
}
END_TEST

/* Tiny reads: the decoder consumes all input long before its output is
 * taken, so the end of the file comes while it still buffers output. */
START_TEST(test_tiny_reads)
{
	size_t n = 400000, have = 0;
	unsigned char *data = gen_data(n, 29), *got = lfs_xmalloc(n + 8);
	lfs_buf z = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_zst_reader *r;
	ssize_t k;

	memset(data + 1000, 'x', 300000); /* compresses to almost nothing */
	add_frame(&z, data, n, 19);
	int fd = mem_file(z.data, z.len);
	ck_assert_int_eq(lfs_zst_reader_new(fd, &r), 0);
	while ((k = lfs_zst_reader_read(r, got + have, have % 7 + 1)) > 0)
		have += (size_t)k;
	ck_assert_msg(k == 0, "read: %zd %s", k, lfs_zst_reader_error(r));
	ck_assert_uint_eq(have, n);
	ck_assert(memcmp(got, data, n) == 0);
	ck_assert_int_eq(lfs_zst_reader_finish(r, &table), 0);
	lfs_zst_reader_free(r);
	close(fd);
	free(data);
	free(got);
	lfs_buf_release(&z);
	lfs_buf_release(&table);
}
END_TEST

/* Runs the reader to its end or first error; returns that. */
static ssize_t drain(int fd, lfs_zst_reader **r)
{
	static unsigned char buf[64 * 1024];
	ssize_t k;

	ck_assert_int_eq(lfs_zst_reader_new(fd, r), 0);
	while ((k = lfs_zst_reader_read(*r, buf, sizeof(buf))) > 0)
		;
	return k;
}

START_TEST(test_truncated_and_corrupt)
{
	size_t sizes[] = {300000, 300000};
	struct frame fr[2];
	lfs_buf z = LFS_BUF_INIT;
	unsigned char *data = gen_data(600000, 13);
	lfs_zst_reader *r;
	char want[80];

	make_frames(&z, data, sizes, 2, fr);
	/* Cut inside the second frame. */
	int fd = mem_file(z.data, fr[1].in + 50);
	ck_assert_int_eq(drain(fd, &r), -EIO);
	snprintf(want, sizeof(want), "truncated at compressed offset %llu",
		 (unsigned long long)fr[1].in + 50);
	ck_assert_msg(strstr(lfs_zst_reader_error(r), want), "%s", lfs_zst_reader_error(r));
	lfs_zst_reader_free(r);
	close(fd);
	/* A broken frame header: the error names where the frame starts. */
	z.data[fr[1].in + 4] = (char)0xff;
	z.data[fr[1].in + 5] = (char)0xff;
	fd = mem_file(z.data, z.len);
	ck_assert_int_eq(drain(fd, &r), -EIO);
	ck_assert_msg(strstr(lfs_zst_reader_error(r), "zstd data corrupt at compressed offset"),
		      "%s", lfs_zst_reader_error(r));
	lfs_zst_reader_free(r);
	close(fd);
	free(data);
	lfs_buf_release(&z);
}
END_TEST

/* A table that lies (offsets not increasing, bad sizes) is refused. */
START_TEST(test_table_corrupt)
{
	size_t sizes[] = {1000, 2000, 3000};
	struct frame fr[3];
	struct stream st;
	lfs_zst_index *zi;

	stream_init(&st, 6000, 17);
	make_frames(&st.z, st.data, sizes, 3, fr);
	stream_open(&st);
	ck_assert_int_eq(lfs_zst_index_open(st.table.data, st.table.len - 1, &zi), -EBADMSG);
	ck_assert_int_eq(lfs_zst_index_open(st.table.data, 16, &zi), -EBADMSG);
	/* Point 1's out (header 32 bytes, point 16 bytes, out at +8) made 0. */
	uint64_t zero = 0;
	memcpy(st.table.data + 32 + 16 + 8, &zero, 8);
	ck_assert_int_eq(lfs_zst_index_open(st.table.data, st.table.len, &zi), -EBADMSG);
	stream_release(&st);
}
END_TEST

/* The stream may start at an offset of fd (and come from a pipe). */
START_TEST(test_pipe_reader)
{
	size_t sizes[] = {5000, 7000};
	struct frame fr[2];
	lfs_buf z = LFS_BUF_INIT, table = LFS_BUF_INIT;
	unsigned char *data = gen_data(12000, 19);
	int p[2];

	make_frames(&z, data, sizes, 2, fr);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], z.data, z.len), (ssize_t)z.len);
	close(p[1]);
	read_all(p[0], data, 12000, &table);
	close(p[0]);
	free(data);
	lfs_buf_release(&z);
	lfs_buf_release(&table);
}
END_TEST

/* --- zstd layers through lfs_layer. --- */

static void compress_file(const char *tar, const char *out, size_t frame)
{
	int fd = open(tar, O_RDONLY | O_CLOEXEC);
	struct stat st;
	lfs_buf z = LFS_BUF_INIT;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	unsigned char *d = lfs_xmalloc((size_t)st.st_size);
	ck_assert_int_eq(read(fd, d, (size_t)st.st_size), st.st_size);
	close(fd);
	for (size_t pos = 0; pos < (size_t)st.st_size; pos += frame)
		add_frame(&z, d + pos,
			  (size_t)st.st_size - pos < frame ? (size_t)st.st_size - pos : frame, 3);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_eq(write(fd, z.data, z.len), (ssize_t)z.len);
	close(fd);
	free(d);
	lfs_buf_release(&z);
}

static char *big_file(size_t n)
{
	unsigned char *d = gen_data(n, 23);
	char *s = lfs_xmalloc(n + 1);
	memcpy(s, d, n);
	s[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i])
			s[i] = 'z'; /* a C string for struct tmember */
	free(d);
	return s;
}

/* Opens the zstd layer twice (indexing with the copy in one pass, then
 * from the index and copy), checking f's bytes each time. */
static void check_layer(size_t frame, const char *want_access)
{
	size_t n = 6 * MiB + 77;
	char *big = big_file(n);
	struct tmember m[] = {{'d', "d", 0, NULL, 0, 0, NULL},
			      {'f', "d/big", 0, big, 0, 0, NULL},
			      {'f', "d/small", 0, "hello\n", 0, 0, NULL}};
	char *tar = t_tar(m, 3), *zst, *idx, *copy, *err = NULL;
	ck_assert_int_ge(asprintf(&zst, "%s.zst", tar), 0);
	ck_assert_int_ge(asprintf(&idx, "%s.idx", zst), 0);
	ck_assert_int_ge(asprintf(&copy, "%s.tar", idx), 0);
	compress_file(tar, zst, frame);
	for (int pass = 0; pass < 3; pass++) {
		lfs_layer *l = NULL;
		if (pass == 2)
			unlink(copy); /* made again on open */
		ck_assert_msg(lfs_layer_open(zst, idx, 0, &l, &err) == 0, "%s", err ? err : "");
		ck_assert_str_eq(lfs_index_access_name(lfs_layer_index(l)), want_access);
		ck_assert_str_eq(lfs_index_compression_name(lfs_layer_index(l)), "zstd");
		ck_assert_int_eq(access(copy, F_OK) == 0,
				 !strcmp(want_access, "decompressed-copy"));
		uint32_t e = lfs_index_lookup(lfs_layer_index(l), "d/big");
		const struct lfs_entry *ent = lfs_index_entry(lfs_layer_index(l), e);
		char *buf = lfs_xmalloc(n);
		for (size_t off = 0; off < n; off += 1000003) {
			size_t len = n - off < 300000 ? n - off : 300000;
			ck_assert_int_eq(lfs_layer_pread(l, ent, buf, len, off), (ssize_t)len);
			ck_assert(memcmp(buf, big + off, len) == 0);
		}
		e = lfs_index_lookup(lfs_layer_index(l), "d/small");
		ent = lfs_index_entry(lfs_layer_index(l), e);
		ck_assert_int_eq(lfs_layer_pread(l, ent, buf, 100, 0), 6);
		ck_assert(memcmp(buf, "hello\n", 6) == 0);
		free(buf);
		lfs_layer_free(l);
	}
	free(big);
	free(tar);
	free(zst);
	free(idx);
	free(copy);
}

START_TEST(test_layer_frames)
{
	check_layer(512 * KiB, "frames");
}
END_TEST

START_TEST(test_layer_copy)
{
	check_layer(64 * MiB, "decompressed-copy");
}
END_TEST

static Suite *zstd_suite(void)
{
	Suite *s = suite_create("zstd");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_frame_lookup);
	tcase_add_test(tc, test_random_reads);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_single_large_frame);
	tcase_add_test(tc, test_tiny_reads);
	tcase_add_test(tc, test_truncated_and_corrupt);
	tcase_add_test(tc, test_table_corrupt);
	tcase_add_test(tc, test_pipe_reader);
	tcase_add_test(tc, test_layer_frames);
	tcase_add_test(tc, test_layer_copy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zstd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
