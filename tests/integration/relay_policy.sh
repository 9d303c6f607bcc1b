#!/bin/bash
# relay_policy: the relay trusts nothing it resolves (issue 15).
#
# One namespace: evgated's relay listening on 0.0.0.0, a DNS of the
# test's (dns_tool.py: per-name answers, TTLs, CNAMEs) on 127.0.0.53, and
# a listener on every address a hostile answer could point at, counting
# who connects.  Clients are openssl s_client and curl.
#
# - every forbidden class (loopback, link-local, private, shared, the
#   gateway's own other addresses, unspecified, multicast, broadcast, a
#   v4-mapped address of any of them) is refused 'forbidden-address' and
#   nothing reaches the listener there;
# - the loop (an answer pointing at the relay's own wildcard listener, also
#   v4-mapped) makes no second connection;
# - a private prefix listed in wan.allow_prefixes works, and a forbidden
#   address before an allowed one is skipped;
# - TTLs: 0 is not kept, A and AAAA are kept apart, a CNAME's TTL bounds
#   the chain (queries counted at the DNS).
. "$(dirname "$0")/lib.sh"

NS=${EVG_PREFIX}pol
SOCK=$T/evgated.sock
netns_add "$NS" || { not_ok "namespace"; exit 1; }
# A veth pair inside the namespace holds the "other" addresses (this
# kernel has no dummy interfaces).
ip -n "$NS" link add dmy0 type veth peer name dmy1 &&
    ip -n "$NS" link set dmy0 up && ip -n "$NS" link set dmy1 up
for a in 10.0.0.1/24 10.0.0.5/24 10.9.0.10/16 169.254.169.254/16 \
    100.64.0.9/10; do
	ip -n "$NS" addr add "$a" dev dmy0
done
ip -n "$NS" -6 addr add fd00::5/64 dev dmy0 nodad

# --- the listeners a hostile answer might point at -----------------------
cat >"$T/listen.py" <<'EOF'
import select, socket, sys
out = sys.argv[1]
socks = {}
for spec in sys.argv[2:]:
    addr, port = spec.rsplit(":", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr.strip("[]"), int(port)))
    s.listen(64)
    socks[s] = spec
open(out + ".ready", "w").close()
while True:
    r, _, _ = select.select(list(socks), [], [])
    for s in r:
        c, _ = s.accept()
        with open(out, "a") as f:
            f.write(socks[s] + "\n")
        c.close()
EOF
LISTENERS="127.0.0.1:9443 [::1]:9443 10.0.0.1:9443 10.0.0.5:9443 \
10.9.0.10:9443 169.254.169.254:9443 100.64.0.9:9443 [fd00::5]:9443"
# shellcheck disable=SC2086
bg_ns "$NS" "$T/listen.log" python3 "$T/listen.py" "$T/reached" \
    $LISTENERS >/dev/null
wait_for 10 test -e "$T/reached.ready" ||
    { not_ok "listeners started" "$(cat "$T/listen.log")"; exit 1; }
: >"$T/reached"
reached() { grep -c "^$1\$" "$T/reached"; }

# --- the DNS -------------------------------------------------------------
cat >"$T/zone.json" <<'EOF'
{
 "lo.test":      {"A": ["127.0.0.1"]},
 "v6lo.test":    {"AAAA": ["::1"]},
 "meta.test":    {"A": ["169.254.169.254"]},
 "priv.test":    {"A": ["10.0.0.5"]},
 "ula.test":     {"AAAA": ["fd00::5"]},
 "shared.test":  {"A": ["100.64.0.9"]},
 "self.test":    {"A": ["10.0.0.1"]},
 "mapped.test":  {"AAAA": ["::ffff:127.0.0.1"]},
 "mappriv.test": {"AAAA": ["::ffff:10.0.0.5"]},
 "unspec.test":  {"A": ["0.0.0.0"]},
 "mcast.test":   {"A": ["224.0.0.1"]},
 "bcast.test":   {"A": ["255.255.255.255"]},
 "subbcast.test": {"A": ["10.0.0.255"]},
 "loop.test":    {"A": ["10.0.0.1"]},
 "loopv6.test":  {"AAAA": ["::ffff:10.0.0.1"]},
 "ok.test":      {"A": ["10.9.0.10"]},
 "mix.test":     {"A": ["10.0.0.5", "10.9.0.10"]},
 "ttl0.test":    {"A": ["10.9.0.10"], "ttl": 0},
 "mixttl.test":  {"A": ["10.9.0.10"], "ttl_a": 3600,
                  "AAAA": ["::ffff:10.9.0.10"], "ttl_aaaa": 0},
 "cname.test":   {"cname": "edge.test", "cname_ttl": 2,
                  "A": ["10.9.0.10"], "ttl": 3000}
}
EOF
: >"$T/dns.log"
bg_ns "$NS" "$T/dns.out" python3 "$top/tests/integration/dns_tool.py" \
    127.0.0.53 53 "$T/zone.json" "$T/dns.log" >/dev/null
dns_up() { in_ns "$NS" dig +time=1 +tries=1 @127.0.0.53 ok.test A >/dev/null; }
wait_for 10 dns_up || { not_ok "the test's DNS started" "$(cat "$T/dns.out")"; exit 1; }
: >"$T/dns.log"
asked() { grep -ic "^$1 $2\$" "$T/dns.log"; }

# --- evgated --------------------------------------------------------------
cat >"$T/evgated.yaml" <<EOF
site: {name: "policy test"}
wan:
  resolvers: [127.0.0.53]
  resolver_timeout: 1s
  # the one private prefix this rig's "cloud" may be on
  allow_prefixes: [10.9.0.0/16]
relay:
  listen: [0.0.0.0]
  routes:
    - {port: 443, upstream_port: 9443, allow: ["*.test"]}
    - {port: 8443, upstream_port: 443, allow: [loop.test, loopv6.test]}
  timeouts: {hello: 2s, connect: 2s}
control: {socket: $SOCK}
EOF
bg_ns "$NS" "$T/evgated.log" "$EVGATED" -c "$T/evgated.yaml" -l debug \
    >/dev/null
wait_for 10 port_open "$NS" 127.0.0.1 443 ||
    { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }
ok "evgated started (relay on 0.0.0.0, allow_prefixes 10.9.0.0/16)"

status() { ctl "$SOCK" -j status; }
refused() { json_get "$(status)" "d['relay']['refused']['$1']"; }
hello() {	# hello NAME [PORT]: a TLS hello with SNI NAME through the relay
	echo | in_ns "$NS" timeout 5 openssl s_client -connect \
	    "127.0.0.1:${2:-443}" -servername "$1" >/dev/null 2>&1
}

# --- every forbidden class ------------------------------------------------
n=0
for name in lo v6lo meta priv ula shared self mapped mappriv unspec mcast \
    bcast subbcast; do
	hello "$name.test"
	n=$((n + 1))
	check_eq "$name.test: refused as forbidden-address" "$n" \
	    "$(refused forbidden-address)"
done
check_eq "nothing reached any listener behind a forbidden address" "" \
    "$(cat "$T/reached")"
check_eq "none was refused as connect-failed (never tried)" 0 \
    "$(refused connect-failed)"
pol=$(status)
check_eq "the policy counted private refusals (priv, self, mapped priv)" 3 \
    "$(json_get "$pol" "d['upstream_policy']['refused']['private']")"
check_eq "the policy counted loopback refusals (lo, ::1, mapped)" 3 \
    "$(json_get "$pol" "d['upstream_policy']['refused']['loopback']")"
check "the refusal event names the SNI and reason" \
    grep -q '"reason":"forbidden-address".*"sni":"meta.test"' "$T/evgated.log"
check_eq "broadcast addresses (limited, and a subnet's) are refused as such" 2 \
    "$(json_get "$pol" "d['upstream_policy']['refused']['broadcast']")"

# --- the loop: no second connection -------------------------------------
acc0=$(json_get "$(status)" "d['relay']['accepted']")
hello loop.test 8443
hello loopv6.test 8443
check_eq "the loop (own wildcard listener, also v4-mapped): 2 refused, 2 accepted in all" \
    "$((n + 2)) 2" \
    "$(refused forbidden-address) $(( $(json_get "$(status)" "d['relay']['accepted']") - acc0 ))"
check_eq "the policy counted them as own-listener" 2 \
    "$(json_get "$(status)" "d['upstream_policy']['refused']['own-listener']")"

# --- an allowed private prefix ---------------------------------------------
hello ok.test
check_eq "ok.test (10.9.0.10, in allow_prefixes) reached its listener" 1 \
    "$(reached 10.9.0.10:9443)"
hello mix.test
check_eq "mix.test: the forbidden 10.0.0.5 skipped, 10.9.0.10 reached" \
    "2 0" "$(reached 10.9.0.10:9443) $(reached 10.0.0.5:9443)"
in_ns "$NS" curl -s -m 5 --resolve ok.test:443:127.0.0.1 \
    https://ok.test/ >/dev/null 2>&1
check_eq "curl's hello is relayed there too" 3 "$(reached 10.9.0.10:9443)"

# --- TTLs ---------------------------------------------------------------------
hello ttl0.test
hello ttl0.test
check_eq "TTL 0: the A is asked for each connection" 2 "$(asked ttl0.test A)"
hello mixttl.test
hello mixttl.test
check_eq "A 3600 s kept, AAAA 0 s not: A asked once, AAAA twice" "1 2" \
    "$(asked mixttl.test A) $(asked mixttl.test AAAA)"
hello cname.test
hello cname.test
check_eq "CNAME 2 s + A 3000 s: asked once within 2 s" 1 \
    "$(asked cname.test A)"
sleep 2.5
hello cname.test
check_eq "... and again after the CNAME's 2 s" 2 "$(asked cname.test A)"
check_eq "the relay reached 10.9.0.10 for each of those connections" 10 \
    "$(reached 10.9.0.10:9443)"
