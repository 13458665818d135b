/* ignore — .dockerignore parsing and matching (see ignore.h).
 *
 * A pattern is kept as its cleaned text plus, for the patterns Docker
 * turns into a regular expression, a small token program run as a
 * bit-parallel NFA: one bit per token, so a path is matched in one pass
 * whatever the number of stars, and a malicious pattern cannot make the
 * matcher backtrack. */
#include "ignore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

/* Docker's match types (patternmatcher's exactMatch ... regexpMatch). */
enum mtype { MT_EXACT, MT_PREFIX, MT_SUFFIX, MT_REGEX };

enum tkind {
	TK_LIT,	 /* one character */
	TK_ANY,	 /* '?': one character but '/' */
	TK_STAR, /* '*': any run of characters but '/' */
	TK_CLASS,
	TK_DSTAR,     /* "**" inside a pattern: any run of components, or none */
	TK_DSTAR_END, /* "**" ending a pattern: anything (but a newline) */
};

struct range {
	uint32_t lo, hi;
};

struct tok {
	uint8_t kind, neg;
	uint32_t ch;	 /* TK_LIT */
	uint32_t r0, nr; /* TK_CLASS: ranges[r0 .. r0 + nr) */
};

/* Masks of nw words each; bit i stands for token i, bit ntoks for "matched". */
enum { M_EPS, M_DSTAR, M_STAR, M_DEND, M_FIXED };
#define ASCII_TABLE_MAX_WORDS 4

struct pat {
	char *text; /* cleaned, without the '!' */
	size_t len;
	bool excl;
	enum mtype type;
	struct tok *toks;
	size_t ntoks, atoks;
	struct range *ranges;
	size_t nranges, aranges;
	size_t nw;
	uint64_t *masks; /* M_FIXED masks, then (when nw is small) 128 ASCII masks */
};

struct ign {
	struct pat *pats;
	size_t n, alloc;
	size_t nexcl;
};

/* ---- Go's text primitives ------------------------------------------------- */

/* utf8.DecodeRune: an invalid or truncated sequence is U+FFFD, one byte wide. */
static uint32_t utf8_decode(const char *str, size_t n, size_t *width)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t r, min;
	size_t need;

	*width = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, r = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, r = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, r = s[0] & 0x07, min = 0x10000;
	else
		return 0xfffd;
	if (n < need)
		return 0xfffd;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0xfffd;
		r = r << 6 | (s[i] & 0x3f);
	}
	if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
		return 0xfffd;
	*width = need;
	return r;
}

/* unicode.IsSpace */
static bool go_space(uint32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return true;
	default:
		return r >= 0x2000 && r <= 0x200a;
	}
}

/* utf8.DecodeLastRune: the character ending at s[n - 1]. */
static uint32_t utf8_decode_last(const char *s, size_t n, size_t *width)
{
	ptrdiff_t end = (ptrdiff_t)n, start = end - 1, lim = end - 4 < 0 ? 0 : end - 4;
	uint32_t r;

	*width = 1;
	if ((unsigned char)s[start] < 0x80)
		return (unsigned char)s[start];
	for (start--; start >= lim; start--)
		if (((unsigned char)s[start] & 0xc0) != 0x80)
			break;
	if (start < 0)
		start = 0;
	r = utf8_decode(s + start, (size_t)(end - start), width);
	if (start + (ptrdiff_t)*width != end) {
		*width = 1;
		return 0xfffd;
	}
	return r;
}

/* strings.TrimSpace on s[0 .. *n), returning the new start. */
static const char *trim_space(const char *s, size_t *n)
{
	size_t w;
	while (*n && go_space(utf8_decode(s, *n, &w))) {
		s += w;
		*n -= w;
	}
	while (*n && go_space(utf8_decode_last(s, *n, &w)))
		*n -= w;
	return s;
}

/* Go's path.Clean of p[0 .. n) into out (reset first). */
static void clean_into(lfs_buf *out, const char *p, size_t n)
{
	bool rooted = n && p[0] == '/';
	size_t r = rooted, dotdot = rooted;

	lfs_buf_reset(out);
	if (rooted)
		lfs_buf_addch(out, '/');
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (out->len > dotdot) {
				size_t w = out->len - 1;
				while (w > dotdot && out->data[w] != '/')
					w--;
				lfs_buf_setlen(out, w);
			} else if (!rooted) {
				if (out->len)
					lfs_buf_addch(out, '/');
				lfs_buf_addstr(out, "..");
				dotdot = out->len;
			}
		} else {
			if (out->len != (size_t)rooted)
				lfs_buf_addch(out, '/');
			for (; r < n && p[r] != '/'; r++)
				lfs_buf_addch(out, p[r]);
		}
	}
	if (!out->len)
		lfs_buf_addch(out, '.');
}

char *ign_path_clean(const char *path)
{
	lfs_buf b = LFS_BUF_INIT;
	clean_into(&b, path, strlen(path));
	return lfs_buf_detach(&b, NULL);
}

/* ---- Go's path.Match -------------------------------------------------------- */

/* getEsc: one character of a class, at c[*i]. */
static int get_esc(const char *c, size_t n, size_t *i, uint32_t *r)
{
	size_t w;
	if (*i >= n || c[*i] == '-' || c[*i] == ']')
		return -EINVAL;
	if (c[*i] == '\\' && ++*i >= n)
		return -EINVAL;
	*r = utf8_decode(c + *i, n - *i, &w);
	if (*r == 0xfffd && w == 1)
		return -EINVAL;
	*i += w;
	return *i < n ? 0 : -EINVAL;
}

/* A class starting after '[' at c[*i]: 1 when r is in it (never when
 * failed), 0 when not, -EINVAL when malformed. */
static int match_class(const char *c, size_t n, size_t *i, uint32_t r, bool failed)
{
	bool neg = false, in = false;
	uint32_t lo, hi;

	if (*i < n && c[*i] == '^') {
		neg = true;
		++*i;
	}
	for (int nrange = 0;; nrange++) {
		if (*i < n && c[*i] == ']' && nrange > 0) {
			++*i;
			break;
		}
		if (get_esc(c, n, i, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (c[*i] == '-') {
			++*i;
			if (get_esc(c, n, i, &hi) < 0)
				return -EINVAL;
		}
		if (lo <= r && r <= hi)
			in = true;
	}
	return !failed && in != neg;
}

/* matchChunk: 1 and *used = bytes of s matched, 0, or -EINVAL.  Goes on
 * parsing after a mismatch so that a malformed chunk is always reported. */
static int match_chunk(const char *c, size_t cn, const char *s, size_t sn, size_t *used)
{
	bool failed = false;
	size_t ci = 0, si = 0, w;
	uint32_t r;
	int m;

	while (ci < cn) {
		if (!failed && si == sn)
			failed = true;
		switch (c[ci]) {
		case '[':
			r = 0;
			if (!failed) {
				r = utf8_decode(s + si, sn - si, &w);
				si += w;
			}
			ci++;
			if ((m = match_class(c, cn, &ci, r, failed)) < 0)
				return m;
			failed = !m;
			break;
		case '?':
			if (!failed) {
				failed = s[si] == '/';
				utf8_decode(s + si, sn - si, &w);
				si += w;
			}
			ci++;
			break;
		case '\\':
			if (++ci == cn)
				return -EINVAL;
			/* fallthrough */
		default:
			if (!failed)
				failed = c[ci] != s[si++];
			ci++;
		}
	}
	*used = si;
	return !failed;
}

/* scanChunk: leading stars, then up to the next '*' outside a class. */
static size_t scan_chunk(const char **p, size_t *pn, bool *star)
{
	bool inrange = false;
	size_t i;

	*star = false;
	while (*pn && **p == '*') {
		++*p;
		--*pn;
		*star = true;
	}
	for (i = 0; i < *pn; i++) {
		if ((*p)[i] == '\\' && i + 1 < *pn)
			i++;
		else if ((*p)[i] == '[')
			inrange = true;
		else if ((*p)[i] == ']')
			inrange = false;
		else if ((*p)[i] == '*' && !inrange)
			break;
	}
	return i;
}

static int check_rest(const char *p, size_t pn)
{
	size_t used;
	bool star;
	while (pn) {
		size_t cn = scan_chunk(&p, &pn, &star);
		if (match_chunk(p, cn, "", 0, &used) < 0)
			return -EINVAL;
		p += cn;
		pn -= cn;
	}
	return 0;
}

/* A star chunk: tries the chunk after skipping 1, 2, ... bytes of name
 * (never a '/'); *ni advances on success. */
static int match_after_star(const char *c, size_t cn, bool last, const char *name, size_t nn,
			    size_t *ni)
{
	size_t used;
	for (size_t i = *ni; i < nn && name[i] != '/'; i++) {
		int r = match_chunk(c, cn, name + i + 1, nn - i - 1, &used);
		if (r < 0)
			return r;
		if (r && !(last && i + 1 + used < nn)) {
			*ni = i + 1 + used;
			return 1;
		}
	}
	return 0;
}

static int go_match(const char *p, size_t pn, const char *name, size_t nn)
{
	size_t ni = 0, used;
	bool star;
	int r;

	while (pn) {
		size_t cn = scan_chunk(&p, &pn, &star);
		const char *c = p;
		p += cn;
		pn -= cn;
		if (star && !cn)
			return memchr(name + ni, '/', nn - ni) == NULL;
		r = match_chunk(c, cn, name + ni, nn - ni, &used);
		if (r == 1 && (ni + used == nn || pn)) {
			ni += used;
			continue;
		}
		if (r < 0)
			return r;
		if (star && (r = match_after_star(c, cn, !pn, name, nn, &ni)) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		return check_rest(p, pn);
	}
	return ni == nn;
}

int ign_go_match(const char *pattern, const char *name)
{
	return go_match(pattern, strlen(pattern), name, strlen(name));
}

/* ---- compiling a pattern ---------------------------------------------------- */

static struct tok *add_tok(struct pat *p, enum tkind kind, uint32_t ch)
{
	if (p->ntoks == p->atoks) {
		p->atoks = p->atoks ? 2 * p->atoks : 8;
		p->toks = lfs_xrealloc(p->toks, p->atoks * sizeof(*p->toks));
	}
	struct tok *t = &p->toks[p->ntoks++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->ch = ch;
	return t;
}

static void add_range(struct pat *p, uint32_t lo, uint32_t hi)
{
	if (p->nranges == p->aranges) {
		p->aranges = p->aranges ? 2 * p->aranges : 4;
		p->ranges = lfs_xrealloc(p->ranges, p->aranges * sizeof(*p->ranges));
	}
	p->ranges[p->nranges++] = (struct range){lo, hi};
}

/* A class after '[' at s[*i], with filepath.Match's syntax. */
static int compile_class(struct pat *p, const char *s, size_t n, size_t *i)
{
	struct tok *t = add_tok(p, TK_CLASS, 0);
	uint32_t lo, hi;

	if (*i < n && s[*i] == '^') {
		t->neg = 1;
		++*i;
	}
	t->r0 = (uint32_t)p->nranges;
	for (;;) {
		if (*i < n && s[*i] == ']' && t->nr > 0) {
			++*i;
			return 0;
		}
		if (get_esc(s, n, i, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (s[*i] == '-') {
			++*i;
			if (get_esc(s, n, i, &hi) < 0)
				return -EINVAL;
		}
		if (lo > hi)
			return -EINVAL; /* Docker's regexp compiler rejects it */
		add_range(p, lo, hi);
		t->nr++;
	}
}

/* "**": what patternmatcher's compile() does with it. */
static void compile_dstar(struct pat *p, const char *s, size_t n, size_t *i, bool first)
{
	++*i;
	if (*i < n && s[*i] == '/')
		++*i;
	if (*i == n) {
		if (p->type == MT_EXACT) {
			p->type = MT_PREFIX;
		} else {
			add_tok(p, TK_DSTAR_END, 0);
			p->type = MT_REGEX;
		}
	} else {
		add_tok(p, TK_DSTAR, 0);
		p->type = MT_REGEX;
	}
	if (first)
		p->type = MT_SUFFIX;
}

/* The token program and match type of p->text (already checked by
 * go_match), one character at a time like Docker's regexp translation. */
static int compile_tokens(struct pat *p)
{
	const char *s = p->text;
	size_t n = p->len, i = 0, w;

	p->type = MT_EXACT;
	for (bool first = true; i < n; first = false) {
		uint32_t ch = utf8_decode(s + i, n - i, &w);
		i += w;
		switch (ch) {
		case '*':
			if (i < n && s[i] == '*') {
				compile_dstar(p, s, n, &i, first);
				continue;
			}
			add_tok(p, TK_STAR, 0);
			break;
		case '?':
			add_tok(p, TK_ANY, 0);
			break;
		case '\\':
			if (i == n) {
				add_tok(p, TK_LIT, ch); /* cannot happen: go_match refused it */
				continue;
			}
			add_tok(p, TK_LIT, utf8_decode(s + i, n - i, &w));
			i += w;
			break;
		case '[':
			if (compile_class(p, s, n, &i) < 0)
				return -EINVAL;
			break;
		case ']':
			add_tok(p, TK_LIT, ch);
			break;
		default:
			add_tok(p, TK_LIT, ch);
			continue; /* a plain character keeps the match type */
		}
		p->type = MT_REGEX;
	}
	return 0;
}

static bool tok_takes(const struct pat *p, const struct tok *t, uint32_t r)
{
	switch (t->kind) {
	case TK_LIT:
		return r == t->ch;
	case TK_ANY:
		return r != '/';
	case TK_CLASS:
		for (uint32_t k = 0; k < t->nr; k++) {
			const struct range *g = &p->ranges[t->r0 + k];
			if (g->lo <= r && r <= g->hi)
				return !t->neg;
		}
		return t->neg;
	default:
		return false;
	}
}

#define BIT_SET(m, i) ((m)[(i) / 64] |= (uint64_t)1 << ((i) % 64))

/* adv: the tokens that consume r and move on. */
static void adv_mask(const struct pat *p, uint32_t r, uint64_t *adv)
{
	memset(adv, 0, p->nw * sizeof(*adv));
	for (size_t i = 0; i < p->ntoks; i++)
		if (tok_takes(p, &p->toks[i], r))
			BIT_SET(adv, i);
}

static void build_masks(struct pat *p)
{
	bool table = p->nw <= ASCII_TABLE_MAX_WORDS;
	size_t nmasks = M_FIXED + (table ? 128 : 0);

	p->masks = lfs_xcalloc(nmasks * p->nw, sizeof(uint64_t));
	for (size_t i = 0; i < p->ntoks; i++) {
		enum tkind k = p->toks[i].kind;
		if (k == TK_STAR || k == TK_DSTAR || k == TK_DSTAR_END)
			BIT_SET(p->masks + M_EPS * p->nw, i);
		if (k == TK_DSTAR)
			BIT_SET(p->masks + M_DSTAR * p->nw, i);
		if (k == TK_STAR)
			BIT_SET(p->masks + M_STAR * p->nw, i);
		if (k == TK_DSTAR_END)
			BIT_SET(p->masks + M_DEND * p->nw, i);
	}
	for (uint32_t r = 0; table && r < 128; r++)
		adv_mask(p, r, p->masks + (M_FIXED + r) * p->nw);
}

static int compile(struct pat *p)
{
	if (compile_tokens(p) < 0)
		return -EINVAL;
	if (p->type == MT_REGEX) {
		p->nw = (p->ntoks + 1 + 63) / 64;
		build_masks(p);
	}
	return 0;
}

/* ---- running a pattern ------------------------------------------------------ */

/* The NFA state: main (one bit per token about to be matched) and loop
 * (the "**" tokens in the middle of their ".*"), nw words each. */
struct nfa {
	const struct pat *p;
	uint64_t *main, *loop, *adv;
	uint64_t small[3 * ASCII_TABLE_MAX_WORDS];
	uint64_t *heap;
};

/* Follows the tokens that may match nothing ('*' and both "**"): adding
 * the reached bits to the eps mask carries through each run of such tokens. */
static void nfa_closure(struct nfa *a)
{
	const uint64_t *eps = a->p->masks + M_EPS * a->p->nw;
	const uint64_t *dstar = a->p->masks + M_DSTAR * a->p->nw;
	uint64_t carry = 0;

	for (size_t w = 0; w < a->p->nw; w++) {
		uint64_t x = a->main[w] & eps[w];
		uint64_t s = eps[w] + x, c1 = s < eps[w];
		uint64_t s2 = s + carry, c2 = s2 < s;
		a->main[w] |= s2 ^ eps[w];
		carry = c1 | c2;
		a->loop[w] |= a->main[w] & dstar[w];
	}
}

static void nfa_init(struct nfa *a, const struct pat *p)
{
	a->p = p;
	a->heap = NULL;
	uint64_t *m = a->small;
	if (p->nw > ASCII_TABLE_MAX_WORDS)
		m = a->heap = lfs_xmalloc(3 * p->nw * sizeof(uint64_t));
	a->main = m;
	a->loop = m + p->nw;
	a->adv = m + 2 * p->nw;
	memset(m, 0, 2 * p->nw * sizeof(uint64_t));
	a->main[0] = 1;
	nfa_closure(a);
}

/* Consumes r; false when no state is left. */
static bool nfa_step(struct nfa *a, uint32_t r)
{
	const struct pat *p = a->p;
	const uint64_t *adv = a->adv, *dstar = p->masks + M_DSTAR * p->nw;
	const uint64_t *star = p->masks + M_STAR * p->nw, *dend = p->masks + M_DEND * p->nw;
	uint64_t carry = 0, any = 0;

	if (r < 128 && p->nw <= ASCII_TABLE_MAX_WORDS)
		adv = p->masks + (M_FIXED + r) * p->nw;
	else
		adv_mask(p, r, a->adv);
	for (size_t w = 0; w < p->nw; w++) {
		uint64_t x = (a->main[w] & adv[w]) | (r == '/' ? a->loop[w] & dstar[w] : 0);
		uint64_t stay = a->main[w] & ((r != '/' ? star[w] : 0) | (r != '\n' ? dend[w] : 0));
		a->main[w] = x << 1 | carry | stay;
		carry = x >> 63;
		if (r == '\n')
			a->loop[w] = 0;
	}
	nfa_closure(a);
	for (size_t w = 0; w < p->nw; w++)
		any |= a->main[w] | a->loop[w];
	return any != 0;
}

/* Runs s through the NFA; false as soon as nothing can match any more. */
static bool nfa_feed(struct nfa *a, const char *s, size_t n)
{
	size_t w;
	for (size_t i = 0; i < n; i += w) {
		uint32_t r = (unsigned char)s[i] < 0x80 ? (w = 1, (unsigned char)s[i])
							: utf8_decode(s + i, n - i, &w);
		if (!nfa_step(a, r))
			return false;
	}
	return true;
}

static bool nfa_accepts(const struct nfa *a)
{
	size_t i = a->p->ntoks;
	return a->main[i / 64] >> (i % 64) & 1;
}

/* Some state other than "matched" is live: more characters may match. */
static bool nfa_open(const struct nfa *a)
{
	const struct pat *p = a->p;
	for (size_t w = 0; w < p->nw; w++) {
		uint64_t m = a->main[w];
		if (w == p->ntoks / 64)
			m &= ~((uint64_t)1 << (p->ntoks % 64));
		if (m | a->loop[w])
			return true;
	}
	return false;
}

static bool nfa_match(const struct pat *p, const char *s, size_t n)
{
	struct nfa a;
	nfa_init(&a, p);
	bool ok = nfa_feed(&a, s, n) && nfa_accepts(&a);
	free(a.heap);
	return ok;
}

/* patternmatcher's Pattern.match.  A suffix pattern starts with "**". */
static bool pat_match(const struct pat *p, const char *path, size_t n)
{
	switch (p->type) {
	case MT_EXACT:
		return n == p->len && !memcmp(path, p->text, n);
	case MT_PREFIX:
		return n >= p->len - 2 && !memcmp(path, p->text, p->len - 2);
	case MT_SUFFIX: {
		const char *suf = p->text + 2;
		size_t sl = p->len - 2;
		if (n >= sl && !memcmp(path + n - sl, suf, sl))
			return true;
		return sl && suf[0] == '/' && n == sl - 1 && !memcmp(path, suf + 1, n);
	}
	default:
		return nfa_match(p, path, n);
	}
}

/* Could p match some path starting with dir (which ends with '/')? */
static bool pat_may_match_below(const struct pat *p, const char *dir, size_t dl)
{
	struct nfa a;
	bool open;

	switch (p->type) {
	case MT_EXACT:
		return p->len > dl && !memcmp(p->text, dir, dl);
	case MT_PREFIX:
		return !memcmp(p->text, dir, p->len - 2 < dl ? p->len - 2 : dl);
	case MT_SUFFIX:
		return true;
	default:
		nfa_init(&a, p);
		open = nfa_feed(&a, dir, dl) && nfa_open(&a);
		free(a.heap);
		return open;
	}
}

/* ---- matching a path -------------------------------------------------------- */

/* MatchesOrParentMatches' test of the parent directories of path. */
static bool parent_matches(const struct pat *p, const char *path, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (path[i] == '/' && pat_match(p, path, i))
			return true;
	return false;
}

/* patternmatcher's MatchesUsingParentResults. */
static int excluded_at(const ign *m, const char *path, size_t n, const unsigned char *parent,
		       unsigned char *state)
{
	bool matched = false;

	for (size_t i = 0; m && i < m->n; i++) {
		const struct pat *p = &m->pats[i];
		bool match = parent && parent[i];
		if (!match && p->excl == matched) {
			match = pat_match(p, path, n);
			if (!match && !parent)
				match = parent_matches(p, path, n);
		}
		if (state)
			state[i] = match;
		if (match)
			matched = !p->excl;
	}
	return matched;
}

int ign_excluded_at(const ign *m, const char *relpath, const unsigned char *parent,
		    unsigned char *state)
{
	return excluded_at(m, relpath, strlen(relpath), parent, state);
}

int ign_excluded(const ign *m, const char *relpath)
{
	size_t n = strlen(relpath);
	if (!m || !m->n || !n)
		return 0;
	cleanup_free unsigned char *st = lfs_xmalloc(2 * m->n);
	unsigned char *parent = NULL, *cur = st;
	int ex = 0;

	/* Each parent in turn, as Docker's walker meets them. */
	for (size_t i = 0; i <= n; i++) {
		if (i < n && relpath[i] != '/')
			continue;
		ex = excluded_at(m, relpath, i, parent, cur);
		parent = cur;
		cur = cur == st ? st + m->n : st;
	}
	return ex;
}

int ign_may_include_below(const ign *m, const char *relpath)
{
	if (!m || !m->nexcl)
		return 0;
	cleanup_buf lfs_buf dir = LFS_BUF_INIT;
	lfs_buf_addstr(&dir, relpath);
	lfs_buf_addch(&dir, '/');
	for (size_t i = 0; i < m->n; i++)
		if (m->pats[i].excl && pat_may_match_below(&m->pats[i], dir.data, dir.len))
			return 1;
	return 0;
}

size_t ign_count(const ign *m)
{
	return m ? m->n : 0;
}

static void pat_release(struct pat *p)
{
	free(p->text);
	free(p->toks);
	free(p->ranges);
	free(p->masks);
}

void ign_free(ign *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		pat_release(&m->pats[i]);
	free(m->pats);
	free(m);
}

/* ---- parsing ---------------------------------------------------------------- */

/* patternmatcher.New for one pattern p (what ReadAll produced). */
static int add_pattern(ign *m, const char *p, size_t n, const char *src, size_t line, error **err)
{
	cleanup_buf lfs_buf c = LFS_BUF_INIT;
	struct pat pat = {0};

	p = trim_space(p, &n);
	if (!n)
		return 0;
	clean_into(&c, p, n);
	if (c.data[0] == '!' && c.len == 1)
		return error_fail(err, EINVAL, "%s:%zu: illegal exclusion pattern \"!\"", src, line);
	pat.excl = c.data[0] == '!';
	pat.len = c.len - pat.excl;
	pat.text = lfs_xstrndup(c.data + pat.excl, pat.len);
	if (go_match(pat.text, pat.len, ".", 1) < 0 || compile(&pat) < 0) {
		pat_release(&pat);
		return error_fail(err, EINVAL,
			    "%s:%zu: malformed pattern '%s' (an unterminated or empty '[' class, "
			    "a reversed range or a trailing '\\')",
			    src, line, c.data);
	}
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? 2 * m->alloc : 8;
		m->pats = lfs_xrealloc(m->pats, m->alloc * sizeof(*m->pats));
	}
	m->pats[m->n++] = pat;
	m->nexcl += pat.excl;
	return 0;
}

/* dockerignore.ReadAll for one line (its '\r' and BOM already gone). */
static int add_line(ign *m, const char *s, size_t n, const char *src, size_t line, error **err)
{
	cleanup_buf lfs_buf p = LFS_BUF_INIT;
	cleanup_buf lfs_buf c = LFS_BUF_INIT;

	if (n && s[0] == '#')
		return 0;
	s = trim_space(s, &n);
	if (!n)
		return 0;
	bool invert = s[0] == '!';
	if (invert) {
		s++;
		n--;
		s = trim_space(s, &n);
		lfs_buf_addch(&p, '!');
	}
	if (n) {
		clean_into(&c, s, n);
		bool slash = c.len > 1 && c.data[0] == '/';
		lfs_buf_add(&p, c.data + slash, c.len - slash);
	}
	return add_pattern(m, p.data, p.len, src, line, err);
}

int ign_parse(const char *text, size_t len, const char *src, ign **out, error **err)
{
	ign *m = lfs_xcalloc(1, sizeof(*m));
	size_t pos = 0, line = 0;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		if (n && s[n - 1] == '\r')
			n--;
		if (++line == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
			s += 3;
			n -= 3;
		}
		if (add_line(m, s, n, src, line, err) < 0) {
			ign_free(m);
			return -EINVAL;
		}
	}
	*out = m;
	return 0;
}

/* ---- loading ------------------------------------------------------------------ */

static int parse_fd(int fd, const char *name, ign **out, error **err)
{
	cleanup_buf lfs_buf b = LFS_BUF_INIT;
	char chunk[16384];
	ssize_t got;

	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return error_make(err, errno, "reading %s", name);
		lfs_buf_add(&b, chunk, (size_t)got);
	}
	return ign_parse(b.data, b.len, name, out, err);
}

int ign_load(const char *context_dir, const char *dockerfile, ign **out, error **err)
{
	if (dockerfile) {
		cleanup_free char *name = lfs_xasprintf("%s.dockerignore", dockerfile);
		cleanup_fd int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			return parse_fd(fd, name, out, err);
		if (errno != ENOENT)
			return error_make(err, errno, "opening %s", name);
	}
	cleanup_free char *name = lfs_xasprintf("%s/.dockerignore", context_dir);
	cleanup_fd int dfd = open(context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_make(err, errno, "opening the build context %s", context_dir);
	cleanup_fd int fd = openat(dfd, ".dockerignore", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0)
		return parse_fd(fd, name, out, err);
	if (errno != ENOENT)
		return error_make(err, errno, "opening %s", name);
	*out = lfs_xcalloc(1, sizeof(**out));
	return 0;
}
