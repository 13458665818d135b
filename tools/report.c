#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

int report_parse_format(const char *arg, enum report_format *out, error **err)
{
	if (!strcmp(arg, "json"))
		*out = REPORT_JSON;
	else if (!strcmp(arg, "text") || !strcmp(arg, "table"))
		*out = REPORT_TEXT;
	else
		return error_usage(err, "unknown --format '%s'; use 'text' or 'json'", arg);
	return 0;
}

int report_human_default(void)
{
	return isatty(STDOUT_FILENO);
}

void report_human_size(uint64_t n, char out[16])
{
	static const char units[] = "BKMGTPE";
	if (n < 1024) {
		snprintf(out, 16, "%u", (unsigned)n);
		return;
	}
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	/* ls -h: one decimal below 10, rounded up like ls */
	if (v < 10)
		snprintf(out, 16, "%.1f%c", v, units[u]);
	else
		snprintf(out, 16, "%.0f%c", v, units[u]);
}

void report_size(uint64_t n, int human, char out[24])
{
	if (human)
		report_human_size(n, out);
	else
		snprintf(out, 24, "%llu", (unsigned long long)n);
}

void report_mode_string(mode_t m, char out[11])
{
	const char *types = "?pc?d?b?-?l?s???";
	out[0] = types[(m >> 12) & 15];
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
	if (m & S_ISUID)
		out[3] = (m & S_IXUSR) ? 's' : 'S';
	if (m & S_ISGID)
		out[6] = (m & S_IXGRP) ? 's' : 'S';
	if (m & S_ISVTX)
		out[9] = (m & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

char report_type_char(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	default: return '?';
	}
}

const char *report_type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}

/* Bytes >= 0x80 are copied as they are: names are UTF-8 in practice, and
 * JSON has no escape for other bytes. */
void report_json_string(FILE *f, const char *s)
{
	putc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}

void jw_begin_array(struct jw *w, FILE *f)
{
	*w = (struct jw){f, 0, 0};
	fputc('[', f);
}

void jw_end_array(struct jw *w)
{
	fputs(w->items ? "\n]\n" : "]\n", w->f);
}

void jw_begin_object(struct jw *w)
{
	fputs(w->items++ ? ",\n{" : "\n{", w->f);
	w->fields = 0;
}

void jw_end_object(struct jw *w)
{
	fputc('}', w->f);
}

void jw_key(struct jw *w, const char *key)
{
	if (w->fields++)
		fputs(", ", w->f);
	report_json_string(w->f, key);
	fputs(": ", w->f);
}

void jw_str(struct jw *w, const char *key, const char *value)
{
	jw_key(w, key);
	if (value)
		report_json_string(w->f, value);
	else
		fputs("null", w->f);
}

void jw_u64(struct jw *w, const char *key, uint64_t value)
{
	jw_key(w, key);
	fprintf(w->f, "%llu", (unsigned long long)value);
}

void jw_i64(struct jw *w, const char *key, int64_t value)
{
	jw_key(w, key);
	fprintf(w->f, "%lld", (long long)value);
}

void jw_bool(struct jw *w, const char *key, int value)
{
	jw_key(w, key);
	fputs(value ? "true" : "false", w->f);
}

const char *report_layer_history(const struct store_image *img, size_t i, int *step)
{
	if (!img)
		return NULL;
	json_t *h = json_object_get(img->config, "history");
	size_t layer = 0;
	for (size_t k = 0; k < json_array_size(h); k++) {
		json_t *e = json_array_get(h, k);
		if (json_is_true(json_object_get(e, "empty_layer")))
			continue;
		if (layer++ != i)
			continue;
		*step = (int)k + 1;
		const char *s = json_string_value(json_object_get(e, "created_by"));
		if (!s || !*s)
			s = json_string_value(json_object_get(e, "comment"));
		return s ? s : "";
	}
	return NULL;
}

const char *report_layer_label(const struct view *v, size_t i)
{
	if (v->image)
		return v->image->layers[i].digest;
	return lfs_layer_path(v->layers[i]);
}

const char *report_layer_key(const struct view *v, size_t i)
{
	if (v->image)
		return v->image->layers[i].diff_id;
	return lfs_layer_path(v->layers[i]);
}

int report_parse_layer_no(const char *arg, size_t nlayers, size_t *out, error **err)
{
	char *end;
	errno = 0;
	long n = strtol(arg, &end, 10);
	if (errno || *end || end == arg || n == 0)
		return error_usage(err, "bad layer number '%s': 1 is the lowest layer, -1 the topmost",
				   arg);
	if (n < 0)
		n += (long)nlayers + 1;
	if (n < 1 || (size_t)n > nlayers)
		return error_make(err, 0, "layer %s does not exist: the image has %zu layers", arg,
				  nlayers);
	*out = (size_t)n - 1;
	return 0;
}

const char *report_layer_short(const struct view *v, size_t i)
{
	static char out[13];
	const char *l = report_layer_label(v, i);
	if (v->image) {
		const char *hex = strchr(l, ':');
		snprintf(out, sizeof(out), "%s", hex ? hex + 1 : l);
		return out;
	}
	const char *b = strrchr(l, '/');
	return b ? b + 1 : l;
}

/* Parses RFC 3339 ("2023-11-14T22:13:20.123456789Z", or with +hh:mm). */
time_t report_parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!p)
		return 0;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	time_t t = timegm(&tm);
	int hh, mm;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2)
		t -= (*p == '+' ? 1 : -1) * (time_t)(hh * 3600 + mm * 60);
	return t;
}

/* go-units HumanDuration, as `docker images` prints it ("... ago"). */
char *report_ago(time_t created, time_t now)
{
	double d = difftime(now, created);
	long secs = (long)d;
	long mins = (long)(d / 60);
	long hours = (long)(d / 3600 + 0.5);
	if (secs < 1)
		return lfs_xstrdup("Less than a second ago");
	if (secs == 1)
		return lfs_xstrdup("1 second ago");
	if (secs < 60)
		return lfs_xasprintf("%ld seconds ago", secs);
	if (mins == 1)
		return lfs_xstrdup("About a minute ago");
	if (mins < 60)
		return lfs_xasprintf("%ld minutes ago", mins);
	if (hours == 1)
		return lfs_xstrdup("About an hour ago");
	if (hours < 48)
		return lfs_xasprintf("%ld hours ago", hours);
	if (hours < 24 * 7 * 2)
		return lfs_xasprintf("%ld days ago", hours / 24);
	if (hours < 24 * 30 * 2)
		return lfs_xasprintf("%ld weeks ago", hours / 24 / 7);
	if (hours < 24 * 365 * 2)
		return lfs_xasprintf("%ld months ago", hours / 24 / 30);
	return lfs_xasprintf("%ld years ago", (long)(d / 3600) / 24 / 365);
}

/* go-units HumanSizeWithPrecision(size, 3): SI units, 3 significant digits. */
char *report_si_size(uint64_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)size;
	size_t i = 0;
	while (v >= 1000.0 && i < sizeof(units) / sizeof(units[0]) - 1) {
		v /= 1000.0;
		i++;
	}
	return lfs_xasprintf("%.3g%s", v, units[i]);
}

