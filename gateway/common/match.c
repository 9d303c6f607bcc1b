/*
 * match: allowlist name matching for the relay (see match.h for the rule).
 */
#include "evgate_config.h"

#include <string.h>
#include <strings.h>

#include "common/match.h"

static size_t
trim_dot(const char *s, size_t len)
{
	return len > 0 && s[len - 1] == '.' ? len - 1 : len;
}

int
match_name(const char *pattern, const char *name, size_t namelen)
{
	size_t plen = trim_dot(pattern, strlen(pattern));

	namelen = trim_dot(name, namelen);
	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* Suffix including its dot; at least one label before it. */
		const char *suffix = pattern + 1;
		size_t slen = plen - 1;

		if (namelen <= slen)
			return 0;
		return strncasecmp(name + namelen - slen, suffix, slen) == 0 &&
		    name[0] != '.';
	}
	return plen == namelen && strncasecmp(pattern, name, plen) == 0;
}

int
match_any(char *const *patterns, size_t n, const char *name, size_t namelen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (match_name(patterns[i], name, namelen))
			return 1;
	return 0;
}

int
match_exact_any(char *const *patterns, size_t n, const char *name,
    size_t namelen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (patterns[i][0] != '*' &&
		    match_name(patterns[i], name, namelen))
			return 1;
	return 0;
}

const char *
match_pattern_check(const char *s)
{
	size_t len = strlen(s), i, label = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return "empty name";
	if (len > 253)
		return "name longer than 253 characters";
	if (s[0] == '*') {
		if (len < 3 || s[1] != '.')
			return "a wildcard must be written \"*.suffix\"";
		s += 2;
		len -= 2;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return "empty label";
			label = 0;
			continue;
		}
		if (++label > 63)
			return "label longer than 63 characters";
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return c == '*' ? "\"*\" is only allowed as \"*.\" at the start" :
			    "invalid character in name";
	}
	if (label == 0)
		return "empty label";
	/*
	 * No top-level domain is all digits: this is an IP address (or
	 * reads like one), and a charger's SNI is always a name -- the relay
	 * refuses IP literals -- so it could never match.
	 */
	for (i = len - label; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return NULL;
	return "an IP address can never match: a TLS server name (SNI) is "
	    "always a host name; list the name the charger connects to";
}
