/* libFuzzer target: the ClientHello parser. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "relay/tls_hello.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello h;
	enum tls_hello_status st = tls_hello_parse(data, size, &h);

	/* What the relay relies on, checked on every input. */
	if (st == TLS_HELLO_OK) {
		assert(h.wire_len <= size);
		assert(h.wire_len <= TLS_HELLO_MAX_WIRE);
		if (h.has_sni) {
			assert(h.sni_len > 0 && h.sni_len <= TLS_HELLO_MAX_NAME + 1);
			assert(strlen(h.sni) == h.sni_len);
		}
	}
	return 0;
}
