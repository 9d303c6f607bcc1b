# tests/integration/loopback.sh: a cloud stand-in and evgated on loopback in
# a private namespace, for the relay tests.  Source it after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/loopback.sh"
#   write_conf "$T/evgated.yaml"; start_evgated
#
#   127.0.0.1      evgated (relay listens on 443 and 8883, transparent 15001;
#                  also on 10.99.0.1, where relay_loopback adds a client)
#   127.0.0.53     dnsmasq: the "WAN" resolver for the cloud names
#   127.0.0.10     mosquitto, TLS on 8883 (zapcloud.azure-devices.net)
#   127.0.0.20     nginx, TLS on 443 and [::1]:443 (api.zaptec.com,
#                  zapcloud-api.azurewebsites.net: its first address,
#                  127.0.0.99, refuses connections)
#   127.0.0.30     a TCP listener that counts connections (devices.zaptec.com:
#                  resolvable, but not allowed: it must never see one)
#   a.loop.test    resolves to 127.0.0.1, the relay itself
#
# Clients find the cloud names at 127.0.0.1 through the namespace's
# /etc/hosts, as chargers do through the site DNS; evgated resolves them
# itself through dnsmasq.  Real TLS with certificates from a test CA.

NS=${EVG_PREFIX}-relay
HUB=zapcloud.azure-devices.net
API=api.zaptec.com

netns_add "$NS" || { not_ok "create namespace"; exit 1; }
for a in 10 20 30 40 53; do ip -n "$NS" addr add "127.0.0.$a/8" dev lo 2>/dev/null; done
netns_hosts "$NS" "127.0.0.1 $HUB $API devices.zaptec.com evil.example.com"

# --- the cloud stand-in ----------------------------------------------------
make_ca "$T/pki" && make_cert "$T/pki" "$HUB" && make_cert "$T/pki" "$API" \
    zapcloud-api.azurewebsites.net || { not_ok "test CA"; exit 1; }
chmod 644 "$T"/pki/*.key
CA=$T/pki/ca.pem

cat >"$T/dnsmasq.conf" <<EOF
no-resolv
no-hosts
listen-address=127.0.0.53
bind-interfaces
# The cloud's names have a TTL, as real ones do (dnsmasq's default is 0,
# which the gateway honours: "do not keep").
local-ttl=60
port=53
user=root
address=/$HUB/127.0.0.10
address=/$API/127.0.0.20
# The first address refuses connections; the second (IPv6) is nginx.
address=/zapcloud-api.azurewebsites.net/127.0.0.99
address=/zapcloud-api.azurewebsites.net/::1
address=/devices.zaptec.com/127.0.0.30
address=/evil.example.com/127.0.0.30
address=/loop.test/127.0.0.1
address=/#/
EOF
bg_ns "$NS" "$T/dnsmasq.log" dnsmasq -k --conf-file="$T/dnsmasq.conf" --pid-file="$T/dnsmasq.pid" >/dev/null

mosquitto_passwd -c -b "$T/mosq.pw" ZAP000123 s3cret >/dev/null 2>&1
cat >"$T/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous false
password_file $T/mosq.pw
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
listener 8883 127.0.0.10
cafile $CA
certfile $T/pki/$HUB.pem
keyfile $T/pki/$HUB.key
tls_version tlsv1.2
EOF
chmod 644 "$T/mosq.pw"
bg_ns "$NS" "$T/mosquitto.log" mosquitto -c "$T/mosquitto.conf" >/dev/null

mkdir -p "$T/www" "$T/nginx"
head -c 300000 /dev/urandom >"$T/www/fw.bin"
echo "hello from the cloud" >"$T/www/hello.txt"
cat >"$T/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 256; }
http {
	access_log $T/nginx/access.log;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	server {
		listen 127.0.0.20:443 ssl;
		listen [::1]:443 ssl;
		server_name $API zapcloud-api.azurewebsites.net;
		ssl_certificate $T/pki/$API.pem;
		ssl_certificate_key $T/pki/$API.key;
		root $T/www;
	}
}
EOF
bg_ns "$NS" "$T/nginx.out" nginx -c "$T/nginx.conf" >/dev/null

# A listener that must never be contacted: it counts accepted connections.
cat >"$T/counter.py" <<'EOF'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.30", int(sys.argv[2]))); s.listen(64)
n = 0
while True:
    c, _ = s.accept(); n += 1
    open(sys.argv[1], "w").write(str(n)); c.close()
EOF
echo 0 >"$T/counter.443"
bg_ns "$NS" "$T/counter.log" python3 "$T/counter.py" "$T/counter.443" 443 >/dev/null

wait_for 10 port_open "$NS" 127.0.0.10 8883 &&
wait_for 10 port_open "$NS" 127.0.0.20 443 &&
wait_for 10 port_open "$NS" 127.0.0.30 443 ||
    { not_ok "cloud stand-in started" "$(cat "$T"/*.log "$T"/nginx/error.log 2>/dev/null)"; exit 1; }
sleep 0.2
counted0=$(cat "$T/counter.443")	# our own probe above
ok "cloud stand-in started (dnsmasq, mosquitto, nginx)"

# --- evgated ---------------------------------------------------------------
SOCK=$T/evgated.sock
write_conf() {	# write_conf FILE [extra 443 allow names]
	cat >"$1" <<EOF
site: {name: "loopback test"}
wan:
  resolvers: [127.0.0.53]
  resolver_timeout: 1s
  # The "cloud" runs on loopback: a test rig's allowed prefixes.
  allow_prefixes: [127.0.0.0/8, "::1/128"]
relay:
  listen: [127.0.0.1, 10.99.0.1]
  routes:
    - {port: 8883, allow: [$HUB]}
    - {port: 443, allow: [$API, zapcloud-api.azurewebsites.net, '*.loop.test'${2:-}]}
  limits: {per_client: 200, total: 1000}
  timeouts: {hello: 2s, connect: 3s, idle: 1h, drain: ${3:-20s}}
  transparent: {port: 15001}
control: {socket: $SOCK}
EOF
}

# systemd readiness: a datagram socket standing in for systemd's.
cat >"$T/notify.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True:
    m = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f: f.write(m.replace("\n", " ") + "\n")
EOF
bg_ns "$NS" "$T/notify.log" python3 "$T/notify.py" "$T/notify.sock" "$T/notify.txt" >/dev/null
wait_for 5 test -S "$T/notify.sock"

start_evgated() {
	ip netns exec "$NS" env NOTIFY_SOCKET="$T/notify.sock" \
	    "$EVGATED" -c "$T/evgated.yaml" -l debug >>"$T/evgated.log" 2>&1 &
	EVG_PID=$!
	at_exit "kill -9 $EVG_PID"
	wait_for 10 test -S "$SOCK"
}

status() { ctl "$SOCK" --json status; }
refused() { json_get "$(status)" "d['relay']['refused']['$1']"; }

