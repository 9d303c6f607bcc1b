#!/bin/bash
# attack_relay: the relay under open-proxy attempts and resource attacks,
# each case checking that the attack is refused, counted, never reaches an
# upstream, and that a well-behaved charger is served all the while.
# Topology: loopback.sh (one private namespace).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/loopback.sh"

HTPY=$(cd "$(dirname "$0")" && pwd)/hello_tool.py
ht() { in_ns "$NS" python3 "$HTPY" "$@"; }
write_conf "$T/evgated.yaml"
# Tighter limits than production so the attacks hit them quickly.
sed -i 's/per_client: 200, total: 1000/per_client: 16, total: 5000/; s/hello: 2s/hello: 3s/' "$T/evgated.yaml"
start_evgated || { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }

# The well-behaved charger: a live MQTT session and fresh HTTPS requests.
ip netns exec "$NS" mosquitto_sub -h "$HUB" -p 8883 --cafile "$CA" \
    -u ZAP000123 -P s3cret -i good -t 'devices/ZAP000123/#' -v \
    >"$T/good.out" 2>&1 &
at_exit "kill $!"
good_n=0
well_behaved() {	# well_behaved "while ..."
	good_n=$((good_n + 1))
	local out
	out=$(in_ns "$NS" curl -sS -m 10 --cacert "$CA" "https://$API/hello.txt" 2>&1)
	in_ns "$NS" mosquitto_pub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
	    -P s3cret -i goodpub -q 1 -t devices/ZAP000123/messages/events/ \
	    -m "good-$good_n" >/dev/null 2>&1
	if [ "$out" = "hello from the cloud" ] &&
	    wait_for 10 grep -q "good-$good_n\$" "$T/good.out"; then
		ok "a well-behaved charger is served $1"
	else
		not_ok "a well-behaved charger is served $1" "curl: $out" \
		    "$(tail -3 "$T/good.out")"
	fi
}
wait_for 10 bash -c "$EVGATECTL -s $SOCK --json connections | grep -q '\"splice\"'"
well_behaved "before the attacks"
q0=$(json_get "$(status)" "d['resolver']['queries']")
c0=$(cat "$T/counter.443")

# --- open-proxy attempts --------------------------------------------------
in_ns "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/443; printf "CONNECT 127.0.0.30:443 HTTP/1.1\r\nHost: 127.0.0.30\r\n\r\n" >&3; timeout 5 cat <&3' >/dev/null 2>&1
in_ns "$NS" curl -s -m 5 -x http://127.0.0.1:8883 http://127.0.0.30/ >/dev/null 2>&1
in_ns "$NS" curl -s -m 5 http://127.0.0.1:443/ >/dev/null 2>&1
check_eq "HTTP CONNECT, proxy-style and plain HTTP requests are refused" 3 "$(refused not-tls)"
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 -servername devices.zaptec.com >/dev/null 2>&1
check_eq "an SNI that is not allowed is refused" 1 "$(refused not-allowed)"
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:8883 -servername "$API" >/dev/null 2>&1
check_eq "an allowed name on the wrong port is refused" 1 "$(refused wrong-port)"
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 -noservername >/dev/null 2>&1
check_eq "a hello without SNI is refused" 1 "$(refused no-sni)"
check_eq "an IP-literal SNI is closed" closed "$(ht ipsni 127.0.0.1 443 2>&1)"
check_eq "... and counted as bad-sni" 1 "$(refused bad-sni)"
check_eq "an oversize hello is closed" closed "$(ht oversize 127.0.0.1 443 2>&1)"
check_eq "... and counted as too-big" 1 "$(refused too-big)"
check_eq "a malformed hello is closed" closed "$(ht garbage 127.0.0.1 443 2>&1)"
check_eq "... and counted as malformed" 1 "$(refused malformed)"
check_eq "none of these refused connections was resolved" \
    "$q0" "$(json_get "$(status)" "d['resolver']['queries']")"
check_eq "a hello split over 3 records and many segments is relayed whole" \
    server-hello "$(ht split 127.0.0.1 443 "$API" 2>&1)"

# --- slowloris: a hello dribbled a byte per second ------------------------
ht dribble 127.0.0.1 443 "$API" 8 >"$T/dribble.out" 2>&1 &
DRIB=$!
well_behaved "while a hello is being dribbled"
wait "$DRIB"
check_eq "a dribbled hello is cut off at the hello deadline" closed "$(cat "$T/dribble.out")"
check_eq "... and counted as hello-timeout" 1 "$(refused hello-timeout)"

# --- thousands of half-open connections from many addresses ---------------
N=3000
coproc HALF { ht halfopen 127.0.0.1 443 $N 127.1 2>&1; }
at_exit "kill $HALF_PID"
read -r -t 60 line <&"${HALF[0]}"
check_eq "$N half-open connections from $N addresses are accepted" "holding $N" "$line"
check_eq "they are all waiting for a hello" $N \
    "$(json_get "$(status)" "d['relay']['by_state']['peek']")"
well_behaved "while $N half-open connections are held"
sleep 4	# past the hello timeout
check_eq "the hello timeout frees them all" 0 \
    "$(json_get "$(status)" "d['relay']['by_state']['peek']")"
exec {HALF[1]}>&-
read -r -t 30 line <&"${HALF[0]}"
check_eq "the attacker sees every one of them closed" "closed $N" "$line"
check_eq "... counted as hello-timeout" $((N + 1)) "$(refused hello-timeout)"

# --- one client over its connection limit ---------------------------------
out=$(ht many 127.0.0.1 443 20 "$API" 2>&1)
check_eq "a client opening 20 connections keeps its limit of 16" "open 15" "$out"
# (16 minus the well-behaved charger's live MQTT session from the same
# address: the limit is per client address, as the charger's would be.)
check_eq "... the rest are refused as limit-client" 5 "$(refused limit-client)"
well_behaved "after a client hit its limit"

# --- nothing reached an upstream ------------------------------------------
check_eq "no relayed connection ended up at the forbidden server" 0 \
    "$(grep -c 'splice' <(ctl "$SOCK" connections | grep devices.zaptec.com))"
check_eq "no refused connection reached the forbidden server" "$c0" "$(cat "$T/counter.443")"
check "evgated is still running" kill -0 "$EVG_PID"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$EVG_PID/status")
diag "evgated RSS after the attacks: $rss kB"
