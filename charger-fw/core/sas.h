/*
 * sas: IoT hub credentials.  The MQTT username and, for hubs that take
 * device keys, the SharedAccessSignature token:
 *   SharedAccessSignature sr={urlenc(host/devices/id)}
 *       &sig={urlenc(base64(HMAC-SHA256(base64dec(key),
 *             urlenc(host/devices/id) + "\n" + expiry)))}&se={expiry}
 * The expiry is absolute (Unix seconds): the clock must be right first.
 */
#ifndef EVFW_SAS_H
#define EVFW_SAS_H

#include <stddef.h>
#include <stdint.h>

/* RFC 3986 percent-encoding of all but unreserved characters. */
int	sas_urlencode(const char *in, char *out, size_t cap);
/* "{host}/{id}/?api-version=2021-04-12"; 0 or -1 when too long. */
int	sas_username(const char *host, const char *id, char *out, size_t cap);
/* The token; 0, or -1 on a bad key or a short buffer. */
int	sas_token(const char *host, const char *id, const char *key_b64,
	    int64_t expiry_s, char *out, size_t cap);

#endif
