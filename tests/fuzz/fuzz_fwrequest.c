/*
 * libFuzzer target: the payload of direct method 200 (firmware upgrade),
 * fwupdate_parse_request() in charger-fw/core/update/fwupdate.c.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/update/fwupdate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwupdate_request r;
	enum fwupdate_req_status st = fwupdate_parse_request(data, size, &r);

	assert(strlen(fwupdate_req_strerror(st)) > 0);
	assert(strlen(r.url) < sizeof(r.url));
	assert(strlen(r.version) < sizeof(r.version));
	if (st == FWUPDATE_REQ_OK) {
		/* What the engine relies on: https, room for ".sig". */
		assert(strncmp(r.url, "https://", 8) == 0);
		assert(strlen(r.url) <= 250);
		assert(strchr(r.url, ' ') == NULL);
		assert(r.version[0] == '\0' || manifest_version_ok(r.version));
	} else
		assert(r.url[0] == '\0' && r.version[0] == '\0');
	return 0;
}
