#!/bin/bash
# attack_world: the attack and fault suite (issue 10, item 2; the cases and
# what each proves are in doc/hardening.md).  One test world with real
# evcharger chargers; a rogue namespace on the PLC bridge with an unknown
# MAC and 200 LAN addresses plays the attacker.  Each case asserts
#   (a) the attack or fault is handled as specified,
#   (b) the well-behaved chargers keep being served: their MQTT session
#       stays up (or, for the faults that must cut it, comes back), their
#       telemetry keeps reaching the cloud (evcloud telemetry) and a direct
#       method round trip (evcloud call) answers 200,
#   (c) no committed fleet-log event is lost: every seq 1..committed_seq is
#       in "evgatectl export" exactly once, also across a kill -9 of
#       evgated,
# and the suite ends with a table (case, result, events committed, events
# lost) and "cases tried N, passed N, events lost N".
#
# Short timers where the product allows them: lease time 2m, NTP poll 16 s
# and holdover 32 s, hello timeout 4 s, upstream connect 3 s, MQTT
# keepalive 30 s, a pulse every 3 s.  Timings are never asserted, except
# the spread of the chargers' reconnections after the cloud comes back
# (not all within half a second: no thundering herd).
#
#   ATTACK_CHARGERS   number of chargers (default 6)
#   ATTACK_ONLY       run only the cases whose name matches this regex
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
HT="python3 $HERE/hello_tool.py"
NT="python3 $HERE/ntp_tool.py"
N=${ATTACK_CHARGERS:-6}
ONLY=${ATTACK_ONLY:-}
GW=$WORLD_GW_LAN

WORLD_SITE=1			# the gateway's DHCP and steered DNS
WORLD_CHARGER_ADDR=dhcp		# busybox udhcpc (renews on SIGUSR1)
WORLD_CHARGER_HOSTS=0		# names from the gateway's DNS only
WORLD_DEVICE=evcharger		# the charger firmware
WORLD_SITE_LEASE_TIME=2m	# the shortest the gateway takes
WORLD_FW_TELEMETRY=3		# a pulse every 3 s: telemetry to watch
WORLD_FW_KEEPALIVE=30		# the shortest the firmware takes
# The cases follow one another faster than the firmware's stable-link
# time (180 s), so a charger's back-off keeps growing from case to case;
# with the shipped cap (190 s) its next try can come after any wait the
# cases allow (cloud-unreachable once saw 151 s).  A 60-s cap keeps
# "comes back by itself" within the cases' 120-s waits.
WORLD_FW_CLOUD_EXTRA="  backoff_cap: 60"
WORLD_NTP_POLL="16s 16s"
WORLD_NTP_HOLDOVER=32s		# the shortest: twice poll.max
WORLD_GW_SUPERVISE=1		# Restart=on-failure (world.d/supervise.bash)
# The internet's DNS: answers that the gateway may cache for an hour (its
# cap), and a record of every query that reaches it.
WORLD_INET_DNS_EXTRA="local-ttl=3600
log-queries
log-facility=-"

# The fleet log on a small file system of its own, to fill in "disk-full".
LOGFS=$T/logfs
mkdir -p "$LOGFS"
mount -t tmpfs -o size=16m,mode=0755 evgate-attack "$LOGFS" ||
	{ not_ok "mount a tmpfs for the fleet log"; exit 1; }
at_exit "umount -l '$LOGFS'"
WORLD_FLEETLOG_DIR=$LOGFS/log
QUEUE_MAX=50

attack_yaml_relay() {
	local n list=""
	for n in $WORLD_HTTPS_NAMES; do list="$list${list:+, }$n"; done
	cat <<EOF
relay:
  listen: $GW
  routes:
    - {port: 8883, allow: [$WORLD_HUB]}
    - {port: 443, allow: [$list]}
  limits: {per_client: 16, total: 20000}
  timeouts: {hello: 4s, connect: 3s, drain: 2s}
EOF
}

attack_yaml_log() {
	cat <<EOF
log:
  dir: $WORLD_FLEETLOG_DIR
  fsync_interval: 200ms
  queue_max: $QUEUE_MAX
metrics:
  listen: "127.0.0.1:9310"
EOF
}
WORLD_GW_SECTIONS=("${WORLD_GW_SECTIONS[@]/#world_yaml_relay/attack_yaml_relay}")
WORLD_GW_SECTIONS=("${WORLD_GW_SECTIONS[@]/#world_yaml_fleetlog/attack_yaml_log}")

if ! world_up "$N"; then
	not_ok "world up with $N evcharger chargers"
	for f in "$W"/log/evgated.log "$W"/log/evcharger-*.log; do
		[ -e "$f" ] && tail -5 "$f" | sed "s|^|# $(basename "$f"): |"
	done
	exit 1
fi
ok "world up: $N evcharger chargers connected through the relay, evgated supervised"

# --- reading the world ------------------------------------------------------

status() { world_ctl --json status; }
sget() { json_get "$(status)" "$1"; }
refused() { sget "d['relay']['refused']['$1']"; }
tget() { json_get "$(world_ctl --json time)" "$1"; }
fw() { world_fw_status "$@"; }			# fw I EXPR
connected() { [ "$(fw "$1" 'd["cloud"]["connected"]')" = True ]; }
telemetry_count() {
	world_evcloud telemetry --device "$(world_id "$1")" --count 2>/dev/null
}
telemetry_past() { [ "$(telemetry_count "$1")" -gt "$2" ]; }	# I COUNT
call() {	# call I METHOD: "STATUS PAYLOAD" of a direct method
	world_evcloud call --device "$(world_id "$1")" --method "$2" \
	    --timeout 15 2>&1
}
export_jsonl() { world_ctl export --dir "$WORLD_FLEETLOG_DIR" --format jsonl "$@"; }
committed() { sget "d['log']['committed_seq']"; }
in_rogue() { in_ns "$ROGUE" "$@"; }
ntp_query() { in_ns "$1" $NT query "$GW"; }	# ntp_query NS
li_stratum() { json_get "$1" '"%s %s" % (d.get("li"), d.get("stratum"))'; }
curl_c() {	# curl_c I URL [curl args]: HTTPS from charger I, CA of the world
	local i=$1 url=$2
	shift 2
	world_in "$i" curl -sS -m 20 --cacert "$W/pki/ca.pem" "$@" "$url"
}
api_ok() {	# api_ok I: a fresh HTTPS request from charger I is relayed
	[ "$(curl_c "$1" "https://api.zaptec.com/" 2>/dev/null)" = \
	    "evgate test world: ${WORLD_HTTPS_NAMES##* }" ]
}
tls_ok() {	# tls_ok NS PORT NAME: a verified TLS handshake through the relay
	echo | in_ns "$1" timeout 15 openssl s_client -connect "$GW:$2" \
	    -servername "$3" -CAfile "$W/pki/ca.pem" -verify_return_error \
	    >/dev/null 2>&1
}
evg_pid() { world_gw_main_pid; }
chargers_json() { world_ctl --json chargers; }
leases_active() {	# every charger holds its reserved address, active
	python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
want = {"ZAP%06d" % (100 + i): "10.42.0.%d" % (20 + i)
        for i in range(1, int(sys.argv[1]) + 1)}
got = {c["id"]: (c.get("lease"), c.get("address")) for c in d["chargers"]}
bad = [k for k, a in want.items() if got.get(k) != ("active", a)]
sys.exit("not active: %s" % bad if bad else 0)' "$N" <<<"$(chargers_json)"
}
# renewed_since SEQ I: the fleet log has a lease event for charger I's MAC
# after SEQ (dnsmasq ACKed a renewal: action "old", or "add").
renewed_since() {
	export_jsonl --type lease | python3 -c '
import json, sys
seq, mac = int(sys.argv[1]), sys.argv[2]
for l in sys.stdin:
    e = json.loads(l)
    if e["seq"] > seq and e.get("mac") == mac and e.get("action") in ("old", "add"):
        sys.exit(0)
sys.exit(1)' "$1" "$(world_mac "$2")"
}
renew_all() {	# ask every charger's DHCP client to renew now
	local i
	for i in $(seq 1 "$N"); do
		kill -USR1 "$(world_pid "udhcpc-$(world_id "$i")")" 2>/dev/null
	done
}
all_renewed_since() {
	local i
	for i in $(seq 1 "$N"); do renewed_since "$1" "$i" || return 1; done
}
# relay_8883_starts: "ID seconds-ago" of every charger's live hub connection
relay_8883_starts() {
	world_ctl --json connections | python3 -c '
import json, sys
for c in json.load(sys.stdin)["connections"]:
    if c["port"] == 8883 and c["state"] == "splice" and c.get("charger"):
        print(c["charger"], c["duration_s"])'
}

# --- the rogue: an unknown MAC on the PLC segment, 200 LAN addresses ---------

ROGUE=${WORLD_P}rogue
ROGUE_MAC=$(printf '02:66:%02x:%02x:%02x:%02x' $((RANDOM % 256)) \
    $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))
ROGUE_FIRST=30		# 10.42.0.30 .. 10.42.0.229: free LAN addresses
ROGUE_ADDRS=200
ROGUE_IP=10.42.0.$ROGUE_FIRST
rogue_up() {
	local a
	netns_add "$ROGUE" &&
	ip link add eth0 netns "$ROGUE" address "$ROGUE_MAC" type veth \
	    peer name rogue netns "$WNS_PLC" &&
	ip -n "$WNS_PLC" link set rogue master plc up && world_shape rogue &&
	ip -n "$ROGUE" link set eth0 up || return 1
	for ((a = ROGUE_FIRST; a < ROGUE_FIRST + ROGUE_ADDRS; a++)); do
		echo "addr add 10.42.0.$a/24 dev eth0"
	done | ip -n "$ROGUE" -batch - || return 1
	# It believes in a router, like anything plugged in; the gateway
	# forwards nothing.
	ip -n "$ROGUE" route add default via "$GW"
	mkdir -p "/etc/netns/$ROGUE"
	echo "nameserver $GW" >"/etc/netns/$ROGUE/resolv.conf"
	at_exit "rm -rf /etc/netns/$ROGUE"
}
rogue_up || { not_ok "the rogue namespace on the PLC bridge"; exit 1; }
ok "a rogue on the PLC segment: MAC $ROGUE_MAC, $ROGUE_ADDRS addresses from $ROGUE_IP"

# The rogue's DHCP tool: raw DISCOVER/REQUEST frames from random MACs (or
# one given MAC) on its interface; counts the OFFER/ACK/NAK that come back.
cat >"$T/dhcp_flood.py" <<'PY'
import json, os, random, select, socket, struct, sys, time

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff

def frame(mac, xid, kind, want=None):
    opts = b"\x63\x82\x53\x63" + bytes([53, 1, kind])
    if want:
        opts += bytes([50, 4]) + socket.inet_aton(want)
    opts += bytes([61, 7, 1]) + mac + bytes([55, 3, 1, 3, 6, 255])
    bootp = struct.pack("!BBBBIHH16s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        bytes(16), mac + bytes(10), bytes(64), bytes(128))
    udp = bootp + opts
    udp = struct.pack("!HHHH", 68, 67, 8 + len(udp), 0) + udp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17,
                     0, bytes(4), b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + b"\x08\x00" + ip + udp

def main():
    iface, what = sys.argv[1], sys.argv[2]
    if what == "random":
        macs = [bytes([0x02 | (random.randrange(256) & 0xfc)]) +
                os.urandom(5) for _ in range(int(sys.argv[3]))]
    else:
        macs = [bytes.fromhex(what.replace(":", ""))]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    xids, got = {}, {"offers": 0, "acks": 0, "naks": 0, "offered": []}
    def drain(wait):
        end = time.time() + wait
        while True:
            r, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if not r:
                return
            p = s.recv(4096)
            if len(p) < 14 + 20 + 8 + 240 or p[23] != 17:
                continue
            ihl = (p[14] & 15) * 4
            u = 14 + ihl
            if struct.unpack("!H", p[u + 2:u + 4])[0] != 68:
                continue
            b = p[u + 8:]
            xid = struct.unpack("!I", b[4:8])[0]
            if b[0] != 2 or xid not in xids:
                continue
            o, kind = 240, 0
            while o < len(b) and b[o] != 255:
                if b[o] == 0:
                    o += 1
                    continue
                if b[o] == 53:
                    kind = b[o + 2]
                o += 2 + b[o + 1]
            if kind == 2:
                got["offers"] += 1
                got["offered"].append(socket.inet_ntoa(b[16:20]))
            elif kind == 5:
                got["acks"] += 1
            elif kind == 6:
                got["naks"] += 1
    sent = 0
    for i, mac in enumerate(macs):
        xid = random.getrandbits(32)
        xids[xid] = mac
        s.send(frame(mac, xid, 1))
        # and a REQUEST for an address of the range, as if offered
        s.send(frame(mac, xid, 3, "10.42.0.%d" % (10 + i % 240)))
        sent += 2
        # Paced below the PLC segment's 10 Mbit/s: a burst beyond its
        # queue would be cut by the shaping before reaching the gateway.
        time.sleep(0.002)
        if i % 16 == 0:
            drain(0)
    drain(2.0)
    got["macs"] = len(macs)
    got["sent"] = sent
    print(json.dumps(got))

main()
PY

# --- the cases ----------------------------------------------------------------

CASE_NAMES=() CASE_RESULTS=() CASE_COMMITTED=() CASE_LOST=() CASE_SECS=()
LOST_TOTAL=0
CASE=""

want_case() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }

# for_chargers FN: FN I for every charger at once (each a process of
# its own), the outputs one word a line in charger order ("-" for none).
for_chargers() {
	local i v pids=()
	for i in $(seq 1 "$N"); do
		"$@" "$i" >"$T/each.$i" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq 1 "$N"); do
		v=$(cat "$T/each.$i")
		v=${v%%[[:space:]]*}
		echo "${v:--}"
	done
}
fw_connects() { fw "$1" 'd["cloud"]["connects"]'; }
fw_connected() { fw "$1" 'd["cloud"]["connected"]'; }
ids_where() {	# ids_where TEST A B: the chargers for which [ A_i TEST B_i ] fails
	local test=$1 i out=""
	local -a a b
	read -r -a a <<<"$2"
	read -r -a b <<<"$3"
	for ((i = 0; i < N; i++)); do
		test "${a[$i]:-x}" "$test" "${b[$i]:-x}" 2>/dev/null ||
		    out="$out $(world_id $((i + 1)))"
	done
	echo "${out# }"
}
all_connected() { [ "$(for_chargers fw_connected | sort -u)" = True ]; }
# telemetry_moved COUNTS: every charger's count is past COUNTS now
telemetry_moved() {
	[ -z "$(ids_where -gt "$(for_chargers telemetry_count | tr '\n' ' ')" "$1")" ]
}

# case_begin NAME MODE: MODE "stay" (every charger's MQTT session must stay
# up through the case) or "reconnect" (the case cuts them; they must come
# back).  CASE_RESTART=1 in a case allows evgated's restart.
case_begin() {
	CASE=$1 CASE_MODE=$2 CASE_RESTART=0 CASE_KILL_SEQ=0
	CASE_FAIL0=$_tap_failed
	CASE_T0=$SECONDS
	diag "--- case $CASE"
	CASE_SEQ0=$(committed)
	CASE_PID0=$(evg_pid)
	CASE_RESTARTS0=$(world_gw_restarts)
	CONNECTS0=$(for_chargers fw_connects | tr '\n' ' ')
}
c_ok() { ok "[$CASE] $1"; }
c_not_ok() { not_ok "[$CASE] $1" "${@:2}"; }
c_check() { check "[$CASE] $1" "${@:2}"; }
c_check_eq() { check_eq "[$CASE] $1" "$2" "$3"; }
c_check_fails() { check_fails "[$CASE] $1" "${@:2}"; }

# served NOTE: (b) right now, one method round trip per charger (all at
# once, as a cloud would send them).
call_ping() { call "$1" 1; }	# "200 ..." when it answers
served() {
	local out
	out=$(for_chargers call_ping | tr '\n' ' ')
	check_eq "[$CASE] every charger answers a direct method (200) $1" "" \
	    "$(ids_where '=' "$out" "$(yes 200 | head -n "$N" | tr '\n' ' ')")"
}

# (b) and (c) at the end of every case, then the case's row.
case_end() {
	local seq lost res wait=15 out tel0 connects
	[ "$CASE_MODE" = reconnect ] && wait=120
	tel0=$(for_chargers telemetry_count | tr '\n' ' ')
	if wait_for "$wait" all_connected; then
		c_ok "every charger's MQTT session is up"
	else
		c_not_ok "every charger's MQTT session is up" \
		    "connected: $(for_chargers fw_connected | tr '\n' ' ')"
	fi
	connects=$(for_chargers fw_connects | tr '\n' ' ')
	if [ "$CASE_MODE" = stay ]; then
		check_eq "[$CASE] no charger lost its session" "" \
		    "$(ids_where '=' "$connects" "$CONNECTS0")"
	else
		check_eq "[$CASE] every charger reconnected by itself" "" \
		    "$(ids_where -gt "$connects" "$CONNECTS0")"
	fi
	served "after the case"
	wait_for 30 telemetry_moved "$tel0"
	check_eq "[$CASE] telemetry from every charger keeps reaching the cloud" "" \
	    "$(ids_where -gt "$(for_chargers telemetry_count | tr '\n' ' ')" "$tel0")"
	if [ "$CASE_RESTART" = 0 ]; then
		c_check_eq "evgated did not restart" \
		    "$CASE_PID0 $CASE_RESTARTS0" "$(evg_pid) $(world_gw_restarts)"
	fi

	# (c) every committed event is there, once.
	seq=$(committed)
	[ "$CASE_KILL_SEQ" -gt "$seq" ] && seq=$CASE_KILL_SEQ
	out=$(export_jsonl 2>/dev/null | python3 -c '
import json, sys
c = int(sys.argv[1])
seen = {}
for l in sys.stdin:
    try:
        s = json.loads(l)["seq"]
    except ValueError:
        continue
    seen[s] = seen.get(s, 0) + 1
missing = sum(1 for s in range(1, c + 1) if s not in seen)
dups = sum(n - 1 for n in seen.values() if n > 1)
print(missing + dups, missing, dups)' "$seq")
	lost=${out%% *}
	if [ "$lost" = 0 ]; then
		c_ok "fleet log: seq 1..$seq all exported, no gap, no duplicate"
	else
		c_not_ok "fleet log: seq 1..$seq all exported, no gap, no duplicate" \
		    "lost, missing, duplicated: $out"
		[ -n "$lost" ] || lost=$seq
	fi
	LOST_TOTAL=$((LOST_TOTAL + lost))
	if [ "$_tap_failed" = "$CASE_FAIL0" ]; then res=pass; else res=FAIL; fi
	CASE_NAMES+=("$CASE")
	CASE_RESULTS+=("$res")
	CASE_COMMITTED+=("$((seq - CASE_SEQ0))")
	CASE_LOST+=("$lost")
	CASE_SECS+=("$((SECONDS - CASE_T0))")
	diag "--- case $CASE: $res ($((SECONDS - CASE_T0)) s)"
}

# --- open-proxy attempts ------------------------------------------------------

relayed0() { R0=$(sget "d['relay']['relayed']"); }
none_relayed() {
	c_check_eq "none of it was relayed" "$R0" "$(sget "d['relay']['relayed']")"
}
delta_refused() {	# delta_refused REASON BEFORE
	echo $(( $(refused "$1") - $2 ))
}

if want_case proxy-connect; then
	case_begin proxy-connect stay
	relayed0
	r0=$(refused not-tls)
	# (The relay may close before the request is all written: a write
	# error then, not SIGPIPE; only what comes back, and the hang-up,
	# count.)
	out=$(in_rogue timeout 10 bash -c "trap '' PIPE
	    exec 3<>/dev/tcp/$GW/443
	    printf 'CONNECT $WORLD_WEB_ADDR:443 HTTP/1.1\r\nHost: $WORLD_WEB_ADDR:443\r\n\r\n' >&3
	    cat <&3" 2>/dev/null)
	rc=$?
	c_check "an HTTP CONNECT to the relay's 443 gets no answer and is closed (exit $rc, '$out')" \
	    test "$rc" != 124 -a -z "$out"
	in_rogue curl -s -m 10 -p -x "http://$GW:8883" "https://api.zaptec.com/" \
	    >/dev/null 2>&1
	c_check_eq "CONNECT requests on both ports are refused as not-tls" 2 \
	    "$(delta_refused not-tls "$r0")"
	none_relayed
	case_end
fi

if want_case proxy-plain-http; then
	case_begin proxy-plain-http stay
	relayed0
	r0=$(refused not-tls)
	c_check_fails "plain HTTP to 443 gets no answer" \
	    in_rogue curl -sS -m 10 "http://$GW:443/"
	c_check_fails "a proxy-style GET to 8883 gets no answer" \
	    in_rogue curl -sS -m 10 -x "http://$GW:8883" "http://api.zaptec.com/"
	c_check_fails "plain HTTP with the Host of an allowed name gets no answer" \
	    in_rogue curl -sS -m 10 -H "Host: api.zaptec.com" "http://$GW:443/"
	c_check_eq "all refused as not-tls" 3 "$(delta_refused not-tls "$r0")"
	none_relayed
	case_end
fi

if want_case sni-not-allowed; then
	case_begin sni-not-allowed stay
	relayed0
	r0=$(refused not-allowed)
	for sni in www.example.com api.zaptec.com.evil.example \
	    zapcloud.azure-devices.net.evil.example; do
		c_check_fails "SNI $sni on 443: no handshake" \
		    tls_ok "$ROGUE" 443 "$sni"
	done
	c_check_fails "SNI www.example.com on 8883: no handshake" \
	    tls_ok "$ROGUE" 8883 www.example.com
	c_check_eq "all refused as not-allowed" 4 "$(delta_refused not-allowed "$r0")"
	none_relayed
	case_end
fi

if want_case sni-wrong-port; then
	case_begin sni-wrong-port stay
	relayed0
	r0=$(refused wrong-port)
	c_check_fails "an HTTPS name on the hub's port 8883: no handshake" \
	    tls_ok "$ROGUE" 8883 api.zaptec.com
	c_check_fails "the hub's name on 443: no handshake" \
	    tls_ok "$ROGUE" 443 "$WORLD_HUB"
	c_check_eq "both refused as wrong-port" 2 "$(delta_refused wrong-port "$r0")"
	none_relayed
	case_end
fi

if want_case sni-missing; then
	case_begin sni-missing stay
	relayed0
	r0=$(refused no-sni)
	for port in 443 8883; do
		echo | in_rogue timeout 15 openssl s_client -connect "$GW:$port" \
		    -noservername >/dev/null 2>&1
	done
	c_check_eq "hellos without SNI on both ports refused as no-sni" 2 \
	    "$(delta_refused no-sni "$r0")"
	none_relayed
	case_end
fi

if want_case sni-ip-literal; then
	case_begin sni-ip-literal stay
	relayed0
	r0=$(refused bad-sni)
	c_check_eq "a hello whose SNI is an IP literal is closed" closed \
	    "$(in_rogue $HT ipsni "$GW" 443 2>&1)"
	c_check_eq "refused as bad-sni" 1 "$(delta_refused bad-sni "$r0")"
	none_relayed
	case_end
fi

if want_case hello-oversize; then
	case_begin hello-oversize stay
	relayed0
	r0=$(refused too-big)
	c_check_eq "a hello larger than 16 KiB is closed" closed \
	    "$(in_rogue $HT oversize "$GW" 443 2>&1)"
	c_check_eq "refused as too-big" 1 "$(delta_refused too-big "$r0")"
	none_relayed
	case_end
fi

if want_case hello-malformed; then
	case_begin hello-malformed stay
	relayed0
	r0=$(refused malformed)
	c_check_eq "a TLS record of noise is closed" closed \
	    "$(in_rogue $HT garbage "$GW" 443 2>&1)"
	c_check_eq "refused as malformed" 1 "$(delta_refused malformed "$r0")"
	none_relayed
	case_end
fi

if want_case hello-dribble; then
	case_begin hello-dribble stay
	relayed0
	r0=$(refused hello-timeout)
	in_rogue $HT dribble "$GW" 443 api.zaptec.com 15 >"$T/dribble.out" 2>&1 &
	drib=$!
	served "while a hello is dribbled a byte a second"
	wait "$drib"
	c_check_eq "the dribbled hello is cut off at the hello timeout" closed \
	    "$(cat "$T/dribble.out")"
	c_check_eq "refused as hello-timeout" 1 "$(delta_refused hello-timeout "$r0")"
	none_relayed
	case_end
fi

if want_case halfopen; then
	case_begin halfopen stay
	K=10
	H=$((K * ROGUE_ADDRS))
	r0=$(refused hello-timeout)
	e0=$(sget "d['relay']['accept_errors']")
	coproc HALF { in_rogue $HT halfopen_from "$GW" 443 "$K" "$ROGUE_IP" \
	    "$ROGUE_ADDRS" 2>&1; }
	at_exit "kill $HALF_PID"
	line=""
	read -r -t 120 line <&"${HALF[0]}"
	c_check_eq "$H half-open connections ($ROGUE_ADDRS addresses x $K) are accepted" \
	    "holding $H" "$line"
	served "while $H half-open connections are held"
	c_check "a fresh HTTPS request from a charger is relayed meanwhile" api_ok 1
	peek0() { [ "$(sget "d['relay']['by_state']['peek']")" = 0 ]; }
	c_check "the hello timeout frees them all" wait_for 60 peek0
	exec {HALF[1]}>&-
	line=""
	read -r -t 60 line <&"${HALF[0]}"
	c_check_eq "the attacker sees every one of them closed" "closed $H" "$line"
	c_check_eq "all counted as hello-timeout" "$H" \
	    "$(delta_refused hello-timeout "$r0")"
	c_check_eq "no accept error (descriptors to spare)" "$e0" \
	    "$(sget "d['relay']['accept_errors']")"
	diag "evgated RSS after the half-open flood: $(awk '/VmRSS/ {print $2}' "/proc/$(evg_pid)/status") kB"
	case_end
fi

if want_case charger-conn-limit; then
	case_begin charger-conn-limit stay
	r0=$(refused limit-client)
	out=$(world_in 1 $HT many "$GW" 443 20 api.zaptec.com 2>&1)
	# 16 per client address: the charger's own MQTT session is one.
	c_check_eq "charger 1 opening 20 more connections keeps its limit of 16" \
	    "open 15" "$out"
	c_check_eq "the other 5 are refused as limit-client" 5 \
	    "$(delta_refused limit-client "$r0")"
	c_check "its own MQTT session is still up" connected 1
	case_end
fi

# --- the site services under attack --------------------------------------------

dig_rc() {	# dig_rc NS NAME TYPE [SERVER]: the answer's status, or "none"
	in_ns "$1" dig +time=2 +tries=1 "@${4:-$GW}" "$2" "$3" 2>/dev/null |
	    sed -n 's/.*status: \([A-Z]*\),.*/\1/p' | grep . || echo none
}

if want_case dns-outside-allowlist; then
	case_begin dns-outside-allowlist stay
	for q in "www.example.com A" "example.org AAAA" "google.com MX" \
	    "evil.example.com A" "zaptec.com.evil.example A"; do
		c_check_eq "the rogue asks for $q: NXDOMAIN" NXDOMAIN \
		    "$(dig_rc "$ROGUE" $q)"
	done
	c_check_eq "a charger asking for a name outside the allowlist: NXDOMAIN" \
	    NXDOMAIN "$(dig_rc "$(world_ns 1)" www.example.com A)"
	c_check_eq "the cloud names are still steered to the gateway" "$GW" \
	    "$(world_in 1 dig +short "@$GW" "$WORLD_HUB" A)"
	# (grep -i: the gateway's resolver mixes the case of the names it
	# asks for, as a defence against spoofed answers.)
	c_check "the internet's DNS logs the queries that reach it" \
	    grep -qi "query\[A\] $WORLD_HUB from $WORLD_GW_WAN" "$W/log/dnsmasq.log"
	c_check_fails "none of the rogue's names reached the internet's DNS" \
	    grep -Ei "query\[[A-Z]+\] (www\.example\.com|example\.org|google\.com|evil\.example\.com|zaptec\.com\.evil\.example)" \
	    "$W/log/dnsmasq.log"
	c_check_eq "the internet's DNS itself is out of the rogue's reach (no forwarding)" \
	    none "$(dig_rc "$ROGUE" example.com A "$WORLD_DNS_ADDR")"
	case_end
fi

if want_case dhcp-spoof; then
	case_begin dhcp-spoof stay
	ref0=$(sget "d['dhcp']['refusals']")
	leases0=$(sget "d['dhcp']['leases']")
	c_check_fails "an unknown MAC claiming a charger's hostname gets no lease" \
	    in_rogue busybox udhcpc -i eth0 -n -q -t 3 -T 1 -s /bin/true \
	    -x "hostname:$(world_id 1)"
	c_check "the refusal is counted" \
	    test "$(sget "d['dhcp']['refusals']")" -gt "$ref0"
	c_check "evgated's log names the MAC" \
	    grep -q "dhcp: refused $ROGUE_MAC" "$W/log/evgated.log"
	in_log() {
		export_jsonl --type refusal | grep '"kind":"dhcp"' |
		    grep -q "\"mac\":\"$ROGUE_MAC\""
	}
	c_check "the fleet log has the refusal with the MAC" wait_for 10 in_log
	c_check_eq "no lease was added" "$leases0" "$(sget "d['dhcp']['leases']")"
	case_end
fi

if want_case dhcp-exhaustion; then
	case_begin dhcp-exhaustion stay
	MACS=300
	st0=$(status)
	out=$(in_rogue python3 "$T/dhcp_flood.py" eth0 "$(world_mac 1)")
	# The control: the tool does see offers (a clone of a known MAC
	# is offered that charger's reservation; see doc/hardening.md).
	c_check_eq "control: a DISCOVER with charger 1's MAC is offered its reservation" \
	    "1 $(world_ip 1)" "$(json_get "$out" '"%d %s" % (d["offers"], " ".join(d["offered"]))')"
	out=$(in_rogue python3 "$T/dhcp_flood.py" eth0 random "$MACS")
	diag "dhcp flood: $out"
	c_check_eq "$MACS random MACs DISCOVERing and REQUESTing get no OFFER, ACK or NAK" \
	    "0 0 0" "$(json_get "$out" '"%d %d %d" % (d["offers"], d["acks"], d["naks"])')"
	st1=$(status)
	c_check_eq "the leases in use are still the chargers' own" \
	    "$(json_get "$st0" "d['dhcp']['leases']")" "$(json_get "$st1" "d['dhcp']['leases']")"
	c_check_eq "the pool use did not move" \
	    "$(json_get "$st0" "d['dhcp']['pool_use_pct']")" \
	    "$(json_get "$st1" "d['dhcp']['pool_use_pct']")"
	refs=$(( $(json_get "$st1" "d['dhcp']['refusals']") -
	    $(json_get "$st0" "d['dhcp']['refusals']") ))
	diag "dhcp.refusals went up by $refs for $MACS DISCOVERs and $MACS REQUESTs"
	# dnsmasq logs (and so evgated counts) the DISCOVERs only; it drops
	# a REQUEST from an ignored MAC silently (evgated.yaml(5) known_only,
	# doc/site-services.md "Refusals").
	c_check_eq "every DISCOVER was refused and counted, exactly once" \
	    "$MACS" "$refs"
	seq1=$(committed)
	renew_all
	c_check "the known chargers still renew (the gateway ACKs each)" \
	    wait_for 30 all_renewed_since "$seq1"
	c_check_fails "no lease event for any MAC but the chargers'" \
	    bash -c "$EVGATECTL -s $WORLD_GW_SOCK export --dir $WORLD_FLEETLOG_DIR --format jsonl --type lease |
	        grep -v '\"mac\":\"02:42:00:00:00:' | grep ."
	case_end
fi

if want_case ntp-flood; then
	case_begin ntp-flood stay
	t0=$(world_ctl --json time)
	# Paced at 4000 requests/s (about 2.9 Mbit/s on the wire): an
	# unpaced burst saturates the 10 Mbit/s segment itself, and the
	# shaper then drops chargers' packets too, which no gateway can
	# help (doc/hardening.md).  This checks the gateway's limiter.
	in_rogue $NT flood "$GW" 20000 4000 >"$T/ntpflood.out" 2>&1 &
	fl=$!
	sleep 0.3
	bad=""
	for i in $(seq 1 "$N"); do
		r=$(ntp_query "$(world_ns "$i")")
		[ "$(li_stratum "$r")" = "0 2" ] || bad="$bad $(world_id "$i"):$r"
	done
	c_check_eq "during the flood every charger is answered: LI 0, stratum 2" "" "$bad"
	wait "$fl"
	f=$(cat "$T/ntpflood.out")
	diag "flood: $f"
	t1=$(world_ctl --json time)
	tdelta() { echo $(( $(json_get "$t1" "$1") - $(json_get "$t0" "$1") )); }
	arrived=$(tdelta 'd["server"]["requests"]')
	dropped=$(tdelta 'd["server"]["drops"]["rate_limited"]')
	answered=$(json_get "$f" 'd["answered"]')
	c_check "the flooder gets at most a burst answered ($answered of 20000)" \
	    test "$answered" -le 32
	c_check "the flooder is told to slow down (RATE kiss-o'-death)" \
	    test "$(json_get "$f" 'd["kod"]')" -ge 1
	c_check "the gateway drops and counts the flood ($dropped of $arrived rate_limited)" \
	    test "$arrived" -ge 1000 -a "$dropped" -ge $((arrived - 100))
	c_check_eq "the gateway itself stays synchronised" True "$(tget 'd["sync"]')"
	bad=""
	for i in $(seq 1 "$N"); do
		[ "$(fw "$i" 'd["time"]["synced"]')" = True ] || bad="$bad $(world_id "$i")"
	done
	c_check_eq "every charger's clock is still synchronised" "" "$bad"
	case_end
fi

if want_case ntp-malformed; then
	case_begin ntp-malformed stay
	t0=$(world_ctl --json time)
	in_rogue $NT malformed "$GW" >/dev/null
	arrived8() {
		[ "$(tget 'd["server"]["dropped"]')" -ge \
		    $(( $(json_get "$t0" 'd["server"]["dropped"]') + 8 )) ]
	}
	wait_for 10 arrived8
	t1=$(world_ctl --json time)
	tdrop() { echo $(( $(json_get "$t1" "d['server']['drops']['$1']") -
	    $(json_get "$t0" "d['server']['drops']['$1']") )); }
	c_check_eq "malformed requests dropped and counted by reason (short, bad_version, bad_mode, bad_length, auth)" \
	    "1 2 3 1 1" "$(tdrop short) $(tdrop bad_version) $(tdrop bad_mode) $(tdrop bad_length) $(tdrop auth)"
	c_check_eq "the gateway stays synchronised" True "$(tget 'd["sync"]')"
	r=$(ntp_query "$(world_ns 1)")
	c_check_eq "a charger is answered: LI 0, stratum 2" "0 2" "$(li_stratum "$r")"
	case_end
fi

# --- faults ---------------------------------------------------------------------

allconn() {
	local i
	for i in $(seq 1 "$N"); do connected "$i" || return 1; done
}

if want_case dnsmasq-kill9; then
	case_begin dnsmasq-kill9 stay
	dm_pid() { sget "d['dnsmasq']['pid']"; }
	p0=$(dm_pid)
	rs0=$(sget "d['dnsmasq']['restarts']")
	kill -9 "$p0"
	restarted() {
		[ "$(sget "d['dnsmasq']['running']")" = True ] &&
		    [ "$(dm_pid)" != "$p0" ]
	}
	if wait_for 20 restarted; then
		c_ok "dnsmasq restarted after kill -9 (pid $p0 -> $(dm_pid))"
	else
		c_not_ok "dnsmasq restarted after kill -9" "$(tail -5 "$W/log/evgated.log")"
	fi
	c_check_eq "counted as a restart, the exit recorded" \
	    "$((rs0 + 1)) signal 9" \
	    "$(sget "d['dnsmasq']['restarts']") $(sget "d['dnsmasq']['last_exit']")"
	c_check "the leases are intact: every charger active at its address" \
	    leases_active
	seq1=$(committed)
	renew_all
	c_check "every charger renews with the new dnsmasq" \
	    wait_for 30 all_renewed_since "$seq1"
	c_check_eq "the chargers' DNS answers again" "$GW" \
	    "$(world_in 2 dig +short +time=2 "@$GW" "$WORLD_HUB" A)"
	dm_event() { export_jsonl --type dnsmasq | grep -q '"action":"exited"'; }
	c_check "the fleet log records dnsmasq's exit" wait_for 10 dm_event
	case_end
fi

if want_case evgated-kill9; then
	case_begin evgated-kill9 reconnect
	CASE_RESTART=1
	p0=$(evg_pid)
	seq_kill=$(committed)
	kill -9 "$p0"
	CASE_KILL_SEQ=$seq_kill
	back() {
		local p
		p=$(evg_pid) && [ "$p" != "$p0" ] && world_ctl status
	}
	if wait_for 30 back; then
		c_ok "the supervisor restarted evgated after kill -9 (pid $p0 -> $(evg_pid))"
	else
		c_not_ok "the supervisor restarted evgated after kill -9" \
		    "$(tail -5 "$W/log/evgated.log")"
	fi
	c_check_eq "one restart, for signal 9" "$((CASE_RESTARTS0 + 1)) 1" \
	    "$(world_gw_restarts) $(grep -c "killed by signal 9" "$W/log/evgated.log")"
	c_check "the fleet log goes on after the last committed event ($seq_kill)" \
	    test "$(sget "d['log']['next_seq']")" -gt "$seq_kill"
	c_check "the leases are intact" leases_active
	one_dnsmasq() { [ "$(world_gw_dnsmasqs)" = 1 ]; }
	c_check "one dnsmasq in the gateway (the orphan was stopped)" \
	    wait_for 10 one_dnsmasq
	wait_for 120 allconn
	diag "reconnections after the restart (s ago): $(relay_8883_starts | tr '\n' ' ')"
	case_end
fi

if want_case cloud-unreachable; then
	case_begin cloud-unreachable reconnect
	in_ns "$WNS_INET" nft -f - <<EOF
table inet evgate_attack_cloud {
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "eth0" ip daddr $WORLD_HUB_ADDR tcp dport 8883 drop
	}
}
EOF
	at_exit "ip netns exec $WNS_INET nft delete table inet evgate_attack_cloud"
	cut=$(date +%s)
	# The hub's side of every relayed session goes away at once (as in
	# a hub fail-over); new connections get no answer.
	in_ns "$WNS_INET" ss -K -tn state established "( sport = :8883 )" \
	    dst "$WORLD_GW_WAN" >/dev/null
	alldown() {
		local i
		for i in $(seq 1 "$N"); do ! connected "$i" || return 1; done
	}
	c_check "every charger notices the cloud is gone" wait_for 20 alldown
	cf0=$(refused connect-failed)
	# Hold the outage for 22 s: past every charger's first retry
	# (10 + 1 s + up to 5 s of jitter, then the 3 s connect timeout).
	left=$((22 - ($(date +%s) - cut)))
	[ "$left" -gt 0 ] && sleep "$left"
	c_check_eq "meanwhile the hub never saw a charger" 0 \
	    "$(in_ns "$WNS_INET" ss -Htn state established "( sport = :8883 )" dst "$WORLD_GW_WAN" | wc -l)"
	diag "refused connect-failed during the outage: $(( $(refused connect-failed) - cf0 ))"
	in_ns "$WNS_INET" nft delete table inet evgate_attack_cloud
	c_check "every charger comes back by itself" wait_for 120 allconn
	starts=$(relay_8883_starts)
	diag "relay accepted the reconnections (s ago): $(echo "$starts" | tr '\n' ' ')"
	spread=$(awk '{print $2}' <<<"$starts" | sort -n |
	    awk 'NR == 1 {a = $1} {b = $1} END {printf "%.3f", b - a}')
	# Without jitter they would land within milliseconds of each other;
	# with it (two draws of 0-5 s each, summed) six fall within 0.5 s by
	# chance about once in 60 000 runs (within 1 s: once in 2 000).
	c_check "no thundering herd: the $N reconnections spread over $spread s (not all within 0.5 s)" \
	    awk -v s="$spread" 'BEGIN {exit !(s >= 0.5)}'
	c_check_eq "each charger has one live hub session" "$N" \
	    "$(awk '{print $1}' <<<"$starts" | sort -u | wc -l)"
	for i in $(seq 1 "$N"); do
		diag "$(world_id "$i") back-off: $(grep -o 'next attempt in [0-9.]* s' \
		    "$W/log/evcharger-$(world_id "$i").log" | tail -3 |
		    sed 's/next attempt in //' | tr '\n' ' ')"
	done
	case_end
fi

if want_case upstream-dns-down; then
	case_begin upstream-dns-down stay
	c_check "warm-up: a charger's HTTPS request (api.zaptec.com now cached)" api_ok 1
	st0=$(status)
	world_stop dnsmasq
	c_check_eq "the internet's DNS is down" none \
	    "$(dig_rc "$WNS_INET" "$WORLD_HUB" A "$WORLD_DNS_ADDR")"
	c_check "a cached name keeps working: HTTPS to api.zaptec.com" api_ok 2
	c_check "a cached name keeps working: a fresh TLS session to the hub" \
	    tls_ok "$(world_ns 3)" 8883 "$WORLD_HUB"
	rf0=$(refused resolve-failed)
	out=$(curl_c 4 "https://devices.zaptec.com/firmware/test-image.bin" \
	    -r 0-99 -o /dev/null -w '%{http_code}' 2>&1)
	rc=$?
	c_check "a new name fails cleanly: the relay closes, no hang (curl $rc: $out)" \
	    test "$rc" != 0 -a "$rc" != 28
	c_check_eq "... refused as resolve-failed" 1 \
	    "$(delta_refused resolve-failed "$rf0")"
	st1=$(status)
	c_check "the cached answers were used (cache hits went up)" \
	    test "$(json_get "$st1" "d['resolver']['cache_hits']")" -gt \
	    "$(json_get "$st0" "d['resolver']['cache_hits']")"
	c_check_eq "the chargers' own DNS still answers the steered names" "$GW" \
	    "$(world_in 5 dig +short +time=2 "@$GW" "$WORLD_HUB" A)"
	world_dns_start || c_not_ok "the internet's DNS restarted"
	new_ok() {
		[ "$(curl_c 4 "https://devices.zaptec.com/firmware/test-image.bin" \
		    -r 0-99 -o /dev/null -w '%{http_code}' 2>/dev/null)" = 206 ]
	}
	c_check "with the DNS back the new name works" wait_for 60 new_ok
	case_end
fi

if want_case upstream-ntp-gone; then
	case_begin upstream-ntp-gone stay
	in_ns "$WNS_INET" nft -f - <<'EOF'
table inet evgate_attack_ntp {
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "eth0" udp dport 123 drop
	}
}
EOF
	at_exit "ip netns exec $WNS_INET nft delete table inet evgate_attack_ntp"
	r=$(ntp_query "$(world_ns 1)")
	c_check_eq "upstream just gone: still served synchronised (holdover)" "0 2" \
	    "$(li_stratum "$r")"
	unsynced() { [ "$(tget 'd["state"]')" = unsynchronised ]; }
	if wait_for 90 unsynced; then
		c_ok "the holdover ($WORLD_NTP_HOLDOVER) expires: unsynchronised"
	else
		c_not_ok "the holdover expires: unsynchronised" "$(world_ctl time)"
	fi
	r=$(ntp_query "$(world_ns 2)")
	c_check_eq "then every answer is LI 3, stratum 0" "3 0" "$(li_stratum "$r")"
	tev() { export_jsonl --type time | grep -q '"state":"unsynchronised"'; }
	c_check "the fleet log records the time state change" wait_for 10 tev
	in_ns "$WNS_INET" nft delete table inet evgate_attack_ntp
	synced() { [ "$(tget 'd["sync"]')" = True ]; }
	c_check "with the upstream back the gateway synchronises again" \
	    wait_for 90 synced
	r=$(ntp_query "$(world_ns 3)")
	c_check_eq "and serves LI 0, stratum 2 again" "0 2" "$(li_stratum "$r")"
	case_end
fi

if want_case disk-full; then
	case_begin disk-full stay
	logst() { sget "d['log']['$1']"; }
	[ -n "$LOGFS" ] && mountpoint -q "$LOGFS" &&
	    dd if=/dev/zero of="$LOGFS/filler" bs=64k >/dev/null 2>&1
	diag "log file system: $(df -k "$LOGFS" | tail -1)"
	okn=0
	for k in $(seq 1 40); do
		api_ok $(( (k % N) + 1 )) && okn=$((okn + 1))
	done
	c_check_eq "relaying goes on with the log's disk full (40 of 40 requests)" 40 "$okn"
	# More events than the queue holds: refusals are the cheapest.
	in_rogue bash -c "for i in \$(seq 1 150); do
	    echo junk >/dev/tcp/$GW/443; done" 2>/dev/null
	state_is() { [ "$(logst state)" = "$1" ]; }
	c_check "the log's state is disk-full" wait_for 15 state_is disk-full
	served "with the disk full"
	st=$(status)
	dropped=$(json_get "$st" "d['log']['dropped']")
	c_check "events beyond the queue are counted as dropped ($dropped)" \
	    test "$dropped" -gt 0
	c_check_eq "the queue holds at most queue_max" "$QUEUE_MAX" \
	    "$(json_get "$st" "d['log']['queued']")"
	c_check "the status says why" grep -q "No space left on device" \
	    <<<"$(json_get "$st" "d['log']['last_error']")"
	rm -f "$LOGFS/filler"
	c_check "with space again the log writes by itself" wait_for 30 state_is ok
	resumed() {
		export_jsonl --type log | grep '"state":"resumed"' |
		    grep -q '"reason":"disk-full"'
	}
	c_check "a log event records the drop and why" wait_for 15 resumed
	case_end
fi

if want_case bad-reload; then
	case_begin bad-reload stay
	good=$T/evgated.good.yaml
	cp "$WORLD_GW_CONF" "$good"
	c0=$(status)
	# 1: a value of the wrong type, at a place we know.
	line=$(grep -n 'per_client: 16' "$good" | cut -d: -f1)
	col=$(awk -v l="$line" 'NR == l {print index($0, "16")}' "$good")
	sed 's/per_client: 16/per_client: lots/' "$good" >"$WORLD_GW_CONF"
	out=$(world_ctl reload 2>&1)
	rc=$?
	c_check "a reload with a bad value fails" test "$rc" != 0
	c_check "the error names the file, line and column ($line:$col)" \
	    grep -qF "$WORLD_GW_CONF:$line:$col:" <<<"$out"
	diag "reload: $out"
	# 2: YAML that does not parse.
	{ cat "$good"; echo "relay: [ {port: 8883"; } >"$WORLD_GW_CONF"
	out=$(world_ctl reload 2>&1)
	rc=$?
	c_check "a reload with broken YAML fails" test "$rc" != 0
	c_check "that error names file:line:column too" \
	    grep -qE "$WORLD_GW_CONF:[0-9]+:[0-9]+:" <<<"$out"
	diag "reload: $out"
	c1=$(status)
	c_check_eq "both counted as failed reloads; the loaded configuration is the old one" \
	    "$(( $(json_get "$c0" "d['config']['reload_failures']") + 2 )) $(json_get "$c0" "d['config']['loaded']")" \
	    "$(json_get "$c1" "d['config']['reload_failures']") $(json_get "$c1" "d['config']['loaded']")"
	c_check "the old configuration keeps relaying" api_ok "$N"
	rev() {
		export_jsonl --type reload | grep '"ok":false' |
		    grep -qF "$WORLD_GW_CONF:$line:$col:"
	}
	c_check "the fleet log has the failed reload with file:line:column" \
	    wait_for 10 rev
	cp "$good" "$WORLD_GW_CONF"
	c_check "the good file reloads" world_ctl reload
	case_end
fi

# --- the end: nothing broke, nothing is left -------------------------------------

check "no sanitizer or runtime error in evgated's or the chargers' logs" \
    bash -c "! grep -lE 'Sanitizer|runtime error' '$W/log/evgated.log' '$W'/log/evcharger-*.log"
# SIGTERM to the daemon, as systemd stops it: a clean exit, which
# Restart=on-failure leaves be (the supervisor ends too).
restarts=$(world_gw_restarts)
kill -TERM "$(evg_pid)"
sup_gone() { ! world_pid evgated >/dev/null; }
check "evgated stopped by SIGTERM is not restarted (a clean stop)" \
    wait_for 15 sup_gone
check_eq "... the supervisor says so and counted no restart" "1 $restarts" \
    "$(grep -c 'clean stop: not restarting' "$W/log/evgated.log") $(world_gw_restarts)"
if [ "${KEEP:-0}" != 1 ]; then
	world_down
	ip netns del "$ROGUE" 2>/dev/null
	rm -rf "/etc/netns/$ROGUE"
	umount "$LOGFS"
	check_eq "the teardown leaves nothing: namespaces, files, nft tables, mounts" "" \
	    "$(world_leftovers; ip netns list | grep -w "$ROGUE"
	    mountpoint -q "$LOGFS" && echo "mount $LOGFS")"
fi

# --- the summary ----------------------------------------------------------------

summary() {
	local i passed=0 n=${#CASE_NAMES[@]}
	diag ""
	diag "$(printf '%-24s %-6s %17s %12s %8s' case result \
	    "events committed" "events lost" seconds)"
	for ((i = 0; i < n; i++)); do
		diag "$(printf '%-24s %-6s %17s %12s %8s' "${CASE_NAMES[$i]}" \
		    "${CASE_RESULTS[$i]}" "${CASE_COMMITTED[$i]}" \
		    "${CASE_LOST[$i]}" "${CASE_SECS[$i]}")"
		[ "${CASE_RESULTS[$i]}" = pass ] && passed=$((passed + 1))
	done
	diag "cases tried $n, passed $passed, events lost $LOST_TOTAL"
	check_eq "every case passed and no committed event was lost" \
	    "$n $n 0" "$n $passed $LOST_TOTAL"
	# An ATTACK_ONLY that names no case must not read as a pass.
	check "at least one case ran${ONLY:+ (ATTACK_ONLY=$ONLY)}" test "$n" -gt 0
}
summary
