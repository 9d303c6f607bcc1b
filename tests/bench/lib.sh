# tests/bench/lib.sh: helpers for scripts/bench and its pieces (bash).
#
#   . "$BENCH_LIB"            (scripts/bench exports BENCH_LIB)
#
# A piece (scripts/bench.d/NAME.sh) is run by scripts/bench as its own
# bash process with this environment:
#   BENCH_TOP     the source tree
#   BENCH_BUILD   the -O2 build without sanitizers (build-bench/):
#                 $BENCH_BUILD/gateway/evgated, $BENCH_BUILD/tests/bench/*
#   BENCH_RUNS    runs per measurement (the table shows medians)
#   BENCH_QUICK   1 for a short smoke-sized run, else 0
#   BENCH_PREFIX  prefix for namespace names (unique per run of scripts/bench)
#   BENCH_TESTS   optional space-separated subset of a piece's tests
#   BENCH_LIB     this file
# It prints its own section of the table (markdown) on stdout, progress
# on stderr, and exits non-zero if a measurement could not be made.
# Everything it starts through these helpers is stopped and every
# namespace removed by the EXIT trap, also on failure or ^C.

set -u
: "${BENCH_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BENCH_BUILD:=$BENCH_TOP/build-bench}"
: "${BENCH_RUNS:=3}"
: "${BENCH_QUICK:=0}"
: "${BENCH_PREFIX:=evb$(($$ % 100000))}"
: "${BENCH_TESTS:=}"
BENCH_BIN=$BENCH_BUILD/tests/bench
EVGATED=$BENCH_BUILD/gateway/evgated
# Scratch space of this piece; removed at exit unless KEEP=1.
BT=$(mktemp -d /tmp/evgate-bench.XXXXXX)
chmod 755 "$BT"
HZ=$(getconf CLK_TCK)

_bench_cleanup=()
_bench_netns=()

bench_at_exit() {	# bench_at_exit "shell command"  (reverse order)
	_bench_cleanup+=("$1")
}

_bench_exit() {
	local rc=$? i ns pid
	set +e
	# Quiet: bash would report every background job killed here.
	exec 3>&2 2>/dev/null
	for ((i = ${#_bench_cleanup[@]} - 1; i >= 0; i--)); do
		eval "${_bench_cleanup[$i]}" >/dev/null 2>&1
	done
	for ns in "${_bench_netns[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	if [ "${KEEP:-0}" = 1 ]; then echo "bench: kept $BT" >&3; else rm -rf "$BT"; fi
	exit "$rc"
}
trap _bench_exit EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }	# progress, on stderr

bench_netns_add() {	# bench_netns_add NAME  (lo up; removed at exit)
	ip netns add "$1" || return 1
	_bench_netns+=("$1")
	ip -n "$1" link set lo up
}

# bench_bg NS LOG command...: start in NS in the background; the pid is
# in BG_PID (not printed: a $(...) subshell would lose the clean-up).
bench_bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	BG_PID=$!
	bench_at_exit "kill -9 $BG_PID"
}

bench_stop() {		# bench_stop PID  (TERM, then KILL after 3 s)
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

bench_wait_for() {	# bench_wait_for SECONDS command...
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(($(date +%s%N) / 1000000))" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

bench_port_open() {	# bench_port_open NS ADDR PORT
	ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# --- the process tree of a peer: CPU and memory from /proc ---------------

tree_pids() {		# tree_pids PID: PID and all its descendants
	ps -e -o pid=,ppid= | awk -v root="$1" '
	    { parent[$1] = $2 }
	    END {
		want[root] = 1; n = 1
		while (n) {
			n = 0
			for (p in parent)
				if (!(p in want) && (parent[p] in want)) {
					want[p] = 1; n++
				}
		}
		for (p in want) print p
	    }'
}

tree_cpu() {		# tree_cpu PID: user+system CPU seconds of the tree
	local p total=0 f
	for p in $(tree_pids "$1"); do
		[ -r "/proc/$p/stat" ] || continue
		# Fields after the ")" that ends comm: utime is 12th, stime 13th.
		f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
		total=$((total + ${f:-0}))
	done
	awk -v t="$total" -v hz="$HZ" 'BEGIN { printf "%.3f\n", t / hz }'
}

# machine_busy: CPU seconds the whole machine has spent busy (every CPU;
# user, nice, system, irq, softirq and steal from /proc/stat), so that a
# load's cost to every process it touches can be put beside one peer's.
machine_busy() {
	awk -v hz="$HZ" '$1 == "cpu" {
		printf "%.3f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}

# ns_tcp_segs NS: TCP segments sent so far in a namespace (its TcpOutSegs;
# on loopback every segment sent is one received).
ns_tcp_segs() {
	ip netns exec "$1" nstat -az TcpOutSegs 2>/dev/null |
	    awk '$1 == "TcpOutSegs" { print $2 }'
}

tree_rss_kb() {		# tree_rss_kb PID: sum of VmRSS (kB) over the tree
	local p total=0 r
	for p in $(tree_pids "$1"); do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		total=$((total + ${r:-0}))
	done
	echo "$total"
}

# --- results: one line per measurement, "test peer run key value" --------

RESULTS=$BT/results
: >"$RESULTS"

record() {		# record TEST PEER RUN KEY VALUE
	echo "$1 $2 $3 $4 $5" >>"$RESULTS"
}

# kv KEY "k=v k=v ...": the value of KEY in a program's result line.
kv() {
	tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2; exit }'
}

# median TEST PEER KEY: the median over the runs ("" if none).
median() {
	awk -v t="$1" -v p="$2" -v k="$3" '$1 == t && $2 == p && $4 == k { v[n++] = $5 }
	    END {
		if (n == 0) exit
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
			if (v[j] + 0 < v[i] + 0) { x = v[i]; v[i] = v[j]; v[j] = x }
		if (n % 2) m = v[int(n / 2)]
		else m = (v[n / 2 - 1] + v[n / 2]) / 2
		print m
	    }' "$RESULTS"
}

# spread TEST PEER KEY: "min-max" over the runs, to show the noise.
spread() {
	awk -v t="$1" -v p="$2" -v k="$3" '$1 == t && $2 == p && $4 == k {
		if (n == 0 || $5 + 0 < lo) lo = $5 + 0
		if (n == 0 || $5 + 0 > hi) hi = $5 + 0
		n++ }
	    END { if (n) printf "%g-%g\n", lo, hi }' "$RESULTS"
}

# fmt NUMBER DECIMALS
fmt() {
	[ -z "$1" ] && { echo "n/a"; return; }
	awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f\n", d, v }'
}

# ratio A B: A/B as "1.23x" ("n/a" if either is missing or B is 0)
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"
		else printf "%.2fx\n", a / b }'
}

# pratio TEST A B KEY: the median over the runs of A's KEY / B's KEY in
# the same run ("n/a" without a pair).  Runs are interleaved, so each
# pair was measured within a minute or two: drift on a shared machine,
# which moves whole runs, cancels out of the pair.
pratio() {
	awk -v t="$1" -v a="$2" -v b="$3" -v k="$4" '$1 == t && $4 == k {
		if ($2 == a) va[$3] = $5
		if ($2 == b) vb[$3] = $5 }
	    END {
		for (r in va) if ((r in vb) && vb[r] + 0 != 0) v[n++] = va[r] / vb[r]
		if (n == 0) { print "n/a"; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
			if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
		m = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
		printf "%.2fx\n", m
	    }' "$RESULTS"
}

# Order of peers for run R: rotated, so no peer always runs first (on a
# shared machine, load drifts during a run).
rotate() {		# rotate R peer...
	local r=$1 n i
	shift
	local a=("$@")
	n=${#a[@]}
	for ((i = 0; i < n; i++)); do
		echo "${a[$(((i + r) % n))]}"
	done
}

want_test() {		# want_test NAME: is it in BENCH_TESTS (or all)?
	[ -z "$BENCH_TESTS" ] && return 0
	[[ " $BENCH_TESTS " == *" $1 "* ]]
}

# --- the bench world: one namespace, a sink, a resolver, the peers ---------
#
#   127.0.0.10:8883   bench_sink: "the cloud" (zapcloud.azure-devices.net)
#   127.0.0.53:53     dnsmasq answering that name with 127.0.0.10, TTL 300 s
#   127.0.0.2:8883    evgated (resolves the SNI itself through dnsmasq)
#   127.0.0.3:8883    HAProxy 2.6, tcp mode, req.ssl_sni -> fixed backend
#   127.0.0.4:8883    nginx stream, ssl_preread, map -> fixed backend
#   127.0.0.0/8       clients bind to other 127.x addresses as sources
#
# Each proxy allows only the cloud name on 8883 and refuses every other
# SNI.  Every peer runs as one process with one worker thread, as evgated
# does (nginx: master + one worker; both counted).

BENCH_SNI=zapcloud.azure-devices.net
SINK=127.0.0.10:8883
declare -A PEER_ADDR=([evgated]=127.0.0.2:8883 [haproxy]=127.0.0.3:8883
    [nginx]=127.0.0.4:8883 [direct]=$SINK)
PEER_PID=

world_up() {		# world_up NS: namespace, sysctls, sink, dnsmasq
	local ns=$1
	WNS=$ns
	bench_netns_add "$ns" || return 1
	# Short-lived connections by the hundred thousand: a wide port
	# range and TIME_WAIT reuse, as a busy proxy host would have.
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
	    net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=4096 \
	    net.ipv4.tcp_max_syn_backlog=4096
	cat >"$BT/dnsmasq.conf" <<EOF
no-resolv
no-hosts
listen-address=127.0.0.53
bind-interfaces
port=53
user=root
local-ttl=300
address=/$BENCH_SNI/127.0.0.10
address=/#/
EOF
	bench_bg "$ns" "$BT/dnsmasq.log" dnsmasq -k \
	    --conf-file="$BT/dnsmasq.conf" --pid-file="$BT/dnsmasq.pid"
	bench_bg "$ns" "$BT/sink.log" "$BENCH_BIN/bench_sink" -l "$SINK"
	SINK_PID=$BG_PID
	bench_wait_for 10 bench_port_open "$ns" 127.0.0.10 8883 ||
	    { say "the sink did not start: $(cat "$BT/sink.log")"; return 1; }
}

_conf_evgated() {
	cat >"$BT/evgated.yaml" <<EOF
site: {name: "bench"}
wan:
  resolvers: [127.0.0.53]
  resolver_timeout: 1s
  # The sink runs on loopback: the benchmark's allowed prefix.
  allow_prefixes: [127.0.0.0/8]
relay:
  listen: [127.0.0.2]
  routes:
    - {port: 8883, allow: [$BENCH_SNI]}
  # One benchmark client address opens thousands of connections (the
  # footprint piece sets EVG_PER_CLIENT to the shipped default, 16).
  limits: {per_client: ${EVG_PER_CLIENT:-20000}, total: 20000}
  timeouts: {hello: 10s, connect: 10s, idle: 2h, drain: 1s}
control: {socket: $BT/evgated.sock}
EOF
}

# HAProxy: maxconn is what fits in the open-file limit (two descriptors per
# relayed connection, a few pipes for splicing, listeners and slack).
_conf_haproxy() {
	local nofile maxconn
	nofile=$(ulimit -Hn)
	maxconn=$(((nofile - 300) / 2))
	cat >"$BT/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn $maxconn
	maxpipes 64
	pidfile $BT/haproxy.pid
defaults
	mode tcp
	timeout connect 10s
	timeout client 2h
	timeout server 2h
	option splice-request
	option splice-response
frontend mqtt
	bind 127.0.0.3:8883
	tcp-request inspect-delay 10s
	tcp-request content accept if { req.ssl_hello_type 1 }
	use_backend cloud if { req.ssl_sni -i $BENCH_SNI }
	default_backend refuse
backend cloud
	server sink $SINK
backend refuse
	tcp-request content reject
EOF
}

_conf_nginx() {
	mkdir -p "$BT/nginx"
	cat >"$BT/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
worker_processes 1;
worker_rlimit_nofile $(ulimit -Hn);
pid $BT/nginx/nginx.pid;
error_log $BT/nginx/error.log error;
events { worker_connections $(ulimit -Hn); }
stream {
	map \$ssl_preread_server_name \$cloud {
		$BENCH_SNI $SINK;
		# Anything else: a port nobody listens on (connection refused).
		default 127.0.0.1:1;
	}
	server {
		listen 127.0.0.4:8883 backlog=4096;
		ssl_preread on;
		preread_timeout 10s;
		proxy_pass \$cloud;
		proxy_connect_timeout 10s;
		proxy_timeout 2h;
	}
}
EOF
}

# peer_start NAME: start a fresh peer in the bench namespace; sets PEER_PID.
peer_start() {
	local p=$1 addr port
	case "$p" in
	direct)
		PEER_PID=$SINK_PID
		return 0 ;;
	evgated)
		_conf_evgated
		# shellcheck disable=SC2086
		bench_bg "$WNS" "$BT/evgated.log" "$EVGATED" \
		    -c "$BT/evgated.yaml" ${EVGATED_ARGS:-} ;;
	haproxy)
		_conf_haproxy
		bench_bg "$WNS" "$BT/haproxy.log" haproxy -db \
		    -f "$BT/haproxy.cfg" ;;
	nginx)
		_conf_nginx
		bench_bg "$WNS" "$BT/nginx.log" nginx -c "$BT/nginx.conf" ;;
	*)
		say "unknown peer $p"; return 1 ;;
	esac
	PEER_PID=$BG_PID
	addr=${PEER_ADDR[$p]%:*}
	port=${PEER_ADDR[$p]#*:}
	if ! bench_wait_for 10 bench_port_open "$WNS" "$addr" "$port"; then
		say "$p did not start:"
		cat "$BT/$p.log" "$BT/nginx/error.log" 2>/dev/null | tail -20 >&2
		return 1
	fi
	# Settle: the first RSS and CPU readings are taken after start-up.
	sleep 0.5
}

peer_stop() {		# peer_stop NAME
	[ "$1" = direct ] && return 0
	bench_stop "$PEER_PID"
	PEER_PID=
}

# run_in_ns command...: run a load generator in the bench namespace.
run_in_ns() {
	ip netns exec "$WNS" "$@"
}

peer_version() {	# one line per peer, for the table's header
	case "$1" in
	evgated) "$EVGATED" -V 2>&1 | head -1 ;;
	haproxy) haproxy -v 2>&1 | head -1 | sed 's/ - https.*//' ;;
	nginx) nginx -v 2>&1 | head -1 ;;
	esac
}
