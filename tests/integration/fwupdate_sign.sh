#!/bin/bash
# fwupdate_sign: the vendor's signing tool, evfw-sign, end to end on files:
# keys, manifest, detached signature, verification (also by the openssl
# command line, so the scheme is plain Ed25519 anyone can check), and every
# refusal an operator can meet before a rollout.  No network.
. "$(dirname "$0")/lib.sh"

SIGN=$BUILD/charger-fw/tools/evfw-sign
[ -x "$SIGN" ] || { not_ok "evfw-sign is built" "missing: $SIGN"; exit 1; }
cd "$T" || exit 1

check "keygen makes a key pair" \
	"$SIGN" keygen --key-id vendor-2026a --out keys
check_eq "private key is mode 0600" 600 "$(stat -c %a keys/vendor-2026a.key)"
check_fails "keygen never overwrites a key" \
	"$SIGN" keygen --key-id vendor-2026a --out keys
check_fails "keygen refuses a key id with a space" \
	"$SIGN" keygen --key-id "bad id" --out keys
"$SIGN" keygen --key-id vendor-2027a --out keys >/dev/null

head -c 200000 /dev/urandom >fw-1.2.0.bin
check "sign writes BASE.manifest and BASE.manifest.sig" \
	"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a \
	--product evcharger-sim --version 1.2.0 --security-version 2 \
	--expires 90d fw-1.2.0.bin
check_eq "signature is 64 raw bytes" 64 "$(stat -c %s fw-1.2.0.manifest.sig)"
check_eq "manifest records the image size" "size: 200000" \
	"$(grep '^size: ' fw-1.2.0.manifest)"
check_eq "manifest records the image SHA-256" \
	"sha256: $(sha256sum fw-1.2.0.bin | cut -d' ' -f1)" \
	"$(grep '^sha256: ' fw-1.2.0.manifest)"
check "verify with the PEM public key and the image" \
	"$SIGN" verify --pub keys/vendor-2026a.pub --image fw-1.2.0.bin \
	fw-1.2.0.manifest
"$SIGN" pubkey keys/vendor-2026a.pub >vendor-2026a.hex
check_eq "pubkey prints 64 hex digits" 64 "$(tr -d '\n' <vendor-2026a.hex | wc -c)"
check "verify with the hex public key (the charger's config form)" \
	"$SIGN" verify --pub vendor-2026a.hex fw-1.2.0.manifest
check "openssl pkeyutl verifies the signature independently" \
	openssl pkeyutl -verify -pubin -inkey keys/vendor-2026a.pub -rawin \
	-in fw-1.2.0.manifest -sigfile fw-1.2.0.manifest.sig

check_fails "verify refuses the other trusted key" \
	"$SIGN" verify --pub keys/vendor-2027a.pub fw-1.2.0.manifest
cp fw-1.2.0.manifest m.manifest
cp fw-1.2.0.manifest.sig m.manifest.sig
sed -i 's/^security_version: 2$/security_version: 9/' m.manifest
check_fails "verify refuses a tampered manifest" \
	"$SIGN" verify --pub keys/vendor-2026a.pub m.manifest
cp fw-1.2.0.bin bad.bin
printf 'X' | dd of=bad.bin bs=1 seek=1000 conv=notrunc 2>/dev/null
check_fails "verify refuses a tampered image" \
	"$SIGN" verify --pub keys/vendor-2026a.pub --image bad.bin \
	fw-1.2.0.manifest
check_fails "verify refuses a manifest past its expiry" \
	"$SIGN" verify --pub keys/vendor-2026a.pub --now 2099-01-01T00:00:00Z \
	fw-1.2.0.manifest

check "sign with --url, --out and fixed times" \
	"$SIGN" sign --key keys/vendor-2027a.key --key-id vendor-2027a \
	--product evcharger-sim --version 1.3.0 --security-version 3 \
	--created 2026-01-01T00:00:00Z --expires 2026-06-01T00:00:00Z \
	--url https://devices.zaptec.com/fw/image-1.3.0 --out rel-1.3.0 \
	fw-1.2.0.bin
check_eq "url line written" "url: https://devices.zaptec.com/fw/image-1.3.0" \
	"$(grep '^url: ' rel-1.3.0.manifest)"
check_eq "created line written" "created: 2026-01-01T00:00:00Z" \
	"$(grep '^created: ' rel-1.3.0.manifest)"
check "verify at a time inside the validity" \
	"$SIGN" verify --pub keys/vendor-2027a.pub --now 2026-03-01T00:00:00Z \
	rel-1.3.0.manifest

check_fails "sign refuses an image not named .bin without --out" \
	"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a \
	--product p --version 1 --security-version 0 --expires 1d keys/vendor-2026a.pub
check_fails "sign refuses a version with a space" \
	"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a \
	--product p --version "1 0" --security-version 0 --expires 1d fw-1.2.0.bin
check_fails "sign refuses a security version with a leading zero" \
	"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a \
	--product p --version 1 --security-version 01 --expires 1d fw-1.2.0.bin
check_fails "sign refuses an expiry before creation" \
	"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a \
	--product p --version 1 --security-version 0 \
	--created 2026-01-01T00:00:00Z --expires 2025-01-01T00:00:00Z fw-1.2.0.bin
check_fails "sign refuses a public key as the signing key" \
	"$SIGN" sign --key keys/vendor-2026a.pub --key-id vendor-2026a \
	--product p --version 1 --security-version 0 --expires 1d fw-1.2.0.bin
: >empty.bin
check_fails "sign refuses an empty image" \
	"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a \
	--product p --version 1 --security-version 0 --expires 1d empty.bin
"$SIGN" sign --key keys/vendor-2026a.key --key-id vendor-2026a --product p \
	--version "1 0" --security-version 0 --expires 1d fw-1.2.0.bin >/dev/null 2>&1
check_eq "usage errors exit 2" 2 "$?"
"$SIGN" verify --pub keys/vendor-2026a.pub m.manifest >/dev/null 2>&1
check_eq "a refused verification exits 1" 1 "$?"
