/*
 * libFuzzer target: the YAML configuration loader.  Every diagnostic is
 * located in the file; a file that loads is written back with every
 * default (config_dump) and must load again to the same dump.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char *
dump(const struct config *c, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	assert(fp != NULL);
	config_dump(c, fp);
	fclose(fp);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_diags d;
	struct config *c, *c2;
	char *t1, *t2;
	size_t i, l1, l2;

	memset(&d, 0, sizeof(d));
	c = config_load_buffer_diags("fuzz.yaml", data, size, &d);
	for (i = 0; i < d.n; i++)		/* always located */
		assert(strncmp(d.v[i].text, "fuzz.yaml:", 10) == 0);
	assert((c == NULL) == (d.nerrors > 0));
	cfg_diags_free(&d);
	if (c == NULL)
		return 0;
	t1 = dump(c, &l1);
	c2 = config_load_buffer_diags("dump.yaml", (const uint8_t *)t1, l1,
	    &d);
	if (c2 == NULL) {
		fprintf(stderr, "dump does not load: %s\n%s\n",
		    cfg_diags_first_error(&d), t1);
		abort();
	}
	t2 = dump(c2, &l2);
	assert(l1 == l2 && memcmp(t1, t2, l1) == 0);
	cfg_diags_free(&d);
	free(t1);
	free(t2);
	config_free(c);
	config_free(c2);
	return 0;
}
