/* report — output helpers shared by the inspection commands (ls, find,
 * grep, which, layers, diff): --format parsing, human sizes, mode strings,
 * a streaming JSON writer, and history lines of an image's layers. */
#ifndef LAYERFS_REPORT_H
#define LAYERFS_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "store.h"
#include "view.h"

enum report_format {
	REPORT_TEXT,
	REPORT_JSON,
};

/* Parses a --format argument ("text", "table" or "json"). */
int report_parse_format(const char *arg, enum report_format *out, error **err);

/* Whether sizes print in human units: on when stdout is a terminal. */
int report_human_default(void);

/* "1.5K", "23M", "512" (ls -h style, powers of 1024). */
void report_human_size(uint64_t n, char out[16]);
/* Size as the user asked: human units or exact bytes. */
void report_size(uint64_t n, int human, char out[24]);
/* "drwxr-xr-x" from st_mode. */
void report_mode_string(mode_t m, char out[11]);
/* "f", "d", "l", "c", "b", "p", "s" (find -type letters). */
char report_type_char(mode_t m);
/* "file", "dir", "symlink", "char", "block", "fifo", "socket". */
const char *report_type_name(mode_t m);

/* RFC 3339 ("2023-11-14T22:13:20.123456789Z", or +hh:mm) to seconds; 0
 * when unparsable. */
time_t report_parse_time(const char *s);
/* "5 minutes ago", as docker prints a creation time (go-units
 * HumanDuration); caller frees. */
char *report_ago(time_t created, time_t now);
/* "1.23MB": SI units with 3 significant digits, as docker prints image
 * sizes (go-units HumanSizeWithPrecision); caller frees. */
char *report_si_size(uint64_t size);

/* Writes s as a JSON string (quotes included) to f. */
void report_json_string(FILE *f, const char *s);

/* A streaming JSON writer for arrays of flat objects, one per line, so
 * large outputs never build a tree in memory. */
struct jw {
	FILE *f;
	int items; /* objects written so far */
	int fields;
};
void jw_begin_array(struct jw *w, FILE *f);
void jw_end_array(struct jw *w);
void jw_begin_object(struct jw *w);
void jw_end_object(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *value); /* NULL value: null */
void jw_u64(struct jw *w, const char *key, uint64_t value);
void jw_i64(struct jw *w, const char *key, int64_t value);
void jw_bool(struct jw *w, const char *key, int value);
/* Writes "key": then calls nothing: the caller prints a raw JSON value. */
void jw_key(struct jw *w, const char *key);

/* History of the step that created layer i (0 = lowest) of img, docker
 * style: history entries map to layers in order, skipping those with
 * "empty_layer": true.  *step is the 1-based position of that entry in the
 * history.  Returns its created_by (or comment), or NULL when img is NULL
 * or has no matching entry. */
const char *report_layer_history(const struct store_image *img, size_t i, int *step);

/* How to name layer i of an opened view: its blob digest for a stored
 * image, the tar path for bare --layer tars. */
const char *report_layer_label(const struct view *v, size_t i);
/* A key equal for the same layer contents: the diff_id, or the tar path. */
const char *report_layer_key(const struct view *v, size_t i);

/* A short name for layer i in tables: 12 hex digits of the digest, or the
 * tar's base name; static storage, valid until the next call. */
const char *report_layer_short(const struct view *v, size_t i);


/* Parses a layer number: 1 = lowest, -1 = topmost; into a 0-based index. */
int report_parse_layer_no(const char *arg, size_t nlayers, size_t *out, error **err);

#endif
