/*
 * libFuzzer target: the Public Suffix List parser (common/psl.c), over
 * bytes that claim to be public_suffix_list.dat.  A list that parses is
 * asked about names made of the input's own lines, and about the names
 * an allowlist check asks for.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "common/psl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "net", "co.uk", "a.b.c",
	    "zapcloud.azure-devices.net", "", ".", "x.", "WWW.CK" };
	char err[256], name[300];
	struct psl *p;
	size_t i, off = 0;

	err[0] = '\0';
	if ((p = psl_parse(data, size, err, sizeof(err))) == NULL) {
		assert(err[0] != '\0');		/* a failure always says why */
		return 0;
	}
	assert(psl_count(p) > 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)psl_is_suffix(p, names[i]);
	/* Every line of the input as a name, bounded. */
	while (off < size) {
		size_t n = 0;

		while (off + n < size && data[off + n] != '\n' &&
		    n < sizeof(name) - 1)
			n++;
		memcpy(name, data + off, n);
		name[n] = '\0';
		(void)psl_is_suffix(p, name);
		off += n + 1;
	}
	psl_free(p);
	return 0;
}
