/* Unit tests for fs/gz.c: the checkpointing reader and random access.
 *
 * Every read is compared with the data the gzip stream was made from (by
 * zlib here or by /bin/gzip), never with the module's own output.  A few
 * tests poke at the serialised table (documented at the top of gz.c) to
 * place corruption exactly at a deflate block header.
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
#include <zlib.h>

#include "buf.h"
#include "gz.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* --- Data and gzip streams. --- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static unsigned char *gen_random(size_t n, uint64_t seed)
{
	unsigned char *p = lfs_xmalloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(rng_next(&seed) >> 56);
	return p;
}

/* Text-like data: compresses about 3-4x, with long-distance matches. */
static unsigned char *gen_text(size_t n, uint64_t seed)
{
	static const char *words[] = {"layer ",	     "tar ",	  "gzip ",    "inode ",
				      "fuse ",	     "/usr/lib/", "\n",	      "0x",
				      "checkpoint ", "window ",	  "deflate ", "block "};
	unsigned char *p = lfs_xmalloc(n);
	size_t i = 0, k;
	const char *w;

	while (i < n) {
		uint64_t r = rng_next(&seed);
		w = words[r % 12];
		if ((r >> 8) % 5 == 0) {
			p[i++] = (unsigned char)('0' + (r >> 16) % 10);
			continue;
		}
		for (k = 0; w[k] && i < n; k++)
			p[i++] = (unsigned char)w[k];
	}
	return p;
}

/* Appends one gzip member of data to out; flush_every > 0 inserts full
 * flushes (empty stored blocks) every that many input bytes. */
static void gz_member(lfs_buf *out, const unsigned char *data, size_t n, int level,
		      size_t flush_every)
{
	z_stream zs;
	size_t pos = 0, step;
	int ret;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	lfs_buf_grow(out, deflateBound(&zs, n) + (flush_every ? n / flush_every + 1 : 1) * 16 + 64);
	zs.next_out = (unsigned char *)out->data + out->len;
	zs.avail_out = (uInt)(out->alloc - out->len - 1);
	do {
		step = flush_every && flush_every < n - pos ? flush_every : n - pos;
		zs.next_in = (unsigned char *)data + pos;
		zs.avail_in = (uInt)step;
		pos += step;
		ret = deflate(&zs, pos == n ? Z_FINISH : Z_FULL_FLUSH);
		ck_assert(ret == Z_OK || ret == Z_STREAM_END);
		ck_assert_uint_eq(zs.avail_in, 0);
	} while (pos < n);
	ck_assert_int_eq(ret, Z_STREAM_END);
	lfs_buf_setlen(out, out->len + zs.total_out);
	deflateEnd(&zs);
}

static void write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		ck_assert_int_gt(w, 0);
		p += w;
		n -= (size_t)w;
	}
}

static int memfd_with(const void *data, size_t n)
{
	int fd = memfd_create("check_gz", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	write_all(fd, data, n);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void read_file(const char *path, lfs_buf *out)
{
	char tmp[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		lfs_buf_add(out, tmp, (size_t)n);
	ck_assert_int_eq(n, 0);
	close(fd);
}

/* Appends the output of /bin/gzip -<level> on data to out. */
static void gzip_cmd(lfs_buf *out, const unsigned char *data, size_t n, int level)
{
	char dir[] = "/tmp/check_gz.XXXXXX";
	lfs_buf in = LFS_BUF_INIT, gz = LFS_BUF_INIT, cmd = LFS_BUF_INIT;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	lfs_buf_addf(&in, "%s/in", dir);
	lfs_buf_addf(&gz, "%s/in.gz", dir);
	fd = open(in.data, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	write_all(fd, data, n);
	close(fd);
	lfs_buf_addf(&cmd, "/bin/gzip -%d -n '%s'", level, in.data);
	ck_assert_int_eq(system(cmd.data), 0);
	read_file(gz.data, out);
	unlink(gz.data);
	rmdir(dir);
	lfs_buf_release(&in);
	lfs_buf_release(&gz);
	lfs_buf_release(&cmd);
}

/* --- Building and checking an index. --- */

/* Reads the whole stream on fd (from its offset) in pieces of varying
 * size, compares with expect, and stores the serialised table. */
static void build(int fd, uint64_t span, const unsigned char *expect, size_t n, lfs_buf *table)
{
	static const size_t sizes[] = {1, 7, 4096, 65536, 131072, 1000003};
	unsigned char *got = lfs_xmalloc(n + 1);
	lfs_gz_reader *r;
	size_t pos = 0, i = 0;
	ssize_t k;

	ck_assert_int_eq(lfs_gz_reader_new(fd, span, &r), 0);
	while ((k = lfs_gz_reader_read(
		    r, got + pos, n + 1 - pos < sizes[i % 6] ? n + 1 - pos : sizes[i % 6])) > 0) {
		pos += (size_t)k;
		i++;
		ck_assert_uint_le(pos, n);
	}
	ck_assert_msg(k == 0, "reader failed: %s", lfs_gz_reader_error(r));
	ck_assert_uint_eq(pos, n);
	ck_assert_uint_eq(lfs_gz_reader_total_out(r), n);
	ck_assert(memcmp(got, expect, n) == 0);
	ck_assert_int_eq(lfs_gz_reader_read(r, got, 10), 0);
	ck_assert_int_eq(lfs_gz_reader_finish(r, table), 0);
	lfs_gz_reader_free(r);
	free(got);
}

/* Number of checkpoints in a table (its header: magic[8], u32 version, u32 count). */
static uint32_t table_count(const lfs_buf *table)
{
	uint32_t c;

	memcpy(&c, table->data + 12, sizeof(c));
	return c;
}

static void check_range(lfs_gz_index *gi, int fd, const unsigned char *expect, size_t n,
			uint64_t off, size_t len)
{
	unsigned char *buf = lfs_xmalloc(len + 1);
	size_t want = off >= n ? 0 : (len < n - off ? len : n - off);
	ssize_t got = lfs_gz_pread(gi, fd, buf, len, off);

	ck_assert_msg(got == (ssize_t)want, "pread(%zu @ %llu) = %zd, want %zu", len,
		      (unsigned long long)off, got, want);
	ck_assert_msg(!want || memcmp(buf, expect + off, want) == 0,
		      "pread(%zu @ %llu) data differs", len, (unsigned long long)off);
	free(buf);
}

static void check_random(lfs_gz_index *gi, int fd, const unsigned char *expect, size_t n, int count,
			 uint64_t seed)
{
	uint64_t off;
	size_t len;
	int i;

	for (i = 0; i < count; i++) {
		off = rng_next(&seed) % (n + 1);
		len = rng_next(&seed) % (i % 4 == 0 ? 400 * KiB : 5000);
		check_range(gi, fd, expect, n, off, len);
	}
}

static void check_edges(lfs_gz_index *gi, int fd, const unsigned char *expect, size_t n)
{
	check_range(gi, fd, expect, n, 0, n + 100);
	check_range(gi, fd, expect, n, 0, 1);
	check_range(gi, fd, expect, n, n ? n - 1 : 0, 1);
	check_range(gi, fd, expect, n, n ? n - 1 : 0, 4096);
	check_range(gi, fd, expect, n, n, 4096);
	check_range(gi, fd, expect, n, (uint64_t)n + 12345, 4096);
	check_range(gi, fd, expect, n, UINT64_MAX - 10, 4096);
	check_range(gi, fd, expect, n, n / 2, 0);
}

static void check_sequential(lfs_gz_index *gi, int fd, const unsigned char *expect, size_t n,
			     uint64_t start, size_t step)
{
	uint64_t off;

	for (off = start; off < n; off += step)
		check_range(gi, fd, expect, n, off, step);
}

/* Builds, opens and checks everything on one stream of data. */
static void roundtrip(const lfs_buf *gz, const unsigned char *data, size_t n, uint64_t span,
		      uint32_t min_points)
{
	lfs_buf table = LFS_BUF_INIT;
	lfs_gz_index *gi;
	int fd = memfd_with(gz->data, gz->len);

	build(fd, span, data, n, &table);
	ck_assert_uint_ge(table_count(&table), min_points);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	check_edges(gi, fd, data, n);
	check_random(gi, fd, data, n, 300, n ^ span);
	check_sequential(gi, fd, data, n, 0, 128 * KiB);
	check_sequential(gi, fd, data, n, 4096 + 17, 100 * KiB);
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	close(fd);
}

/* --- Tests. --- */

START_TEST(test_compressible)
{
	size_t n = 6 * MiB;
	unsigned char *data = gen_text(n, 1);
	lfs_buf gz = LFS_BUF_INIT;

	gz_member(&gz, data, n, 6, 0);
	roundtrip(&gz, data, n, 64 * KiB, 20);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

START_TEST(test_random_data)
{
	size_t n = 4 * MiB + 123;
	unsigned char *data = gen_random(n, 2);
	lfs_buf gz = LFS_BUF_INIT;

	gz_member(&gz, data, n, 6, 0);
	roundtrip(&gz, data, n, 64 * KiB, 20);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

START_TEST(test_gzip_levels)
{
	static const int levels[] = {1, 9};
	size_t n = 5 * MiB + 7;
	unsigned char *data = gen_text(n, 3);
	lfs_buf gz = LFS_BUF_INIT;

	gzip_cmd(&gz, data, n, levels[_i]);
	ck_assert_uint_eq((unsigned char)gz.data[0], 0x1f);
	roundtrip(&gz, data, n, 64 * KiB, 10);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

/* Members of several kinds, including an empty one in the middle and at
 * the end; reads across every boundary. */
START_TEST(test_multi_member)
{
	size_t sizes[] = {3 * MiB + 5, MiB, 0, 2 * MiB, 70000, 0};
	size_t n = 0, i, b;
	unsigned char *data, *text, *rnd;
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_gz_index *gi;
	int fd;

	for (i = 0; i < 6; i++)
		n += sizes[i];
	text = gen_text(n, 4);
	rnd = gen_random(n, 5);
	data = lfs_xmalloc(n);
	for (i = 0, b = 0; i < 6; b += sizes[i++]) {
		memcpy(data + b, i == 1 ? rnd + b : text + b, sizes[i]);
		gz_member(&gz, data + b, sizes[i], i == 4 ? 9 : 6, 0);
	}
	roundtrip(&gz, data, n, 64 * KiB, 25);

	fd = memfd_with(gz.data, gz.len);
	build(fd, 64 * KiB, data, n, &table);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	for (i = 0, b = 0; i < 6; b += sizes[i++]) {
		check_range(gi, fd, data, n, b ? b - 1 : 0, 2);
		check_range(gi, fd, data, n, b, 100);
		check_range(gi, fd, data, n, b > 100000 ? b - 100000 : 0, 200000);
	}
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	close(fd);
	lfs_buf_release(&gz);
	free(data);
	free(text);
	free(rnd);
}
END_TEST

START_TEST(test_multi_member_gzip_cmd)
{
	size_t n1 = 2 * MiB + 99, n2 = 3 * MiB;
	unsigned char *data = gen_text(n1 + n2, 6);
	lfs_buf gz = LFS_BUF_INIT;

	gzip_cmd(&gz, data, n1, 6);
	gzip_cmd(&gz, data + n1, n2, 1);
	roundtrip(&gz, data, n1 + n2, 256 * KiB, 10);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

/* Full flushes leave empty stored blocks; span 1 puts a checkpoint at
 * every block boundary, so every restart path is exercised. */
START_TEST(test_flush_blocks_span1)
{
	size_t n = 700 * KiB;
	unsigned char *data = gen_text(n, 7);
	lfs_buf gz = LFS_BUF_INIT;

	gz_member(&gz, data, n, 6, 10000);
	gz_member(&gz, data, 0, 6, 0);
	roundtrip(&gz, data, n, 1, 70);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

START_TEST(test_empty_gzip)
{
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_gz_index *gi;
	char buf[16];
	int fd;

	gz_member(&gz, (const unsigned char *)"", 0, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	build(fd, 0, (const unsigned char *)"", 0, &table);
	ck_assert_uint_eq(table_count(&table), 1);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	ck_assert_int_eq(lfs_gz_pread(gi, fd, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(lfs_gz_pread(gi, fd, buf, sizeof(buf), 100), 0);
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	close(fd);
}
END_TEST

static void expect_reader_error(const void *gz, size_t len, const char *msg_part)
{
	int fd = memfd_with(gz, len);
	char buf[65536];
	lfs_gz_reader *r;
	lfs_buf table = LFS_BUF_INIT;
	ssize_t k;

	ck_assert_int_eq(lfs_gz_reader_new(fd, 64 * KiB, &r), 0);
	while ((k = lfs_gz_reader_read(r, buf, sizeof(buf))) > 0)
		;
	ck_assert_int_eq(k, -EIO);
	ck_assert_msg(strstr(lfs_gz_reader_error(r), msg_part), "error '%s' lacks '%s'",
		      lfs_gz_reader_error(r), msg_part);
	ck_assert_int_eq(lfs_gz_reader_read(r, buf, sizeof(buf)), -EIO); /* sticky */
	ck_assert_int_eq(lfs_gz_reader_finish(r, &table), -EIO);
	lfs_gz_reader_free(r);
	lfs_buf_release(&table);
	close(fd);
}

START_TEST(test_truncated)
{
	size_t n = MiB;
	unsigned char *data = gen_text(n, 8);
	lfs_buf gz = LFS_BUF_INIT;

	gz_member(&gz, data, n, 6, 0);
	expect_reader_error(gz.data, 0, "truncated");
	expect_reader_error(gz.data, 5, "truncated");
	expect_reader_error(gz.data, gz.len / 2, "truncated");
	expect_reader_error(gz.data, gz.len - 4, "truncated");
	expect_reader_error(gz.data, gz.len - 1, "truncated");
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

START_TEST(test_corrupt_header_trailer)
{
	size_t n = 300 * KiB;
	unsigned char *data = gen_text(n, 9);
	lfs_buf gz = LFS_BUF_INIT;

	gz_member(&gz, data, n, 6, 0);
	gz.data[2] = 7; /* compression method */
	expect_reader_error(gz.data, gz.len, "corrupt at compressed offset");
	gz.data[2] = 8;
	gz.data[gz.len - 6] ^= 1; /* CRC-32 */
	expect_reader_error(gz.data, gz.len, "incorrect data check");
	gz.data[gz.len - 6] ^= 1;
	lfs_buf_add(&gz, "\0\0\0\0junk", 8);
	expect_reader_error(gz.data, gz.len, "trailing garbage");
	lfs_buf_setlen(&gz, gz.len - 8);
	lfs_buf_add(&gz, "junk", 4);
	expect_reader_error(gz.data, gz.len, "corrupt");
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

START_TEST(test_trailing_zeros)
{
	size_t n = 200 * KiB;
	unsigned char *data = gen_text(n, 10);
	lfs_buf gz = LFS_BUF_INIT;

	gz_member(&gz, data, n, 6, 0);
	lfs_buf_zalloc(&gz, 1024);
	roundtrip(&gz, data, n, 64 * KiB, 2);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

/* Sets the block type of the deflate block starting at checkpoint i to 3
 * (invalid).  Checkpoint layout: u64 out, u64 in, u64 win_off,
 * u32 win_len, u16 win_size, u8 bits, u8 flags, after a 32-byte header. */
static uint64_t break_block_at_point(lfs_buf *gz, const lfs_buf *table, uint32_t i)
{
	const char *p = table->data + 32 + 32 * (size_t)i;
	uint64_t out, in, bit;
	uint8_t bits, flags;
	int k;

	memcpy(&out, p, 8);
	memcpy(&in, p + 8, 8);
	memcpy(&bits, p + 30, 1);
	memcpy(&flags, p + 31, 1);
	ck_assert_uint_eq(flags & 1, 0);
	bit = bits ? (in - 1) * 8 + (8 - bits) : in * 8;
	for (k = 1; k <= 2; k++)
		gz->data[(bit + k) / 8] |= (char)(1 << ((bit + k) % 8));
	return out;
}

START_TEST(test_corrupt_pread)
{
	size_t n = 3 * MiB;
	unsigned char *data = gen_text(n, 11), buf[4096];
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	uint64_t out;
	lfs_gz_index *gi;
	int fd;

	gz_member(&gz, data, n, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	build(fd, 256 * KiB, data, n, &table);
	close(fd);
	ck_assert_uint_ge(table_count(&table), 5);
	out = break_block_at_point(&gz, &table, 3);
	expect_reader_error(gz.data, gz.len, "invalid block type");

	fd = memfd_with(gz.data, gz.len);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	check_range(gi, fd, data, n, 0, 4096); /* before the damage: fine */
	ck_assert_int_eq(lfs_gz_pread(gi, fd, buf, sizeof(buf), out), -EIO);
	ck_assert_int_eq(lfs_gz_pread(gi, fd, buf, sizeof(buf), out + 1000), -EIO);
	check_range(gi, fd, data, n, n - 5000, 5000); /* later checkpoints still work */
	/* A truncated file: reads near the end fail, earlier ones work (a
	 * fresh index: cached chunks would still answer, blobs are immutable). */
	lfs_gz_index_free(gi);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)gz.len / 2), 0);
	ck_assert_int_eq(lfs_gz_pread(gi, fd, buf, sizeof(buf), n - 4096), -EIO);
	check_range(gi, fd, data, n, 100, 4096);
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	close(fd);
	free(data);
}
END_TEST

/* The stream need not start at offset 0 of its file: checkpoints hold
 * absolute file offsets. */
START_TEST(test_stream_at_offset)
{
	size_t n = 2 * MiB, pre = 1000;
	unsigned char *data = gen_text(n, 12);
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_gz_index *gi;
	int fd;

	lfs_buf_zalloc(&gz, pre);
	memset(gz.data, 'x', pre);
	gz_member(&gz, data, n, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	ck_assert_int_eq(lseek(fd, (off_t)pre, SEEK_SET), (off_t)pre);
	build(fd, 64 * KiB, data, n, &table);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	check_edges(gi, fd, data, n);
	check_random(gi, fd, data, n, 100, 13);
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	close(fd);
	free(data);
}
END_TEST

/* A reader fed through a pipe (no seeking) works too. */
START_TEST(test_pipe_reader)
{
	size_t n = 500 * KiB;
	unsigned char *data = gen_text(n, 14);
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	int p[2];
	pid_t pid;

	gz_member(&gz, data, n, 6, 0);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		close(p[0]);
		write_all(p[1], gz.data, gz.len);
		_exit(0);
	}
	close(p[1]);
	build(p[0], 64 * KiB, data, n, &table);
	close(p[0]);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

START_TEST(test_finish_early)
{
	size_t n = 300 * KiB;
	unsigned char *data = gen_text(n, 15), buf[1000];
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_gz_reader *r;
	int fd;

	gz_member(&gz, data, n, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	ck_assert_int_eq(lfs_gz_reader_new(fd, 0, &r), 0);
	ck_assert_int_eq(lfs_gz_reader_read(r, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(lfs_gz_reader_finish(r, &table), -EINVAL);
	ck_assert_uint_eq(table.len, 0);
	lfs_gz_reader_free(r);
	lfs_gz_reader_free(NULL);
	close(fd);
	lfs_buf_release(&gz);
	free(data);
}
END_TEST

static void expect_open_fails(const void *p, size_t len)
{
	lfs_gz_index *gi = NULL;

	ck_assert_int_eq(lfs_gz_index_open(p, len, &gi), -EBADMSG);
}

/* Bad tables are refused; any table that does open never crashes a read. */
START_TEST(test_index_corrupt)
{
	size_t n = MiB, i, meta, len;
	unsigned char *data = gen_text(n, 16), buf[8192];
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT, t = LFS_BUF_INIT;
	lfs_gz_index *gi;
	int fd, flip;
	ssize_t k;

	gz_member(&gz, data, n, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	build(fd, 64 * KiB, data, n, &table);
	meta = 32 + 32 * (size_t)table_count(&table);

	expect_open_fails("", 0);
	for (len = 0; len < meta; len += 7)
		expect_open_fails(table.data, len);
	expect_open_fails(table.data, table.len - 1); /* last window cut */
	lfs_buf_add(&t, table.data, table.len);
	t.data[0] ^= 1;
	expect_open_fails(t.data, t.len);

	for (i = 0; i < meta; i++) {
		for (flip = 0; flip < 2; flip++) {
			lfs_buf_reset(&t);
			lfs_buf_add(&t, table.data, table.len);
			t.data[i] ^= (char)(flip ? 0x80 : 0x01);
			if (lfs_gz_index_open(t.data, t.len, &gi))
				continue;
			k = lfs_gz_pread(gi, fd, buf, sizeof(buf), (i * 7919) % n);
			ck_assert_msg(k == -EIO || k >= 0, "k=%zd", k);
			k = lfs_gz_pread(gi, fd, buf, sizeof(buf), n - 100);
			ck_assert(k == -EIO || k >= 0);
			lfs_gz_index_free(gi);
		}
	}
	lfs_buf_release(&t);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	close(fd);
	free(data);
}
END_TEST

struct worker {
	lfs_gz_index *gi;
	int fd;
	const unsigned char *data;
	size_t n;
	uint64_t seed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->seed % 3 == 0)
		check_sequential(w->gi, w->fd, w->data, w->n, w->seed * 4096 % w->n, 128 * KiB);
	else
		check_random(w->gi, w->fd, w->data, w->n, 150, w->seed);
	return NULL;
}

START_TEST(test_concurrent)
{
	enum { NTHREADS = 8 };
	size_t n = 8 * MiB;
	unsigned char *data = gen_text(n, 17);
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	lfs_gz_index *gi;
	int fd, i;

	gz_member(&gz, data, n, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	build(fd, 256 * KiB, data, n, &table);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){gi, fd, data, n, (uint64_t)i + 1};
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	close(fd);
	free(data);
}
END_TEST

/* What FUSE does for cat(1) of a big member: 128 KiB reads in order.
 * Only correctness is asserted here; cost is measured by benchmarks. */
START_TEST(test_sequential_large)
{
	size_t n = 32 * MiB;
	unsigned char *data = gen_text(n, 18);
	lfs_buf gz = LFS_BUF_INIT, table = LFS_BUF_INIT;
	lfs_gz_index *gi;
	int fd;

	gz_member(&gz, data, n, 6, 0);
	fd = memfd_with(gz.data, gz.len);
	build(fd, 0, data, n, &table);
	ck_assert_int_eq(lfs_gz_index_open(table.data, table.len, &gi), 0);
	check_sequential(gi, fd, data, n, 0, 128 * KiB);
	check_sequential(gi, fd, data, n, 3 * MiB + 4096, 128 * KiB);
	lfs_gz_index_free(gi);
	lfs_buf_release(&table);
	lfs_buf_release(&gz);
	close(fd);
	free(data);
}
END_TEST

static Suite *gz_suite(void)
{
	Suite *s = suite_create("gz");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_compressible);
	tcase_add_test(tc, test_random_data);
	tcase_add_loop_test(tc, test_gzip_levels, 0, 2);
	tcase_add_test(tc, test_multi_member);
	tcase_add_test(tc, test_multi_member_gzip_cmd);
	tcase_add_test(tc, test_flush_blocks_span1);
	tcase_add_test(tc, test_empty_gzip);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_corrupt_header_trailer);
	tcase_add_test(tc, test_trailing_zeros);
	tcase_add_test(tc, test_corrupt_pread);
	tcase_add_test(tc, test_stream_at_offset);
	tcase_add_test(tc, test_pipe_reader);
	tcase_add_test(tc, test_finish_early);
	tcase_add_test(tc, test_index_corrupt);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_sequential_large);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gz_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
