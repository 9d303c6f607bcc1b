# tests/bench/soak_lib.sh: the soak -- evgated for a long time under a car
# park of chargers that come and go -- shared by the benchmark piece
# (scripts/bench.d/soak.sh: an hour and more, the -O2 build) and its CI
# version (tests/integration/soak.sh: 2 minutes, the ASan build with leak
# checking).  bash; source it after the caller's own library.
#
# The caller defines
#   soak_netns_add NAME        a namespace with lo up, removed at exit
#   soak_bg NS LOG cmd...      start in the background, killed at exit;
#                              the pid in SOAK_BG_PID
#   soak_say TEXT              progress, on stderr
# and sets
#   SOAK_EVGATED, SOAK_EVGATECTL, SOAK_HOOK   the build's programs
#   SOAK_BIN                   where bench_sink and bench_soak are
#   SOAK_DIR                   scratch directory (kept by the caller)
#   SOAK_NS                    the namespace's name
#   SOAK_SECONDS               how long the chargers come and go
#   SOAK_CHARGERS              how many (default 1000)
#   SOAK_SAMPLE                seconds between samples (default 30)
#   SOAK_RELOAD                seconds between reloads (default 180)
#   SOAK_DNSMASQ_KILL          seconds between kill -9 of evgated's
#                              dnsmasq (default 420)
#   SOAK_HOLD, SOAK_PAUSE, SOAK_KEEPALIVE   a charger's mean hold, its
#                              longest pause between connections, its
#                              keepalive (defaults 120, 20, 30 s)
#
# The world, all in SOAK_NS:
#   127.0.0.2          evgated's relay (8883 MQTT, 443 HTTPS); also on
#                      plc0 10.42.0.1, where its dnsmasq serves DHCP/DNS
#   127.0.0.53         tests/integration/dns_tool.py, the WAN resolver:
#                      zapcloud.azure-devices.net A 127.0.0.10 for 5 s;
#                      api.zaptec.com CNAME (3 s) to an A 127.0.0.11 (7 s)
#   127.0.0.10:8883,   bench_sink, "the cloud"
#   127.0.0.11:443
#   127.1.x.y          the chargers (bench_soak), one address each
#
# soak_run writes, in SOAK_DIR:
#   samples.csv        one line per sample: t_s, rss_kb, anon_kb (RssAnon:
#                      heap and stacks; the rest of RSS is code and data
#                      of the libraries, paged in as paths are first
#                      taken), fds, cpu_s, active,
#                      splice, pipes_in_use, pipes_pooled, pipes_big,
#                      cache, accepted, relayed, refused, reloads,
#                      dnsmasq_restarts, checkpoints, log_seq
#   load.out           bench_soak's lines
#   summary            key=value: what the caller checks or prints
#   evgated.log        evgated's own log (with ASan's report, if any)

: "${SOAK_CHARGERS:=1000}" "${SOAK_SAMPLE:=30}" "${SOAK_RELOAD:=180}"
: "${SOAK_DNSMASQ_KILL:=420}" "${SOAK_HOLD:=120}" "${SOAK_PAUSE:=20}"
: "${SOAK_KEEPALIVE:=30}"
SOAK_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SOAK_SOCK=$SOAK_DIR/evgated.sock
SOAK_CSV_HEAD="t_s,rss_kb,anon_kb,fds,cpu_s,active,splice,pipes_in_use,pipes_pooled,pipes_big,cache,accepted,relayed,refused,reloads,dnsmasq_restarts,checkpoints,log_seq"

soak_in() { ip netns exec "$SOAK_NS" "$@"; }

# soak_conf FILE EXTRA: evgated.yaml; EXTRA is one more allowed name on
# 443 (the two files the reloads alternate between differ in it).
soak_conf() {
	cat >"$1" <<EOF
site: {name: "soak"}
wan:
  resolvers: [127.0.0.53]
  resolver_timeout: 2s
  # the cloud runs on loopback: the soak's allowed prefix
  allow_prefixes: [127.0.0.0/8]
lan:
  interface: plc0
  address: 10.42.0.1/24
dhcp:
  range: 10.42.0.10-10.42.0.250
  lease_time: 1h
  known_only: false
  chargers: []
dnsmasq:
  state_dir: $SOAK_DIR/state
  run_dir: $SOAK_DIR/run
  hook: $SOAK_DIR/bin/evgate-dhcp-hook
relay:
  listen: [127.0.0.2, 10.42.0.1]
  routes:
    - {port: 8883, allow: [zapcloud.azure-devices.net]}
    - {port: 443, allow: [api.zaptec.com$2]}
  limits: {per_client: 16, total: 20000}
  timeouts: {hello: 10s, connect: 10s, idle: 10m, drain: 2s}
log:
  dir: $SOAK_DIR/log
  checkpoint_interval: 10s
control: {socket: $SOAK_SOCK}
EOF
}

soak_status() { "$SOAK_EVGATECTL" -s "$SOAK_SOCK" --json status 2>/dev/null; }

# soak_world_up: namespace, LAN interface, resolver, cloud; 0 or 1.
soak_world_up() {
	soak_netns_add "$SOAK_NS" || return 1
	soak_in sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
	    net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=4096
	# The LAN dnsmasq serves: a veth pair inside the namespace (this
	# kernel may have no dummy interfaces; the test world uses veth).
	ip -n "$SOAK_NS" link add plc0 type veth peer name plc0-peer &&
	ip -n "$SOAK_NS" addr add 10.42.0.1/24 dev plc0 &&
	ip -n "$SOAK_NS" link set plc0-peer up &&
	ip -n "$SOAK_NS" link set plc0 up || return 1
	mkdir -p "$SOAK_DIR/state" "$SOAK_DIR/run" "$SOAK_DIR/bin" \
	    "$SOAK_DIR/log" || return 1
	# dnsmasq runs the hook as its own user: a copy it can reach.
	install -m 0755 "$SOAK_HOOK" "$SOAK_DIR/bin/" || return 1
	chmod 755 "$SOAK_DIR"
	cat >"$SOAK_DIR/zone.json" <<EOF
{"zapcloud.azure-devices.net": {"A": ["127.0.0.10"], "ttl": 5},
 "api.zaptec.com": {"cname": "edge.zaptec.test", "cname_ttl": 3,
                    "A": ["127.0.0.11"], "ttl": 7},
 "devices.zaptec.com": {"A": ["127.0.0.11"], "ttl": 5}}
EOF
	soak_bg "$SOAK_NS" "$SOAK_DIR/dns.out" python3 \
	    "$SOAK_TOP/tests/integration/dns_tool.py" 127.0.0.53 53 \
	    "$SOAK_DIR/zone.json" /dev/null
	soak_bg "$SOAK_NS" "$SOAK_DIR/sink.out" "$SOAK_BIN/bench_sink" \
	    -l 127.0.0.10:8883 -l 127.0.0.11:443
	SOAK_SINK_PID=$SOAK_BG_PID
	soak_wait 10 soak_in bash -c 'exec 3<>/dev/tcp/127.0.0.11/443' ||
	    { soak_say "the sink did not start"; return 1; }
	soak_conf "$SOAK_DIR/a.yaml" ""
	soak_conf "$SOAK_DIR/b.yaml" ", devices.zaptec.com"
	cp "$SOAK_DIR/a.yaml" "$SOAK_DIR/evgated.yaml"
}

soak_wait() {		# soak_wait SECONDS command...
	local end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# soak_start_evgated: evgated in the namespace (ip netns exec execs it:
# the background job is evgated itself); its pid in SOAK_EVG_PID.
soak_start_evgated() {
	soak_bg "$SOAK_NS" "$SOAK_DIR/evgated.log" "$SOAK_EVGATED" \
	    -c "$SOAK_DIR/evgated.yaml" -l warn
	SOAK_EVG_PID=$SOAK_BG_PID
	soak_wait 60 soak_status || { soak_say "evgated did not start:" \
	    "$(tail -5 "$SOAK_DIR/evgated.log")"; return 1; }
}

soak_dnsmasq_pid() {
	soak_status | python3 -c 'import json, sys
print(json.load(sys.stdin)["dnsmasq"].get("pid") or "")'
}
# (a function: soak_wait runs its command again and again; a "$(...)"
# in its arguments would be read once, before the wait)
soak_dnsmasq_up() { [ -n "$(soak_dnsmasq_pid)" ]; }

# One line of samples.csv.
soak_sample() {
	local t=$1 s rss anon fds cpu hz
	hz=$(getconf CLK_TCK)
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SOAK_EVG_PID/status" 2>/dev/null)
	anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$SOAK_EVG_PID/status" 2>/dev/null)
	fds=$(ls "/proc/$SOAK_EVG_PID/fd" 2>/dev/null | wc -l)
	cpu=$(sed 's/.*) //' "/proc/$SOAK_EVG_PID/stat" 2>/dev/null |
	    awk -v hz="$hz" '{printf "%.2f", ($12 + $13) / hz}')
	s=$(soak_status) || return 1
	python3 -c '
import json, sys
d = json.loads(sys.argv[1]); r = d["relay"]
print(",".join(str(x) for x in (sys.argv[2], sys.argv[3], sys.argv[6],
    sys.argv[4], sys.argv[5], r["active"], r["by_state"]["splice"], r["pipes_in_use"],
    r["pipes_pooled"], r.get("pipes_big", 0), d["resolver"]["cached"],
    r["accepted"], r["relayed"], sum(r["refused"].values()),
    d["config"]["reloads"], d["dnsmasq"]["restarts"],
    d["checkpoint"]["saves"], d["log"]["next_seq"])))' \
	    "$s" "$t" "${rss:-0}" "$fds" "${cpu:-0}" "${anon:-0}"
}

soak_reload() {		# alternate a.yaml and b.yaml, then SIGHUP
	SOAK_RELOADS=$((SOAK_RELOADS + 1))
	if [ $((SOAK_RELOADS % 2)) = 1 ]; then
		cp "$SOAK_DIR/b.yaml" "$SOAK_DIR/evgated.yaml.new"
	else
		cp "$SOAK_DIR/a.yaml" "$SOAK_DIR/evgated.yaml.new"
	fi
	mv "$SOAK_DIR/evgated.yaml.new" "$SOAK_DIR/evgated.yaml"
	kill -HUP "$SOAK_EVG_PID"
}

soak_kill_dnsmasq() {	# the supervised child, by the pid evgated reports
	local pid
	pid=$(soak_dnsmasq_pid)
	[ -n "$pid" ] || return 1
	kill -9 "$pid" && SOAK_KILLS=$((SOAK_KILLS + 1))
}

# soak_fd_list: evgated's descriptors, "fd target" a line (what a
# descriptor left over is, when the counts differ).
soak_fd_list() {
	local f
	for f in /proc/"$SOAK_EVG_PID"/fd/*; do
		echo "${f##*/} $(readlink "$f" 2>/dev/null)"
	done | sort -n
}

# soak_fd_count LIST: the descriptors in a soak_fd_list, less the fleet
# log's current segment: the log opens it at its first event and keeps it
# open (a second segment open would still count: that one is a leak).
soak_fd_count() {
	local n
	n=$(wc -l <"$1")
	grep -q '/events-[^/]*\.jsonl$' "$1" && n=$((n - 1))
	echo "$n"
}

# soak_run: the whole soak with evgated already started.  0, or 1 when
# the load could not run.
soak_run() {
	local t0 now next_s next_r next_k load_pid i fds0 rc
	SOAK_RELOADS=0 SOAK_KILLS=0
	: >"$SOAK_DIR/summary"
	echo "$SOAK_CSV_HEAD" >"$SOAK_DIR/samples.csv"
	# dnsmasq up before the baseline: its lease socket is evgated's too.
	soak_wait 30 soak_dnsmasq_up
	soak_fd_list >"$SOAK_DIR/fds.before"
	echo "fds_before=$(soak_fd_count "$SOAK_DIR/fds.before")" >>"$SOAK_DIR/summary"
	echo "rss_before_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$SOAK_EVG_PID/status")" >>"$SOAK_DIR/summary"
	echo "anon_before_kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$SOAK_EVG_PID/status")" >>"$SOAK_DIR/summary"
	soak_bg "$SOAK_NS" "$SOAK_DIR/load.out" "$SOAK_BIN/bench_soak" \
	    -c 127.0.0.2:8883 -C 127.0.0.2:443 -n "$SOAK_CHARGERS" \
	    -b 127.1.0.1-127.1.$((SOAK_CHARGERS / 250)).250 \
	    -d "$SOAK_SECONDS" -k "$SOAK_KEEPALIVE" -m "$SOAK_HOLD" \
	    -p "$SOAK_PAUSE" -f 0.1 -h 0.05 -i "$SOAK_SAMPLE" -T 30
	load_pid=$SOAK_BG_PID
	t0=$(date +%s)
	next_s=$t0 next_r=$((t0 + SOAK_RELOAD)) next_k=$((t0 + SOAK_DNSMASQ_KILL))
	while kill -0 "$load_pid" 2>/dev/null; do
		now=$(date +%s)
		# Samples while the chargers come and go; the one after they
		# have gone is taken below.
		if [ "$now" -ge "$next_s" ] && [ "$now" -lt $((t0 + SOAK_SECONDS)) ]; then
			soak_sample $((now - t0)) >>"$SOAK_DIR/samples.csv"
			next_s=$((next_s + SOAK_SAMPLE))
		fi
		if [ "$now" -ge "$next_r" ]; then
			soak_reload
			next_r=$((next_r + SOAK_RELOAD))
		fi
		if [ "$now" -ge "$next_k" ]; then
			soak_kill_dnsmasq || soak_say "no dnsmasq to kill"
			next_k=$((next_k + SOAK_DNSMASQ_KILL))
		fi
		sleep 1
	done
	wait "$load_pid"
	rc=$?
	# A kill near the end may have dnsmasq in evgated's back-off (it
	# doubles while dnsmasq dies young, to 60 s): the end state is the
	# one after evgated started it again.
	soak_wait 70 soak_dnsmasq_up
	# Every charger has gone: what is left is leaked.
	for i in $(seq 50); do
		[ "$(soak_status | python3 -c 'import json,sys
print(json.load(sys.stdin)["relay"]["active"])')" = 0 ] && break
		sleep 0.2
	done
	now=$(date +%s)
	soak_sample $((now - t0)) >>"$SOAK_DIR/samples.csv"
	{
		echo "load_rc=$rc"
		echo "reloads_sent=$SOAK_RELOADS"
		echo "dnsmasq_kills=$SOAK_KILLS"
		soak_fd_list >"$SOAK_DIR/fds.after"
		echo "fds_after=$(soak_fd_count "$SOAK_DIR/fds.after")"
		echo "seconds=$((now - t0))"
		soak_status | python3 -c '
import json, sys
d = json.load(sys.stdin); r = d["relay"]
print("active_after=%d" % r["active"])
print("pipes_in_use_after=%d" % r["pipes_in_use"])
print("pipes_pooled_after=%d" % r["pipes_pooled"])
print("reloads=%d" % d["config"]["reloads"])
print("reload_failures=%d" % d["config"]["reload_failures"])
print("dnsmasq_restarts=%d" % d["dnsmasq"]["restarts"])
print("dnsmasq_running=%d" % (1 if d["dnsmasq"].get("pid") else 0))
print("resolver_cached=%d" % d["resolver"]["cached"])
print("resolver_queries=%d" % d["resolver"]["queries"])
print("accepted=%d" % r["accepted"])
print("relayed=%d" % r["relayed"])
print("refused=%d" % sum(r["refused"].values()))
print("refused_detail=%s" % ",".join("%s:%d" % kv for kv in r["refused"].items() if kv[1]))
print("closes=%s" % ",".join("%s:%d" % kv for kv in r["closes"].items() if kv[1]))
print("checkpoints=%d" % d["checkpoint"]["saves"])
print("checkpoint_errors=%d" % d["checkpoint"]["errors"])
print("log_dropped=%d" % d["log"]["dropped"])'
		tail -1 "$SOAK_DIR/load.out" | sed 's/^final //' | tr ' ' '\n' |
		    sed 's/^/load_/'
	} >>"$SOAK_DIR/summary"
	return 0
}

# soak_stop: SIGTERM, as systemd would; the exit status (with ASan, 23
# for a leak) in the summary.
soak_stop() {
	local rc
	kill -TERM "$SOAK_EVG_PID"
	wait "$SOAK_EVG_PID"
	rc=$?
	echo "exit_status=$rc" >>"$SOAK_DIR/summary"
	echo "checkpoint_files_after=$(ls "$SOAK_DIR/log" | grep -c '^checkpoint-')" \
	    >>"$SOAK_DIR/summary"
}

soak_get() {		# soak_get KEY: a value from the summary
	awk -F= -v k="$1" '$1 == k { v = substr($0, length(k) + 2) } END { print v }' \
	    "$SOAK_DIR/summary"
}
