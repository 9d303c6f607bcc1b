/*
 * evfw-sign: the vendor's firmware signing tool (see doc/evfw-sign.1).
 *
 *   evfw-sign keygen --key-id ID --out DIR
 *   evfw-sign sign --key PRIV --key-id ID --product P --version V
 *       --security-version N --expires 90d [--created TIME] [--url URL]
 *       [--out BASE] IMAGE
 *   evfw-sign verify --pub PUB [--image IMAGE] [--now TIME] MANIFEST
 *   evfw-sign pubkey KEYFILE
 *
 * It writes exactly what the charger's update engine expects: a manifest
 * in the evgate-fw-1 format and a detached 64-byte Ed25519 signature over
 * its bytes.  Before writing, every manifest is read back through the
 * firmware's own parser and verifier (core/update/manifest.c), so the tool can
 * never emit something a charger would refuse for its form.
 */
#include "evgate_config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/update/manifest.h"

#define EXIT_REFUSED	1	/* verification failed */
#define EXIT_USAGE	2

static const char *progname = "evfw-sign";

static void
warnx_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
ssl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		warnx_("%s: %s", what, buf);
	} else
		warnx_("%s", what);
	ERR_clear_error();
}

static void
usage_to(FILE *fp)
{
	fprintf(fp,
	    "usage: %s keygen --key-id ID --out DIR\n"
	    "       %s sign --key PRIV --key-id ID --product P --version V\n"
	    "           --security-version N --expires DURATION|TIME\n"
	    "           [--created TIME] [--url URL] [--out BASE] IMAGE\n"
	    "       %s verify --pub PUB [--image IMAGE] [--now TIME] MANIFEST\n"
	    "       %s pubkey KEYFILE\n"
	    "       %s --help | --version\n"
	    "See evfw-sign(1).\n",
	    progname, progname, progname, progname, progname);
}

static void
usage(void)
{
	usage_to(stderr);
	exit(EXIT_USAGE);
}

/* Reads a whole small file (at most cap bytes); -1 on error or too big. */
static ssize_t
read_small(const char *path, uint8_t *buf, size_t cap)
{
	ssize_t n, total = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warnx_("%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, buf + total, cap + 1 - (size_t)total);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
		if ((size_t)total > cap) {
			warnx_("%s: larger than %zu bytes", path, cap);
			close(fd);
			return -1;
		}
	}
	if (n == -1) {
		warnx_("%s: %s", path, strerror(errno));
		total = -1;
	}
	close(fd);
	return total;
}

/* Write path atomically (temp + fsync + rename) with the given mode. */
static int
write_file(const char *path, const void *buf, size_t len, mode_t mode,
    int excl)
{
	char tmp[PATH_MAX];
	const uint8_t *p = buf;
	ssize_t n;
	int fd;

	if (excl && access(path, F_OK) == 0) {
		warnx_("%s: exists; not overwriting", path);
		return -1;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		warnx_("%s: path too long", path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1) {
		warnx_("%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* umask must not widen nor narrow what we ask for. */
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	close(fd);
	if (rename(tmp, path) == -1) {
		warnx_("%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	warnx_("%s: %s", tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return -1;
}

static EVP_PKEY *
load_private(const char *path)
{
	EVP_PKEY *pkey;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		warnx_("%s: %s", path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		ssl_err(path);
		return NULL;
	}
	if (!EVP_PKEY_is_a(pkey, "ED25519")) {
		warnx_("%s: not an Ed25519 private key", path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

static int
raw_public(EVP_PKEY *pkey, uint8_t pub[MANIFEST_PUBKEY_LEN])
{
	size_t len = MANIFEST_PUBKEY_LEN;

	if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 ||
	    len != MANIFEST_PUBKEY_LEN) {
		ssl_err("reading the raw public key");
		return -1;
	}
	return 0;
}

/*
 * A public key file: PEM (SubjectPublicKeyInfo, what keygen writes), an
 * Ed25519 private key PEM, or one line of 64 hex digits (the form the
 * charger's configuration takes).
 */
static int
load_public(const char *path, uint8_t pub[MANIFEST_PUBKEY_LEN])
{
	uint8_t buf[8192];
	EVP_PKEY *pkey;
	ssize_t n;
	BIO *bio;
	int rv;

	if ((n = read_small(path, buf, sizeof(buf) - 1)) == -1)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		n--;
	if (manifest_hex32((const char *)buf, (size_t)n, pub) == 0)
		return 0;
	buf[n] = '\0';
	if ((bio = BIO_new_mem_buf(buf, (int)n)) == NULL) {
		ssl_err("BIO_new_mem_buf");
		return -1;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (pkey == NULL) {
		ERR_clear_error();
		(void)BIO_reset(bio);
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	}
	BIO_free(bio);
	if (pkey == NULL) {
		ERR_clear_error();
		warnx_("%s: neither a PEM key nor 64 hex digits", path);
		return -1;
	}
	if (!EVP_PKEY_is_a(pkey, "ED25519")) {
		warnx_("%s: not an Ed25519 key", path);
		EVP_PKEY_free(pkey);
		return -1;
	}
	rv = raw_public(pkey, pub);
	EVP_PKEY_free(pkey);
	return rv;
}

static int
write_pem(const char *path, EVP_PKEY *pkey, int private)
{
	BUF_MEM *mem;
	BIO *bio;
	int rv = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if ((private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_bio_PUBKEY(bio, pkey)) != 1) {
		ssl_err("PEM encoding");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	rv = write_file(path, mem->data, mem->length, private ? 0600 : 0644,
	    1);
out:
	BIO_free(bio);
	return rv;
}

static int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-id", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char *id = NULL, *dir = NULL;
	char keypath[PATH_MAX], pubpath[PATH_MAX];
	char hex[2 * MANIFEST_PUBKEY_LEN + 1];
	uint8_t pub[MANIFEST_PUBKEY_LEN];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int c, rv = EXIT_FAILURE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			id = optarg;
			break;
		case 'o':
			dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (id == NULL || dir == NULL || optind != argc)
		usage();
	if (!manifest_key_id_ok(id)) {
		warnx_("key id \"%s\": 1-31 of [A-Za-z0-9._-], starting with "
		    "a letter or digit", id);
		return EXIT_USAGE;
	}
	if (snprintf(keypath, sizeof(keypath), "%s/%s.key", dir, id) >=
	    (int)sizeof(keypath) ||
	    snprintf(pubpath, sizeof(pubpath), "%s/%s.pub", dir, id) >=
	    (int)sizeof(pubpath)) {
		warnx_("%s: path too long", dir);
		return EXIT_USAGE;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		warnx_("%s: %s", dir, strerror(errno));
		return EXIT_FAILURE;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_keygen(ctx, &pkey) != 1) {
		ssl_err("key generation");
		goto out;
	}
	if (raw_public(pkey, pub) == -1 ||
	    write_pem(keypath, pkey, 1) == -1 ||
	    write_pem(pubpath, pkey, 0) == -1)
		goto out;
	manifest_hex(pub, sizeof(pub), hex);
	printf("key_id: %s\npublic_key: %s\nprivate: %s\npublic: %s\n", id,
	    hex, keypath, pubpath);
	rv = EXIT_SUCCESS;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return rv;
}

/* "90d", "12h", "30m", "3600s" -> seconds; -1 if not a duration. */
static int64_t
parse_duration(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v <= 0 || end[0] == '\0' ||
	    end[1] != '\0' || s[0] == '-' || s[0] == '+')
		return -1;
	switch (end[0]) {
	case 'd':
		return v > 36500 ? -1 : v * 86400;
	case 'h':
		return v > 876000 ? -1 : v * 3600;
	case 'm':
		return v > 52560000 ? -1 : v * 60;
	case 's':
		return v > 3153600000LL ? -1 : v;
	}
	return -1;
}

static int
hash_image(const char *path, uint64_t *size, uint8_t md[32])
{
	uint8_t buf[65536];
	EVP_MD_CTX *ctx;
	unsigned mdlen;
	ssize_t n;
	int fd, rv = -1;

	*size = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warnx_("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		ssl_err("SHA-256");
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			warnx_("%s: %s", path, strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			ssl_err("SHA-256");
			goto out;
		}
		*size += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		ssl_err("SHA-256");
		goto out;
	}
	rv = 0;
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rv;
}

static int
cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "key-id", required_argument, NULL, 'i' },
		{ "product", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'v' },
		{ "security-version", required_argument, NULL, 's' },
		{ "expires", required_argument, NULL, 'e' },
		{ "created", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char *keyfile = NULL, *id = NULL, *product = NULL;
	const char *version = NULL, *secver = NULL, *expires = NULL;
	const char *created = NULL, *url = NULL, *out = NULL, *image;
	char base[PATH_MAX], mpath[PATH_MAX], spath[PATH_MAX + 8];
	char text[MANIFEST_MAX_LEN + 1], hex[65], tc[32], te[32];
	uint8_t md[32], sig[MANIFEST_SIG_LEN], pub[MANIFEST_PUBKEY_LEN];
	struct manifest m;
	enum manifest_status st;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int64_t t_created, t_expires, dur;
	uint64_t size;
	size_t siglen = sizeof(sig), blen;
	int c, n, rv = EXIT_FAILURE;
	char *end;
	unsigned long long sv;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keyfile = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'p':
			product = optarg;
			break;
		case 'v':
			version = optarg;
			break;
		case 's':
			secver = optarg;
			break;
		case 'e':
			expires = optarg;
			break;
		case 'c':
			created = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (keyfile == NULL || id == NULL || product == NULL ||
	    version == NULL || secver == NULL || expires == NULL ||
	    optind != argc - 1)
		usage();
	image = argv[optind];

	if (!manifest_key_id_ok(id)) {
		warnx_("--key-id \"%s\": 1-31 of [A-Za-z0-9._-]", id);
		return EXIT_USAGE;
	}
	if (!manifest_product_ok(product)) {
		warnx_("--product \"%s\": 1-63 of [A-Za-z0-9._-]", product);
		return EXIT_USAGE;
	}
	if (!manifest_version_ok(version)) {
		warnx_("--version \"%s\": 1-31 of [A-Za-z0-9._+-]", version);
		return EXIT_USAGE;
	}
	errno = 0;
	sv = strtoull(secver, &end, 10);
	if (errno != 0 || end == secver || *end != '\0' || sv > UINT32_MAX ||
	    secver[0] == '-' || secver[0] == '+' ||
	    (secver[0] == '0' && secver[1] != '\0')) {
		warnx_("--security-version \"%s\": 0..4294967295", secver);
		return EXIT_USAGE;
	}
	if (created != NULL) {
		if (manifest_time_parse(created, strlen(created),
		    &t_created) == -1) {
			warnx_("--created \"%s\": want YYYY-MM-DDTHH:MM:SSZ",
			    created);
			return EXIT_USAGE;
		}
	} else
		t_created = (int64_t)time(NULL);
	if ((dur = parse_duration(expires)) != -1)
		t_expires = t_created + dur;
	else if (manifest_time_parse(expires, strlen(expires),
	    &t_expires) == -1) {
		warnx_("--expires \"%s\": a duration (90d, 12h, 30m, 600s) or "
		    "YYYY-MM-DDTHH:MM:SSZ", expires);
		return EXIT_USAGE;
	}
	if (t_expires <= t_created) {
		warnx_("--expires: must be after the creation time");
		return EXIT_USAGE;
	}
	if (url != NULL && (strncmp(url, "https://", 8) != 0 ||
	    strlen(url) > MANIFEST_LINE_MAX - 6)) {
		warnx_("--url: an https:// URL of at most %d bytes",
		    MANIFEST_LINE_MAX - 6);
		return EXIT_USAGE;
	}

	/* BASE.manifest and BASE.manifest.sig; BASE = IMAGE less ".bin". */
	if (out != NULL)
		n = snprintf(base, sizeof(base), "%s", out);
	else {
		blen = strlen(image);
		if (blen <= 4 || strcmp(image + blen - 4, ".bin") != 0) {
			warnx_("%s: the image name must end in .bin (the "
			    "charger fetches BASE.bin next to BASE.manifest), "
			    "or give --out BASE and --url", image);
			return EXIT_USAGE;
		}
		n = snprintf(base, sizeof(base), "%.*s", (int)(blen - 4),
		    image);
	}
	if (n < 0 || n >= (int)sizeof(base) ||
	    snprintf(mpath, sizeof(mpath), "%s.manifest", base) >=
	    (int)sizeof(mpath)) {
		warnx_("output path too long");
		return EXIT_USAGE;
	}
	snprintf(spath, sizeof(spath), "%s.sig", mpath);

	if ((pkey = load_private(keyfile)) == NULL || raw_public(pkey, pub))
		goto out;
	if (hash_image(image, &size, md) == -1)
		goto out;
	if (size == 0) {
		warnx_("%s: empty image", image);
		goto out;
	}
	manifest_hex(md, sizeof(md), hex);
	n = snprintf(text, sizeof(text),
	    "format: %s\nproduct: %s\nversion: %s\nsecurity_version: %llu\n"
	    "size: %llu\nsha256: %s\ncreated: %s\nexpires: %s\nkey_id: %s\n"
	    "%s%s%s",
	    MANIFEST_FORMAT, product, version, sv, (unsigned long long)size,
	    hex, manifest_time_format(t_created, tc, sizeof(tc)),
	    manifest_time_format(t_expires, te, sizeof(te)), id,
	    url != NULL ? "url: " : "", url != NULL ? url : "",
	    url != NULL ? "\n" : "");
	if (n < 0 || n >= (int)sizeof(text)) {
		warnx_("manifest too long");
		goto out;
	}
	/* What the charger will do with it: parse strictly. */
	if ((st = manifest_parse((uint8_t *)text, (size_t)n, &m)) !=
	    MANIFEST_OK) {
		warnx_("the manifest would be refused: %s (line %u)",
		    manifest_strerror(st), m.err_line);
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (uint8_t *)text,
	    (size_t)n) != 1 || siglen != sizeof(sig)) {
		ssl_err("signing");
		goto out;
	}
	if ((st = manifest_verify((uint8_t *)text, (size_t)n, sig, siglen,
	    pub)) != MANIFEST_OK) {
		warnx_("self-check failed: %s", manifest_strerror(st));
		goto out;
	}
	if (write_file(mpath, text, (size_t)n, 0644, 0) == -1 ||
	    write_file(spath, sig, siglen, 0644, 0) == -1)
		goto out;
	printf("%s\n%s\n", mpath, spath);
	rv = EXIT_SUCCESS;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rv;
}

static int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pub", required_argument, NULL, 'p' },
		{ "image", required_argument, NULL, 'i' },
		{ "now", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pubfile = NULL, *image = NULL, *now_s = NULL, *mpath;
	char spath[PATH_MAX], keyid[MANIFEST_KEYID_MAX], hex[65], t1[32];
	char t2[32];
	uint8_t text[MANIFEST_MAX_LEN + 1], sig[MANIFEST_SIG_LEN + 1];
	uint8_t pub[MANIFEST_PUBKEY_LEN], md[32];
	enum manifest_status st;
	struct manifest m;
	ssize_t tlen, slen;
	uint64_t size;
	int64_t now;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pubfile = optarg;
			break;
		case 'i':
			image = optarg;
			break;
		case 'n':
			now_s = optarg;
			break;
		default:
			usage();
		}
	}
	if (pubfile == NULL || optind != argc - 1)
		usage();
	mpath = argv[optind];
	if (now_s != NULL) {
		if (manifest_time_parse(now_s, strlen(now_s), &now) == -1) {
			warnx_("--now \"%s\": want YYYY-MM-DDTHH:MM:SSZ",
			    now_s);
			return EXIT_USAGE;
		}
	} else
		now = (int64_t)time(NULL);
	if (snprintf(spath, sizeof(spath), "%s.sig", mpath) >=
	    (int)sizeof(spath))
		return EXIT_USAGE;
	if (load_public(pubfile, pub) == -1)
		return EXIT_FAILURE;
	if ((tlen = read_small(mpath, text, MANIFEST_MAX_LEN)) == -1 ||
	    (slen = read_small(spath, sig, MANIFEST_SIG_LEN)) == -1)
		return EXIT_REFUSED;

	/* The charger's order: key id, signature, then parse. */
	if ((st = manifest_key_id(text, (size_t)tlen, keyid,
	    sizeof(keyid))) != MANIFEST_OK) {
		warnx_("%s: %s", mpath, manifest_strerror(st));
		return EXIT_REFUSED;
	}
	if ((st = manifest_verify(text, (size_t)tlen, sig, (size_t)slen,
	    pub)) != MANIFEST_OK) {
		warnx_("%s: %s (key_id %s)", mpath, manifest_strerror(st),
		    keyid);
		return EXIT_REFUSED;
	}
	if ((st = manifest_parse(text, (size_t)tlen, &m)) != MANIFEST_OK) {
		warnx_("%s:%u: %s", mpath, m.err_line, manifest_strerror(st));
		return EXIT_REFUSED;
	}
	manifest_hex(m.sha256, sizeof(m.sha256), hex);
	printf("signature: good (key_id %s)\nproduct: %s\nversion: %s\n"
	    "security_version: %u\nsize: %llu\nsha256: %s\ncreated: %s\n"
	    "expires: %s\n", m.key_id, m.product, m.version,
	    m.security_version, (unsigned long long)m.size, hex,
	    manifest_time_format(m.created, t1, sizeof(t1)),
	    manifest_time_format(m.expires, t2, sizeof(t2)));
	if (m.url[0] != '\0')
		printf("url: %s\n", m.url);
	if (m.expires <= now) {
		warnx_("%s: expired at %s", mpath, t2);
		return EXIT_REFUSED;
	}
	if (image != NULL) {
		if (hash_image(image, &size, md) == -1)
			return EXIT_REFUSED;
		if (size != m.size || memcmp(md, m.sha256, 32) != 0) {
			warnx_("%s: does not match the manifest (size %llu, "
			    "want %llu; or SHA-256 differs)", image,
			    (unsigned long long)size,
			    (unsigned long long)m.size);
			return EXIT_REFUSED;
		}
		printf("image: matches\n");
	}
	return EXIT_SUCCESS;
}

static int
cmd_pubkey(int argc, char **argv)
{
	uint8_t pub[MANIFEST_PUBKEY_LEN];
	char hex[65];

	if (argc != 2)
		usage();
	if (load_public(argv[1], pub) == -1)
		return EXIT_FAILURE;
	manifest_hex(pub, sizeof(pub), hex);
	printf("%s\n", hex);
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage_to(stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("evfw-sign %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	argc--;
	argv++;
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(cmd, "sign") == 0)
		return cmd_sign(argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc, argv);
	if (strcmp(cmd, "pubkey") == 0)
		return cmd_pubkey(argc, argv);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
		usage();
	warnx_("unknown command \"%s\"", cmd);
	usage();
	return EXIT_USAGE;
}
