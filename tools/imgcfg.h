/* imgcfg — OCI image config documents: creation times (with
 * SOURCE_DATE_EPOCH), a fresh config for this platform, and the
 * Env list of config.config. */
#ifndef LAYERFS_IMGCFG_H
#define LAYERFS_IMGCFG_H

#include <stdint.h>

#include <jansson.h>

#include "error.h"

static inline void imgcfg_decref_p(json_t **j)
{
	json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(imgcfg_decref_p)))

/* SOURCE_DATE_EPOCH as seconds, or -1 when unset/empty; a malformed
 * value is a usage error naming it. */
int imgcfg_epoch(int64_t *out, error **err);
/* RFC 3339 UTC time: epoch when >= 0, else now (with nanoseconds).
 * Caller frees. */
char *imgcfg_time(int64_t epoch);
/* {"architecture": this machine's, "os": "linux", "config": {}, "history": []}
 * plus "variant" where the platform has one. */
json_t *imgcfg_new(void);

/* The value of NAME in config.config.Env (borrowed), NULL when unset. */
const char *imgcfg_env_get(json_t *config, const char *name);
/* Sets NAME=value in config.config.Env, replacing an existing NAME in
 * place (Docker's order), else appending. */
void imgcfg_env_set(json_t *config, const char *name, const char *value);
/* config.config (created when missing); borrowed. */
json_t *imgcfg_inner(json_t *config);

#endif
