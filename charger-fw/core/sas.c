/*
 * sas: see sas.h.  OpenSSL does the HMAC and the base64.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/sas.h"

#define API_VERSION	"2021-04-12"

int
sas_urlencode(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			if (o + 1 >= cap)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return 0;
}

int
sas_username(const char *host, const char *id, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s/?api-version=" API_VERSION, host, id);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
sas_token(const char *host, const char *id, const char *key_b64,
    int64_t expiry, char *out, size_t cap)
{
	unsigned char key[128], mac[EVP_MAX_MD_SIZE];
	char res[512], res_enc[768], tosign[800], sig[128], sig_enc[256];
	unsigned int maclen = 0;
	size_t klen = strlen(key_b64), pad = 0;
	int n;

	/* EVP_DecodeBlock does not drop padding: count it ourselves. */
	if (klen == 0 || klen % 4 != 0 || klen / 4 * 3 > sizeof(key))
		return -1;
	if (key_b64[klen - 1] == '=')
		pad++;
	if (key_b64[klen - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(key, (const unsigned char *)key_b64,
	    (int)klen)) < 0 || (size_t)n < pad)
		return -1;
	n -= (int)pad;
	if (snprintf(res, sizeof(res), "%s/devices/%s", host, id) >=
	    (int)sizeof(res) || sas_urlencode(res, res_enc, sizeof(res_enc)))
		return -1;
	if (snprintf(tosign, sizeof(tosign), "%s\n%lld", res_enc,
	    (long long)expiry) >= (int)sizeof(tosign))
		return -1;
	if (HMAC(EVP_sha256(), key, n, (const unsigned char *)tosign,
	    strlen(tosign), mac, &maclen) == NULL)
		return -1;
	EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
	if (sas_urlencode(sig, sig_enc, sizeof(sig_enc)) == -1)
		return -1;
	n = snprintf(out, cap, "SharedAccessSignature sr=%s&sig=%s&se=%lld",
	    res_enc, sig_enc, (long long)expiry);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
