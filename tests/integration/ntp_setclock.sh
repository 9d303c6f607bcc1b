#!/bin/bash
# ntp_setclock: ntp.set_clock needs CAP_SYS_TIME, and says so.  evgated
# runs without that capability (setpriv drops it from the bounding set;
# this test never lets it touch the machine's clock): with set_clock at
# start it refuses to start, naming the capability; a reload that turns
# set_clock on is refused the same way and the running configuration
# stays in force.
. "$(dirname "$0")/lib.sh"

NS=${EVG_PREFIX}-sc
netns_add "$NS" || { not_ok "namespace"; exit 1; }
NOCAP=(setpriv --bounding-set=-sys_time --)
MSG="ntp.set_clock is true but evgated lacks CAP_SYS_TIME"

conf() {	# conf SET_CLOCK
	cat >"$T/evgated.yaml" <<EOF
ntp:
  servers: [127.0.0.1]
  serve: false
  set_clock: $1
control: {socket: $T/evgated.sock}
EOF
}

conf true
out=$(in_ns "$NS" timeout 10 "${NOCAP[@]}" "$EVGATED" -c "$T/evgated.yaml" 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && grep -q "$MSG" <<<"$out"; then
	ok "without CAP_SYS_TIME, set_clock: true refuses to start and says why"
else
	not_ok "without CAP_SYS_TIME, set_clock: true refuses to start and says why" \
	    "rc $rc" "$out"
fi

conf false
pid=$(bg_ns "$NS" "$T/evgated.log" "${NOCAP[@]}" "$EVGATED" -c "$T/evgated.yaml")
if wait_for 10 ctl "$T/evgated.sock" status; then
	ok "with set_clock: false it starts without CAP_SYS_TIME"
else
	not_ok "with set_clock: false it starts without CAP_SYS_TIME" \
	    "$(cat "$T/evgated.log")"
fi
conf true
out=$(ctl "$T/evgated.sock" reload 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q "$MSG" <<<"$out"; then
	ok "a reload turning set_clock on is refused, naming CAP_SYS_TIME"
else
	not_ok "a reload turning set_clock on is refused, naming CAP_SYS_TIME" \
	    "rc $rc" "$out"
fi
check_eq "the running configuration stays: set_clock false, time service on" \
    "False True" \
    "$(json_get "$(ctl "$T/evgated.sock" --json time)" '"%s %s" % (d["set_clock"], d["enabled"])')"
check_eq "status shows the failed reload" "last-reload-failed" \
    "$(json_get "$(ctl "$T/evgated.sock" --json status)" 'd["config"]["state"]')"
check "the daemon still runs" kill -0 "$pid"
