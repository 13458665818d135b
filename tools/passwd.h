/* passwd — user and group names of an image, from its /etc/passwd and
 * /etc/group text (the builder's --chown and WORKDIR; the container's
 * USER), resolved the way Docker does.
 */
#ifndef LAYERFS_PASSWD_H
#define LAYERFS_PASSWD_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct passwd_ids {
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups of the user (from group), caller frees */
	size_t ngroups;
	int have_group; /* the spec named a group */
};

/* Resolves spec ("user", "uid", "user:group", "uid:gid", ":group" (root),
 * NULL or "" (root))
 * against passwd and group (NUL-terminated file contents; either may be
 * NULL when the image lacks the file).  A numeric user not in passwd is
 * taken as is with gid 0, as Docker does; a named user
 * must exist ("user 'x' not found in the image's /etc/passwd"), likewise
 * a named group.  The user's primary gid comes from passwd unless spec
 * names a group; supplementary groups (only when spec names no group, as
 * runc) are those of group listing the user's name. */
int passwd_resolve(const char *passwd, const char *group, const char *spec, struct passwd_ids *out,
		   error **err);

#endif
