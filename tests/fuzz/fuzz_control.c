/* libFuzzer target: control-socket request parsing. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "common/control.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *req;
	const char *cmd;
	char err[256];

	req = control_parse_request((const char *)data, size, &cmd, err,
	    sizeof(err));
	if (req != NULL) {
		assert(cmd != NULL && strlen(cmd) <= CONTROL_MAX_CMD);
		json_object_put(req);
	} else
		assert(err[0] != '\0');
	return 0;
}
