#!/bin/bash
# tests/bench/profile.sh: profile evgated's relay path under the benchmark
# loads, in the bench namespace (tests/bench/lib.sh), with the -O2 build.
#
#   tests/bench/profile.sh callgrind [bulk|rate|idle]   valgrind --tool=callgrind
#   tests/bench/profile.sh perf [bulk|rate|idle] [PEER] perf record -e cpu-clock -g
#                                                       attached to a peer's tree
#   tests/bench/profile.sh syscalls LOAD [PEER]         strace -c -f of a peer
#                                                       (evgated, haproxy, nginx)
#
# callgrind counts instructions in user space only (evgated, libevent,
# libc); perf samples on the CPU clock (this VM has no hardware counters)
# and sees the kernel too, which is where a splice relay spends its time.
# Reports land in build-bench/profile/ and a summary is printed.
# Run scripts/bench once first (it builds build-bench/).
set -u
export BENCH_PREFIX=evp$(($$ % 100000))
. "$(dirname "$0")/lib.sh"

tool=${1:-callgrind}
load=${2:-rate}
outdir=$BENCH_BUILD/profile
mkdir -p "$outdir"
ulimit -n "$(ulimit -Hn)"
world_up "${BENCH_PREFIX}-prof" || exit 1
_conf_evgated
# Quieter than the default: per-connection info lines would dominate a
# profile of the rate load (they are measured separately, see
# doc/performance.md).
loglevel=${LOGLEVEL:-info}

A=${PEER_ADDR[evgated]}
run_load() {
	case "$load" in
	bulk)	run_in_ns "$BENCH_BIN/bench_bulk" -c "$A" -n 4 -t $((1024 / slow))M -T 600 ;;
	rate)	run_in_ns "$BENCH_BIN/bench_rate" -c "$A" -C 32 -d 5 -b 127.0.1.1-127.0.1.32 ;;
	idle)	run_in_ns "$BENCH_BIN/bench_idle" -c "$A" -n $((5000 / slow)) -k 5 -H 10 -x -T 60 ;;
	*)	echo "unknown load $load" >&2; exit 2 ;;
	esac
}

if [ "$tool" = perf ]; then
	# perf attached to the running peer's whole process tree, so every
	# peer is profiled the same way under the same load (evgated at its
	# default log level unless LOGLEVEL says otherwise).
	peer=${3:-evgated}
	slow=1
	if [ "$peer" = evgated ] && [ -n "${LOGLEVEL:-}" ]; then
		EVGATED_ARGS="-l $LOGLEVEL"
	fi
	peer_start "$peer" || exit 1
	A=${PEER_ADDR[$peer]}
	pids=$(tree_pids "$PEER_PID" | paste -sd, -)
	perf record -q -e cpu-clock -g -p "$pids" \
	    -o "$outdir/perf.$peer.$load.data" 2>/dev/null &
	ppid=$!
	sleep 1
	run_load
	kill -INT "$ppid"
	wait "$ppid"
	peer_stop "$peer"
	perf report -i "$outdir/perf.$peer.$load.data" --no-children --stdio \
	    --sort dso,symbol 2>/dev/null | grep -v '^$' | grep '%' | head -45
	exit 0
fi

if [ "$tool" = syscalls ]; then
	# Syscalls per unit of work, counted by strace on the peer's whole
	# process tree (strace slows the peer: the counts matter, not time).
	peer=${3:-evgated}
	slow=4
	peer_start "$peer" || exit 1
	A=${PEER_ADDR[$peer]}
	pids=$(tree_pids "$PEER_PID" | sed 's/^/-p /' | tr '\n' ' ')
	# shellcheck disable=SC2086
	strace ${STRACE_OPTS:-} -c -f -o "$outdir/strace.$peer.$load.txt" $pids &
	spid=$!
	sleep 1
	out=$(run_load)
	echo "$out"
	sleep 0.5
	kill -INT "$spid"
	wait "$spid"
	peer_stop "$peer"
	head -25 "$outdir/strace.$peer.$load.txt"
	exit 0
fi

case "$tool" in
callgrind)
	bench_bg "$WNS" "$BT/evgated.log" valgrind --tool=callgrind \
	    --callgrind-out-file="$outdir/callgrind.$load.out" \
	    "$EVGATED" -c "$BT/evgated.yaml" -l "$loglevel"
	slow=20 ;;
*)
	echo "usage: $0 callgrind|perf|syscalls [bulk|rate|idle] [peer]" >&2; exit 2 ;;
esac
pid=$BG_PID
bench_wait_for 60 bench_port_open "$WNS" 127.0.0.2 8883 ||
    { cat "$BT/evgated.log" >&2; exit 1; }
run_load
# SIGINT: evgated drains and exits, valgrind/perf write their output.
kill -INT "$(pgrep -P "$pid" evgated || echo "$pid")" 2>/dev/null
kill -INT "$pid" 2>/dev/null
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
case "$tool" in
callgrind)
	callgrind_annotate --inclusive=no "$outdir/callgrind.$load.out" 2>/dev/null |
	    head -45 ;;
esac
