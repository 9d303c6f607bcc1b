/* libFuzzer target: the YAML configuration loader. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "daemon/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct config *c;

	c = config_load_buffer("fuzz.yaml", data, size, err, sizeof(err));
	if (c == NULL)
		assert(strncmp(err, "fuzz.yaml", 9) == 0);	/* always located */
	config_free(c);
	return 0;
}
