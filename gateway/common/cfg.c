/*
 * cfg: YAML into section structs, through libyaml's document API (see
 * cfg.h).  A struct cfg_node is libyaml's yaml_node_t, never seen outside
 * this file.
 */
#include "evgate_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/cfg.h"
#include "common/util.h"

struct cfg_index_ent {
	char		*path;
	struct cfg_mark	 mark;
};

struct cfg_index {
	struct cfg_index_ent	*v;
	size_t			 n, cap;
};

struct cfg_ctx {
	const char		*name;
	yaml_document_t		*doc;
	struct cfg_diags	*diags;
	struct cfg_index	*index;	/* NULL: not recorded */
	uint8_t			*visited;
	size_t			 nnodes;
	size_t			 nerrors;
	char			 path[256];
};

#define Y(n)	((yaml_node_t *)(n))
#define CY(n)	((const yaml_node_t *)(n))

struct cfg_mark
cfg_mark(const struct cfg_node *node)
{
	struct cfg_mark m = { 1, 1 };

	if (node != NULL) {
		m.line = CY(node)->start_mark.line + 1;
		m.column = CY(node)->start_mark.column + 1;
	}
	return m;
}

/* --- diagnostics ----------------------------------------------------- */

void
cfg_diags_free(struct cfg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].text);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

const char *
cfg_diags_first_error(const struct cfg_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (!d->v[i].warning)
			return d->v[i].text;
	return NULL;
}

static void
diags_push(struct cfg_diags *d, int warning, char *text)
{
	if (warning)
		d->nwarnings++;
	else
		d->nerrors++;
	if (d->n >= CFG_MAX_DIAGS) {
		free(text);
		return;
	}
	d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n].warning = warning;
	d->v[d->n].text = text;
	d->n++;
}

void
cfg_diags_add(struct cfg_diags *d, int warning, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_push(d, warning, xstrdup(msg));
}

void
cfg_diags_addv_at(struct cfg_diags *d, int warning, const char *name,
    const struct cfg_mark *m, const char *path, const char *fmt, va_list ap)
{
	char msg[768], text[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(text, sizeof(text), "%s:%zu:%zu: %s%s%s%s", name, m->line,
	    m->column, path, path[0] ? ": " : "", warning ? "warning: " : "",
	    msg);
	diags_push(d, warning, xstrdup(text));
}

/* --- where the nodes are --------------------------------------------- */

static void
index_add(struct cfg_index *idx, const char *path, struct cfg_mark m)
{
	if (idx == NULL)
		return;
	if (idx->n == idx->cap) {
		idx->cap = idx->cap ? idx->cap * 2 : 64;
		idx->v = xreallocarray(idx->v, idx->cap, sizeof(*idx->v));
	}
	idx->v[idx->n].path = xstrdup(path);
	idx->v[idx->n].mark = m;
	idx->n++;
}

void
cfg_index_free(struct cfg_index *idx)
{
	size_t i;

	if (idx == NULL)
		return;
	for (i = 0; i < idx->n; i++)
		free(idx->v[i].path);
	free(idx->v);
	free(idx);
}

struct cfg_mark
cfg_index_mark(const struct cfg_index *idx, const char *path)
{
	struct cfg_mark none = { 1, 1 };
	char p[256];
	size_t i, len;

	if (idx == NULL || strlcpy(p, path, sizeof(p)) >= sizeof(p))
		return none;
	for (;;) {
		for (i = 0; i < idx->n; i++)
			if (strcmp(idx->v[i].path, p) == 0)
				return idx->v[i].mark;
		/* Up to the parent: drop "[n]" or ".key". */
		len = strlen(p);
		while (len > 0 && p[len - 1] != '.' && p[len - 1] != '[')
			len--;
		if (len == 0)
			return none;
		p[len - 1] = '\0';
	}
}

int
cfg_index_has(const struct cfg_index *idx, const char *path)
{
	size_t i;

	for (i = 0; idx != NULL && i < idx->n; i++)
		if (strcmp(idx->v[i].path, path) == 0)
			return 1;
	return 0;
}

void
cfg_index_diag(const struct cfg_index *idx, struct cfg_diags *d, int warning,
    const char *name, const char *path, const char *fmt, ...)
{
	struct cfg_mark m = cfg_index_mark(idx, path);
	va_list ap;

	va_start(ap, fmt);
	cfg_diags_addv_at(d, warning, name, &m, path, fmt, ap);
	va_end(ap);
}

/* --- errors and warnings during a parse ------------------------------ */

static int
cfg_verror(struct cfg_ctx *ctx, int warning, const struct cfg_mark *m,
    const char *path, const char *fmt, va_list ap)
{
	struct cfg_diags *d = ctx->diags;
	size_t n0 = d->n;

	cfg_diags_addv_at(d, warning, ctx->name, m, path, fmt, ap);
	/*
	 * A parser that reports an error and whose caller reports the same
	 * again would say one thing twice: keep it once.
	 */
	if (d->n == n0 + 1 && n0 > 0 &&
	    strcmp(d->v[n0].text, d->v[n0 - 1].text) == 0) {
		free(d->v[n0].text);
		d->n--;
		if (warning)
			d->nwarnings--;
		else
			d->nerrors--;
		return warning ? 0 : -1;
	}
	if (!warning)
		ctx->nerrors++;
	return warning ? 0 : -1;
}

size_t
cfg_nerrors(const struct cfg_ctx *ctx)
{
	return ctx->nerrors;
}

int
cfg_error(struct cfg_ctx *ctx, struct cfg_node *node, const char *fmt, ...)
{
	struct cfg_mark m = cfg_mark(node);
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(ctx, 0, &m, ctx->path, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_error_at(struct cfg_ctx *ctx, const struct cfg_mark *m, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(ctx, 0, m, ctx->path, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_error_path(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
{
	struct cfg_mark m = cfg_index_mark(ctx->index, path);
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(ctx, 0, &m, path, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_warn(struct cfg_ctx *ctx, struct cfg_node *node, const char *fmt, ...)
{
	struct cfg_mark m = cfg_mark(node);
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(ctx, 1, &m, ctx->path, fmt, ap);
	va_end(ap);
	return 0;
}

int
cfg_warn_path(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
{
	struct cfg_mark m = cfg_index_mark(ctx->index, path);
	va_list ap;

	va_start(ap, fmt);
	cfg_verror(ctx, 1, &m, path, fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * Refuse a node seen before: only an alias can make that happen.  The
 * document API has no position for the alias itself, so the error points
 * at where (the key or list that uses it).
 */
static int
cfg_visit(struct cfg_ctx *ctx, yaml_node_t *node, yaml_node_t *where)
{
	size_t id = (size_t)(node - ctx->doc->nodes.start);

	if (id >= ctx->nnodes)
		return cfg_error(ctx, (struct cfg_node *)where,
		    "internal: node out of range");
	if (ctx->visited[id])
		return cfg_error(ctx, (struct cfg_node *)where,
		    "YAML aliases are not supported");
	ctx->visited[id] = 1;
	return 0;
}

const char *
cfg_kind(const struct cfg_node *node)
{
	switch (CY(node)->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

int
cfg_is_scalar(const struct cfg_node *node)
{
	return CY(node)->type == YAML_SCALAR_NODE;
}

int
cfg_is_list(const struct cfg_node *node)
{
	return CY(node)->type == YAML_SEQUENCE_NODE;
}

static const char *
text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

int
cfg_map(struct cfg_ctx *ctx, struct cfg_node *cnode,
    const struct cfg_key *keys, void *arg)
{
	yaml_node_t *node = Y(cnode);
	yaml_node_pair_t *pair;
	uint64_t seen = 0;
	size_t i, plen = strlen(ctx->path), errors0 = ctx->nerrors;

	if (node->type != YAML_MAPPING_NODE)
		return cfg_error(ctx, cnode, "expected a mapping, found %s",
		    cfg_kind(cnode));
	/* On an error, go on with the next key: every error is reported. */
	for (pair = node->data.mapping.pairs.start;
	    pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(ctx->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(ctx->doc, pair->value);

		if (k == NULL || v == NULL)
			return cfg_error(ctx, cnode, "internal: broken mapping");
		if (cfg_visit(ctx, k, k) == -1)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(ctx, (struct cfg_node *)k,
			    "a key must be a plain name");
			continue;
		}
		for (i = 0; keys[i].name != NULL; i++)
			if (strcmp(keys[i].name, text(k)) == 0)
				break;
		if (keys[i].name == NULL) {
			cfg_error(ctx, (struct cfg_node *)k,
			    "unknown key \"%.64s\"", text(k));
			continue;
		}
		if (seen & (1ULL << i)) {
			cfg_error(ctx, (struct cfg_node *)k,
			    "duplicate key \"%s\"", keys[i].name);
			continue;
		}
		seen |= 1ULL << i;
		snprintf(ctx->path + plen, sizeof(ctx->path) - plen, "%s%s",
		    plen ? "." : "", keys[i].name);
		index_add(ctx->index, ctx->path, cfg_mark((struct cfg_node *)v));
		if (cfg_visit(ctx, v, k) == 0)
			keys[i].fn(ctx, (struct cfg_node *)v, arg);
		ctx->path[plen] = '\0';
	}
	for (i = 0; keys[i].name != NULL; i++)
		if (keys[i].required && !(seen & (1ULL << i)))
			cfg_error(ctx, cnode, "missing required key \"%s\"",
			    keys[i].name);
	return ctx->nerrors > errors0 ? -1 : 0;
}

int
cfg_seq(struct cfg_ctx *ctx, struct cfg_node *cnode,
    int (*fn)(struct cfg_ctx *, struct cfg_node *, size_t, void *), void *arg)
{
	yaml_node_t *node = Y(cnode);
	yaml_node_item_t *item;
	size_t idx = 0, plen = strlen(ctx->path), errors0 = ctx->nerrors;

	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, cnode, "expected a list, found %s",
		    cfg_kind(cnode));
	/* On an error, go on with the next item. */
	for (item = node->data.sequence.items.start;
	    item < node->data.sequence.items.top; item++, idx++) {
		yaml_node_t *v = yaml_document_get_node(ctx->doc, *item);

		if (v == NULL)
			return cfg_error(ctx, cnode, "internal: broken list");
		snprintf(ctx->path + plen, sizeof(ctx->path) - plen, "[%zu]",
		    idx);
		index_add(ctx->index, ctx->path, cfg_mark((struct cfg_node *)v));
		if (cfg_visit(ctx, v, node) == 0)
			fn(ctx, (struct cfg_node *)v, idx, arg);
		ctx->path[plen] = '\0';
	}
	return ctx->nerrors > errors0 ? -1 : 0;
}

int
cfg_list_len(struct cfg_ctx *ctx, struct cfg_node *cnode, const char *what,
    size_t *n)
{
	yaml_node_t *node = Y(cnode);

	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, cnode, "expected %s, found %s", what,
		    cfg_kind(cnode));
	*n = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	return 0;
}

const char *
cfg_scalar(struct cfg_ctx *ctx, struct cfg_node *cnode, const char *want,
    size_t *len)
{
	yaml_node_t *node = Y(cnode);
	size_t i;

	if (node->type != YAML_SCALAR_NODE) {
		cfg_error(ctx, cnode, "expected %s, found %s", want,
		    cfg_kind(cnode));
		return NULL;
	}
	if (strlen(text(node)) != node->data.scalar.length) {
		cfg_error(ctx, cnode, "NUL byte in value");
		return NULL;
	}
	/*
	 * Values end up in log lines, file names and HTTP headers (the site
	 * name is sent to the log collector): a CR, LF or any other control
	 * character has no place in any of them.
	 */
	for (i = 0; i < node->data.scalar.length; i++)
		if (node->data.scalar.value[i] < 0x20 ||
		    node->data.scalar.value[i] == 0x7f) {
			cfg_error(ctx, cnode, "control character (0x%02x) in "
			    "value", node->data.scalar.value[i]);
			return NULL;
		}
	if (len != NULL)
		*len = node->data.scalar.length;
	return text(node);
}

int
cfg_str(struct cfg_ctx *ctx, struct cfg_node *node, char **out)
{
	const char *s;
	size_t len;

	if ((s = cfg_scalar(ctx, node, "a string", &len)) == NULL)
		return -1;
	if (len == 0)
		return cfg_error(ctx, node, "empty value");
	free(*out);
	*out = xstrdup(s);
	return 0;
}

int
cfg_uint(struct cfg_ctx *ctx, struct cfg_node *node, unsigned long min,
    unsigned long max, unsigned long *out)
{
	const char *s;
	unsigned long v;
	char *end;

	if ((s = cfg_scalar(ctx, node, "a number", NULL)) == NULL)
		return -1;
	if (*s < '0' || *s > '9')
		return cfg_error(ctx, node, "expected a number, found \"%.64s\"",
		    s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return cfg_error(ctx, node, "expected a number, found \"%.64s\"",
		    s);
	if (errno == ERANGE || v < min || v > max)
		return cfg_error(ctx, node, "%.64s is out of range (%lu-%lu)",
		    s, min, max);
	*out = v;
	return 0;
}

int
cfg_bool(struct cfg_ctx *ctx, struct cfg_node *node, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	const char *s;
	size_t i;

	if ((s = cfg_scalar(ctx, node, "true or false", NULL)) == NULL)
		return -1;
	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return cfg_error(ctx, node, "expected true or false, found \"%.64s\"",
	    s);
}

int
cfg_duration(struct cfg_ctx *ctx, struct cfg_node *node, uint64_t min_ms,
    uint64_t max_ms, uint64_t *out)
{
	char lo[32], hi[32];
	const char *s;
	uint64_t v;

	if ((s = cfg_scalar(ctx, node, "a duration", NULL)) == NULL)
		return -1;
	if (parse_duration_ms(s, &v) == -1)
		return cfg_error(ctx, node, "expected a duration such as 10s, "
		    "5m, 2h, found \"%.64s\"", s);
	if (v < min_ms || v > max_ms) {
		format_duration_ms(min_ms, lo, sizeof(lo));
		format_duration_ms(max_ms, hi, sizeof(hi));
		return cfg_error(ctx, node, "%.64s is out of range (%s-%s)",
		    s, lo, hi);
	}
	*out = v;
	return 0;
}

int
cfg_addr(struct cfg_ctx *ctx, struct cfg_node *node, uint16_t defport,
    struct cfg_sockaddr *out)
{
	const char *s;

	if ((s = cfg_scalar(ctx, node, "an address", NULL)) == NULL)
		return -1;
	if (parse_sockaddr(s, defport, &out->ss, &out->len) == -1)
		return cfg_error(ctx, node, "\"%.64s\" is not an IP address "
		    "(with an optional :port)", s);
	free(out->text);
	out->text = xstrdup(s);
	return 0;
}

static int
strlist_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx,
    void *arg)
{
	char **list = arg;

	return cfg_str(ctx, node, &list[idx]);
}

int
cfg_strlist(struct cfg_ctx *ctx, struct cfg_node *node, char ***out,
    size_t *n)
{
	size_t count = 0;
	char **list;

	if (cfg_is_scalar(node)) {
		list = xcalloc(1, sizeof(*list));
		if (cfg_str(ctx, node, &list[0]) == -1) {
			free(list);
			return -1;
		}
		count = 1;
	} else {
		if (cfg_list_len(ctx, node, "a list of strings", &count) == -1)
			return -1;
		list = xcalloc(count ? count : 1, sizeof(*list));
		if (cfg_seq(ctx, node, strlist_item, list) == -1) {
			cfg_strlist_free(list, count);
			return -1;
		}
	}
	cfg_strlist_free(*out, *n);
	*out = list;
	*n = count;
	return 0;
}

void
cfg_sockaddr_free(struct cfg_sockaddr *a, size_t n)
{
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		free(a[i].text);
	free(a);
}

void
cfg_strlist_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
}

/* --- the document ---------------------------------------------------- */

/*
 * Where libyaml's reader stopped: it gives a byte offset, not a mark, for
 * encoding errors (invalid UTF-8, a control character).  Columns count
 * characters, as libyaml's marks do.
 */
static struct cfg_mark
offset_mark(const uint8_t *buf, size_t len, size_t off)
{
	struct cfg_mark m = { 1, 1 };
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 1;
		} else if ((buf[i] & 0xc0) != 0x80)
			m.column++;
	}
	return m;
}

static void
syntax_error(struct cfg_ctx *ctx, yaml_parser_t *parser, const uint8_t *buf,
    size_t len)
{
	struct cfg_mark m;
	const char *problem = parser->problem ? parser->problem :
	    "YAML syntax error";

	if (parser->error == YAML_READER_ERROR) {
		m = offset_mark(buf, len, parser->problem_offset);
		if (parser->problem_value != -1)
			cfg_error_at(ctx, &m, "%s (byte 0x%02x at offset %zu): "
			    "the file must be UTF-8 text", problem,
			    (unsigned)parser->problem_value & 0xff,
			    parser->problem_offset);
		else
			cfg_error_at(ctx, &m, "%s at offset %zu: the file must "
			    "be UTF-8 text", problem, parser->problem_offset);
		return;
	}
	m.line = parser->problem_mark.line + 1;
	m.column = parser->problem_mark.column + 1;
	cfg_error_at(ctx, &m, "%s%s%s", problem, parser->context ? " " : "",
	    parser->context ? parser->context : "");
}

int
cfg_parse(const char *name, const uint8_t *buf, size_t len,
    const struct cfg_key *keys, cfg_check_fn check, void *arg,
    struct cfg_diags *diags, struct cfg_index **index)
{
	static const struct cfg_mark top = { 1, 1 };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root, *r2;
	struct cfg_ctx ctx;
	int have_doc = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.diags = diags;
	if (index != NULL)
		ctx.index = *index = xcalloc(1, sizeof(**index));
	if (len > CFG_MAX_BYTES)
		return cfg_error_at(&ctx, &top, "file larger than %d bytes",
		    CFG_MAX_BYTES);
	if (!yaml_parser_initialize(&parser))
		return cfg_error_at(&ctx, &top, "cannot initialise the YAML "
		    "parser");
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&ctx, &parser, buf, len);
		goto out;
	}
	have_doc = 1;
	ctx.doc = &doc;
	ctx.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
	if (ctx.nnodes > CFG_MAX_NODES) {
		cfg_error_at(&ctx, &top, "more than %d YAML nodes",
		    CFG_MAX_NODES);
		goto out;
	}
	ctx.visited = xcalloc(ctx.nnodes ? ctx.nnodes : 1, 1);
	if ((root = yaml_document_get_root_node(&doc)) == NULL)
		goto check;		/* no document at all */
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
		/* an empty file */
	} else if (cfg_visit(&ctx, root, root) == 0)
		cfg_map(&ctx, (struct cfg_node *)root, keys, arg);
	/* A second document in the same file is not ours to read. */
	if (yaml_parser_load(&parser, &extra)) {
		if ((r2 = yaml_document_get_root_node(&extra)) != NULL)
			cfg_error(&ctx, (struct cfg_node *)r2,
			    "only one YAML document is allowed");
		yaml_document_delete(&extra);
	} else
		syntax_error(&ctx, &parser, buf, len);
check:
	if (check != NULL)
		check(&ctx, root != NULL ? (struct cfg_node *)root : NULL, arg);
out:
	free(ctx.visited);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ctx.nerrors > 0 ? -1 : 0;
}
