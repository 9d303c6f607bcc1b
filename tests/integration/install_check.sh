#!/bin/bash
# install_check: "make install" puts every part in its standard place under
# DESTDIR, never overwrites an operator's configuration, and the systemd
# unit it installs is valid and hardened.
. "$(dirname "$0")/lib.sh"

R=$T/root
if make -C "$BUILD" install DESTDIR="$R" >"$T/install.log" 2>&1; then
	ok "make install DESTDIR=... succeeds"
else
	not_ok "make install DESTDIR=... succeeds" "$(tail -20 "$T/install.log")"
	exit 1
fi
prefix=$(sed -n 's/^prefix = //p' "$BUILD/Makefile")
sysconfdir=$(sed -n 's/^sysconfdir = //p' "$BUILD/Makefile" | sed "s|\${prefix}|$prefix|")
for f in "$prefix/sbin/evgated" "$prefix/bin/evgatectl" \
    "$prefix/share/man/man8/evgated.8" "$prefix/share/man/man8/evgatectl.8" \
    "$prefix/share/man/man5/evgated.yaml.5" \
    "$prefix/lib/systemd/system/evgated.service" \
    "$prefix/lib/sysusers.d/evgate.conf" "$sysconfdir/evgate/evgated.yaml"; do
	check "installed: $f" test -f "$R$f"
done
# A pair's box: keepalived's notify script and example configuration.
check "installed: $prefix/libexec/evgate-keepalived-notify, executable" \
    test -x "$R$prefix/libexec/evgate-keepalived-notify"
check "installed: $prefix/share/doc/evgate/keepalived.conf.example" \
    test -f "$R$prefix/share/doc/evgate/keepalived.conf.example"
# Valid as a file (--dump-config loads it); --check-config also checks the
# machine, which has no plc0 here: systemd_boot.sh checks it on a box that
# is set up as the operator guide says.
check "the installed example configuration loads" \
    "$R$prefix/sbin/evgated" --dump-config -c "$R$sysconfdir/evgate/evgated.yaml"

# An operator's configuration survives a second install.
echo "site: {name: mine}" >"$R$sysconfdir/evgate/evgated.yaml"
make -C "$BUILD" install DESTDIR="$R" >/dev/null 2>&1
check_eq "make install keeps an existing evgated.yaml" "site: {name: mine}" \
    "$(cat "$R$sysconfdir/evgate/evgated.yaml")"

unit=$R$prefix/lib/systemd/system/evgated.service
check "the unit starts the installed binary" \
    grep -q "^ExecStart=$prefix/sbin/evgated " "$unit"
for opt in Type=notify NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
    RestrictAddressFamilies= CapabilityBoundingSet= SystemCallFilter= \
    Restart=on-failure User=evgate; do
	check "the unit sets $opt" grep -q "^$opt" "$unit"
done
if command -v systemd-analyze >/dev/null; then
	# verify checks syntax and that ExecStart exists; only the man pages
	# of Documentation= are not found on this host (they are in DESTDIR).
	sed "s|$prefix/sbin/evgated|$R$prefix/sbin/evgated|" "$unit" >"$T/evgated.service"
	out=$(systemd-analyze verify "$T/evgated.service" 2>&1 | grep -v "Command 'man ")
	check_eq "systemd-analyze verify finds nothing wrong" "" "$out"
	score=$(systemd-analyze security --offline=true "$T/evgated.service" 2>&1 |
	    sed -n 's/.*Overall exposure level for evgated.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
	diag "systemd-analyze security: $score"
	check_eq "systemd-analyze security rates the unit OK" OK "${score#* }"
else
	not_ok "systemd-analyze is available"
fi

make -C "$BUILD" uninstall DESTDIR="$R" >/dev/null 2>&1
left=$(find "$R" -type f ! -path "*/etc/evgate/evgated.yaml" | sed "s|^$R||")
check_eq "make uninstall removes what it installed (not the operator's config)" "" "$left"
