# conf/: example configuration, systemd unit and sysusers file; for a
# redundant pair, keepalived's example configuration and the script that
# hands its state changes to evgated.
EXTRA_DIST += conf/evgated.yaml conf/evgated.service.in conf/evgate.sysusers \
	conf/evgatectl.bash
dist_libexec_SCRIPTS = conf/evgate-keepalived-notify
dist_doc_DATA += conf/keepalived.conf.example

# The unit gets this build's paths.  Its directory and the sysusers
# directory come from configure (--with-systemdsystemunitdir,
# --with-sysusersdir).
systemdsystemunit_DATA = conf/evgated.service
conf/evgated.service: conf/evgated.service.in Makefile
	$(AM_V_GEN)mkdir -p conf && sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    $(srcdir)/conf/evgated.service.in >$@
CLEANFILES += conf/evgated.service

# The example configuration goes to the documentation, and to
# SYSCONFDIR/evgate/evgated.yaml only when there is none yet: make install
# never overwrites an operator's configuration.  Mode 0644: evgated reads
# it as the user evgate, evgatectl -c as an operator; it holds no secret
# (ship's token and keys are files of their own).
dist_doc_DATA += conf/evgated.yaml
install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(sysusersdir)' '$(DESTDIR)$(sysconfdir)/evgate' \
	    '$(DESTDIR)$(datadir)/bash-completion/completions'
	$(INSTALL_DATA) $(srcdir)/conf/evgate.sysusers \
	    '$(DESTDIR)$(sysusersdir)/evgate.conf'
	$(INSTALL_DATA) $(srcdir)/conf/evgatectl.bash \
	    '$(DESTDIR)$(datadir)/bash-completion/completions/evgatectl'
	test -f '$(DESTDIR)$(sysconfdir)/evgate/evgated.yaml' || \
	    $(INSTALL_DATA) -m 644 $(srcdir)/conf/evgated.yaml \
	    '$(DESTDIR)$(sysconfdir)/evgate/evgated.yaml'
uninstall-local:
	rm -f '$(DESTDIR)$(sysusersdir)/evgate.conf' \
	    '$(DESTDIR)$(datadir)/bash-completion/completions/evgatectl'
	if cmp -s $(srcdir)/conf/evgated.yaml \
	    '$(DESTDIR)$(sysconfdir)/evgate/evgated.yaml'; then \
	    rm -f '$(DESTDIR)$(sysconfdir)/evgate/evgated.yaml'; fi
