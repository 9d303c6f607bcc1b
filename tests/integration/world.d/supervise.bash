# tests/integration/world.d/supervise.bash: evgated under a supervisor in
# the test world, as systemd runs it with Restart=on-failure
# (conf/evgated.service).  Sourced by world.sh; also the supervisor itself
# when run as "bash supervise.bash run ...".
#
#   WORLD_GW_SUPERVISE=1     run evgated under the supervisor (default 0:
#                            the world as before, evgated spawned directly)
#   WORLD_GW_RESTART_SEC     seconds from a failure to the restart (default
#                            1; systemd's RestartSec)
#
# What counts as a failure is systemd's rule for on-failure: an exit status
# other than 0, or death by a signal other than SIGHUP, SIGINT, SIGTERM and
# SIGPIPE (so kill -9 and a crash restart it; "world_stop evgated" and
# SIGTERM stop it for good).  Like systemd's default start limit, more than
# 5 starts within 10 s make it give up.
#
# With the supervisor, $W/run/evgated.pid is the supervisor's pid
# (world_stop evgated sends it SIGTERM, which it passes on and then exits);
# the daemon's own pid is in $W/run/evgated.main.pid (and in evgatectl
# status), the number of restarts in $W/run/evgated.restarts, and the
# supervisor's lines ("supervise: ...") are in $W/log/evgated.log.

: "${WORLD_GW_SUPERVISE:=0}"
: "${WORLD_GW_RESTART_SEC:=1}"
WORLD_SUPERVISE_SH=$(readlink -f "${BASH_SOURCE[0]}")

world_supervise_pre() {
	if [ "$WORLD_GW_SUPERVISE" = 1 ]; then
		WORLD_GW_WRAPPER=(bash "$WORLD_SUPERVISE_SH" run "$W/run"
		    "$WORLD_GW_RESTART_SEC" --)
	else
		WORLD_GW_WRAPPER=()
	fi
}

# world_gw_main_pid: the running daemon's pid (supervised or not).
world_gw_main_pid() {
	local pid
	if [ "$WORLD_GW_SUPERVISE" = 1 ]; then
		pid=$(cat "$W/run/evgated.main.pid" 2>/dev/null) || return 1
		world_alive "$pid" && echo "$pid"
	else
		world_pid evgated
	fi
}

# world_gw_restarts: how often the supervisor restarted evgated.
world_gw_restarts() {
	cat "$W/run/evgated.restarts" 2>/dev/null || echo 0
}

# --- the supervisor --------------------------------------------------------

# supervise RUNDIR RESTART_SEC -- command...
world_supervise_run() {
	local run=$1 sec=$2 child="" rc sig stopping=0 restarts=0 now intr=0
	local -a starts=()
	shift 2
	[ "$1" = -- ] && shift
	say() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) supervise: $*"; }
	# SIGTERM/SIGINT: stop the daemon and do not restart it.
	trap 'stopping=1; intr=1; [ -n "$child" ] &&
	    kill -TERM "$child" 2>/dev/null' TERM INT
	echo 0 >"$run/evgated.restarts"
	while :; do
		now=$(date +%s)
		starts+=("$now")
		# The start limit: at most 5 starts in 10 s.
		if [ "${#starts[@]}" -gt 5 ] &&
		    [ $((now - starts[${#starts[@]} - 6])) -lt 10 ]; then
			say "start limit hit (more than 5 starts in 10 s): giving up"
			exit 1
		fi
		"$@" &
		child=$!
		echo "$child" >"$run/evgated.main.pid"
		say "started $1 (pid $child)"
		# wait returns early when a trapped signal arrives: wait again
		# for the child's own status.
		while :; do
			intr=0
			wait "$child"
			rc=$?
			[ "$intr" = 1 ] || break
		done
		child=""
		if [ "$rc" -gt 128 ]; then
			sig=$((rc - 128))
			say "$1 killed by signal $sig ($(kill -l "$sig" 2>/dev/null))"
		else
			sig=0
			say "$1 exited with status $rc"
		fi
		if [ "$stopping" = 1 ]; then
			say "asked to stop: not restarting"
			exit 0
		fi
		# Clean: exit 0, or SIGHUP, SIGINT, SIGTERM, SIGPIPE.
		case "$rc:$sig" in
		0:0 | *:1 | *:2 | *:13 | *:15)
			say "clean stop: not restarting"
			exit 0
			;;
		esac
		restarts=$((restarts + 1))
		echo "$restarts" >"$run/evgated.restarts"
		say "failure: restart $restarts in $sec s"
		sleep "$sec" &
		wait $!
		[ "$stopping" = 1 ] && exit 0
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# Run as the supervisor: bash supervise.bash run RUNDIR SEC -- cmd...
	[ "${1:-}" = run ] && [ $# -ge 4 ] || {
		echo "usage: bash supervise.bash run RUNDIR RESTART_SEC -- command..." >&2
		exit 2
	}
	shift
	world_supervise_run "$@"
else
	WORLD_GW_PRE_HOOKS+=(world_supervise_pre)
fi
