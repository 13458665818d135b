/* error — the tools' error value: an errno-style code and a message, with
 * context prepended on the way up (after crun's libcrun_error_t).
 *
 * Functions that can fail take `error **err` last, return a negative value
 * on failure and set *err (which must be NULL on entry).  Callers either
 * handle it and error_free() it, or add context with error_wrap() and
 * return it further.  Only main() prints an error and picks the exit code.
 */
#ifndef LAYERFS_ERROR_H
#define LAYERFS_ERROR_H

typedef struct error {
	int code;   /* errno value (0 if none applies) */
	int status; /* exit status for main: 1 by default, 2 for usage errors */
	char *msg;
} error;

/* Sets *err to a new error "msg" (+ ": strerror(code)" when code != 0).
 * Returns -1 (or -code when code > 0) so callers can `return error_make(...)`. */
int error_make(error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like error_make, for a message that already says what failed and what
 * to do: keeps code for callers but does not append strerror(code). */
int error_fail(error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A usage error: exit status 2. */
int error_usage(error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A failure that has already been reported, or needs no message (grep
 * finding nothing): main exits with status and prints nothing. */
int error_quiet(error **err, int status);
/* Prepends "ctx: " to (*err)->msg; returns the same value as error_make. */
int error_wrap(error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_free(error *e);

#endif
