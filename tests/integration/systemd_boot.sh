#!/bin/bash
# systemd_boot: doc/operator-guide.md's install, on a fresh Debian 12 booted
# with systemd as PID 1 (systemd-nspawn --boot), ends with a gateway that
# runs under the shipped unit and that evgatectl drives as a member of the
# admin group -- and not as anyone else.
#
# The Debian 12 root is made by debootstrap from the package mirror (once;
# kept in /var/cache/evgate-test, rebuilt when the package list below
# changes).  The gateway is built with the guide's ./configure line and
# installed with "make install DESTDIR=<the root>": the guide's build steps
# without a compiler in the root.  The guide's complete configuration is
# taken from the guide itself, so the guide's example is what is tested.
# The root's network is a namespace of the test's with the guide's plc0
# (a dummy interface) and address.
. "$(dirname "$0")/lib.sh"

CACHE=/var/cache/evgate-test
PKGS=systemd,systemd-sysv,dbus,libevent-2.1-7,libevent-openssl-2.1-7,\
libyaml-0-2,libjson-c5,libbsd0,libcurl4,zlib1g,libssl3,libcap2,\
dnsmasq-base,iproute2,procps,publicsuffix,util-linux
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
: "${MIRROR:=http://deb.debian.org/debian}"
key=$(echo "$PKGS" | md5sum | cut -c1-8)
BASE=$CACHE/bookworm-$key

for tool in debootstrap systemd-nspawn nsenter setpriv; do
	command -v "$tool" >/dev/null ||
	    { not_ok "$tool is installed (scripts/setup installs it)"; exit 1; }
done

# --- the Debian 12 root ---------------------------------------------------
if [ ! -x "$BASE/lib/systemd/systemd" ]; then
	mkdir -p "$CACHE"
	rm -rf "$BASE.tmp"
	start=$(date +%s)
	if ! debootstrap --variant=minbase --include="$PKGS" bookworm \
	    "$BASE.tmp" "$MIRROR" >"$T/debootstrap.log" 2>&1; then
		not_ok "debootstrap a Debian 12 root from $MIRROR" \
		    "$(tail -20 "$T/debootstrap.log")"
		exit 1
	fi
	mv "$BASE.tmp" "$BASE"
	diag "debootstrap took $(( $(date +%s) - start )) s (cached in $BASE)"
fi
R=$T/root
cp -a "$BASE" "$R"
ok "a fresh Debian 12 root (debootstrap --variant=minbase)"

# --- section 1 of the guide: build and install ----------------------------
# The guide's configure line, word for word; an optimised build, not the
# sanitizer build of the other tests.
B=$T/build
mkdir -p "$B"
cfg=$(sed -n '/^\.\/configure --prefix=/,/sysusersdir/p' "$top/doc/operator-guide.md" |
    tr -d '\\\n' | sed 's/  */ /g')
case "$cfg" in
./configure\ --prefix=/usr*--with-sysusersdir=/usr/lib/sysusers.d) ;;
*) not_ok "the guide's configure line is found" "$cfg"; exit 1 ;;
esac
if ( cd "$B" && eval "$top/${cfg#./}" >configure.out 2>&1 &&
    make -j"$(nproc)" gateway/evgated gateway/evgatectl \
	gateway/evgate-dhcp-hook conf/evgated.service >make.out 2>&1 &&
    make install DESTDIR="$R" >install.out 2>&1 ); then
	ok "built with the guide's configure line; make install into the root"
else
	not_ok "built with the guide's configure line; make install into the root" \
	    "$(tail -20 "$B"/*.out)"
	exit 1
fi
check "make install did not install the charger firmware" \
    bash -c "! ls '$R/usr/sbin/evcharger' '$R/usr/bin/evfw-sign' \
	'$R/usr/share/doc/evgate/hal.md' 2>/dev/null | grep -q ."
for f in operator-guide.md site-services.md time.md fleet-log.md \
    hardening.md evgated.yaml; do
	check "make install installed the guide $f" \
	    test -s "$R/usr/share/doc/evgate/$f"
done

# --- section 2: the guide's complete configuration -------------------------
awk '/A complete site:$/ {f = 1; next} f && /^```yaml/ {g = 1; next}
    g && /^```/ {exit} g {print}' "$top/doc/operator-guide.md" \
    >"$R/etc/evgate/evgated.yaml"
check "the guide's complete configuration is in /etc/evgate/evgated.yaml" \
    grep -q "group: evgate-admin" "$R/etc/evgate/evgated.yaml"

# The site's network: plc0 with the guide's address, in a namespace the
# container runs in (the WAN is not needed to start).  A veth pair: this
# kernel has no dummy interfaces; the other end is the PLC segment.
NS=${EVG_PREFIX}sd
netns_add "$NS"
ip -n "$NS" link add plc0 type veth peer name plcseg
ip -n "$NS" link set plcseg up
ip -n "$NS" addr add 10.42.0.1/24 dev plc0
ip -n "$NS" link set plc0 up

# --- boot ------------------------------------------------------------------
MACHINE=evgt$$
# --register=no --keep-unit: this host's PID 1 is not systemd, so there is
# no system bus to register the machine or a scope with; the container's
# own systemd is PID 1 all the same.  --capability=CAP_NET_ADMIN: nspawn
# keeps it from a container that has no private network of its own, and
# the unit hands it to dnsmasq (DHCP); a real box has it.
systemd-nspawn --quiet --boot --register=no --keep-unit \
    --capability=CAP_NET_ADMIN \
    -D "$R" -M "$MACHINE" --network-namespace-path="/run/netns/$NS" \
    >"$T/nspawn.log" 2>&1 &
NSPAWN=$!
stop_container() {	# SIGTERM: an orderly shutdown of the container
	local n
	kill -TERM "$NSPAWN"
	for n in $(seq 100); do kill -0 "$NSPAWN" || return 0; sleep 0.2; done
	kill -9 "$NSPAWN"
}
at_exit stop_container

leader() {	# the container's PID 1, seen from here
	local p
	for p in $(pgrep -P "$NSPAWN"); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = systemd ] && { echo "$p"; return 0; }
	done
	return 1
}
inside() {	# inside command...: run in the booted container
	nsenter --target "$(leader)" --all --setuid 0 --setgid 0 \
	    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
booted() {
	local s
	s=$(inside systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ]
}
if ! wait_for 120 booted; then
	not_ok "the root boots with systemd as PID 1" \
	    "$(tail -30 "$T/nspawn.log")" \
	    "state: $(inside systemctl is-system-running 2>&1)"
	exit 1
fi
check_eq "the root boots with systemd as PID 1" systemd \
    "$(inside ps -o comm= -p 1)"

# --- the guide's steps, as root in the booted system -------------------------
check "systemd-sysusers (creates evgate and evgate-admin)" inside systemd-sysusers
check_eq "user evgate's groups: the one admin group" "evgate evgate-admin" \
    "$(inside id -un evgate) $(inside id -gn evgate)"
# An operator of the admin group, and one who is not.
check "an operator in evgate-admin (useradd -G evgate-admin anna)" \
    inside useradd -m -G evgate-admin anna
inside useradd -m bob
check "evgated --check-config passes on the box set up as the guide says" \
    inside evgated --check-config -c /etc/evgate/evgated.yaml

# --- the documents' examples, produced on this box ----------------------------
# Each example's output is what evgated prints here, compared with the
# document; EVGATE_DOC_UPDATE=1 writes it into the document instead.
doc_example() {	# doc_example DOC NAME FILE-WITH-THE-OUTPUT
	local d=$top/$1
	if [ "${EVGATE_DOC_UPDATE:-0}" = 1 ]; then
		python3 "$top/tests/integration/docblock.py" update "$d" "$2" "$3"
		ok "$1: example $2 written from what evgated printed"
	else
		check "$1: example $2 is what evgated prints" \
		    python3 "$top/tests/integration/docblock.py" check "$d" "$2" "$3"
	fi
}
run_check() {	# run_check DIR FILE: "$ evgated ..." and its output
	echo "\$ evgated --check-config -c $2"
	inside sh -c "cd $1 && evgated --check-config -c $2 2>&1"
}
CONF=/etc/evgate/evgated.yaml
cp "$R$CONF" "$T/guide.yaml"
sed -e '0,/port: 8883/s//port: 0/' -e 's/lease_time: 1h /lease_time: 1 hour/' \
    "$T/guide.yaml" >"$R$CONF"
run_check / "$CONF" >"$T/ex-file"
doc_example doc/operator-guide.md guide-file-errors "$T/ex-file"
sed -e 's/allow: \[zapcloud-api/allow: ["*.azurewebsites.net", zapcloud-api/' \
    "$T/guide.yaml" >"$R$CONF"
ip -n "$NS" addr del 10.42.0.1/24 dev plc0
run_check / "$CONF" >"$T/ex-box"
ip -n "$NS" addr add 10.42.0.1/24 dev plc0
doc_example doc/operator-guide.md guide-box-errors "$T/ex-box"
cp "$T/guide.yaml" "$R$CONF"
# evgated.yaml(5): its example passes here, and with two mistakes says so.
python3 "$top/tests/integration/docblock.py" get "$top/doc/evgated.yaml.5" \
    yaml5-example >"$R/etc/evgate/example.yaml"
check "evgated.yaml(5) EXAMPLES passes --check-config on this box" \
    inside evgated --check-config -c /etc/evgate/example.yaml
python3 "$top/tests/integration/docblock.py" get "$top/doc/evgated.yaml.5" \
    yaml5-ship >>"$R/etc/evgate/example.yaml"
echo token >"$R/etc/evgate/collector.token"
cp "$R/etc/ssl/certs/ca-certificates.crt" "$R/etc/evgate/collector-ca.pem" 2>/dev/null ||
    : >"$R/etc/evgate/collector-ca.pem"
check "evgated.yaml(5) EXAMPLES with its ship section passes, once its files exist" \
    inside evgated --check-config -c /etc/evgate/example.yaml
python3 "$top/tests/integration/docblock.py" get "$top/doc/evgated.yaml.5" \
    yaml5-example | sed -e '0,/port: 8883/s//port: 0/' \
    -e 's/lease_time: 1h/lease_time: 1 hour/' >"$R/etc/evgate/evgated.yaml.bad"
inside sh -c 'cd /etc/evgate && evgated --check-config -c evgated.yaml.bad 2>&1' |
    sed 's/evgated\.yaml\.bad/evgated.yaml/' >"$T/ex-yaml5"
doc_example doc/evgated.yaml.5 yaml5-errors "$T/ex-yaml5"
rm -f "$R/etc/evgate/evgated.yaml.bad" "$R/etc/evgate/example.yaml"

check "sysctl net.ipv4.ip_forward is 0" \
    test "$(inside sysctl -n net.ipv4.ip_forward)" = 0
check "systemctl enable --now evgated" inside systemctl enable --now evgated
active() { [ "$(inside systemctl is-active evgated)" = active ]; }
if ! wait_for 30 active; then
	not_ok "evgated is active under systemd" \
	    "$(inside journalctl -u evgated --no-pager -n 30 2>&1)"
	exit 1
fi
ok "evgated is active under systemd"
check_eq "it runs as evgate:evgate-admin" "evgate evgate-admin" \
    "$(inside ps -o user=,group= -C evgated | head -1 | tr -s ' ')"
check_eq "the control socket: evgate-admin may, nobody else" \
    "evgate:evgate-admin 750 evgate:evgate-admin 660" \
    "$(inside stat -c '%U:%G %a' /run/evgate) $(inside stat -c '%U:%G %a' /run/evgate/evgated.sock)"

as() {		# as USER command...: with USER's uid and groups
	local u=$1
	shift
	inside setpriv --reuid="$u" --regid="$(inside id -g "$u")" \
	    --init-groups --reset-env "$@"
}
check "evgatectl status as anna (evgate-admin)" as anna evgatectl status
st=$(as anna evgatectl --json status)
check_eq "its site is the guide's" "P-hus Sentrum" "$(json_get "$st" 'd["site"]')"
# dnsmasq is evgated's child, on plc0, under the unit's sandbox.
dnsmasq_up() {
	[ "$(json_get "$(as anna evgatectl --json status)" \
	    'd["dnsmasq"]["running"]')" = True ]
}
if wait_for 10 dnsmasq_up; then
	ok "dnsmasq runs under the unit (evgatectl status)"
else
	not_ok "dnsmasq runs under the unit (evgatectl status)" \
	    "$(as anna evgatectl status 2>&1 | grep -i -A3 dnsmasq)" \
	    "$(inside journalctl -u evgated --no-pager | tail -15)"
fi
# The text status says first what needs the operator, then the time.
txt=$(as anna evgatectl status)
check "text status: one problems line (the guide's box has no upstream)" \
    grep -qE '^problems +[0-9]+: .*time unsynchronised' <<<"$txt"
check "text status: the gateway's time and the time service's state" \
    grep -qE '^time +20[0-9-]+T[0-9:]+Z; unsynchronised since [^ ]+: ' <<<"$txt"
check_fails "evgatectl status as bob (not in the group) is refused" \
    as bob evgatectl status
check "evgatectl reload as anna" as anna evgatectl reload
# Events are committed in batches (log.fsync_interval): wait for it.
exported() {
	as anna evgatectl export --from -24h --format jsonl |
	    grep -q '"type":"daemon"'
}
check "anna reads the fleet log (evgatectl export, as the guide has it)" \
    wait_for 10 exported
check_fails "bob cannot read the fleet log" \
    as bob evgatectl export --from -1h --dir /var/lib/evgate/log
check "systemctl reload evgated" inside systemctl reload evgated
check "systemctl stop evgated" inside systemctl stop evgated
check_eq "stopped cleanly" inactive "$(inside systemctl is-active evgated)"
