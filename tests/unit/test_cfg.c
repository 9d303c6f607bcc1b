/*
 * Tests for cfg: the YAML framework every section parser is written in,
 * driven through cfg_parse with a small table of keys of its own (not
 * evgated's: test_config.c covers those).  Every error is checked with the
 * exact "file:line:column: path: message" an operator would read, and
 * every error path frees what it built (the tests run under ASan with
 * leak detection).
 */
#include "evgate_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/cfg.h"

/* What the test's table parses into. */
struct t {
	char			*name;
	unsigned long		 port;
	int			 on;
	uint64_t		 every_ms;
	struct cfg_sockaddr	 addr;
	char			**tags;
	size_t			 ntags;
	unsigned long		 inner_n;
	char			*inner_s;
	unsigned long		 list_n[4];
	size_t			 nlist;
	char			 raw[16];	/* copied: cfg_scalar lends */
	size_t			 rawlen;
	size_t			 count;
	unsigned long		 later;
	struct cfg_mark		 later_mark;
	int			 have_later;
	int			 checked;	/* the check ran */
	int			 twice;		/* the check reports twice */
};

static void
t_free(struct t *t)
{
	free(t->name);
	free(t->addr.text);
	cfg_strlist_free(t->tags, t->ntags);
	free(t->inner_s);
	memset(t, 0, sizeof(*t));
}

static int
k_name(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_str(ctx, node, &((struct t *)arg)->name);
}

static int
k_port(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_uint(ctx, node, 1, 65535, &((struct t *)arg)->port);
}

static int
k_on(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_bool(ctx, node, &((struct t *)arg)->on);
}

static int
k_every(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_duration(ctx, node, 1000, 3600000,
	    &((struct t *)arg)->every_ms);
}

static int
k_addr(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_addr(ctx, node, 53, &((struct t *)arg)->addr);
}

static int
k_tags(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct t *t = arg;

	return cfg_strlist(ctx, node, &t->tags, &t->ntags);
}

static int
k_inner_n(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_uint(ctx, node, 0, 9, &((struct t *)arg)->inner_n);
}

static int
k_inner_s(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_str(ctx, node, &((struct t *)arg)->inner_s);
}

static const struct cfg_key inner_keys[] = {
	{ "n", k_inner_n, 1 },
	{ "s", k_inner_s, 0 },
	{ NULL, NULL, 0 }
};

static int
k_inner(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_map(ctx, node, inner_keys, arg);
}

static int
k_item_n(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct t *t = arg;

	return cfg_uint(ctx, node, 0, 9, &t->list_n[t->nlist]);
}

static const struct cfg_key item_keys[] = {
	{ "n", k_item_n, 1 },
	{ NULL, NULL, 0 }
};

static int
list_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx, void *arg)
{
	struct t *t = arg;

	if (idx >= 4)
		return cfg_error(ctx, node, "at most 4 items");
	t->nlist = idx;
	if (cfg_map(ctx, node, item_keys, arg) == -1)
		return -1;
	t->nlist = idx + 1;
	return 0;
}

static int
k_list(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_seq(ctx, node, list_item, arg);
}

static int
k_raw(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct t *t = arg;
	const char *s;

	if ((s = cfg_scalar(ctx, node, "a word", &t->rawlen)) == NULL)
		return -1;
	snprintf(t->raw, sizeof(t->raw), "%s", s);
	return 0;
}

static int
k_count(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_list_len(ctx, node, "a list of ports",
	    &((struct t *)arg)->count);
}

/* Kept for the check: a rule over two keys reports at a saved place. */
static int
k_later(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct t *t = arg;

	t->later_mark = cfg_mark(node);
	t->have_later = 1;
	return cfg_uint(ctx, node, 0, 100, &t->later);
}

static const struct cfg_key keys[] = {
	{ "name", k_name, 1 },
	{ "port", k_port, 0 },
	{ "on", k_on, 0 },
	{ "every", k_every, 0 },
	{ "addr", k_addr, 0 },
	{ "tags", k_tags, 0 },
	{ "inner", k_inner, 0 },
	{ "list", k_list, 0 },
	{ "raw", k_raw, 0 },
	{ "count", k_count, 0 },
	{ "later", k_later, 0 },
	{ NULL, NULL, 0 }
};

/* later may not exceed port (when both are given). */
static int
check(struct cfg_ctx *ctx, struct cfg_node *root, void *arg)
{
	struct t *t = arg;

	t->checked = 1;
	if (t->twice) {
		cfg_error(ctx, root, "first");
		return cfg_error(ctx, root, "second");
	}
	if (t->have_later && t->port != 0 && t->later > t->port)
		return cfg_error_at(ctx, &t->later_mark, "later %lu is more "
		    "than port %lu", t->later, t->port);
	return 0;
}

/* The first error into err ("" when none), as an operator reads it. */
static int
parse_len(const char *text, size_t len, struct t *t, char *err,
    size_t errlen)
{
	struct cfg_diags d;
	const char *first;
	int rv;

	memset(&d, 0, sizeof(d));
	rv = cfg_parse("t.yaml", (const uint8_t *)text, len, keys, check, t,
	    &d, NULL);
	first = cfg_diags_first_error(&d);
	snprintf(err, errlen, "%s", first != NULL ? first : "");
	cfg_diags_free(&d);
	return rv;
}

static int
parse(const char *text, struct t *t, char *err, size_t errlen)
{
	return parse_len(text, strlen(text), t, err, errlen);
}

/* text must be refused with exactly want; what was built is freed. */
static void
expect_error(const char *text, const char *want)
{
	struct t t;
	char err[512];

	memset(&t, 0, sizeof(t));
	strcpy(err, "unset");
	if (parse(text, &t, err, sizeof(err)) != -1)
		fail_msg("accepted: %s", text);
	if (strcmp(err, want) != 0)
		fail_msg("for:\n%s\nwant: %s\ngot:  %s", text, want, err);
	t_free(&t);
}

static void
test_good(void **state)
{
	struct sockaddr_in *sin;
	struct t t;
	char err[512];

	memset(&t, 0, sizeof(t));
	if (parse("name: gw\n"
	    "port: 8883\n"
	    "on: yes\n"
	    "every: 5m\n"
	    "addr: 192.0.2.1\n"
	    "tags: [a, bb]\n"
	    "inner: {n: 3, s: hi}\n"
	    "list:\n"
	    "  - {n: 1}\n"
	    "  - n: 2\n"
	    "raw: word\n"
	    "count: [1, 2, 3]\n"
	    "later: 7\n", &t, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_string_equal(t.name, "gw");
	assert_int_equal(t.port, 8883);
	assert_int_equal(t.on, 1);
	assert_int_equal(t.every_ms, 300000);
	assert_string_equal(t.addr.text, "192.0.2.1");
	assert_int_equal(t.addr.ss.ss_family, AF_INET);
	assert_int_equal(t.addr.len, sizeof(struct sockaddr_in));
	sin = (struct sockaddr_in *)&t.addr.ss;
	assert_int_equal(ntohs(sin->sin_port), 53);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000201);
	assert_int_equal(t.ntags, 2);
	assert_string_equal(t.tags[0], "a");
	assert_string_equal(t.tags[1], "bb");
	assert_int_equal(t.inner_n, 3);
	assert_string_equal(t.inner_s, "hi");
	assert_int_equal(t.nlist, 2);
	assert_int_equal(t.list_n[0], 1);
	assert_int_equal(t.list_n[1], 2);
	assert_string_equal(t.raw, "word");
	assert_int_equal(t.rawlen, 4);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.later, 7);
	assert_int_equal(t.later_mark.line, 13);
	assert_int_equal(t.later_mark.column, 8);
	assert_int_equal(t.checked, 1);
	t_free(&t);

	/* Only name is required; a document start marker is fine. */
	memset(&t, 0, sizeof(t));
	assert_int_equal(parse("---\nname: x\n...\n", &t, err, sizeof(err)), 0);
	assert_string_equal(t.name, "x");
	assert_int_equal(t.port, 0);
	assert_null(t.tags);
	t_free(&t);
}

static void
test_keys(void **state)
{
	char key[128];
	char text[256], want[256];

	expect_error("name: x\nbogus: 1\n",
	    "t.yaml:2:1: unknown key \"bogus\"");
	/* In a nested mapping the path says where. */
	expect_error("name: x\ninner: {n: 1, zz: 2}\n",
	    "t.yaml:2:15: inner: unknown key \"zz\"");
	/* Keys are matched exactly. */
	expect_error("Name: x\n", "t.yaml:1:1: unknown key \"Name\"");
	/* A long unknown key is cut at 64 characters in the message. */
	memset(key, 'k', 100);
	key[100] = '\0';
	snprintf(text, sizeof(text), "name: x\n%s: 1\n", key);
	key[64] = '\0';
	snprintf(want, sizeof(want), "t.yaml:2:1: unknown key \"%s\"", key);
	expect_error(text, want);

	expect_error("name: x\nport: 1\nname: y\n",
	    "t.yaml:3:1: duplicate key \"name\"");
	expect_error("name: x\ninner:\n  n: 1\n  n: 2\n",
	    "t.yaml:4:3: inner: duplicate key \"n\"");

	/* Missing required keys are reported at the mapping. */
	expect_error("port: 1\n", "t.yaml:1:1: missing required key \"name\"");
	expect_error("name: x\ninner: {s: a}\n",
	    "t.yaml:2:8: inner: missing required key \"n\"");
	expect_error("name: x\ninner:\n  s: a\n",
	    "t.yaml:3:3: inner: missing required key \"n\"");
	expect_error("name: x\nlist:\n  - {n: 1}\n  - {}\n",
	    "t.yaml:4:5: list[1]: missing required key \"n\"");

	/* A key is a name, not a structure. */
	expect_error("name: x\n? [a, b]\n: 1\n",
	    "t.yaml:2:3: a key must be a plain name");

	/* The root and nested mappings must be mappings. */
	expect_error("- a\n- b\n",
	    "t.yaml:1:1: expected a mapping, found a list");
	expect_error("hello\n",
	    "t.yaml:1:1: expected a mapping, found a scalar");
	expect_error("name: x\ninner: [1]\n",
	    "t.yaml:2:8: inner: expected a mapping, found a list");
	expect_error("name: x\nlist: {n: 1}\n",
	    "t.yaml:2:7: list: expected a list, found a mapping");
	expect_error("name: x\nlist: 1\n",
	    "t.yaml:2:7: list: expected a list, found a scalar");
	expect_error("name: x\nlist: [{n: 1}, 2]\n",
	    "t.yaml:2:16: list[1]: expected a mapping, found a scalar");
	expect_error("name: x\n"
	    "list: [{n: 0}, {n: 0}, {n: 0}, {n: 0}, {n: 0}]\n",
	    "t.yaml:2:40: list[4]: at most 4 items");
	expect_error("name: x\ncount: 3\n",
	    "t.yaml:2:8: count: expected a list of ports, found a scalar");
}

static void
test_scalars(void **state)
{
	struct t t;
	char err[512];

	/* strings */
	expect_error("name: [a]\n",
	    "t.yaml:1:7: name: expected a string, found a list");
	expect_error("name: {a: b}\n",
	    "t.yaml:1:7: name: expected a string, found a mapping");
	expect_error("name: \"\"\n", "t.yaml:1:7: name: empty value");
	expect_error("name:\n", "t.yaml:1:6: name: empty value");
	expect_error("name: x\nraw: [w]\n",
	    "t.yaml:2:6: raw: expected a word, found a list");

	/* numbers */
	expect_error("name: x\nport: abc\n",
	    "t.yaml:2:7: port: expected a number, found \"abc\"");
	expect_error("name: x\nport: -1\n",
	    "t.yaml:2:7: port: expected a number, found \"-1\"");
	expect_error("name: x\nport: +1\n",
	    "t.yaml:2:7: port: expected a number, found \"+1\"");
	expect_error("name: x\nport: 12x\n",
	    "t.yaml:2:7: port: expected a number, found \"12x\"");
	expect_error("name: x\nport: 0x50\n",
	    "t.yaml:2:7: port: expected a number, found \"0x50\"");
	expect_error("name: x\nport: 1.5\n",
	    "t.yaml:2:7: port: expected a number, found \"1.5\"");
	expect_error("name: x\nport: \"\"\n",
	    "t.yaml:2:7: port: expected a number, found \"\"");
	expect_error("name: x\nport: [80]\n",
	    "t.yaml:2:7: port: expected a number, found a list");
	expect_error("name: x\nport: 0\n",
	    "t.yaml:2:7: port: 0 is out of range (1-65535)");
	expect_error("name: x\nport: 65536\n",
	    "t.yaml:2:7: port: 65536 is out of range (1-65535)");
	expect_error("name: x\nport: 99999999999999999999999\n",
	    "t.yaml:2:7: port: 99999999999999999999999 is out of range "
	    "(1-65535)");
	expect_error("name: x\ninner: {n: 10}\n",
	    "t.yaml:2:12: inner.n: 10 is out of range (0-9)");
	expect_error("name: x\nlist:\n  - {n: 1}\n  - {n: 10}\n",
	    "t.yaml:4:9: list[1].n: 10 is out of range (0-9)");
	memset(&t, 0, sizeof(t));
	assert_int_equal(parse("name: x\nport: 65535\n", &t, err,
	    sizeof(err)), 0);
	assert_int_equal(t.port, 65535);
	t_free(&t);
	assert_int_equal(parse("name: x\nport: \"0001\"\n", &t, err,
	    sizeof(err)), 0);
	assert_int_equal(t.port, 1);
	t_free(&t);

	/* booleans: true/yes/on and false/no/off, in any case */
	assert_int_equal(parse("name: x\non: TRUE\n", &t, err, sizeof(err)), 0);
	assert_int_equal(t.on, 1);
	t_free(&t);
	t.on = 1;
	assert_int_equal(parse("name: x\non: Off\n", &t, err, sizeof(err)), 0);
	assert_int_equal(t.on, 0);
	t_free(&t);
	expect_error("name: x\non: 1\n",
	    "t.yaml:2:5: on: expected true or false, found \"1\"");
	expect_error("name: x\non: maybe\n",
	    "t.yaml:2:5: on: expected true or false, found \"maybe\"");
	expect_error("name: x\non: [yes]\n",
	    "t.yaml:2:5: on: expected true or false, found a list");

	/* durations: a bare number is seconds */
	assert_int_equal(parse("name: x\nevery: 90\n", &t, err, sizeof(err)),
	    0);
	assert_int_equal(t.every_ms, 90000);
	t_free(&t);
	assert_int_equal(parse("name: x\nevery: 1h\n", &t, err, sizeof(err)),
	    0);
	assert_int_equal(t.every_ms, 3600000);
	t_free(&t);
	expect_error("name: x\nevery: 500ms\n",
	    "t.yaml:2:8: every: 500ms is out of range (1s-1h)");
	expect_error("name: x\nevery: 61m\n",
	    "t.yaml:2:8: every: 61m is out of range (1s-1h)");
	expect_error("name: x\nevery: soon\n",
	    "t.yaml:2:8: every: expected a duration such as 10s, 5m, 2h, "
	    "found \"soon\"");
	expect_error("name: x\nevery: 1.5s\n",
	    "t.yaml:2:8: every: expected a duration such as 10s, 5m, 2h, "
	    "found \"1.5s\"");
	expect_error("name: x\nevery: {s: 1}\n",
	    "t.yaml:2:8: every: expected a duration, found a mapping");

	/* addresses: numeric, with the default port unless one is given */
	assert_int_equal(parse("name: x\naddr: \"[2001:db8::1]:853\"\n", &t,
	    err, sizeof(err)), 0);
	assert_string_equal(t.addr.text, "[2001:db8::1]:853");
	assert_int_equal(t.addr.ss.ss_family, AF_INET6);
	assert_int_equal(t.addr.len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&t.addr.ss)->sin6_port),
	    853);
	t_free(&t);
	expect_error("name: x\naddr: dns.google\n",
	    "t.yaml:2:7: addr: \"dns.google\" is not an IP address (with an "
	    "optional :port)");
	expect_error("name: x\naddr: 192.0.2.1:0\n",
	    "t.yaml:2:7: addr: \"192.0.2.1:0\" is not an IP address (with an "
	    "optional :port)");
	expect_error("name: x\naddr: [192.0.2.1]\n",
	    "t.yaml:2:7: addr: expected an address, found a list");
}

/*
 * Values reach log lines, file names and HTTP headers: no control
 * character, however it was written; bytes of UTF-8 are fine.
 */
static void
test_control_chars(void **state)
{
	struct t t;
	char err[512];

	expect_error("name: \"a\\tb\"\n",
	    "t.yaml:1:7: name: control character (0x09) in value");
	expect_error("name: a\tb\n",
	    "t.yaml:1:7: name: control character (0x09) in value");
	expect_error("name: \"a\\r\\nX-Header: 1\"\n",
	    "t.yaml:1:7: name: control character (0x0d) in value");
	expect_error("name: \"\\x7f\"\n",
	    "t.yaml:1:7: name: control character (0x7f) in value");
	expect_error("name: \"\\e[31m\"\n",
	    "t.yaml:1:7: name: control character (0x1b) in value");
	/* a block scalar keeps its newlines */
	expect_error("name: |\n  one\n  two\n",
	    "t.yaml:1:7: name: control character (0x0a) in value");
	/* before the type is looked at */
	expect_error("name: x\nport: \"80\\t\"\n",
	    "t.yaml:2:7: port: control character (0x09) in value");
	expect_error("name: x\ntags: [a, \"b\\n\"]\n",
	    "t.yaml:2:11: tags[1]: control character (0x0a) in value");

	memset(&t, 0, sizeof(t));
	assert_int_equal(parse("name: \"Parkhus S\xc3\xb8r \\u00e9\"\n", &t,
	    err, sizeof(err)), 0);
	assert_string_equal(t.name, "Parkhus S\xc3\xb8r \xc3\xa9");
	t_free(&t);
	/* a folded scalar without its final newline is one line */
	assert_int_equal(parse("name: >-\n  one\n  two\n", &t, err,
	    sizeof(err)), 0);
	assert_string_equal(t.name, "one two");
	t_free(&t);
}

/* A NUL byte can be written with an escape; it must not cut a value. */
static void
test_nul(void **state)
{
	static const char raw[] = "name: x\nport: 1\0\n";
	struct t t;
	char err[512];

	expect_error("name: \"a\\0b\"\n",
	    "t.yaml:1:7: name: NUL byte in value");
	expect_error("name: x\nport: \"8\\0\"\n",
	    "t.yaml:2:7: port: NUL byte in value");
	expect_error("name: x\non: \"yes\\0no\"\n",
	    "t.yaml:2:5: on: NUL byte in value");
	expect_error("name: x\nevery: \"1s\\0\"\n",
	    "t.yaml:2:8: every: NUL byte in value");
	expect_error("name: x\naddr: \"192.0.2.1\\0\"\n",
	    "t.yaml:2:7: addr: NUL byte in value");
	expect_error("name: x\ntags: [a, \"b\\0\"]\n",
	    "t.yaml:2:11: tags[1]: NUL byte in value");
	expect_error("name: x\nraw: \"\\0\"\n",
	    "t.yaml:2:6: raw: NUL byte in value");
	/*
	 * A raw NUL byte in the file is refused by the YAML reader itself,
	 * which counts in bytes: the position is still a line and column.
	 */
	memset(&t, 0, sizeof(t));
	assert_int_equal(parse_len(raw, sizeof(raw) - 1, &t, err, sizeof(err)),
	    -1);
	assert_string_equal(err,
	    "t.yaml:2:8: control characters are not allowed (byte 0x00 at "
	    "offset 15): the file must be UTF-8 text");
	assert_null(t.name);
	/* So is bad UTF-8; "\xc3\xa9" is one character, one column. */
	expect_error("name: x\nraw: \xc3\xa9\xff\n",
	    "t.yaml:2:7: invalid leading UTF-8 octet (byte 0xff at offset "
	    "15): the file must be UTF-8 text");
}

static void
test_aliases(void **state)
{
	/* An alias as a mapping's value points at the key that uses it. */
	expect_error("name: &n gw\nraw: *n\n",
	    "t.yaml:2:1: raw: YAML aliases are not supported");
	/* In a list, at the list; what was built before is freed. */
	expect_error("name: x\ntags: [&a x, *a]\n",
	    "t.yaml:2:7: tags[1]: YAML aliases are not supported");
	expect_error("name: x\nlist: [&m {n: 1}, *m]\n",
	    "t.yaml:2:7: list[1]: YAML aliases are not supported");
	/* A "billion laughs" is refused at its first reuse. */
	expect_error("name: x\ncount: &a [1, 1]\ntags: [*a, *a]\n",
	    "t.yaml:3:7: tags[0]: YAML aliases are not supported");
}

static void
test_documents(void **state)
{
	struct t t;
	char err[512];

	expect_error("name: x\n---\nname: y\n",
	    "t.yaml:3:1: only one YAML document is allowed");
	expect_error("name: x\n...\n--- [1]\n",
	    "t.yaml:3:5: only one YAML document is allowed");
	/* A broken second document is as unwelcome as a good one. */
	memset(&t, 0, sizeof(t));
	assert_int_equal(parse("name: x\n---\nname: [y\n", &t, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "t.yaml:4:1: did not find expected ',' or "
	    "']' while parsing a flow sequence");
	t_free(&t);

	/* Syntax errors in the first say where, in libyaml's words. */
	expect_error("name: [x\n", "t.yaml:2:1: did not find expected ',' or "
	    "']' while parsing a flow sequence");
	expect_error("name: x\n  port: 1\n", "t.yaml:2:7: mapping values are "
	    "not allowed in this context");
	expect_error("name: *nowhere\n", "t.yaml:1:7: found undefined alias");
}

/* An empty document walks nothing: no key, no required key, no check. */
static void
test_empty(void **state)
{
	static const char *const empty[] = {
		"", "\n", "# only a comment\n", "---\n", "--- \n...\n",
	};
	struct t t;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		memset(&t, 0, sizeof(t));
		strcpy(err, "unset");
		if (parse(empty[i], &t, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", empty[i], err);
		assert_string_equal(err, "");
		/* the check still runs: a rule may refuse an empty file */
		assert_int_equal(t.checked, 1);
		assert_null(t.name);
	}
	/* NULL-length input is empty too. */
	assert_int_equal(parse_len("name: x\n", 0, &t, err, sizeof(err)), 0);
	assert_null(t.name);
}

static char *
repeat(const char *head, const char *item, size_t n, const char *tail)
{
	size_t hl = strlen(head), il = strlen(item), tl = strlen(tail), i;
	char *s = malloc(hl + il * n + tl + 1), *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < n; i++, p += il)
		memcpy(p, item, il);
	memcpy(p, tail, tl + 1);
	return s;
}

static void
test_bounds(void **state)
{
	struct t t;
	char err[512], want[128];
	char *s;

	/* Exactly CFG_MAX_BYTES is read; one byte more is not. */
	s = malloc(CFG_MAX_BYTES + 2);
	assert_non_null(s);
	memset(s, ' ', CFG_MAX_BYTES + 1);
	memcpy(s, "name: x\n#", 9);
	s[CFG_MAX_BYTES - 1] = '\n';
	s[CFG_MAX_BYTES] = '\n';
	s[CFG_MAX_BYTES + 1] = '\0';
	memset(&t, 0, sizeof(t));
	if (parse_len(s, CFG_MAX_BYTES, &t, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(t.name, "x");
	t_free(&t);
	assert_int_equal(parse_len(s, CFG_MAX_BYTES + 1, &t, err, sizeof(err)),
	    -1);
	snprintf(want, sizeof(want), "t.yaml:1:1: file larger than %d bytes",
	    CFG_MAX_BYTES);
	assert_string_equal(err, want);
	assert_null(t.name);
	free(s);

	/*
	 * Nodes: the root mapping, two keys, "x", the list and its items.
	 * CFG_MAX_NODES in all is read; one more is not.
	 */
	s = repeat("name: x\ntags: [", "t,", CFG_MAX_NODES - 5, "]\n");
	memset(&t, 0, sizeof(t));
	if (parse(s, &t, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(t.ntags, CFG_MAX_NODES - 5);
	assert_string_equal(t.tags[CFG_MAX_NODES - 6], "t");
	t_free(&t);
	free(s);
	s = repeat("name: x\ntags: [", "t,", CFG_MAX_NODES - 4, "]\n");
	assert_int_equal(parse(s, &t, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "t.yaml:1:1: more than %d YAML nodes",
	    CFG_MAX_NODES);
	assert_string_equal(err, want);
	assert_null(t.tags);
	free(s);
}

static void
test_strlist(void **state)
{
	struct t t;
	char err[512];

	memset(&t, 0, sizeof(t));
	assert_int_equal(parse("name: x\ntags: one\n", &t, err, sizeof(err)),
	    0);
	assert_int_equal(t.ntags, 1);
	assert_string_equal(t.tags[0], "one");
	t_free(&t);
	assert_int_equal(parse("name: x\ntags: [a, b, c]\n", &t, err,
	    sizeof(err)), 0);
	assert_int_equal(t.ntags, 3);
	assert_string_equal(t.tags[0], "a");
	assert_string_equal(t.tags[1], "b");
	assert_string_equal(t.tags[2], "c");
	t_free(&t);
	assert_int_equal(parse("name: x\ntags: []\n", &t, err, sizeof(err)), 0);
	assert_int_equal(t.ntags, 0);
	assert_non_null(t.tags);
	t_free(&t);

	expect_error("name: x\ntags: \"\"\n", "t.yaml:2:7: tags: empty value");
	expect_error("name: x\ntags: [a, \"\"]\n",
	    "t.yaml:2:11: tags[1]: empty value");
	expect_error("name: x\ntags: [a, b, [c]]\n",
	    "t.yaml:2:14: tags[2]: expected a string, found a list");
	expect_error("name: x\ntags: {a: b}\n",
	    "t.yaml:2:7: tags: expected a list of strings, found a mapping");
}

/* cfg_error_at: a rule checked after the walk, at the place it is about. */
static void
test_error_at(void **state)
{
	struct cfg_mark m = cfg_mark(NULL);
	struct t t;
	char err[512];

	assert_int_equal(m.line, 1);
	assert_int_equal(m.column, 1);
	memset(&t, 0, sizeof(t));
	assert_int_equal(parse("name: x\nport: 9\nlater:   5\n", &t, err,
	    sizeof(err)), 0);
	t_free(&t);
	expect_error("name: x\nport: 9\nlater:   50\n",
	    "t.yaml:3:10: later 50 is more than port 9");
	expect_error("name: x\nlater: 50\nport: 9\n",
	    "t.yaml:2:8: later 50 is more than port 9");
	/* The first error is the one reported. */
	memset(&t, 0, sizeof(t));
	t.twice = 1;
	assert_int_equal(parse("name: x\n", &t, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yaml:1:1: first");
	t_free(&t);
	/* A short err buffer is cut, not overrun. */
	assert_int_equal(parse("name: x\nbogus: 1\n", &t, err, 12), -1);
	assert_string_equal(err, "t.yaml:2:1:");
	t_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_strlist),
		cmocka_unit_test(test_error_at),
	};

	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
