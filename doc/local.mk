# doc/: man pages (the manual) and the guides.
dist_man_MANS += doc/evgated.8 doc/evgatectl.8 doc/evgated.yaml.5
# The guides the manual cites are installed beside the example
# configuration (docdir); the developers' notes are only distributed.
dist_doc_DATA += doc/operator-guide.md doc/site-services.md doc/time.md \
	doc/fleet-log.md doc/hardening.md
EXTRA_DIST += doc/architecture.md doc/testworld.md doc/performance.md
