/*
 * psl: the Public Suffix List (publicsuffix.org), as Debian's publicsuffix
 * package ships it (PSL_DEFAULT_PATH), to tell whether a name is a public
 * suffix: a name under which anyone may register their own ("net",
 * "co.uk", "azurewebsites.net").  An allowlist entry "*.net" would let
 * chargers reach every server on the internet under it, so evgated
 * --check-config refuses wildcards over a public suffix.
 *
 * psl_parse() reads the list's text format: one rule per line, "//"
 * comments, blank lines; a rule is a name, "*.name" (every child of name
 * is a suffix) or "!name" (an exception to a wildcard).  Only the first
 * whitespace-separated word of a line counts, as the format says.  The
 * parser is pure and bounded (PSL_MAX_BYTES, PSL_MAX_RULES, a rule at
 * most 253 bytes): the file is outside bytes like any other.
 */
#ifndef EVG_PSL_H
#define EVG_PSL_H

#include <stddef.h>
#include <stdint.h>

#define PSL_DEFAULT_PATH	"/usr/share/publicsuffix/public_suffix_list.dat"
#define PSL_MAX_BYTES		(16 * 1024 * 1024)
#define PSL_MAX_RULES		200000

struct psl;

/*
 * Parse len bytes.  Returns a new list, or NULL with a message in err
 * ("line N: ...") for input that is not a suffix list: a NUL byte, a line
 * or rule too long, a rule that is not a name, more than PSL_MAX_RULES,
 * no rule at all.
 */
struct psl	*psl_parse(const uint8_t *buf, size_t len, char *err,
		    size_t errlen);
/* Read and parse path; NULL with err ("path: ...") on failure. */
struct psl	*psl_load(const char *path, char *err, size_t errlen);
void		 psl_free(struct psl *);
/* Rules kept (for messages and tests). */
size_t		 psl_count(const struct psl *);

/*
 * Is name (ASCII case ignored, one trailing dot allowed) a public suffix?
 * The list's algorithm: an exception rule says no; a rule for the name
 * itself, or a wildcard rule for its parent, says yes; and, the list's
 * implicit rule "*", so does any single label (a top-level domain, known
 * or not).  1 or 0.
 */
int		 psl_is_suffix(const struct psl *, const char *name);

#endif
