# bash completion for evgatectl(8); installed as
# DATADIR/bash-completion/completions/evgatectl.
_evgatectl()
{
	local cur prev cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s|--socket|-c|--config) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	-s|--socket|-c|--config|-o|--output|--dir)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--format)
		if [ "$cmd" = report ]; then
			COMPREPLY=($(compgen -W "text csv json html" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "csv jsonl" -- "$cur"))
		fi
		return ;;
	--type)
		COMPREPLY=($(compgen -W "lease connection refusal time dnsmasq reload daemon log" -- "$cur"))
		return ;;
	--from|--to)
		COMPREPLY=($(compgen -W "now -24h -7d -30d" -- "$cur"))
		return ;;
	--charger)
		# the chargers the running daemon knows, by id
		COMPREPLY=($(compgen -W "$(evgatectl --json chargers 2>/dev/null |
		    sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')" -- "$cur"))
		return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-j --json -s --socket -c --config -V --version -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "status connections chargers charger export report time reload" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	charger)
		COMPREPLY=($(compgen -W "$(evgatectl --json chargers 2>/dev/null |
		    sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')" -- "$cur")) ;;
	export)
		COMPREPLY=($(compgen -W "--from --to --charger --type --format --output --dir --json --help" -- "$cur")) ;;
	report)
		COMPREPLY=($(compgen -W "--from --to --charger --format --output --online-port --no-live --dir --json --help" -- "$cur")) ;;
	*)
		COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
	esac
}
complete -F _evgatectl evgatectl
