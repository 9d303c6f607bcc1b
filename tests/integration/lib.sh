# tests/integration/lib.sh: shared helpers for integration tests (bash).
#
#   . "$(dirname "$0")/lib.sh"
#
# TAP output: plan is printed at the end ("1..N"), one line per check.
# Namespaces and processes: everything made through these helpers is
# removed by the EXIT trap, also when a test fails or is interrupted.
#
# Environment:
#   EVGATE_BUILD   build directory with gateway/evgated etc. (default
#                  $top/build)
#   EVG_PREFIX     prefix for namespace and link names (default "evt$$"
#                  trimmed); keeps parallel runs apart.

set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${EVGATE_BUILD:-$top/build}
EVGATED=$BUILD/gateway/evgated
EVGATECTL=$BUILD/gateway/evgatectl
: "${EVG_PREFIX:=t$(( $$ % 100000 ))}"
# Every file a test makes lives here; removed at exit unless KEEP=1.
T=$(mktemp -d /tmp/evgate-it.XXXXXX)
chmod 755 "$T"

_tap_n=0
_tap_failed=0
_cleanup_cmds=()
_netns=()

ok() {		# ok "description"
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
}

not_ok() {	# not_ok "description" [details...]
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	shift
	for d in "$@"; do echo "$d" | sed 's/^/#   /'; done
}

check() {	# check "description" command...   (ok when it exits 0)
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "$out"
	fi
}

check_fails() {	# check_fails "description" command...  (ok when it fails)
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		not_ok "$desc" "command succeeded but should not: $*" "$out"
	else
		ok "$desc"
	fi
}

check_eq() {	# check_eq "description" expected actual
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2" "actual:   $3"
	fi
}

diag() { echo "# $*"; }

at_exit() {	# at_exit "shell command"  (run in reverse order at exit)
	_cleanup_cmds+=("$1")
}

_lib_cleanup() {
	local rc=$? i line
	set +e
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[$i]}" >/dev/null 2>&1
	done
	# Registered from subshells (bg_ns inside $(...)), newest first.
	if [ -f "$T/.at_exit" ]; then
		tac "$T/.at_exit" | while IFS= read -r line; do
			eval "$line" >/dev/null 2>&1
		done
	fi
	for ns in "${_netns[@]}"; do
		# Kill whatever still runs in the namespace, then remove it.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$T"; else echo "# kept $T" >&2; fi
	echo "1..$_tap_n"
	if [ "$_tap_failed" -gt 0 ]; then exit 1; fi
	exit "$rc"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM

netns_add() {	# netns_add NAME   (lo up; removed at exit)
	ip netns add "$1" || return 1
	_netns+=("$1")
	ip -n "$1" link set lo up
}

netns_hosts() {	# netns_hosts NS "addr name..." ...  (/etc/hosts inside NS)
	local ns=$1
	shift
	mkdir -p "/etc/netns/$ns"
	printf '%s\n' "127.0.0.1 localhost" "$@" >"/etc/netns/$ns/hosts"
}

in_ns() {	# in_ns NS command...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

bg_ns() {	# bg_ns NS LOG command...   start in background; killed at exit
	local ns=$1 log=$2 pid
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	pid=$!
	# Through a file, not at_exit: callers often run bg_ns inside $(...),
	# a subshell whose at_exit list would be lost.
	echo "kill $pid; sleep 0.2; kill -9 $pid" >>"$T/.at_exit"
	echo "$pid"
}

wait_for() {	# wait_for SECONDS command...   poll every 0.1 s until it succeeds
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 ))
	shift
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(( $(date +%s%N) / 1000000 ))" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.1
	done
}

port_open() {	# port_open NS ADDR PORT   (TCP connect succeeds)
	in_ns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# make_ca DIR: a test CA in DIR/ca.pem (key DIR/ca.key).
make_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 \
	    -subj "/CN=evgate test CA" >/dev/null 2>&1
}

# make_cert DIR NAME [SAN...]: DIR/NAME.pem and DIR/NAME.key signed by the CA.
make_cert() {
	local d=$1 name=$2 san="" n
	shift 2
	for n in "$name" "$@"; do san="$san${san:+,}DNS:$n"; done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$name" \
	    >/dev/null 2>&1 &&
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
	    -CAcreateserial -out "$d/$name.pem" -days 30 \
	    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") \
	    >/dev/null 2>&1
}

# evgatectl against a socket: ctl SOCKET args...
ctl() {
	local sock=$1
	shift
	"$EVGATECTL" -s "$sock" "$@"
}

# json_get JSON-TEXT PYTHON-EXPRESSION-ON-d   e.g. json_get "$s" 'd["relay"]["active"]'
json_get() {
	python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$2" <<<"$1"
}
