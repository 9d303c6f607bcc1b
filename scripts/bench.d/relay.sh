#!/bin/bash
# scripts/bench.d/relay.sh: the relay side by side with HAProxy and nginx
# doing the same SNI passthrough, in front of the same sink, in one
# network namespace on loopback (see tests/bench/lib.sh for the layout).
#
#   bulk      bulk download through each proxy (>= 1 GiB per run):
#             Gbit/s, and CPU seconds per GiB of the proxy's process tree
#   rate      concurrent clients, each: connect, real ClientHello, small
#             request, read the reply, close: connections/s, TTFB p50/p99
#   idle      ~10,000 idle relayed connections with an MQTT-like keepalive:
#             RSS per connection of the proxy's process tree
#   latency   small request/response ping-pong, through each proxy and
#             directly: added microseconds at p50/p99
#
# Runs are interleaved (run 1 of every peer, then run 2, ...) in a rotating
# order, every measurement against a freshly started peer.  Run by
# scripts/bench; prints its section of the table on stdout.
. "${BENCH_LIB:-$(dirname "$0")/../../tests/bench/lib.sh}"

PEERS=(evgated haproxy nginx)
NS=${BENCH_PREFIX}-relay
N=$BENCH_RUNS
if [ "$BENCH_QUICK" = 1 ]; then
	BULK_TOTAL=256M RATE_SECS=2 IDLE_HOLD=5 PINGS=5000
else
	BULK_TOTAL=1G RATE_SECS=5 IDLE_HOLD=20 PINGS=20000
fi
BULK_STREAMS=4
RATE_CLIENTS=32
RATE_REPLY=256
# Each relayed connection costs a proxy two descriptors; one process may
# hold at most the hard open-file limit.  10,000, or what fits.
NOFILE=$(ulimit -Hn)
IDLE_CONNS=$(((NOFILE - 300) / 2))
[ "$IDLE_CONNS" -gt 10000 ] && IDLE_CONNS=10000
[ "$BENCH_QUICK" = 1 ] && IDLE_CONNS=2000
failed=0

world_up "$NS" || exit 1

measure_bulk() {	# measure_bulk PEER RUN
	local p=$1 r=$2 out c0 c1 bytes
	c0=$(tree_cpu "$PEER_PID")
	if ! out=$(run_in_ns "$BENCH_BIN/bench_bulk" -c "${PEER_ADDR[$p]}" \
	    -n "$BULK_STREAMS" -t "$BULK_TOTAL"); then
		say "bulk through $p failed: $out"; failed=1; return
	fi
	c1=$(tree_cpu "$PEER_PID")
	bytes=$(kv bytes "$out")
	record bulk "$p" "$r" gbps "$(kv gbps "$out")"
	[ "$p" = direct ] && return
	record bulk "$p" "$r" cpu_gib "$(awk -v a="$c0" -v b="$c1" -v n="$bytes" \
	    'BEGIN { printf "%.4f", (b - a) / (n / 1073741824) }')"
}

measure_rate() {	# measure_rate PEER RUN
	local p=$1 r=$2 out c0 c1 m0 m1 s0 s1 n
	[ "$p" = direct ] || c0=$(tree_cpu "$PEER_PID")
	m0=$(machine_busy)
	s0=$(ns_tcp_segs "$WNS")
	if ! out=$(run_in_ns "$BENCH_BIN/bench_rate" -c "${PEER_ADDR[$p]}" \
	    -C "$RATE_CLIENTS" -d "$RATE_SECS" -r "$RATE_REPLY" \
	    -b 127.0.1.1-127.0.1.32); then
		say "rate through $p had errors: $out"; failed=1
	fi
	s1=$(ns_tcp_segs "$WNS")
	m1=$(machine_busy)
	[ "$p" = direct ] || c1=$(tree_cpu "$PEER_PID")
	n=$(kv conns "$out")
	record rate "$p" "$r" cps "$(kv cps "$out")"
	# Whole-machine CPU (load generator, sink and proxy) and segments
	# per connection: what the path costs everything it touches.
	record rate "$p" "$r" mcpu_k "$(awk -v a="$m0" -v b="$m1" -v n="$n" \
	    'BEGIN { if (n > 0) printf "%.4f", (b - a) * 1000 * 1000 / n }')"
	record rate "$p" "$r" segs "$(awk -v a="$s0" -v b="$s1" -v n="$n" \
	    'BEGIN { if (n > 0 && b != "") printf "%.2f", (b - a) / n }')"
	record rate "$p" "$r" p50 "$(kv ttfb_p50_us "$out")"
	record rate "$p" "$r" p99 "$(kv ttfb_p99_us "$out")"
	record rate "$p" "$r" errors "$(kv errors "$out")"
	[ "$p" = direct ] && return
	record rate "$p" "$r" cpu_k "$(awk -v a="$c0" -v b="$c1" \
	    -v n="$n" 'BEGIN { printf "%.4f", (b - a) * 1000 * 1000 / n }')"
}

measure_idle() {	# measure_idle PEER RUN
	local p=$1 r=$2 rss0 rss1 held done log=$BT/idle.out pid
	rss0=$(tree_rss_kb "$PEER_PID")
	: >"$log"
	run_in_ns "$BENCH_BIN/bench_idle" -c "${PEER_ADDR[$p]}" \
	    -n "$IDLE_CONNS" -P 256 -k "$IDLE_HOLD" -H "$IDLE_HOLD" \
	    -T 10 >"$log" 2>"$BT/idle.err" &
	pid=$!
	bench_at_exit "kill -9 $pid"
	if ! bench_wait_for 300 grep -q '^phase=done' "$log"; then
		say "idle through $p: no result: $(cat "$log" "$BT/idle.err")"
		failed=1; bench_stop "$pid"; return
	fi
	rss1=$(tree_rss_kb "$PEER_PID")
	held=$(kv established "$(grep '^phase=done' "$log")")
	bench_stop "$pid"
	record idle "$p" "$r" held "$held"
	record idle "$p" "$r" rss0 "$rss0"
	record idle "$p" "$r" rss1 "$rss1"
	record idle "$p" "$r" ramp "$(kv ramp_s "$(grep '^phase=held' "$log")")"
	record idle "$p" "$r" per_conn "$(awk -v a="$rss0" -v b="$rss1" -v n="$held" \
	    'BEGIN { printf "%.0f", n ? (b - a) * 1024 / n : 0 }')"
	if [ "$held" != "$IDLE_CONNS" ]; then
		say "idle through $p: held $held of $IDLE_CONNS"
	fi
	if grep -q 'dropped=[1-9]' "$log"; then
		say "idle through $p dropped connections: $(grep '^phase=done' "$log")"
	fi
}

measure_latency() {	# measure_latency PEER RUN
	local p=$1 r=$2 out
	if ! out=$(run_in_ns "$BENCH_BIN/bench_ping" -c "${PEER_ADDR[$p]}" \
	    -n "$PINGS" -w 1000 -m 64); then
		say "latency through $p failed: $out"; failed=1; return
	fi
	record latency "$p" "$r" p50 "$(kv p50_us "$out")"
	record latency "$p" "$r" p99 "$(kv p99_us "$out")"
}

run_test() {		# run_test TEST peer...
	local t=$1 r p
	shift
	for ((r = 1; r <= N; r++)); do
		for p in $(rotate "$r" "$@"); do
			say "$t: run $r/$N: $p"
			peer_start "$p" || { failed=1; continue; }
			"measure_$t" "$p" "$r"
			peer_stop "$p"
		done
	done
}

want_test bulk && run_test bulk "${PEERS[@]}" direct
want_test rate && run_test rate "${PEERS[@]}" direct
want_test idle && run_test idle "${PEERS[@]}"
want_test latency && run_test latency "${PEERS[@]}" direct

# --- the table ------------------------------------------------------------

m() { median "$@"; }
E=evgated

echo "## Relay: evgated, HAProxy and nginx as SNI passthrough (median of $N)"
echo
echo "evgated/peer columns: the median of each run's ratio (every run measures all peers back to back, so a pair shares the machine's state of the moment)."
echo
if want_test bulk; then
	echo "### Throughput: bulk download, $BULK_TOTAL per run in $BULK_STREAMS streams"
	echo
	echo "Higher Gbit/s is better; lower CPU s/GiB is better (the proxy's whole process tree)."
	echo
	echo "The last column is each path's share of the direct path's throughput: the distance to what the machine allows."
	echo
	echo "| path | Gbit/s | (runs) | CPU s/GiB | evgated/peer Gbit/s | evgated/peer CPU | path/direct Gbit/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	gd=$(m bulk direct gbps)
	for p in "${PEERS[@]}" direct; do
		g=$(m bulk $p gbps)
		c=$(m bulk $p cpu_gib)
		if [ "$p" = direct ]; then
			echo "| direct (no proxy) | $(fmt "$g" 2) | $(spread bulk $p gbps) | n/a | | | 1.00x |"
		elif [ "$p" = $E ]; then
			echo "| $p | $(fmt "$g" 2) | $(spread bulk $p gbps) | $(fmt "$c" 3) | | | $(ratio "$g" "$gd") |"
		else
			echo "| $p | $(fmt "$g" 2) | $(spread bulk $p gbps) | $(fmt "$c" 3) |" \
			    "$(pratio bulk $E $p gbps) | $(pratio bulk $E $p cpu_gib) | $(ratio "$g" "$gd") |"
		fi
	done
	echo
fi
if want_test rate; then
	echo "### Connection rate: $RATE_CLIENTS concurrent clients for ${RATE_SECS}s; each a real ClientHello + request, $RATE_REPLY-byte reply, close"
	echo
	echo "Higher conn/s is better.  TTFB: connect() start to the first reply byte (with $RATE_CLIENTS in flight it is mostly queueing: TTFB ~ clients / rate)."
	echo
	echo "CPU: the proxy's process tree.  Machine CPU: every process on the machine (load generator, sink, proxy, kernel threads).  Segments: TCP segments per connection, both legs."
	echo
	echo "| path | conn/s | (runs) | TTFB p50 µs | TTFB p99 µs | CPU ms per 1k conn | machine CPU ms per 1k conn | segments per conn | errors | evgated/peer conn/s | evgated/peer CPU | path/direct conn/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	cd_=$(m rate direct cps)
	for p in "${PEERS[@]}" direct; do
		c=$(m rate $p cps)
		cpu=$(m rate $p cpu_k)
		[ "$p" = direct ] && cpu=
		echo "| $([ $p = direct ] && echo 'direct (no proxy)' || echo $p) | $(fmt "$c" 0) |" \
		    "$(spread rate $p cps) | $(fmt "$(m rate $p p50)" 0) | $(fmt "$(m rate $p p99)" 0) |" \
		    "$([ -n "$cpu" ] && fmt "$cpu" 1) | $(fmt "$(m rate $p mcpu_k)" 1) |" \
		    "$(fmt "$(m rate $p segs)" 1) | $(m rate $p errors) |" \
		    "$([ $p = $E ] || [ $p = direct ] || pratio rate $E $p cps) |" \
		    "$([ $p = $E ] || [ $p = direct ] || pratio rate $E $p cpu_k) |" \
		    "$(ratio "$c" "$cd_") |"
	done
	echo
fi
if want_test idle; then
	echo "### Idle memory: $IDLE_CONNS idle relayed connections, 2-byte keepalive each within ${IDLE_HOLD}s"
	echo
	if [ "$IDLE_CONNS" -lt 10000 ] && [ "$BENCH_QUICK" != 1 ]; then
		echo "10,000 do not fit: a relayed connection costs the proxy two descriptors and the hard open-file limit here is $NOFILE per process, so $IDLE_CONNS (the most that fits every peer) are held."
		echo
	fi
	echo "RSS of the proxy's process tree (VmRSS summed) before and while holding them; lower is better."
	echo
	echo "The direct path holds no proxy, so no memory of its own: no ratio to it here."
	echo
	echo "| peer | held | RSS before MiB | RSS holding MiB | bytes per connection | (runs) | evgated/peer |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for p in "${PEERS[@]}"; do
		b=$(m idle $p per_conn)
		echo "| $p | $(m idle $p held) | $(fmt "$(awk -v k="$(m idle $p rss0)" 'BEGIN{print k/1024}')" 1) |" \
		    "$(fmt "$(awk -v k="$(m idle $p rss1)" 'BEGIN{print k/1024}')" 1) | $(fmt "$b" 0) |" \
		    "$(spread idle $p per_conn) | $([ $p = $E ] || ratio "$(m idle $E per_conn)" "$b") |"
	done
	echo
fi
if want_test latency; then
	echo "### Added latency: 64-byte ping-pong on one connection, $PINGS round trips per run"
	echo
	echo "Round-trip time through each proxy, and what it adds to the direct path; lower is better."
	echo
	echo "| path | RTT p50 µs | RTT p99 µs | added p50 µs | added p99 µs | evgated/peer added p50 | evgated/peer added p99 | path/direct RTT p50 |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	d50=$(m latency direct p50)
	d99=$(m latency direct p99)
	a50() { awk -v a="$(m latency "$1" p50)" -v d="$d50" 'BEGIN { if (a != "" && d != "") printf "%.2f", a - d }'; }
	a99() { awk -v a="$(m latency "$1" p99)" -v d="$d99" 'BEGIN { if (a != "" && d != "") printf "%.2f", a - d }'; }
	for p in "${PEERS[@]}"; do
		echo "| $p | $(fmt "$(m latency $p p50)" 1) | $(fmt "$(m latency $p p99)" 1) |" \
		    "$(fmt "$(a50 $p)" 1) | $(fmt "$(a99 $p)" 1) |" \
		    "$([ $p = $E ] || ratio "$(a50 $E)" "$(a50 $p)") |" \
		    "$([ $p = $E ] || ratio "$(a99 $E)" "$(a99 $p)") |" \
		    "$(ratio "$(m latency $p p50)" "$d50") |"
	done
	echo "| direct (no proxy) | $(fmt "$d50" 1) | $(fmt "$d99" 1) | | | | | 1.00x |"
	echo
fi
exit "$failed"
