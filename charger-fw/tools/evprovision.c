/*
 * evprovision: the production step that gives a charger its identity
 * (doc/evcharger.8).  Makes a per-device secret (or takes one), writes the
 * device id and secret into the charger's credential store, and prints
 * what the cloud side needs: the hub username and a password-file entry
 * in mosquitto_passwd's format (PBKDF2-SHA512, 101 iterations, 12-byte
 * salt: "user:$7$101$salt$hash"), so the secret never has to be typed
 * again.  With --sas the secret is a base64 device key for SAS tokens.
 *
 *   evprovision -d STATE_DIR -i ID [--hub HOST] [--secret S | --sas]
 *               [--force]
 * stdout: the password-file entry (one line).  stderr: a summary.
 */
#include "evgate_config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/sas.h"
#include "hal/linux/hal_linux.h"

#define ITERATIONS	101
#define SALT_LEN	12
#define HASH_LEN	64

static void
usage_to(FILE *fp)
{
	fprintf(fp, "usage: evprovision -d STATE_DIR -i ID [--hub HOST] "
	    "[--secret SECRET | --sas] [--force]\n"
	    "       evprovision --help | --version\n"
	    "Writes a charger's device id and secret into its credential "
	    "store and\nprints the line the cloud needs; see evcharger(8).\n");
}

static void __attribute__((noreturn))
usage(void)
{
	usage_to(stderr);
	exit(2);
}

static int
id_ok(const char *id)
{
	const char *p;

	if (*id == '\0' ||
	    strlen(id) >= sizeof(((struct hal_cred *)0)->device_id))
		return 0;
	for (p = id; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "id", required_argument, NULL, 'i' },
		{ "hub", required_argument, NULL, 'h' },
		{ "secret", required_argument, NULL, 'S' },
		{ "sas", no_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *id = NULL, *hub = "zapcloud.azure-devices.net";
	const char *secret = NULL;
	unsigned char raw[32], salt[SALT_LEN], hash[HASH_LEN];
	char gen[128], user[512], salt64[32], hash64[128];
	struct hal_linux_params hp;
	struct hal_cred cred, old;
	int ch, sas = 0, force = 0;
	size_t i;

	while ((ch = getopt_long(argc, argv, "d:i:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'h':
			hub = optarg;
			break;
		case 'S':
			secret = optarg;
			break;
		case 'k':
			sas = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'H':
			usage_to(stdout);
			return 0;
		case 'V':
			printf("evprovision %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (dir == NULL || id == NULL || optind != argc || (sas && secret))
		usage();
	if (!id_ok(id)) {
		fprintf(stderr, "evprovision: bad device id \"%s\" (letters, "
		    "digits, - and _)\n", id);
		return 1;
	}
	if (secret != NULL && (*secret == '\0' || strlen(secret) >= 200 ||
	    strpbrk(secret, "\n:") != NULL)) {
		fprintf(stderr, "evprovision: the secret must be 1..199 bytes "
		    "without newline or colon\n");
		return 1;
	}
	memset(&hp, 0, sizeof(hp));
	hp.state_dir = dir;
	hp.log_stderr = 1;
	hp.ident = "evprovision";
	hp.storage_only = 1;
	if (hal_linux_init(&hp) == -1)
		return 1;
	if (!force && hal_cred_load(&old) == 0) {
		fprintf(stderr, "evprovision: %s is provisioned already as %s "
		    "(--force replaces it)\n", dir, old.device_id);
		return 1;
	}
	if (secret == NULL) {
		/* 256 bits from the HAL's random source. */
		hal_random(raw, sizeof(raw));
		if (sas)
			EVP_EncodeBlock((unsigned char *)gen, raw, sizeof(raw));
		else
			for (i = 0; i < sizeof(raw); i++)
				snprintf(gen + 2 * i, 3, "%02x", raw[i]);
		secret = gen;
	}
	memset(&cred, 0, sizeof(cred));
	snprintf(cred.device_id, sizeof(cred.device_id), "%s", id);
	snprintf(cred.secret, sizeof(cred.secret), "%s", secret);
	if (hal_cred_store(&cred) == -1) {
		fprintf(stderr, "evprovision: cannot write %s/credentials\n",
		    dir);
		return 1;
	}
	if (sas_username(hub, id, user, sizeof(user)) == -1)
		return 1;
	fprintf(stderr, "evprovision: %s provisioned in %s\n", id, dir);
	fprintf(stderr, "  username: %s\n", user);
	if (sas) {
		/* The hub registers the key; tokens are made per connect. */
		fprintf(stderr, "  device key (register it with the hub): %s\n",
		    secret);
		printf("%s %s\n", id, secret);
		return 0;
	}
	hal_random(salt, sizeof(salt));
	if (PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, sizeof(salt),
	    ITERATIONS, EVP_sha512(), sizeof(hash), hash) != 1)
		return 1;
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)hash64, hash, sizeof(hash));
	printf("%s:$7$%d$%s$%s\n", user, ITERATIONS, salt64, hash64);
	return 0;
}
