/* bld_progress — the build's progress display, in BuildKit's two styles.
 *
 * plain (not a terminal, --progress=plain):
 *   #5 [2/4] RUN npm install
 *   #5 0.512 added 57 packages
 *   #5 DONE 5.3s
 *
 *   #6 [3/4] COPY . /app
 *   #6 CACHED
 * tty: a summary redrawn in place at most every 100 ms:
 *   [+] Building 5.9s (6/9)
 *    => CACHED [2/4] WORKDIR /app                                  0.0s
 *    => [3/4] RUN npm install                                      5.3s
 *    => => # added 57 packages
 * with the last lines of the running step's output under it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bld_i.h"
#include "util.h"

#define TAIL_KEEP 40 /* lines of output kept per step (error messages) */
#define TTY_TAIL  6  /* lines shown under a running step */
#define REDRAW_NS 100000000L

enum vstate { V_RUNNING, V_DONE, V_CACHED, V_ERROR };

struct vertex {
	char *name;
	enum vstate state;
	double start, end;
	char *lines[TAIL_KEEP]; /* ring of complete lines */
	unsigned nlines, head;
	lfs_buf partial; /* an unfinished line */
	int last_cr;	 /* the previous byte was '\r' (a "\r\n" is one break) */
	char *error;
};

struct bld_progress {
	enum bld_progress_mode mode;
	FILE *out;
	pthread_mutex_t lock;
	double t0, last_draw;
	struct vertex *v;
	size_t n;
	unsigned drawn; /* tty: lines of the last frame */
	int width;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bld_progress *bld_progress_new(enum bld_progress_mode mode, FILE *out)
{
	bld_progress *p = lfs_xcalloc(1, sizeof(*p));
	p->mode = mode;
	p->out = out;
	pthread_mutex_init(&p->lock, NULL);
	p->t0 = now();
	struct winsize ws;
	p->width = ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
	return p;
}

static void tty_draw(bld_progress *p, int final, int ok);

static void vertex_release(struct vertex *v)
{
	free(v->name);
	for (unsigned i = 0; i < v->nlines; i++)
		free(v->lines[(v->head + i) % TAIL_KEEP]);
	lfs_buf_release(&v->partial);
	free(v->error);
}

void bld_progress_free(bld_progress *p, int ok)
{
	if (!p)
		return;
	if (p->mode == BLD_PROGRESS_TTY)
		tty_draw(p, 1, ok);
	for (size_t i = 0; i < p->n; i++)
		vertex_release(&p->v[i]);
	free(p->v);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int bld_progress_start(bld_progress *p, const char *name)
{
	pthread_mutex_lock(&p->lock);
	p->v = lfs_xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	struct vertex *v = &p->v[p->n++];
	memset(v, 0, sizeof(*v));
	v->name = lfs_xstrdup(name);
	v->start = now();
	lfs_buf_init(&v->partial, 0);
	int id = (int)p->n;
	if (p->mode == BLD_PROGRESS_PLAIN) {
		fprintf(p->out, "#%d %s\n", id, name);
		fflush(p->out);
	} else if (p->mode == BLD_PROGRESS_TTY) {
		tty_draw(p, 0, 1);
	}
	pthread_mutex_unlock(&p->lock);
	return id;
}

static void keep_line(struct vertex *v, const char *line, size_t len)
{
	char *l = lfs_xstrndup(line, len);
	if (v->nlines == TAIL_KEEP) {
		free(v->lines[v->head]);
		v->lines[v->head] = l;
		v->head = (v->head + 1) % TAIL_KEEP;
	} else {
		v->lines[(v->head + v->nlines++) % TAIL_KEEP] = l;
	}
}

static void emit_line(bld_progress *p, int id, const char *line, size_t len)
{
	struct vertex *v = &p->v[id - 1];
	keep_line(v, line, len);
	if (p->mode == BLD_PROGRESS_PLAIN)
		fprintf(p->out, "#%d %.3f %.*s\n", id, now() - v->start, (int)len, line);
}

void bld_progress_log(bld_progress *p, int id, const char *data, size_t len)
{
	pthread_mutex_lock(&p->lock);
	struct vertex *v = &p->v[id - 1];
	for (size_t i = 0; i < len; i++) {
		int cr = data[i] == '\r', after_cr = v->last_cr;
		v->last_cr = cr;
		if (data[i] != '\n' && !cr) {
			lfs_buf_addch(&v->partial, data[i]);
			continue;
		}
		/* "\r\n" ends one line; a lone '\r' (a redrawn progress line) too */
		if ((data[i] == '\n' && after_cr) || (cr && v->partial.len == 0))
			continue;
		emit_line(p, id, v->partial.data, v->partial.len);
		lfs_buf_reset(&v->partial);
	}
	if (p->mode == BLD_PROGRESS_PLAIN)
		fflush(p->out);
	else if (p->mode == BLD_PROGRESS_TTY && now() - p->last_draw > REDRAW_NS / 1e9)
		tty_draw(p, 0, 1);
	pthread_mutex_unlock(&p->lock);
}

void bld_progress_note(bld_progress *p, int id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lfs_buf b = LFS_BUF_INIT;
	lfs_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&p->lock);
	if (p->mode == BLD_PROGRESS_PLAIN) {
		fprintf(p->out, "#%d %s\n", id, b.data);
		fflush(p->out);
	}
	pthread_mutex_unlock(&p->lock);
	lfs_buf_release(&b);
}

static void finish(bld_progress *p, int id, enum vstate s, const char *msg)
{
	pthread_mutex_lock(&p->lock);
	struct vertex *v = &p->v[id - 1];
	if (v->partial.len) {
		emit_line(p, id, v->partial.data, v->partial.len);
		lfs_buf_reset(&v->partial);
	}
	v->state = s;
	v->end = now();
	if (msg)
		v->error = lfs_xstrdup(msg);
	if (p->mode == BLD_PROGRESS_PLAIN) {
		if (s == V_CACHED)
			fprintf(p->out, "#%d CACHED\n\n", id);
		else if (s == V_DONE)
			fprintf(p->out, "#%d DONE %.1fs\n\n", id, v->end - v->start);
		else
			fprintf(p->out, "#%d ERROR: %s\n\n", id, msg ? msg : "failed");
		fflush(p->out);
	} else if (p->mode == BLD_PROGRESS_TTY) {
		tty_draw(p, 0, 1);
	}
	pthread_mutex_unlock(&p->lock);
}

void bld_progress_cached(bld_progress *p, int id)
{
	finish(p, id, V_CACHED, NULL);
}

void bld_progress_done(bld_progress *p, int id)
{
	finish(p, id, V_DONE, NULL);
}

void bld_progress_error(bld_progress *p, int id, const char *msg)
{
	finish(p, id, V_ERROR, msg);
}

char *bld_progress_tail(bld_progress *p, int id, unsigned lines)
{
	pthread_mutex_lock(&p->lock);
	struct vertex *v = &p->v[id - 1];
	lfs_buf b = LFS_BUF_INIT;
	unsigned from = v->nlines > lines ? v->nlines - lines : 0;
	for (unsigned i = from; i < v->nlines; i++) {
		lfs_buf_addstr(&b, v->lines[(v->head + i) % TAIL_KEEP]);
		lfs_buf_addch(&b, '\n');
	}
	pthread_mutex_unlock(&p->lock);
	return lfs_buf_detach(&b, NULL);
}

/* ---- the terminal summary ---------------------------------------------------- */

/* One line, cut to the terminal width, timer right-aligned. */
static void tty_line(bld_progress *p, const char *text, double secs, int timer)
{
	int w = p->width - 1;
	char t[32] = "";
	if (timer)
		snprintf(t, sizeof(t), "%.1fs", secs);
	int room = w - (int)strlen(t) - 1;
	int len = (int)strlen(text);
	if (len > room)
		len = room > 0 ? room : 0;
	fprintf(p->out, "\033[K%.*s%*s%s\n", len, text, room - len + 1, "", t);
}

static void tty_vertex(bld_progress *p, struct vertex *v, unsigned *lines)
{
	double end = v->state == V_RUNNING ? now() : v->end;
	cleanup_free char *text = lfs_xasprintf(" => %s%s%s", v->state == V_CACHED ? "CACHED " : "",
						v->state == V_ERROR ? "ERROR " : "", v->name);
	tty_line(p, text, end - v->start, 1);
	(*lines)++;
	if (v->state != V_RUNNING && v->state != V_ERROR)
		return;
	unsigned from = v->nlines > TTY_TAIL ? v->nlines - TTY_TAIL : 0;
	for (unsigned i = from; i < v->nlines; i++) {
		cleanup_free char *l =
		    lfs_xasprintf(" => => # %s", v->lines[(v->head + i) % TAIL_KEEP]);
		tty_line(p, l, 0, 0);
		(*lines)++;
	}
}

static void tty_draw(bld_progress *p, int final, int ok)
{
	if (p->drawn)
		fprintf(p->out, "\033[%uA", p->drawn);
	size_t done = 0;
	for (size_t i = 0; i < p->n; i++)
		done += p->v[i].state != V_RUNNING;
	cleanup_free char *head =
	    lfs_xasprintf("[+] Building %.1fs (%zu/%zu)%s", now() - p->t0, done, p->n,
			  final ? (ok ? " FINISHED" : " ERROR") : "");
	tty_line(p, head, 0, 0);
	unsigned lines = 1;
	for (size_t i = 0; i < p->n; i++)
		tty_vertex(p, &p->v[i], &lines);
	fprintf(p->out, "\033[J");
	fflush(p->out);
	p->drawn = lines;
	p->last_draw = now();
}
