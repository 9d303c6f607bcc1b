/*
 * psl: the Public Suffix List (see psl.h).  The rules are kept as one
 * sorted array of lower-case names, each with the kinds of rule that name
 * has (a name, a wildcard over its children, an exception), and looked up
 * by binary search: the list has some ten thousand rules.
 */
#include "evgate_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/psl.h"
#include "common/util.h"

#define PSL_LINE_MAX	1024
#define PSL_RULE_MAX	253

#define K_NAME		1	/* "name": name is a suffix */
#define K_WILD		2	/* "*.name": every child of name is */
#define K_EXCEPT	4	/* "!name": name is not, whatever a wildcard says */

struct psl_rule {
	char	*name;
	int	 kinds;
};

struct psl {
	struct psl_rule	*v;
	size_t		 n;
};

static int
rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct psl_rule *)a)->name,
	    ((const struct psl_rule *)b)->name);
}

void
psl_free(struct psl *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	free(p);
}

size_t
psl_count(const struct psl *p)
{
	return p->n;
}

/*
 * Check a rule's name part (after "*." or "!"): labels of letters,
 * digits, '-' or UTF-8 bytes (internationalised rules are in UTF-8),
 * separated by single dots.
 */
static const char *
check_name(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0)
		return "empty rule";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return "empty label in rule";
			label = 0;
			continue;
		}
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return "a rule is a name, \"*.name\" or \"!name\"";
		label++;
	}
	if (label == 0)
		return "empty label in rule";
	return NULL;
}

static char *
lower_dup(const char *s, size_t len)
{
	char *d = xmalloc(len + 1);
	size_t i;

	for (i = 0; i < len; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') :
		    s[i];
	d[len] = '\0';
	return d;
}

struct psl *
psl_parse(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct psl *p = xcalloc(1, sizeof(*p));
	size_t off = 0, lineno = 0, cap = 0, i, j;
	const char *why;

	if (len > PSL_MAX_BYTES) {
		snprintf(err, errlen, "larger than %d bytes", PSL_MAX_BYTES);
		goto fail;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "a NUL byte: not a text file");
		goto fail;
	}
	while (off < len) {
		const char *line = (const char *)buf + off, *w, *nl;
		size_t llen, wlen;
		int kind = K_NAME;

		nl = memchr(line, '\n', len - off);
		llen = nl != NULL ? (size_t)(nl - line) : len - off;
		off += llen + (nl != NULL);
		lineno++;
		if (llen > PSL_LINE_MAX) {
			snprintf(err, errlen, "line %zu: longer than %d bytes",
			    lineno, PSL_LINE_MAX);
			goto fail;
		}
		/* The rule is the first word; the rest of the line is not. */
		w = line;
		while (w < line + llen && (*w == ' ' || *w == '\t' ||
		    *w == '\r'))
			w++;
		wlen = 0;
		while (w + wlen < line + llen && w[wlen] != ' ' &&
		    w[wlen] != '\t' && w[wlen] != '\r')
			wlen++;
		if (wlen == 0 || (wlen >= 2 && w[0] == '/' && w[1] == '/'))
			continue;
		if (w[0] == '!') {
			kind = K_EXCEPT;
			w++;
			wlen--;
		} else if (wlen >= 2 && w[0] == '*' && w[1] == '.') {
			kind = K_WILD;
			w += 2;
			wlen -= 2;
		}
		if (wlen > PSL_RULE_MAX) {
			snprintf(err, errlen, "line %zu: a rule longer than %d "
			    "bytes", lineno, PSL_RULE_MAX);
			goto fail;
		}
		if ((why = check_name(w, wlen)) != NULL) {
			snprintf(err, errlen, "line %zu: %s", lineno, why);
			goto fail;
		}
		if (p->n == PSL_MAX_RULES) {
			snprintf(err, errlen, "line %zu: more than %d rules",
			    lineno, PSL_MAX_RULES);
			goto fail;
		}
		if (p->n == cap) {
			cap = cap ? cap * 2 : 1024;
			p->v = xreallocarray(p->v, cap, sizeof(*p->v));
		}
		p->v[p->n].name = lower_dup(w, wlen);
		p->v[p->n].kinds = kind;
		p->n++;
	}
	if (p->n == 0) {
		snprintf(err, errlen, "no rules: not a public suffix list");
		goto fail;
	}
	/* Sort, then fold the rules of one name into one entry. */
	qsort(p->v, p->n, sizeof(*p->v), rule_cmp);
	for (i = 0, j = 0; i < p->n; i++) {
		if (j > 0 && strcmp(p->v[j - 1].name, p->v[i].name) == 0) {
			p->v[j - 1].kinds |= p->v[i].kinds;
			free(p->v[i].name);
			continue;
		}
		p->v[j++] = p->v[i];
	}
	p->n = j;
	return p;
fail:
	psl_free(p);
	return NULL;
}

struct psl *
psl_load(const char *path, char *err, size_t errlen)
{
	struct psl *p;
	uint8_t *buf;
	size_t len = 0, cap = 65536, n;
	char why[256];
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(cap);
	while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len > PSL_MAX_BYTES)
			break;
		if (len == cap)
			buf = xreallocarray(buf, cap *= 2, 1);
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	if ((p = psl_parse(buf, len, why, sizeof(why))) == NULL)
		snprintf(err, errlen, "%s: %s", path, why);
	free(buf);
	return p;
}

static int
lookup(const struct psl *p, const char *name)
{
	struct psl_rule key, *r;

	key.name = (char *)name;
	r = bsearch(&key, p->v, p->n, sizeof(*p->v), rule_cmp);
	return r != NULL ? r->kinds : 0;
}

int
psl_is_suffix(const struct psl *p, const char *name)
{
	char buf[PSL_RULE_MAX + 2];
	const char *parent;
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > PSL_RULE_MAX)
		return 0;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (parent = buf; *parent != '\0'; parent++)
		if (*parent >= 'A' && *parent <= 'Z')
			buf[parent - buf] = (char)(*parent - 'A' + 'a');
	if (lookup(p, buf) & K_EXCEPT)
		return 0;
	if (lookup(p, buf) & K_NAME)
		return 1;
	if ((parent = strchr(buf, '.')) == NULL)
		return 1;		/* the implicit rule "*" */
	return (lookup(p, parent + 1) & K_WILD) != 0;
}
