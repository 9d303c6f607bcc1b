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
 * required keys are errors.
 *
 * Every error is reported, not only the first: cfg_map and cfg_seq go on
 * with the next key or item after one fails (and then return -1), so an
 * operator fixes a file in one round.  A section parser therefore must not
 * assume that an earlier key or item of its mapping or list was parsed
 * when it reads what that one would have set.  Warnings (cfg_warn) are
 * kept beside the errors and do not make the parse fail.  The messages go
 * into a struct cfg_diags, in file order of discovery.
 *
 * While walking, cfg_parse records where each key's value and each list
 * item starts under its path (struct cfg_index), so that rules checked
 * later -- across sections, or against the running machine -- can point
 * at the real node (cfg_index_mark) instead of at the top of the file.
 *
 * Section parsers allocate into the struct they are given; on error the
 * caller frees the whole partial result with its own free function, so a
 * parser never needs to undo.
 */
#ifndef EVG_CFG_H
#define EVG_CFG_H

#include <sys/socket.h>
#include <stdarg.h>
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

/* What was said about a file: every error and warning, in order. */
#define CFG_MAX_DIAGS	100		/* more are only counted */
struct cfg_diag {
	int		 warning;	/* 0: an error */
	char		*text;		/* "file:line:column: path: message" */
};
struct cfg_diags {
	struct cfg_diag	*v;
	size_t		 n;		/* kept, at most CFG_MAX_DIAGS */
	size_t		 nerrors;	/* counted, also beyond the kept */
	size_t		 nwarnings;
};
/* Free the texts and the array; the struct may be reused (zeroed). */
void	cfg_diags_free(struct cfg_diags *);
/* The first error's text, or NULL. */
const char *cfg_diags_first_error(const struct cfg_diags *);
/*
 * Add a diagnostic that is not about one node of a document (a file that
 * cannot be read, say): text as given.
 */
void	cfg_diags_add(struct cfg_diags *, int warning, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * Add "name:line:column: path: [warning: ]message" (path may be empty).
 */
void	cfg_diags_addv_at(struct cfg_diags *, int warning, const char *name,
	    const struct cfg_mark *, const char *path, const char *fmt,
	    va_list) __attribute__((format(printf, 6, 0)));

/* Where every key's value and list item of a document starts, by path. */
struct cfg_index;
/* Free it (NULL is fine). */
void	cfg_index_free(struct cfg_index *);
/*
 * The position of path ("relay.routes[1].allow[0]"), or of its nearest
 * recorded parent ("relay.routes[1]", "relay"), else 1:1.  idx may be
 * NULL.
 */
struct cfg_mark cfg_index_mark(const struct cfg_index *, const char *path);
/* Is exactly path recorded (set in the file)? */
int	cfg_index_has(const struct cfg_index *, const char *path);
/*
 * Report at path, as cfg_error/cfg_warn do, for rules checked after the
 * parse (the machine's users, interfaces and ports).  name is the file.
 */
void	cfg_index_diag(const struct cfg_index *, struct cfg_diags *,
	    int warning, const char *name, const char *path, const char *fmt,
	    ...) __attribute__((format(printf, 6, 7)));

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
 * keys, passing arg to each key's function; then run check (may be NULL),
 * also after errors in the walk (it decides what it can still check).
 * An empty document walks nothing.  0, or -1 when there was an error;
 * every error and warning is added to diags.  When index is not NULL it
 * receives the positions of the document's nodes (free with
 * cfg_index_free), also on error.
 */
int	cfg_parse(const char *name, const uint8_t *buf, size_t len,
	    const struct cfg_key *keys, cfg_check_fn check, void *arg,
	    struct cfg_diags *diags, struct cfg_index **index);

/* Record "file:line:col: path: message" for node; returns -1. */
int	cfg_error(struct cfg_ctx *, struct cfg_node *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* The same at a saved position (path as at the time of the call). */
int	cfg_error_at(struct cfg_ctx *, const struct cfg_mark *, const char *,
	    ...) __attribute__((format(printf, 3, 4)));
/*
 * An error at a recorded path ("relay.routes[0].port", see
 * cfg_index_mark), named by that path: for rules across sections.
 */
int	cfg_error_path(struct cfg_ctx *, const char *path, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Warnings: reported the same way, "...: path: warning: message"; the
 * parse still succeeds.  Return 0. */
int	cfg_warn(struct cfg_ctx *, struct cfg_node *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	cfg_warn_path(struct cfg_ctx *, const char *path, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Errors reported so far in this parse (to tell whether a part failed). */
size_t	cfg_nerrors(const struct cfg_ctx *);
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
