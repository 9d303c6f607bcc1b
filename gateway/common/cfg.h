/*
 * cfg: the small YAML framework every section parser of evgated.yaml is
 * written in.  The only file that includes <yaml.h> is cfg.c: a parser
 * sees opaque nodes and calls these helpers, which check type, range and
 * shape and report errors as "file:line:column: path: message", the path
 * being where in the file the node is ("relay.routes[1].allow[0]").
 *
 * cfg_parse() reads one document with libyaml's document API (which keeps
 * a position for every node), bounded in size and node count, refusing
 * aliases (a small file could expand into a huge tree) and a second
 * document, and walks the root mapping with a table of keys.  A mapping
 * is always walked against such a table: unknown, duplicate and missing
 * required keys are errors.  The first error is the one reported.
 *
 * Section parsers allocate into the struct they are given; on error the
 * caller frees the whole partial result with its own free function, so a
 * parser never needs to undo.
 */
#ifndef EVG_CFG_H
#define EVG_CFG_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_BYTES	(1024 * 1024)	/* refuse larger files */
#define CFG_MAX_NODES	20000		/* and larger trees */

struct cfg_ctx;
struct cfg_node;	/* one node of the document (opaque) */

/* A position in the file, 1-based, kept for checks made after parsing. */
struct cfg_mark {
	size_t	 line;
	size_t	 column;
};

/* An address as written in the file, parsed. */
struct cfg_sockaddr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			*text;		/* as written in the file */
};

typedef int (*cfg_key_fn)(struct cfg_ctx *, struct cfg_node *, void *);

struct cfg_key {
	const char	*name;
	cfg_key_fn	 fn;
	int		 required;
};

/* A rule over the whole document, run after the root was walked. */
typedef int (*cfg_check_fn)(struct cfg_ctx *, struct cfg_node *root, void *);

/*
 * Parse buf (name is used in messages) and walk its root mapping with
 * keys, passing arg to each key's function; then run check (may be NULL).
 * An empty document walks nothing.  0, or -1 with err set.
 */
int	cfg_parse(const char *name, const uint8_t *buf, size_t len,
	    const struct cfg_key *keys, cfg_check_fn check, void *arg,
	    char *err, size_t errlen);

/* Record "file:line:col: path: message" for node; returns -1. */
int	cfg_error(struct cfg_ctx *, struct cfg_node *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* The same at a saved position (path as at the time of the call). */
int	cfg_error_at(struct cfg_ctx *, const struct cfg_mark *, const char *,
	    ...) __attribute__((format(printf, 3, 4)));
/* Where node starts. */
struct cfg_mark cfg_mark(const struct cfg_node *);

/* Walk a mapping: unknown, duplicate and missing required keys are errors. */
int	cfg_map(struct cfg_ctx *, struct cfg_node *, const struct cfg_key *,
	    void *);
/* Call fn for each item of a list (a single scalar is not a list). */
int	cfg_seq(struct cfg_ctx *, struct cfg_node *,
	    int (*)(struct cfg_ctx *, struct cfg_node *, size_t, void *),
	    void *);
/*
 * node must be a list: its length in *n, else an error "expected what,
 * found ...".
 */
int	cfg_list_len(struct cfg_ctx *, struct cfg_node *, const char *what,
	    size_t *n);
int	cfg_is_scalar(const struct cfg_node *);
int	cfg_is_list(const struct cfg_node *);
/* "a scalar", "a list", "a mapping": for messages. */
const char *cfg_kind(const struct cfg_node *);

/*
 * Scalars.  Each checks the type (and a NUL byte or any other control
 * character inside: values reach log lines, file names and HTTP headers)
 * and the range, and reports errors itself.  cfg_scalar returns the text (borrowed, NUL
 * terminated, *len its length when len is not NULL) or NULL after an
 * error "expected want, found ...".
 */
const char *cfg_scalar(struct cfg_ctx *, struct cfg_node *, const char *want,
	    size_t *len);
int	cfg_str(struct cfg_ctx *, struct cfg_node *, char **);
int	cfg_uint(struct cfg_ctx *, struct cfg_node *, unsigned long min,
	    unsigned long max, unsigned long *);
int	cfg_bool(struct cfg_ctx *, struct cfg_node *, int *);
int	cfg_duration(struct cfg_ctx *, struct cfg_node *, uint64_t min_ms,
	    uint64_t max_ms, uint64_t *);
int	cfg_addr(struct cfg_ctx *, struct cfg_node *, uint16_t defport,
	    struct cfg_sockaddr *);
/* A list of strings (or one string) into a new array. */
int	cfg_strlist(struct cfg_ctx *, struct cfg_node *, char ***, size_t *);

/* Free n addresses' texts and the array. */
void	cfg_sockaddr_free(struct cfg_sockaddr *, size_t n);
/* Free n strings and the array. */
void	cfg_strlist_free(char **, size_t n);

#endif
