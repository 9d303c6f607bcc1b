/*
 * hello: hand-built TLS ClientHellos for the tests (the tls_hello parser's
 * and the relay's): any extensions, any record size, any server names.
 */
#ifndef EVG_TEST_HELLO_H
#define EVG_TEST_HELLO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Put a 16-bit big-endian value; returns 2. */
static inline size_t
hello_put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/*
 * Build a ClientHello body with the given extensions block (raw, without
 * its length; NULL: no extensions at all), then wrap it into records of at
 * most recmax bytes.  Returns the bytes written, 0 when outcap is short.
 */
static inline size_t
hello_build(uint8_t *out, size_t outcap, const uint8_t *exts, size_t extlen,
    size_t recmax)
{
	uint8_t msg[20000];
	size_t n = 0, off, w = 0;

	if (extlen > sizeof(msg) - 64)
		return 0;
	msg[n++] = 1;			/* client_hello */
	n += 3;				/* length, below */
	msg[n++] = 3;
	msg[n++] = 3;			/* TLS 1.2 */
	memset(msg + n, 0xab, 32);	/* random */
	n += 32;
	msg[n++] = 0;			/* session id */
	n += hello_put16(msg + n, 2);
	msg[n++] = 0x13;
	msg[n++] = 0x01;		/* TLS_AES_128_GCM_SHA256 */
	msg[n++] = 1;
	msg[n++] = 0;			/* null compression */
	if (exts != NULL) {
		n += hello_put16(msg + n, extlen);
		memcpy(msg + n, exts, extlen);
		n += extlen;
	}
	msg[1] = (uint8_t)((n - 4) >> 16);
	msg[2] = (uint8_t)((n - 4) >> 8);
	msg[3] = (uint8_t)(n - 4);
	for (off = 0; off < n; off += recmax) {
		size_t take = n - off < recmax ? n - off : recmax;

		if (w + 5 + take > outcap)
			return 0;
		out[w++] = 22;
		out[w++] = 3;
		out[w++] = 1;
		w += hello_put16(out + w, take);
		memcpy(out + w, msg + off, take);
		w += take;
	}
	return w;
}

/* A server_name extension holding the given names (type 0 each). */
static inline size_t
hello_sni_ext(uint8_t *p, const char *const *names, size_t n)
{
	size_t w = 0, list = 0, i;

	for (i = 0; i < n; i++)
		list += 3 + strlen(names[i]);
	w += hello_put16(p + w, 0);		/* extension type */
	w += hello_put16(p + w, list + 2);	/* extension length */
	w += hello_put16(p + w, list);		/* server_name_list */
	for (i = 0; i < n; i++) {
		p[w++] = 0;
		w += hello_put16(p + w, strlen(names[i]));
		memcpy(p + w, names[i], strlen(names[i]));
		w += strlen(names[i]);
	}
	return w;
}

/* A one-record hello for name; the bytes written, 0 when cap is short. */
static inline size_t
hello_for(uint8_t *out, size_t cap, const char *name)
{
	uint8_t ext[600];

	if (strlen(name) > 500)
		return 0;
	return hello_build(out, cap, ext, hello_sni_ext(ext, &name, 1), 16384);
}

#endif
