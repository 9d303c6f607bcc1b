# doc/: man pages (the manual) and the guides.
dist_man_MANS += doc/evgated.8 doc/evgatectl.8 doc/evgated.yaml.5
EXTRA_DIST += doc/architecture.md
EXTRA_DIST += doc/time.md
EXTRA_DIST += doc/site-services.md
EXTRA_DIST += doc/fleet-log.md doc/testworld.md
EXTRA_DIST += doc/performance.md
EXTRA_DIST += doc/operator-guide.md
EXTRA_DIST += doc/hardening.md
