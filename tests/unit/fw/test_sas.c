/*
 * test_sas: the hub username and the SAS token against a vector computed
 * independently with the openssl command line:
 *
 *   key=$(printf 'evgate-test-device-key-32-bytes!' | base64)
 *     -> ZXZnYXRlLXRlc3QtZGV2aWNlLWtleS0zMi1ieXRlcyE=
 *   printf '%s\n%s' 'zapcloud.azure-devices.net%2Fdevices%2FZAP000101' \
 *       1800000000 | openssl dgst -sha256 -mac HMAC \
 *       -macopt 'key:evgate-test-device-key-32-bytes!' -binary | base64
 *     -> OTiVM+yk+VwCINvT6s63c3kZklL1bnxhZmLHt3zf81E=
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sas.h"

#define HOST	"zapcloud.azure-devices.net"
#define KEY	"ZXZnYXRlLXRlc3QtZGV2aWNlLWtleS0zMi1ieXRlcyE="

static void
test_vector(void **state)
{
	char tok[512];

	assert_int_equal(sas_token(HOST, "ZAP000101", KEY, 1800000000, tok,
	    sizeof(tok)), 0);
	assert_string_equal(tok, "SharedAccessSignature "
	    "sr=zapcloud.azure-devices.net%2Fdevices%2FZAP000101"
	    "&sig=OTiVM%2Byk%2BVwCINvT6s63c3kZklL1bnxhZmLHt3zf81E%3D"
	    "&se=1800000000");
	/* Another expiry gives another signature. */
	assert_int_equal(sas_token(HOST, "ZAP000101", KEY, 1800000001, tok,
	    sizeof(tok)), 0);
	assert_null(strstr(tok, "OTiVM"));
}

static void
test_bad_keys(void **state)
{
	char tok[512];

	assert_int_equal(sas_token(HOST, "ZAP000101", "", 1, tok,
	    sizeof(tok)), -1);
	assert_int_equal(sas_token(HOST, "ZAP000101", "abc", 1, tok,
	    sizeof(tok)), -1);
	assert_int_equal(sas_token(HOST, "ZAP000101", "a!c=", 1, tok,
	    sizeof(tok)), -1);
	/* Too small a buffer is an error, never a cut token. */
	assert_int_equal(sas_token(HOST, "ZAP000101", KEY, 1, tok, 40), -1);
}

static void
test_username(void **state)
{
	char u[256];

	assert_int_equal(sas_username(HOST, "ZAP000101", u, sizeof(u)), 0);
	assert_string_equal(u,
	    "zapcloud.azure-devices.net/ZAP000101/?api-version=2021-04-12");
	assert_int_equal(sas_username(HOST, "ZAP000101", u, 20), -1);
}

static void
test_urlencode(void **state)
{
	char out[64];

	assert_int_equal(sas_urlencode("a/b+c=d~e_f.g-h i", out, sizeof(out)),
	    0);
	assert_string_equal(out, "a%2Fb%2Bc%3Dd~e_f.g-h%20i");
	assert_int_equal(sas_urlencode("///", out, 9), -1);
	assert_int_equal(sas_urlencode("///", out, 10), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_urlencode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
