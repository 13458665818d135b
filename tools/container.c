/* container — container records in the store (see container.h). */
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr.h"
#include "imgcfg.h"
#include "report.h"
#include "util.h"

/* ------------------------------------------------------------ accessors */

static const char *cfg_str(const struct ctn *c, const char *key)
{
	const char *v = json_string_value(json_object_get(c->config, key));
	return v ? v : "";
}

const char *ctn_name(const struct ctn *c)
{
	return cfg_str(c, "name");
}

const char *ctn_image(const struct ctn *c)
{
	return cfg_str(c, "image");
}

const char *ctn_image_id(const struct ctn *c)
{
	return cfg_str(c, "image_id");
}

time_t ctn_created(const struct ctn *c)
{
	return (time_t)json_integer_value(json_object_get(c->config, "created"));
}

char *ctn_path(const struct ctn *c, const char *file)
{
	return lfs_xasprintf("%s/%s", c->dir, file);
}

/* ------------------------------------------------------------ files */

static char *containers_dir(store *s, error **err)
{
	char *d = lfs_xasprintf("%s/containers", store_root(s));
	if (mkdir(d, 0700) < 0 && errno != EEXIST) {
		error_make(err, errno, "cannot create '%s'", d);
		free(d);
		return NULL;
	}
	return d;
}

/* Writes j as dir/name: temp + fsync + rename. */
static int write_json(const char *dir, const char *name, json_t *j, error **err)
{
	cleanup_free char *tmp = lfs_xasprintf("%s/.%s.XXXXXX", dir, name);
	cleanup_free char *path = lfs_xasprintf("%s/%s", dir, name);
	cleanup_fd int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_make(err, errno, "cannot create a file in '%s'", dir);
	if (json_dumpfd(j, fd, JSON_INDENT(2) | JSON_SORT_KEYS) < 0 || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return error_make(err, e, "cannot write '%s'", path);
	}
	return 0;
}

static int read_json(const char *dir, const char *name, json_t **out, error **err)
{
	cleanup_free char *path = lfs_xasprintf("%s/%s", dir, name);
	json_error_t je;
	*out = json_load_file(path, 0, &je);
	if (!*out)
		return error_make(err, 0, "cannot read '%s': %s", path, je.text);
	return 0;
}

/* ------------------------------------------------------------ state */

static const char *const status_names[] = {"created", "running", "exited"};

static void state_from_json(struct ctn_state *st, json_t *j)
{
	const char *s = json_string_value(json_object_get(j, "status"));
	st->status = CTN_CREATED;
	for (int i = 0; s && i < 3; i++)
		if (!strcmp(s, status_names[i]))
			st->status = (enum ctn_status)i;
	st->monitor = (pid_t)json_integer_value(json_object_get(j, "monitor_pid"));
	st->monitor_start =
	    (unsigned long long)json_integer_value(json_object_get(j, "monitor_start"));
	s = json_string_value(json_object_get(j, "boot_id"));
	snprintf(st->boot_id, sizeof(st->boot_id), "%s", s ? s : "");
	st->init_pid = (pid_t)json_integer_value(json_object_get(j, "init_pid"));
	st->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	st->started_at = (time_t)json_integer_value(json_object_get(j, "started_at"));
	st->finished_at = (time_t)json_integer_value(json_object_get(j, "finished_at"));
	free(st->error);
	s = json_string_value(json_object_get(j, "error"));
	st->error = s ? lfs_xstrdup(s) : NULL;
}

int ctn_state_write(struct ctn *c, error **err)
{
	const struct ctn_state *st = &c->state;
	cleanup_json json_t *j = json_pack(
	    "{s:s, s:I, s:I, s:I, s:i, s:I, s:I}", "status", status_names[st->status],
	    "monitor_pid", (json_int_t)st->monitor, "monitor_start", (json_int_t)st->monitor_start,
	    "init_pid", (json_int_t)st->init_pid, "exit_code", st->exit_code, "started_at",
	    (json_int_t)st->started_at, "finished_at", (json_int_t)st->finished_at);
	if (st->error)
		json_object_set_new(j, "error", json_string(st->error));
	if (st->boot_id[0])
		json_object_set_new(j, "boot_id", json_string(st->boot_id));
	return write_json(c->dir, "state.json", j, err);
}

unsigned long long ctn_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold blanks and parens: fields count from the last ')' */
	const char *p = strrchr(buf, ')');
	unsigned long long start = 0;
	char state = 0;
	if (!p || sscanf(p + 2,
			 "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &state, &start) != 2)
		return 0;
	return state == 'Z' || state == 'X' ? 0 : start;
}

void ctn_boot_id(char out[40])
{
	cleanup_fd int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, 39);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		n--;
	out[n > 0 ? n : 0] = '\0';
}

int ctn_monitor_alive(const struct ctn *c)
{
	char boot[40];
	if (c->state.monitor <= 0)
		return 0;
	ctn_boot_id(boot);
	if (c->state.boot_id[0] && boot[0] && strcmp(boot, c->state.boot_id))
		return 0; /* recorded before a reboot */
	unsigned long long t = ctn_proc_start(c->state.monitor);
	return t != 0 && t == c->state.monitor_start;
}

int ctn_lock(struct ctn *c, error **err)
{
	if (c->lock_fd >= 0)
		return 0;
	cleanup_free char *path = ctn_path(c, "lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_make(err, errno, "cannot open '%s'", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return error_make(err, e, "cannot lock '%s'", path);
		}
	}
	c->lock_fd = fd;
	return 0;
}

void ctn_unlock(struct ctn *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
}

int ctn_refresh(struct ctn *c, error **err)
{
	cleanup_json json_t *j = NULL;
	if (read_json(c->dir, "state.json", &j, err) < 0)
		return -1;
	state_from_json(&c->state, j);
	if (c->state.status != CTN_RUNNING || ctn_monitor_alive(c))
		return 0;
	/* The monitor died without recording the end (kill -9, reboot). */
	c->state.status = CTN_EXITED;
	c->state.exit_code = 255;
	c->state.finished_at = time(NULL);
	c->state.init_pid = 0;
	int held = c->lock_fd >= 0;
	error *ignored = NULL;
	if (held || ctn_lock(c, &ignored) == 0) {
		ctn_state_write(c, &ignored);
		if (!held)
			ctn_unlock(c);
	}
	error_free(ignored);
	return 0;
}

/* ------------------------------------------------------------ records */

static int is_hex_id(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int load(const char *cdir, const char *id, struct ctn **out, error **err)
{
	struct ctn *c = lfs_xcalloc(1, sizeof(*c));
	c->id = lfs_xstrdup(id);
	c->dir = lfs_xasprintf("%s/%s", cdir, id);
	c->lock_fd = -1;
	if (read_json(c->dir, "config.json", &c->config, err) < 0 || ctn_refresh(c, err) < 0) {
		ctn_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void ctn_free(struct ctn *c)
{
	if (!c)
		return;
	ctn_unlock(c);
	free(c->id);
	free(c->dir);
	free(c->state.error);
	json_decref(c->config);
	free(c);
}

void ctn_list_free(struct ctn **cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctn_free(cs[i]);
	free(cs);
}

static int newest_first(const void *a, const void *b)
{
	const struct ctn *x = *(struct ctn *const *)a, *y = *(struct ctn *const *)b;
	time_t tx = ctn_created(x), ty = ctn_created(y);
	return tx < ty ? 1 : tx > ty ? -1 : strcmp(x->id, y->id);
}

int ctn_list(store *s, struct ctn ***out, size_t *n, error **err)
{
	cleanup_free char *cdir = containers_dir(s, err);
	if (!cdir)
		return -1;
	DIR *d = opendir(cdir);
	if (!d)
		return error_make(err, errno, "cannot read '%s'", cdir);
	struct ctn **cs = NULL;
	size_t cnt = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct ctn *c;
		error *skip = NULL;
		if (!is_hex_id(e->d_name))
			continue;
		/* A record being created or removed right now is skipped. */
		if (load(cdir, e->d_name, &c, &skip) < 0) {
			error_free(skip);
			continue;
		}
		cs = lfs_xrealloc(cs, (cnt + 1) * sizeof(*cs));
		cs[cnt++] = c;
	}
	closedir(d);
	if (cnt)
		qsort(cs, cnt, sizeof(*cs), newest_first);
	*out = cs;
	*n = cnt;
	return 0;
}

/* Docker's order: full id, then name, then a unique id prefix. */
static struct ctn *match(struct ctn **cs, size_t n, const char *ref, int *ambiguous)
{
	struct ctn *found = NULL;
	size_t len = strlen(ref);
	*ambiguous = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cs[i]->id, ref) || !strcmp(ctn_name(cs[i]), ref))
			return cs[i];
	for (size_t i = 0; len > 0 && i < n; i++) {
		if (strncmp(cs[i]->id, ref, len))
			continue;
		if (found)
			*ambiguous = 1;
		found = cs[i];
	}
	return *ambiguous ? NULL : found;
}

int ctn_open(store *s, const char *ref, struct ctn **out, error **err)
{
	struct ctn **cs;
	size_t n;
	if (ctn_list(s, &cs, &n, err) < 0)
		return -1;
	int ambiguous;
	struct ctn *c = match(cs, n, ref, &ambiguous);
	for (size_t i = 0; i < n; i++)
		if (cs[i] == c)
			cs[i] = NULL;
	ctn_list_free(cs, n);
	if (ambiguous)
		return error_fail(err, EINVAL,
				  "'%s' matches several containers: give more of the id, or the "
				  "name",
				  ref);
	if (!c)
		return error_fail(err, ENOENT,
				  "no such container: '%s'; run 'layerfs ps -a' to list containers",
				  ref);
	*out = c;
	return 0;
}

/* ------------------------------------------------------------ names */

static const char *const adjectives[] = {
    "admiring", "adoring",  "affectionate",  "agitated",   "amazing",	    "angry",
    "awesome",	"blissful", "bold",	     "boring",	   "brave",	    "busy",
    "charming", "clever",   "compassionate", "competent",  "condescending", "confident",
    "cool",	"cranky",   "crazy",	     "dazzling",   "determined",    "distracted",
    "dreamy",	"eager",    "ecstatic",	     "elastic",	   "elated",	    "elegant",
    "eloquent", "epic",	    "exciting",	     "fervent",	   "festive",	    "flamboyant",
    "focused",	"friendly", "frosty",	     "funny",	   "gallant",	    "gifted",
    "goofy",	"gracious", "great",	     "happy",	   "hardcore",	    "heuristic",
    "hopeful",	"hungry",   "infallible",    "inspiring",  "intelligent",   "jolly",
    "jovial",	"keen",	    "kind",	     "laughing",   "loving",	    "lucid",
    "magical",	"modest",   "musing",	     "mystifying", "naughty",	    "nervous",
    "nice",	"nifty",    "nostalgic",     "objective",  "optimistic",    "peaceful",
    "pedantic", "pensive",  "practical",     "priceless",  "quirky",	    "quizzical",
    "relaxed",	"reverent", "romantic",	     "sad",	   "serene",	    "sharp",
    "silly",	"sleepy",   "stoic",	     "strange",	   "suspicious",    "sweet",
    "tender",	"thirsty",  "trusting",	     "unruffled",  "upbeat",	    "vibrant",
    "vigilant", "vigorous", "wizardly",	     "wonderful",  "xenodochial",   "youthful",
    "zealous",	"zen",
};

static const char *const surnames[] = {
    "albattani",   "allen",	 "almeida",	 "archimedes",	 "ardinghelli",	  "babbage",
    "banach",	   "bardeen",	 "bartik",	 "bassi",	 "bell",	  "benz",
    "bhabha",	   "blackwell",	 "bohr",	 "booth",	 "borg",	  "bose",
    "brahmagupta", "brattain",	 "brown",	 "carson",	 "chandrasekhar", "curie",
    "darwin",	   "davinci",	 "dijkstra",	 "dubinsky",	 "easley",	  "einstein",
    "elion",	   "engelbart",	 "euclid",	 "euler",	 "fermat",	  "fermi",
    "feynman",	   "franklin",	 "galileo",	 "gates",	 "goldberg",	  "goldstine",
    "goodall",	   "hamilton",	 "hawking",	 "heisenberg",	 "hermann",	  "hodgkin",
    "hoover",	   "hopper",	 "hugle",	 "hypatia",	 "jackson",	  "jang",
    "jennings",	   "jepsen",	 "joliot",	 "jones",	 "kalam",	  "kare",
    "keller",	   "kepler",	 "khorana",	 "kilby",	 "kirch",	  "knuth",
    "kowalevski",  "lalande",	 "lamarr",	 "leakey",	 "leavitt",	  "lewin",
    "lichterman",  "liskov",	 "lovelace",	 "lumiere",	 "mahavira",	  "mayer",
    "mccarthy",	   "mcclintock", "mclean",	 "meitner",	 "mendel",	  "mirzakhani",
    "montalcini",  "moore",	 "morse",	 "napier",	 "nash",	  "neumann",
    "newton",	   "nobel",	 "noether",	 "pare",	 "pasteur",	  "payne",
    "perlman",	   "pike",	 "poincare",	 "ptolemy",	 "raman",	  "ramanujan",
    "ride",	   "ritchie",	 "roentgen",	 "rosalind",	 "saha",	  "sammet",
    "shannon",	   "shaw",	 "shockley",	 "sinoussi",	 "snyder",	  "spence",
    "stonebraker", "sutherland", "swanson",	 "swartz",	 "tesla",	  "thompson",
    "torvalds",	   "turing",	 "varahamihira", "visvesvaraya", "volhard",	  "wescoff",
    "wiles",	   "williams",	 "wilson",	 "wing",	 "wozniak",	  "wright",
    "yalow",	   "yonath",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

char *ctn_random_name(unsigned attempt)
{
	uint32_t r[2];
	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		r[0] = (uint32_t)rand();
		r[1] = (uint32_t)rand();
	}
	const char *a = adjectives[r[0] % NELEM(adjectives)], *b = surnames[r[1] % NELEM(surnames)];
	/* docker: "boring_wozniak" is not generated (Steve Wozniak is not boring) */
	if (!strcmp(a, "boring") && !strcmp(b, "wozniak"))
		b = "turing";
	if (attempt == 0)
		return lfs_xasprintf("%s_%s", a, b);
	return lfs_xasprintf("%s_%s%u", a, b, (r[0] >> 16) % 10);
}

/* ------------------------------------------------------------ create */

static int name_taken(store *s, const char *name, error **err)
{
	struct ctn **cs;
	size_t n;
	if (ctn_list(s, &cs, &n, err) < 0)
		return -1;
	int taken = 0;
	for (size_t i = 0; i < n && !taken; i++)
		taken = !strcmp(ctn_name(cs[i]), name);
	ctn_list_free(cs, n);
	return taken;
}

static int check_name(const char *name, error **err)
{
	/* docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
	size_t len = strlen(name);
	static const char ok[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	/* A name that looks like a full id would shadow that container. */
	if (len < 2 || len > 128 || strspn(name, ok) != len || strchr("_.-", name[0]) ||
	    is_hex_id(name))
		return error_usage(err,
				   "invalid container name '%s': use letters, digits, '_', '.' and "
				   "'-', starting with a letter or digit (at least 2 characters, "
				   "not 64 hex digits)",
				   name);
	return 0;
}

static char *pick_name(store *s, const char *want, error **err)
{
	if (want) {
		int t = check_name(want, err) < 0 ? -1 : name_taken(s, want, err);
		if (t > 0)
			error_fail(err, EEXIST,
				   "the container name '%s' is already in use: remove that "
				   "container (layerfs rm %s) or choose another name",
				   want, want);
		return t == 0 ? lfs_xstrdup(want) : NULL;
	}
	for (unsigned attempt = 0;; attempt++) {
		char *name = ctn_random_name(attempt > 3);
		int t = name_taken(s, name, err);
		if (t == 0)
			return name;
		free(name);
		if (t < 0)
			return NULL;
	}
}

static char *random_id(void)
{
	unsigned char r[32];
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)rand();
	char *id = lfs_xmalloc(65);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
	return id;
}

/* mkdir of the record and its subdirectories, then config and state. */
static int make_record(const char *cdir, json_t *config, const char *id, error **err)
{
	cleanup_free char *dir = lfs_xasprintf("%s/%s", cdir, id);
	cleanup_free char *tmp = lfs_xasprintf("%s/.new-%s", cdir, id);
	cleanup_free char *up = lfs_xasprintf("%s/upper", tmp);
	cleanup_free char *wk = lfs_xasprintf("%s/work", tmp);
	if (mkdir(tmp, 0700) < 0 || mkdir(up, 0755) < 0 || mkdir(wk, 0700) < 0)
		return error_make(err, errno, "cannot create the container's directory '%s'", dir);
	struct ctn c = {.dir = tmp, .lock_fd = -1};
	if (write_json(tmp, "config.json", config, err) < 0 || ctn_state_write(&c, err) < 0)
		return -1;
	/* Readers see the record whole or not at all. */
	if (rename(tmp, dir) < 0)
		return error_make(err, errno, "cannot create the container's directory '%s'", dir);
	return 0;
}

int ctn_create(store *s, json_t *config, const char *name, struct ctn **out, error **err)
{
	cleanup_free char *cdir = containers_dir(s, err);
	if (!cdir || store_lock(s, 1, err) < 0)
		return -1;
	cleanup_free char *n = pick_name(s, name, err);
	cleanup_free char *id = random_id();
	int ret = -1;
	if (n) {
		json_object_set_new(config, "id", json_string(id));
		json_object_set_new(config, "name", json_string(n));
		json_object_set_new(config, "created", json_integer((json_int_t)time(NULL)));
		ret = make_record(cdir, config, id, err);
	}
	store_unlock(s);
	return ret < 0 ? ret : load(cdir, id, out, err);
}

/* ------------------------------------------------------------ removal */

/* rm -rf below dirfd: directories are made writable first (an image may
 * have 0555 ones); nothing is followed. */
static int remove_tree_at(int parent, const char *name)
{
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	int unlink_err = errno;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) /* not a directory: why it could not be unlinked */
		return errno == ENOTDIR ? -unlink_err : -errno;
	fchmod(fd, 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			int r = remove_tree_at(dirfd(d), e->d_name);
			ret = ret ? ret : r;
		}
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

struct rm_at {
	int dir;
	const char *name;
};

static int rm_at_call(void *arg)
{
	const struct rm_at *a = arg;
	return remove_tree_at(a->dir, a->name);
}

/* Rootless: files of a container's root user are the caller's, but what
 * it gave to other users belongs to the caller's subordinate ids: as
 * podman does, the tree is removed in a user namespace that maps them
 * (where we are root).  Returns remove_tree_at's result there, or -1
 * with *why when there is no such namespace. */
static int remove_as_subids(int dir, const char *name, error **why)
{
	struct rm_at a = {dir, name};
	return ctr_userns_call(rm_at_call, &a, why);
}

int ctn_remove(store *s, struct ctn *c, error **err)
{
	cleanup_free char *cdir = containers_dir(s, err);
	if (!cdir)
		return -1;
	cleanup_fd int dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_make(err, errno, "cannot open '%s'", cdir);
	/* Renamed away first: a half-removed record is never listed. */
	cleanup_free char *gone = lfs_xasprintf(".rm-%s", c->id);
	if (renameat(dfd, c->id, dfd, gone) < 0)
		return error_make(err, errno, "cannot remove container '%s'", c->dir);
	int r = remove_tree_at(dfd, gone);
	error *why = NULL;
	if ((r == -EACCES || r == -EPERM) && geteuid() != 0)
		r = remove_as_subids(dfd, gone, &why);
	if (why) {
		error_fail(err, why->code,
			   "cannot remove all of '%s/%s' (files the container gave to other "
			   "users): %s; or remove it as root",
			   cdir, gone, why->msg);
		error_free(why);
		return -1;
	}
	if (r < 0)
		return error_make(err, -r,
				  "cannot remove all of '%s/%s' (files the container gave to "
				  "other users?); remove it as root",
				  cdir, gone);
	return 0;
}

int ctn_collect(store *s, error **err)
{
	cleanup_free char *cdir = containers_dir(s, err);
	if (!cdir)
		return -1;
	cleanup_fd int dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 0));
	if (!d)
		return error_make(err, errno, "cannot read '%s'", cdir);
	time_t now = time(NULL);
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		int old_new = !strncmp(e->d_name, ".new-", 5) &&
			      fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			      now - st.st_mtime > 3600;
		if (!strncmp(e->d_name, ".rm-", 4) || old_new) {
			int r = remove_tree_at(dfd, e->d_name);
			if (r < 0 && !ret)
				ret = error_make(err, -r, "cannot remove '%s/%s'", cdir, e->d_name);
		}
	}
	closedir(d);
	return ret;
}

int ctn_prune(store *s, void (*report)(void *arg, const char *id), void *arg, uint64_t *freed,
	      error **err)
{
	struct ctn **cs = NULL;
	size_t n = 0;
	*freed = 0;
	int ret = ctn_list(s, &cs, &n, err);
	for (size_t i = 0; ret >= 0 && i < n; i++) {
		if (cs[i]->state.status == CTN_RUNNING || ctn_lock(cs[i], err) < 0)
			continue;
		/* Re-checked under its lock: it may have been started since. */
		ret = ctn_refresh(cs[i], err);
		if (ret >= 0 && cs[i]->state.status != CTN_RUNNING) {
			uint64_t size = store_tree_size(cs[i]->dir);
			ret = ctn_remove(s, cs[i], err);
			if (ret >= 0) {
				*freed += size;
				report(arg, cs[i]->id);
			}
		}
		ctn_unlock(cs[i]);
	}
	if (ret >= 0 || cs)
		ctn_list_free(cs, n);
	if (ret >= 0)
		ret = ctn_collect(s, err);
	return ret;
}

/* ------------------------------------------------------------ display */

/* report_ago() without " ago": go-units HumanDuration. */
static char *human_duration(time_t since, time_t now)
{
	char *s = report_ago(since, now);
	size_t len = strlen(s);
	if (len > 4 && !strcmp(s + len - 4, " ago"))
		s[len - 4] = '\0';
	return s;
}

char *ctn_status_text(const struct ctn *c, time_t now)
{
	const struct ctn_state *st = &c->state;
	if (st->status == CTN_RUNNING) {
		cleanup_free char *d = human_duration(st->started_at, now);
		return lfs_xasprintf("Up %s", d);
	}
	if (st->status == CTN_EXITED) {
		cleanup_free char *ago = report_ago(st->finished_at, now);
		return lfs_xasprintf("Exited (%d) %s", st->exit_code, ago);
	}
	return lfs_xstrdup("Created");
}

char *ctn_command_text(const struct ctn *c)
{
	lfs_buf b = LFS_BUF_INIT;
	json_t *argv = json_object_get(c->config, "argv");
	size_t i;
	json_t *v;
	json_array_foreach(argv, i, v)
	{
		const char *arg = json_string_value(v) ? json_string_value(v) : "";
		/* docker's list: arguments with blanks in single quotes */
		int quote = i > 0 && strchr(arg, ' ');
		lfs_buf_addf(&b, "%s%s%s%s", i ? " " : "", quote ? "'" : "", arg, quote ? "'" : "");
	}
	return lfs_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------ init pid */

/* PPid and whether pid is PID 1 of a PID namespace below ours. */
static int proc_status(pid_t pid, pid_t *ppid, int *ns_init)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	*ppid = 0;
	*ns_init = 0;
	while (f && getline(&line, &cap, f) > 0) {
		if (!strncmp(line, "PPid:", 5))
			*ppid = (pid_t)atoi(line + 5);
		if (!strncmp(line, "NSpid:", 6)) {
			char *last = strrchr(line, '\t');
			*ns_init = last && last != strchr(line, '\t') && atoi(last + 1) == 1;
		}
	}
	return f ? 0 : -1;
}

static int descends_from(pid_t pid, pid_t ancestor)
{
	for (int depth = 0; depth < 8 && pid > 1; depth++) {
		int ns_init;
		if (proc_status(pid, &pid, &ns_init) < 0)
			return 0;
		if (pid == ancestor)
			return 1;
	}
	return 0;
}

pid_t ctn_init_pid(const struct ctn *c)
{
	if (c->state.status != CTN_RUNNING || !ctn_monitor_alive(c))
		return 0;
	if (c->state.init_pid > 0)
		return c->state.init_pid;
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && !found && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name), ppid;
		int ns_init;
		if (pid > 0 && proc_status(pid, &ppid, &ns_init) == 0 && ns_init &&
		    descends_from(pid, c->state.monitor))
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* ------------------------------------------------------------ inspect */

static json_t *rfc3339(time_t t)
{
	char buf[32];
	struct tm tm;
	if (t <= 0 || !gmtime_r(&t, &tm))
		return json_string("0001-01-01T00:00:00Z");
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *state_json(const struct ctn *c)
{
	const struct ctn_state *st = &c->state;
	json_t *j = json_pack("{s:s, s:b, s:I, s:I, s:i, s:s, s:o, s:o}", "Status",
			      status_names[st->status], "Running", st->status == CTN_RUNNING, "Pid",
			      (json_int_t)ctn_init_pid(c), "MonitorPid",
			      (json_int_t)(st->status == CTN_RUNNING ? st->monitor : 0), "ExitCode",
			      st->exit_code, "Error", st->error ? st->error : "", "StartedAt",
			      rfc3339(st->started_at), "FinishedAt", rfc3339(st->finished_at));
	return j;
}

/* docker's Mounts: the -v binds, then the anonymous volumes. */
static json_t *mounts_json(const struct ctn *c)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(c->config, "volumes"), i, v)
	{
		json_array_append_new(
		    out,
		    json_pack("{s:s, s:O, s:O, s:s, s:b, s:s}", "Type", "bind", "Source",
			      json_object_get(v, "src"), "Destination", json_object_get(v, "dst"),
			      "Mode", json_is_true(json_object_get(v, "readonly")) ? "ro" : "",
			      "RW", !json_is_true(json_object_get(v, "readonly")), "Propagation",
			      "rprivate"));
	}
	json_array_foreach(json_object_get(c->config, "image_volumes"), i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		cleanup_free char *src =
		    lfs_xasprintf("%s/volumes/%s/_data", c->dir, name ? name : "");
		json_array_append_new(out,
				      json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:b, s:s}", "Type",
						"volume", "Name", name ? name : "", "Source", src,
						"Destination", json_object_get(v, "dst"), "Driver",
						"local", "Mode", "", "RW", 1, "Propagation", ""));
	}
	return out;
}

json_t *ctn_inspect_json(const struct ctn *c)
{
	json_t *cfg = c->config, *argv = json_object_get(cfg, "argv");
	json_t *args = json_array();
	char host[13];
	snprintf(host, sizeof(host), "%s",
		 *cfg_str(c, "hostname") ? cfg_str(c, "hostname") : c->id);
	for (size_t i = 1; i < json_array_size(argv); i++)
		json_array_append(args, json_array_get(argv, i));
	return json_pack(
	    "{s:s, s:s, s:o, s:s, s:o, s:o, s:s, s:s, s:s, s:O, s:o, s:O, s:{s:s, s:s, s:O, "
	    "s:O, s:s, s:b, s:b}, s:{s:s, s:s, s:s}}",
	    "Id", c->id, "Name", ctn_name(c), "Created", rfc3339(ctn_created(c)), "Path",
	    json_string_value(json_array_get(argv, 0)) ? json_string_value(json_array_get(argv, 0))
						       : "",
	    "Args", args, "State", state_json(c), "Image", ctn_image_id(c), "ImageName",
	    ctn_image(c), "NetworkMode", cfg_str(c, "network"), "Ports",
	    json_object_get(cfg, "ports"), "Mounts", mounts_json(c), "Layers",
	    json_object_get(cfg, "layers"), "Config", "Hostname", host, "User", cfg_str(c, "user"),
	    "Env", json_object_get(cfg, "env"), "Cmd", argv, "WorkingDir", cfg_str(c, "cwd"), "Tty",
	    json_is_true(json_object_get(cfg, "tty")), "OpenStdin",
	    json_is_true(json_object_get(cfg, "interactive")), "LayerFS", "Dir", c->dir, "Upper",
	    "upper", "Log", "log");
}
