#!/bin/bash
# relay_loopback: the relay end to end on loopback, inside a private
# network namespace so that nothing leaves it and ports cannot clash.
#
# The namespace and the cloud stand-in come from loopback.sh (read its
# header for the addresses); this test adds tinyproxy at 127.0.0.40 and a
# second namespace for the transparent mode.
#
# Clients (curl, openssl s_client, mosquitto_pub/sub) find the cloud names
# at 127.0.0.1 through the namespace's /etc/hosts, as chargers do through
# the site DNS; evgated resolves them itself through dnsmasq.  Real TLS
# with certificates from a test CA, verified by every client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/loopback.sh"

# Transparent mode: clients in a second namespace dial the cloud's own
# address; the gateway namespace redirects that to the transparent port.
CNS=${EVG_PREFIX}-relayc
netns_add "$CNS"
ip link add "${EVG_PREFIX}rc0" netns "$CNS" type veth peer name "${EVG_PREFIX}rg0" netns "$NS"
ip -n "$CNS" addr add 10.99.0.2/24 dev "${EVG_PREFIX}rc0"
ip -n "$NS" addr add 10.99.0.1/24 dev "${EVG_PREFIX}rg0"
ip -n "$CNS" link set "${EVG_PREFIX}rc0" up
ip -n "$NS" link set "${EVG_PREFIX}rg0" up
ip -n "$CNS" route add default via 10.99.0.1
in_ns "$NS" nft -f - <<EOF
table ip evgtest {
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "${EVG_PREFIX}rg0" tcp dport { 443, 8883 } redirect to :15001
	}
}
EOF

# --- evgated ---------------------------------------------------------------
write_conf "$T/evgated.yaml"
check "evgated --check-config accepts the file" in_ns "$NS" "$EVGATED" --check-config -c "$T/evgated.yaml"
start_evgated || { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }
ok "evgated started"
check "systemd readiness sent (READY=1)" wait_for 5 grep -q 'READY=1' "$T/notify.txt"

# --- HTTPS through the relay: curl and openssl s_client ---------------------
out=$(in_ns "$NS" curl -sS --cacert "$CA" "https://$API/hello.txt" 2>&1)
check_eq "curl --cacert through the relay gets the page (cert verified)" \
    "hello from the cloud" "$out"
in_ns "$NS" curl -sS --cacert "$CA" -o "$T/fw.got" "https://$API/fw.bin"
check "a 300 kB download arrives intact" cmp "$T/www/fw.bin" "$T/fw.got"
code=$(in_ns "$NS" curl -sS --cacert "$CA" -r 1000-1999 -o "$T/range.got" \
    -w '%{http_code}' "https://$API/fw.bin")
check_eq "a Range request through the relay gets 206" 206 "$code"
check "the range holds the right bytes" \
    cmp "$T/range.got" <(tail -c +1001 "$T/www/fw.bin" | head -c 1000)
out=$(echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 \
    -servername zapcloud-api.azurewebsites.net -CAfile "$CA" \
    -verify_return_error -verify_hostname zapcloud-api.azurewebsites.net 2>&1)
if grep -q 'Verify return code: 0 (ok)' <<<"$out"; then
	ok "openssl s_client through the relay verifies the real server"
else
	not_ok "openssl s_client through the relay verifies the real server" "$out"
fi
js=$(ctl "$SOCK" --json status)
check_eq "after a refused first address, the next one (IPv6) was used" \
    "1 0" "$(json_get "$js" "d['relay']['relayed'] - 3") $(json_get "$js" "d['relay']['refused']['connect-failed']")"
hits0=$(json_get "$js" "d['resolver']['cache_hits']")
in_ns "$NS" curl -sS -o /dev/null --cacert "$CA" "https://$API/hello.txt"
check_eq "a second connection to a name is answered from the TTL cache" \
    $((hits0 + 1)) "$(json_get "$(status)" "d['resolver']['cache_hits']")"
out=$(echo | in_ns "$NS" timeout 10 openssl s_client -tls1_2 -connect 127.0.0.1:443 \
    -servername "$API" -CAfile "$CA" -verify_return_error 2>&1)
grep -q 'Protocol *: TLSv1.2' <<<"$out" &&
    ok "TLS 1.2 hellos are relayed too" ||
    not_ok "TLS 1.2 hellos are relayed too" "$out"

# --- MQTT over TLS through the relay ----------------------------------------
ip netns exec "$NS" mosquitto_sub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
    -P s3cret -i sub1 -t 'devices/ZAP000123/#' -v >"$T/sub.out" 2>"$T/sub.err" &
SUB_PID=$!
at_exit "kill $SUB_PID"
wait_for 10 bash -c "$EVGATECTL -s $SOCK --json connections | grep -q '\"splice\"'"
check "mosquitto_pub through the relay (TLS, password) is accepted" \
    in_ns "$NS" mosquitto_pub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
    -P s3cret -i pub1 -q 1 -t devices/ZAP000123/messages/events/ -m '{"n":1}'
check "the broker delivered it to a subscriber that is also relayed" \
    wait_for 10 grep -q 'devices/ZAP000123/messages/events/ {"n":1}' "$T/sub.out"
check_fails "a wrong password is refused by the broker, not by us" \
    in_ns "$NS" mosquitto_pub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
    -P wrong -i pub2 -t devices/ZAP000123/x -m y

conns=$(ctl "$SOCK" connections)
if grep -q "$HUB" <<<"$conns" && grep -q splice <<<"$conns"; then
	ok "evgatectl connections lists the live MQTT connection"
else
	not_ok "evgatectl connections lists the live MQTT connection" "$conns"
fi
js=$(ctl "$SOCK" --json connections)
up=$(json_get "$js" "[c['upstream'] for c in d['connections'] if c['sni']=='$HUB'][0]")
check_eq "the upstream is the address our resolver found" "127.0.0.10:8883" "$up"

# --- refusals: never reach an upstream ---------------------------------------
before_q=$(json_get "$(status)" "d['resolver']['queries']")
out=$(echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 \
    -servername devices.zaptec.com -CAfile "$CA" 2>&1)
check_eq "SNI not on the allowlist is refused (counted)" 1 "$(refused not-allowed)"
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 \
    -servername evil.example.com >/dev/null 2>&1
check_eq "another unknown SNI is refused too" 2 "$(refused not-allowed)"
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 \
    -servername "$HUB" >/dev/null 2>&1
check_eq "an allowed name on the wrong port is refused" 1 "$(refused wrong-port)"
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 \
    -noservername >/dev/null 2>&1
check_eq "a hello without SNI is refused" 1 "$(refused no-sni)"
in_ns "$NS" curl -s -m 5 http://127.0.0.1:443/ >/dev/null 2>&1
in_ns "$NS" bash -c 'printf "CONNECT 127.0.0.30:443 HTTP/1.1\r\nHost: x\r\n\r\n" >/dev/tcp/127.0.0.1/443' 2>/dev/null
for _ in $(seq 50); do [ "$(refused not-tls)" = 2 ] && break; sleep 0.1; done
check_eq "plain HTTP and CONNECT requests are refused as not TLS" 2 "$(refused not-tls)"
check_eq "the refused names were never resolved" "$before_q" \
    "$(json_get "$(status)" "d['resolver']['queries']")"
acc0=$(json_get "$(status)" "d['relay']['accepted']")
echo | in_ns "$NS" timeout 10 openssl s_client -connect 127.0.0.1:443 \
    -servername a.loop.test >/dev/null 2>&1
check_eq "a name that resolves to the relay itself is refused (forbidden-address), not looped" \
    "1 1" "$(refused forbidden-address) $(( $(json_get "$(status)" "d['relay']['accepted']") - acc0 ))"
check_eq "the not-allowed server never saw a connection" "$counted0" "$(cat "$T/counter.443")"

# --- two descriptors per idle connection ---------------------------------------
nfd() { ls "/proc/$EVG_PID/fd" | wc -l; }
fd0=$(nfd)
pids=()
for i in $(seq 1 20); do
	ip netns exec "$NS" mosquitto_sub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
	    -P s3cret -i "idle$i" -t "devices/ZAP000123/idle" >/dev/null 2>&1 &
	pids+=($!)
done
at_exit "kill ${pids[*]}"
wait_for 20 bash -c "[ \$($EVGATECTL -s $SOCK --json connections | grep -o '\"splice\"' | wc -l) -ge 21 ]"
sleep 1
fd1=$(nfd)
check_eq "20 idle relayed connections hold 40 descriptors (2 each)" 40 $((fd1 - fd0))
kill "${pids[@]}" 2>/dev/null
wait_for 10 bash -c "[ \$($EVGATECTL -s $SOCK --json connections | grep -o '\"splice\"' | wc -l) -le 1 ]"

# --- transparent mode: nftables redirect, SNI still enforced ------------------
netns_hosts "$CNS" "203.0.113.20 $API" "203.0.113.10 $HUB"
out=$(in_ns "$CNS" curl -sS -m 10 --cacert "$CA" "https://$API/hello.txt" 2>&1)
check_eq "transparent mode: a device dialling the cloud's address is relayed" \
    "hello from the cloud" "$out"
in_ns "$CNS" bash -c "echo | timeout 10 openssl s_client -connect 203.0.113.20:443 -servername evil.example.com" >/dev/null 2>&1
check_eq "transparent mode still enforces the allowlist" 3 "$(refused not-allowed)"
check_eq "transparent mode: the original port picks the route" "0" \
    "$(in_ns "$CNS" bash -c "echo | timeout 10 openssl s_client -connect 203.0.113.10:443 -servername $HUB" >/dev/null 2>&1; echo $(( $(refused wrong-port) - 2 )))"

# --- reload ------------------------------------------------------------------
cp "$T/evgated.yaml" "$T/good.yaml"
cat >"$T/evgated.yaml" <<EOF
relay:
  listen: 127.0.0.1
  routes:
    - {port: 8883, allow: [$HUB]
EOF
out=$(ctl "$SOCK" reload 2>&1); rc=$?
check_fails "a reload with a broken file fails" test "$rc" -eq 0
if grep -qE 'evgated.yaml:[0-9]+:[0-9]+: ' <<<"$out"; then
	ok "the reload error names file:line:column"
else
	not_ok "the reload error names file:line:column" "$out"
fi
check_eq "status shows the failed reload" last-reload-failed \
    "$(json_get "$(status)" "d['config']['state']")"
check "the live MQTT connection survived the failed reload" \
    in_ns "$NS" mosquitto_pub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
    -P s3cret -i pub3 -t devices/ZAP000123/messages/events/ -m after-bad-reload
check "... and still delivers" wait_for 10 grep -q 'after-bad-reload' "$T/sub.out"
out=$(in_ns "$NS" curl -sS --cacert "$CA" "https://$API/hello.txt" 2>&1)
check_eq "new connections work on the old configuration" "hello from the cloud" "$out"

# Bad value, not bad syntax: the message points at the value.
write_conf "$T/evgated.yaml"
sed -i 's/per_client: 200/per_client: 0/' "$T/evgated.yaml"
out=$(ctl "$SOCK" reload 2>&1)
line=$(grep -n 'per_client' "$T/evgated.yaml" | cut -d: -f1)
if grep -qE "evgated.yaml:$line:[0-9]+: relay.limits.per_client" <<<"$out"; then
	ok "a bad value is reported at its line with its path"
else
	not_ok "a bad value is reported at its line with its path" "$out"
fi

# A good reload that drops api.zaptec.com: MQTT carries on.
write_conf "$T/evgated.yaml"
sed -i "s/allow: \[$API, /allow: [/" "$T/evgated.yaml"
check "a good reload is applied" ctl "$SOCK" reload
check_eq "status is ok again" ok "$(json_get "$(status)" "d['config']['state']")"
check "the MQTT connection still allowed carries on after the reload" \
    in_ns "$NS" mosquitto_pub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
    -P s3cret -i pub4 -t devices/ZAP000123/messages/events/ -m after-good-reload
check "... and delivers" wait_for 10 grep -q 'after-good-reload' "$T/sub.out"
check_fails "a name the reload removed is refused" \
    in_ns "$NS" curl -sS -m 5 --cacert "$CA" "https://$API/hello.txt"
kill -HUP "$EVG_PID"
sleep 0.5
check_eq "SIGHUP reloads too" 2 "$(json_get "$(status)" "d['config']['reloads']")"

# --- upstream HTTP CONNECT proxy (tinyproxy) ------------------------------------
if command -v tinyproxy >/dev/null; then
	printf 'nameserver 127.0.0.53\n' >"/etc/netns/$NS/resolv.conf"
	cat >"$T/tinyproxy.conf" <<EOF
Port 3128
Listen 127.0.0.40
Timeout 60
MaxClients 20
LogLevel Connect
LogFile "$T/tinyproxy.log"
PidFile "$T/tinyproxy.pid"
Allow 127.0.0.0/8
ConnectPort 443
ConnectPort 8883
EOF
	# The proxy resolves names itself, with DNS, not with the clients'
	# /etc/hosts (which points the cloud names at the relay).
	printf '127.0.0.1 localhost\n' >"$T/hosts.proxy"
	bg_ns "$NS" "$T/tinyproxy.out" unshare -m sh -c \
	    "mount --bind $T/hosts.proxy /etc/hosts && exec tinyproxy -d -c $T/tinyproxy.conf" >/dev/null
	wait_for 10 port_open "$NS" 127.0.0.40 3128
	write_conf "$T/evgated.yaml"
	sed -i 's|^control:|  upstream_proxy: "http://127.0.0.40:3128"\ncontrol:|' "$T/evgated.yaml"
	check "reload with an upstream proxy" ctl "$SOCK" reload
	out=$(in_ns "$NS" curl -sS -m 10 --cacert "$CA" "https://$API/hello.txt" 2>&1)
	check_eq "HTTPS goes through the site's CONNECT proxy" "hello from the cloud" "$out"
	check "the proxy saw the CONNECT for the allowed name" \
	    grep -q "CONNECT $API:443" "$T/tinyproxy.log"
	write_conf "$T/evgated.yaml"
	ctl "$SOCK" reload >/dev/null
else
	not_ok "tinyproxy is installed (scripts/setup)"
fi

# --- SIGTERM drains ---------------------------------------------------------------
write_conf "$T/evgated.yaml" "" 3s
ctl "$SOCK" reload >/dev/null
kill -TERM "$EVG_PID"
sleep 0.5
check "while draining, the daemon is still running" kill -0 "$EVG_PID"
check_fails "while draining, new connections are not accepted" \
    port_open "$NS" 127.0.0.1 443
check "while draining, the live MQTT connection is kept" \
    bash -c "$EVGATECTL -s $SOCK --json connections | grep -q '\"splice\"'"
wait_for 10 bash -c "! kill -0 $EVG_PID 2>/dev/null"
check_fails "after the drain time, evgated has exited" kill -0 "$EVG_PID"
wait "$EVG_PID"; rc=$?
check_eq "evgated exited with status 0" 0 "$rc"
check "the drain timeout closed the remaining connection" \
    grep -q 'drain time over' "$T/evgated.log"
check "STOPPING=1 was sent to systemd" grep -q 'STOPPING=1' "$T/notify.txt"

# Drain that ends because the last connection closed.
: >"$T/evgated.log"
write_conf "$T/evgated.yaml" "" 30s
start_evgated
ip netns exec "$NS" mosquitto_sub -h "$HUB" -p 8883 --cafile "$CA" -u ZAP000123 \
    -P s3cret -i sub2 -t 'x' >/dev/null 2>&1 &
SUB2=$!
at_exit "kill $SUB2"
wait_for 10 bash -c "$EVGATECTL -s $SOCK --json connections | grep -q '\"splice\"'"
kill -TERM "$EVG_PID"
sleep 0.5
check "draining waits for the live connection" kill -0 "$EVG_PID"
kill "$SUB2"
check "the daemon exits as soon as the last connection is gone" \
    wait_for 5 bash -c "! kill -0 $EVG_PID 2>/dev/null"
check "and says all connections drained" grep -q 'all connections drained' "$T/evgated.log"
