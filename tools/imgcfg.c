/* imgcfg — OCI image config helpers shared by import, commit and build. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imgcfg.h"
#include "store.h"
#include "util.h"

int imgcfg_epoch(int64_t *out, error **err)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	*out = -1;
	if (!sde || !*sde)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(sde, &end, 10);
	if (errno || *end || v < 0)
		return error_usage(err, "SOURCE_DATE_EPOCH='%s' is not a number of seconds", sde);
	*out = v;
	return 0;
}

char *imgcfg_time(int64_t epoch)
{
	struct timespec ts = {0};
	if (epoch >= 0)
		ts.tv_sec = (time_t)epoch;
	else
		clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	char date[64];
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	return ts.tv_nsec ? lfs_xasprintf("%s.%09ldZ", date, ts.tv_nsec)
			  : lfs_xasprintf("%sZ", date);
}

json_t *imgcfg_new(void)
{
	const char *arch, *variant;
	store_platform(&arch, &variant);
	json_t *cfg = json_pack("{s:s, s:s, s:o, s:o}", "architecture", arch, "os", "linux",
				"config", json_object(), "history", json_array());
	if (variant)
		json_object_set_new(cfg, "variant", json_string(variant));
	return cfg;
}

json_t *imgcfg_inner(json_t *config)
{
	json_t *in = json_object_get(config, "config");
	if (!json_is_object(in)) {
		in = json_object();
		json_object_set_new(config, "config", in);
	}
	return in;
}

/* Index of NAME in Env, or -1. */
static long env_find(json_t *env, const char *name)
{
	size_t n = strlen(name), i;
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s && !strncmp(s, name, n) && (s[n] == '=' || s[n] == '\0'))
			return (long)i;
	}
	return -1;
}

const char *imgcfg_env_get(json_t *config, const char *name)
{
	json_t *env = json_object_get(json_object_get(config, "config"), "Env");
	long i = env_find(env, name);
	if (i < 0)
		return NULL;
	const char *s = json_string_value(json_array_get(env, (size_t)i));
	return s[strlen(name)] == '=' ? s + strlen(name) + 1 : "";
}

void imgcfg_env_set(json_t *config, const char *name, const char *value)
{
	json_t *in = imgcfg_inner(config);
	json_t *env = json_object_get(in, "Env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(in, "Env", env);
	}
	cleanup_free char *kv = lfs_xasprintf("%s=%s", name, value);
	long i = env_find(env, name);
	if (i >= 0)
		json_array_set_new(env, (size_t)i, json_string(kv));
	else
		json_array_append_new(env, json_string(kv));
}
