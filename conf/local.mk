# conf/: example configuration and systemd units.
EXTRA_DIST += conf/evgated.yaml
