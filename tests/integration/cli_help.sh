#!/bin/bash
# cli_help: every program answers --help (on stdout, exit 0) and
# --version, and evgatectl's bash completion completes its commands and
# options.
. "$(dirname "$0")/lib.sh"

for p in gateway/evgated gateway/evgatectl gateway/evgate-dhcp-hook \
    charger-fw/evcharger charger-fw/evprovision charger-fw/tools/evfw-sign; do
	name=$(basename "$p")
	out=$("$BUILD/$p" --help 2>/dev/null); rc=$?
	check_eq "$name --help exits 0" 0 "$rc"
	check "$name --help prints its usage on stdout" grep -q "usage: $name" <<<"$out"
	check_eq "$name --version" "$name $(sed -n 's/^PACKAGE_VERSION = //p' "$BUILD/Makefile")" \
	    "$("$BUILD/$p" --version 2>&1)"
done

complete_words() {	# complete_words WORD...: what TAB offers after them
	bash -c '
	    . "$1"; shift
	    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    _evgatectl; echo "${COMPREPLY[*]}"' _ "$top/conf/evgatectl.bash" "$@"
}
check_eq "completion: the commands" \
    "status connections chargers charger export report time reload" \
    "$(complete_words evgatectl "")"
check_eq "completion: commands starting with r" "report reload" \
    "$(complete_words evgatectl r)"
check_eq "completion: export's --type values" "lease" \
    "$(complete_words evgatectl export --type le)"
check_eq "completion: report's formats" "text csv json html" \
    "$(complete_words evgatectl report --format "")"
check_eq "completion: commands starting with char" "chargers charger" \
    "$(complete_words evgatectl char)"
check_eq "completion: after -s PATH, the command" "status" \
    "$(complete_words evgatectl -s /run/x.sock sta)"
