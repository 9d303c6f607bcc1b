/*
 * capture.h: what a test's code wrote to stderr (log lines), through a
 * temporary file dup'ed over descriptor 2.  Include after <cmocka.h>.
 */
#ifndef EVGATE_TEST_CAPTURE_H
#define EVGATE_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct capture {
	FILE	*fp;
	int	 saved;
};

static inline void
capture_start(struct capture *c)
{
	fflush(stderr);
	c->fp = tmpfile();
	assert_non_null(c->fp);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved != -1);
	assert_true(dup2(fileno(c->fp), STDERR_FILENO) != -1);
}

/* What was written to stderr since capture_start; free it. */
static inline char *
capture_end(struct capture *c)
{
	char *s;
	long n;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	n = ftell(c->fp);
	assert_true(n >= 0);
	rewind(c->fp);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, c->fp), (size_t)n);
	fclose(c->fp);
	return s;
}

#endif
