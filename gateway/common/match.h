/*
 * match: the relay's allowlist rule for names.  A pattern is an exact name
 * or "*.suffix"; comparison ignores ASCII case and one trailing dot on
 * either side.  "*.example.com" matches "a.example.com" and
 * "a.b.example.com" but not "example.com" itself.
 */
#ifndef EVG_MATCH_H
#define EVG_MATCH_H

#include <stddef.h>

/* 1 when name matches pattern, else 0.  Pure; name need not be NUL-ended. */
int	match_name(const char *pattern, const char *name, size_t namelen);

/* 1 when name matches any of n patterns. */
int	match_any(char *const *patterns, size_t n, const char *name,
	    size_t namelen);

/* 1 when one of the n patterns is name itself (not a wildcard). */
int	match_exact_any(char *const *patterns, size_t n, const char *name,
	    size_t namelen);

/* Is s a valid allowlist pattern?  Returns NULL or a reason. */
const char *match_pattern_check(const char *s);

#endif
