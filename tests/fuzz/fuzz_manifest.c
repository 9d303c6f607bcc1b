/*
 * libFuzzer target: the firmware manifest parser and the key-id scan that
 * runs before signature verification (charger-fw/core/update/manifest.c).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/update/manifest.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[MANIFEST_KEYID_MAX];
	struct manifest m;
	enum manifest_status st, ks;

	ks = manifest_key_id(data, size, id, sizeof(id));
	assert(strlen(id) < sizeof(id));
	if (ks == MANIFEST_OK)
		assert(manifest_key_id_ok(id));
	st = manifest_parse(data, size, &m);
	assert(strlen(manifest_strerror(st)) > 0);
	if (st == MANIFEST_OK) {
		/* What the update engine relies on. */
		assert(size <= MANIFEST_MAX_LEN);
		assert(m.size >= 1 && m.size <= MANIFEST_SIZE_MAX);
		assert(m.expires > m.created);
		assert(manifest_product_ok(m.product));
		assert(manifest_version_ok(m.version));
		assert(manifest_key_id_ok(m.key_id));
		assert(m.url[0] == '\0' || strncmp(m.url, "https://", 8) == 0);
		assert(m.err_line == 0);
		/* A parsed manifest always names its key the same way. */
		assert(ks == MANIFEST_OK && strcmp(id, m.key_id) == 0);
	} else
		assert(m.err_line <= MANIFEST_MAX_LEN);
	return 0;
}
