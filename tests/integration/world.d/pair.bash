# tests/integration/world.d/pair.bash: a redundant pair of gateways in the
# test world (doc/operator-guide.md, "Running a pair").  Sourced by world.sh.
#
#   WORLD_PAIR=1            two gateway boxes instead of one (default 0).
#                           Needs WORLD_SITE=1 (the virtual address is
#                           lan.address).
#   WORLD_PAIR_ADVERT       keepalived's advert_int, s (default 1)
#
# The boxes, each a namespace with its own evgated, dnsmasq and keepalived
# (real VRRP on the PLC bridge):
#
#   ${P}gw   box a ("gw-a"): plc0 10.42.0.2/24, wan0 203.0.113.2/24,
#            pair0 192.168.77.1/30; keepalived priority 150
#   ${P}gw2  box b ("gw-b"): plc0 10.42.0.3/24, wan0 198.51.100.2/24 (the
#            internet's eth1 is 198.51.100.1), pair0 192.168.77.2/30;
#            keepalived priority 100
#
# 10.42.0.1 (WORLD_GW_LAN, lan.address) is the virtual address keepalived
# holds on the master; the chargers know nothing else.  Both start as
# BACKUP with nopreempt, so box a, whose timer runs out first, becomes
# master.  The pair link (TLS, pinned self-signed certificates made here,
# $W/pair) is a veth of its own between the boxes, not the PLC segment.
# Box b's files are box a's with $W/gw2 for $W/gw: evgated.yaml, its
# socket ($WORLD_GW2_SOCK), fleet log, dnsmasq's state and run directories.
# keepalived's configuration is conf/keepalived.conf.example's, with the
# world's paths; its state changes reach evgated through
# conf/evgate-keepalived-notify.
#
# What the tests use:
#   world_pair_ctl a|b ARGS...   evgatectl against a box
#   world_pair_ns a|b            its namespace
#   world_pair_role a|b          its evgated's role (master, backup, ...)
#   world_pair_vip a|b           does it hold the virtual address now?
#   world_pair_master            the box that holds it ("a", "b", "a b"
#                                in a split brain, "" for none)
#   world_pair_kill a|b          the box dies: kill -9 every process in its
#                                namespace, its links down
#   world_pair_start a|b         it boots again: links up, evgated and
#                                keepalived started
#   world_pair_cut a|b / world_pair_heal a|b
#                                take all its links down / up again
#   world_pair_split / world_pair_join
#                                a split brain: VRRP dropped on the PLC
#                                bridge and the pair link down, and back
#   world_pair_log a|b           its fleet log directory

: "${WORLD_PAIR:=0}"
: "${WORLD_PAIR_ADVERT:=1}"

WNS_GW2=${WORLD_P}gw2
WORLD_PAIR_ADDR_A=10.42.0.2
WORLD_PAIR_ADDR_B=10.42.0.3
WORLD_PAIR_LINK_A=192.168.77.1
WORLD_PAIR_LINK_B=192.168.77.2
WORLD_GW2_WAN=198.51.100.2
WORLD_INET_ADDR2=198.51.100.1
WORLD_GW2_SOCK=$W/gw2/evgated.sock
WORLD_GW2_CONF=$W/gw2/evgated.yaml
WORLD_PAIR_NOTIFY=$top/conf/evgate-keepalived-notify

world_pair_ns() { [ "$1" = a ] && echo "$WNS_GW" || echo "$WNS_GW2"; }
world_pair_dir() { [ "$1" = a ] && echo "$W/gw" || echo "$W/gw2"; }
world_pair_sock() { [ "$1" = a ] && echo "$WORLD_GW_SOCK" || echo "$WORLD_GW2_SOCK"; }
world_pair_log() { echo "$(world_pair_dir "$1")/log"; }

world_pair_ctl() {	# world_pair_ctl a|b args...
	local b=$1
	shift
	"$EVGATECTL" -s "$(world_pair_sock "$b")" "$@"
}

# --- the network -----------------------------------------------------------

world_pair_net() {
	[ "$WORLD_PAIR" = 1 ] || return 0
	# Box a keeps its namespace; its own address replaces the virtual
	# one, which keepalived adds on the master.
	ip -n "$WNS_GW" addr del "$WORLD_GW_LAN/24" dev plc0 2>/dev/null
	ip -n "$WNS_GW" addr add "$WORLD_PAIR_ADDR_A/24" dev plc0 || return 1

	world_netns_add "$WNS_GW2" || return 1
	ip link add plc0 netns "$WNS_GW2" type veth peer name gw2 \
	    netns "$WNS_PLC" || return 1
	ip -n "$WNS_PLC" link set gw2 master plc up && world_shape gw2 &&
	ip -n "$WNS_GW2" addr add "$WORLD_PAIR_ADDR_B/24" dev plc0 &&
	ip -n "$WNS_GW2" link set plc0 up || return 1

	# Its own way to the internet: another link into the internet's
	# namespace, which answers from its addresses (no forwarding).
	ip link add wan0 netns "$WNS_GW2" type veth peer name eth1 \
	    netns "$WNS_INET" || return 1
	ip -n "$WNS_GW2" addr add "$WORLD_GW2_WAN/24" dev wan0 &&
	ip -n "$WNS_GW2" link set wan0 up &&
	ip -n "$WNS_INET" addr add "$WORLD_INET_ADDR2/24" dev eth1 &&
	ip -n "$WNS_INET" link set eth1 up &&
	ip -n "$WNS_GW2" route add 203.0.113.0/24 via "$WORLD_INET_ADDR2" ||
	    return 1
	mkdir -p "/etc/netns/$WNS_GW2"
	echo "nameserver $WORLD_DNS_ADDR" >"/etc/netns/$WNS_GW2/resolv.conf"

	# The pair link.
	ip link add pair0 netns "$WNS_GW" type veth peer name pair0 \
	    netns "$WNS_GW2" || return 1
	ip -n "$WNS_GW" addr add "$WORLD_PAIR_LINK_A/30" dev pair0 &&
	ip -n "$WNS_GW" link set pair0 up &&
	ip -n "$WNS_GW2" addr add "$WORLD_PAIR_LINK_B/30" dev pair0 &&
	ip -n "$WNS_GW2" link set pair0 up || return 1
	world_pair_certs
	world_log "pair: $WNS_GW (gw-a), $WNS_GW2 (gw-b), virtual $WORLD_GW_LAN"
}

# A self-signed certificate per box: each pins the other's.
world_pair_certs() {
	local b
	mkdir -p "$W/pair"
	for b in a b; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -days 30 -subj "/CN=gw-$b" -keyout "$W/pair/gw-$b.key" \
		    -out "$W/pair/gw-$b.pem" 2>/dev/null || return 1
	done
	chmod 600 "$W"/pair/*.key
}

# --- configuration -----------------------------------------------------------

world_yaml_pair() {
	local b=${WORLD_PAIR_BOX:-a} me peer own other
	[ "$WORLD_PAIR" = 1 ] || return 0
	if [ "$b" = a ]; then
		me=$WORLD_PAIR_LINK_A peer=$WORLD_PAIR_LINK_B
		own=$WORLD_PAIR_ADDR_A other=b
	else
		me=$WORLD_PAIR_LINK_B peer=$WORLD_PAIR_LINK_A
		own=$WORLD_PAIR_ADDR_B other=a
	fi
	cat <<EOF
pair:
  name: gw-$b
  address: $own
  listen: $me:7411
  peer: $peer:7411
  certificate: $W/pair/gw-$b.pem
  key: $W/pair/gw-$b.key
  peer_certificate: $W/pair/gw-$other.pem
EOF
}

# Box b: box a's configuration with its own files and pair section.
world_pair_b_config() {
	mkdir -p "$W/gw2"
	WORLD_PAIR_BOX=b world_gw_config | sed "s#$W/gw/#$W/gw2/#g" \
	    >"$WORLD_GW2_CONF.tmp" && mv "$WORLD_GW2_CONF.tmp" "$WORLD_GW2_CONF"
}

world_pair_keepalived_conf() {	# world_pair_keepalived_conf a|b
	local b=$1 dir prio
	dir=$(world_pair_dir "$b")
	prio=150
	[ "$b" = b ] && prio=100
	cat >"$dir/keepalived.conf" <<EOF
# keepalived for box $b of the test world (conf/keepalived.conf.example)
global_defs {
	router_id evgate-gw-$b
	script_user root
	vrrp_notify_fifo $dir/keepalived.fifo
	vrrp_notify_fifo_script "$WORLD_PAIR_NOTIFY -s $(world_pair_sock "$b") -e $EVGATECTL"
}
vrrp_script evgate_health {
	script "$EVGATECTL -s $(world_pair_sock "$b") health -q"
	interval 1
	timeout 4
	fall 2
	rise 2
}
vrrp_instance EVGATE {
	state BACKUP
	interface plc0
	virtual_router_id 42
	priority $prio
	nopreempt
	advert_int $WORLD_PAIR_ADVERT
	garp_master_delay 5
	garp_master_repeat 3
	garp_lower_prio_delay 0
	garp_lower_prio_repeat 3
	higher_prio_send_advert true
	garp_master_refresh 10
	virtual_ipaddress {
		$WORLD_GW_LAN/24 dev plc0
	}
	track_script {
		evgate_health
	}
}
EOF
}

# --- processes ---------------------------------------------------------------

world_pair_keepalived_start() {	# world_pair_keepalived_start a|b
	local b=$1 dir
	dir=$(world_pair_dir "$b")
	world_pair_keepalived_conf "$b"
	rm -f "$dir/keepalived.fifo"
	world_spawn "$(world_pair_ns "$b")" "keepalived-$b" keepalived -n -l -D \
	    -G -P -f "$dir/keepalived.conf" -p "$W/run/keepalived-$b.main.pid" \
	    -r "$W/run/keepalived-$b.vrrp.pid"
}

world_pair_evgated_start() {	# world_pair_evgated_start a|b
	local b=$1
	if [ "$b" = a ]; then
		world_spawn "$WNS_GW" evgated "${WORLD_GW_WRAPPER[@]}" \
		    "$EVGATED" -c "$WORLD_GW_CONF"
	else
		world_pair_b_config || return 1
		ip netns exec "$WNS_GW2" "$EVGATED" --check-config \
		    -c "$WORLD_GW2_CONF" \
		    >"$W/log/check2.log" 2>&1 ||
		    { world_err "evgated rejects $WORLD_GW2_CONF:"; cat "$W/log/check2.log" >&2; return 1; }
		world_spawn "$WNS_GW2" evgated-b "$EVGATED" -c "$WORLD_GW2_CONF"
	fi
	wait_for 10 world_pair_ctl "$b" status ||
	    { world_err "evgated of box $b did not start"; return 1; }
}

world_pair_vip() {	# world_pair_vip a|b: does it hold the virtual address?
	ip -n "$(world_pair_ns "$1")" -4 -o addr show dev plc0 2>/dev/null |
	    grep -q " $WORLD_GW_LAN/"
}

world_pair_master() {
	local out=""
	world_pair_vip a && out=a
	world_pair_vip b && out="${out:+$out }b"
	echo "$out"
}

world_pair_role() {	# world_pair_role a|b
	world_pair_ctl "$1" --json status 2>/dev/null | python3 -c \
	    'import json,sys; print(json.load(sys.stdin)["role"])' 2>/dev/null
}

# One box holds the address, its evgated is master and its dnsmasq runs.
world_pair_serving() {
	local m
	m=$(world_pair_master)
	[ "$m" = a ] || [ "$m" = b ] || return 1
	[ "$(world_pair_role "$m")" = master ] &&
	    world_pair_ctl "$m" --json status | python3 -c \
	    'import json,sys; sys.exit(0 if json.load(sys.stdin)["dnsmasq"]["running"] else 1)'
}

# world_pair_start a|b: the box boots again after world_pair_kill: no
# virtual address on plc0 (a reboot forgets it), links up, evgated, then
# keepalived.
world_pair_start() {
	ip -n "$(world_pair_ns "$1")" addr del "$WORLD_GW_LAN/24" dev plc0 \
	    2>/dev/null
	world_pair_heal "$1"
	world_pair_evgated_start "$1" && world_pair_keepalived_start "$1"
}

# The second box, then keepalived on both; wait for a master.
world_pair_up() {
	[ "$WORLD_PAIR" = 1 ] || return 0
	world_pair_evgated_start b || return 1
	world_pair_keepalived_start a && world_pair_keepalived_start b ||
	    return 1
	wait_for 20 world_pair_serving ||
	    { world_err "no box became master"; tail -5 "$W/log/keepalived-a.log" >&2; return 1; }
	world_log "pair: box $(world_pair_master) is master"
}

# world_pair_kill a|b: the box dies (a power cut): every process of its
# namespace killed (-9) and its links down -- a kernel still up would go
# on answering ARP for the virtual address keepalived left on plc0.
world_pair_kill() {
	local pid
	disown -a	# no "Killed" from the shell that started them
	for pid in $(ip netns pids "$(world_pair_ns "$1")"); do
		kill -KILL "$pid" 2>/dev/null
	done
	world_pair_cut "$1"
}

world_pair_links() { echo plc0 wan0 pair0; }

world_pair_cut() {	# world_pair_cut a|b: all its links down
	local l
	for l in $(world_pair_links); do
		ip -n "$(world_pair_ns "$1")" link set "$l" down
	done
}

world_pair_heal() {	# world_pair_heal a|b
	local l ns
	ns=$(world_pair_ns "$1")
	for l in $(world_pair_links); do
		ip -n "$ns" link set "$l" up
	done
	# The routes that went with the link.
	[ "$1" = b ] && ip -n "$ns" route replace 203.0.113.0/24 \
	    via "$WORLD_INET_ADDR2" 2>/dev/null
	return 0
}

# A split brain: the boxes no longer hear each other's VRRP adverts (the
# PLC bridge drops them) nor reach each other on the pair link, while
# both still reach the chargers.
world_pair_split() {
	ip netns exec "$WNS_PLC" nft -f - <<'EOF' || return 1
table bridge evgate_split {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip protocol vrrp drop
	}
}
EOF
	ip -n "$WNS_GW" link set pair0 down
}

world_pair_join() {
	ip netns exec "$WNS_PLC" nft delete table bridge evgate_split
	ip -n "$WNS_GW" link set pair0 up
}

# --- the world's hooks -----------------------------------------------------------

world_pair_check() {
	[ "$WORLD_PAIR" = 1 ] || return 0
	[ "$WORLD_SITE" = 1 ] ||
	    { world_err "WORLD_PAIR needs WORLD_SITE=1"; return 1; }
	command -v keepalived >/dev/null ||
	    { world_err "keepalived is not installed: run scripts/setup"; return 1; }
}

world_pair_down() {
	[ -d "$W/run" ] && world_stop evgated-b 5
	return 0
}

world_export_pair() {
	[ "$WORLD_PAIR" = 1 ] || return 0
	world_pair_ctl b --json status >"$1/evgated-b-status.json" 2>/dev/null
	world_pair_ctl b --json chargers >"$1/evgated-b-chargers.json" 2>/dev/null
	"$EVGATECTL" export --dir "$(world_pair_log a)" \
	    --dir "$(world_pair_log b)" --format jsonl \
	    -o "$1/fleet-log-pair.jsonl" 2>/dev/null
	return 0
}

# Each of these does nothing unless WORLD_PAIR=1 (set by a test after
# sourcing world.sh, or by scripts/world up --pair).
WORLD_INET_HOOKS+=(world_pair_check world_pair_net)
WORLD_GW_SECTIONS+=(world_yaml_pair)
WORLD_GW_HOOKS+=(world_pair_up)
WORLD_EXPORT_HOOKS+=(world_export_pair)
WORLD_DOWN_HOOKS+=(world_pair_down)
