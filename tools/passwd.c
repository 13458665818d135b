/* passwd — /etc/passwd and /etc/group lookups on an image's file text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"
#include "util.h"

/* Splits line into at most n ':' fields (in place); returns the count. */
static size_t fields(char *line, char **f, size_t n)
{
	size_t k = 0;
	while (k < n) {
		f[k++] = line;
		char *c = strchr(line, ':');
		if (!c)
			break;
		*c = '\0';
		line = c + 1;
	}
	return k;
}

static int parse_id(const char *s, unsigned long *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -1;
	*out = strtoul(s, NULL, 10);
	return *out <= 0xfffffffeUL ? 0 : -1;
}

/* Calls fn for each line of text split into fields; stops when fn returns 1. */
static int each_entry(const char *text, size_t nf, int (*fn)(void *, char **, size_t), void *arg)
{
	if (!text)
		return 0;
	cleanup_free char *copy = lfs_xstrdup(text);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8];
		size_t k = fields(line, f, nf < 8 ? nf : 8);
		if (line[0] == '#' || k < nf)
			continue;
		if (fn(arg, f, k))
			return 1;
	}
	return 0;
}

struct find {
	const char *key; /* name or number */
	int by_id;
	unsigned long id;
	char *name; /* found: name (heap) */
	unsigned long id_out, gid_out;
};

static int find_user(void *arg, char **f, size_t k)
{
	struct find *q = arg;
	unsigned long uid, gid;
	if (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
		return 0;
	if (q->by_id ? uid != q->id : strcmp(f[0], q->key))
		return 0;
	q->name = lfs_xstrdup(f[0]);
	q->id_out = uid;
	q->gid_out = gid;
	return 1;
}

static int find_group(void *arg, char **f, size_t k)
{
	struct find *q = arg;
	unsigned long gid;
	if (parse_id(f[2], &gid) < 0)
		return 0;
	if (q->by_id ? gid != q->id : strcmp(f[0], q->key))
		return 0;
	q->id_out = gid;
	return 1;
}

struct members {
	const char *user;
	struct passwd_ids *ids;
};

static int add_member(void *arg, char **f, size_t k)
{
	struct members *m = arg;
	unsigned long gid;
	if (k < 4 || parse_id(f[2], &gid) < 0)
		return 0;
	char *save = NULL;
	cleanup_free char *list = lfs_xstrdup(f[3]);
	for (char *u = strtok_r(list, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		if (strcmp(u, m->user))
			continue;
		m->ids->groups =
		    lfs_xrealloc(m->ids->groups, (m->ids->ngroups + 1) * sizeof(gid_t));
		m->ids->groups[m->ids->ngroups++] = (gid_t)gid;
		break;
	}
	return 0;
}

static int resolve_group(const char *group, const char *g, gid_t *out, error **err)
{
	struct find q = {.key = g};
	q.by_id = parse_id(g, &q.id) == 0;
	if (each_entry(group, 3, find_group, &q)) {
		*out = (gid_t)q.id_out;
		return 0;
	}
	if (q.by_id) {
		*out = (gid_t)q.id;
		return 0;
	}
	return error_make(err, 0, "group '%s' not found in the image's /etc/group%s", g,
			  group ? "" : " (the image has no /etc/group)");
}

int passwd_resolve(const char *passwd, const char *group, const char *spec, struct passwd_ids *out,
		   error **err)
{
	memset(out, 0, sizeof(*out));
	cleanup_free char *user = lfs_xstrdup(spec && *spec ? spec : "0");
	char *g = strchr(user, ':');
	if (g)
		*g++ = '\0';
	if (g && !*g)
		return error_make(err, 0, "'%s' is not a valid user[:group]", spec);
	const char *name = *user ? user : "0"; /* ":group" is root with that group */
	struct find q = {.key = name};
	q.by_id = parse_id(name, &q.id) == 0;
	if (each_entry(passwd, 7, find_user, &q)) {
		out->uid = (uid_t)q.id_out;
		out->gid = (gid_t)q.gid_out;
		struct members m = {q.name, out};
		if (!g) /* as runc: an explicit group means no supplementary ones */
			each_entry(group, 4, add_member, &m);
		free(q.name);
	} else if (q.by_id) {
		out->uid = (uid_t)q.id;
		out->gid = 0;
	} else {
		return error_make(err, 0, "user '%s' not found in the image's /etc/passwd%s", name,
				  passwd ? "" : " (the image has no /etc/passwd)");
	}
	if (g) {
		out->have_group = 1;
		if (resolve_group(group, g, &out->gid, err) < 0) {
			free(out->groups);
			out->groups = NULL;
			return -1;
		}
	}
	return 0;
}
