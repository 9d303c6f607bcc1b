/*
 * testutil: small helpers shared by the cmocka tests.
 */
#ifndef EVG_TESTUTIL_H
#define EVG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read tests/unit/data/name (from $top_srcdir, else "."); NULL if absent. */
static inline uint8_t *
test_data(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	uint8_t *buf;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", top ? top : ".",
	    name);
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* A fresh directory "/tmp/TAG.XXXXXX" into dir (cap bytes); 0 or -1. */
static inline int
test_tmpdir(char *dir, size_t cap, const char *tag)
{
	int n = snprintf(dir, cap, "/tmp/%s.XXXXXX", tag);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* Remove dir and all it holds ("rm -rf"); 0 or -1. */
static inline int
test_rmtree(const char *dir)
{
	char cmd[1100];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
